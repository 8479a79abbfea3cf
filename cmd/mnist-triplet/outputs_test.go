package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// approxEqual reports whether got is within abs + rel·|want| of want.
func approxEqual(want, got, abs, rel float64) bool {
	return math.Abs(want-got) <= abs+rel*math.Abs(want)
}

// requireOnlyFile checks that dir holds exactly the named file: atomic
// writes leave no temporary file behind.
func requireOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{name}, names)
}

func TestWriteEmbeddingsTSV(t *testing.T) {
	// Edge values: signed zero, the smallest denormal, ±max float32, and
	// values without a short exact decimal form.
	emb := []float32{
		0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32,
		math.MaxFloat32, -math.MaxFloat32, 0.1,
		-1.0 / 3, 1e-7, 123456.79,
		1, 2, 3,
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "emb.tsv")
	require.NoError(t, writeEmbeddingsTSV(path, emb, 3))
	requireOnlyFile(t, dir, "emb.tsv")

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(b), "\n"))
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, 4, "one line per row, no header")
	var got []float32
	for _, line := range lines {
		fields := strings.Split(line, "\t")
		require.Len(t, fields, 3)
		for _, f := range fields {
			v, err := strconv.ParseFloat(f, 32)
			require.NoError(t, err)
			got = append(got, float32(v))
		}
	}
	require.Len(t, got, len(emb))
	for i := range emb {
		require.Equal(t, math.Float32bits(emb[i]), math.Float32bits(got[i]), "value %d: want %g, got %g", i, emb[i], got[i])
	}
	require.Equal(t, "1\t2\t3", lines[3], "shortest exact form")
}

func TestWriteEmbeddingsTSVErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		emb  []float32
		dim  int
		want string
	}{
		{"zero dim", "a.tsv", []float32{1, 2}, 0, "writeEmbeddingsTSV: dimension 0, want > 0"},
		{"negative dim", "a.tsv", []float32{1, 2}, -2, "writeEmbeddingsTSV: dimension -2, want > 0"},
		{"empty", "a.tsv", nil, 2, "writeEmbeddingsTSV: no embeddings"},
		{"partial row", "a.tsv", []float32{1, 2, 3}, 2, "writeEmbeddingsTSV: 3 values are not a whole number of rows of 2"},
		{"NaN", "a.tsv", []float32{1, 2, 3, float32(math.NaN())}, 2, "row 1 column 1 is NaN"},
		{"Inf", "a.tsv", []float32{float32(math.Inf(-1)), 2}, 2, "row 0 column 0 is -Inf"},
		{"missing directory", "nope/a.tsv", []float32{1, 2}, 2, "no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := writeEmbeddingsTSV(filepath.Join(dir, tc.path), tc.emb, tc.dim)
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "writeEmbeddingsTSV: "), err.Error())
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestWriteLabelsTSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "labels.tsv")
	labels := []int{5, 0, 4, 1, 9, 2, -1, 12}
	require.NoError(t, writeLabelsTSV(path, labels))
	requireOnlyFile(t, dir, "labels.tsv")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "5\n0\n4\n1\n9\n2\n-1\n12\n", string(b), "one label per line, no header")

	require.EqualError(t, writeLabelsTSV(path, nil), "writeLabelsTSV: "+path+": no labels")
	require.ErrorContains(t, writeLabelsTSV(filepath.Join(dir, "nope", "l.tsv"), labels), "no such file or directory")
}

func TestWriteJSON(t *testing.T) {
	type config struct {
		Margin float64 `json:"margin"`
		Steps  int     `json:"steps"`
		Name   string  `json:"name"`
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	require.NoError(t, writeJSON(path, config{Margin: 0.2, Steps: 100, Name: "a"}))
	require.NoError(t, writeJSON(path, config{Margin: 0.5, Steps: 7, Name: "<b>"})) // overwrite
	requireOnlyFile(t, dir, "config.json")

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"margin\": 0.5,\n  \"steps\": 7,\n  \"name\": \"\\u003cb\\u003e\"\n}\n", string(b))
	var got config
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, config{Margin: 0.5, Steps: 7, Name: "<b>"}, got)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	tests := []struct {
		name string
		v    any
		want string
	}{
		{"unsupported type", make(chan int), "json: unsupported type: chan int"},
		{"NaN", map[string]float64{"loss": math.NaN()}, "json: unsupported value: NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := writeJSON(path, tc.v)
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "writeJSON: "+path), err.Error())
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, b, after, "a failed write leaves the old file")
		})
	}
}

