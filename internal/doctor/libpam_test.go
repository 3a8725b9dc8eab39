package doctor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// pamStrerror is pam_strerror's text for the codes the stacks below end
// with, which pamtester prints last; success is pamtester's own word.
var pamStrerror = map[Code]string{
	Success:         pamtest.Success,
	AuthErr:         pamtest.AuthErr,
	AuthinfoUnavail: pamtest.AuthInfoUnavail,
	PermDenied:      "Permission denied",
	SystemErr:       "System error",
	ServiceErr:      pamtest.ServiceErr,
	Ignore:          "The return value should be ignored by PAM dispatch",
	ModuleUnknown:   "Module is unknown",
}

// TestSimulateMatchesLibpam runs PAM services through Debian's real libpam
// (pamtester, in a private mount namespace whose /etc/pam.d is the test's
// directory, so that relative includes resolve as on a host) and checks
// that ReadStack and Simulate predict what libpam did: the same modules
// run in the same order, and the same result. pam_echo prints its
// arguments and succeeds; pam_debug auth=CODE prints "auth=CODE" and
// returns CODE.
func TestSimulateMatchesLibpam(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // the service is "t"
	}{
		{"required chain", map[string]string{"t": `
auth required pam_echo.so one
auth required pam_echo.so two
`}},
		{"requisite failure stops the stack", map[string]string{"t": `
auth optional pam_echo.so before
auth requisite pam_debug.so auth=auth_err
auth optional pam_echo.so never
`}},
		{"required failure runs the rest", map[string]string{"t": `
auth required pam_debug.so auth=authinfo_unavail
auth required pam_debug.so auth=auth_err
auth optional pam_echo.so still
`}},
		{"sufficient ends the stack", map[string]string{"t": `
auth sufficient pam_echo.so first
auth required pam_debug.so auth=auth_err
`}},
		{"sufficient after a failure does not rescue", map[string]string{"t": `
auth required pam_debug.so auth=auth_err
auth sufficient pam_echo.so ok
auth optional pam_echo.so after
`}},
		{"jump over two lines", map[string]string{"t": `
auth [success=2 default=ignore] pam_echo.so jump
auth requisite pam_deny.so
auth optional pam_echo.so skipped
auth required pam_echo.so landed
`}},
		{"bad jump fails", map[string]string{"t": `
auth [success=5 default=ignore] pam_echo.so jump
auth required pam_echo.so last
`}},
		{"debian common-auth, password wrong", map[string]string{
			"t": "@include common-auth\nauth requisite pam_echo.so after\n",
			"common-auth": `
auth	[success=1 default=ignore]	pam_debug.so auth=auth_err
auth	requisite			pam_deny.so
auth	required			pam_permit.so
`}},
		{"debian common-auth, password right", map[string]string{
			"t": "@include common-auth\nauth requisite pam_echo.so after\n",
			"common-auth": `
auth	[success=1 default=ignore]	pam_debug.so auth=success
auth	requisite			pam_deny.so
auth	required			pam_permit.so
`}},
		{"include takes only its type", map[string]string{
			"t": "auth include inc\naccount include inc\nauth optional pam_echo.so end\n",
			"inc": `
account required pam_echo.so account-line
auth optional pam_echo.so inc-auth
session required pam_echo.so session-line
`}},
		{"nested @include", map[string]string{
			"t":  "@include a\nauth optional pam_echo.so t\n",
			"a":  "auth optional pam_echo.so a1\n@include b\nauth optional pam_echo.so a2\n",
			"b":  "auth optional pam_echo.so b1\npassword required pam_echo.so pw\n",
			"cc": "auth required pam_deny.so\n",
		}},
		{"done inside a substack ends only the substack", map[string]string{
			"t":   "auth optional pam_echo.so before\nauth substack sub\nauth optional pam_echo.so after\n",
			"sub": "auth sufficient pam_echo.so s1\nauth optional pam_echo.so s2\n",
		}},
		{"die inside a substack fails the parent", map[string]string{
			"t":   "auth substack sub\nauth optional pam_echo.so after\nauth sufficient pam_echo.so suff\n",
			"sub": "auth requisite pam_debug.so auth=auth_err\nauth optional pam_echo.so s2\n",
		}},
		{"reset inside a substack", map[string]string{
			"t":   "auth required pam_echo.so first\nauth substack sub\n",
			"sub": "auth required pam_debug.so auth=auth_err\nauth [default=reset] pam_debug.so auth=system_err\nauth optional pam_echo.so s3\n",
		}},
		{"a jump counts a substack as one", map[string]string{
			"t":   "auth [success=1 default=ignore] pam_echo.so jump\nauth substack sub\nauth required pam_echo.so landed\n",
			"sub": "auth required pam_echo.so s1\nauth required pam_echo.so s2\n",
		}},
		{"default=ok does not let a later success override", map[string]string{"t": `
auth [default=ok] pam_debug.so auth=auth_err
auth required pam_echo.so later
`}},
		{"default=ok with success", map[string]string{"t": `
auth [default=ok] pam_debug.so auth=success
auth sufficient pam_echo.so later
`}},
		{"only ignores", map[string]string{"t": `
auth required pam_debug.so auth=ignore
auth optional pam_debug.so auth=ignore
`}},
		{"ignore taken as ok is returned", map[string]string{"t": `
auth [default=ok] pam_debug.so auth=ignore
`}},
		{"break-glass stack, Vault unavailable", map[string]string{"t": `
auth [success=done authinfo_unavail=ignore default=die] pam_debug.so auth=authinfo_unavail
auth requisite pam_echo.so breakglass-user
auth required  pam_debug.so auth=success
`}},
		{"break-glass stack, wrong code", map[string]string{"t": `
auth [success=done authinfo_unavail=ignore default=die] pam_debug.so auth=auth_err
auth requisite pam_echo.so breakglass-user
auth required  pam_debug.so auth=success
`}},
		{"not a module type", map[string]string{"t": `
auht required pam_echo.so typo
auth required pam_echo.so fine
`}},
		{"not a module type, optional", map[string]string{"t": `
auht optional pam_echo.so typo
auth required pam_echo.so fine
`}},
		{"control that does not parse", map[string]string{"t": `
auth [sucess=ok] pam_echo.so typo
auth required pam_echo.so fine
`}},
		{"include of a missing file", map[string]string{"t": `
auth required pam_echo.so one
auth include no-such-file
auth optional pam_echo.so two
`}},
		{"missing module", map[string]string{"t": `
auth optional pam_no_such_module.so
-auth optional pam_no_such_module_either.so
auth required pam_echo.so fine
`}},
		{"missing required module", map[string]string{"t": `
auth required pam_no_such_module.so
auth required pam_echo.so fine
`}},
		{"comments, continuations, brackets and case", map[string]string{"t": "# a comment\n" +
			"  AUTH   Optional pam_echo.so [two words]   # trailing comment\n" +
			"auth \\\n" +
			"   required \\\n" +
			"# a comment inside a continued line\n" +
			"   pam_echo.so continued [with \\] bracket]\n" +
			"auth [success=ok\n" +
			"auth [ success = ok default = bad ] pam_echo.so spaced\n"}},
	}
	for _, tool := range []string{"pamtester", "unshare", "mount"} {
		if err := pamtest.Tools(tool); err != nil {
			pamtest.Need(t, "%v", err)
		}
	}
	if os.Geteuid() != 0 {
		pamtest.Need(t, "running libpam on a private /etc/pam.d needs root (a mount namespace)")
	}
	moduleDir := DefaultModuleDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "other"), []byte("auth required pam_deny.so\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for name, text := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			printed, result := runLibpam(t, dir, "t")

			stack, err := ReadStack(dir, "t")
			if err != nil {
				t.Fatal(err)
			}
			rules := stack.Rules["auth"]
			out := Simulate(rules, func(r Rule) Code {
				if _, err := os.Stat(modulePath(moduleDir, r.Module)); err != nil {
					return ModuleUnknown
				}
				switch r.ModuleName() {
				case "pam_echo":
					return Success
				case "pam_deny":
					return AuthErr
				case "pam_debug":
					for _, a := range r.Args {
						if v, ok := strings.CutPrefix(a, "auth="); ok {
							return codeByName(t, v)
						}
					}
				}
				return Success
			})
			var want []string
			for _, i := range out.Ran {
				r := rules[i]
				switch r.ModuleName() {
				case "pam_echo":
					want = append(want, strings.Join(r.Args, " "))
				case "pam_debug":
					for _, a := range r.Args {
						if strings.HasPrefix(a, "auth=") {
							want = append(want, a)
							break
						}
					}
				}
			}
			if strings.Join(printed, "\n") != strings.Join(want, "\n") {
				t.Errorf("libpam ran (printed)\n  %q\nthe simulation predicts\n  %q", printed, want)
			}
			if pamStrerror[out.Code] != result {
				t.Errorf("libpam returned %q; the simulation predicts %s (%q)", result, out.Code, pamStrerror[out.Code])
			}
		})
	}
}

// runLibpam authenticates the user nobody through service with the real
// libpam, dir mounted over /etc/pam.d in a private mount namespace, and
// returns the messages modules printed and pamtester's verdict.
func runLibpam(t *testing.T, dir, service string) (printed []string, result string) {
	t.Helper()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
		`mount --bind "$0" /etc/pam.d && exec pamtester "$1" nobody authenticate`, dir, service)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	} else if err != nil {
		t.Fatalf("pamtester: %v", err)
	}
	// pamtester prints the modules' messages on stdout and its own lines
	// on stderr, except its verdict on success.
	for _, line := range strings.Split(strings.TrimRight(string(stdout), "\n"), "\n") {
		if line == "" {
			continue
		}
		if r, ok := strings.CutPrefix(line, "pamtester: "); ok {
			result = r
			continue
		}
		printed = append(printed, line)
	}
	if r := pamtest.Result(stderr); r != "" {
		result = r
	}
	return printed, result
}

func codeByName(t *testing.T, name string) Code {
	t.Helper()
	for i, n := range codeNames[:numCodes] {
		if n == name {
			return Code(i)
		}
	}
	t.Fatalf("no PAM code %q", name)
	return 0
}
