// Command pam_vault is pam_vault's verdict engine, built with
// -buildmode=c-shared into pam_vault_go.so. The PAM adapter (cgo/pam_vault.c)
// loads it on first use in the authenticating process and calls its one
// exported function; everything else lives in internal/engine.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../cgo
#include "pam_vault_engine.h"
*/
import "C"

import (
	"context"
	"errors"
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

// pam_vault_decide fills out with the verdict for req. A panic is turned into
// a PAM_SERVICE_ERR verdict: it must never unwind into the host process.
//
//export pam_vault_decide
func pam_vault_decide(req *C.struct_pam_vault_request, out *C.struct_pam_vault_verdict) {
	defer func() {
		if p := recover(); p != nil {
			fill(out, engine.Failure(errors.New("internal error in the engine")))
		}
	}()
	fill(out, engine.Decide(context.Background(), request(req)))
}

func request(req *C.struct_pam_vault_request) engine.Request {
	r := engine.Request{
		User:          goString(req.user),
		Token:         goString(req.authtok),
		RemoteHost:    goString(req.rhost),
		Service:       goString(req.service),
		SSHConnection: goString(req.ssh_connection),
	}
	if req.argc > 0 && req.argv != nil {
		for _, a := range unsafe.Slice(req.argv, int(req.argc)) {
			r.Args = append(r.Args, goString(a))
		}
	}
	return r
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
