package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"pam_vault/internal/doctor"
)

// runDoctor reads the host's sshd and PAM configuration and prints one
// finding a line (internal/doctor). It exits 1 when any finding is a FAIL.
func runDoctor(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pam-vault-check doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts doctor.Options
	fs.StringVar(&opts.Service, "service", "sshd", "the PAM service to check; sshd's configuration is checked too for sshd")
	fs.StringVar(&opts.SSHDConfig, "sshd-config", "", "the sshd_config to check, as sshd -T -f reads it (default: sshd's own, "+doctor.DefaultSSHDConfig+")")
	fs.StringVar(&opts.PAMDir, "pam-dir", "/etc/pam.d", "the directory of PAM service files, standing for /etc/pam.d")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	if err := fs.Parse(args); err != nil {
		return 64
	}
	if fs.NArg() != 0 {
		return usageError(stderr, fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0)))
	}
	facts, err := doctor.Gather(context.Background(), opts)
	if err != nil {
		return usageError(stderr, fmt.Errorf("doctor: %w", err))
	}
	findings := doctor.Check(facts)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Service  string           `json:"service"`
			Failed   bool             `json:"failed"`
			Findings []doctor.Finding `json:"findings"`
		}{facts.Service, doctor.Failed(findings), findings}); err != nil {
			fmt.Fprintf(stderr, "pam-vault-check: doctor: %v\n", err)
			return 1
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(stdout, f)
		}
	}
	if doctor.Failed(findings) {
		return 1
	}
	return 0
}
