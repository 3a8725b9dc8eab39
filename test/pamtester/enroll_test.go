package pamtester

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

// The TOTP engine the enrollment tests create keys in, and the policy
// README gives the operator who enrolls users, for that mount.
const (
	enrollMount    = "totp-enroll"
	operatorPolicy = `path "totp-enroll/keys/*" { capabilities = ["create", "update", "read"] }`
)

// enrollSetup is what the enrollment tests share: the TOTP mount on the
// shared Vault, a config file naming it, an operator token that holds only
// operatorPolicy, and the module's side of the same mount: a config whose
// token_file holds a token with README's verifying policy only.
type enrollSetup struct {
	config      string // enroll's config
	token       string // the operator's token
	loginConfig string // the module's TOTP config for enrollMount
}

var (
	enrollShared    *enrollSetup
	enrollSharedErr error
	enrollOnce      sync.Once
)

// enrolling returns the shared enrollment setup, making it on first use.
func (e *env) enrolling(t *testing.T) *enrollSetup {
	t.Helper()
	if err := pamtest.Tools("zbarimg"); err != nil {
		pamtest.Need(t, "%v", err)
	}
	enrollOnce.Do(func() {
		s := &enrollSetup{}
		enrollSharedErr = func() error {
			login, err := e.newTOTPEnv(enrollMount, "enroll-verify", "enroll-login")
			if err != nil {
				return err
			}
			s.loginConfig = login.config
			if err := e.vault.WritePolicy("enroll-operator", operatorPolicy); err != nil {
				return err
			}
			if s.token, err = e.vault.CreateToken([]string{"enroll-operator"}, time.Hour); err != nil {
				return err
			}
			s.config, err = pamtest.WriteConfig(e.dir, "enroll", e.configText(fmt.Sprintf("totp_mount_point = %q", enrollMount)))
			return err
		}()
		enrollShared = s
	})
	if enrollSharedErr != nil {
		t.Fatal(enrollSharedErr)
	}
	return enrollShared
}

// runEnroll runs pam-vault-check enroll with args and the config, with
// token in VAULT_TOKEN (none when empty) and home as HOME. The environment
// also names another Vault and a proxy, which enroll must not use: the
// config file says where Vault is.
func (e *env) runEnroll(t *testing.T, s *enrollSetup, token, home string, args ...string) (int, string) {
	t.Helper()
	environ := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"VAULT_ADDR=http://127.0.0.1:1",
		"HTTP_PROXY=http://127.0.0.1:1",
		"HTTPS_PROXY=http://127.0.0.1:1",
	}
	if token != "" {
		environ = append(environ, "VAULT_TOKEN="+token)
	}
	args = append([]string{"enroll", "-config=" + s.config, "-dev"}, args...)
	return e.checkEnv(t, environ, "", args...)
}

// enrolledUsers numbers the users the tests enroll, so that every run, of
// -count=N as well, enrolls users the shared Vault has no key for.
var enrolledUsers atomic.Int64

// newUser returns a user name that starts with name and has no key yet.
func newUser(name string) string {
	return fmt.Sprintf("%s-%d", name, enrolledUsers.Add(1))
}

// enrollUser enrolls user with the operator's token and returns the key an
// authenticator app gets from the URL enroll printed, and all it printed.
// It fails t unless enroll succeeded.
func (e *env) enrollUser(t *testing.T, user string, args ...string) (*otp.Key, string) {
	t.Helper()
	s := e.enrolling(t)
	code, out := e.runEnroll(t, s, s.token, t.TempDir(), append([]string{"-user=" + user}, args...)...)
	if code != 0 {
		t.Fatalf("enroll %s: exit %d\n%s", user, code, out)
	}
	key, err := otp.NewKeyFromURL(printedURL(t, out))
	if err != nil {
		t.Fatalf("enroll %s printed a URL an app cannot read: %v", user, err)
	}
	return key, out
}

// printedURL returns the one otpauth:// line of enroll's output.
func printedURL(t *testing.T, out string) string {
	t.Helper()
	var urls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "otpauth://") {
			urls = append(urls, l)
		}
	}
	if len(urls) != 1 {
		t.Fatalf("want one otpauth:// line, got %d:\n%s", len(urls), out)
	}
	return urls[0]
}

