package doctor

import (
	"testing"
)

// FuzzPAMService reads a service file as libpam would and runs its auth
// stack: whatever the text, reading must not panic, every rule must have a
// known type, and the simulation must end with a PAM code, having called
// each rule at most once (jumps only go forward).
func FuzzPAMService(f *testing.F) {
	for _, seed := range []string{
		"auth requisite pam_vault.so config=/etc/v.hcl\n",
		"@include common-auth\nauth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n",
		"auth substack nothing\nauth [success=done authinfo_unavail=ignore default=die] pam_vault.so\n",
		"auth [success=5 default=reset] pam_echo.so [a \\] b]\n-auth optional x.so\n",
		"auth \\\n required \\\n# c\n pam_x.so\n",
		"auht required\nauth\nauth [\nauth [success=]\n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		s := &Stack{Service: "fuzz", Dir: dir, Rules: map[string][]Rule{}}
		(&stackReader{stack: s}).parse("fuzz", src, "", 0, nil)
		for typ, rules := range s.Rules {
			if !isModuleType(typ) {
				t.Fatalf("rules of type %q", typ)
			}
			calls := 0
			out := Simulate(rules, func(r Rule) Code {
				calls++
				return Code(calls % numCodes)
			})
			if out.Code < 0 || out.Code >= numCodes {
				t.Fatalf("Simulate returned %d", out.Code)
			}
			if len(out.Ran) > len(rules) {
				t.Fatalf("%d calls for %d rules", len(out.Ran), len(rules))
			}
		}
	})
}

// FuzzSSHDConfig splits sshd_config lines and reads sshd -T output: no
// panic, and a keyword never holds a blank or an '='.
func FuzzSSHDConfig(f *testing.F) {
	for _, seed := range []string{
		"UsePAM yes", "PasswordAuthentication=no", `Match User "a b",c`, "  # c", "AuthenticationMethods publickey,password any",
		"persourcepenalties crash:90 authfail:5", "=", "\"", "a\t=\t\"b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		keyword, _ := splitDirective(line)
		for _, c := range keyword {
			if c == ' ' || c == '\t' || c == '=' {
				t.Fatalf("keyword %q of %q", keyword, line)
			}
		}
		e := ParseEffective([]byte(line))
		a := globalAuth(e)
		a.PAMMethods()
		a.PAMOnlyList()
		a.PasswordBesideKbd()
		penaltyValue(line, "authfail")
	})
}