// TestPCA2Exact uses points m + a_i·u + b_i·v with u = (1,1,0)/√2,
// v = (0,0,1), a = (-3,-1,1,3), b = (0.1,-0.1,-0.1,0.1). Σa = Σb = Σab = 0,
// so the covariance is (Σa²/3)·uuᵀ + (Σb²/3)·vvᵀ = (20/3)·uuᵀ + (0.04/3)·vvᵀ:
// the first component is u (variance 20/3), the second v (0.04/3), and
// the projections of the centred points are exactly a_i and b_i. The sign
// rule (largest entry positive) picks +u and +v.
func TestPCA2Exact(t *testing.T) {
	m := [3]float64{5, -2, 3}
	a := []float64{-3, -1, 1, 3}
	b := []float64{0.1, -0.1, -0.1, 0.1}
	s := 1 / math.Sqrt2
	var emb []float32
	for i := range a {
		emb = append(emb,
			float32(m[0]+a[i]*s),
			float32(m[1]+a[i]*s),
			float32(m[2]+b[i]))
	}
	got, err := pca2(emb, 3)
	require.NoError(t, err)
	require.Len(t, got, 2*len(a))
	for i := range a {
		// Tolerance: the inputs are rounded to float32 (relative 6e-8 of
		// values up to 5, about 3e-7 absolute).
		require.True(t, approxEqual(a[i], got[2*i], 2e-6, 0), "row %d PC1: want %g, got %g", i, a[i], got[2*i])
		require.True(t, approxEqual(b[i], got[2*i+1], 2e-6, 0), "row %d PC2: want %g, got %g", i, b[i], got[2*i+1])
	}
}

// TestPCA2Noisy draws 500 points t_i·(1,1,0,0)/√2 + noise with t ~ N(0, 3²)
// and independent noise N(0, 0.05²) per coordinate (fixed seed). The first
// component must be about (1,1,0,0)/√2, so its projection is close to the
// centred t_i - mean(t) (error ~ the noise, 0.05) with variance ≈ 9 + 0.0025
// (sample variance of 500 draws: ±0.6), and the second
// carries only noise, variance ≈ 0.0025: a ratio of about 3600 (asserted
// > 1000). The centred projections have mean 0.
func TestPCA2Noisy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, dim = 500, 4
	ts := make([]float64, n)
	emb := make([]float32, 0, n*dim)
	for i := range ts {
		ts[i] = 3 * rng.NormFloat64()
		x := ts[i] / math.Sqrt2
		for _, v := range []float64{x, x, 0, 0} {
			emb = append(emb, float32(v+0.05*rng.NormFloat64()+7))
		}
	}
	tbar := 0.0
	for _, v := range ts {
		tbar += v / n
	}
	got, err := pca2(emb, dim)
	require.NoError(t, err)
	var mean, sq [2]float64
	for i := 0; i < n; i++ {
		for k := range 2 {
			mean[k] += got[2*i+k] / n
			sq[k] += got[2*i+k] * got[2*i+k]
		}
		// The noise projects onto the component with sd 0.05; 0.25 is 5 sd.
		require.True(t, approxEqual(ts[i]-tbar, got[2*i], 0.25, 0), "row %d: t - mean t = %g, PC1 = %g", i, ts[i]-tbar, got[2*i])
	}
	for k := range 2 {
		require.True(t, approxEqual(0, mean[k], 1e-9, 0), "mean of PC%d: %g", k+1, mean[k])
	}
	v1, v2 := sq[0]/(n-1), sq[1]/(n-1)
	t.Logf("projection variances: PC1 %.4g, PC2 %.4g, ratio %.4g", v1, v2, v1/v2)
	require.Greater(t, v1/v2, 1000.0)
	require.True(t, approxEqual(9, v1, 0, 0.2), "PC1 variance %g, want ≈ 9", v1)
}

func TestPCA2Errors(t *testing.T) {
	tests := []struct {
		name string
		emb  []float32
		dim  int
		want string
	}{
		{"zero dim", []float32{1, 2}, 0, "pca2: dimension 0, want > 0"},
		{"empty", nil, 2, "pca2: no embeddings"},
		{"partial row", []float32{1, 2, 3}, 2, "pca2: 3 values are not a whole number of rows of 2"},
		{"one dimension", []float32{1, 2, 3}, 1, "pca2: dimension 1, need at least 2 for two components"},
		{"one row", []float32{1, 2, 3}, 3, "pca2: 1 row, need at least 2 for a covariance"},
		{"NaN", []float32{1, 2, float32(math.NaN()), 4}, 2, "pca2: row 1 column 0 is NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pca2(tc.emb, tc.dim)
			require.EqualError(t, err, tc.want)
			require.Nil(t, got)
		})
	}
	t.Run("constant rows", func(t *testing.T) {
		// No variance at all: every projection is 0.
		got, err := pca2([]float32{1, 2, 1, 2, 1, 2}, 2)
		require.NoError(t, err)
		require.Equal(t, make([]float64, 6), got)
	})
}

