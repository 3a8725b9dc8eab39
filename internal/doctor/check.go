package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"pam_vault/internal/config"
)

// Check judges facts and returns the findings, in the order an operator
// fixes things: sshd, the PAM service, each pam_vault line and its files
// and config, then how the stack and sshd work together.
func Check(f *Facts) []Finding {
	r := &report{}
	var contexts []AuthSettings
	if f.SSHD != nil {
		contexts = checkSSHD(r, f.SSHD, f.EUID, f.Service)
	}
	if f.Stack == nil {
		r.fail("service", "give the PAM directory with -pam-dir and the service with -service",
			"cannot read the PAM service: %v", f.StackErr)
		return r.findings
	}
	c := &stackCheck{r: r, f: f, auth: f.Stack.Rules["auth"]}
	c.service()
	vaults := c.vaults()
	c.leftovers(len(vaults) > 0)
	if len(vaults) == 0 {
		return r.findings
	}
	isSSHD := f.Service == sshdService(f.SSHD)
	for _, v := range vaults {
		c.install(v)
		c.arguments(v)
		c.path(v, isSSHD)
	}
	c.order(vaults)
	c.outcomes(vaults)
	if isSSHD {
		for _, v := range vaults {
			c.withSSHD(v, contexts)
		}
	} else {
		c.hostAddress()
	}
	return r.findings
}

// stackCheck judges one PAM service.
type stackCheck struct {
	r    *report
	f    *Facts
	auth []Rule
}

// vault is one pam_vault auth line, with its parsed arguments.
type vault struct {
	rule    Rule
	index   int // in the auth stack
	args    config.Args
	argsErr error
	warns   []string
}

// isVault reports whether r loads pam_vault.
func isVault(r Rule) bool { return r.ModuleName() == "pam_vault" }

// service reports how the service file was read and every line libpam
// cannot use.
func (c *stackCheck) service() {
	s := c.f.Stack
	var names []string
	for _, file := range s.Files[1:] {
		names = append(names, filepath.Base(file))
	}
	read := s.File
	if len(names) > 0 {
		read += " (including " + strings.Join(names, ", ") + ")"
	}
	if filepath.Base(s.File) != s.Service {
		c.r.warn("service", fmt.Sprintf("create %s", filepath.Join(s.Dir, s.Service)),
			"there is no PAM service file %s in %s: libpam uses %s instead", s.Service, s.Dir, s.File)
	} else {
		c.r.ok("service", "read %s", read)
	}
	for _, p := range s.Problems {
		if p.Fatal {
			c.r.fail("service", fmt.Sprintf("correct %s", p.At), "%s: %s", p.At, p.Msg)
		} else {
			c.r.warn("service", fmt.Sprintf("shorten or split the line at %s", p.At), "%s: %s", p.At, p.Msg)
		}
	}
	for _, rule := range c.auth {
		switch {
		case rule.Broken != "":
			c.r.fail("service", fmt.Sprintf("correct or remove the line at %s", rule.At),
				"%s: libpam fails this auth line whatever happens: %s", rule.Where(), rule.Broken)
		case rule.ControlErr != "":
			c.r.fail("service", fmt.Sprintf("correct the control at %s", rule.At),
				"%s: %s", rule.Where(), rule.ControlErr)
		}
	}
	for _, rule := range c.auth {
		if rule.Module == "" || rule.Broken != "" {
			continue
		}
		if fi := c.f.Modules[modulePath(c.f.ModuleDir, rule.Module)]; fi.Err != nil && !isVault(rule) {
			c.r.warn("service", fmt.Sprintf("install the module or remove the line at %s", rule.At),
				"%s: module %s is not installed (%s): libpam gives PAM_MODULE_UNKNOWN for this line", rule.Where(), rule.Module, rootCause(fi.Err))
		}
	}
}

