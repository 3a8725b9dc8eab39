package security

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// TestMisbehavingHelper puts a stand-in for pam-vault-check beside the
// module and forces the helper path. Whatever the helper does, answering
// garbage, a verdict out of range, more than a verdict, "success" and then
// dying, or nothing at all, the adapter must end in PAM_SERVICE_ERR with a
// line saying why, never in success and never in a hang: the two hanging
// helpers must be killed at the adapter's 35-second deadline, which the
// run limit of every PAM run (60 s) would catch if it failed.
func TestMisbehavingHelper(t *testing.T) {
	e := setup(t)
	cfg, err := pamtest.WriteConfig(e.dir, "bad-helper", config(e.vault.Addr, "2s"))
	if err != nil {
		t.Fatal(err)
	}
	const success = `printf '0\0\0accepted\0'`
	hung := 0
	for _, tc := range []struct {
		name   string
		script string // the helper's body, after it read the request; "" for no helper
		log    string
		hangs  bool // the login waits out the helper's 35 s deadline
	}{
		{"garbage", `printf 'not a verdict'`, "malformed answer from the helper", false},
		{"no terminators", `printf '0'`, "malformed answer from the helper", false},
		{"result out of range", `printf '7\0\0x\0'`, "malformed answer from the helper", false},
		{"bytes after the verdict", success + `; printf 'more'`, "malformed answer from the helper", false},
		{"empty answer", `exit 0`, "malformed answer from the helper", false},
		{"too large", `exec /usr/bin/head -c 5000 /dev/zero`, "helper answer too large", false},
		{"success, then exit status 1", success + `; exit 1`, "helper failed after answering", false},
		{"success, then killed", success + `; kill -9 $$`, "helper failed after answering", false},
		{"silent and hung", `exec /bin/sleep 600`, "helper gave no verdict within 35 s", true},
		{"success, then hung", success + `; exec /bin/sleep 600`, "helper gave no verdict within 35 s", true},
		{"missing", "", "cannot start", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Only the two cases that wait out the 35 s deadline run side
			// by side, started half a second apart: pam_wrapper gives each
			// process a /tmp/pam.X copy of the services and takes over a
			// directory whose owner it believes gone, so a pamtester that
			// starts while another exits may lose its service file and
			// run the "other" service instead.
			if tc.hangs {
				hung++
				delay := time.Duration(hung-1) * 500 * time.Millisecond
				t.Parallel()
				time.Sleep(delay)
			}
			dir := pamtest.Stage(t, "", "pam_vault.so", "pam_vault_go.so")
			if tc.script != "" {
				// A real helper reads the whole request before it answers.
				helper := "#!/bin/sh\n/bin/cat >/dev/null\n" + tc.script + "\n"
				if err := os.WriteFile(filepath.Join(dir, "pam-vault-check"), []byte(helper), 0o755); err != nil {
					t.Fatal(err)
				}
			} else if _, err := os.Stat("/usr/sbin/pam-vault-check"); err == nil {
				// The adapter falls back to its compiled-in SBINDIR.
				pamtest.Need(t, "an installed /usr/sbin/pam-vault-check stands in for the missing helper")
			}
			svc := "bad-helper-" + strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)
			line := "auth requisite " + filepath.Join(dir, "pam_vault.so") + " config=" + cfg + " dev debug helper"
			if _, err := e.serviceDir.Write(svc, line); err != nil {
				t.Fatal(err)
			}
			r := e.pamtester(t, svc, forgedOTP, nil)
			expect(t, r, "PAM_SERVICE_ERR")
			logged(t, r.SyslogTexts(), tc.log)
		})
	}
}
