package packages

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

const (
	mount      = "ssh"
	role       = "otp_key_role"
	user       = "alice"
	configDir  = "/etc/vault-ssh-helper.d"
	configPath = configDir + "/config.hcl"
	// rootPassword is the container's root password, set so that the
	// test can tell whether pam_unix still has a say in common-auth.
	rootPassword = "pv-Unix-passw0rd"
	// service is a PAM service with no file of its own: libpam falls back
	// to /etc/pam.d/other, which includes common-auth.
	service = "pam-vault-pkgtest"
)

// TestDebianInstall installs the .deb with dpkg into fresh Debian 12 and 13
// containers and walks through an administrator's life with it: install
// (no PAM file changes), files and modes, the profile enabled (common-auth
// gains the line, an OTP from a real Vault logs in, the Unix password no
// longer does; outside sshd the module verifies through the helper in
// /usr/sbin), a per-service line that loads the engine in process,
// disabled (common-auth as it was, the password works again), enabled once
// more and the package purged (nothing of it left, /etc/pam.d byte for
// byte as before the install).
func TestDebianInstall(t *testing.T) {
	b := packages(t)
	needTools(t, "docker")
	vault := testvault.StartT(t, testvault.Options{TLS: true})
	if err := vault.EnableSSH(mount); err != nil {
		t.Fatal(err)
	}
	if err := vault.WriteOTPRole(mount, role, user, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	for _, suite := range []string{"bookworm", "trixie"} {
		t.Run(suite, func(t *testing.T) {
			c := startContainer(t, debianImage(t, suite), b, vault.CACert)
			installAndPurge(t, c, b, vault)
		})
	}
}

func installAndPurge(t *testing.T, c *container, b built, vault *testvault.Server) {
	pristine := c.pamState(t)
	c.sh(t, "", "echo root:"+rootPassword+" | chpasswd")

	c.sh(t, "", "dpkg -i /pkg/"+filepath.Base(b.deb))
	if got := c.sh(t, "", "dpkg-query -W -f '${Status} ${Version}' pam-vault"); got != "install ok installed "+b.version {
		t.Fatalf("dpkg-query after install: %q", got)
	}
	if got := c.pamState(t); got != pristine {
		t.Errorf("installing changed /etc/pam.d:\nbefore:\n%s\nafter:\n%s", pristine, got)
	}
	// The postinst registered the profile without enabling it.
	if !c.seen(t) {
		t.Errorf("pam-auth-update has not seen the profile after install")
	}
	for _, e := range debFiles {
		want := permString(e.mode) + " root root"
		if got := c.sh(t, "", "stat -c '%A %U %G' "+e.path); got != "-"+want {
			t.Errorf("%s: %q, want %q", e.path, got, "-"+want)
		}
	}
	if got := c.sh(t, "", "pam-vault-check -version"); got != "pam-vault-check "+b.version {
		t.Errorf("pam-vault-check -version: %q, want %q", got, "pam-vault-check "+b.version)
	}

	c.configure(t, vault)

	// The Unix password works before pam_vault is enabled: what the
	// refusal below means.
	c.login(t, "root", rootPassword, pamtest.Success)

	c.sh(t, "", "pam-auth-update --enable pam-vault")
	commonAuth := c.sh(t, "", "cat /etc/pam.d/common-auth")
	// Ahead of pam_unix, with pam-auth-update's jump past the block to
	// its pam_permit.
	first := regexp.MustCompile(`(?m)^auth\s+(\S.*\S)\s*$`).FindStringSubmatch(commonAuth)
	if first == nil || !regexp.MustCompile(`^\[success=\d+ default=die\]\s+pam_vault\.so config=`+regexp.QuoteMeta(configPath)+`$`).MatchString(first[1]) {
		t.Fatalf("the first auth line of common-auth is not pam_vault's:\n%s", commonAuth)
	}
	if out, err := c.try("", "pam-vault-check", "doctor", "-service", "other"); err != nil ||
		!strings.Contains(out, "OK    stack") || !strings.Contains(out, "OK    install") {
		t.Errorf("pam-vault-check doctor on the generated stack: %v\n%s", err, out)
	}
	otp := c.otp(t, vault)
	c.login(t, user, otp, pamtest.Success)
	c.login(t, user, otp, pamtest.AuthErr) // used up
	// pam_vault decides alone: a Unix password is no OTP, and pam_unix
	// below it is never asked.
	c.login(t, "root", rootPassword, pamtest.AuthErr)

	// The logins above went through the helper, which the adapter finds
	// in /usr/sbin, where the package put it: pamtester is not sshd. A
	// per-service line with in_process loads the engine the package put
	// beside the module instead, as sshd does.
	c.sh(t, "auth requisite pam_vault.so config="+configPath+" in_process\n", "cat > /etc/pam.d/pam-vault-engine")
	if out, err := c.try(c.otp(t, vault)+"\n", "pamtester", "pam-vault-engine", user, "authenticate"); err != nil ||
		verdict(out) != pamtest.Success {
		t.Errorf("login with the engine in process: %v\n%s", err, out)
	}
	c.sh(t, "", "rm /etc/pam.d/pam-vault-engine")

	c.sh(t, "", "pam-auth-update --disable pam-vault")
	if got := c.pamState(t); got != pristine {
		t.Errorf("after --disable, /etc/pam.d differs from before the install:\nbefore:\n%s\nafter:\n%s", pristine, got)
	}
	c.login(t, "root", rootPassword, pamtest.Success)

	// Purged while enabled: the prerm takes the line out first.
	c.sh(t, "", "pam-auth-update --enable pam-vault")
	c.sh(t, "", "dpkg --purge pam-vault")
	if got := c.pamState(t); got != pristine {
		t.Errorf("after purge, /etc/pam.d differs from before the install:\nbefore:\n%s\nafter:\n%s", pristine, got)
	}
	if c.seen(t) {
		t.Errorf("pam-auth-update still lists the profile after purge")
	}
	if out, err := c.try("", "dpkg-query", "-W", "-f", "${Status}", "pam-vault"); err == nil && !strings.Contains(out, "not-installed") {
		t.Errorf("dpkg still knows the package after purge: %q", out)
	}
	left := c.sh(t, "", `find / -xdev \( -name '*pam_vault*' -o -name '*pam-vault*' \) -print; `+
		`grep -rls -e pam_vault -e pam-vault /etc /var/lib/pam /var/lib/dpkg/info /var/cache/debconf /usr/share/pam-configs || true`)
	if left != "" {
		t.Errorf("left after purge:\n%s", left)
	}
	c.login(t, "root", rootPassword, pamtest.Success)
}

// TestProfileControls tries the profile's line with other types and
// controls pam-auth-update offers, in Debian 12, and shows why the package
// ships Primary with [success=end default=die]: it is the one that lets an
// OTP in and keeps the Unix password out, which is what README's
// `auth requisite pam_vault.so` line does in a service's own file. The
// installed `pam-vault-check doctor` must foresee each outcome.
func TestProfileControls(t *testing.T) {
	b := packages(t)
	needTools(t, "docker")
	vault := testvault.StartT(t, testvault.Options{TLS: true})
	if err := vault.EnableSSH(mount); err != nil {
		t.Fatal(err)
	}
	if err := vault.WriteOTPRole(mount, role, user, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	c := startContainer(t, debianImage(t, "bookworm"), b, vault.CACert)
	c.sh(t, "", "echo root:"+rootPassword+" | chpasswd")
	c.sh(t, "", "dpkg -i /pkg/"+filepath.Base(b.deb))
	c.configure(t, vault)
	for _, tc := range []struct {
		name, authType, control string
		otp, password           string // pamtester's verdicts
		doctor                  string // the finding pam-vault-check doctor must report; "" for none but OK
	}{
		// The package's profile: only an OTP gets in.
		{"Primary, success=end default=die", "Primary", "[success=end default=die]", pamtest.Success, pamtest.AuthErr, ""},
		// requisite lets a valid OTP go on to pam_unix, which checks it
		// as a password (try_first_pass), fails, and falls to pam_deny.
		{"Primary, requisite", "Primary", "requisite", pamtest.AuthErr, pamtest.AuthErr, "FAIL  order"},
		// An alternative to the password, as fprintd's profile is: the
		// password still works.
		{"Primary, success=end default=ignore", "Primary", "[success=end default=ignore]", pamtest.Success, pamtest.Success, "WARN  bypass"},
		// After pam_unix: the OTP typed at its prompt fails there, and a
		// password that passes reaches pam_vault as the token.
		{"Additional, requisite", "Additional", "requisite", pamtest.AuthErr, pamtest.AuthErr, "FAIL  order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			profile := "Name: candidate\nDefault: no\nPriority: 900\nAuth-Type: " + tc.authType + "\nAuth:\n\t" +
				tc.control + "\tpam_vault.so config=" + configPath + "\n"
			c.sh(t, profile, "cat > /usr/share/pam-configs/candidate && pam-auth-update --enable candidate")
			defer c.sh(t, "", "pam-auth-update --remove candidate && rm /usr/share/pam-configs/candidate")
			c.login(t, user, c.otp(t, vault), tc.otp)
			c.login(t, "root", rootPassword, tc.password)
			// The installed doctor reads the generated stack and must
			// foresee what the logins showed.
			out, err := c.try("", "pam-vault-check", "doctor", "-service", "other")
			var findings []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(line, "OK ") {
					findings = append(findings, line)
				}
			}
			switch {
			case tc.doctor == "" && (err != nil || len(findings) > 0):
				t.Errorf("doctor: %v, want only OK findings:\n%s", err, out)
			case tc.doctor != "" && !slices.ContainsFunc(findings, func(f string) bool { return strings.HasPrefix(f, tc.doctor) }):
				t.Errorf("doctor reported no %q:\n%s", tc.doctor, out)
			}
		})
	}
}