// vaults finds the pam_vault lines, reporting their absence and pam_vault
// lines of other module types.
func (c *stackCheck) vaults() []vault {
	var out []vault
	for i, rule := range c.auth {
		if isVault(rule) && rule.Broken == "" {
			v := vault{rule: rule, index: i}
			v.args, v.warns, v.argsErr = config.ParseArgs(rule.Args)
			out = append(out, v)
		}
	}
	for _, typ := range ModuleTypes {
		for _, rule := range c.f.Stack.Rules[typ] {
			switch {
			case rule.ModuleName() == "pam_vault_go":
				c.r.fail("module", fmt.Sprintf("load pam_vault.so at %s, not the engine", rule.At),
					"%s: pam_vault_go.so is pam_vault's engine, not a PAM module", rule.Where())
			case isVault(rule) && typ != "auth":
				c.r.warn("module", fmt.Sprintf("remove the line at %s", rule.At),
					"%s: pam_vault only authenticates; as a %s module it returns PAM_IGNORE", rule.Where(), typ)
			}
		}
	}
	if len(out) == 0 {
		fix := fmt.Sprintf("add `auth requisite pam_vault.so config=%s` to %s where the password prompt was (README: Migrating from vault-ssh-helper)", config.DefaultPath, c.f.Stack.File)
		if h, ok := c.helperLine(); ok {
			fix = fmt.Sprintf("replace the line at %s with `%s`", h.At, replacement(h))
		}
		c.r.fail("module", fix, "no auth line of the %s service loads pam_vault.so: nobody is asked for a one-time password by pam_vault", c.f.Service)
	}
	return out
}

// helperLine finds vault-ssh-helper run through pam_exec.
func (c *stackCheck) helperLine() (Rule, bool) {
	for _, rule := range c.auth {
		if isHelperLine(rule) {
			return rule, true
		}
	}
	return Rule{}, false
}

func isHelperLine(r Rule) bool {
	if r.ModuleName() != "pam_exec" {
		return false
	}
	for _, a := range r.Args {
		if strings.Contains(filepath.Base(a), "vault-ssh-helper") {
			return true
		}
	}
	return false
}

// replacement is the pam_vault line that does what the vault-ssh-helper
// line h did.
func replacement(h Rule) string {
	path, dev := config.DefaultPath, false
	// vault-ssh-helper parses its flags with Go's flag package.
	for i, a := range h.Args {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		switch {
		case name == "config" && hasValue:
			path = value
		case name == "config" && i+1 < len(h.Args):
			path = h.Args[i+1]
		case name == "dev" && a != "dev":
			dev = !hasValue || value == "true"
		}
	}
	line := "auth requisite pam_vault.so config=" + path
	if dev {
		line += " dev"
	}
	return line
}

// install reports on the files the adapter of v uses.
func (c *stackCheck) install(v vault) {
	path := modulePath(c.f.ModuleDir, v.rule.Module)
	in, ok := c.f.Installs[path]
	if !ok {
		return
	}
	if in.Adapter.Err != nil {
		c.r.fail("install", fmt.Sprintf("run make install, or write the full path of pam_vault.so at %s", v.rule.At),
			"%s: %s is not installed (%s): libpam fails the line with PAM_MODULE_UNKNOWN", v.rule.Where(), path, rootCause(in.Adapter.Err))
		return
	}
	failed := false
	for _, fi := range []FileInfo{in.Adapter, in.Dir} {
		if why := fi.unsafe(); why != "" {
			failed = true
			c.r.fail("install", fmt.Sprintf("chown root:root %s && chmod go-w %s", fi.Path, fi.Path),
				"%s is %s: whoever can change it runs code in every process that authenticates", fi.Path, why)
		}
	}
	switch {
	case in.Engine.Err != nil:
		failed = true
		c.r.fail("install", fmt.Sprintf("install %s into %s (make install)", EngineFile, in.Dir.Path),
			"%s is missing beside %s (%s): every login fails with PAM_SERVICE_ERR (\"cannot load the engine\")", in.Engine.Path, path, rootCause(in.Engine.Err))
	case in.Engine.unsafe() != "":
		failed = true
		c.r.fail("install", fmt.Sprintf("chown root:root %s && chmod go-w %s", in.Engine.Path, in.Engine.Path),
			"%s is %s: whoever can change it runs code in every process that authenticates", in.Engine.Path, in.Engine.unsafe())
	}
	helper := in.HelperBeside
	where := "beside the module"
	if !in.HelperBesideRuns {
		if in.SBINDIR == "" {
			c.r.warn("install", "rebuild and reinstall pam_vault (make && make install)",
				"%s holds no record of the directory it looks for %s in besides its own, and %s is not there: logins that need the helper process may fail with PAM_SERVICE_ERR", path, HelperFile, in.HelperBeside.Path)
			return
		}
		helper, where = in.HelperSBINDIR, "in "+in.SBINDIR+", the directory compiled into the module"
	}
	switch {
	case helper.Err != nil:
		c.r.fail("install", fmt.Sprintf("install %s into %s (make install), or copy it beside the module into %s", HelperFile, in.SBINDIR, in.Dir.Path),
			"%s is neither beside %s nor in %s, where the module looks for it: logins that need the helper process fail with PAM_SERVICE_ERR (sshd after a password attempt, the helper argument, GODEBUG and the like in the caller's environment)", HelperFile, path, in.SBINDIR)
	case helper.Mode&0o111 == 0 || !helper.Mode.IsRegular():
		c.r.fail("install", fmt.Sprintf("chmod 0755 %s", helper.Path),
			"%s is not an executable file: logins that need the helper process fail with PAM_SERVICE_ERR", helper.Path)
	case helper.unsafe() != "":
		c.r.fail("install", fmt.Sprintf("chown root:root %s && chmod go-w %s", helper.Path, helper.Path),
			"%s is %s: whoever can change it decides logins", helper.Path, helper.unsafe())
	case !failed:
		c.r.ok("install", "%s, %s beside it, helper %s %s", path, EngineFile, helper.Path, where)
	}
}

