package security

import (
	"net/http"
	"testing"

	"pam_vault/test/security/faultproxy"
)

// TestSecondAddress configures two addresses, "first, second", where first
// is a fault proxy and second a recorder in front of the real Vault. A first
// address that cannot answer must leave time for the second within the one
// deadline; a first address that answered about the OTP, even badly, is
// final, and the second is never asked.
func TestSecondAddress(t *testing.T) {
	e := setup(t)
	first, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	refused, err := faultproxy.RefusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	notFound := faultproxy.Respond(http.StatusBadRequest, `{"errors":["OTP not found"]}`)
	noData := faultproxy.Respond(http.StatusOK, `{"request_id":"x"}`)
	for _, tc := range []struct {
		name       string
		firstAddr  string // "" for the fault proxy
		fault      faultproxy.Fault
		want       string
		secondAsks int
	}{
		{"first refuses", refused, faultproxy.Forward(), "PAM_SUCCESS", 1},
		{"first never answers", "", faultproxy.Blackhole(), "PAM_SUCCESS", 1},
		{"first stalls the body", "", faultproxy.StallBody(), "PAM_SUCCESS", 1},
		{"first is sealed", "", faultproxy.Respond(http.StatusServiceUnavailable, `{"errors":["Vault is sealed"]}`), "PAM_SUCCESS", 1},
		{"first says OTP not found", "", notFound, "PAM_AUTH_ERR", 0},
		{"first answers 200 without data", "", noData, "PAM_AUTHINFO_UNAVAIL", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.firstAddr
			if addr == "" {
				addr = first.URL
			}
			svc, _ := e.service(t, "two", config(addr+", "+second.URL, faultTimeout.String()))
			first.SetFault(tc.fault)
			first.Reset()
			second.Reset()
			otp := e.otp(t)
			r := e.pamtester(t, svc, otp, nil)
			expect(t, r, tc.want)
			withinDeadline(t, r)
			if tc.firstAddr == "" && first.Conns() == 0 {
				t.Fatalf("the first address was not tried:\n%s", r.Output)
			}
			if n := len(second.Requests()); n != tc.secondAsks {
				t.Fatalf("the second address got %d requests, want %d\n%s", n, tc.secondAsks, r.Output)
			}
			if tc.secondAsks == 0 {
				// The real Vault was never asked, so the OTP is still
				// good: the second address alone accepts it.
				alone, _ := e.service(t, "second-alone", config(second.URL, faultTimeout.String()))
				expect(t, e.pamtester(t, alone, otp, nil), "PAM_SUCCESS")
			}
		})
	}
}
