package enroll

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

// symbol builds a QR from rows of '#' (dark) and '.' (light).
func symbol(rows ...string) *QR {
	q := &QR{size: len(rows)}
	for _, r := range rows {
		for _, c := range r {
			q.dark = append(q.dark, c == '#')
		}
	}
	return q
}

// blank is a line of the terminal rendering with no dark module.
func blank(width int) string {
	return sgrBlackOnWhite + strings.Repeat(" ", width) + sgrReset
}

func TestTerminalHalfBlocks(t *testing.T) {
	// The quiet zone is even, so module rows 0 and 1 share the third line.
	const w = 2 + 2*QuietZone
	pad := strings.Repeat(" ", QuietZone)
	for _, tc := range []struct {
		name string
		rows []string
		want string // the two cells of module columns 0 and 1 on that line
	}{
		{"both light", []string{"..", ".."}, "  "},
		{"upper dark", []string{"#.", ".."}, "▀ "},
		{"lower dark", []string{"..", "#."}, "▄ "},
		{"both dark", []string{"#.", "#."}, "█ "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := strings.Split(strings.TrimSuffix(symbol(tc.rows...).Terminal(), "\n"), "\n")
			if len(lines) != w/2 {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), w/2, strings.Join(lines, "\n"))
			}
			for i, l := range lines {
				want := blank(w)
				if i == QuietZone/2 {
					want = sgrBlackOnWhite + pad + tc.want + pad + sgrReset
				}
				if l != want {
					t.Errorf("line %d = %q, want %q", i, l, want)
				}
			}
		})
	}
}

func TestTerminalOddSide(t *testing.T) {
	// Three module rows and the quiet zone make 11 rows: the last line's
	// lower half is quiet zone as well.
	got := symbol("##.", "#.#", ".#.").Terminal()
	const w = 3 + 2*QuietZone
	pad := strings.Repeat(" ", QuietZone)
	want := strings.Join([]string{
		blank(w),
		blank(w),
		sgrBlackOnWhite + pad + "█▀▄" + pad + sgrReset,
		sgrBlackOnWhite + pad + " ▀ " + pad + sgrReset,
		blank(w),
		blank(w),
	}, "\n") + "\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

// readTerminal turns the terminal rendering back into modules: true where a
// terminal showing it in its given colours paints a module dark. It fails t
// unless every line sets black on white before its first cell and resets
// after its last.
func readTerminal(t *testing.T, text string) [][]bool {
	t.Helper()
	var rows [][]bool
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		cells, ok := strings.CutPrefix(line, sgrBlackOnWhite)
		if !ok {
			t.Fatalf("line %d does not start by setting black on white: %q", i, line)
		}
		if cells, ok = strings.CutSuffix(cells, sgrReset); !ok {
			t.Fatalf("line %d does not end with a colour reset: %q", i, line)
		}
		var upper, lower []bool
		for _, r := range cells {
			switch r {
			case bothLight, upperDark, lowerDark, bothDark:
			default:
				t.Fatalf("line %d holds %q, not a half block", i, r)
			}
			upper = append(upper, r == upperDark || r == bothDark)
			lower = append(lower, r == lowerDark || r == bothDark)
		}
		rows = append(rows, upper, lower)
	}
	return rows
}

const testURL = "otpauth://totp/vault.example.com:alice?algorithm=SHA1&digits=6&issuer=vault.example.com&period=30&secret=V7MBSK324I7KF6KVW34NDFH2GYHIF6JY"

func TestTerminalShowsEveryModuleWithQuietZone(t *testing.T) {
	q, err := NewQR(testURL)
	if err != nil {
		t.Fatal(err)
	}
	if q.Size() < 21 || (q.Size()-17)%4 != 0 {
		t.Fatalf("symbol side %d is not a QR code version's", q.Size())
	}
	rows := readTerminal(t, q.Terminal())
	side := q.Size() + 2*QuietZone
	if len(rows) != side+1 { // the odd side leaves a light half row
		t.Fatalf("%d module rows, want %d", len(rows), side+1)
	}
	for y, row := range rows {
		if len(row) != side {
			t.Fatalf("module row %d is %d wide, want %d", y, len(row), side)
		}
		for x, dark := range row {
			if want := q.Dark(x-QuietZone, y-QuietZone); dark != want {
				t.Fatalf("module (%d,%d) of the rendering is dark=%v, the symbol's is %v", x, y, dark, want)
			}
			quiet := x < QuietZone || y < QuietZone || x >= side-QuietZone || y >= side-QuietZone
			if quiet && dark {
				t.Fatalf("module (%d,%d) in the quiet zone is dark", x, y)
			}
		}
	}
	// The finder pattern's corner: a dark module just inside the quiet zone.
	if !rows[QuietZone][QuietZone] {
		t.Fatal("the top left finder pattern does not start right after the quiet zone")
	}
}

func TestPNGMatchesSymbol(t *testing.T) {
	q, err := NewQR(testURL)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := q.WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	side := (q.Size() + 2*QuietZone) * PNGScale
	if b := img.Bounds(); b.Dx() != side || b.Dy() != side {
		t.Fatalf("image is %v, want %dx%d", b, side, side)
	}
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			want := q.Dark(x/PNGScale-QuietZone, y/PNGScale-QuietZone)
			if dark := r < 0x8000; dark != want {
				t.Fatalf("pixel (%d,%d) dark=%v, want %v", x, y, dark, want)
			}
		}
	}
}

func TestNewQRRefusesWhatDoesNotFit(t *testing.T) {
	if _, err := NewQR(strings.Repeat("x", 8000)); err == nil {
		t.Fatal("8000 bytes encoded into one QR code")
	}
}
