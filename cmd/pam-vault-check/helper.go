package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"pam_vault/internal/engine"
)

// runHelper serves the PAM module's fallback path: one request in, one
// verdict out. The module starts it with an empty environment and reads the
// verdict under a hard deadline; stderr goes nowhere. It takes no arguments.
//
// It starts in "/": the adapter spawns it there, and it moves there itself
// when started otherwise, so that nothing it opens can depend on the working
// directory of the process that authenticates (in su and sudo, the user's).
func runHelper(_ []string, stdin io.Reader, stdout, _ io.Writer) int {
	var v engine.Verdict
	cdErr := os.Chdir("/")
	req, err := engine.ReadRequest(stdin)
	if err == nil && cdErr != nil {
		err = fmt.Errorf("cannot change to the root directory: %w", cdErr)
	}
	if err != nil {
		v = engine.Failure(fmt.Errorf("helper: %w", err))
	} else {
		v = engine.Decide(context.Background(), req)
	}
	if _, err := stdout.Write(engine.AppendVerdict(nil, v)); err != nil {
		return 1
	}
	return 0
}
