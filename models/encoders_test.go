package models_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/graph/graphtest"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/models"
)

// gorgoniaLinear is x·W + b as this package built it before graph.Linear.
func gorgoniaLinear(x, w, b *G.Node) (*G.Node, error) {
	xw, err := G.Mul(x, w)
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(xw, b, nil, []byte{0})
}

// gorgoniaL2Normalize is graph.L2Normalize as Gorgonia ops (before it was
// an op of its own): x / √(Σ_j x² + 1e-24) row by row.
func gorgoniaL2Normalize(x *G.Node) (*G.Node, error) {
	sq, err := G.Square(x)
	if err != nil {
		return nil, err
	}
	n2, err := G.Sum(sq, 1)
	if err != nil {
		return nil, err
	}
	tiny := G.NewConstant(1e-24)
	if x.Dtype() == tensor.Float32 {
		tiny = G.NewConstant(float32(1e-24))
	}
	if n2, err = G.Add(n2, tiny); err != nil {
		return nil, err
	}
	n, err := G.Sqrt(n2)
	if err != nil {
		return nil, err
	}
	if n, err = G.Reshape(n, tensor.Shape{n.Shape()[0], 1}); err != nil {
		return nil, err
	}
	return G.BroadcastHadamardDiv(x, n, nil, []byte{1})
}

// gorgoniaEncoder is the encoder as this package built it before graph.Linear,
// graph.Conv2D and graph.MaxPool2D, from Gorgonia's own ops: Mul and
// BroadcastAdd for linear layers, Rectify, Conv2d and MaxPool2D, then L2
// normalisation from Square, Sum, Sqrt and a broadcast division; a
// ConvNet's dense branch (Config.Dense) is Mul, BroadcastAdd and Rectify on
// the input, joined to the conv features by Concat. It is the reference the new ops must reproduce.
func gorgoniaEncoder(c models.Config, x *G.Node, p G.Nodes, b int) (*G.Node, error) {
	if c.Arch == models.MLP {
		h := x
		var err error
		for i := range c.Hidden {
			if h, err = gorgoniaLinear(h, p[2*i], p[2*i+1]); err != nil {
				return nil, err
			}
			if h, err = G.Rectify(h); err != nil {
				return nil, err
			}
		}
		k := len(c.Hidden)
		if h, err = gorgoniaLinear(h, p[2*k], p[2*k+1]); err != nil {
			return nil, err
		}
		if c.Normalize {
			return gorgoniaL2Normalize(h)
		}
		return h, nil
	}
	h, err := G.Reshape(x, tensor.Shape{b, c.Channels, c.Height, c.Width})
	if err != nil {
		return nil, err
	}
	k := c.Kernel
	for i := range c.Hidden {
		if h, err = G.Conv2d(h, p[2*i], tensor.Shape{k, k}, []int{0, 0}, []int{1, 1}, []int{1, 1}); err != nil {
			return nil, err
		}
		if h, err = G.BroadcastAdd(h, p[2*i+1], nil, []byte{0, 2, 3}); err != nil {
			return nil, err
		}
		if h, err = G.Rectify(h); err != nil {
			return nil, err
		}
		if h, err = G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
			return nil, err
		}
	}
	s := h.Shape()
	if h, err = G.Reshape(h, tensor.Shape{b, s[1] * s[2] * s[3]}); err != nil {
		return nil, err
	}
	n := len(c.Hidden)
	if c.Dense > 0 { // the raw input's branch, ReLU(x·W + b), after the conv features
		d, err := gorgoniaLinear(x, p[2*n], p[2*n+1])
		if err != nil {
			return nil, err
		}
		if d, err = G.Rectify(d); err != nil {
			return nil, err
		}
		if h, err = G.Concat(1, h, d); err != nil {
			return nil, err
		}
		n++
	}
	if h, err = gorgoniaLinear(h, p[2*n], p[2*n+1]); err != nil {
		return nil, err
	}
	if c.Normalize {
		return gorgoniaL2Normalize(h)
	}
	return h, nil
}

