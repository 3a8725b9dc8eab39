package config

import (
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
}

// ParseArgs reads the module arguments argv. It never fails: an argument it
// does not understand is ignored, and a warning for the log says so. A
// config= with an empty or relative path is ignored too (a relative path
// would be read from the authenticating process's working directory), so
// ConfigPath is always an absolute path.
func ParseArgs(argv []string) (Args, []string) {
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
		}
		path, ok := strings.CutPrefix(arg, "config=")
		switch {
		case !ok:
			warnings = append(warnings, fmt.Sprintf("unknown module argument %q ignored", arg))
		case path == "":
			warnings = append(warnings, "module argument config= has an empty path; ignored")
		case !filepath.IsAbs(path):
			warnings = append(warnings, fmt.Sprintf("module argument config=%q is not an absolute path; ignored", path))
		default:
			if configSet {
				warnings = append(warnings, fmt.Sprintf("module argument config= given more than once; the last, %q, is used", path))
			}
			args.ConfigPath = path
			configSet = true
		}
	}
	return args, warnings
}
