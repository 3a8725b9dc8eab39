package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"pam_vault/internal/testvault"
)

// The Vault side of every login: an SSH secrets engine with one OTP role for
// the benchmark's user on loopback, so that the engine's host check passes.
const (
	mount     = "ssh"
	role      = "bench"
	benchUser = "pvbench"
	otpIP     = "127.0.0.1"
)

// transport is one way of reaching Vault.
type transport struct {
	name   string // "http" or "tls"
	vault  *testvault.Server
	config string // the pam_vault config file for it
	args   []string
}

// lab is what the measurements share: the two Vaults, their config files, a
// PAM configuration directory and the tools.
type lab struct {
	root       string
	tmp        string
	tools      *tools
	transports []*transport
	confdir    string // PAM service files for pam_start_confdir
	env        []string
}

// newLab starts the Vault servers and writes the configs and PAM services.
func newLab(root, tmp string, t *tools, c *cleanup) (*lab, error) {
	l := &lab{root: root, tmp: tmp, tools: t, confdir: filepath.Join(tmp, "pam.d"),
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
		lines := []string{
			fmt.Sprintf("vault_addr = %q", v.Addr),
			fmt.Sprintf("ssh_mount_point = %q", mount),
			fmt.Sprintf("allowed_roles = %q", role),
			`timeout = "10s"`,
		}
		if tls {
			tr.name = "tls"
			lines = append(lines, fmt.Sprintf("ca_cert = %q", v.CACert))
		}
		tr.config = filepath.Join(tmp, tr.name+".hcl")
		if err := os.WriteFile(tr.config, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		tr.args = []string{"config=" + tr.config}
		if !tls {
			tr.args = append(tr.args, "dev")
		}
		l.transports = append(l.transports, tr)
	}
	services := map[string]string{
		"other":  "auth required pam_deny.so",
		"permit": "auth required pam_permit.so",
	}
	for _, tr := range l.transports {
		line := "auth required " + t.adapter + " " + strings.Join(tr.args, " ")
		// The driver is not sshd: in_process loads the engine as sshd does.
		services["engine-"+tr.name] = line + " in_process"
		services["helper-"+tr.name] = line + " helper"
	}
	for name, text := range services {
		if err := os.WriteFile(filepath.Join(l.confdir, name), []byte(text+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// transport returns the transport called name.
func (l *lab) transport(name string) *transport {
	for _, t := range l.transports {
		if t.name == name {
			return t
		}
	}
	panic("no transport " + name)
}

// issue asks v for n OTPs for user, four requests at a time. It runs before
// any timed section.
func issue(v *testvault.Server, user string, n int) ([]string, error) {
	otps := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				otps[i], errs[i] = v.IssueOTP(mount, role, user, otpIP)
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
			return nil, err
		}
	}
	return otps, nil
}
