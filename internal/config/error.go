package config

import "fmt"

// Error is a problem with a config file: it cannot be opened, is unsafe,
// cannot be parsed, or holds a value that is not allowed. Every error that
// Load, Parse and CheckScheme return is an *Error, so the PAM adapter can log
// the file and the line to fix.
type Error struct {
	// Path is the config file.
	Path string
	// Line is the 1-based line the problem is on, or 0 when it concerns the
	// file as a whole (a missing file, a missing key).
	Line int
	// Msg says what is wrong and, where it helps, how to fix it.
	Msg string

	// err is the underlying cause, if any, for errors.Is and errors.As.
	err error
}

// Error returns "path:line: msg", or "path: msg" when Line is 0.
func (e *Error) Error() string {
	switch {
	case e.Path == "" && e.Line == 0:
		return e.Msg
	case e.Path == "":
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	default:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
}

// Unwrap returns the underlying cause (for example fs.ErrNotExist), or nil.
func (e *Error) Unwrap() error { return e.err }

// errorf builds an *Error for path and line with a formatted message.
func errorf(path string, line int, format string, args ...any) *Error {
	return &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}