// arguments checks v's module arguments and config file as the module does.
func (c *stackCheck) arguments(v vault) {
	at := v.rule.Where()
	if v.argsErr != nil {
		c.r.fail("arguments", fmt.Sprintf("write config=/absolute/path/of/config.hcl at %s", v.rule.At),
			"%s: %v: every login fails with PAM_SERVICE_ERR", at, v.argsErr)
		return
	}
	for _, w := range v.warns {
		c.r.warn("arguments", fmt.Sprintf("remove it from the line at %s", v.rule.At), "%s: %s: the module ignores it", at, w)
	}
	res, ok := c.f.Configs[ConfigKey{v.args.ConfigPath, v.args.Dev}]
	if !ok {
		return
	}
	check := "pam-vault-check -config=" + v.args.ConfigPath
	if v.args.Dev {
		check += " -dev"
	}
	switch {
	case res.Err != nil && c.f.EUID != 0 && errors.Is(res.Err, fs.ErrPermission):
		// The module reads the file as root; this user may not.
		c.r.warn("config", "run pam-vault-check doctor as root",
			"%s: config not checked: %v, and this runs as uid %d", at, res.Err, c.f.EUID)
		return
	case res.Err != nil:
		c.r.fail("config", fmt.Sprintf("as the message says, then run `%s`", check),
			"%s: %v: every login fails with PAM_SERVICE_ERR", at, res.Err)
		return
	}
	cfg := res.Config
	mode := "OTP"
	if v.args.TOTP {
		mode = "TOTP"
	}
	c.r.ok("config", "%s: %s mode, %s: vault_addr %s; `%s` checks Vault itself", at, mode, cfg.Path, cfg.VaultAddr, check)
	if !v.args.TOTP && len(cfg.AllowedRoles) == 0 {
		c.r.warn("config", fmt.Sprintf("set allowed_roles = \"ROLE\" (or \"*\") in %s", cfg.Path),
			"%s: allowed_roles is empty, which allows no role: every OTP login is refused", cfg.Path)
	}
	for _, addr := range cfg.VaultAddrs {
		if strings.HasPrefix(addr, "http:") {
			c.r.warn("config", fmt.Sprintf("use an https:// address in %s and drop dev from the line at %s", cfg.Path, v.rule.At),
				"%s: vault_addr %s is plain http (allowed by dev): codes cross the network in clear", cfg.Path, addr)
		}
	}
	if cfg.TLSSkipVerify {
		c.r.warn("config", fmt.Sprintf("set ca_cert to Vault's CA in %s and remove tls_skip_verify", cfg.Path),
			"%s: tls_skip_verify = true: anyone on the path can pose as Vault and accept any code", cfg.Path)
	}
}

