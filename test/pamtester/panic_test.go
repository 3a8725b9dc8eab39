package pamtester

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
)

// TestPanicStopsAtTheBoundary: a panic inside the engine must not unwind
// into the host process (DESIGN.md invariant 7). A NULL request makes the
// Go side fault on its first read; the exported function must recover and
// answer PAM_SERVICE_ERR, and the C caller must keep running.
func TestPanicStopsAtTheBoundary(t *testing.T) {
	e := setup(t)
	bin := filepath.Join(t.TempDir(), "enginepanic")
	if err := pamtest.CompileC(bin, "testdata/enginepanic.c"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, filepath.Join(e.build, "pam_vault_go.so")).CombinedOutput()
	if err != nil {
		t.Fatalf("the host process died: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "result 3\n") || !strings.Contains(got, "internal error") || !strings.Contains(got, "still running") {
		t.Fatalf("want a PAM_SERVICE_ERR verdict for an internal error and a live caller, got:\n%s", got)
	}
}
