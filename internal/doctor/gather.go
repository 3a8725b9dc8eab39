package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"pam_vault/internal/config"
	"pam_vault/internal/netcheck"
)

// Options say what Gather examines.
type Options struct {
	// Service is the PAM service (default "sshd").
	Service string
	// SSHDConfig is the sshd_config to give `sshd -T -f`; "" for sshd's
	// own default. sshd is examined when Service is "sshd" or SSHDConfig
	// is set.
	SSHDConfig string
	// PAMDir stands for /etc/pam.d (default /etc/pam.d).
	PAMDir string
	// ModuleDir is where libpam finds modules named without a path
	// (default DefaultModuleDir()).
	ModuleDir string
	// SSHD is the sshd program (default /usr/sbin/sshd, else sshd on
	// PATH).
	SSHD string
}

// DefaultSSHDConfig is the file sshd reads unless told otherwise.
const DefaultSSHDConfig = "/etc/ssh/sshd_config"

// sshdTimeout bounds `sshd -T`, which only reads files.
const sshdTimeout = 20 * time.Second

// Facts are everything Check judges, as Gather found them.
type Facts struct {
	Service string
	// EUID is the effective user the facts were gathered as; the module
	// runs as root.
	EUID int
	// SSHD is nil when sshd was not examined.
	SSHD *SSHDFacts
	// Stack is the PAM service; nil when it could not be read (StackErr).
	Stack    *Stack
	StackErr error
	// ModuleDir is where modules named without a path are loaded from.
	ModuleDir string
	// Modules holds what was found at the path of each auth module and
	// each pam_vault module the service names.
	Modules map[string]FileInfo
	// Installs holds the installation around each pam_vault.so the
	// service names, by path.
	Installs map[string]Install
	// Configs holds, for each config file and dev setting a pam_vault
	// line asks for, what config.LoadChecked made of it.
	Configs map[ConfigKey]ConfigResult
	// LocalAddrs are the host's addresses (LocalAddrsErr if they could
	// not be listed): an OTP for a local service must name one of them.
	LocalAddrs    []netip.Addr
	LocalAddrsErr error
}

// SSHDFacts are what sshd showed of its configuration.
type SSHDFacts struct {
	// Command is the command run, for messages.
	Command string
	// ConfigPath is the sshd_config it read.
	ConfigPath string
	// Effective is sshd -T's output; nil when Err is set.
	Effective Effective
	// Err says why sshd -T gave no configuration.
	Err error
	// Missing is set when there is no sshd program.
	Missing bool
	// Files is the textual reading of ConfigPath and its includes; nil
	// when FilesErr is set.
	Files    *ConfigFiles
	FilesErr error
}

// ConfigKey names one loading of a config file, as a pam_vault line asks
// for it.
type ConfigKey struct {
	Path string
	Dev  bool
}

// ConfigResult is config.LoadChecked's answer.
type ConfigResult struct {
	Config *config.Config
	Err    error
}

// Gather collects the facts for Check: it runs `sshd -T`, reads the PAM
// service and its includes, examines the modules and installed files the
// service names, and loads each pam_vault line's config file with the
// module's own loader. It fails only when the options are unusable; what
// it cannot read becomes a fact for Check to report.
func Gather(ctx context.Context, opts Options) (*Facts, error) {
	if opts.Service == "" {
		opts.Service = "sshd"
	}
	if opts.PAMDir == "" {
		opts.PAMDir = "/etc/pam.d"
	}
	if opts.ModuleDir == "" {
		opts.ModuleDir = DefaultModuleDir()
	}
	if opts.SSHDConfig != "" && !filepath.IsAbs(opts.SSHDConfig) {
		abs, err := filepath.Abs(opts.SSHDConfig)
		if err != nil {
			return nil, fmt.Errorf("sshd configuration %s: %w", opts.SSHDConfig, err)
		}
		opts.SSHDConfig = abs
	}
	f := &Facts{
		Service:   opts.Service,
		EUID:      os.Geteuid(),
		ModuleDir: opts.ModuleDir,
		Modules:   map[string]FileInfo{},
		Installs:  map[string]Install{},
		Configs:   map[ConfigKey]ConfigResult{},
	}
	if opts.Service == "sshd" || opts.SSHDConfig != "" {
		f.SSHD = gatherSSHD(ctx, opts)
	}
	f.Stack, f.StackErr = ReadStack(opts.PAMDir, opts.Service)
	if f.Stack != nil {
		for _, typ := range ModuleTypes {
			for _, r := range f.Stack.Rules[typ] {
				if typ == "auth" || isVault(r) {
					f.gatherRule(r)
				}
			}
		}
	}
	f.LocalAddrs, f.LocalAddrsErr = netcheck.LocalAddrs()
	return f, nil
}

// gatherRule examines the module of one rule and, for pam_vault, its
// installation and config file.
func (f *Facts) gatherRule(r Rule) {
	if r.Module == "" {
		return
	}
	path := modulePath(f.ModuleDir, r.Module)
	if _, seen := f.Modules[path]; !seen {
		f.Modules[path] = statFile(path)
	}
	if !isVault(r) {
		return
	}
	if _, seen := f.Installs[path]; !seen {
		f.Installs[path] = readInstall(path)
	}
	args, _, err := config.ParseArgs(r.Args)
	if err != nil {
		return
	}
	key := ConfigKey{args.ConfigPath, args.Dev}
	if _, seen := f.Configs[key]; !seen {
		cfg, err := config.LoadChecked(args.ConfigPath, args.Dev)
		f.Configs[key] = ConfigResult{cfg, err}
	}
}

// gatherSSHD runs `sshd -T` and reads the configuration files.
func gatherSSHD(ctx context.Context, opts Options) *SSHDFacts {
	s := &SSHDFacts{ConfigPath: opts.SSHDConfig}
	if s.ConfigPath == "" {
		s.ConfigPath = DefaultSSHDConfig
	}
	s.Files, s.FilesErr = ReadConfigFiles(s.ConfigPath)
	prog := opts.SSHD
	if prog == "" {
		prog = "/usr/sbin/sshd"
		if _, err := os.Stat(prog); err != nil {
			if found, err := exec.LookPath("sshd"); err == nil {
				prog = found
			}
		}
	}
	args := []string{"-T"}
	if opts.SSHDConfig != "" {
		args = append(args, "-f", opts.SSHDConfig)
	}
	s.Command = strings.Join(append([]string{prog}, args...), " ")
	if _, err := os.Stat(prog); err != nil {
		s.Missing = true
		s.Err = fmt.Errorf("no sshd program at %s: %w", prog, errors.Unwrap(err))
		return s
	}
	ctx, cancel := context.WithTimeout(ctx, sshdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	// sshd reads nothing from the environment that changes -T, but the
	// caller's locale could change its messages.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		s.Err = fmt.Errorf("%s failed: %s", s.Command, strings.ReplaceAll(msg, "\n", "; "))
		return s
	}
	s.Effective = ParseEffective(stdout.Bytes())
	return s
}
