package engine

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRequestRoundTrip checks that ReadRequest reads what AppendRequest
// writes.
func TestRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  Request
	}{
		{"no args", Request{User: "alice", Token: "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f", RemoteHost: "10.1.2.3", Service: "sshd"}},
		{"args", Request{Args: []string{"config=/etc/pam_vault.hcl", "debug", "dev"}, User: "alice", Token: "t", RemoteHost: "::1", Service: "su"}},
		{"all empty", Request{}},
		{"empty args", Request{Args: []string{"", ""}, User: "", Token: "", RemoteHost: "", Service: ""}},
		{"unicode", Request{Args: []string{"ünïcödé=✓"}, User: "José", Token: "пароль", RemoteHost: "host.例え.jp", Service: "日本"}},
		{"spaces and newlines", Request{Args: []string{"a b", "c\nd"}, User: "a\nb", Token: " x ", RemoteHost: "\t", Service: "\r\n"}},
		{"invalid UTF-8", Request{User: "\xff\xfe", Token: "\x80"}},
		{"SSH_CONNECTION", Request{User: "alice", Service: "sshd", SSHConnection: "10.0.0.1 50022 10.0.0.2 22", Args: []string{"debug"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := AppendRequest(nil, tt.req)
			var prepared []string
			got, err := ReadRequest(bytes.NewReader(buf), func(args []string) { prepared = args })
			if err != nil {
				t.Fatalf("ReadRequest(%q): %v", buf, err)
			}
			if !reflect.DeepEqual(got, tt.req) {
				t.Fatalf("ReadRequest(AppendRequest(%+v)) = %+v", tt.req, got)
			}
			if !reflect.DeepEqual(prepared, tt.req.Args) {
				t.Fatalf("prepare got %q, want %q", prepared, tt.req.Args)
			}
			if again := AppendRequest(nil, got); !bytes.Equal(again, buf) {
				t.Fatalf("re-encoding gives %q, want %q", again, buf)
			}
		})
	}
}

// TestAppendRequestAppends checks that AppendRequest keeps what dst holds.
func TestAppendRequestAppends(t *testing.T) {
	got := AppendRequest([]byte("prefix"), Request{User: "u", Token: "t", RemoteHost: "r", Service: "s", SSHConnection: "c", Args: []string{"a"}})
	if want := "prefix1\x00a\x00u\x00t\x00r\x00s\x00c\x00"; string(got) != want {
		t.Fatalf("AppendRequest = %q, want %q", got, want)
	}
}

// TestReadRequestRejects checks the requests that ReadRequest refuses.
func TestReadRequestRejects(t *testing.T) {
	max := AppendRequest(nil, Request{User: strings.Repeat("u", MaxRequest-RequestFields-2)})
	if len(max) != MaxRequest {
		t.Fatalf("max request is %d bytes, want %d", len(max), MaxRequest)
	}
	if _, err := ReadRequest(bytes.NewReader(max), nil); err != nil {
		t.Fatalf("ReadRequest of exactly MaxRequest bytes: %v", err)
	}
	tests := []struct {
		name     string
		in       string
		part     string
		prepares bool // the arguments were read whole
	}{
		{"empty", "", "argument count", false},
		{"count without NUL", "0", "NUL", false},
		{"count not a number", "x\x00u\x00t\x00r\x00s\x00c\x00", "not a number", false},
		{"negative count", "-1\x00u\x00t\x00r\x00s\x00c\x00", "not a number", false},
		{"count with a sign", "+0\x00u\x00t\x00r\x00s\x00c\x00", "not a number", false},
		{"count with leading zero", "01\x00a\x00u\x00t\x00r\x00s\x00c\x00", "not a number", false},
		{"huge count", "99999999999999999999\x00", "not a number", false},
		{"fewer arguments than counted", "3\x00a\x00b\x00", "fewer than 3", false},
		{"no trailing NUL", "0\x00u\x00t\x00r\x00s", "NUL", true},
		{"one field", "0\x00u\x00", "1 fields", true},
		{"three fields", "0\x00u\x00t\x00r\x00", "3 fields", true},
		{"four fields, as before SSH_CONNECTION", "0\x00u\x00t\x00r\x00s\x00", "4 fields", true},
		{"the format before the argument count", "u\x00t\x00r\x00s\x00c\x00debug\x00", "not a number", false},
		{"a field too many", "0\x00u\x00t\x00r\x00s\x00c\x00a\x00", "more than 5", true},
		{"one byte over MaxRequest", string(max) + "\x00", "larger", true},
		{"far over MaxRequest", "1\x00" + strings.Repeat("a", MaxRequest), "larger", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prepared := false
			req, err := ReadRequest(strings.NewReader(tt.in), func([]string) { prepared = true })
			if err == nil {
				t.Fatalf("ReadRequest succeeded with %+v, want an error", req)
			}
			if !strings.Contains(err.Error(), tt.part) {
				t.Errorf("ReadRequest error %q does not contain %q", err, tt.part)
			}
			if !reflect.DeepEqual(req, Request{}) {
				t.Errorf("ReadRequest returned %+v with its error", req)
			}
			if prepared != tt.prepares {
				t.Errorf("prepare called: %v, want %v", prepared, tt.prepares)
			}
		})
	}
}

