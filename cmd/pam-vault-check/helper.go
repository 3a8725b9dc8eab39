package main

import (
	"context"
	"fmt"
	"io"

	"pam_vault/internal/engine"
)

// runHelper serves the PAM module's fallback path: one request in, one
// verdict out. The module starts it with an empty environment and reads the
// verdict under a hard deadline; stderr goes nowhere. It takes no arguments.
func runHelper(_ []string, stdin io.Reader, stdout, _ io.Writer) int {
	var v engine.Verdict
	req, err := engine.ReadRequest(stdin)
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