// path reports what the line's helper and in_process arguments do in the
// program that runs the service. The adapter loads the engine in process
// only in sshd unless in_process says otherwise; a program that blocks a
// signal on its own thread to hold it pending loses it to the engine's
// threads (sudo hangs), so in_process outside sshd is a warning, and
// helper there is what the module does anyway.
func (c *stackCheck) path(v vault, isSSHD bool) {
	if v.argsErr != nil {
		return
	}
	at := v.rule.Where()
	switch {
	case isSSHD && v.args.Helper:
		c.r.ok("path", "%s: helper: every login starts a pam-vault-check helper process; without it sshd verifies in process", at)
	case isSSHD:
		c.r.ok("path", "%s: sshd loads the engine in process", at)
	case v.args.Helper:
		c.r.ok("path", "%s: helper: the module verifies in a helper process outside sshd without it too; the argument can go", at)
	case v.args.InProcess:
		c.r.warn("path", fmt.Sprintf("remove in_process from the line at %s", v.rule.At),
			"%s: in_process loads the engine into the program that runs %s, which is not sshd: the engine's threads take signals that program may block to hold them pending, and sudo then hangs now and then after its command (README: Local services)", at, c.f.Service)
	default:
		c.r.ok("path", "%s: the module verifies in a helper process, as it does outside sshd", at)
	}
}

// leftovers finds vault-ssh-helper's lines.
func (c *stackCheck) leftovers(haveVault bool) {
	for _, rule := range c.auth {
		switch {
		case isHelperLine(rule) && haveVault:
			c.r.fail("leftover", fmt.Sprintf("delete the line at %s", rule.At),
				"%s: vault-ssh-helper still runs through pam_exec beside pam_vault: both verify the same OTP, Vault answers only the first, so the other refuses every login", rule.Where())
		case rule.ModuleName() == "pam_unix" && hasArg(rule, "not_set_pass"):
			c.r.warn("leftover", fmt.Sprintf("delete the line at %s", rule.At),
				"%s: pam_unix with not_set_pass is vault-ssh-helper's companion line: pam_vault's pam_sm_setcred succeeds without it, and it logs a pam_unix authentication failure for every OTP login, which fail2ban counts", rule.Where())
		}
	}
}

// passwordModules ask for the user's password; factorModules check
// something else the user has or knows.
var (
	passwordModules = []string{"pam_unix", "pam_unix2", "pam_sss", "pam_ldap", "pam_krb5", "pam_winbind", "pam_pwdb", "pam_userdb", "pam_radius_auth"}
	factorModules   = []string{"pam_google_authenticator", "pam_oath", "pam_u2f", "pam_yubico", "pam_duo", "pam_pkcs11", "pam_p11", "pam_fprintd", "pam_ssh_agent_auth"}
)

// promptsForPassword reports whether r asks for a password, which it
// stores as PAM_AUTHTOK for the modules after it.
func promptsForPassword(r Rule) bool {
	return slices.Contains(passwordModules, r.ModuleName()) && !hasArg(r, "use_first_pass")
}

// isFactor reports whether r checks a secret other than pam_vault's.
func isFactor(r Rule) bool {
	return slices.Contains(passwordModules, r.ModuleName()) || slices.Contains(factorModules, r.ModuleName()) || isHelperLine(r)
}

func hasArg(r Rule, arg string) bool { return slices.Contains(r.Args, arg) }

// order finds password prompts before pam_vault.
func (c *stackCheck) order(vaults []vault) {
	first := vaults[0]
	var prompt *Rule
	for i := 0; i < first.index; i++ {
		if promptsForPassword(c.auth[i]) {
			prompt = &c.auth[i]
			break
		}
	}
	if prompt == nil {
		return
	}
	fix := fmt.Sprintf("remove the line at %s, or move it after pam_vault", prompt.At)
	if len(prompt.Via) > 0 {
		fix = fmt.Sprintf("comment out the include at %s (README: Migrating from vault-ssh-helper, step 3)", prompt.Via[0])
	}
	for _, v := range vaults {
		switch {
		case !v.args.TOTP:
			c.r.fail("order", fix,
				"%s: %s asks for a password before pam_vault runs, and pam_vault then takes that password as the OTP (pam_get_authtok): no OTP login can succeed", prompt.Where(), prompt.Module)
			return
		case v.args.UseFirstPass || v.args.TryFirstPass:
			c.r.fail("order", fmt.Sprintf("remove use_first_pass and try_first_pass from the line at %s", v.rule.At),
				"%s: pam_vault in TOTP mode with use_first_pass or try_first_pass takes the password %s collected as the code: no login can succeed", v.rule.Where(), prompt.Module)
			return
		}
	}
}

