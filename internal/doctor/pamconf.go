package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// A PAM service file is read the way Debian's libpam 1.5 reads it
// (libpam/pam_handlers.c with Debian's 031_pam_include patch): a '#' ends
// the line wherever it stands, a backslash at the end joins the next line,
// a token that starts with '[' runs to the first ']' not written "\]", and
// a file named without a leading '/' by `include`, `substack` or
// `@include` is looked up in the PAM directory (/etc/pam.d).

// maxLine is libpam's line buffer: a longer logical line makes libpam
// give up on the whole service.
const maxLine = 1024

// maxSubstack is libpam's PAM_SUBSTACK_MAX_LEVEL, the deepest nesting of
// substacks. This package bounds plain includes by it too; libpam 1.5 does
// not, and a service that includes itself makes it recurse until the
// process dies (measured: pamtester killed by SIGSEGV).
const maxSubstack = 16

// ModuleTypes are the four PAM module types, in the order pam.d files
// usually list them.
var ModuleTypes = []string{"auth", "account", "password", "session"}

// Position is a line of a file.
type Position struct {
	File string
	Line int
}

func (p Position) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Rule is one entry of a service's module stack for one module type, as
// libpam builds it after resolving includes.
type Rule struct {
	// Type is the module type in lower case: auth, account, password or
	// session.
	Type string
	// Control is the control field as written ("requisite",
	// "default=ok" for [default=ok]); "substack" for a substack's
	// placeholder.
	Control string
	// Actions is what libpam does when the module returns each PAM code.
	Actions Actions
	// Module is the module path as written; "" for a substack placeholder
	// and for a broken line.
	Module string
	// Args are the module arguments, with [...] brackets removed as libpam
	// removes them.
	Args []string
	// Silent is set by a '-' before the type: libpam does not log that the
	// module is missing (it still fails the line).
	Silent bool
	// Level is the substack depth: 0 for the service's own stack.
	Level int
	// Substack marks the placeholder libpam puts in the parent stack for a
	// substack; the substack's rules follow it at Level+1.
	Substack bool
	// Broken says why libpam fails this entry without calling the module
	// (an unknown type, a missing control or module, an include that
	// cannot be read); "" when the entry is sound.
	Broken string
	// ControlErr says why libpam could not parse the control; it then
	// calls the module but counts every result, success too, as a
	// failure.
	ControlErr string
	// At is where the entry is written.
	At Position
	// Via are the include lines that brought the entry in, outermost
	// first.
	Via []Position
}

// ModuleName is the module's file name without directory and ".so", as
// libpam names it in log lines ("pam_unix").
func (r Rule) ModuleName() string {
	return strings.TrimSuffix(filepath.Base(r.Module), ".so")
}

// Where names the entry's line and the include lines that led to it.
func (r Rule) Where() string {
	s := r.At.String()
	for i := len(r.Via) - 1; i >= 0; i-- {
		s += " (included from " + r.Via[i].String() + ")"
	}
	return s
}

// Stack is a PAM service with its includes resolved.
type Stack struct {
	// Service is the service name asked for ("sshd").
	Service string
	// Dir is the directory that stands for /etc/pam.d.
	Dir string
	// File is the file libpam reads for the service: Dir/Service, or
	// Dir/other when there is none.
	File string
	// Rules holds, for each module type, its entries in the order libpam
	// runs them.
	Rules map[string][]Rule
	// Files are the files read, in the order they were first read.
	Files []string
	// Problems are faults that make libpam refuse the whole service, or
	// lines it cannot use, in the order found.
	Problems []Problem
}

// Problem is a fault in a PAM service file.
type Problem struct {
	At  Position
	Msg string
	// Fatal is set when libpam cannot load the service at all, so every
	// PAM call for it fails.
	Fatal bool
}

// ReadStack reads the PAM service named service from dir, which stands for
// /etc/pam.d, and resolves its includes. Only a missing or unreadable
// service is an error; faults inside the files are in Stack.Problems.
func ReadStack(dir, service string) (*Stack, error) {
	if service == "" || strings.Contains(service, "/") {
		return nil, fmt.Errorf("PAM service name %q: give a file name of %s", service, dir)
	}
	s := &Stack{Service: service, Dir: dir, Rules: map[string][]Rule{}}
	file := filepath.Join(dir, service)
	src, err := readConfigFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		// libpam falls back to the "other" service.
		file = filepath.Join(dir, "other")
		src, err = readConfigFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read PAM service %s: %w", service, err)
	}
	s.File = file
	s.Files = append(s.Files, file)
	r := &stackReader{stack: s}
	r.parse(file, src, "", 0, nil)
	return s, nil
}

// stackReader resolves one service's includes.
type stackReader struct {
	stack *Stack
}

// parse adds the entries of the file at path, whose text is src, to the
// stack: only those of module type want, or all types when want is "".
// level is the substack depth; via the include lines that led here.
func (r *stackReader) parse(path string, src []byte, want string, level int, via []Position) {
	lines, bad := assembleLines(src)
	for _, l := range lines {
		if len(l.text) >= maxLine {
			r.problem(Position{path, l.n}, false, "longer than libpam's %d-byte line buffer; libpam reads the rest as a line of its own", maxLine-1)
		}
		r.line(Position{path, l.n}, l.text, want, level, via)
	}
	if bad != 0 {
		r.problem(Position{path, bad}, true, "ends with a backslash at the end of the file; libpam cannot load the service")
	}
}

