// Command pam_vault is pam_vault's verdict engine, built with
// -buildmode=c-shared into pam_vault_go.so. The PAM adapter (cgo/pam_vault.c)
// loads it on first use in the authenticating process and calls its three
// exported functions, which start a login before the conversation and end
// it after; everything else lives in internal/engine.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../cgo
#include "pam_vault_engine.h"
*/
import "C"

import (
	"context"
	"errors"
	"sync"
	"time"
	"unsafe"

	"pam_vault/internal/config"
	"pam_vault/internal/engine"
)

// The adapter reads results, buffer sizes and limits through
// pam_vault_engine.h. Each line fails to compile (an index out of range)
// unless the Go value equals the header's: a result renumbered on one side
// only could otherwise turn a refusal into PAM_SUCCESS.
var (
	_ = [1]struct{}{}[int(engine.Success)-C.PAM_VAULT_SUCCESS]
	_ = [1]struct{}{}[int(engine.AuthErr)-C.PAM_VAULT_AUTH_ERR]
	_ = [1]struct{}{}[int(engine.Unavailable)-C.PAM_VAULT_UNAVAILABLE]
	_ = [1]struct{}{}[int(engine.ServiceErr)-C.PAM_VAULT_SERVICE_ERR]
	_ = [1]struct{}{}[int(engine.Ignore)-C.PAM_VAULT_IGNORE]
	_ = [1]struct{}{}[int(engine.MaxResult)-C.PAM_VAULT_RESULT_MAX]
	_ = [1]struct{}{}[engine.MaxMessage+1-C.PAM_VAULT_MESSAGE_SIZE]
	_ = [1]struct{}{}[engine.MaxLog+1-C.PAM_VAULT_LOG_SIZE]
	_ = [1]struct{}{}[engine.MaxRequest-C.PAM_VAULT_REQUEST_MAX]
	_ = [1]struct{}{}[engine.RequestFields-C.PAM_VAULT_REQUEST_FIELDS]
	_ = [1]struct{}{}[int(config.MaxTimeout/time.Second)-C.PAM_VAULT_MAX_TIMEOUT_S]
)

// prepared holds the logins pam_vault_begin started, by handle, until
// pam_vault_finish or pam_vault_cancel ends them.
var prepared = struct {
	sync.Mutex
	last   uint64
	logins map[uint64]*engine.Prepared
}{logins: map[uint64]*engine.Prepared{}}

// pam_vault_begin prepares a login from the module's arguments while the
// user is being asked for the token (engine.Prepare, then Connect) and
// returns its handle, never 0. It returns 0 only when it panicked;
// pam_vault_finish then decides from scratch.
//
//export pam_vault_begin
func pam_vault_begin(argc C.int, argv **C.char) (h C.ulonglong) {
	defer func() {
		if recover() != nil {
			h = 0
		}
	}()
	p := engine.Prepare(args(argc, argv))
	p.Connect()
	prepared.Lock()
	defer prepared.Unlock()
	prepared.last++
	prepared.logins[prepared.last] = p
	return C.ulonglong(prepared.last)
}

// take removes the login of handle h from the table; nil when there is
// none.
func take(h C.ulonglong) *engine.Prepared {
	prepared.Lock()
	defer prepared.Unlock()
	p := prepared.logins[uint64(h)]
	delete(prepared.logins, uint64(h))
	return p
}

// pam_vault_finish fills out with the verdict for req on the login that
// pam_vault_begin prepared as h, or, when h names none, on req alone. A
// panic is turned into a PAM_SERVICE_ERR verdict: it must never unwind into
// the host process.
//
//export pam_vault_finish
func pam_vault_finish(h C.ulonglong, req *C.struct_pam_vault_request, out *C.struct_pam_vault_verdict) {
	p := take(h)
	defer func() {
		if r := recover(); r != nil {
			if p != nil {
				p.Close()
			}
			fill(out, engine.Failure(errors.New("internal error in the engine")))
		}
	}()
	r := request(req)
	if p == nil {
		p = engine.Prepare(r.Args)
	}
	fill(out, p.Decide(context.Background(), r))
}

// pam_vault_cancel ends the login of handle h without a verdict: the
// conversation failed. What pam_vault_begin opened is closed before it
// returns.
//
//export pam_vault_cancel
func pam_vault_cancel(h C.ulonglong) {
	defer func() { _ = recover() }()
	if p := take(h); p != nil {
		p.Close()
	}
}

func request(req *C.struct_pam_vault_request) engine.Request {
	r := engine.Request{
		User:          goString(req.user),
		Token:         goString(req.authtok),
		RemoteHost:    goString(req.rhost),
		Service:       goString(req.service),
		SSHConnection: goString(req.ssh_connection),
	}
	r.Args = args(req.argc, req.argv)
	return r
}

// args copies the module's arguments.
func args(argc C.int, argv **C.char) []string {
	var a []string
	if argc > 0 && argv != nil {
		for _, s := range unsafe.Slice(argv, int(argc)) {
			a = append(a, goString(s))
		}
	}
	return a
}

func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

func fill(out *C.struct_pam_vault_verdict, v engine.Verdict) {
	out.result = C.int(v.Result)
	copyString(unsafe.Slice((*byte)(unsafe.Pointer(&out.message[0])), len(out.message)), v.Message)
	copyString(unsafe.Slice((*byte)(unsafe.Pointer(&out.log[0])), len(out.log)), v.Log)
}

// copyString writes s into the C buffer dst as a NUL-terminated string.
func copyString(dst []byte, s string) {
	n := copy(dst[:len(dst)-1], engine.Clip(s, len(dst)-1))
	dst[n] = 0
}

func main() {}
