package doctor

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
)

// want is a finding a fixture must produce: its level, its check and a
// part of its message or fix.
type want struct {
	level Level
	check string
	part  string
}

func (w want) String() string { return fmt.Sprintf("%s %s %q", w.level, w.check, w.part) }

func (w want) matches(f Finding) bool {
	return f.Level == w.level && f.Check == w.check && strings.Contains(f.Message+" fix: "+f.Fix, w.part)
}

// fixture is one host set-up: an sshd_config parsed by the real sshd -T, a
// PAM directory, a config file and an installation of pam_vault.
type fixture struct {
	name    string
	service string // default sshd
	// sshd is the sshd_config after its HostKey line; {{dir}} is the
	// fixture's directory. Default: README's migration step 4.
	sshd string
	// sshdProg replaces /usr/sbin/sshd.
	sshdProg string
	// sshdToo gives -sshd-config for a service that is not sshd.
	sshdToo bool
	// files are more files, such as Include files, by path under {{dir}}.
	files map[string]string
	// pam are the PAM service files; {{module}} is the staged
	// pam_vault.so, {{config}} the config file, {{dir}} the directory.
	pam map[string]string
	// config is the config file's text; default validConfig.
	config string
	// install alters the staged installation in dir before the run.
	install func(t *testing.T, dir string)
	// noHelper stages an adapter whose compiled-in helper directory is
	// empty, so only a helper beside it counts.
	noHelper bool
	// want is every WARN and FAIL the fixture must produce, and the OK
	// findings it must show; no other WARN or FAIL may appear.
	want []want
}

const validConfig = `vault_addr = "https://vault.example.com:8200"
allowed_roles = "otp_key_role"
`

// readmeSSHD is README's migration step 4.
const readmeSSHD = `UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
`

// The Debian-style files the services below include, shortened.
const (
	commonAuth = `auth	[success=1 default=ignore]	pam_unix.so nullok
auth	requisite			pam_deny.so
auth	required			pam_permit.so
`
	commonAccount = `account	[success=1 new_authtok_reqd=done default=ignore]	pam_unix.so
account	requisite			pam_deny.so
account	required			pam_permit.so
`
	commonSession  = "session	required	pam_unix.so\n"
	commonPassword = `password	[success=1 default=ignore]	pam_unix.so obscure yescrypt
password	requisite			pam_deny.so
password	required			pam_permit.so
`
)

// debianService is Debian's /etc/pam.d/sshd, shortened, with auth in
// place of its "@include common-auth".
func debianService(auth string) string {
	return auth + `
account    required     pam_nologin.so
@include common-account
session    required     pam_loginuid.so
@include common-session
@include common-password
`
}

// commons are the common-* files.
var commons = map[string]string{
	"common-auth": commonAuth, "common-account": commonAccount,
	"common-session": commonSession, "common-password": commonPassword,
}

func withCommons(files map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range commons {
		out[k] = v
	}
	for k, v := range files {
		out[k] = v
	}
	return out
}