// authenticatorCode returns the code an authenticator app holding key shows
// at the given time.
func authenticatorCode(t *testing.T, key *otp.Key, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(key.Secret(), at, totp.ValidateOpts{
		Period: uint(key.Period()), Digits: key.Digits(), Algorithm: key.Algorithm(),
	})
	if err != nil {
		t.Fatalf("computing a code from the key: %v", err)
	}
	return code
}

// vaultAccepts reports whether Vault's TOTP engine says code is valid for
// user's key, asked with the root token as the module asks with its own.
// It fails t when Vault does not answer valid or invalid.
func (e *env) vaultAccepts(t *testing.T, user, code string) bool {
	t.Helper()
	var out struct {
		Data struct {
			Valid *bool `json:"valid"`
		} `json:"data"`
	}
	if err := e.vault.Do(http.MethodPut, enrollMount+"/code/"+user, map[string]string{"code": code}, &out); err != nil {
		t.Fatalf("validating a code of %s: %v", user, err)
	}
	if out.Data.Valid == nil {
		t.Fatalf("validating a code of %s: the answer has no data.valid", user)
	}
	return *out.Data.Valid
}

// auditedKeyURL returns the url of the last answer Vault gave to a write
// of path, from its raw audit log: what Vault really returned.
func (e *env) auditedKeyURL(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(e.vault.AuditLog())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var url string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var entry struct {
			Type    string `json:"type"`
			Request struct {
				Path      string `json:"path"`
				Operation string `json:"operation"`
			} `json:"request"`
			Response struct {
				Data struct {
					URL string `json:"url"`
				} `json:"data"`
			} `json:"response"`
		}
		if json.Unmarshal(sc.Bytes(), &entry) != nil {
			continue
		}
		if entry.Type == "response" && entry.Request.Path == path && entry.Request.Operation == "update" && entry.Response.Data.URL != "" {
			url = entry.Response.Data.URL
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if url == "" {
		t.Fatalf("the audit log shows no answer with a url to a write of %s", path)
	}
	return url
}

// auditedRequests counts the requests of Vault's raw audit log whose path
// contains part.
func (e *env) auditedRequests(t *testing.T, part string) int {
	t.Helper()
	b, err := os.ReadFile(e.vault.AuditLog())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		var entry struct {
			Type    string `json:"type"`
			Request struct {
				Path string `json:"path"`
			} `json:"request"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Type == "request" && strings.Contains(entry.Request.Path, part) {
			n++
		}
	}
	return n
}

// firstLines returns the first n lines of out.
func firstLines(out string, n int) string {
	lines := strings.SplitN(out, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// zbar decodes the QR code in the image file with zbarimg and returns its
// text.
func zbar(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("zbarimg", "--raw", "-q", "--nodbus", "-Sdisable", "-Sqrcode.enable", path).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code in %s: %v", path, err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// theme is a terminal's colours: its default foreground and background,
// and what it shows for the eight basic colours of SGR 30-37 and 40-47.
type theme struct {
	name    string
	fg, bg  color.RGBA
	palette [8]color.RGBA
}

// Two common themes: GNOME Terminal's Tango on a dark background, and
// Solarized light.
var themes = []theme{
	{
		name: "dark", fg: rgb(0xd3d7cf), bg: rgb(0x171421),
		palette: [8]color.RGBA{rgb(0x2e3436), rgb(0xcc0000), rgb(0x4e9a06), rgb(0xc4a000), rgb(0x3465a4), rgb(0x75507b), rgb(0x06989a), rgb(0xd3d7cf)},
	},
	{
		name: "light", fg: rgb(0x657b83), bg: rgb(0xfdf6e3),
		palette: [8]color.RGBA{rgb(0x073642), rgb(0xdc322f), rgb(0x859900), rgb(0xb58900), rgb(0x268bd2), rgb(0xd33682), rgb(0x2aa198), rgb(0xeee8d5)},
	},
}

func rgb(v uint32) color.RGBA {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// screenshot draws text as a terminal with theme th would: each cell four
// pixels wide and eight high, a half block inked in the foreground colour
// over the background, SGR colour codes applied, every other character left
// blank, with a margin of the terminal's own background around it all.
func screenshot(t *testing.T, text string, th theme) image.Image {
	t.Helper()
	const cellW, cellH, margin = 4, 8, 2
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	type cell struct {
		upper, lower color.RGBA
	}
	var grid [][]cell
	width := 0
	for _, line := range lines {
		fg, bg := th.fg, th.bg
		var row []cell
		for i := 0; i < len(line); {
			if strings.HasPrefix(line[i:], "\x1b[") {
				end := strings.IndexByte(line[i:], 'm')
				if end < 0 {
					t.Fatalf("unterminated escape in %q", line)
				}
				for _, p := range strings.Split(line[i+2:i+end], ";") {
					n, err := strconv.Atoi(p)
					switch {
					case err != nil && p != "":
						t.Fatalf("escape parameter %q in %q", p, line)
					case p == "" || n == 0:
						fg, bg = th.fg, th.bg
					case 30 <= n && n <= 37:
						fg = th.palette[n-30]
					case 40 <= n && n <= 47:
						bg = th.palette[n-40]
					case n == 39:
						fg = th.fg
					case n == 49:
						bg = th.bg
					default:
						t.Fatalf("enroll used SGR %d, which this test's terminal does not know", n)
					}
				}
				i += end + 1
				continue
			}
			r, size := utf8.DecodeRuneInString(line[i:])
			i += size
			c := cell{bg, bg}
			switch r {
			case '▀':
				c.upper = fg
			case '▄':
				c.lower = fg
			case '█':
				c = cell{fg, fg}
			}
			row = append(row, c)
		}
		grid = append(grid, row)
		width = max(width, len(row))
	}
	img := image.NewRGBA(image.Rect(0, 0, (width+2*margin)*cellW, (len(grid)+2*margin)*cellH))
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			img.SetRGBA(x, y, th.bg)
		}
	}
	for r, row := range grid {
		for c, cl := range row {
			x0, y0 := (c+margin)*cellW, (r+margin)*cellH
			for dy := range cellH {
				col := cl.upper
				if dy >= cellH/2 {
					col = cl.lower
				}
				for dx := range cellW {
					img.SetRGBA(x0+dx, y0+dy, col)
				}
			}
		}
	}
	return img
}

// writePNGFile writes img to a new file of t and returns its path.
func writePNGFile(t *testing.T, name string, img image.Image) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEnrollGivesAnAppTheKeyVaultHolds enrolls a user and reads the result
// as the user's authenticator app would: the PNG file and the terminal
// rendering, each decoded by a real QR reader, must hold exactly the URL
// Vault returned; and the user then logs in through real libpam, pam_vault
// in TOTP mode, with a code computed from that URL's secret, once.
func TestEnrollGivesAnAppTheKeyVaultHolds(t *testing.T) {
	e := setup(t)
	user := newUser("carol")
	pngPath := filepath.Join(t.TempDir(), user+".png")
	key, out := e.enrollUser(t, user, "-png="+pngPath, "-issuer=Example Corp")
	t.Logf("enroll printed:\n%s", out)

	url := e.auditedKeyURL(t, enrollMount+"/keys/"+user)
	if printed := printedURL(t, out); printed != url {
		t.Fatalf("enroll printed\n%s\nVault returned\n%s", printed, url)
	}
	if key.Issuer() != "Example Corp" || key.AccountName() != user {
		t.Fatalf("the app would show issuer %q, account %q; want Example Corp, %s", key.Issuer(), key.AccountName(), user)
	}

	info, err := os.Stat(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Fatalf("%s has mode %04o, want 0600: it holds the secret", pngPath, mode)
	}
	if got := zbar(t, pngPath); got != url {
		t.Fatalf("the PNG file decodes to\n%s\nwant Vault's URL\n%s", got, url)
	}
	for _, th := range themes {
		shot := writePNGFile(t, "terminal-"+th.name+".png", screenshot(t, out, th))
		if got := zbar(t, shot); got != url {
			t.Fatalf("the terminal rendering on a %s terminal decodes to\n%s\nwant Vault's URL\n%s", th.name, got, url)
		}
	}

	svc := e.service(t, "enroll-login", "auth requisite MODULE totp dev config="+e.enrolling(t).loginConfig)
	code := authenticatorCode(t, key, time.Now())
	o := e.pamtester(t, svc, user, code+"\n", nil, "setcred")
	expect(t, o, pamtesterOK)
	logged(t, o, "accepted Vault TOTP code", "user="+user)
	o = e.pamtester(t, svc, user, code+"\n", nil)
	expect(t, o, authErr)
	logged(t, o, "user="+user, "code rejected: already used")
}

// TestEnrollKeepsAnExistingKey shows that enroll refuses to replace a key
// without -force, leaving it working, and replaces it with -force.
func TestEnrollKeepsAnExistingKey(t *testing.T) {
	e := setup(t)
	s := e.enrolling(t)
	user := newUser("dave")
	first, _ := e.enrollUser(t, user)

	pngPath := filepath.Join(t.TempDir(), user+".png")
	code, out := e.runEnroll(t, s, s.token, t.TempDir(), "-user="+user, "-png="+pngPath)
	if code != 1 {
		t.Fatalf("second enroll without -force: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{user + " already has a TOTP key at totp-enroll/keys/" + user, "stop working", "nothing was changed", "-force"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the refusal does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "otpauth://") {
		t.Fatalf("the refusal printed a URL:\n%s", out)
	}
	if _, err := os.Lstat(pngPath); !os.IsNotExist(err) {
		t.Fatalf("the refused enroll left %s behind: %v", pngPath, err)
	}
	now := time.Now()
	if c := authenticatorCode(t, first, now); !e.vaultAccepts(t, user, c) {
		t.Fatalf("after the refusal Vault no longer accepts the first key's code %s", c)
	}

	second, out := e.enrollUser(t, user, "-force")
	if second.Secret() == first.Secret() {
		t.Fatal("-force returned the same secret")
	}
	if !strings.Contains(out, "replaced "+user+"'s previous key") {
		t.Fatalf("-force does not say it replaced a key:\n%s", out)
	}
	// The next period's code: the current one was used above, and Vault
	// refuses a used code before it looks at the key. Vault's skew of one
	// period accepts it now.
	next := now.Add(time.Duration(first.Period()) * time.Second)
	if c := authenticatorCode(t, first, next); e.vaultAccepts(t, user, c) {
		t.Fatalf("after -force Vault still accepts the first key's code %s", c)
	}
	if c := authenticatorCode(t, second, time.Now()); !e.vaultAccepts(t, user, c) {
		t.Fatalf("Vault refused the new key's code %s", c)
	}
}

// TestEnrollTokenAndPolicy shows where enroll takes the operator's token
// from and which capabilities it needs: read and update on keys/* (Vault
// checks update for every write of a TOTP key, as the engine has no
// existence check, so create alone is not enough).
func TestEnrollTokenAndPolicy(t *testing.T) {
	e := setup(t)
	s := e.enrolling(t)
	policies := map[string]string{
		"enroll-create-read": `path "totp-enroll/keys/*" { capabilities = ["create", "read"] }`,
		"enroll-update-only": `path "totp-enroll/keys/*" { capabilities = ["update"] }`,
		"enroll-verify-only": testvault.VerifyPolicy(enrollMount),
	}
	tokens := map[string]string{"operator": s.token}
	for name, rules := range policies {
		if err := e.vault.WritePolicy(name, rules); err != nil {
			t.Fatal(err)
		}
		tok, err := e.vault.CreateToken([]string{name}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	homeWithToken := t.TempDir()
	if err := os.WriteFile(filepath.Join(homeWithToken, ".vault-token"), []byte(s.token), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		user  string
		token string // VAULT_TOKEN
		home  string
		want  []string
		ok    bool
	}{
		{"token from ~/.vault-token", newUser("erin"), "", homeWithToken, []string{"with the token from " + filepath.Join(homeWithToken, ".vault-token")}, true},
		{"VAULT_TOKEN wins over ~/.vault-token", newUser("frank"), s.token, homeWithToken, []string{"with the token from VAULT_TOKEN"}, true},
		{"no token", newUser("gina"), "", t.TempDir(), []string{"no Vault token", "vault login"}, false},
		{"unknown token", newUser("hank"), "hvs.not-a-token", t.TempDir(), []string{"reading totp-enroll/keys/hank-", "Vault refused the token", "read and update"}, false},
		{"create and read are not enough", newUser("ivy"), tokens["enroll-create-read"], t.TempDir(), []string{"creating totp-enroll/keys/ivy-", "Vault refused the token", "permission denied"}, false},
		{"update without read", newUser("jack"), tokens["enroll-update-only"], t.TempDir(), []string{"reading totp-enroll/keys/jack-", "Vault refused the token"}, false},
		{"the module's verifying token", newUser("kate"), tokens["enroll-verify-only"], t.TempDir(), []string{"reading totp-enroll/keys/kate-", "Vault refused the token"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := e.runEnroll(t, s, tc.token, tc.home, "-user="+tc.user)
			t.Logf("exit %d:\n%s", code, firstLines(out, 2))
			if tc.ok != (code == 0) || (!tc.ok && code != 1) {
				t.Fatalf("exit %d, want ok=%v\n%s", code, tc.ok, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
			for _, tok := range tokens {
				if strings.Contains(out, tok) {
					t.Fatalf("the output shows a token:\n%s", out)
				}
			}
		})
	}
}

// TestEnrollRefusesWithoutAsking covers what enroll refuses before any
// request: a user name Vault cannot hold as a key (none reaches Vault's
// audit log), a missing TOTP engine, and a PNG file that exists.
func TestEnrollRefusesWithoutAsking(t *testing.T) {
	e := setup(t)
	s := e.enrolling(t)
	for _, user := range []string{"lee/x", "-mike", "nina smith", "ölaf"} {
		code, out := e.runEnroll(t, s, s.token, t.TempDir(), "-user="+user)
		if code != 64 || !strings.Contains(out, "cannot name a Vault TOTP key") {
			t.Fatalf("user %q: exit %d, want 64 and a clear error\n%s", user, code, out)
		}
	}
	for _, part := range []string{"lee", "-mike", "nina", "laf"} {
		if n := e.auditedRequests(t, part); n != 0 {
			t.Fatalf("Vault's audit log shows %d requests for %s after refused user names", n, part)
		}
	}

	existing := filepath.Join(t.TempDir(), "taken.png")
	if err := os.WriteFile(existing, []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	olga := newUser("olga")
	before := e.auditedRequests(t, enrollMount+"/keys/"+olga)
	code, out := e.runEnroll(t, s, s.token, t.TempDir(), "-user="+olga, "-png="+existing)
	if code != 1 || !strings.Contains(out, existing+" already exists") {
		t.Fatalf("existing PNG: exit %d, want 1 and a clear error\n%s", code, out)
	}
	if n := e.auditedRequests(t, enrollMount+"/keys/"+olga); n != before {
		t.Fatalf("enroll asked Vault about %s although it could not write the PNG file", olga)
	}
	if b, _ := os.ReadFile(existing); string(b) != "not yours" {
		t.Fatalf("enroll overwrote %s", existing)
	}

	noMount, err := pamtest.WriteConfig(e.dir, "enroll-nomount", e.configText(`totp_mount_point = "no-totp-here"`))
	if err != nil {
		t.Fatal(err)
	}
	code, out = e.checkEnv(t, []string{"HOME=" + t.TempDir(), "VAULT_TOKEN=" + e.vault.RootToken}, "",
		"enroll", "-config="+noMount, "-dev", "-user="+olga)
	if code != 1 || !strings.Contains(out, "no TOTP secrets engine answers at no-totp-here") {
		t.Fatalf("missing mount: exit %d, want 1 and a clear error\n%s", code, out)
	}
}
