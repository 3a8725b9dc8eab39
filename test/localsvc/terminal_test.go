package localsvc

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
)

// readWait bounds the wait for the terminal to report the end of its
// output once the run's processes are gone.
const readWait = 10 * time.Second

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

// waitCount waits until prompt has been shown n times; false if the
// terminal closed or deadline passed first.
func (s *screen) waitCount(prompt string, n int, deadline time.Time) bool {
	for {
		s.mu.Lock()
		count := strings.Count(s.text.String(), prompt)
		changed := s.changed
		s.mu.Unlock()
		if count >= n {
			return true
		}
		select {
		case <-changed:
		case <-s.closed:
			return strings.Count(s.String(), prompt) >= n
		case <-time.After(time.Until(deadline)):
			return false
		}
	}
}

// runOnTerminal runs cmd on a new pseudo-terminal, its controlling
// terminal, and types each of typed, followed by Enter, once prompt has
// been shown that many times: as a user would, after the program has
// turned echo off and flushed the terminal's input.
func runOnTerminal(cmd *exec.Cmd, typed []string, prompt string) (outcome, error) {
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
	go func() {
		defer close(s.closed)
		buf := make([]byte, 4096)
		for {
			n, err := term.Read(buf)
			s.add(buf[:n])
			if err != nil { // EIO once no process holds the terminal
				return
			}
		}
	}()
	var typeErr error
	for i, line := range typed {
		if !s.waitCount(prompt, i+1, deadline) {
			typeErr = fmt.Errorf("prompt %d (%q) never came", i+1, prompt)
			break
		}
		if _, err := term.Write([]byte(line + "\n")); err != nil {
			typeErr = fmt.Errorf("typing at prompt %d: %w", i+1, err)
			break
		}
	}
	err = waitBounded(cmd, deadline)
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