func TestDoctorFixtures(t *testing.T) {
	vaultLine := "auth requisite {{module}} config={{config}}"
	fixtures := []fixture{
		{name: "README's migration stack", pam: withCommons(map[string]string{
			"sshd": debianService("#@include common-auth\n" + vaultLine)}),
			want: []want{{OK, "usepam", "UsePAM yes"}, {OK, "methods", "keyboard-interactive"},
				{OK, "install", "helper"}, {OK, "config", "OTP mode"}, {OK, "stack", "succeeds with a valid code"}}},
		{name: "README's [default=ok] line with PasswordAuthentication yes",
			sshd: "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n",
			pam:  withCommons(map[string]string{"sshd": debianService("auth [default=ok] {{module}} config={{config}}")}),
			want: []want{{OK, "methods", "password"}}},
		{name: "README's break-glass stack",
			pam: withCommons(map[string]string{"sshd": debianService(`auth [success=1 default=ignore] pam_succeed_if.so quiet user = breakglass
auth [success=done default=die] {{module}} config={{config}}
auth required pam_unix.so`)}),
			want: []want{{OK, "stack", "succeeds with a valid code"},
				{OK, "exempt", "user breakglass logs in with pam_unix.so alone: pam_vault does not run"}}},
		{name: "the former break-glass stack: a fall-back on PAM_AUTHINFO_UNAVAIL",
			pam: withCommons(map[string]string{"sshd": debianService(`auth [success=done authinfo_unavail=ignore default=die] {{module}} config={{config}}
auth requisite pam_succeed_if.so user = breakglass
auth required  pam_unix.so`)}),
			want: []want{{Warn, "fallback", "sshd:3: when Vault cannot answer, pam_unix.so runs after pam_vault"}}},
		{name: "break-glass users with nothing to check",
			pam: withCommons(map[string]string{"sshd": debianService(`auth [success=1 default=ignore] pam_succeed_if.so user in breakglass:ops
auth [success=done default=die] {{module}} config={{config}}
auth required pam_permit.so`)}),
			want: []want{{Fail, "bypass", "anyone logs in as breakglass"}, {Fail, "bypass", "anyone logs in as ops"}}},
		{name: "everyone but one user skips pam_vault",
			pam: withCommons(map[string]string{"sshd": debianService(`auth [success=1 default=ignore] pam_succeed_if.so quiet user != alice
auth [success=done default=die] {{module}} config={{config}}
auth required pam_unix.so`)}),
			want: []want{{Warn, "bypass", "pam_unix.so alone"}}},
		{name: "requisite with PasswordAuthentication yes",
			sshd: "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{Warn, "control", "[default=ok]"}}},
		{name: "password and keyboard-interactive as alternatives after a key",
			sshd: "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\nAuthenticationMethods publickey,password publickey,keyboard-interactive\n",
			pam:  withCommons(map[string]string{"sshd": debianService("auth required {{module}} config={{config}}")}),
			want: []want{{Warn, "control", "accepted and then dropped"}}},
		{name: "password then keyboard-interactive in sequence",
			sshd: "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\nAuthenticationMethods password,keyboard-interactive\n",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine)})},
		{name: "UsePAM no",
			sshd: "UsePAM no\nKbdInteractiveAuthentication yes\nPasswordAuthentication no\n",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{Fail, "usepam", "UsePAM yes"}}},
		{name: "nothing reaches PAM",
			sshd: "UsePAM yes\nKbdInteractiveAuthentication no\nPasswordAuthentication no\n",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{Fail, "methods", "KbdInteractiveAuthentication yes"}}},
		{name: "keys only",
			sshd: readmeSSHD + "AuthenticationMethods publickey\n",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{Fail, "methods", "AuthenticationMethods publickey"}}},
		{name: "password only reaches PAM",
			sshd: "UsePAM yes\nKbdInteractiveAuthentication no\nPasswordAuthentication yes\n",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{OK, "methods", "password reaches PAM"}}},
		{name: "the name before OpenSSH 8.7",
			sshd: "UsePAM yes\nChallengeResponseAuthentication yes\nPasswordAuthentication no\n",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{Warn, "spelling", "KbdInteractiveAuthentication"}}},
		{name: "a drop-in wins over the main file",
			sshd:  "Include {{dir}}/sshd_config.d/*.conf\nUsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication no\n",
			files: map[string]string{"sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n"},
			pam:   withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{Warn, "shadowed", "50-cloud-init.conf:1"},
				{Warn, "control", "[default=ok]"}}},
		{name: "TOTP with AuthenticationMethods any",
			pam: withCommons(map[string]string{"sshd": debianService("auth requisite {{module}} totp config={{config}}")}),
			want: []want{{Fail, "totp-alone", "a TOTP code alone logs in"},
				{OK, "config", "TOTP mode"}}},
		{name: "TOTP after a key",
			sshd: readmeSSHD + "AuthenticationMethods publickey,keyboard-interactive:pam\n",
			pam:  withCommons(map[string]string{"sshd": debianService("auth requisite {{module}} totp config={{config}}")}),
			want: []want{{OK, "totp-alone", "asks for another method"}}},
		{name: "TOTP alone in a Match block",
			sshd: readmeSSHD + "AuthenticationMethods publickey,keyboard-interactive:pam\nMatch User alice\n\tAuthenticationMethods keyboard-interactive\n",
			pam:  withCommons(map[string]string{"sshd": debianService("auth requisite {{module}} totp config={{config}}")}),
			want: []want{{Fail, "totp-alone", "Match User alice"},
				{OK, "totp-alone", "the global configuration"}}},
		{name: "TOTP after the password",
			pam:  withCommons(map[string]string{"sshd": debianService("@include common-auth\nauth requisite {{module}} totp config={{config}}")}),
			want: []want{{OK, "totp-alone", "asks for another factor"}}},
		{name: "TOTP taking the password as the code",
			pam:  withCommons(map[string]string{"sshd": debianService("@include common-auth\nauth requisite {{module}} totp use_first_pass config={{config}}")}),
			want: []want{{Fail, "order", "use_first_pass"}}},
		{name: "TOTP with nullok",
			sshd: readmeSSHD + "AuthenticationMethods publickey,keyboard-interactive\n",
			pam:  withCommons(map[string]string{"sshd": debianService("auth requisite {{module}} totp nullok config={{config}}")}),
			want: []want{{Warn, "nullok", "skips the code"}}},
		{name: "TOTP with nullok and nothing else",
			sshd: readmeSSHD + "AuthenticationMethods publickey,keyboard-interactive\n",
			pam: withCommons(map[string]string{"sshd": debianService("auth [success=done ignore=ignore default=die] {{module}} totp nullok config={{config}}\n" +
				"auth required pam_permit.so")}),
			want: []want{{Fail, "nullok", "no code at all"}}},
		{name: "common-auth after pam_vault",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine + "\n@include common-auth")}),
			want: []want{{Fail, "order", "is handed the OTP as the password"}}},
		{name: "common-auth after pam_vault, skipped on success",
			pam: withCommons(map[string]string{"sshd": debianService("auth [success=done default=die] {{module}} config={{config}}\n@include common-auth")})},
		{name: "common-auth still before pam_vault",
			pam:  withCommons(map[string]string{"sshd": debianService("@include common-auth\n" + vaultLine)}),
			want: []want{{Fail, "order", "comment out the include at {{dir}}/pam.d/sshd:1"}}},
		{name: "vault-ssh-helper beside pam_vault",
			pam: withCommons(map[string]string{"sshd": debianService(vaultLine + `
auth requisite pam_exec.so quiet expose_authtok /usr/local/bin/vault-ssh-helper -config=/etc/vault-ssh-helper.d/config.hcl
auth optional  pam_unix.so not_set_pass use_first_pass nodelay`)}),
			want: []want{{Fail, "leftover", "vault-ssh-helper still runs"},
				{Warn, "leftover", "not_set_pass"}}},
		{name: "vault-ssh-helper before the migration",
			pam: withCommons(map[string]string{"sshd": debianService(`#@include common-auth
auth requisite pam_exec.so quiet expose_authtok /usr/local/bin/vault-ssh-helper -dev -config=/etc/vault-ssh-helper.d/helper.hcl
auth optional  pam_unix.so not_set_pass use_first_pass nodelay`)}),
			want: []want{{Fail, "module", "`auth requisite pam_vault.so config=/etc/vault-ssh-helper.d/helper.hcl dev`"},
				{Warn, "leftover", "not_set_pass"}}},
		{name: "relative config=",
			pam:  withCommons(map[string]string{"sshd": debianService("auth requisite {{module}} config=config.hcl")}),
			want: []want{{Fail, "arguments", "not an absolute path"}}},
		{name: "missing config file",
			pam:  withCommons(map[string]string{"sshd": debianService("auth requisite {{module}} config={{dir}}/nothing.hcl")}),
			want: []want{{Fail, "config", "no such file"}}},
		{name: "config file writable by others",
			pam: withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			install: func(t *testing.T, dir string) {
				chmod(t, filepath.Join(dir, "config.hcl"), 0o666)
			},
			want: []want{{Fail, "config", "chmod go-w"}}},
		{name: "config with an unknown key",
			pam:    withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			config: validConfig + "vault_adress = \"x\"\n",
			want:   []want{{Fail, "config", `unknown key "vault_adress"`}}},
		{name: "http without dev",
			pam:    withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			config: "vault_addr = \"http://127.0.0.1:8200\"\nallowed_roles = \"*\"\n",
			want:   []want{{Fail, "config", "plain http"}}},
		{name: "http with dev",
			pam:    withCommons(map[string]string{"sshd": debianService(vaultLine + " dev")}),
			config: "vault_addr = \"http://127.0.0.1:8200\"\nallowed_roles = \"*\"\n",
			want:   []want{{Warn, "config", "in clear"}}},
		{name: "no allowed_roles",
			pam:    withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			config: "vault_addr = \"https://vault.example.com\"\n",
			want:   []want{{Warn, "config", "allowed_roles"}}},
		{name: "an argument the module ignores",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine + " verbose")}),
			want: []want{{Warn, "arguments", `"verbose"`}}},
		{name: "engine missing",
			pam: withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			install: func(t *testing.T, dir string) {
				remove(t, filepath.Join(dir, "lib", EngineFile))
			},
			want: []want{{Fail, "install", "cannot load the engine"}}},
		{name: "adapter writable by group",
			pam: withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			install: func(t *testing.T, dir string) {
				chmod(t, filepath.Join(dir, "lib", "pam_vault.so"), 0o775)
			},
			want: []want{{Fail, "install", "writable by group or others"}}},
		{name: "helper nowhere",
			pam:      withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			noHelper: true,
			want:     []want{{Fail, "install", "neither beside"}}},
		{name: "helper beside the module",
			pam:      withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			noHelper: true,
			install: func(t *testing.T, dir string) {
				build, err := pamtest.Built(HelperFile)
				if err != nil {
					t.Fatal(err)
				}
				copyFile(t, filepath.Join(build, HelperFile), filepath.Join(dir, "lib", HelperFile))
			},
			want: []want{{OK, "install", "beside the module"}}},
		{name: "module not installed",
			pam: withCommons(map[string]string{"sshd": debianService("auth requisite {{dir}}/nowhere/pam_vault.so config={{config}}")}),
			want: []want{{Fail, "install", "is not installed"},
				{Fail, "stack", "nobody can log in"}}},
		{name: "pam_vault sufficient before the password",
			pam:  withCommons(map[string]string{"sshd": debianService("auth sufficient {{module}} config={{config}}\n@include common-auth")}),
			want: []want{{Warn, "bypass", "pam_unix.so alone"}}},
		{name: "pam_vault optional before pam_permit",
			pam:  withCommons(map[string]string{"sshd": debianService("auth optional {{module}} config={{config}}\nauth required pam_permit.so")}),
			want: []want{{Fail, "bypass", "anyone logs in"}}},
		{name: "pam_deny after pam_vault",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine + "\nauth required pam_deny.so")}),
			want: []want{{Fail, "stack", "nobody can log in"}}},
		{name: "pam_vault as an account module",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine + "\naccount required {{module}}")}),
			want: []want{{Warn, "module", "as a account module"}}},
		{name: "include of a missing file",
			pam: withCommons(map[string]string{"sshd": debianService(vaultLine + "\nauth include common-auth-local")}),
			want: []want{{Fail, "service", "cannot read included file"},
				{Fail, "stack", "nobody can log in"}}},
		{name: "@include of a missing file",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine + "\n@include common-missing")}),
			want: []want{{Fail, "service", "libpam cannot load the service"}}},
		{name: "sshd rejects its configuration",
			sshd: readmeSSHD + "KbdInteractiveAuthenticaton yes\n",
			pam:  withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{Fail, "sshd", "Bad configuration option"},
				{OK, "config", "OTP mode"}}},
		{name: "no sshd",
			sshdProg: "/nonexistent/sshd",
			pam:      withCommons(map[string]string{"sshd": debianService(vaultLine)}),
			want: []want{{Warn, "sshd", "sshd not checked"},
				{OK, "config", "OTP mode"}}},
		{name: "sudo", service: "sudo",
			pam:  withCommons(map[string]string{"sudo": vaultLine + "\n@include common-account\n@include common-session"}),
			want: []want{{OK, "host-address", "an address this host holds"}, {OK, "path", "verifies in a helper process, as it does outside sshd"}}},
		{name: "sudo beside an sshd with passwords", service: "sudo", sshdToo: true,
			sshd: "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n",
			pam:  withCommons(map[string]string{"sudo": vaultLine + "\n@include common-account"}),
			want: []want{{OK, "sshd", "read the effective configuration"}, {OK, "host-address", "for sudo"}}},
		{name: "su with common-auth first", service: "su",
			pam:  withCommons(map[string]string{"su": "auth sufficient pam_rootok.so\n@include common-auth\n" + vaultLine + "\n@include common-account"}),
			want: []want{{Fail, "order", "pam_unix.so asks for a password"}}},
		{name: "sudo with helper, the default now", service: "sudo",
			pam:  withCommons(map[string]string{"sudo": vaultLine + " helper\n@include common-account"}),
			want: []want{{OK, "path", "helper: the module verifies in a helper process outside sshd without it too"}}},
		{name: "sudo with in_process", service: "sudo",
			pam:  withCommons(map[string]string{"sudo": vaultLine + " in_process\n@include common-account"}),
			want: []want{{Warn, "path", "sudo then hangs now and then after its command (README: Local services) fix: remove in_process from the line at"}}},
		{name: "sudo-i with in_process and helper", service: "sudo-i",
			pam:  withCommons(map[string]string{"sudo-i": vaultLine + " in_process helper\n@include common-account"}),
			want: []want{{OK, "path", "helper: the module verifies in a helper process"}}},
		{name: "su with in_process", service: "su",
			pam:  withCommons(map[string]string{"su": "auth sufficient pam_rootok.so\n" + vaultLine + " in_process\n@include common-account"}),
			want: []want{{Warn, "path", "runs su, which is not sshd"}}},
		{name: "sshd with in_process", pam: withCommons(map[string]string{"sshd": debianService(vaultLine + " in_process")}),
			want: []want{{OK, "path", "sshd loads the engine in process"}}},
		{name: "sshd with helper", pam: withCommons(map[string]string{"sshd": debianService(vaultLine + " helper")}),
			want: []want{{OK, "path", "every login starts a pam-vault-check helper process"}}},
		{name: "su with the README line", service: "su",
			pam: withCommons(map[string]string{"su": "auth sufficient pam_rootok.so\n" + vaultLine + "\n@include common-account\n@include common-session"})},
	}
	env := newFixtureEnv(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			dir, facts := env.run(t, fx)
			findings := Check(facts)
			var wants []want
			for _, w := range fx.want {
				w.part = strings.ReplaceAll(w.part, "{{dir}}", dir)
				wants = append(wants, w)
			}
			assertFindings(t, findings, wants)
		})
	}
}