// clusters returns n points of dimension dim in 10 Gaussian clusters with
// labels i%10 (fixed seed).
func clusters(n, dim int) ([]float32, []int) {
	rng := rand.New(rand.NewPCG(3, 4))
	centres := make([]float64, 10*dim)
	for i := range centres {
		centres[i] = 4 * rng.NormFloat64()
	}
	emb := make([]float32, 0, n*dim)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i % 10
		for d := range dim {
			emb = append(emb, float32(centres[labels[i]*dim+d]+rng.NormFloat64()))
		}
	}
	return emb, labels
}

// requirePNG decodes the file at path and checks its size: plotSize is
// 7 in at the default 96 dpi, 672 px.
func requirePNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	require.Positive(t, fi.Size())
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Equal(t, 672, img.Bounds().Dx())
	require.Equal(t, 672, img.Bounds().Dy())
}

func TestPlotPCA(t *testing.T) {
	tests := []struct {
		name   string
		n, dim int
	}{
		{"n=10000/dim=64", 10000, 64},
		{"n=30/dim=2", 30, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emb, labels := clusters(tc.n, tc.dim)
			dir := t.TempDir()
			path := filepath.Join(dir, "pca.png")
			start := time.Now()
			require.NoError(t, plotPCA(path, emb, tc.dim, labels, "test embeddings"))
			t.Logf("plotPCA of %d points took %v", tc.n, time.Since(start))
			requirePNG(t, path)
			requireOnlyFile(t, dir, "pca.png")
		})
	}
	t.Run("more than ten labels", func(t *testing.T) {
		emb, _ := clusters(40, 3)
		labels := make([]int, 40)
		for i := range labels {
			labels[i] = i % 13
		}
		path := filepath.Join(t.TempDir(), "pca.png")
		require.NoError(t, plotPCA(path, emb, 3, labels, "13 labels"))
		requirePNG(t, path)
	})
	t.Run("constant rows", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pca.png")
		require.NoError(t, plotPCA(path, []float32{1, 2, 1, 2}, 2, []int{0, 1}, "flat"))
		requirePNG(t, path)
	})
	t.Run("errors", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pca.png")
		require.EqualError(t, plotPCA(path, []float32{1, 2, 3, 4}, 2, []int{0}, ""), "plotPCA: 1 labels for 2 embeddings")
		require.EqualError(t, plotPCA(path, []float32{1, 2}, 2, []int{0}, ""), "plotPCA: pca2: 1 row, need at least 2 for a covariance")
		_, err := os.Stat(path)
		require.True(t, os.IsNotExist(err))
	})
}

func TestPlotLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	long := make([]float64, 10000)
	for i := range long {
		long[i] = 1/(1+float64(i)/500) + 0.1*rng.Float64()
	}
	tests := []struct {
		name           string
		losses, spread []float64
	}{
		{"10000 steps", long, nil},
		{"3 steps", []float64{1, 0.5, 0.7}, nil},
		{"1 step", []float64{0.3}, nil},
		{"3 steps with spread", []float64{1, 0.5, 0.7}, []float64{0.01, 0.5, 0.9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "loss.png")
			start := time.Now()
			require.NoError(t, plotLoss(path, tc.losses, tc.spread, "training loss"))
			t.Logf("plotLoss of %d steps took %v", len(tc.losses), time.Since(start))
			requirePNG(t, path)
			requireOnlyFile(t, dir, "loss.png")
		})
	}
	t.Run("errors", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "loss.png")
		require.EqualError(t, plotLoss(path, nil, nil, ""), "plotLoss: "+path+": no losses")
		require.EqualError(t, plotLoss(path, []float64{1, math.NaN()}, nil, ""), "plotLoss: "+path+": loss of step 2 is NaN")
		require.EqualError(t, plotLoss(path, []float64{math.Inf(1)}, nil, ""), "plotLoss: "+path+": loss of step 1 is +Inf")
		require.EqualError(t, plotLoss(path, []float64{1, 2}, []float64{1}, ""), "plotLoss: "+path+": 1 spreads for 2 losses")
		require.EqualError(t, plotLoss(path, []float64{1, 2}, []float64{1, math.NaN()}, ""), "plotLoss: "+path+": spread of step 2 is NaN")
	})
}

// fakeClock returns a clock that reads start + *offset.
func fakeClock(offset *time.Duration) func() time.Time {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { return start.Add(*offset) }
}

