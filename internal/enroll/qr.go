package enroll

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// QuietZone is the width of the light border around a QR symbol, in modules:
// the four the QR code standard asks for. A reader finds the symbol by its
// finder patterns' contrast with this border, so without it a terminal's
// dark background would merge with the symbol's dark edge.
const QuietZone = 4

// PNGScale is the side of one module in the PNG file, in pixels: whole
// pixels per module keep every module the same size.
const PNGScale = 8

// The terminal rendering sets its own colours, black ink on a white ground,
// instead of drawing with the terminal's: a half block is drawn in the
// foreground colour, which is light on a dark terminal and dark on a light
// one, so either choice of which modules to draw would come out inverted on
// one kind of terminal, and many authenticator apps do not read an inverted
// code. The basic colours 30 and 47 are the ones every terminal supports;
// themes change their shade but keep black dark and white light.
const (
	sgrBlackOnWhite = "\x1b[30;47m"
	sgrReset        = "\x1b[0m"
)

// The half blocks: each text cell shows two modules, one above the other,
// which on a terminal whose cells are about twice as high as wide makes
// each module square. The ink (the foreground colour, black) is the dark
// module.
const (
	bothLight = ' '
	upperDark = '▀' // U+2580 UPPER HALF BLOCK
	lowerDark = '▄' // U+2584 LOWER HALF BLOCK
	bothDark  = '█' // U+2588 FULL BLOCK
)

// QR is a QR code symbol: a square of dark and light modules, without its
// quiet zone.
type QR struct {
	size int
	dark []bool // row by row
}

// NewQR encodes text as a QR code with error correction level L, the
// lowest. A code on a screen or a fresh print is not damaged, and the lower
// level keeps the symbol small: an otpauth URL of 115 to 150 bytes makes a
// symbol of 41 to 45 modules, which with its quiet zone takes 25 to 27
// terminal lines (Vault's own barcode uses level M: 45 to 49 modules).
func NewQR(text string) (*QR, error) {
	code, err := qr.Encode(text, qr.L, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("encoding the QR code: %w", err)
	}
	b := code.Bounds()
	if b.Dx() != b.Dy() {
		return nil, fmt.Errorf("encoding the QR code: the symbol is %dx%d modules, not square", b.Dx(), b.Dy())
	}
	q := &QR{size: b.Dx(), dark: make([]bool, b.Dx()*b.Dy())}
	for y := range q.size {
		for x := range q.size {
			g := color.GrayModel.Convert(code.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
			q.dark[y*q.size+x] = g.Y < 0x80
		}
	}
	return q, nil
}

// Size is the symbol's side in modules, without the quiet zone.
func (q *QR) Size() int { return q.size }

// Dark reports whether the module at column x and row y is dark. Positions
// outside the symbol, the quiet zone among them, are light.
func (q *QR) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= q.size || y >= q.size {
		return false
	}
	return q.dark[y*q.size+x]
}

// Terminal returns the symbol and its quiet zone as lines of Unicode half
// blocks, two module rows to a line, each line in black on white and ending
// with a colour reset and a newline. An odd number of module rows leaves a
// last half row, which is light: the quiet zone below grows by one module.
func (q *QR) Terminal() string {
	side := q.size + 2*QuietZone
	var b strings.Builder
	for top := 0; top < side; top += 2 {
		b.WriteString(sgrBlackOnWhite)
		for col := range side {
			upper := q.Dark(col-QuietZone, top-QuietZone)
			lower := q.Dark(col-QuietZone, top+1-QuietZone)
			b.WriteRune(halfBlock(upper, lower))
		}
		b.WriteString(sgrReset)
		b.WriteByte('\n')
	}
	return b.String()
}

// halfBlock is the text cell for two modules above one another.
func halfBlock(upper, lower bool) rune {
	switch {
	case upper && lower:
		return bothDark
	case upper:
		return upperDark
	case lower:
		return lowerDark
	}
	return bothLight
}

// Image returns the symbol with its quiet zone as a black and white image of
// scale pixels per module.
func (q *QR) Image(scale int) *image.Paletted {
	side := (q.size + 2*QuietZone) * scale
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y := range side {
		for x := range side {
			if q.Dark(x/scale-QuietZone, y/scale-QuietZone) {
				img.SetColorIndex(x, y, 1)
			}
		}
	}
	return img
}

// WritePNG writes the symbol with its quiet zone to w as a PNG image of
// PNGScale pixels per module.
func (q *QR) WritePNG(w io.Writer) error {
	if err := png.Encode(w, q.Image(PNGScale)); err != nil {
		return fmt.Errorf("writing the PNG image: %w", err)
	}
	return nil
}
