package doctor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// sshdService is the PAM service sshd authenticates through: "sshd", or
// what PAMServiceName says (OpenSSH 9.8 and later); "" when sshd was not
// examined.
func sshdService(s *SSHDFacts) string {
	switch {
	case s == nil:
		return ""
	case s.Effective.Get("pamservicename") != "":
		return s.Effective.Get("pamservicename")
	}
	return "sshd"
}

// checkSSHD reports on sshd's configuration and returns the contexts a
// login may be in: the global configuration, and each Match block that
// changes how users authenticate. None when sshd gave no configuration.
func checkSSHD(r *report, s *SSHDFacts, euid int, service string) []AuthSettings {
	if s.Err != nil {
		switch {
		case s.Missing:
			r.warn("sshd", "run the doctor where sshd is installed, or give -service for a service that is not sshd",
				"sshd not checked: %v; the PAM service is checked below", s.Err)
		case euid != 0:
			r.warn("sshd", "run pam-vault-check doctor as root",
				"sshd not checked: %v; sshd -T needs root (it reads the host keys), and this runs as uid %d; the PAM service is checked below", s.Err, euid)
		default:
			r.fail("sshd", "fix what sshd names, then run `sshd -t` until it is silent",
				"sshd rejects its configuration: %v; sshd would not start or reload with it", s.Err)
		}
		return nil
	}
	e := s.Effective
	r.ok("sshd", "%s read the effective configuration", s.Command)
	if s.FilesErr != nil {
		r.warn("sshd", "make the file readable to root",
			"%v: Match blocks and the lines that set each value are not checked", s.FilesErr)
	}
	if s.Files != nil {
		for _, u := range s.Files.Unreadable {
			r.warn("sshd", "make the file readable to root", "Include %s: Match blocks there are not checked", u)
		}
	}
	if name := e.Get("pamservicename"); name != "" && name != service {
		// OpenSSH 9.8 and later can use another service than "sshd".
		r.warn("sshd", fmt.Sprintf("run pam-vault-check doctor -service %s", name),
			"sshd authenticates through the PAM service %s (PAMServiceName), not %s, which is checked below", name, service)
	}
	global := globalAuth(e)
	files := s.Files
	where := func(keyword string) string {
		if files != nil {
			if ds := files.Global(keyword); len(ds) > 0 {
				return ds[0].At.String()
			}
		}
		return s.ConfigPath
	}
	if !global.UsePAM {
		r.fail("usepam", fmt.Sprintf("set `UsePAM yes` at %s and reload sshd", where("usepam")),
			"UsePAM is no: sshd never runs PAM, so pam_vault is never asked")
	} else {
		r.ok("usepam", "UsePAM yes")
	}
	if files != nil {
		checkSpelling(r, e, files)
		checkShadowed(r, files)
	}
	global.MethodsAt = where("authenticationmethods")
	contexts := []AuthSettings{global}
	if files != nil {
		for _, m := range files.Matches {
			if touchesAuth(m) {
				contexts = append(contexts, global.overlay(m))
			}
		}
	}
	if global.UsePAM {
		for _, a := range contexts {
			checkMethods(r, a, where)
		}
	}
	checkPenalties(r, e, files)
	return contexts
}

// checkMethods reports whether any login of context a reaches PAM.
func checkMethods(r *report, a AuthSettings, where func(string) string) {
	in := ""
	if a.Where != "" {
		in = " in " + a.Where
	}
	methods := a.PAMMethods()
	settings := fmt.Sprintf("KbdInteractiveAuthentication %s, PasswordAuthentication %s, AuthenticationMethods %s",
		yesNo(a.KbdInteractive), yesNo(a.Password), a.MethodsText())
	switch {
	case len(methods) == 1:
		r.ok("methods", "%s reaches PAM%s (%s)", methods[0], in, settings)
	case len(methods) > 1:
		r.ok("methods", "%s reach PAM%s (%s)", strings.Join(methods, " and "), in, settings)
	case a.Where != "":
		// A Match block may keep some users on keys alone on purpose.
		r.ok("methods", "no method reaches PAM%s (%s): those connections never ask pam_vault", in, settings)
	case !a.KbdInteractive:
		r.fail("methods", fmt.Sprintf("set `KbdInteractiveAuthentication yes` at %s, then reload sshd", where("kbdinteractiveauthentication")),
			"neither keyboard-interactive nor password authentication reaches PAM (%s): nobody is ever asked for a one-time password", settings)
	default:
		r.fail("methods", fmt.Sprintf("list keyboard-interactive in AuthenticationMethods at %s, for example `AuthenticationMethods publickey,keyboard-interactive`, then reload sshd", a.MethodsAt),
			"no list of AuthenticationMethods that sshd can complete reaches PAM (%s): nobody is ever asked for a one-time password", settings)
	}
}

