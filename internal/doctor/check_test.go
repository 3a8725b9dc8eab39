package doctor

import (
	"strings"
	"testing"
)

func TestReplacement(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"quiet", "expose_authtok", "/usr/local/bin/vault-ssh-helper", "-config=/etc/v.hcl"},
			"auth requisite pam_vault.so config=/etc/v.hcl"},
		{[]string{"quiet", "expose_authtok", "/usr/local/bin/vault-ssh-helper", "-dev", "-config", "/etc/v.hcl"},
			"auth requisite pam_vault.so config=/etc/v.hcl dev"},
		{[]string{"expose_authtok", "/usr/bin/vault-ssh-helper", "--config=/etc/w.hcl", "-dev=false"},
			"auth requisite pam_vault.so config=/etc/w.hcl"},
		{[]string{"expose_authtok", "/usr/bin/vault-ssh-helper"},
			"auth requisite pam_vault.so config=/etc/vault-ssh-helper.d/config.hcl"},
	}
	for _, tt := range tests {
		r := Rule{Module: "pam_exec.so", Args: tt.args}
		if !isHelperLine(r) {
			t.Errorf("isHelperLine(%q) = false", tt.args)
		}
		if got := replacement(r); got != tt.want {
			t.Errorf("replacement(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
	if isHelperLine(Rule{Module: "pam_exec.so", Args: []string{"/usr/local/bin/other"}}) {
		t.Error("isHelperLine took another pam_exec program for vault-ssh-helper")
	}
}

// TestSucceedIfUser checks the model of a pam_succeed_if line that tests
// the user name, for a named user and for one no line names ("").
func TestSucceedIfUser(t *testing.T) {
	tests := []struct {
		args   string
		user   string
		want   Code
		known  bool
		listed []string
	}{
		{"quiet user = breakglass", "breakglass", Success, true, []string{"breakglass"}},
		{"quiet user = breakglass", "", AuthErr, true, []string{"breakglass"}},
		{"user != breakglass", "", Success, true, []string{"breakglass"}},
		{"user in ops:breakglass", "breakglass", Success, true, []string{"ops", "breakglass"}},
		{"user in ops:breakglass", "", AuthErr, true, []string{"ops", "breakglass"}},
		{"user notin ops:breakglass", "ops", AuthErr, true, []string{"ops", "breakglass"}},
		{"debug user = a user != b", "a", Success, true, []string{"a", "b"}},
		{"user = a user = b", "a", AuthErr, true, []string{"a", "b"}},
		{"uid >= 1000", "", 0, false, nil},
		{"user = a uid >= 1000", "a", 0, false, nil},
		{"user ingroup wheel", "", 0, false, nil},
		{"user =~ adm*", "", 0, false, nil},
		{"use_uid user = a", "a", 0, false, nil},
		{"user =", "", 0, false, nil},
		{"quiet", "", 0, false, nil},
	}
	for _, tt := range tests {
		r := Rule{Module: "pam_succeed_if.so", Args: strings.Fields(tt.args)}
		code, ok := succeedIfUser(r, tt.user)
		if ok != tt.known || ok && code != tt.want {
			t.Errorf("succeedIfUser(%q, %q) = %v, %v; want %v, %v", tt.args, tt.user, code, ok, tt.want, tt.known)
		}
		if got := namedUsers([]Rule{r}); strings.Join(got, ",") != strings.Join(tt.listed, ",") {
			t.Errorf("namedUsers(%q) = %q, want %q", tt.args, got, tt.listed)
		}
	}
	if _, ok := succeedIfUser(Rule{Module: "pam_unix.so", Args: []string{"user", "=", "a"}}, "a"); ok {
		t.Error("succeedIfUser answered for pam_unix")
	}
}
