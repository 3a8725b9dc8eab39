package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"pam_vault/internal/testvault"
)

// The Vault side of every login: an SSH secrets engine with one OTP role for
// the benchmark's user on loopback, so that the engine's host check passes.
const (
	mount     = "ssh"
	role      = "bench"
	benchUser = "pvbench"
	otpIP     = "127.0.0.1"
	totpMount = "totp"
	// verifyPolicy is the TOTP token's policy: update on <totpMount>/code/*.
	verifyPolicy = "bench-verify"
)

// transport is one way of reaching Vault.
type transport struct {
	name   string // "http", "tls" or "proxy"
	vault  *testvault.Server
	config string // the pam_vault config file for it (OTP mode)
	args   []string
	// totpArgs are TOTP mode's module arguments: totp, and a config with
	// the TOTP keys as well.
	totpArgs []string
	// tokenFile holds the token that may check TOTP codes, for the TOTP
	// floor.
	tokenFile string
}

// lab is what the measurements share: the two Vaults, their config files, a
// Vault Proxy in front of the http one, a PAM configuration directory and
// the tools.
type lab struct {
	root       string
	tmp        string
	tools      *tools
	transports []*transport // http and tls: OTP, TOTP, the floor, stages, sshd
	proxy      *transport   // the http Vault through Vault Proxy's unix socket: TOTP
	confdir    string       // PAM service files for pam_start_confdir
	env        []string
	// baseline is another build's directory (its pam_vault.so,
	// pam_vault_go.so and pam-vault-check), whose token-to-verdict paths
	// are measured beside this build's; "" for none.
	baseline string
}

// builds names the builds measured: this one, and "baseline" when there
// is one.
func (l *lab) builds() []string {
	if l.baseline == "" {
		return []string{"this"}
	}
	return []string{"this", "baseline"}
}

// totpTransports are the transports measured in TOTP mode: http, tls and
// the proxy.
func (l *lab) totpTransports() []*transport {
	return append(slices.Clone(l.transports), l.proxy)
}