// scenario is a guess of every module's result for one kind of login
// attempt by user ("" for a user no line names): pam_vault returns
// vaultCode, modules that check other secrets return others, pam_deny and
// pam_rootok (the user is not root) refuse, a pam_succeed_if line that
// tests the user name only answers for user (succeedIfUser), a module that
// is not installed gives PAM_MODULE_UNKNOWN, and every other module
// (pam_env, pam_faillock, pam_permit, ...) succeeds. A password
// module that runs after pam_vault accepted an OTP refuses: libpam's
// pam_get_authtok, which pam_unix and pam_vault both use, hands it the
// token pam_vault stored, the OTP, instead of prompting again (measured
// with Debian's libpam 1.5.2: one prompt, pam_unix then failing).
func (c *stackCheck) scenario(user string, vaultCode, others Code) func(Rule) Code {
	otpTaken := false
	return func(r Rule) Code {
		if fi, ok := c.f.Modules[modulePath(c.f.ModuleDir, r.Module)]; ok && fi.Err != nil {
			return ModuleUnknown
		}
		switch {
		case isVault(r):
			// Only an accepted token is known to be an OTP; a refused one
			// may be the user's password, typed at pam_vault's prompt.
			if args, _, err := config.ParseArgs(r.Args); err == nil && !args.TOTP && vaultCode == Success {
				otpTaken = true
			}
			return vaultCode
		case otpTaken && slices.Contains(passwordModules, r.ModuleName()):
			return AuthErr
		case isFactor(r):
			return others
		case r.ModuleName() == "pam_deny", r.ModuleName() == "pam_rootok":
			return AuthErr
		}
		if code, ok := succeedIfUser(r, user); ok {
			return code
		}
		return Success
	}
}

// succeedIfUser answers for a login by user ("" for a user no line names)
// what the pam_succeed_if line r returns, when each of its conditions tests
// the user name (user = NAME, user != NAME, user in A:B, user notin A:B):
// PAM_SUCCESS when all hold, PAM_AUTH_ERR when one does not. ok is false
// for any other line, and for use_uid, which tests the calling user.
func succeedIfUser(r Rule, user string) (code Code, ok bool) {
	conds, ok := userConditions(r)
	if !ok {
		return 0, false
	}
	for _, c := range conds {
		holds := false
		switch c.op {
		case "=", "!=":
			holds = user == c.value
		case "in", "notin":
			holds = slices.Contains(strings.Split(c.value, ":"), user)
		}
		if c.op == "!=" || c.op == "notin" {
			holds = !holds
		}
		if !holds {
			return AuthErr, true
		}
	}
	return Success, true
}

// userCondition is one "user OP VALUE" test of pam_succeed_if.
type userCondition struct{ op, value string }

