package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"pam_vault/internal/engine"
)

// runHelper serves the PAM module's fallback path: one request in, one
// verdict out. The module starts it with an empty environment and reads the
// verdict under a hard deadline; stderr goes nowhere. It takes no arguments.
//
// The module sends the request's module arguments as soon as it has
// started the helper, before it asks the user for the token, and the rest
// once the user answered (internal/engine/wire.go); in between the helper
// prepares the login as the in-process engine does (engine.Prepare,
// Connect). When the module gives up instead, its end of stdin closes, and
// the helper exits after closing what it opened.
//
// It starts in "/": the adapter spawns it there, and it moves there itself
// when started otherwise, so that nothing it opens can depend on the working
// directory of the process that authenticates (in su and sudo, the user's).
func runHelper(_ []string, stdin io.Reader, stdout, _ io.Writer) int {
	var v engine.Verdict
	var p *engine.Prepared
	cdErr := os.Chdir("/")
	req, err := engine.ReadRequest(stdin, func(args []string) {
		if cdErr == nil {
			p = engine.Prepare(args)
			p.Connect()
		}
	})
	if err == nil && cdErr != nil {
		err = fmt.Errorf("cannot change to the root directory: %w", cdErr)
	}
	if p != nil && errors.Is(err, io.ErrUnexpectedEOF) {
		// The module gave up: the conversation failed.
		p.Close()
		return 1
	}
	if err != nil {
		if p != nil {
			p.Close()
		}
		v = engine.Failure(fmt.Errorf("helper: %w", err))
	} else {
		v = p.Decide(context.Background(), req)
	}
	if _, err := stdout.Write(engine.AppendVerdict(nil, v)); err != nil {
		return 1
	}
	return 0
}
