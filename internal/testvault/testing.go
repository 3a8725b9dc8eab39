package testvault

import (
	"testing"

	"pam_vault/internal/pamtest"
)

// StartT starts a server for t and closes it when t ends. If the server
// cannot start, t fails when the CI environment variable is set and is
// skipped otherwise, so a missing Vault binary only skips outside CI. The
// server's log tail is logged if t failed.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		pamtest.Need(t, "testvault: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vault log tail (%s):\n%s", s.LogPath(), s.LogTail())
		}
		s.Close()
	})
	return s
}
