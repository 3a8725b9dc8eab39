package config

import (
	"errors"
	"strings"
	"testing"
)

// nestedHCL is a config whose second line opens depth lists and, when
// closed, closes them. HCL version 1's parser takes time quadratic in the
// depth of lists left open: 2,000 levels cost a second, 8,000 twenty.
func nestedHCL(depth int, closed bool) string {
	end := ""
	if closed {
		end = strings.Repeat("]", depth)
	}
	return addr + "allowed_roles = " + strings.Repeat("[", depth) + end + "\n"
}

// nestedJSON is a JSON config whose allowed_roles, on line 3, nests depth
// arrays.
func nestedJSON(depth int) string {
	return "{\n" + `"vault_addr": "https://vault.example.com:8200",` + "\n" +
		`"allowed_roles": ` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n}\n"
}

// manyItems is a config of n flat settings, the first vault_addr.
func manyItems(n int) string {
	var b strings.Builder
	b.WriteString(addr)
	for i := 1; i < n; i++ {
		b.WriteString("x = \"y\"\n")
	}
	return b.String()
}

// padTo pads a config to n bytes with text inside what it ends with: a
// comment, a quoted string or a heredoc.
func padTo(n int, kind string) string {
	switch kind {
	case "comment":
		s := addr + "# "
		return s + strings.Repeat("x", n-len(s)-1) + "\n"
	case "string":
		s := addr + `tls_server_name = "`
		return s + strings.Repeat("x", n-len(s)-2) + "\"\n"
	case "heredoc":
		s := addr + "tls_server_name = <<EOF\n"
		line := strings.Repeat("x", 79) + "\n"
		body := strings.Repeat(line, (n-len(s)-4)/len(line))
		return s + body + strings.Repeat("x", n-len(s)-len(body)-4-1) + "\nEOF"
	}
	panic(kind)
}

// TestParseBoundsNesting checks that a deeply nested file is refused before
// HCL parses it (HCL version 1's parser takes time quadratic in the
// nesting), with the line where the bound was crossed.
func TestParseBoundsNesting(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
	}{
		{"HCL lists left open", nestedHCL(3000, false), 2},
		{"HCL lists", nestedHCL(3000, true), 2},
		{"HCL objects", addr + "x = " + strings.Repeat("{a = ", 5000) + strings.Repeat("}", 5000) + "\n", 2},
		{"HCL blocks", addr + strings.Repeat("a {\n", 5000) + strings.Repeat("}\n", 5000), 2 + maxNesting},
		{"JSON arrays", nestedJSON(5000), 3},
		{"JSON objects", "{\n\"a\":\n" + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + "}\n", 3},
		{"HCL one level past the bound", nestedHCL(maxNesting+1, true), 2},
		{"JSON one level past the bound", nestedJSON(maxNesting), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(testPath, []byte(tt.src))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %v, want an *Error", err)
			}
			if e.Line != tt.line || !strings.Contains(e.Msg, "nested deeper than") {
				t.Fatalf("Parse = %v, want a nesting error on line %d", err, tt.line)
			}
		})
	}
}

// TestParseBoundsTokens checks the bound on the number of tokens: a file of
// many settings, or of many comment lines, is refused, naming the line
// where the bound was crossed.
func TestParseBoundsTokens(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		line      int
	}{
		{"settings", manyItems(maxTokens), 334},
		{"comment lines", addr + strings.Repeat("# comment\n", maxTokens), maxTokens - 1},
		{"JSON", "{\n" + strings.Repeat(`"x": "y",`+"\n", maxTokens) + "}\n", 251},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(testPath, []byte(tt.src))
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, "more than 1000 tokens") || e.Line != tt.line {
				t.Fatalf("Parse = %v, want a token bound error on line %d", err, tt.line)
			}
		})
	}
}

// TestParseBoundsLegit checks that the bounds pass what real files hold:
// nesting and brackets inside strings, heredocs and comments are text, not
// structure, and the error cases of a wrong type still get their own
// message.
func TestParseBoundsLegit(t *testing.T) {
	deep := strings.Repeat("[{", 500)
	for _, src := range []string{
		exampleConfig,
		addr + "# " + deep + "\n",
		addr + "// " + deep + "\n",
		addr + "/* " + deep + " */\n",
		addr + `namespace = "` + deep + `"` + "\n",
		addr + "tls_server_name = <<EOF\n" + deep + "\nEOF\n",
		"{\n" + `"vault_addr": "https://vault.example.com:8200", "namespace": "` + deep + `"` + "\n}\n",
		padTo(maxFileSize, "comment"),
	} {
		if _, err := Parse(testPath, []byte(src)); err != nil {
			t.Errorf("Parse(%.60q…): %v", src, err)
		}
	}
	// Nesting within the bound reaches the type check.
	_, err := Parse(testPath, []byte(addr+`allowed_roles = ["a", {b = 1}]`+"\n"))
	if err == nil || !strings.Contains(err.Error(), "allowed_roles must be a string") {
		t.Errorf("Parse(list) = %v, want the type error", err)
	}
}

// BenchmarkParse prints what parsing costs for a normal config beside
// hostile ones of the same kind an attacker who can write the file would
// choose. It measures; it asserts nothing about time.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		src  string
	}{
		{"normal config", exampleConfig},
		{"HCL 1k lists closed", nestedHCL(1000, true)},
		{"HCL 2k lists left open", nestedHCL(2000, false)},
		{"HCL 64k lists left open", nestedHCL(maxFileSize-100, false)},
		{"JSON nesting 5k", nestedJSON(5000)},
		{"20 KB of settings", manyItems(20 << 10 / 8)},
		{"64 KiB of settings", manyItems(maxFileSize / 8)},
		{"64 KiB of comment lines", addr + strings.Repeat("#\n", (maxFileSize-len(addr))/2)},
		{"999 comment lines", addr + strings.Repeat("#\n", maxTokens-1)},
		{"64 KiB comment", padTo(maxFileSize, "comment")},
		{"64 KiB string", padTo(maxFileSize, "string")},
		{"64 KiB heredoc", padTo(maxFileSize, "heredoc")},
		{"1 MiB comment", padTo(1<<20, "comment")},
		{"1 MiB string", padTo(1<<20, "string")},
		{"1 MiB heredoc", padTo(1<<20, "heredoc")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := []byte(bc.src)
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				Parse(testPath, src)
			}
		})
	}
}