// newLab starts the Vault servers and writes the configs and PAM services.
// Each Vault also has a TOTP engine, and its TOTP config a token file whose
// token may check codes. Vault Proxy, in front of the http Vault with
// AppRole auto-auth and use_auto_auth_token = "force", adds such a token to
// every request on its unix socket; its config names the socket and no
// token file.
func newLab(root, tmp, baseline string, t *tools, c *cleanup) (*lab, error) {
	l := &lab{root: root, tmp: tmp, tools: t, confdir: filepath.Join(tmp, "pam.d"), baseline: baseline,
		// No GODEBUG, GOGC and friends: the adapter would take the helper
		// path when it saw them.
		env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}}
	if err := os.Mkdir(l.confdir, 0o755); err != nil {
		return nil, err
	}
	for _, tls := range []bool{false, true} {
		v, err := testvault.Start(testvault.Options{TLS: tls})
		if err != nil {
			return nil, err
		}
		c.add(func() { v.Close() })
		if err := v.EnableSSH(mount); err != nil {
			return nil, err
		}
		if err := v.WriteOTPRole(mount, role, benchUser, "127.0.0.0/8"); err != nil {
			return nil, err
		}
		tr := &transport{name: "http", vault: v}
		if tls {
			tr.name = "tls"
		}
		tokenFile, err := setUpTOTP(v, filepath.Join(tmp, tr.name+".token"))
		if err != nil {
			return nil, err
		}
		lines := []string{
			fmt.Sprintf("vault_addr = %q", v.Addr),
			fmt.Sprintf("ssh_mount_point = %q", mount),
			fmt.Sprintf("allowed_roles = %q", role),
			`timeout = "10s"`,
		}
		if tls {
			lines = append(lines, fmt.Sprintf("ca_cert = %q", v.CACert))
		}
		tr.config = filepath.Join(tmp, tr.name+".hcl")
		if err := writeLines(tr.config, lines); err != nil {
			return nil, err
		}
		tr.args = []string{"config=" + tr.config}
		// TOTP mode's config: the same, with the TOTP keys.
		totpConfig := filepath.Join(tmp, tr.name+"-totp.hcl")
		lines = append(lines, fmt.Sprintf("totp_mount_point = %q", totpMount), fmt.Sprintf("token_file = %q", tokenFile))
		if err := writeLines(totpConfig, lines); err != nil {
			return nil, err
		}
		tr.totpArgs = []string{"config=" + totpConfig, "totp"}
		tr.tokenFile = tokenFile
		if !tls {
			tr.args = append(tr.args, "dev")
			tr.totpArgs = append(tr.totpArgs, "dev")
		}
		l.transports = append(l.transports, tr)
	}
	if err := l.startProxy(c); err != nil {
		return nil, err
	}
	services := map[string]string{
		"other":  "auth required pam_deny.so",
		"permit": "auth required pam_permit.so",
	}
	for _, tr := range l.totpTransports() {
		for mode, args := range map[string][]string{"otp": tr.args, "totp": tr.totpArgs} {
			if args == nil {
				continue // the proxy: TOTP only
			}
			for _, build := range l.builds() {
				adapter := t.adapter
				if build == "baseline" {
					adapter = filepath.Join(baseline, "pam_vault.so")
				}
				line := "auth required " + adapter + " " + strings.Join(args, " ")
				// The driver is not sshd: in_process loads the engine as sshd does.
				services[buildService(build, "engine", tr.name, mode)] = line + " in_process"
				services[buildService(build, "helper", tr.name, mode)] = line + " helper"
			}
		}
	}
	for name, text := range services {
		if err := os.WriteFile(filepath.Join(l.confdir, name), []byte(text+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// service names the PAM service of one way (engine or helper), transport
// and mode (otp or totp).
func service(way, transport, mode string) string {
	if mode == "otp" {
		return way + "-" + transport
	}
	return way + "-" + transport + "-" + mode
}

// buildService names the PAM service of service(way, transport, mode) in
// build ("this" or "baseline").
func buildService(build, way, transport, mode string) string {
	if build == "baseline" {
		return "baseline-" + service(way, transport, mode)
	}
	return service(way, transport, mode)
}

// writeLines writes a config file of lines, mode 0600.
func writeLines(path string, lines []string) error {
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// setUpTOTP enables the TOTP engine on v and the verify policy, and writes
// to path a token that may check codes and nothing else.
func setUpTOTP(v *testvault.Server, path string) (string, error) {
	if err := v.EnableTOTP(totpMount); err != nil {
		return "", err
	}
	if err := v.WritePolicy(verifyPolicy, testvault.VerifyPolicy(totpMount)); err != nil {
		return "", err
	}
	token, err := v.CreateToken([]string{verifyPolicy}, 24*time.Hour)
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(token+"\n"), 0o600)
}

// startProxy starts Vault Proxy in front of the http Vault, whose
// setUpTOTP wrote the verify policy, and writes the proxy's TOTP config.
func (l *lab) startProxy(c *cleanup) error {
	v := l.transport("http").vault
	h, err := v.StartProxy(testvault.HolderOptions{Role: "bench-proxy", Policies: []string{verifyPolicy}, TokenTTL: time.Hour})
	if err != nil {
		return fmt.Errorf("start Vault Proxy: %w", err)
	}
	c.add(h.Close)
	tr := &transport{name: "proxy", vault: v, config: filepath.Join(l.tmp, "proxy-totp.hcl")}
	lines := []string{
		fmt.Sprintf("vault_addr = %q", "unix://"+h.Socket),
		fmt.Sprintf("totp_mount_point = %q", totpMount),
		`timeout = "10s"`,
	}
	if err := writeLines(tr.config, lines); err != nil {
		return err
	}
	// No dev: a unix socket is not a network path.
	tr.totpArgs = []string{"config=" + tr.config, "totp"}
	l.proxy = tr
	return nil
}

// transport returns the transport called name.
func (l *lab) transport(name string) *transport {
	for _, t := range append(slices.Clone(l.transports), l.proxy) {
		if t != nil && t.name == name {
			return t
		}
	}
	panic("no transport " + name)
}

// issue asks v for n OTPs for user. It runs before any timed section.
func issue(v *testvault.Server, user string, n int) ([]string, error) {
	otps := make([]string, n)
	err := fanOut(n, func(i int) (err error) {
		otps[i], err = v.IssueOTP(mount, role, user, otpIP)
		return err
	})
	return otps, err
}

// totpKeys creates n TOTP keys on v, named prefix-0, prefix-1, …, before
// any timed section. Vault takes a code once per key, and at most three
// codes of a key are good at any time: a key per login gives every login a
// right code of its own, which TOTPKey.Code computes just before the login.
func totpKeys(v *testvault.Server, prefix string, n int) ([]*testvault.TOTPKey, error) {
	keys := make([]*testvault.TOTPKey, n)
	err := fanOut(n, func(i int) (err error) {
		keys[i], err = v.CreateTOTPKey(totpMount, fmt.Sprintf("%s-%d", prefix, i), 6)
		return err
	})
	return keys, err
}

// fanOut runs do(0) … do(n-1), four at a time (Vault's setup requests), and
// returns the first error.
func fanOut(n int, do func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				errs[i] = do(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
