package doctor

import (
	"fmt"
	"strconv"
	"strings"
)

// Code is a PAM return code, numbered as in Linux-PAM's _pam_types.h.
type Code int

// The PAM return codes the checks name.
const (
	Success         Code = 0  // PAM_SUCCESS
	ServiceErr      Code = 3  // PAM_SERVICE_ERR
	SystemErr       Code = 4  // PAM_SYSTEM_ERR
	PermDenied      Code = 6  // PAM_PERM_DENIED
	AuthErr         Code = 7  // PAM_AUTH_ERR
	AuthinfoUnavail Code = 9  // PAM_AUTHINFO_UNAVAIL
	Ignore          Code = 25 // PAM_IGNORE
	ModuleUnknown   Code = 28 // PAM_MODULE_UNKNOWN
)

// codeNames are libpam's names for the return codes in a [value=action]
// control, in its order: a control token is matched against them by
// prefix, first match wins, as libpam does. The last, "default", is not a
// code but stands for every code not named.
var codeNames = []string{
	"success", "open_err", "symbol_err", "service_err", "system_err",
	"buf_err", "perm_denied", "auth_err", "cred_insufficient",
	"authinfo_unavail", "user_unknown", "maxtries", "new_authtok_reqd",
	"acct_expired", "session_err", "cred_unavail", "cred_expired",
	"cred_err", "no_module_data", "conv_err", "authtok_err",
	"authtok_recover_err", "authtok_lock_busy", "authtok_disable_aging",
	"try_again", "ignore", "abort", "authtok_expired", "module_unknown",
	"bad_item", "conv_again", "incomplete",
	"default",
}

// numCodes is libpam's _PAM_RETURN_VALUES.
const numCodes = 32

func (c Code) String() string {
	if c >= 0 && int(c) < numCodes {
		return "PAM_" + strings.ToUpper(codeNames[c])
	}
	return fmt.Sprintf("PAM code %d", int(c))
}

// Action is what libpam does with a module's return code: one of the
// named actions below, or a positive number of entries to jump over.
type Action int

// libpam's actions, numbered as it numbers them.
const (
	ActionIgnore Action = 0
	ActionOK     Action = -1
	ActionDone   Action = -2
	ActionBad    Action = -3
	ActionDie    Action = -4
	ActionReset  Action = -5
	actionUndef  Action = -6
)

// actionNames are libpam's action words, indexed by -Action.
var actionNames = []string{"ignore", "ok", "done", "bad", "die", "reset"}

func (a Action) String() string {
	if a > 0 {
		return strconv.Itoa(int(a))
	}
	if -a < Action(len(actionNames)) {
		return actionNames[-a]
	}
	return "undefined"
}

// Actions maps each return code to an action.
type Actions [numCodes]Action

func uniformActions(a Action) Actions {
	var out Actions
	for i := range out {
		out[i] = a
	}
	return out
}

// fillDefault sets every code without an action to a, as libpam's
// _pam_set_default_control.
func (as *Actions) fillDefault(a Action) {
	for i := range as {
		if as[i] == actionUndef {
			as[i] = a
		}
	}
}

// ParseControl returns the actions of a control field: one of the words
// required, requisite, sufficient, optional (any case), or the text of a
// [value=action ...] control without its brackets. A control libpam cannot
// parse makes every code "bad", which the error explains.
func ParseControl(control string) (Actions, error) {
	as := uniformActions(actionUndef)
	switch strings.ToLower(control) {
	case "required":
		as[Success], as[12], as[Ignore] = ActionOK, ActionOK, ActionIgnore
		as.fillDefault(ActionBad)
		return as, nil
	case "requisite":
		as[Success], as[12], as[Ignore] = ActionOK, ActionOK, ActionIgnore
		as.fillDefault(ActionDie)
		return as, nil
	case "optional":
		as[Success], as[12] = ActionOK, ActionOK
		as.fillDefault(ActionIgnore)
		return as, nil
	case "sufficient":
		as[Success], as[12] = ActionDone, ActionDone
		as.fillDefault(ActionIgnore)
		return as, nil
	}
	if err := parseValueActions(&as, control); err != nil {
		return uniformActions(ActionBad), fmt.Errorf("control %q: %v; libpam treats every result of this line as a failure", control, err)
	}
	as.fillDefault(ActionBad)
	return as, nil
}

