package losses

import (
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
)

// ProxyNCA is the proxy-based NCA loss of Movshovitz-Attias, Toshev, Leung,
// Ioffe & Singh (2017, "No Fuss Distance Metric Learning using Proxies").
// Each class c has a learnable proxy p_c (Proxies, C×D). With a distance
// D (a similarity S enters as −S) and scale s, for each embedding x_i of
// label y_i
//
//	ℓ_i = −log( e^{−s·D(x_i, p_{y_i})} / Σ_{c∈Z_i} e^{−s·D(x_i, p_c)} )
//
// averaged over the B rows, where Z_i is every class (pytorch-metric-learning's
// ProxyNCALoss, a softmax over all proxies) or, with ExcludePositive, every
// class but y_i (the paper's form, which can be negative).
//
// NewProxyNCA takes the paper's form on the squared Euclidean distance of
// L2-normalised embeddings and proxies with s = 1; ProxyNCAPML takes
// pytorch-metric-learning's defaults (the same distance and scale, the
// positive proxy in the denominator). Both initialise the proxies from
// N(0, 1), as pytorch-metric-learning does (torch.nn.init.normal_). Its
// ProxyNCALoss drops rows whose softmax probability underflows to exactly
// 0; on unit vectors with s = 1 the logits span at most 4, so none does.
// The zero ProxyNCA is ProxyNCAPML.
//
// Proxies are learnable: see Learner. Shapes: embeddings B×D, labels Int B
// with values in [0, C), Proxies C×D of the embeddings' dtype.
type ProxyNCA struct {
	// Distance; nil means SquaredEuclidean{Normalize: true}.
	Distance graph.Distance
	// Scale s > 0 of the logits (pytorch-metric-learning's softmax_scale);
	// 0 means 1.
	Scale float64
	// ExcludePositive leaves the positive proxy out of the denominator.
	ExcludePositive bool
	// Proxies is the C×D matrix of proxies, row c for class c (set by
	// InitParams or SetParams).
	Proxies *tensor.Dense
}

// NewProxyNCA returns Movshovitz-Attias et al.'s loss: squared Euclidean
// distance of L2-normalised vectors, s = 1, the positive proxy left out of
// the denominator.
func NewProxyNCA() ProxyNCA {
	return ProxyNCA{Distance: graph.SquaredEuclidean{Normalize: true}, Scale: 1, ExcludePositive: true}
}

// ProxyNCAPML returns pytorch-metric-learning's ProxyNCALoss defaults:
// squared Euclidean distance of L2-normalised vectors (LpDistance(power=2)),
// softmax_scale 1, a softmax over every proxy, the mean over the batch.
func ProxyNCAPML() ProxyNCA {
	return ProxyNCA{Distance: graph.SquaredEuclidean{Normalize: true}, Scale: 1}
}

func (l *ProxyNCA) weights() classWeights {
	return classWeights{name: "proxy-nca", what: "proxies", k: 1}
}

// InitParams draws C×dim proxies from N(0, 1).
func (l *ProxyNCA) InitParams(dim, classes int, dt tensor.Dtype, seed uint64) (err error) {
	l.Proxies, err = l.weights().init(dim, classes, dt, seed, func(r *rand.Rand) float64 { return r.NormFloat64() })
	return err
}

// Params returns the proxies.
func (l *ProxyNCA) Params() ([]string, []*tensor.Dense) { return l.weights().paramsOf(l.Proxies) }

// SetParams replaces the proxies.
func (l *ProxyNCA) SetParams(names []string, values []*tensor.Dense) (err error) {
	t, err := l.weights().set(names, values)
	if err == nil {
		l.Proxies = t
	}
	return err
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l *ProxyNCA) Loss(emb, labels *G.Node) (*G.Node, error) {
	cost, _, err := l.LossParams(emb, labels)
	return cost, err
}

// LossParams returns the loss and the proxies' node.
func (l *ProxyNCA) LossParams(emb, labels *G.Node) (*G.Node, G.Nodes, error) {
	w := l.weights()
	e, checked, _, err := begin(w.name, emb, labels)
	if err != nil {
		return nil, nil, err
	}
	scale, err := positiveScale(w.name, "scale", l.Scale, 1)
	if err != nil {
		return nil, nil, err
	}
	p, classes, err := w.node(l.Proxies, emb)
	if err != nil {
		return nil, nil, err
	}
	dist := distanceOr(l.Distance, graph.SquaredEuclidean{Normalize: true})
	m, _ := orient(e, dist, e.Matrix(dist, checked, p)) // B×C, smaller is closer
	// logits z = −s·D, folded into the reduction; the label's logit is
	// gathered (B values) rather than picked out by a B×C one-hot product
	den := ones(e, emb.Graph(), emb.Shape()[0], classes)
	if l.ExcludePositive {
		den = e.Sub(den, classMask(w.name, e, labels, classes, false))
	}
	zy := e.Scale(e.Gather(m, targetIndex(w.name, e, labels, classes)), -scale)
	lse := e.MaskedLogSumExpOf(m, den, -scale, 0)
	rows := e.Sub(lse, zy) // log Σ_Z e^{z} − z_{i,y_i}
	cost, err := end(w.name, e, e.Mean(rows))
	if err != nil {
		return nil, nil, err
	}
	return cost, G.Nodes{p}, nil
}

