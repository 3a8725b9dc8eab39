package config

import (
	"bytes"

	"github.com/hashicorp/hcl/hcl/scanner"
	"github.com/hashicorp/hcl/hcl/token"
	jsonscanner "github.com/hashicorp/hcl/json/scanner"
	jsontoken "github.com/hashicorp/hcl/json/token"
)

// A config file is a flat list of key = "value" settings: a dozen keys,
// each set once, so a few dozen tokens and no nesting (one level in JSON,
// for the object around the settings). HCL version 1's parser takes time
// quadratic in the depth of brackets left open (2,000 levels cost a second,
// 8,000 twenty) and builds a node for every token, so a file that nests or
// holds far more than a config needs is refused before it is parsed. The
// bounds leave room for the wrong-type values that get their own error
// (allowed_roles = ["a", {b = 1}]).
const (
	// maxNesting bounds how deep brackets and braces nest.
	maxNesting = 8
	// maxTokens bounds the tokens of a file, comments counted: the parser
	// takes time superlinear in the number of comment lines too (32,000
	// cost 64 ms).
	maxTokens = 1000
)

// checkBounds scans src once, with the scanner HCL's own parser uses for
// its form (HCL or JSON), so that brackets inside strings, heredocs and
// comments are text as they are to the parser (a character no token starts
// with counts as a token), and refuses a file that
// nests deeper than maxNesting or holds more than maxTokens tokens. The
// error names the line where the bound was crossed. The scan costs time
// linear in the size of src and stops at the first bound crossed.
func checkBounds(path string, src []byte) *Error {
	next := hclTokens(src)
	if isJSON(src) {
		next = jsonTokens(src)
	}
	depth, tokens := 0, 0
	for {
		kind, line := next()
		switch kind {
		case tokEnd:
			return nil
		case tokOpen:
			depth++
		case tokClose:
			depth--
		}
		if tokens++; tokens > maxTokens {
			return errorf(path, line, "more than %d tokens; a pam_vault config is a short list of key = \"value\" settings", maxTokens)
		}
		if depth > maxNesting {
			return errorf(path, line, "brackets or braces nested deeper than %d levels; a pam_vault config is a flat list of key = \"value\" settings", maxNesting)
		}
	}
}

// The kinds of token checkBounds tells apart.
const (
	tokOther = iota
	tokOpen
	tokClose
	tokEnd // the end of the file
)

// hclTokens returns a function that yields the kind and line of each token
// of the HCL text src in turn.
func hclTokens(src []byte) func() (int, int) {
	// The parser reads \r\n as \n; the lines must be its lines.
	sc := scanner.New(bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n")))
	sc.Error = func(token.Pos, string) {}
	return func() (int, int) {
		tok := sc.Scan()
		switch tok.Type {
		case token.EOF:
			return tokEnd, tok.Pos.Line
		case token.LBRACK, token.LBRACE:
			return tokOpen, tok.Pos.Line
		case token.RBRACK, token.RBRACE:
			return tokClose, tok.Pos.Line
		}
		return tokOther, tok.Pos.Line
	}
}

// jsonTokens is hclTokens for a JSON file.
func jsonTokens(src []byte) func() (int, int) {
	sc := jsonscanner.New(src)
	sc.Error = func(jsontoken.Pos, string) {}
	return func() (int, int) {
		tok := sc.Scan()
		switch tok.Type {
		case jsontoken.EOF:
			return tokEnd, tok.Pos.Line
		case jsontoken.LBRACK, jsontoken.LBRACE:
			return tokOpen, tok.Pos.Line
		case jsontoken.RBRACK, jsontoken.RBRACE:
			return tokClose, tok.Pos.Line
		}
		return tokOther, tok.Pos.Line
	}
}
