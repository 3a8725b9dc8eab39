package pamtest

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	for _, tt := range []struct {
		stat string
		want procStat
		ok   bool
	}{
		{"4242 (sshd) S 1 4242 4242 0 -1", procStat{"4242 (sshd)", "S", 1}, true},
		// comm may hold spaces and parentheses; the last ')' ends it.
		{"77 (a) b (c)) Z 76 77 77 0", procStat{"77 (a) b (c))", "Z", 76}, true},
		{"5 (sshd-session: alice [priv]) R 4 5", procStat{"5 (sshd-session: alice [priv])", "R", 4}, true},
		{"", procStat{}, false},
		{"12 no comm S 1", procStat{}, false},
		{"12 (x) S", procStat{}, false},
		{"12 (x) S p", procStat{}, false},
	} {
		got, err := parseStat([]byte(tt.stat))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, ok=%v", tt.stat, got, err, tt.want, tt.ok)
		}
	}
}

// TestParseStatSelf: the test's own stat parses, with its parent.
func TestParseStatSelf(t *testing.T) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip(err)
	}
	got, err := parseStat(stat)
	if err != nil || got.ppid != os.Getppid() {
		t.Fatalf("parseStat(/proc/self/stat) = %+v, %v; want parent %d", got, err, os.Getppid())
	}
}

func TestCmdlineTitle(t *testing.T) {
	for _, tt := range []struct {
		cmdline string
		want    string
	}{
		{"sshd\x00-D\x00-e\x00", "sshd -D -e"},
		{"sshd-session: alice [priv]\x00\x00\x00", "sshd-session: alice [priv]"},
		{"echo\x00a \x00", "echo a "},
		{"", ""},
	} {
		if got := cmdlineTitle([]byte(tt.cmdline)); got != tt.want {
			t.Errorf("cmdlineTitle(%q) = %q, want %q", tt.cmdline, got, tt.want)
		}
	}
}