// TestVerdictRoundTrip checks that ReadVerdict reads what AppendVerdict
// writes, for verdicts that fit the adapter's buffers.
func TestVerdictRoundTrip(t *testing.T) {
	tests := []Verdict{
		{Result: Success, Log: "accepted Vault OTP; user=alice rhost=10.1.2.3 role=otp"},
		{Result: AuthErr, Log: "authentication failure; user=alice"},
		{Result: Unavailable, Message: unavailableMessage, Log: "Vault unavailable"},
		{Result: ServiceErr},
		{Result: AuthErr, Message: "ünïcödé ✓", Log: "日本語"},
		{Result: AuthErr, Message: strings.Repeat("m", MaxMessage), Log: strings.Repeat("l", MaxLog)},
	}
	for _, v := range tests {
		buf := AppendVerdict(nil, v)
		got, err := ReadVerdict(buf)
		if err != nil {
			t.Errorf("ReadVerdict(%q): %v", buf, err)
			continue
		}
		if got != v {
			t.Errorf("ReadVerdict(AppendVerdict(%+v)) = %+v", v, got)
		}
	}
}

// TestAppendVerdictClips checks that AppendVerdict fits the verdict's strings
// to the adapter's buffers: at most MaxMessage and MaxLog bytes, cut on a
// UTF-8 boundary, without NUL bytes.
func TestAppendVerdictClips(t *testing.T) {
	tests := []struct {
		name             string
		in               Verdict
		wantMsg, wantLog string
	}{
		{
			name:    "ASCII over",
			in:      Verdict{Message: strings.Repeat("m", MaxMessage+10), Log: strings.Repeat("l", MaxLog+10)},
			wantMsg: strings.Repeat("m", MaxMessage), wantLog: strings.Repeat("l", MaxLog),
		},
		{
			name: "two-byte runes across the bound",
			// 255 and 1023 are odd, so the last é would be cut in half.
			in:      Verdict{Message: strings.Repeat("é", MaxMessage), Log: strings.Repeat("é", MaxLog)},
			wantMsg: strings.Repeat("é", MaxMessage/2), wantLog: strings.Repeat("é", MaxLog/2),
		},
		{
			name:    "four-byte runes across the bound",
			in:      Verdict{Message: strings.Repeat("😀", 100), Log: strings.Repeat("😀", 300)},
			wantMsg: strings.Repeat("😀", MaxMessage/4), wantLog: strings.Repeat("😀", MaxLog/4),
		},
		{
			name:    "NULs removed",
			in:      Verdict{Message: "a\x00b\x00", Log: "\x00c\x00d"},
			wantMsg: "ab", wantLog: "cd",
		},
		{
			name:    "NULs removed before the cut",
			in:      Verdict{Message: strings.Repeat("\x00", 300) + "msg", Log: strings.Repeat("x\x00", MaxLog)},
			wantMsg: "msg", wantLog: strings.Repeat("x", MaxLog),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := AppendVerdict(nil, tt.in)
			if n := bytes.Count(buf, []byte{0}); n != 3 {
				t.Fatalf("AppendVerdict wrote %d NULs, want 3", n)
			}
			got, err := ReadVerdict(buf)
			if err != nil {
				t.Fatalf("ReadVerdict: %v", err)
			}
			if got.Message != tt.wantMsg {
				t.Errorf("Message = %d bytes %.20q…, want %d bytes", len(got.Message), got.Message, len(tt.wantMsg))
			}
			if got.Log != tt.wantLog {
				t.Errorf("Log = %d bytes %.20q…, want %d bytes", len(got.Log), got.Log, len(tt.wantLog))
			}
			if !utf8.ValidString(got.Message) || !utf8.ValidString(got.Log) {
				t.Errorf("clipped strings are not valid UTF-8")
			}
		})
	}
}

