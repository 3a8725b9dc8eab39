package localsvc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

const (
	// readWait bounds the wait for the terminal to report the end of its
	// output once the run's processes are gone.
	readWait = 10 * time.Second
	// reopenPause is how long the reader waits before it reads again when
	// the terminal had no process holding it before the run ended.
	reopenPause = 10 * time.Millisecond
)

// screen is what a terminal showed so far, for waiting on prompts.
type screen struct {
	mu      sync.Mutex
	text    strings.Builder
	changed chan struct{} // closed and replaced whenever output arrives
	closed  chan struct{} // closed when the terminal has no writer left
}

func (s *screen) add(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.text.Write(b)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.String()
}

// len is how much the terminal showed so far.
func (s *screen) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.Len()
}

// waitFor waits until text has been shown after the first from bytes;
// false if the terminal closed or deadline passed first.
func (s *screen) waitFor(text string, from int, deadline time.Time) bool {
	for {
		s.mu.Lock()
		shown := strings.Contains(s.text.String()[from:], text)
		changed := s.changed
		s.mu.Unlock()
		if shown {
			return true
		}
		select {
		case <-changed:
		case <-s.closed:
			return strings.Contains(s.String()[from:], text)
		case <-time.After(time.Until(deadline)):
			return false
		}
	}
}

// runOnTerminal runs cmd on a new pseudo-terminal, its controlling
// terminal, and types each line of inv.typed, followed by Enter, once its
// prompt has been shown since the line before it was typed: as a user
// would, after the program has turned echo off and flushed the terminal's
// input. With inv.hangUpAt, once that has been shown after the last line,
// it hangs the terminal up, as when a terminal line drops: the run's
// session leader gets SIGHUP.
func runOnTerminal(cmd *exec.Cmd, inv invocation) (outcome, error) {
	start := time.Now()
	deadline := start.Add(runLimit)
	// pty.Start adds Setsid and Setctty to cmd's attributes and keeps
	// the rest.
	term, err := pty.Start(cmd)
	if err != nil {
		return outcome{}, fmt.Errorf("start on a pseudo-terminal: %w", err)
	}
	defer term.Close()
	s := &screen{changed: make(chan struct{}), closed: make(chan struct{})}
	ended := make(chan struct{}) // closed once the run's first process has exited
	go func() {
		defer close(s.closed)
		buf := make([]byte, 4096)
		for {
			n, err := term.Read(buf)
			if n > 0 {
				s.add(buf[:n])
			}
			if err == nil {
				continue
			}
			// EIO: no process holds the terminal. util-linux login
			// closes it, hangs it up (vhangup) and opens it again
			// before it prompts, so that is the end only once the run
			// has ended.
			if !errors.Is(err, syscall.EIO) {
				return
			}
			select {
			case <-ended:
				return
			default:
			}
			time.Sleep(reopenPause)
		}
	}()
	var typeErr error
	from := 0
	for i, line := range inv.typed {
		prompt := inv.promptFor(i)
		if !s.waitFor(prompt, from, deadline) {
			typeErr = fmt.Errorf("prompt %d (%q) never came", i+1, prompt)
			break
		}
		from = s.len()
		if _, err := term.Write([]byte(line + "\n")); err != nil {
			typeErr = fmt.Errorf("typing at prompt %d: %w", i+1, err)
			break
		}
	}
	if inv.hangUpAt != "" && typeErr == nil {
		if !s.waitFor(inv.hangUpAt, from, deadline) {
			typeErr = fmt.Errorf("%q never came after the last line typed", inv.hangUpAt)
		}
		if err := hangUp(term); err != nil && typeErr == nil {
			typeErr = err
		}
	}
	err = waitBounded(cmd, deadline)
	close(ended)
	o := outcome{elapsed: time.Since(start), exitCode: cmd.ProcessState.ExitCode()}
	select {
	case <-s.closed:
	case <-time.After(readWait):
		err = fmt.Errorf("the terminal stayed open %s after the run ended", readWait)
	}
	o.transcript = s.String()
	if typeErr != nil && err == nil {
		err = typeErr
	}
	return o, err
}

// hangUp hangs up the terminal whose master is term (TIOCVHANGUP, as
// vhangup(2) does), which the kernel also does when a terminal line drops.
// Closing the master would do it too, but not while the reader is blocked
// reading it: the close waits for that read.
func hangUp(term *os.File) error {
	n, err := unix.IoctlGetUint32(int(term.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("find the terminal to hang up: %w", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open the terminal to hang it up: %w", err)
	}
	defer tty.Close()
	if err := unix.IoctlSetInt(int(tty.Fd()), unix.TIOCVHANGUP, 0); err != nil {
		return fmt.Errorf("hang up %s: %w", tty.Name(), err)
	}
	return nil
}