func TestProgressPlain(t *testing.T) {
	type step struct {
		at     time.Duration
		done   int
		extra  string
		finish bool
	}
	tests := []struct {
		name  string
		total int
		steps []step
		want  string
	}{
		{
			name:  "known total",
			total: 100,
			steps: []step{
				{at: 1 * time.Second, done: 10, extra: "loss 0.9"},  // < 5 s since start: silent
				{at: 5 * time.Second, done: 50, extra: "loss 0.5"},  // 50/5 s = 10/s, ETA 50/10 = 5 s
				{at: 6 * time.Second, done: 60},                     // < 5 s since the last line: silent
				{at: 10 * time.Second, done: 90, extra: "loss 0.2"}, // 9/s, ETA 10/9 s = 1.1 s
				{at: 11 * time.Second, done: 100},
				{at: 12 * time.Second, extra: "loss 0.1", finish: true}, // 100/12 s = 8.3/s
				{at: 20 * time.Second, done: 100, extra: "late"},        // after finish: silent
				{at: 21 * time.Second, extra: "again", finish: true},    // second finish: silent
			},
			want: "train: 50/100 (50.0%) 10.0/s ETA 5s loss 0.5\n" +
				"train: 90/100 (90.0%) 9.0/s ETA 1.1s loss 0.2\n" +
				"train: 100/100 (100.0%) 8.3/s in 12s loss 0.1\n",
		},
		{
			name:  "unknown total",
			total: 0,
			steps: []step{
				{at: 5 * time.Second, done: 20},
				{at: 8 * time.Second, done: 30, finish: false},
				{at: 8 * time.Second, finish: true},
			},
			want: "train: 20 4.0/s\n" +
				"train: 30 3.8/s in 8s\n", // 30/8 s = 3.75/s
		},
		{
			name:  "finish before any update",
			total: 10,
			steps: []step{{at: 0, finish: true}},
			want:  "train: 0/10 (0.0%) in 0s\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			var offset time.Duration
			p := newProgressClock(&buf, "train", tc.total, fakeClock(&offset))
			require.False(t, p.tty)
			for _, s := range tc.steps {
				offset = s.at
				if s.finish {
					p.finish(s.extra)
				} else {
					p.update(s.done, s.extra)
				}
			}
			require.Equal(t, tc.want, buf.String())
			require.NoError(t, p.err)
		})
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	var offset time.Duration
	p := newProgressClock(&buf, "train", 1000, fakeClock(&offset))
	p.tty = true // a bytes.Buffer is no terminal; force the bar
	p.barSize = 10

	p.update(0, "")                // first call draws at once; no rate yet
	offset = 50 * time.Millisecond // < 100 ms since the last draw: silent
	p.update(5, "")
	offset = 2 * time.Second // 500/2 s = 250/s, ETA 500/250 = 2 s
	p.update(500, "loss 0.1234")
	offset = 4 * time.Second // 1000/4 s = 250/s
	p.update(1000, "")
	p.finish("loss 0.1")

	lines := []string{
		"\rtrain [..........]  0/1000  0.0%",
		"\rtrain [#####.....]  500/1000  50.0%  250.0/s  ETA 2s  loss 0.1234",
		// Shorter than the previous line: padded with spaces to blank it.
		"\rtrain [##########]  1000/1000  100.0%  250.0/s" + strings.Repeat(" ", 19),
		// Longer than the previous line's text: no padding.
		"\rtrain [##########]  1000/1000  100.0%  250.0/s  in 4s  loss 0.1\n",
	}
	require.Equal(t, strings.Join(lines, ""), buf.String())
}

type failingWriter struct{ calls int }

func (w *failingWriter) Write(b []byte) (int, error) {
	w.calls++
	return 0, fmt.Errorf("disk full")
}

func TestProgressWriteError(t *testing.T) {
	var offset time.Duration
	w := &failingWriter{}
	p := newProgressClock(w, "x", 10, fakeClock(&offset))
	offset = 6 * time.Second
	p.update(5, "")
	offset = 12 * time.Second
	p.update(8, "")
	p.finish("")
	require.EqualError(t, p.err, "disk full")
	require.Equal(t, 1, w.calls, "no writes after the first error")
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	type testCase struct {
		name string
		w    io.Writer
		want bool
	}
	tests := []testCase{
		{"regular file", f, false},
		{"buffer", &bytes.Buffer{}, false},
		{"nil file", (*os.File)(nil), false},
	}
	if dn, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		defer dn.Close()
		// /dev/null is a character device, so it counts as a terminal by the
		// documented rule (Mode()&os.ModeCharDevice != 0).
		tests = append(tests, testCase{"dev null", dn, true})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, isTerminal(tc.w))
		})
	}
}