// assertFindings fails t unless every want matches a finding and every
// WARN or FAIL is wanted.
func assertFindings(t *testing.T, findings []Finding, wants []want) {
	t.Helper()
	used := make([]bool, len(findings))
	for _, w := range wants {
		found := false
		for i, f := range findings {
			if !used[i] && w.matches(f) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no finding %s", w)
		}
	}
	for i, f := range findings {
		if !used[i] && f.Level != OK {
			t.Errorf("unexpected finding: %s", f)
		}
	}
	if t.Failed() || os.Getenv("DOCTOR_SHOW") != "" {
		var all []string
		for _, f := range findings {
			all = append(all, f.String())
		}
		t.Logf("findings:\n%s", strings.Join(all, "\n"))
	}
}

// fixtureEnv is what every fixture shares: a host key and two builds of
// the adapter, one whose compiled-in helper directory holds the helper and
// one whose does not.
type fixtureEnv struct {
	hostKey                   []byte
	withHelper, withoutHelper string // directories holding pam_vault.so and sbin/
	engine, helper            string // the built pam_vault_go.so and pam-vault-check
}

var (
	sharedEnv     *fixtureEnv
	sharedEnvErr  error
	sharedEnvOnce sync.Once
	sharedEnvDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedEnvDir != "" {
		os.RemoveAll(sharedEnvDir)
	}
	os.Exit(code)
}

