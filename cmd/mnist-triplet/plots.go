package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/checkpoint"
)

// plotSize is the width and height of the PNG plots: 7 in at 96 dpi, 672 px.
const plotSize = 7 * vg.Inch

// labelColors are the ten colours of the "category10" palette (Bostock,
// D3.js, 2011; matplotlib's "tab10"), one per digit.
var labelColors = [10]color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

// labelShapes tell apart labels beyond the first ten, which reuse colours.
var labelShapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.CrossGlyph{}}

// plotPCA writes a PNG scatter of the 2-D PCA projection coloured by label
// (10 distinct colours), with a legend, title, axis labels.
//
// emb holds len(labels) rows of dim values (see pca2). The distinct labels
// are sorted and take the colours in order; an 11th and later label reuses
// the colours with another glyph shape. The file is PNG whatever its
// extension and is written atomically.
func plotPCA(path string, emb []float32, dim int, labels []int, title string) error {
	proj, err := pca2(emb, dim)
	if err != nil {
		return fmt.Errorf("plotPCA: %w", err)
	}
	n := len(proj) / 2
	if len(labels) != n {
		return fmt.Errorf("plotPCA: %d labels for %d embeddings", len(labels), n)
	}
	groups := map[int]plotter.XYs{}
	for i, l := range labels {
		groups[l] = append(groups[l], plotter.XY{X: proj[2*i], Y: proj[2*i+1]})
	}
	keys := make([]int, 0, len(groups))
	for l := range groups {
		keys = append(keys, l)
	}
	slices.Sort(keys)

	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "principal component 1"
	p.Y.Label.Text = "principal component 2"
	p.Legend.Top = true
	p.Legend.Left = false
	radius := vg.Points(2.5)
	if n > 2000 {
		radius = vg.Points(1.2)
	}
	for k, l := range keys {
		s, err := plotter.NewScatter(groups[l])
		if err != nil {
			return fmt.Errorf("plotPCA: label %d: %w", l, err)
		}
		s.GlyphStyle = draw.GlyphStyle{
			Color:  labelColors[k%len(labelColors)],
			Radius: radius,
			Shape:  labelShapes[(k/len(labelColors))%len(labelShapes)],
		}
		p.Add(s)
		// The legend shows a larger copy of the glyph than the plot.
		big := &plotter.Scatter{GlyphStyle: s.GlyphStyle}
		big.Radius = vg.Points(4)
		p.Legend.Add(strconv.Itoa(l), big)
	}
	// Leave room on the right for the legend so it does not hide points.
	xmin, xmax := p.X.Min, p.X.Max
	p.X.Max = xmax + 0.15*(xmax-xmin)
	if err := savePNG(path, p); err != nil {
		return fmt.Errorf("plotPCA: %w", err)
	}
	return nil
}

// plotLoss writes a PNG line plot of the training loss per step (also a
// smoothed moving-average line), axis labels, title.
//
// losses[i] is the loss of step i+1. The moving average at step s is the
// mean of the last w losses up to s (fewer at the start), with
// w = max(len(losses)/50, min(5, len(losses))). Losses must be finite. The
// file is PNG whatever its extension and is written atomically.
//
// spread, when not empty, holds every step's batch spread
// (models.BatchStats.Spread), drawn as a dashed line with the collapse
// threshold models.CollapseSpread as a dotted one, on the same axis.
func plotLoss(path string, losses, spread []float64, title string) error {
	if len(losses) == 0 {
		return fmt.Errorf("plotLoss: %s: no losses", path)
	}
	if len(spread) != 0 && len(spread) != len(losses) {
		return fmt.Errorf("plotLoss: %s: %d spreads for %d losses", path, len(spread), len(losses))
	}
	w := max(len(losses)/50, min(5, len(losses)))
	raw := make(plotter.XYs, len(losses))
	avg := make(plotter.XYs, len(losses))
	sum := 0.0
	for i, l := range losses {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("plotLoss: %s: loss of step %d is %v", path, i+1, l)
		}
		sum += l
		if i >= w {
			sum -= losses[i-w]
		}
		raw[i] = plotter.XY{X: float64(i + 1), Y: l}
		avg[i] = plotter.XY{X: float64(i + 1), Y: sum / float64(min(i+1, w))}
	}

	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	rawLine, err := plotter.NewLine(raw)
	if err != nil {
		return fmt.Errorf("plotLoss: %w", err)
	}
	rawLine.Color = color.RGBA{0x9e, 0xc5, 0xe8, 0xff} // light blue
	rawLine.Width = vg.Points(0.75)
	avgLine, err := plotter.NewLine(avg)
	if err != nil {
		return fmt.Errorf("plotLoss: %w", err)
	}
	avgLine.Color = labelColors[0]
	avgLine.Width = vg.Points(2)
	p.Add(rawLine, avgLine)
	p.Legend.Add("loss", rawLine)
	p.Legend.Add(fmt.Sprintf("moving average (%d steps)", w), avgLine)
	if len(spread) > 0 {
		sp := make(plotter.XYs, len(spread))
		for i, v := range spread {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("plotLoss: %s: spread of step %d is %v", path, i+1, v)
			}
			sp[i] = plotter.XY{X: float64(i + 1), Y: v}
		}
		spLine, err := plotter.NewLine(sp)
		if err != nil {
			return fmt.Errorf("plotLoss: %w", err)
		}
		spLine.Color = labelColors[3]
		spLine.Width = vg.Points(1)
		spLine.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		thr, err := plotter.NewLine(plotter.XYs{{X: 1, Y: models.CollapseSpread}, {X: float64(len(spread)), Y: models.CollapseSpread}})
		if err != nil {
			return fmt.Errorf("plotLoss: %w", err)
		}
		thr.Color = labelColors[3]
		thr.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(spLine, thr)
		p.Legend.Add("batch spread", spLine)
		p.Y.Label.Text = "loss; batch spread"
		p.Legend.Add(fmt.Sprintf("collapse below %.2g", models.CollapseSpread), thr)
	}
	if err := savePNG(path, p); err != nil {
		return fmt.Errorf("plotLoss: %w", err)
	}
	return nil
}

// savePNG renders p as a plotSize×plotSize PNG and writes it atomically.
func savePNG(path string, p *plot.Plot) error {
	wt, err := p.WriterTo(plotSize, plotSize, "png")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}
