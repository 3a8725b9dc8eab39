package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/scanner"
	"github.com/hashicorp/hcl/hcl/token"
)

// setter decodes val, the value of key, into d's config.
type setter func(d *decoder, key string, val ast.Node) error

// setters are the keys a config file may set: vault-ssh-helper's keys, with
// the same meaning, plus pam_vault's own timeout, totp_mount_point and
// token_file.
var setters = map[string]setter{
	"vault_addr":        setVaultAddr,
	"ssh_mount_point":   setMountPoint,
	"namespace":         setNamespace,
	"ca_cert":           setCAPath,
	"ca_path":           setCAPath,
	"tls_skip_verify":   setSkipVerify,
	"tls_server_name":   stringInto(func(c *Config) *string { return &c.TLSServerName }),
	"allowed_cidr_list": setCIDRList,
	"allowed_roles":     setRoles,
	"timeout":           setTimeout,
	"totp_mount_point":  setMountPoint,
	"token_file":        setTokenFile,
}

// knownKeys lists the keys of setters, sorted, for error messages. It is
// worked out when a message needs it, not when the engine loads.
func knownKeys() string {
	keys := make([]string, 0, len(setters))
	for k := range setters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// Parse parses src, the content of the config file path, as HCL version 1
// (or JSON, which HCL version 1 also reads), exactly as vault-ssh-helper
// decodes its config.hcl, and checks every value. Unknown keys, duplicate
// keys, blocks and values of the wrong type are errors. vault_addr is
// required; every other key has a default. Every error is an *Error.
func Parse(path string, src []byte) (cfg *Config, err error) {
	// The HCL package can panic (token.Value panics on a token it cannot
	// convert); a config file must never crash the process that reads it.
	defer func() {
		if p := recover(); p != nil {
			cfg, err = nil, errorf(path, 0, "cannot parse the file: HCL parser failed: %v", p)
		}
	}()

	if err := checkBounds(path, src); err != nil {
		return nil, err
	}
	// HCL's JSON parser stops at a missing comma and ignores the rest of
	// the file, so JSON must first be valid JSON.
	if isJSON(src) {
		if line, msg, bad := jsonSyntaxError(src); bad {
			return nil, errorf(path, line, "syntax error: %s", msg)
		}
	}
	file, err := hcl.ParseBytes(src)
	if err != nil {
		return nil, syntaxError(path, err)
	}
	// HCL's parser drops a "key =" with no value at the end of the file.
	if line := danglingAssign(src); line > 0 {
		return nil, errorf(path, line, "syntax error: a key with = but no value at the end of the file")
	}
	list, ok := file.Node.(*ast.ObjectList)
	if !ok {
		return nil, errorf(path, 0, "the file is not a list of key = value settings")
	}

	d := &decoder{cfg: &Config{
		Path:           path,
		SSHMountPoint:  "ssh",
		TOTPMountPoint: "totp",
		Timeout:        DefaultTimeout,
		lines:          make(map[string]int),
	}}
	for _, item := range list.Items {
		if err := d.item(item); err != nil {
			return nil, err
		}
	}
	if _, ok := d.cfg.lines["vault_addr"]; !ok {
		return nil, errorf(path, 0, `vault_addr is not set; add a line such as vault_addr = "https://vault.example.com:8200"`)
	}
	// Through a Vault Proxy socket the proxy adds its own token, and one
	// from token_file would be sent for nothing or, with a proxy that
	// does not force its own, instead of it.
	if line, ok := d.cfg.lines["token_file"]; ok && d.cfg.SocketPath() != "" {
		return nil, errorf(path, line, "token_file is set, but vault_addr is a Vault Proxy socket, which adds its own token; remove token_file, or point vault_addr at Vault")
	}
	return d.cfg, nil
}

// decoder holds the state of one Parse: the config being filled and the
// line of the item being decoded.
type decoder struct {
	cfg  *Config
	line int
}

// errorf returns an *Error at the line of the item being decoded.
func (d *decoder) errorf(format string, args ...any) *Error {
	return errorf(d.cfg.Path, d.line, format, args...)
}

// item checks and decodes one top-level item of the file.
func (d *decoder) item(item *ast.ObjectItem) error {
	d.line = item.Assign.Line
	if len(item.Keys) == 0 {
		return d.errorf("a setting without a key")
	}
	// JSON keys carry no position; the colon after them does.
	if line := item.Keys[0].Pos().Line; line > 0 {
		d.line = line
	}
	key, ok := item.Keys[0].Token.Value().(string)
	if !ok {
		return d.errorf("a key that is not a name")
	}
	set, known := setters[key]
	if !known {
		return d.errorf("unknown key %q; the keys are %s", key, knownKeys())
	}
	if first, dup := d.cfg.lines[key]; dup {
		return d.errorf("%s is set twice (first on line %d); keep one", key, first)
	}
	if item.Val == nil {
		return d.errorf("%s has no value; write %s = value", key, key)
	}
	_, isObject := item.Val.(*ast.ObjectType)
	if len(item.Keys) > 1 || isObject {
		return d.errorf("%s is a block; write %s = value", key, key)
	}
	d.cfg.lines[key] = d.line
	return set(d, key, item.Val)
}

// posPrefix matches the "line:column: " that the JSON parser puts in front
// of scanner errors. It is compiled on first use: most processes that load
// the engine never see a syntax error.
var posPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+):\d+: `) })

// syntaxError turns an error of hcl.ParseBytes into an *Error with the line
// the parser reported, if it reported one.
func syntaxError(path string, err error) *Error {
	e := &Error{Path: path, err: err}
	var pe *hclparser.PosError
	if errors.As(err, &pe) {
		e.Line = pe.Pos.Line
		e.Msg = "syntax error: " + pe.Err.Error()
		return e
	}
	msg := err.Error()
	if m := posPrefix().FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	e.Msg = "syntax error: " + msg
	return e
}

// jsonSyntaxError reports whether src is not valid JSON, and if so the line
// and text of the first error encoding/json finds (line 0 if it has none).
func jsonSyntaxError(src []byte) (line int, msg string, bad bool) {
	var v any
	err := json.Unmarshal(src, &v)
	if err == nil {
		return 0, "", false
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := min(max(se.Offset, 0), int64(len(src)))
		line = 1 + bytes.Count(src[:off], []byte("\n"))
	}
	return line, "not valid JSON: " + err.Error(), true
}

// isJSON reports whether hcl.ParseBytes reads src as JSON: its first
// character that is not white space is "{".
func isJSON(src []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeftFunc(src, unicode.IsSpace), []byte("{"))
}

// danglingAssign returns the line of a "=" that ends src (comments aside),
// or 0. Only for HCL text, and only after it parsed.
func danglingAssign(src []byte) int {
	if isJSON(src) {
		return 0
	}
	sc := scanner.New(bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n")))
	sc.Error = func(token.Pos, string) {}
	var last token.Token
	for tok := sc.Scan(); tok.Type != token.EOF; tok = sc.Scan() {
		if tok.Type != token.COMMENT {
			last = tok
		}
		if tok.Type == token.ILLEGAL {
			return 0
		}
	}
	if last.Type == token.ASSIGN {
		return last.Pos.Line
	}
	return 0
}

// describe names the kind of an HCL value, for type errors.
func describe(n ast.Node) string {
	switch n := n.(type) {
	case *ast.LiteralType:
		switch n.Token.Type {
		case token.BOOL:
			return "a boolean (" + n.Token.Text + ")"
		case token.NUMBER, token.FLOAT:
			return "a number (" + n.Token.Text + ")"
		case token.STRING, token.HEREDOC:
			return "a string"
		}
	case *ast.ListType:
		return "a list"
	case *ast.ObjectType:
		return "a block"
	}
	return fmt.Sprintf("a value of type %T", n)
}