// newFixtureEnv builds the adapters with the repository's Makefile (only
// SBINDIR and the build directory differ from `make`) and checks for root
// and sshd, which sshd -T needs.
func newFixtureEnv(t *testing.T) *fixtureEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		pamtest.Need(t, "sshd -T needs root: it reads the host key")
	}
	if err := pamtest.Tools("/usr/sbin/sshd", "make", "cc"); err != nil {
		pamtest.Need(t, "%v", err)
	}
	build, err := pamtest.Built("pam_vault_go.so", "pam-vault-check")
	if err != nil {
		pamtest.Need(t, "%v", err)
	}
	sharedEnvOnce.Do(func() { sharedEnv, sharedEnvErr = buildFixtureEnv(build) })
	if sharedEnvErr != nil {
		t.Fatal(sharedEnvErr)
	}
	return sharedEnv
}

func buildFixtureEnv(build string) (*fixtureEnv, error) {
	dir, err := os.MkdirTemp("", "pv-doctor-")
	if err != nil {
		return nil, err
	}
	sharedEnvDir = dir
	e := &fixtureEnv{
		withHelper:    filepath.Join(dir, "with-helper"),
		withoutHelper: filepath.Join(dir, "without-helper"),
		engine:        filepath.Join(build, "pam_vault_go.so"),
		helper:        filepath.Join(build, "pam-vault-check"),
	}
	root := filepath.Dir(build)
	for _, d := range []string{e.withHelper, e.withoutHelper} {
		// SBINDIR is where the adapter looks for the helper; only the
		// first gets one there.
		cmd := exec.Command("make", "-s", "-C", root, "BUILD="+d, "SBINDIR="+filepath.Join(d, "sbin"), filepath.Join(d, "pam_vault.so"))
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the adapter: %v\n%s", err, out)
		}
	}
	if err := os.MkdirAll(filepath.Join(e.withHelper, "sbin"), 0o755); err != nil {
		return nil, err
	}
	if err := copyFileErr(e.helper, filepath.Join(e.withHelper, "sbin", HelperFile)); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	e.hostKey = pem.EncodeToMemory(block)
	// Debian's sshd refuses to start, -T included, without it.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	return e, nil
}