// line handles one logical line of a service file.
func (r *stackReader) line(at Position, text, want string, level int, via []Position) {
	typ, rest := nextToken(text)
	rule := Rule{At: at, Via: via, Level: level}
	if strings.HasPrefix(typ, "-") {
		rule.Silent = true
		typ = typ[1:]
	}
	typ = strings.ToLower(typ)
	switch {
	case typ == "@include":
		name, _ := nextToken(rest)
		r.include(rule, name, want, level, false)
		return
	case isModuleType(typ):
		if want != "" && typ != want {
			return
		}
		rule.Type = typ
	default:
		// libpam keeps the entry, in the requested type or, at the top,
		// in auth ("most sensitive"), and fails it whatever it holds.
		rule.Type = want
		if rule.Type == "" {
			rule.Type = "auth"
		}
		rule.Broken = fmt.Sprintf("%q is not a module type (auth, account, password, session)", typ)
	}
	control, rest := nextToken(rest)
	rule.Control = control
	switch strings.ToLower(control) {
	case "":
		rule.Broken = "no control field"
		rule.Actions = uniformActions(ActionBad)
		r.add(rule)
		return
	case "include", "substack":
		if rule.Broken == "" {
			name, _ := nextToken(rest)
			r.include(rule, name, rule.Type, level, strings.EqualFold(control, "substack"))
			return
		}
		rule.Actions = uniformActions(ActionBad)
	default:
		actions, err := ParseControl(control)
		rule.Actions = actions
		if err != nil {
			rule.ControlErr = err.Error()
		}
	}
	rule.Module, rest = nextToken(rest)
	if rule.Module == "" && rule.Broken == "" {
		rule.Broken = "no module path"
	}
	for {
		var arg string
		arg, rest = nextToken(rest)
		if arg == "" && strings.TrimLeft(rest, " \t\n") == "" {
			break
		}
		rule.Args = append(rule.Args, arg)
	}
	r.add(rule)
}

// include reads the file name as libpam does for `include`, `substack`
// (substack set) and `@include`, with the module type want ("" for all).
func (r *stackReader) include(rule Rule, name, want string, level int, substack bool) {
	if substack {
		placeholder := rule
		placeholder.Type = want
		placeholder.Control = "substack"
		placeholder.Substack = true
		placeholder.Actions = uniformActions(ActionIgnore)
		r.add(placeholder)
	}
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if want == "" {
			// An @include at the top of a service that cannot be read
			// makes libpam abandon the whole service.
			r.problem(rule.At, true, "%s; libpam cannot load the service", msg)
			return
		}
		rule.Type = want
		rule.Broken = msg
		rule.Actions = uniformActions(ActionBad)
		r.add(rule)
	}
	if name == "" {
		fail("include without a file name")
		return
	}
	inner := level
	if substack {
		inner++
	}
	if inner >= maxSubstack || len(rule.Via) >= maxSubstack {
		r.problem(rule.At, true, "includes nested deeper than %d levels (does %s include itself?); libpam cannot load the service", maxSubstack, name)
		return
	}
	path := name
	if !filepath.IsAbs(name) {
		path = filepath.Join(r.stack.Dir, name)
	}
	src, err := readConfigFile(path)
	if err != nil {
		fail("cannot read included file %s: %v", path, errors.Unwrap(err))
		return
	}
	if !slices.Contains(r.stack.Files, path) {
		r.stack.Files = append(r.stack.Files, path)
	}
	via := append(append([]Position(nil), rule.Via...), rule.At)
	r.parse(path, src, want, inner, via)
}

func (r *stackReader) add(rule Rule) {
	r.stack.Rules[rule.Type] = append(r.stack.Rules[rule.Type], rule)
}

func (r *stackReader) problem(at Position, fatal bool, format string, args ...any) {
	r.stack.Problems = append(r.stack.Problems, Problem{At: at, Msg: fmt.Sprintf(format, args...), Fatal: fatal})
}

func isModuleType(s string) bool {
	return slices.Contains(ModuleTypes, s)
}

// logicalLine is one line as libpam's line assembler returns it, with the
// number of the physical line it starts on.
type logicalLine struct {
	n    int
	text string
}

// assembleLines splits src into libpam's logical lines: comments cut at
// the first '#', blank lines dropped, a trailing backslash joining the next
// line. bad is the number of a line whose backslash continues past the end
// of the file, which makes libpam give up on the service; 0 if none.
func assembleLines(src []byte) (lines []logicalLine, bad int) {
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(src), "\n") {
		n := i + 1
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			// libpam skips it, even in the middle of a continued line.
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if j := strings.IndexByte(trimmed, '#'); j >= 0 {
			cur.WriteString(trimmed[:j])
			lines = append(lines, logicalLine{start, cur.String()})
			cur.Reset()
			continue
		}
		body := strings.TrimRight(trimmed, " \t")
		if cont, ok := strings.CutSuffix(body, "\\"); ok {
			cur.WriteString(cont)
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(body)
		lines = append(lines, logicalLine{start, cur.String()})
		cur.Reset()
	}
	if cur.Len() > 0 {
		return lines, start
	}
	return lines, 0
}

// nextToken returns the first token of s and the rest, as libpam's
// _pam_StrTok splits fields: separated by blanks, except that a token
// starting with '[' runs to the first ']' (written "\]" it is kept as ']')
// and is returned without its brackets.
func nextToken(s string) (tok, rest string) {
	s = strings.TrimLeft(s, " \t\n")
	if s == "" {
		return "", ""
	}
	if s[0] == '[' {
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != ']'; i++ {
			if s[i] == '\\' && i+1 < len(s) && s[i+1] == ']' {
				i++
			}
			b.WriteByte(s[i])
		}
		if i < len(s) {
			i++ // the closing bracket
		}
		return b.String(), s[i:]
	}
	end := strings.IndexAny(s, " \t\n")
	if end < 0 {
		return s, ""
	}
	return s[:end], s[end+1:]
}
