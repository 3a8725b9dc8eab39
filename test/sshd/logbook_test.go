package sshd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// logWait bounds the wait for a log line that should already be on its way:
// the module writes its line before PAM returns to sshd, and sshd logs before
// it answers the client.
const logWait = 15 * time.Second

// logBook collects lines as they arrive and lets a test wait, bounded, for
// the ones it expects.
type logBook[T fmt.Stringer] struct {
	mu      sync.Mutex
	lines   []T
	changed chan struct{} // closed and replaced whenever a line arrives
}

func newLogBook[T fmt.Stringer]() *logBook[T] {
	return &logBook[T]{changed: make(chan struct{})}
}

func (b *logBook[T]) add(l T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, l)
	close(b.changed)
	b.changed = make(chan struct{})
}

// mark is the number of lines so far, for since and waitUntil.
func (b *logBook[T]) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lines)
}

// since returns the lines that arrived after mark.
func (b *logBook[T]) since(mark int) []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]T(nil), b.lines[min(mark, len(b.lines)):]...)
}

// waitUntil waits, at most logWait, until ok holds for the lines that
// arrived after mark, and returns those lines. The error names what was
// awaited and lists the lines.
func (b *logBook[T]) waitUntil(mark int, what string, ok func([]T) bool) ([]T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), logWait)
	defer cancel()
	return b.waitCtx(ctx, mark, what, ok)
}

// waitCtx is waitUntil bounded by ctx instead.
func (b *logBook[T]) waitCtx(ctx context.Context, mark int, what string, ok func([]T) bool) ([]T, error) {
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
			return lines, fmt.Errorf("no %s: %w; the lines since the mark:\n%s", what, context.Cause(ctx), formatLines(lines))
		}
	}
}

// waitFor waits until a line after mark holds every part.
func (b *logBook[T]) waitFor(mark int, parts ...string) ([]T, error) {
	return b.waitUntil(mark, fmt.Sprintf("line holding all of %q", parts), func(lines []T) bool {
		return countLines(lines, parts...) > 0
	})
}

// countLines counts the lines holding every part.
func countLines[T fmt.Stringer](lines []T, parts ...string) int {
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

func formatLines[T fmt.Stringer](lines []T) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l.String() + "\n")
	}
	return b.String()
}
