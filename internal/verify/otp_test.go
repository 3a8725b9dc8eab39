package verify

import (
	"strings"
	"testing"
)

// TestIsOTP checks the shape test that guards every request to Vault.
func TestIsOTP(t *testing.T) {
	const valid = "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f"
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"lower case", valid, true},
		{"upper case", strings.ToUpper(valid), true},
		{"mixed case", "0D2c6A3e-5F4b-4C1d-9E8f-7A6b5C4d3E2f", true},
		{"all zeros", "00000000-0000-0000-0000-000000000000", true},
		{"all f", "ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"empty", "", false},
		{"35 characters", valid[:35], false},
		{"37 characters", valid + "0", false},
		{"no hyphens", strings.ReplaceAll(valid, "-", ""), false},
		{"hyphen moved left", "0d2c6a3-e5f4b-4c1d-9e8f-7a6b5c4d3e2f", false},
		{"hyphen moved right", "0d2c6a3e5-f4b-4c1d-9e8f-7a6b5c4d3e2f", false},
		{"hyphen replaced by hex", "0d2c6a3e05f4b-4c1d-9e8f-7a6b5c4d3e2f"[:36], false},
		{"extra hyphen in hex", "0d2c-a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f", false},
		{"underscore separators", strings.ReplaceAll(valid, "-", "_"), false},
		{"non-hex letter g", "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2g", false},
		{"non-hex letter G", "Gd2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f", false},
		{"non-hex letter z", "0d2c6a3e-5f4b-4c1d-9ezf-7a6b5c4d3e2f", false},
		{"arabic-indic digit (36 bytes)", "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e\u0662", false},
		{"fullwidth digit", "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3\uff12", false},
		{"36 runes of arabic-indic digits", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667-\u0660\u0661\u0662\u0663-\u0660\u0661\u0662\u0663-\u0660\u0661\u0662\u0663-\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661", false},
		{"unicode hyphen", "0d2c6a3e\u20105f4b-4c1d-9e8f-7a6b5c4d", false},
		{"leading space", " " + valid, false},
		{"trailing space", valid + " ", false},
		{"trailing newline", valid + "\n", false},
		{"space inside (36 bytes)", "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2 ", false},
		{"newline inside (36 bytes)", "0d2c6a3e-5f4b-4c1d-9e8f-\n7a6b5c4d3e2"[:36], false},
		{"NUL inside (36 bytes)", "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2\x00", false},
		{"braced", "{" + valid[:34] + "}", false},
		{"urn prefix", "urn:uuid:" + valid, false},
		{"a password", "hunter2", false},
		{"echo request", "verify-echo-request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsOTP(tt.s); got != tt.want {
				t.Errorf("IsOTP(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

// FuzzIsOTP checks that IsOTP accepts only the exact UUID shape.
func FuzzIsOTP(f *testing.F) {
	for _, s := range []string{
		"0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f",
		"0D2C6A3E-5F4B-4C1D-9E8F-7A6B5C4D3E2F",
		"00000000-0000-0000-0000-000000000000",
		"0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2",
		"0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f0",
		"0d2c6a3e05f4b-4c1d-9e8f-7a6b5c4d3e2f",
		"0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e\u0662",
		"", "hunter2", "------------------------------------",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !IsOTP(s) {
			return
		}
		if len(s) != 36 {
			t.Fatalf("IsOTP(%q) = true for %d bytes", s, len(s))
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch i {
			case 8, 13, 18, 23:
				if c != '-' {
					t.Fatalf("IsOTP(%q) = true with %q at %d, want '-'", s, c, i)
				}
			default:
				if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
					t.Fatalf("IsOTP(%q) = true with non-hex %q at %d", s, c, i)
				}
			}
		}
	})
}
