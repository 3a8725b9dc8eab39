package verify

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// TestCheck is the verdict table: what Vault said about a valid OTP against
// the host's user, addresses, allowed_cidr_list and allowed_roles.
func TestCheck(t *testing.T) {
	local := []netip.Addr{
		netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("::1"),
		netip.MustParseAddr("10.1.2.3"),
	}
	const addr = `vault_addr = "https://v:8200"`
	const roles = `allowed_roles = "otp, dev"`
	ok := Answer{Username: "alice", IP: "10.1.2.3", Role: "otp"}
	with := func(f func(*Answer)) Answer {
		a := ok
		f(&a)
		return a
	}
	tests := []struct {
		name    string
		config  []string
		answer  Answer
		user    string
		local   []netip.Addr // nil for local
		conn    string       // the local address of SSH_CONNECTION; "" for none
		wantErr error        // nil for success
		parts   []string     // substrings of the error text
	}{
		{name: "all match", config: []string{roles}, answer: ok, user: "alice"},
		{name: "second role", config: []string{roles}, answer: with(func(a *Answer) { a.Role = "dev" }), user: "alice"},

		{name: "user differs in case", config: []string{roles}, answer: with(func(a *Answer) { a.Username = "Alice" }), user: "alice",
			wantErr: ErrRejected, parts: []string{`"Alice"`}},
		{name: "PAM user differs in case", config: []string{roles}, answer: ok, user: "ALICE",
			wantErr: ErrRejected, parts: []string{`"alice"`}},
		{name: "user with trailing space", config: []string{roles}, answer: with(func(a *Answer) { a.Username = "alice " }), user: "alice",
			wantErr: ErrRejected, parts: []string{`"alice "`}},
		{name: "PAM user with trailing space", config: []string{roles}, answer: ok, user: "alice ",
			wantErr: ErrRejected, parts: []string{`"alice"`}},
		{name: "user with trailing NUL", config: []string{roles}, answer: with(func(a *Answer) { a.Username = "alice\x00" }), user: "alice",
			wantErr: ErrRejected},
		{name: "another user", config: []string{roles}, answer: with(func(a *Answer) { a.Username = "root" }), user: "alice",
			wantErr: ErrRejected, parts: []string{`"root"`}},
		{name: "empty PAM user", config: []string{roles}, answer: ok, user: "",
			wantErr: ErrRejected},
		{name: "user checked before the IP", config: []string{roles},
			answer: with(func(a *Answer) { a.Username = "root"; a.IP = "garbage" }), user: "alice",
			wantErr: ErrRejected, parts: []string{`"root"`}},

		{name: "loopback IPv4", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "127.0.0.1" }), user: "alice"},
		{name: "loopback IPv6", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "::1" }), user: "alice"},
		{name: "IPv6 written long", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "0:0:0:0:0:0:0:1" }), user: "alice"},
		{name: "IPv4-mapped local IPv4", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "::ffff:10.1.2.3" }), user: "alice"},
		{name: "IPv4-mapped loopback", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "::ffff:127.0.0.1" }), user: "alice"},
		{name: "same /24, not local (CVE-2020-24359)", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "10.1.2.4" }), user: "alice",
			wantErr: ErrRejected, parts: []string{"10.1.2.4"}},
		{name: "other loopback address", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "127.0.0.2" }), user: "alice",
			wantErr: ErrRejected, parts: []string{"127.0.0.2"}},
		{name: "other IPv6", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "::2" }), user: "alice",
			wantErr: ErrRejected, parts: []string{"::2"}},
		{name: "same /24 with unrelated cidr list", config: []string{roles, `allowed_cidr_list = "192.168.0.0/16"`},
			answer: with(func(a *Answer) { a.IP = "10.1.2.4" }), user: "alice",
			wantErr: ErrRejected, parts: []string{"10.1.2.4"}},
		{name: "inside allowed_cidr_list", config: []string{roles, `allowed_cidr_list = "10.1.2.0/24"`},
			answer: with(func(a *Answer) { a.IP = "10.1.2.4" }), user: "alice"},
		{name: "inside second allowed_cidr_list entry", config: []string{roles, `allowed_cidr_list = "10.9.0.0/16, 192.168.0.0/16"`},
			answer: with(func(a *Answer) { a.IP = "192.168.7.9" }), user: "alice"},
		{name: "just outside allowed_cidr_list", config: []string{roles, `allowed_cidr_list = "192.168.0.0/16"`},
			answer: with(func(a *Answer) { a.IP = "192.169.0.1" }), user: "alice",
			wantErr: ErrRejected, parts: []string{"192.169.0.1"}},
		{name: "IPv6 inside allowed_cidr_list", config: []string{roles, `allowed_cidr_list = "2001:db8::/32"`},
			answer: with(func(a *Answer) { a.IP = "2001:db8::7" }), user: "alice"},
		{name: "no local addresses, cidr", config: []string{roles, `allowed_cidr_list = "10.0.0.0/8"`},
			answer: ok, user: "alice", local: []netip.Addr{}},
		{name: "no local addresses, no cidr", config: []string{roles},
			answer: ok, user: "alice", local: []netip.Addr{}, wantErr: ErrRejected},

		{name: "ip garbage", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "not-an-ip" }), user: "alice",
			wantErr: ErrUnavailable, parts: []string{"not-an-ip"}},
		{name: "ip empty", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "" }), user: "alice",
			wantErr: ErrUnavailable},
		{name: "ip with trailing space", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "10.1.2.3 " }), user: "alice",
			wantErr: ErrUnavailable},
		{name: "ip a prefix", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "10.1.2.3/24" }), user: "alice",
			wantErr: ErrUnavailable},
		{name: "ip with zone", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "::1%lo" }), user: "alice",
			wantErr: ErrUnavailable},
		{name: "ip a host name", config: []string{roles}, answer: with(func(a *Answer) { a.IP = "localhost" }), user: "alice",
			wantErr: ErrUnavailable},

		{name: "role not allowed", config: []string{roles}, answer: with(func(a *Answer) { a.Role = "admin" }), user: "alice",
			wantErr: ErrRejected, parts: []string{`"admin"`, "allowed_roles"}},
		{name: "role differs in case", config: []string{roles}, answer: with(func(a *Answer) { a.Role = "OTP" }), user: "alice",
			wantErr: ErrRejected, parts: []string{`"OTP"`}},
		{name: "role a prefix of an allowed one", config: []string{roles}, answer: with(func(a *Answer) { a.Role = "ot" }), user: "alice",
			wantErr: ErrRejected, parts: []string{`"ot"`}},
		{name: "role list as one role", config: []string{roles}, answer: with(func(a *Answer) { a.Role = "otp, dev" }), user: "alice",
			wantErr: ErrRejected},
		{name: "IP checked before the role", config: []string{roles},
			answer: with(func(a *Answer) { a.IP = "10.1.2.4"; a.Role = "admin" }), user: "alice",
			wantErr: ErrRejected, parts: []string{"10.1.2.4"}},
		{name: "roles star", config: []string{`allowed_roles = "*"`}, answer: with(func(a *Answer) { a.Role = "anything" }), user: "alice"},
		{name: "roles star among others", config: []string{`allowed_roles = "dev,*"`}, answer: with(func(a *Answer) { a.Role = "anything" }), user: "alice"},
		{name: "roles star still checks the IP", config: []string{`allowed_roles = "*"`},
			answer: with(func(a *Answer) { a.IP = "10.1.2.4" }), user: "alice", wantErr: ErrRejected},
		{name: "roles star still checks the user", config: []string{`allowed_roles = "*"`},
			answer: with(func(a *Answer) { a.Username = "root" }), user: "alice", wantErr: ErrRejected},

		// Over a connection sshd described, only the address it reached
		// counts, and only if this host holds it.
		{name: "connection reached the OTP's address", config: []string{roles}, answer: ok, user: "alice", conn: "10.1.2.3"},
		{name: "loopback OTP over a connection to another address", config: []string{roles},
			answer: with(func(a *Answer) { a.IP = "127.0.0.1" }), user: "alice", conn: "10.1.2.3",
			wantErr: ErrRejected, parts: []string{"127.0.0.1 is an address of this host but not 10.1.2.3"}},
		{name: "loopback OTP over a loopback connection", config: []string{roles},
			answer: with(func(a *Answer) { a.IP = "127.0.0.1" }), user: "alice", conn: "127.0.0.1"},
		{name: "IPv4-mapped OTP over an IPv4 connection", config: []string{roles},
			answer: with(func(a *Answer) { a.IP = "::ffff:10.1.2.3" }), user: "alice", conn: "10.1.2.3"},
		{name: "forged connection address the host does not hold", config: []string{roles},
			answer: with(func(a *Answer) { a.IP = "192.0.2.7" }), user: "alice", conn: "192.0.2.7",
			wantErr: ErrRejected, parts: []string{"no interface of this host holds it"}},
		{name: "other address inside allowed_cidr_list over a connection", config: []string{roles, `allowed_cidr_list = "192.0.2.0/24"`},
			answer: with(func(a *Answer) { a.IP = "192.0.2.7" }), user: "alice", conn: "10.1.2.3"},
	}
	// Empty or absent allowed_roles allows nobody, whatever the role.
	for _, cfgLine := range []string{`allowed_roles = ""`, `allowed_roles = " , "`, ""} {
		for _, role := range []string{"otp", "admin", "*", ""} {
			tests = append(tests, struct {
				name    string
				config  []string
				answer  Answer
				user    string
				local   []netip.Addr
				conn    string
				wantErr error
				parts   []string
			}{
				name:    "allowed_roles " + strconv.Quote(cfgLine) + " role " + strconv.Quote(role),
				config:  []string{cfgLine},
				answer:  with(func(a *Answer) { a.Role = role }),
				user:    "alice",
				wantErr: ErrRejected,
				parts:   []string{strconv.Quote(role)},
			})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseConfig(t, append([]string{addr}, tt.config...)...)
			l := local
			if tt.local != nil {
				l = tt.local
			}
			var conn netip.Addr
			if tt.conn != "" {
				conn = netip.MustParseAddr(tt.conn)
			}
			err := Check(cfg, tt.answer, tt.user, conn, func() ([]netip.Addr, error) { return l, nil })
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check(%+v, user %q): %v", tt.answer, tt.user, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%+v, user %q) = nil, want an error wrapping %v", tt.answer, tt.user, tt.wantErr)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Check error %q does not wrap %v", err, tt.wantErr)
			}
			errKind(t, err)
			// A rejection names the OTP first: operators grep for it.
			prefix := tt.wantErr.Error() + ": "
			if tt.wantErr == ErrRejected {
				prefix = "OTP rejected: "
			}
			if msg, ok := strings.CutPrefix(err.Error(), prefix); !ok || strings.TrimSpace(msg) == "" {
				t.Errorf("Check error %q does not start with %q or says nothing beyond it", err, prefix)
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("Check error %q does not contain %q", err, p)
				}
			}
		})
	}
}

// TestCheckListsAddressesLast checks that the host's addresses are listed
// only for an answer that passed the user check, and that a failure to list
// them is unavailability, never a login.
func TestCheckListsAddressesLast(t *testing.T) {
	cfg := parseConfig(t, `vault_addr = "https://v:8200"`, `allowed_roles = "*"`)
	answer := Answer{Username: "alice", IP: "127.0.0.1", Role: "r"}
	called := false
	failing := func() ([]netip.Addr, error) {
		called = true
		return nil, errors.New("no netlink")
	}
	if err := Check(cfg, answer, "bob", netip.Addr{}, failing); !errors.Is(err, ErrRejected) || called {
		t.Fatalf("another user's OTP: err %v, addresses listed %v; want ErrRejected without listing", err, called)
	}
	if err := Check(cfg, answer, "alice", netip.Addr{}, failing); !errors.Is(err, ErrUnavailable) || !called {
		t.Fatalf("addresses unlisted: err %v, listed %v; want ErrUnavailable", err, called)
	}
}