// TestReadVerdictRejects checks the verdicts that ReadVerdict refuses, which
// are those the C adapter's decoder refuses.
func TestReadVerdictRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"no trailing NUL", "0\x00m\x00l"},
		{"one field", "0\x00"},
		{"two fields", "0\x00m\x00"},
		{"four fields", "0\x00m\x00l\x00x\x00"},
		{"result 5", "5\x00m\x00l\x00"},
		{"result 9", "9\x00m\x00l\x00"},
		{"result -1", "-1\x00m\x00l\x00"},
		{"result 10", "10\x00m\x00l\x00"},
		{"result empty", "\x00m\x00l\x00"},
		{"result a word", "ok\x00m\x00l\x00"},
		{"result with space", " 1\x00m\x00l\x00"},
		{"result with sign", "+1\x00m\x00l\x00"},
		{"result -0", "-0\x00m\x00l\x00"},
		{"result with leading zero", "01\x00m\x00l\x00"},
		{"message over MaxMessage", "1\x00" + strings.Repeat("m", MaxMessage+1) + "\x00l\x00"},
		{"log over MaxLog", "1\x00m\x00" + strings.Repeat("l", MaxLog+1) + "\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := ReadVerdict([]byte(tt.in)); err == nil {
				t.Fatalf("ReadVerdict(%.40q) = %.80v, want an error", tt.in, v)
			}
		})
	}
}

// TestClip checks the cut to a C buffer: NULs removed, at most max bytes,
// never inside a UTF-8 sequence.
func TestClip(t *testing.T) {
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"empty", "", 10, ""},
		{"fits", "hello", 10, "hello"},
		{"exact", "hello", 5, "hello"},
		{"ASCII cut", "hello", 3, "hel"},
		{"max zero", "hello", 0, ""},
		{"NUL removed", "he\x00llo", 10, "hello"},
		{"only NULs", "\x00\x00", 1, ""},
		{"NULs do not count", "\x00\x00\x00ab", 2, "ab"},
		{"two-byte rune at the cut", "aé", 2, "a"},
		{"two-byte rune fits", "aé", 3, "aé"},
		{"three-byte rune at the cut, 1 byte in", "a€", 2, "a"},
		{"three-byte rune at the cut, 2 bytes in", "a€", 3, "a"},
		{"three-byte rune fits", "a€b", 4, "a€"},
		{"four-byte rune at the cut, 3 bytes in", "a😀", 4, "a"},
		{"four-byte rune fits", "a😀", 5, "a😀"},
		{"first rune too long", "😀", 3, ""},
		{"combining mark kept apart", "e\u0301x", 3, "e\u0301"},
		{"invalid UTF-8 kept as bytes", "\xffab", 2, "\xffa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clip(tt.s, tt.max)
			if got != tt.want {
				t.Errorf("Clip(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
			if len(got) > tt.max {
				t.Errorf("Clip(%q, %d) is %d bytes", tt.s, tt.max, len(got))
			}
		})
	}
}

// FuzzReadRequest checks that no input makes ReadRequest panic and that
// what it accepts encodes back to the same bytes.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"", "\x00", "0\x00\x00\x00\x00", "0\x00u\x00t\x00r\x00s\x00", "0\x00u\x00t\x00r\x00s\x00c\x00",
		"2\x00config=/etc/x.hcl\x00debug\x00alice\x000d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f\x0010.1.2.3\x00sshd\x0010.1.2.3 5000 10.1.2.4 22\x00",
		"0\x00u\x00t\x00r\x00", "1\x00u\x00t\x00r\x00s", "0\x00\x00\x00\x00\x00\x00",
		"1\x00a\x00José\x00пароль\x00::1\x00日本\x00\x00", "u\x00t\x00r\x00s\x00c\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := ReadRequest(bytes.NewReader(in), nil)
		if err != nil {
			return
		}
		if len(in) > MaxRequest {
			t.Fatalf("ReadRequest accepted %d bytes", len(in))
		}
		if out := AppendRequest(nil, req); !bytes.Equal(out, in) {
			t.Fatalf("ReadRequest(%q) = %+v, which encodes to %q", in, req, out)
		}
	})
}