// checkSpelling finds the name KbdInteractiveAuthentication had before
// OpenSSH 8.7.
func checkSpelling(r *report, e Effective, files *ConfigFiles) {
	if e.Has("challengeresponseauthentication") {
		return // an OpenSSH before 8.7, where the name is still current
	}
	for _, d := range files.Directives {
		if d.Keyword == "challengeresponseauthentication" {
			r.warn("spelling", fmt.Sprintf("rename it to KbdInteractiveAuthentication at %s", d.At),
				"%s: ChallengeResponseAuthentication is the name KbdInteractiveAuthentication had before OpenSSH 8.7, kept as a deprecated alias", d.At)
		}
	}
}

// checkShadowed finds settings that a line earlier in the configuration
// overrides: sshd keeps the first value it reads, and the Include of
// sshd_config.d comes first in Debian's sshd_config, so an edit further
// down changes nothing.
func checkShadowed(r *report, files *ConfigFiles) {
	groups := [][]string{
		{"usepam"},
		{"kbdinteractiveauthentication", "challengeresponseauthentication"},
		{"passwordauthentication"},
		{"authenticationmethods"},
		{"pubkeyauthentication"},
	}
	for _, keys := range groups {
		var ds []Directive
		for _, d := range files.Directives {
			if d.Match == nil && slices.Contains(keys, d.Keyword) {
				ds = append(ds, d)
			}
		}
		for _, d := range ds[min(1, len(ds)):] {
			first := ds[0]
			if !strings.EqualFold(strings.Join(d.Args, " "), strings.Join(first.Args, " ")) {
				r.warn("shadowed", fmt.Sprintf("change or remove %s (%s %s), the line in force", first.At, first.Name, strings.Join(first.Args, " ")),
					"%s sets %s %s, which has no effect: %s set %s %s first, and sshd keeps the first value it reads",
					d.At, d.Name, strings.Join(d.Args, " "), first.At, first.Name, strings.Join(first.Args, " "))
			}
		}
	}
}

// checkPenalties reports OpenSSH 9.8's PerSourcePenalties.
func checkPenalties(r *report, e Effective, files *ConfigFiles) {
	if !e.Has("persourcepenalties") {
		return // before OpenSSH 9.8
	}
	value := e.Get("persourcepenalties")
	if value == "no" {
		r.ok("penalties", "PerSourcePenalties no")
		return
	}
	if exempt := e.Get("persourcepenaltyexemptlist"); exempt != "" && exempt != "none" {
		r.ok("penalties", "PerSourcePenalties on; PerSourcePenaltyExemptList %s", exempt)
		return
	}
	if files != nil {
		if ds := files.Global("persourcepenalties"); len(ds) > 0 {
			r.ok("penalties", "PerSourcePenalties set at %s: %s", ds[0].At, strings.Join(ds[0].Args, " "))
			return
		}
	}
	authfail, minimum := penaltyValue(value, "authfail"), penaltyValue(value, "min")
	r.warn("penalties", "list the addresses many users share (NAT gateways, bastions, VPN exits) with `PerSourcePenaltyExemptList 203.0.113.0/24,...` in sshd_config, or set PerSourcePenalties explicitly once you have chosen its values",
		"PerSourcePenalties is on with OpenSSH's defaults: each failed login adds %s to its source address's penalty, and past %s sshd refuses every new connection from that address until the penalty has run out, valid one-time passwords included (they stay unused); users behind one NAT address lock each other out after a few mistyped codes",
		authfail, minimum)
}

// penaltyValue reads name:seconds from sshd -T's PerSourcePenalties line.
func penaltyValue(line, name string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, name+":"); ok {
			if secs, err := strconv.ParseFloat(v, 64); err == nil {
				return strconv.FormatFloat(secs, 'f', -1, 64) + "s"
			}
			return v
		}
	}
	return "?"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