// debianImage returns the local Docker image of suite, building it with
// scripts/debian-image.sh when missing (minutes, the first time).
func debianImage(t *testing.T, suite string) string {
	t.Helper()
	root, err := pamtest.Root()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "debian-image.sh"), suite)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		pamtest.Need(t, "no Debian %s image: %v\n%s", suite, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// container is a running Debian container sharing this machine's network
// (the Vault under test listens on loopback), with build/ at /pkg and
// Vault's CA at /vault-ca.pem, both read-only.
type container struct{ id string }

func startContainer(t *testing.T, image string, b built, caCert string) *container {
	t.Helper()
	out, err := exec.Command("docker", "run", "--detach", "--rm", "--network", "host",
		"--volume", filepath.Dir(b.deb)+":/pkg:ro",
		"--volume", caCert+":/vault-ca.pem:ro",
		image, "sleep", "infinity").CombinedOutput()
	if err != nil {
		pamtest.Need(t, "docker run %s: %v\n%s", image, err, out)
	}
	c := &container{id: strings.TrimSpace(string(out))}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "rm", "--force", c.id).CombinedOutput(); err != nil {
			t.Errorf("docker rm: %v\n%s", err, out)
		}
	})
	return c
}

// configure writes the administrator's config, pointing at vault with its
// CA, and checks with pam-vault-check that Vault answers from the
// container.
func (c *container) configure(t *testing.T, vault *testvault.Server) {
	t.Helper()
	c.sh(t, "", "install -d -m 0755 "+configDir+" && install -m 0644 /vault-ca.pem "+configDir+"/vault-ca.pem")
	config := pamtest.ConfigText(vault.Addr, mount, role, "5s", `ca_cert = "`+configDir+`/vault-ca.pem"`)
	c.sh(t, config, "umask 077 && cat > "+configPath)
	if out, err := c.try("", "pam-vault-check", "-config="+configPath); err != nil {
		t.Fatalf("pam-vault-check in the container: %v\n%s", err, out)
	}
}