// parseValueActions reads value=action pairs into as, as libpam's
// _pam_parse_control does.
func parseValueActions(as *Actions, s string) error {
	isSpace := func(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r' }
	i := 0
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skip()
		if i == len(s) {
			return nil
		}
		code := -1
		for c, name := range codeNames {
			if strings.HasPrefix(s[i:], name) {
				code = c
				i += len(name)
				break
			}
		}
		if code < 0 || i == len(s) {
			return fmt.Errorf("expecting a return value at %q", s[min(i, len(s)):])
		}
		skip()
		if i == len(s) || s[i] != '=' {
			return fmt.Errorf("expecting '=' at %q", s[i:])
		}
		i++
		skip()
		if i == len(s) {
			return fmt.Errorf("expecting an action after %q", s)
		}
		act, found := Action(0), false
		for a, name := range actionNames {
			if strings.HasPrefix(s[i:], name) {
				act, found = Action(-a), true
				i += len(name)
				break
			}
		}
		if !found {
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i {
				return fmt.Errorf("expecting an action or a jump number at %q", s[i:])
			}
			n, err := strconv.Atoi(s[i:j])
			if err != nil || n == 0 {
				return fmt.Errorf("jump %q is not a positive number", s[i:j])
			}
			act, i = Action(n), j
		}
		if code == numCodes {
			as.fillDefault(act)
		} else {
			as[code] = act
		}
	}
}

// Outcome is the result of running a module stack in a simulation.
type Outcome struct {
	// Code is what pam_authenticate (or the stack's other function)
	// returns.
	Code Code
	// Ran are the indexes of the rules that were called, in order.
	Ran []int
}

// Simulate runs rules, the stack of one module type, the way libpam 1.5's
// _pam_dispatch_aux does (Debian's 045 patch included: a jump counts as
// "ignore"), with result giving each rule's return code. It does not
// freeze or replay chains: it answers what one pam_authenticate returns.
func Simulate(rules []Rule, result func(Rule) Code) Outcome {
	type state struct {
		positive, negative bool
		status             Code
	}
	var out Outcome
	undef := state{status: PermDenied}
	cur := undef
	saved := make([]state, maxSubstack+1)
	prevLevel := 0
	for i := 0; i < len(rules); i++ {
		h := rules[i]
		level := h.Level
		if prevLevel < level && level < len(saved) {
			saved[level] = cur
		}
		prevLevel = level
		if h.Substack {
			continue
		}
		var code Code
		if h.Broken != "" {
			code = PermDenied
		} else {
			out.Ran = append(out.Ran, i)
			code = result(h)
		}
		action := ActionBad
		if code >= 0 && code < numCodes {
			action = h.Actions[code]
		} else {
			code = PermDenied
		}
		decided := false
		switch action {
		case ActionReset:
			if level < len(saved) {
				cur = saved[level]
			}
		case ActionOK, ActionDone:
			// libpam's exception for PAM_IGNORE applies only when it
			// replays a frozen chain, which this simulation never does.
			if !cur.positive && !cur.negative || cur.positive && cur.status == Success {
				cur = state{positive: true, status: code}
			}
			decided = cur.positive && action == ActionDone
		case ActionBad, ActionDie:
			if !cur.negative {
				cur = state{negative: true, status: code}
				if code == Ignore {
					cur.status = PermDenied
				}
			}
			decided = action == ActionDie
		case ActionIgnore:
		default:
			n := int(action)
			for n > 0 && i+1 < len(rules) && rules[i+1].Level >= level {
				i++
				for i+1 < len(rules) && rules[i+1].Level > level {
					i++
				}
				n--
			}
			if n > 0 {
				// libpam logs "bad jump in stack" and fails.
				cur = state{negative: true, status: PermDenied}
			}
		}
		if decided {
			for i+1 < len(rules) && rules[i+1].Level >= level {
				i++
			}
		}
	}
	if cur.status == Success && !cur.positive {
		cur.status = PermDenied
	}
	out.Code = cur.status
	return out
}