// encoderRun evaluates the embeddings of x and the gradients of
// Σ E ⊙ R (R fixed random weights) with respect to every parameter, with
// the model's own graph or the Gorgonia reference.
func encoderRun(t *testing.T, m *models.Model, x, r []float64, b int, reference bool) (emb []float64, grads [][]float64) {
	t.Helper()
	c := m.Config
	dt := c.Dtype()
	g := G.NewGraph()
	var e *G.Node
	var learn G.Nodes
	var input *G.Node
	if reference {
		for _, p := range m.Params {
			learn = append(learn, G.NewTensor(g, dt, p.Value.Dims(), G.WithShape(p.Value.Shape()...), G.WithName(p.Name), G.WithValue(p.Value)))
		}
		input = G.NewMatrix(g, dt, G.WithShape(b, c.Inputs()), G.WithName("input"))
		var err error
		e, err = gorgoniaEncoder(c, input, learn, b)
		require.NoError(t, err)
	} else {
		built, err := m.Build(g, b)
		require.NoError(t, err)
		e, learn, input = built.Embeddings, built.Learnables, built.Input
	}
	require.NoError(t, G.Let(input, graph.DenseOf(dt, x, b, c.Inputs())))
	rn := G.NewMatrix(g, dt, G.WithShape(b, c.Dim), G.WithName("r"), G.WithValue(graph.DenseOf(dt, r, b, c.Dim)))
	p, err := G.HadamardProd(e, rn)
	require.NoError(t, err)
	cost, err := G.Sum(p)
	require.NoError(t, err)
	gn, err := G.Grad(cost, learn...)
	require.NoError(t, err)
	// G.Read copies each value when it is computed: a node's Value() read
	// after the run may hold whatever a later op wrote into its register.
	var ev G.Value
	G.Read(e, &ev)
	gv := make([]G.Value, len(gn))
	for i, n := range gn {
		G.Read(n, &gv[i])
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	emb, err = graphtest.Float64s(ev)
	require.NoError(t, err)
	for _, v := range gv {
		f, err := graphtest.Float64s(v)
		require.NoError(t, err)
		grads = append(grads, f)
	}
	return emb, grads
}

// TestEncodersMatchGorgoniaOps pins that the encoders built on
// graph.Linear/Conv2D/MaxPool2D/L2Normalize compute the embeddings and
// parameter gradients of the encoders from Gorgonia's ops that they
// replaced, to rounding, with the same parameters (biases set non-zero so
// that their path is exercised).
func TestEncodersMatchGorgoniaOps(t *testing.T) {
	small := models.Config{Arch: models.ConvNet, Channels: 2, Height: 11, Width: 10, Hidden: []int{3, 4}, Kernel: 3, Dim: 5, Seed: 4}
	def := models.DefaultConvNet(16)
	def64 := def
	def64.Float64 = true
	smallHybrid := small
	smallHybrid.Dense = 6
	hybrid64 := models.DefaultHybrid(16)
	hybrid64.Float64 = true
	for _, tc := range []struct {
		name string
		cfg  models.Config
		b    int
		tol  float64
	}{
		{"small/float64", func() models.Config { c := small; c.Float64 = true; return c }(), 3, 1e-12},
		{"small/float32", small, 3, 1e-5},
		{"default/float64", def64, 6, 1e-12},
		{"default/float32", def, 6, 2e-5},
		{"small-hybrid/float64", func() models.Config { c := smallHybrid; c.Float64 = true; return c }(), 3, 1e-12},
		{"small-hybrid/float32", smallHybrid, 3, 1e-5},
		{"hybrid/float64", hybrid64, 6, 1e-12},
		{"hybrid/float32", models.DefaultHybrid(16), 6, 2e-5},
		{"mlp/float64", func() models.Config { c := models.DefaultMLP(16); c.Float64 = true; return c }(), 5, 1e-12},
		{"mlp/float32", models.DefaultMLP(16), 5, 2e-5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := models.New(tc.cfg)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(11, 12))
			for _, p := range m.Params {
				if p.Value.Shape()[0] == 1 { // biases start at 0
					v := make([]float64, p.Value.Shape().TotalSize())
					for i := range v {
						v[i] = 0.1 * r.NormFloat64()
					}
					copy4(p.Value, v)
				}
			}
			x := make([]float64, tc.b*tc.cfg.Inputs())
			for i := range x {
				x[i] = r.Float64()
			}
			w := make([]float64, tc.b*tc.cfg.Dim)
			for i := range w {
				w[i] = r.NormFloat64()
			}
			wantE, wantG := encoderRun(t, m, x, w, tc.b, true)
			gotE, gotG := encoderRun(t, m, x, w, tc.b, false)
			graphtest.RequireAllClose(t, wantE, gotE, tc.tol, tc.tol, "embeddings")
			require.Len(t, gotG, len(wantG))
			for i := range wantG {
				graphtest.RequireAllClose(t, wantG[i], gotG[i], tc.tol, tc.tol, fmt.Sprintf("gradient of %s", m.Params[i].Name))
			}
		})
	}
}

func copy4(d *tensor.Dense, v []float64) {
	switch s := d.Data().(type) {
	case []float32:
		for i, e := range v {
			s[i] = float32(e)
		}
	case []float64:
		copy(s, v)
	}
}

// TestConvNetTrainerReusesBuffersExactly pins that a compiled training
// graph, whose convolution and pooling ops reuse their buffers from step to
// step, gives a batch the same loss after other batches have run through
// it (learning rate 0, so the weights stay put).
func TestConvNetTrainerReusesBuffersExactly(t *testing.T) {
	cfg := models.Config{Arch: models.ConvNet, Channels: 1, Height: 12, Width: 12, Hidden: []int{3, 4}, Kernel: 3, Dim: 4, Seed: 5}
	m, err := models.New(cfg)
	require.NoError(t, err)
	tr, err := models.NewTrainer(m, losses.NewContrastive(), 6, models.DefaultTrainConfig())
	require.NoError(t, err)
	defer tr.Close()
	require.NoError(t, tr.SetLearnRate(0))
	labels := []int{0, 0, 1, 1, 2, 2}
	a, b := randInputs(21, 6, cfg.Inputs()), randInputs(22, 6, cfg.Inputs())
	first, err := tr.Step(a, labels)
	require.NoError(t, err)
	other, err := tr.Step(b, labels)
	require.NoError(t, err)
	require.NotEqual(t, first, other)
	again, err := tr.Step(a, labels)
	require.NoError(t, err)
	require.Equal(t, first, again)
}