// try runs args in the container as root, with stdin, and returns its
// standard output and error output together.
func (c *container) try(stdin string, args ...string) (string, error) {
	cmd := exec.Command("docker", append([]string{"exec", "--interactive",
		"--env", "DEBIAN_FRONTEND=noninteractive", c.id}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sh runs script with sh -c and returns its output, trimmed; a failure
// fails t.
func (c *container) sh(t *testing.T, stdin, script string) string {
	t.Helper()
	out, err := c.try(stdin, "sh", "-c", script)
	if err != nil {
		t.Fatalf("in the container: %s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(out)
}

// pamState lists every entry under /etc/pam.d with its type, mode and
// owner, and the checksum of every file: equal states are byte-equal
// configurations.
func (c *container) pamState(t *testing.T) string {
	t.Helper()
	return c.sh(t, "", "cd /etc/pam.d && find . -printf '%y %m %u:%g %p\n' | sort && "+
		"find . -type f -print0 | sort -z | xargs -0 sha256sum")
}

// seen reports whether pam-auth-update lists the profile among those it
// has seen.
func (c *container) seen(t *testing.T) bool {
	t.Helper()
	list := c.sh(t, "", "cat /var/lib/pam/seen")
	for _, line := range strings.Split(list, "\n") {
		if line == "pam-vault" {
			return true
		}
	}
	return false
}

// otp issues an OTP for the test user at 127.0.0.1, an address of the
// container (it shares this machine's network).
func (c *container) otp(t *testing.T, vault *testvault.Server) string {
	t.Helper()
	otp, err := vault.IssueOTP(mount, role, user, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return otp
}

// login authenticates name with password through the service that falls
// back to common-auth and fails t unless pamtester reports want.
func (c *container) login(t *testing.T, name, password, want string) {
	t.Helper()
	out, _ := c.try(password+"\n", "pamtester", service, name, "authenticate")
	if got := verdict(out); got != want {
		t.Fatalf("login as %s through common-auth: %q, want %q\n%s", name, got, want, out)
	}
}

// verdict is pamtester's verdict in out. The prompt it answered ends
// without a line break, so the verdict follows it on the same line.
func verdict(out string) string {
	return pamtest.Result(strings.ReplaceAll(out, "Password: ", "Password: \n"))
}
