package sshd

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Syslog severities (RFC 5424) the tests look at.
const (
	logErr   = 3
	logDebug = 7
)

// syslogLine is one message received on a syslogSink.
type syslogLine struct {
	severity int    // 0 (emerg) to 7 (debug); -1 when the header was not understood
	text     string // the message after the "<PRI>timestamp " header
}

func (l syslogLine) String() string { return fmt.Sprintf("<%d> %s", l.severity, l.text) }

// syslogSink is a unixgram socket standing in for /dev/log: it keeps every
// message glibc's syslog(), and so pam_syslog, sends to it.
type syslogSink struct {
	*logBook[syslogLine]
	conn *net.UnixConn
	done chan struct{}
}

// syslogHeader matches glibc's "<PRI>Mmm dd hh:mm:ss " prefix.
var syslogHeader = regexp.MustCompile(`^<(\d+)>(?:[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d )?`)

// newSyslogSink listens on the socket path.
func newSyslogSink(path string) (*syslogSink, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("syslog sink: %w", err)
	}
	s := &syslogSink{logBook: newLogBook[syslogLine](), conn: conn, done: make(chan struct{})}
	go s.read()
	return s, nil
}

// read receives datagrams until the socket is closed.
func (s *syslogSink) read() {
	defer close(s.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := s.conn.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err == nil {
			s.add(parseSyslog(string(buf[:n])))
		}
	}
}

// parseSyslog splits one datagram into severity and text.
func parseSyslog(msg string) syslogLine {
	msg = strings.TrimRight(msg, "\x00\n")
	m := syslogHeader.FindStringSubmatch(msg)
	if m == nil {
		return syslogLine{severity: -1, text: msg}
	}
	pri, _ := strconv.Atoi(m[1])
	return syslogLine{severity: pri & 7, text: msg[len(m[0]):]}
}

// close stops listening; the lines stay readable.
func (s *syslogSink) close() {
	s.conn.Close()
	<-s.done
}