// ProxyAnchor is the Proxy-Anchor loss of Kim, Kim, Cho & Kwak (2020,
// "Proxy Anchor Loss for Deep Metric Learning"). Each class c has a
// learnable proxy p (Proxies, C×D); with the similarity s (cosine), the
// margin δ and the scale α,
//
//	L = 1/|P⁺| Σ_{p∈P⁺} log(1 + Σ_{x∈X_p⁺} e^{−α(s(x,p) − δ)})
//	  + 1/|P|  Σ_{p∈P}  log(1 + Σ_{x∈X_p⁻} e^{α(s(x,p) + δ)})
//
// where P is every proxy, P⁺ the proxies of the classes in the batch, X_p⁺
// the batch's embeddings of p's class and X_p⁻ the others. With a distance
// D the terms are e^{α(D − δ)} and e^{−α(D + δ)}, pytorch-metric-learning's
// reading (its distance.margin).
//
// NewProxyAnchor and ProxyAnchorPML both take the paper's α = 32, δ = 0.1
// on cosine similarity, which are pytorch-metric-learning's defaults, and
// initialise the proxies as both reference implementations do: Kaiming
// normal with mode fan_out, N(0, 2/C). The paper trains the proxies with
// 100× the encoder's learning rate (models.TrainConfig.LossLearnRate).
// The zero ProxyAnchor is α = 32, δ = 0 on cosine similarity.
//
// Proxies are learnable: see Learner. Shapes: embeddings B×D, labels Int B
// with values in [0, C), Proxies C×D of the embeddings' dtype.
type ProxyAnchor struct {
	// Distance; nil means Cosine{}.
	Distance graph.Distance
	// Margin δ ≥ 0 in the distance's units.
	Margin float64
	// Alpha α > 0 scales the exponents; 0 means 32.
	Alpha float64
	// Proxies is the C×D matrix of proxies, row c for class c (set by
	// InitParams or SetParams).
	Proxies *tensor.Dense
}

// NewProxyAnchor returns Kim et al.'s settings: cosine similarity, α = 32,
// δ = 0.1.
func NewProxyAnchor() ProxyAnchor {
	return ProxyAnchor{Distance: graph.Cosine{}, Margin: 0.1, Alpha: 32}
}

// ProxyAnchorPML returns pytorch-metric-learning's ProxyAnchorLoss
// defaults: the same as NewProxyAnchor (its DivisorReducer divides the
// positive part by |P⁺| and the negative part by C).
func ProxyAnchorPML() ProxyAnchor { return NewProxyAnchor() }

func (l *ProxyAnchor) weights() classWeights {
	return classWeights{name: "proxy-anchor", what: "proxies", k: 1}
}

// InitParams draws C×dim proxies from N(0, 2/C) (Kaiming normal, fan_out).
func (l *ProxyAnchor) InitParams(dim, classes int, dt tensor.Dtype, seed uint64) (err error) {
	std := math.Sqrt(2 / float64(max(classes, 1)))
	l.Proxies, err = l.weights().init(dim, classes, dt, seed, func(r *rand.Rand) float64 { return std * r.NormFloat64() })
	return err
}

// Params returns the proxies.
func (l *ProxyAnchor) Params() ([]string, []*tensor.Dense) { return l.weights().paramsOf(l.Proxies) }

// SetParams replaces the proxies.
func (l *ProxyAnchor) SetParams(names []string, values []*tensor.Dense) (err error) {
	t, err := l.weights().set(names, values)
	if err == nil {
		l.Proxies = t
	}
	return err
}

// Loss returns the scalar loss of embeddings (B×D) with labels (Int, B).
func (l *ProxyAnchor) Loss(emb, labels *G.Node) (*G.Node, error) {
	cost, _, err := l.LossParams(emb, labels)
	return cost, err
}

// LossParams returns the loss and the proxies' node.
func (l *ProxyAnchor) LossParams(emb, labels *G.Node) (*G.Node, G.Nodes, error) {
	w := l.weights()
	e, checked, _, err := begin(w.name, emb, labels)
	if err != nil {
		return nil, nil, err
	}
	alpha, err := positiveScale(w.name, "alpha", l.Alpha, 32)
	if err != nil {
		return nil, nil, err
	}
	if err := checkFinite(w.name, "margin", l.Margin, true); err != nil {
		return nil, nil, err
	}
	p, classes, err := w.node(l.Proxies, emb)
	if err != nil {
		return nil, nil, err
	}
	dist := distanceOr(l.Distance, graph.Cosine{})
	m, sign := orient(e, dist, e.Matrix(dist, p, checked)) // C×B, one row per proxy; smaller is closer
	pos := classMask(w.name, e, labels, classes, true)
	neg := e.Sub(e.Const(1), pos)
	off := -alpha * sign * l.Margin                                                     // −α·δ, δ in oriented units
	pl := e.MaskedLog1pSumExpOf(m, pos, alpha, off)                                     // log(1 + Σ_{X⁺} e^{α(δ − s)})
	nl := e.MaskedLog1pSumExpOf(m, neg, -alpha, off)                                    // log(1 + Σ_{X⁻} e^{α(s + δ)})
	posPart := e.DivAtLeastOne(e.Sum(pl), e.Sum(e.AnyInRow(pos)))                       // / |P⁺|
	cost, err := end(w.name, e, e.Add(posPart, e.Scale(e.Sum(nl), 1/float64(classes)))) // + / |P|
	if err != nil {
		return nil, nil, err
	}
	return cost, G.Nodes{p}, nil
}
