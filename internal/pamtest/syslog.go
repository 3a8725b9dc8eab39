package pamtest

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A SyslogSink is a unixgram socket standing in for /dev/log (see Mounts):
// it keeps every message glibc's syslog(), and so pam_syslog, sends to it,
// at every priority, as LogLines, each with the pid of the process that
// sent it, which the kernel tells the socket (SO_PASSCRED, as journald
// reads it).
type SyslogSink struct {
	*LogBook[LogLine]
	// Path is the socket's path.
	Path string
	conn *net.UnixConn
	done chan struct{}

	mu    sync.Mutex
	syncs map[string]chan struct{} // Sync's markers not yet read
	n     int                      // markers sent
}

// syslogHeader matches glibc's "<PRI>Mmm dd hh:mm:ss " prefix.
var syslogHeader = regexp.MustCompile(`^<(\d+)>(?:[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d )?`)

// NewSyslogSink listens on the socket path, which must not exist.
func NewSyslogSink(path string) (*SyslogSink, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("syslog sink: %w", err)
	}
	if err := passCredentials(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("syslog sink: %w", err)
	}
	s := &SyslogSink{LogBook: NewLogBook[LogLine](), Path: path, conn: conn, done: make(chan struct{}),
		syncs: map[string]chan struct{}{}}
	go s.read()
	return s, nil
}

// passCredentials asks the kernel to attach the sender's credentials to
// every datagram conn receives.
func passCredentials(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_PASSCRED: %w", serr)
	}
	return nil
}

// read receives datagrams until the socket is closed.
func (s *SyslogSink) read() {
	defer close(s.done)
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred))
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err == nil && !s.synced(string(buf[:n])) {
			l := parseDatagram(string(buf[:n]))
			l.PID = senderPID(oob[:oobn])
			s.Add(l)
		}
	}
}

// senderPID reads the sender's pid from a datagram's control messages; 0
// when they hold none.
func senderPID(oob []byte) int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for i := range msgs {
		if cred, err := syscall.ParseUnixCredentials(&msgs[i]); err == nil {
			return int(cred.Pid)
		}
	}
	return 0
}

// Sync waits, at most 15 s, until every message sent to s before it was
// called has been read: after a program has exited, its lines are then all
// in the LogBook. It sends a marker of its own through the socket, which a
// unixgram socket delivers after those messages; the marker is not kept.
func (s *SyslogSink) Sync() error {
	s.mu.Lock()
	s.n++
	marker := fmt.Sprintf("pamtest.SyslogSink.Sync %d", s.n)
	read := make(chan struct{})
	s.syncs[marker] = read
	s.mu.Unlock()
	conn, err := net.Dial("unixgram", s.Path)
	if err != nil {
		return fmt.Errorf("syslog sink: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(marker)); err != nil {
		return fmt.Errorf("syslog sink: %w", err)
	}
	select {
	case <-read:
		return nil
	case <-time.After(logWait):
		return fmt.Errorf("syslog sink: the marker sent to %s was not read within %s", s.Path, logWait)
	}
}

// synced reports whether msg is one of Sync's markers, and tells Sync.
func (s *SyslogSink) synced(msg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	read, ok := s.syncs[msg]
	if ok {
		close(read)
		delete(s.syncs, msg)
	}
	return ok
}

// parseDatagram splits one datagram into severity and text; the priority
// is -1 when the header was not understood.
func parseDatagram(msg string) LogLine {
	msg = strings.TrimRight(msg, "\x00\n")
	m := syslogHeader.FindStringSubmatch(msg)
	if m == nil {
		return LogLine{Priority: -1, Text: msg}
	}
	pri, _ := strconv.Atoi(m[1])
	return LogLine{Priority: pri & 7, Text: msg[len(m[0]):]}
}

// syslogTag matches the "program: " or "program[pid]: " glibc's syslog()
// puts before a message: the pid only when the program opened the log with
// LOG_PID, which sshd does not do when it logs to stderr (-e).
var syslogTag = regexp.MustCompile(`^([^\s\[\]:]+)(?:\[\d+\])?: `)

// Program returns the program name at the start of l's text ("sshd-session"
// of "sshd-session[4242]: ..." or "sshd-session: ..."): glibc's syslog()
// uses the name the program was started under. It is "" when l has none.
func (l LogLine) Program() string {
	if m := syslogTag.FindStringSubmatch(l.Text); m != nil {
		return m[1]
	}
	return ""
}

// Close stops listening; the lines stay readable.
func (s *SyslogSink) Close() {
	s.conn.Close()
	<-s.done
}