// userConditions returns the conditions of a pam_succeed_if line r when
// every one of them tests the user name; ok is false otherwise.
func userConditions(r Rule) (conds []userCondition, ok bool) {
	if r.ModuleName() != "pam_succeed_if" {
		return nil, false
	}
	var rest []string
	for _, a := range r.Args {
		switch a {
		case "debug", "quiet", "quiet_fail", "quiet_success", "audit":
		case "use_uid":
			return nil, false
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 || len(rest)%3 != 0 {
		return nil, false
	}
	for i := 0; i < len(rest); i += 3 {
		field, op, value := rest[i], rest[i+1], rest[i+2]
		if field != "user" || !slices.Contains([]string{"=", "!=", "in", "notin"}, op) {
			return nil, false
		}
		conds = append(conds, userCondition{op, value})
	}
	return conds, true
}

// namedUsers returns the users that the pam_succeed_if lines of rules name
// in their user conditions, in order, once each.
func namedUsers(rules []Rule) []string {
	var users []string
	for _, r := range rules {
		conds, _ := userConditions(r)
		for _, c := range conds {
			for _, u := range strings.Split(c.value, ":") {
				if u != "" && !slices.Contains(users, u) {
					users = append(users, u)
				}
			}
		}
	}
	return users
}

// passwordAfterOTP returns a password module that ran in out after
// pam_vault in OTP mode: pam_get_authtok hands it the token pam_vault
// stored. fallback asks of a run in which Vault could not answer.
func (c *stackCheck) passwordAfterOTP(out Outcome) (Rule, bool) {
	taken := false
	for _, i := range out.Ran {
		r := c.auth[i]
		if isVault(r) {
			args, _, err := config.ParseArgs(r.Args)
			taken = taken || err == nil && !args.TOTP
		} else if taken && slices.Contains(passwordModules, r.ModuleName()) {
			return r, true
		}
	}
	return Rule{}, false
}

// outcomes runs the auth stack as libpam would for the attempts that
// matter: everything right, pam_vault refusing, and (TOTP with nullok) a
// user without a key.
func (c *stackCheck) outcomes(vaults []vault) {
	names := func(out Outcome, pick func(Rule) bool) []string {
		var s []string
		for _, i := range out.Ran {
			if pick(c.auth[i]) && !slices.Contains(s, c.auth[i].Module) {
				s = append(s, c.auth[i].Module)
			}
		}
		return s
	}
	ran := func(out Outcome) string {
		return strings.Join(names(out, func(Rule) bool { return true }), ", ")
	}
	good := Simulate(c.auth, c.scenario("", Success, Success))
	if p, ok := c.passwordAfterOTP(good); ok && good.Code != Success {
		c.r.fail("order", "end the stack when pam_vault succeeds (the control [success=done default=die]), or remove the password module after it",
			"%s: %s runs after pam_vault accepted the OTP and is handed the OTP as the password (pam_get_authtok does not prompt again), so it refuses: nobody can log in", p.Where(), p.Module)
		return
	}
	if good.Code != Success {
		c.r.fail("stack", "make the auth stack succeed when every module does: check the controls, jumps and pam_deny lines, and that every module is installed",
			"even with a valid code and every other check passing, the %s auth stack returns %s (modules run: %s): nobody can log in", c.f.Service, good.Code, ran(good))
		return
	}
	refused := Simulate(c.auth, c.scenario("", AuthErr, Success))
	fix := "make pam_vault's line fail the stack when pam_vault fails (requisite, or [default=ok]), and let no line before it end the stack (sufficient, success=done)"
	if refused.Code == Success {
		others := names(refused, isFactor)
		if len(others) == 0 {
			c.r.fail("bypass", fix, "the %s auth stack succeeds when pam_vault refuses, and no other module checks anything: anyone logs in", c.f.Service)
		} else {
			c.r.warn("bypass", fix, "the %s auth stack succeeds when pam_vault refuses: %s alone log in", c.f.Service, strings.Join(others, ", "))
		}
	} else {
		c.r.ok("stack", "the %s auth stack succeeds with a valid code and fails with %s when pam_vault refuses", c.f.Service, refused.Code)
		c.exemptUsers(fix, names)
		c.fallback()
	}
	for _, v := range vaults {
		if !v.args.NullOK {
			continue
		}
		if !v.args.TOTP {
			// ParseArgs accepts nullok in either mode; it means something
			// only in TOTP mode.
			continue
		}
		nokey := Simulate(c.auth, c.scenario("", Ignore, AuthErr))
		if nokey.Code == Success {
			c.r.fail("nullok", fmt.Sprintf("remove nullok from the line at %s", v.rule.At),
				"%s: nullok, and for a user with no TOTP key in Vault the stack succeeds with no other module checking anything: such users log in with no code at all", v.rule.Where())
		} else {
			c.r.warn("nullok", fmt.Sprintf("enrol every user (pam-vault-check enroll), then remove nullok from the line at %s", v.rule.At),
				"%s: nullok: a user with no TOTP key in Vault skips the code (pam_vault returns PAM_IGNORE)", v.rule.Where())
		}
	}
}

// fallback warns of a password module that runs after pam_vault in OTP
// mode returned PAM_AUTHINFO_UNAVAIL. pam_vault asks Vault only about a
// token shaped like an OTP, which it stored as PAM_AUTHTOK, so the
// password module is handed the OTP. The stack is run for a user no line
// names, then for each named user; one finding says it.
func (c *stackCheck) fallback() {
	for _, u := range append([]string{""}, namedUsers(c.auth)...) {
		p, ok := c.passwordAfterOTP(Simulate(c.auth, c.scenario(u, AuthinfoUnavail, Success)))
		if !ok {
			continue
		}
		who := "the user"
		if u != "" {
			who = u
		}
		c.r.warn("fallback", "let a named break-glass account skip pam_vault instead (README: Break-glass stack)",
			"%s: when Vault cannot answer, %s runs after pam_vault and is handed the OTP %s typed as the password (pam_get_authtok does not prompt again), so this fall-back lets nobody in; and a typed password never gets that far, as pam_vault refuses it before asking Vault", p.Where(), p.Module, who)
		return
	}
}

// exemptUsers reports the users a pam_succeed_if line names for whom the
// auth stack succeeds although pam_vault refuses, as README's break-glass
// stack does for its one local account: a finding for each, a failure
// when no other module checks anything for that user.
func (c *stackCheck) exemptUsers(fix string, names func(Outcome, func(Rule) bool) []string) {
	for _, u := range namedUsers(c.auth) {
		out := Simulate(c.auth, c.scenario(u, AuthErr, Success))
		if out.Code != Success {
			continue
		}
		others := names(out, isFactor)
		if len(others) == 0 {
			c.r.fail("bypass", fix, "for user %s the %s auth stack succeeds when pam_vault refuses, and no other module checks anything: anyone logs in as %s", u, c.f.Service, u)
			continue
		}
		vault := "pam_vault refuses"
		if !slices.ContainsFunc(out.Ran, func(i int) bool { return isVault(c.auth[i]) }) {
			vault = "pam_vault does not run"
		}
		c.r.ok("exempt", "user %s logs in with %s alone: %s for %s (a break-glass account, README: Break-glass stack)", u, strings.Join(others, ", "), vault, u)
	}
}

// withSSHD checks v against how sshd lets users log in.
func (c *stackCheck) withSSHD(v vault, contexts []AuthSettings) {
	for _, a := range contexts {
		if a.PasswordBesideKbd() && v.rule.Actions[AuthErr] != ActionOK {
			c.r.warn("control", fmt.Sprintf("write the line at %s as `auth [default=ok] %s`, or set PasswordAuthentication no (README: Migrating from vault-ssh-helper, step 4)", v.rule.At, strings.Join(append([]string{v.rule.Module}, v.rule.Args...), " ")),
				"%s: control %s while sshd offers password and keyboard-interactive authentication through PAM (%s): after a failed password attempt, a valid code through keyboard-interactive on the same connection is accepted and then dropped (\"PAM: pam_setcred(): Permission denied\")",
				v.rule.Where(), v.rule.Control, a.context())
			break
		}
	}
	if !v.args.TOTP {
		return
	}
	alone := Simulate(c.auth, c.scenario("", Success, AuthErr)).Code == Success
	for _, a := range contexts {
		in := a.context()
		list, ok := a.PAMOnlyList()
		switch {
		case ok && alone:
			c.r.fail("totp-alone", fmt.Sprintf("require a key first: `AuthenticationMethods publickey,keyboard-interactive:pam` at %s, or ask for the password before pam_vault in the PAM service", a.MethodsAt),
				"a TOTP code alone logs in: AuthenticationMethods %s (%s) lets %s complete a login, and the %s auth stack accepts pam_vault's code with no other factor",
				a.MethodsText(), in, strings.Join(list, ","), c.f.Service)
		case ok:
			c.r.ok("totp-alone", "%s: %s completes a login through PAM alone, and the auth stack asks for another factor besides the code", in, strings.Join(list, ","))
		case len(a.PAMMethods()) > 0:
			c.r.ok("totp-alone", "%s: AuthenticationMethods %s asks for another method before or after the code", in, a.MethodsText())
		}
	}
}

// hostAddress explains, for a local service, which IP an OTP must carry.
func (c *stackCheck) hostAddress() {
	if c.f.LocalAddrsErr != nil {
		c.r.fail("host-address", "make sure the host's interfaces can be listed (run as root, with /proc mounted)",
			"cannot list the host's addresses (%v): pam_vault cannot check an OTP's IP either", c.f.LocalAddrsErr)
		return
	}
	// Loopback last: an OTP for it works, but users ask for the address
	// they know the host by.
	var addrs, loopback []string
	for _, a := range c.f.LocalAddrs {
		if a.IsLoopback() {
			loopback = append(loopback, a.String())
		} else {
			addrs = append(addrs, a.String())
		}
	}
	addrs = append(addrs, loopback...)
	const most = 8
	if len(addrs) > most {
		addrs = append(addrs[:most], fmt.Sprintf("and %d more", len(addrs)-most))
	}
	c.r.ok("host-address", "for %s the OTP must be issued for an address this host holds (or one inside allowed_cidr_list): %s; for example `vault write ssh/creds/ROLE ip=%s username=USER`",
		c.f.Service, strings.Join(addrs, ", "), firstOr(addrs, "ADDRESS"))
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

// rootCause is the innermost error of err, for short messages ("no such
// file or directory").
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
