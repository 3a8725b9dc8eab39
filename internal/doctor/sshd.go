package doctor

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Effective is sshd's effective configuration as `sshd -T` prints it: one
// keyword (lower case) and its value a line. It is the configuration sshd
// really runs with, defaults and Include files applied, but outside any
// Match block: -T applies Match blocks only for the connection given with
// -C.
type Effective map[string][]string

// ParseEffective reads the output of `sshd -T`.
func ParseEffective(out []byte) Effective {
	e := Effective{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		key, value, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if key == "" {
			continue
		}
		// OpenSSH 10 prints PerSourcePenalties with capitals.
		key = strings.ToLower(key)
		e[key] = append(e[key], strings.TrimSpace(value))
	}
	return e
}

// Get is the first value of key, "" if sshd did not print it.
func (e Effective) Get(key string) string {
	if v := e[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Has reports whether sshd printed key at all, which tells the OpenSSH
// version's options apart.
func (e Effective) Has(key string) bool { _, ok := e[key]; return ok }

// context names the settings' context for a message.
func (a AuthSettings) context() string {
	if a.Where == "" {
		return "the global configuration"
	}
	return a.Where
}

// Directive is one keyword line of an sshd_config file.
type Directive struct {
	At Position
	// Keyword is in lower case; Name as written.
	Keyword, Name string
	Args          []string
	// Match is the Match block the line is in, nil outside any.
	Match *MatchBlock
}

// MatchBlock is a Match line of an sshd_config file and the directives it
// governs.
type MatchBlock struct {
	At       Position
	Criteria string
	// Settings holds, for each keyword, the block's first line setting it:
	// within a Match, as everywhere in sshd_config, the first value wins.
	Settings map[string]Directive
}

func (m *MatchBlock) String() string {
	return fmt.Sprintf("the Match block at %s (Match %s)", m.At, m.Criteria)
}

// ConfigFiles is what a textual reading of sshd_config and its Include
// files shows that `sshd -T` does not: Match blocks, and which line set a
// value and how it was spelled.
type ConfigFiles struct {
	Directives []Directive
	Matches    []*MatchBlock
	// Unreadable are Include patterns or files that could not be read;
	// sshd -T reports the ones that matter.
	Unreadable []string
}

// sshDir is where sshd looks for Include files named without a leading '/'.
const sshDir = "/etc/ssh"

// ReadConfigFiles reads the sshd_config at path and the files its Include
// lines name (relative names are in /etc/ssh, patterns are expanded in
// lexical order), as sshd does.
func ReadConfigFiles(path string) (*ConfigFiles, error) {
	src, err := readConfigFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sshd configuration: %w", err)
	}
	c := &ConfigFiles{}
	c.read(path, src, nil, 0)
	return c, nil
}

// read adds the directives of one file; match is the Match block in force
// where the file was included.
func (c *ConfigFiles) read(path string, src []byte, match *MatchBlock, depth int) {
	for i, raw := range strings.Split(string(src), "\n") {
		keyword, args := splitDirective(raw)
		if keyword == "" {
			continue
		}
		d := Directive{At: Position{path, i + 1}, Keyword: strings.ToLower(keyword), Name: keyword, Args: args}
		switch d.Keyword {
		case "match":
			match = &MatchBlock{At: d.At, Criteria: strings.Join(args, " "), Settings: map[string]Directive{}}
			c.Matches = append(c.Matches, match)
			continue
		case "include":
			c.include(d, match, depth)
			continue
		}
		d.Match = match
		c.Directives = append(c.Directives, d)
		if match != nil {
			if _, seen := match.Settings[d.Keyword]; !seen {
				match.Settings[d.Keyword] = d
			}
		}
	}
}

// include reads the files of an Include line. A Match block inside an
// included file ends with that file, as in sshd.
func (c *ConfigFiles) include(d Directive, match *MatchBlock, depth int) {
	if depth >= 16 {
		c.Unreadable = append(c.Unreadable, fmt.Sprintf("%s: Include nested too deeply", d.At))
		return
	}
	for _, pattern := range d.Args {
		if !filepath.IsAbs(pattern) && !strings.HasPrefix(pattern, "~") {
			pattern = filepath.Join(sshDir, pattern)
		}
		files, err := filepath.Glob(pattern)
		if err != nil {
			c.Unreadable = append(c.Unreadable, fmt.Sprintf("%s: %s: %v", d.At, pattern, err))
			continue
		}
		sort.Strings(files)
		for _, f := range files {
			src, err := readConfigFile(f)
			if err != nil {
				c.Unreadable = append(c.Unreadable, fmt.Sprintf("%s: %v", d.At, err))
				continue
			}
			c.read(f, src, match, depth+1)
		}
	}
}

// Global returns the directives outside any Match block that set keyword,
// in the order sshd reads them: the first is the one in force.
func (c *ConfigFiles) Global(keyword string) []Directive {
	var out []Directive
	for _, d := range c.Directives {
		if d.Match == nil && d.Keyword == keyword {
			out = append(out, d)
		}
	}
	return out
}

// splitDirective splits an sshd_config line into its keyword and
// arguments the way sshd does: the keyword ends at a blank or an '=',
// arguments may be double-quoted, and '#' at the start of an argument
// begins a comment.
func splitDirective(line string) (string, []string) {
	line = strings.TrimLeft(line, " \t\r\f")
	if line == "" || line[0] == '#' {
		return "", nil
	}
	end := strings.IndexAny(line, " \t\r\f=")
	if end < 0 {
		return line, nil
	}
	keyword, rest := line[:end], strings.TrimLeft(line[end:], " \t\r\f")
	if strings.HasPrefix(rest, "=") {
		rest = rest[1:]
	}
	var args []string
	for {
		rest = strings.TrimLeft(rest, " \t\r\f")
		if rest == "" || rest[0] == '#' {
			return keyword, args
		}
		if rest[0] == '"' {
			if q := strings.IndexByte(rest[1:], '"'); q >= 0 {
				args = append(args, rest[1:1+q])
				rest = rest[q+2:]
				continue
			}
		}
		end := strings.IndexAny(rest, " \t\r\f")
		if end < 0 {
			end = len(rest)
		}
		args = append(args, rest[:end])
		rest = rest[end:]
	}
}

// AuthSettings are the sshd settings that decide whether and how a login
// reaches PAM, for the connections of one context: the global
// configuration, or a Match block laid over it.
type AuthSettings struct {
	// Where names the context: "" for the global configuration, else
	// the Match block.
	Where string
	// MethodsAt is where to change AuthenticationMethods for this
	// context: the line in force, the Match line, or the sshd_config.
	MethodsAt      string
	UsePAM         bool
	KbdInteractive bool
	Password       bool
	Pubkey         bool
	Hostbased      bool
	GSSAPI         bool
	// Methods are the AuthenticationMethods lists; nil for "any".
	Methods [][]string
}

// globalAuth are the settings sshd -T shows.
func globalAuth(e Effective) AuthSettings {
	yes := func(key string) bool { return e.Get(key) == "yes" }
	a := AuthSettings{
		UsePAM: yes("usepam"),
		// Before OpenSSH 8.7 keyboard-interactive was on when either
		// option was; since, ChallengeResponseAuthentication is another
		// name for KbdInteractiveAuthentication and -T prints only that.
		KbdInteractive: yes("kbdinteractiveauthentication") || yes("challengeresponseauthentication"),
		Password:       yes("passwordauthentication"),
		Pubkey:         yes("pubkeyauthentication"),
		Hostbased:      yes("hostbasedauthentication"),
		GSSAPI:         yes("gssapiauthentication"),
	}
	a.Methods = parseMethods(strings.Fields(e.Get("authenticationmethods")))
	return a
}

// overlay returns a with the settings of the Match block m applied.
func (a AuthSettings) overlay(m *MatchBlock) AuthSettings {
	a.Where = m.String()
	a.MethodsAt = m.At.String()
	if d, ok := m.Settings["authenticationmethods"]; ok {
		a.MethodsAt = d.At.String()
	}
	set := func(p *bool, keys ...string) {
		for _, k := range keys {
			if d, ok := m.Settings[k]; ok && len(d.Args) > 0 {
				*p = strings.EqualFold(d.Args[0], "yes")
				return
			}
		}
	}
	set(&a.KbdInteractive, "kbdinteractiveauthentication", "challengeresponseauthentication")
	set(&a.Password, "passwordauthentication")
	set(&a.Pubkey, "pubkeyauthentication")
	set(&a.Hostbased, "hostbasedauthentication")
	set(&a.GSSAPI, "gssapiauthentication")
	if d, ok := m.Settings["authenticationmethods"]; ok {
		a.Methods = parseMethods(d.Args)
	}
	return a
}

// touchesAuth reports whether the Match block changes any AuthSettings.
func touchesAuth(m *MatchBlock) bool {
	for _, k := range []string{"kbdinteractiveauthentication", "challengeresponseauthentication",
		"passwordauthentication", "pubkeyauthentication", "hostbasedauthentication",
		"gssapiauthentication", "authenticationmethods"} {
		if _, ok := m.Settings[k]; ok {
			return true
		}
	}
	return false
}

// parseMethods splits AuthenticationMethods' arguments into lists; nil
// for "any".
func parseMethods(args []string) [][]string {
	if len(args) == 0 || len(args) == 1 && args[0] == "any" {
		return nil
	}
	var out [][]string
	for _, list := range args {
		out = append(out, strings.Split(list, ","))
	}
	return out
}

// MethodsText is AuthenticationMethods as sshd_config would spell it.
func (a AuthSettings) MethodsText() string {
	if a.Methods == nil {
		return "any"
	}
	var lists []string
	for _, l := range a.Methods {
		lists = append(lists, strings.Join(l, ","))
	}
	return strings.Join(lists, " ")
}

// reachesPAM reports whether the method m runs the PAM auth stack.
func (a AuthSettings) reachesPAM(m string) bool {
	if !a.UsePAM {
		return false
	}
	switch m {
	case "keyboard-interactive", "keyboard-interactive:pam":
		return a.KbdInteractive
	case "password":
		return a.Password
	}
	return false
}

// enabled reports whether sshd offers method m at all.
func (a AuthSettings) enabled(m string) bool {
	name, _, _ := strings.Cut(m, ":")
	switch name {
	case "publickey":
		return a.Pubkey
	case "password":
		return a.Password
	case "keyboard-interactive":
		return a.KbdInteractive
	case "hostbased":
		return a.Hostbased
	case "gssapi-with-mic":
		return a.GSSAPI
	}
	return false
}

// lists are the method lists a login can complete: for "any", each enabled
// method alone; else the AuthenticationMethods lists whose every method is
// enabled.
func (a AuthSettings) lists() [][]string {
	if a.Methods == nil {
		var out [][]string
		for _, m := range []string{"publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic"} {
			if a.enabled(m) {
				out = append(out, []string{m})
			}
		}
		return out
	}
	var out [][]string
	for _, l := range a.Methods {
		usable := true
		for _, m := range l {
			usable = usable && a.enabled(m)
		}
		if usable {
			out = append(out, l)
		}
	}
	return out
}

// PAMMethods are the methods of a usable list that reach PAM, without
// repeats, in order of appearance.
func (a AuthSettings) PAMMethods() []string {
	var out []string
	for _, l := range a.lists() {
		for _, m := range l {
			if a.reachesPAM(m) && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// PAMOnlyList returns a usable list made of methods that reach PAM and
// nothing else, such as "keyboard-interactive" alone: with it, what PAM
// asks for is all a login needs. ok is false when there is none.
func (a AuthSettings) PAMOnlyList() (list []string, ok bool) {
	for _, l := range a.lists() {
		all := true
		for _, m := range l {
			all = all && a.reachesPAM(m)
		}
		if all {
			return l, true
		}
	}
	return nil, false
}

// PasswordBesideKbd reports whether a client may try the password method
// and keyboard-interactive as alternatives at the same step of a login,
// both through PAM: then a failed password attempt can precede a
// keyboard-interactive one on the same connection.
func (a AuthSettings) PasswordBesideKbd() bool {
	next := map[string][2]bool{} // prefix -> {password, kbd} may follow
	for _, l := range a.lists() {
		for i, m := range l {
			prefix := strings.Join(l[:i], ",")
			v := next[prefix]
			switch {
			case m == "password" && a.reachesPAM(m):
				v[0] = true
			case strings.HasPrefix(m, "keyboard-interactive") && a.reachesPAM(m):
				v[1] = true
			}
			next[prefix] = v
		}
	}
	for _, v := range next {
		if v[0] && v[1] {
			return true
		}
	}
	return false
}
