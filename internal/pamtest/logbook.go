package pamtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// logWait bounds the wait for a log line that should already be on its way:
// a module writes its line before PAM returns to the application, and the
// application logs before it answers its client.
const logWait = 15 * time.Second

// A LogBook collects lines as they arrive (from a SyslogSink, or a
// program's own log) and lets a test wait, bounded, for the ones it
// expects. Its methods are safe for concurrent use.
type LogBook[T fmt.Stringer] struct {
	mu      sync.Mutex
	lines   []T
	changed chan struct{} // closed and replaced whenever a line arrives
}

// NewLogBook returns an empty LogBook.
func NewLogBook[T fmt.Stringer]() *LogBook[T] {
	return &LogBook[T]{changed: make(chan struct{})}
}

// Add appends l.
func (b *LogBook[T]) Add(l T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, l)
	close(b.changed)
	b.changed = make(chan struct{})
}

// Mark is the number of lines so far, for Since and the waits.
func (b *LogBook[T]) Mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lines)
}

// Since returns the lines that arrived after mark.
func (b *LogBook[T]) Since(mark int) []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]T(nil), b.lines[min(mark, len(b.lines)):]...)
}

// WaitUntil waits, at most 15 s, until ok holds for the lines that arrived
// after mark, and returns those lines. The error names what was awaited and
// lists the lines.
func (b *LogBook[T]) WaitUntil(mark int, what string, ok func([]T) bool) ([]T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), logWait)
	defer cancel()
	return b.WaitCtx(ctx, mark, what, ok)
}

// WaitCtx is WaitUntil bounded by ctx instead.
func (b *LogBook[T]) WaitCtx(ctx context.Context, mark int, what string, ok func([]T) bool) ([]T, error) {
	for {
		b.mu.Lock()
		lines := append([]T(nil), b.lines[min(mark, len(b.lines)):]...)
		changed := b.changed
		b.mu.Unlock()
		if ok(lines) {
			return lines, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return lines, fmt.Errorf("no %s: %w; the lines since the mark:\n%s", what, context.Cause(ctx), FormatLines(lines))
		}
	}
}

// WaitFor waits until a line after mark holds every part.
func (b *LogBook[T]) WaitFor(mark int, parts ...string) ([]T, error) {
	return b.WaitUntil(mark, fmt.Sprintf("line holding all of %q", parts), func(lines []T) bool {
		return CountLines(lines, parts...) > 0
	})
}

// CountLines counts the lines holding every part.
func CountLines[T fmt.Stringer](lines []T, parts ...string) int {
	n := 0
	for _, l := range lines {
		if containsAll(l.String(), parts...) {
			n++
		}
	}
	return n
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// FormatLines shows lines one a line, indented, for failure messages.
func FormatLines[T fmt.Stringer](lines []T) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l.String() + "\n")
	}
	return b.String()
}
