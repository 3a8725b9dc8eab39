package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Args are the module arguments given after pam_vault.so on its line in a
// PAM service file.
type Args struct {
	// ConfigPath is the config file (config=PATH, default DefaultPath).
	ConfigPath string
	// Dev allows a plain http vault_addr (dev).
	Dev bool
	// Debug adds detail to the log lines (debug).
	Debug bool
	// UseFirstPass takes the token from an earlier module and never
	// prompts (use_first_pass).
	UseFirstPass bool
	// TryFirstPass takes the token from an earlier module and prompts only
	// when there is none (try_first_pass).
	TryFirstPass bool
	// Helper makes the adapter verify in a separate pam-vault-check process
	// even when it could load the engine in process (helper). The adapter
	// reads it; it is here so that it is not reported as unknown.
	Helper bool
	// InProcess makes the adapter load the engine into a host other than
	// sshd, where it otherwise verifies in the helper process (in_process).
	// helper wins over it. The adapter reads it, as Helper.
	InProcess bool
	// TOTP selects the second-factor mode: the token is a code from an
	// authenticator app, checked by Vault's TOTP engine (totp).
	TOTP bool
	// NullOK makes a user without a TOTP key in Vault PAM_IGNORE instead of
	// PAM_AUTH_ERR, for a gradual roll-out (nullok; TOTP mode only).
	NullOK bool
}

// ParseArgs reads the module arguments argv. An argument it does not
// understand is ignored, and a warning for the log says so. A config= whose
// path is empty or relative is an error, not a fallback to DefaultPath: the
// operator meant another file, and a relative path would be read from the
// authenticating process's working directory.
func ParseArgs(argv []string) (Args, []string, error) {
	args := Args{ConfigPath: DefaultPath}
	var warnings []string
	configSet := false
	for _, arg := range argv {
		switch arg {
		case "dev":
			args.Dev = true
			continue
		case "debug":
			args.Debug = true
			continue
		case "use_first_pass":
			args.UseFirstPass = true
			continue
		case "try_first_pass":
			args.TryFirstPass = true
			continue
		case "helper":
			args.Helper = true
			continue
		case "in_process":
			args.InProcess = true
			continue
		case "totp":
			args.TOTP = true
			continue
		case "nullok":
			args.NullOK = true
			continue
		}
		path, ok := strings.CutPrefix(arg, "config=")
		switch {
		case !ok:
			warnings = append(warnings, fmt.Sprintf("unknown module argument %q ignored", arg))
		case path == "":
			return args, warnings, errors.New("module argument config= has an empty path; give the absolute path of the config file")
		case !filepath.IsAbs(path):
			return args, warnings, fmt.Errorf("module argument config=%q is not an absolute path; give the absolute path of the config file", path)
		default:
			if configSet {
				warnings = append(warnings, fmt.Sprintf("module argument config= given more than once; the last, %q, is used", path))
			}
			args.ConfigPath = path
			configSet = true
		}
	}
	return args, warnings, nil
}
