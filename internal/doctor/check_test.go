package doctor

import "testing"

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
