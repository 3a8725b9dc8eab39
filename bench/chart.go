package main

import (
	"fmt"
	"image/color"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// bar is one category of the chart.
type bar struct {
	label    string
	p50, p99 time.Duration
}

// chartBars lists the chart's categories for one transport, top first.
func (r *results) chartBars(tr string) []bar {
	var out []bar
	add := func(label, key, transport string, fresh bool) {
		p := r.find(key, transport)
		if p == nil {
			return
		}
		ss := p.warmSamples
		if fresh {
			ss = p.freshSamples
		}
		ds := times(ss, freshTime)
		out = append(out, bar{label, quantile(ds, 0.5), quantile(ds, 0.99)})
	}
	add("fresh: in-process engine", "engine", tr, true)
	add("fresh: helper process", "helper", tr, true)
	add("fresh: TOTP, in-process engine", "engine-totp", tr, true)
	add("fresh: TOTP, helper process", "helper-totp", tr, true)
	add("fresh: floor (bare Go verify)", "floor", tr, true)
	add("fresh: libpam + pam_permit", "permit", "", true)
	add("warm: in-process engine", "engine", tr, false)
	add("warm: helper process", "helper", tr, false)
	add("warm: TOTP, in-process engine", "engine-totp", tr, false)
	add("warm: TOTP, helper process", "helper-totp", tr, false)
	add("warm: floor, new connection", "floor", tr, false)
	add("warm: floor, keep-alive", "floor-keepalive", tr, false)
	return out
}

// chart draws latency.png: one panel per transport, a median bar and a p99
// bar per path, each labelled with its value.
func (r *results) chart(file string) error {
	transports := []string{"http", "tls", "proxy"}
	titles := map[string]string{"http": "Vault over plain http", "tls": "Vault over TLS (-dev-tls)",
		"proxy": "TOTP through Vault Proxy's unix socket (to the http Vault)"}
	// The axis ends at the largest p99, or at three times the largest
	// median when a p99 outlier would squash every other bar; a bar cut
	// there keeps its value in its label.
	var maxP50, maxP99 float64
	bars := make([][]bar, len(transports))
	// Each panel is as tall as its bars need: the proxy has fewer.
	const width, perBar, frame, titleH = 10 * vg.Inch, 0.42 * vg.Inch, 0.9 * vg.Inch, 0.4 * vg.Inch
	heights := make([]vg.Length, len(transports))
	height := titleH
	for i, tr := range transports {
		bars[i] = r.chartBars(tr)
		for _, b := range bars[i] {
			maxP50, maxP99 = max(maxP50, msf(b.p50)), max(maxP99, msf(b.p99))
		}
		heights[i] = frame + perBar*vg.Length(len(bars[i]))
		height += heights[i]
	}
	xmax := min(maxP99, 3*maxP50)
	img := vgimg.New(width, height)
	dc := draw.New(img)
	// A white background and the overall title.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	top := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: 0, Y: dc.Max.Y - titleH}, Max: dc.Max}}
	title := draw.TextStyle{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter, YAlign: draw.YCenter}
	title.Font.Size = 14
	top.FillText(title, vg.Point{X: width / 2, Y: top.Center().Y},
		fmt.Sprintf("pam_vault: latency per login, ms — median (dark) and p99 (light), %d logins per path", r.rounds))
	y := dc.Max.Y - titleH
	for i, tr := range transports {
		p, err := r.panel(bars[i], titles[tr], xmax)
		if err != nil {
			return err
		}
		// Padded as draw.Tiles would: a little above and below, room on
		// the right for the value labels.
		p.Draw(draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: 0.1 * vg.Inch, Y: y - heights[i] + 0.1*vg.Inch},
			Max: vg.Point{X: width - 0.3*vg.Inch, Y: y - 0.05*vg.Inch}}})
		y -= heights[i]
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// msf is d in milliseconds, as a float.
func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// panel is one transport's bar chart.
func (r *results) panel(bars []bar, title string, xmax float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 12
	p.X.Label.Text = "ms per login"
	p.X.Min, p.X.Max = 0, xmax*1.25
	p.X.Tick.Marker = plot.DefaultTicks{}
	p.Add(plotter.NewGrid())
	n := len(bars)
	// Category 0 is drawn at the bottom; list the first bar at the top.
	p50s, p99s := make(plotter.Values, n), make(plotter.Values, n)
	labels := make([]string, n)
	for i, b := range bars {
		j := n - 1 - i
		p50s[j], p99s[j], labels[j] = msf(b.p50), msf(b.p99), b.label
	}
	const w = 9 * vg.Millimeter / 3
	series := []struct {
		name   string
		vals   plotter.Values
		col    color.Color
		offset vg.Length
	}{
		{"p99", p99s, color.RGBA{R: 0xf4, G: 0xa5, B: 0x82, A: 0xff}, -w / 2},
		{"median", p50s, color.RGBA{R: 0x21, G: 0x66, B: 0xac, A: 0xff}, w / 2},
	}
	for _, s := range series {
		clipped := make(plotter.Values, n)
		for i, v := range s.vals {
			clipped[i] = min(v, xmax)
		}
		bc, err := plotter.NewBarChart(clipped, w)
		if err != nil {
			return nil, err
		}
		bc.Horizontal = true
		bc.Color = s.col
		bc.LineStyle.Width = 0
		bc.Offset = s.offset
		p.Add(bc)
		xys := make(plotter.XYs, n)
		texts := make([]string, n)
		for i, v := range s.vals {
			xys[i] = plotter.XY{X: clipped[i], Y: float64(i)}
			texts[i] = fmt.Sprintf("%.2f %s", v, s.name)
			if v > xmax {
				texts[i] = fmt.Sprintf("→ %.2f %s (off scale)", v, s.name)
			}
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = 8
			lb.TextStyle[i].YAlign = draw.YCenter
		}
		lb.Offset = vg.Point{X: 3, Y: s.offset}
		p.Add(lb)
	}
	p.NominalY(labels...)
	p.Y.Tick.Label.Font.Size = 10
	return p, nil
}