// run writes the fixture's files and gathers the facts. The staged
// installation is dir/lib/{pam_vault.so,pam_vault_go.so}, with the helper
// in the adapter's compiled-in directory unless fx.noHelper.
func (e *fixtureEnv) run(t *testing.T, fx fixture) (string, *Facts) {
	t.Helper()
	dir := t.TempDir()
	adapterBuild := e.withHelper
	if fx.noHelper {
		adapterBuild = e.withoutHelper
	}
	lib := filepath.Join(dir, "lib")
	if err := os.Mkdir(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(adapterBuild, "pam_vault.so"), filepath.Join(lib, "pam_vault.so"))
	copyFile(t, e.engine, filepath.Join(lib, EngineFile))
	expand := func(s string) string {
		return strings.NewReplacer("{{dir}}", dir, "{{module}}", filepath.Join(lib, "pam_vault.so"),
			"{{config}}", filepath.Join(dir, "config.hcl")).Replace(s)
	}
	cfg := fx.config
	if cfg == "" {
		cfg = validConfig
	}
	write(t, filepath.Join(dir, "config.hcl"), cfg, 0o600)
	write(t, filepath.Join(dir, "hostkey"), string(e.hostKey), 0o600)
	sshd := fx.sshd
	if sshd == "" {
		sshd = readmeSSHD
	}
	write(t, filepath.Join(dir, "sshd_config"), expand("HostKey {{dir}}/hostkey\n"+sshd), 0o644)
	for name, text := range fx.files {
		write(t, filepath.Join(dir, name), expand(text), 0o644)
	}
	write(t, filepath.Join(dir, "pam.d", "other"), "auth required pam_deny.so\n", 0o644)
	for name, text := range fx.pam {
		write(t, filepath.Join(dir, "pam.d", name), expand(text)+"\n", 0o644)
	}
	if fx.install != nil {
		fx.install(t, dir)
	}
	opts := Options{Service: fx.service, PAMDir: filepath.Join(dir, "pam.d"), SSHD: fx.sshdProg}
	if fx.service == "" || fx.service == "sshd" || fx.sshdToo {
		opts.SSHDConfig = filepath.Join(dir, "sshd_config")
	}
	facts, err := Gather(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return dir, facts
}

func write(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := copyFileErr(from, to); err != nil {
		t.Fatal(err)
	}
}

func copyFileErr(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// TestREADMEStacksOnDebianFiles edits this machine's own Debian PAM files
// (/etc/pam.d/sshd and the common-* files it includes, copied) the way
// README's migration says, and expects no WARN and no FAIL from any of
// README's stacks.
func TestREADMEStacksOnDebianFiles(t *testing.T) {
	host := map[string]string{}
	for _, name := range []string{"sshd", "common-auth", "common-account", "common-session", "common-password"} {
		b, err := os.ReadFile(filepath.Join("/etc/pam.d", name))
		if err != nil {
			pamtest.Need(t, "Debian's PAM files (openssh-server, libpam-runtime): %v", err)
		}
		host[name] = string(b)
	}
	if !strings.Contains(host["sshd"], "\n@include common-auth\n") && !strings.HasPrefix(host["sshd"], "@include common-auth\n") {
		t.Fatalf("/etc/pam.d/sshd does not include common-auth on a line of its own:\n%s", host["sshd"])
	}
	// README, migration step 3: common-auth commented out, pam_vault in its
	// place.
	stack := func(lines string) map[string]string {
		out := map[string]string{}
		for k, v := range host {
			out[k] = v
		}
		out["sshd"] = strings.Replace("\n"+host["sshd"], "\n@include common-auth\n", "\n#@include common-auth\n"+lines+"\n", 1)[1:]
		return out
	}
	fixtures := []fixture{
		{name: "requisite", pam: stack("auth requisite {{module}} config={{config}}")},
		{name: "[default=ok] with PasswordAuthentication yes",
			sshd: "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n",
			pam:  stack("auth [default=ok] {{module}} config={{config}}")},
		{name: "break-glass", pam: stack(`auth [success=1 default=ignore] pam_succeed_if.so quiet user = breakglass
auth [success=done default=die] {{module}} config={{config}}
auth required pam_unix.so`)},
	}
	env := newFixtureEnv(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			_, facts := env.run(t, fx)
			assertFindings(t, Check(facts), []want{{OK, "stack", "succeeds with a valid code"}})
		})
	}
}

// TestAdapterRecordsSBINDIR reads the helper directory out of adapters the
// Makefile built with a chosen SBINDIR: the marker in cgo/pam_vault.c and
// SBINDIRMarker must agree.
func TestAdapterRecordsSBINDIR(t *testing.T) {
	env := newFixtureEnv(t)
	for _, d := range []string{env.withHelper, env.withoutHelper} {
		b, err := os.ReadFile(filepath.Join(d, "pam_vault.so"))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := AdapterSBINDIR(b)
		if want := filepath.Join(d, "sbin"); !ok || got != want {
			t.Errorf("AdapterSBINDIR(%s/pam_vault.so) = %q, %v; want %q", d, got, ok, want)
		}
	}
}
