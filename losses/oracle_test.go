package losses_test

import "math"

// Oracles: naive float64 loops over enumerated pairs and triplets, written
// from the papers' formulas independently of the graph code.

type metric struct {
	kind      string // "euclidean", "sqeuclidean", "cosine", "dot"
	normalize bool
}

func (m metric) larger() bool { return m.kind == "cosine" || m.kind == "dot" }

func normalized(v []float64) []float64 {
	s := 0.0
	for _, e := range v {
		s += e * e
	}
	s = math.Sqrt(s)
	out := make([]float64, len(v))
	for i, e := range v {
		out[i] = e / s
	}
	return out
}

func (m metric) between(a, b []float64) float64 {
	if m.normalize || m.kind == "cosine" {
		a, b = normalized(a), normalized(b)
	}
	var sq, dot float64
	for k := range a {
		sq += (a[k] - b[k]) * (a[k] - b[k])
		dot += a[k] * b[k]
	}
	switch m.kind {
	case "euclidean":
		return math.Sqrt(sq)
	case "sqeuclidean":
		return sq
	}
	return dot
}

// oriented distance: smaller is closer
func (m metric) d(x [][]float64, i, j int) float64 {
	v := m.between(x[i], x[j])
	if m.larger() {
		return -v
	}
	return v
}

func relu(x float64) float64 { return math.Max(0, x) }

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func reduceTerms(terms []float64, red string) float64 {
	s, nz := 0.0, 0
	for _, t := range terms {
		s += t
		if t > 0 {
			nz++
		}
	}
	switch red {
	case "sum":
		return s
	case "mean":
		if len(terms) == 0 {
			return 0
		}
		return s / float64(len(terms))
	default: // mean-nonzero
		if nz == 0 {
			return 0
		}
		return s / float64(nz)
	}
}

type contrastiveOracle struct {
	m                    metric
	posMargin, negMargin float64
	squared, balanced    bool
	red                  string
}

func (o contrastiveOracle) loss(x [][]float64, labels []int) float64 {
	h := func(v float64) float64 {
		if o.squared {
			return relu(v) * relu(v)
		}
		return relu(v)
	}
	sign := 1.0
	if o.m.larger() {
		sign = -1
	}
	var pos, neg []float64
	for i := range x {
		for j := range x {
			if i == j {
				continue
			}
			d := o.m.d(x, i, j)
			if labels[i] == labels[j] {
				pos = append(pos, h(d-sign*o.posMargin))
			} else {
				neg = append(neg, h(sign*o.negMargin-d))
			}
		}
	}
	if o.balanced {
		return reduceTerms(pos, o.red) + reduceTerms(neg, o.red)
	}
	return reduceTerms(append(pos, neg...), o.red)
}

type tripletOracle struct {
	m      metric
	margin float64
	soft   bool
	red    string
}

func (o tripletOracle) loss(x [][]float64, labels []int) float64 {
	var terms []float64
	for a := range x {
		for p := range x {
			if p == a || labels[p] != labels[a] {
				continue
			}
			for n := range x {
				if labels[n] == labels[a] {
					continue
				}
				v := o.m.d(x, a, p) - o.m.d(x, a, n) + o.margin
				if o.soft {
					terms = append(terms, softplus(v))
				} else {
					terms = append(terms, relu(v))
				}
			}
		}
	}
	return reduceTerms(terms, o.red)
}

type liftedOracle struct {
	m      metric
	margin float64
	hard   bool
}

// loss enumerates unordered positive pairs, as Song et al. write it.
func (o liftedOracle) loss(x [][]float64, labels []int) float64 {
	sum, np := 0.0, 0
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			if labels[i] != labels[j] {
				continue
			}
			np++
			var vals []float64
			for k := range x {
				if labels[k] != labels[i] {
					vals = append(vals, o.margin-o.m.d(x, i, k))
				}
				if labels[k] != labels[j] {
					vals = append(vals, o.margin-o.m.d(x, j, k))
				}
			}
			if len(vals) == 0 {
				continue
			}
			var l float64
			if o.hard {
				l = vals[0]
				for _, v := range vals {
					l = math.Max(l, v)
				}
			} else {
				mx := vals[0]
				for _, v := range vals {
					mx = math.Max(mx, v)
				}
				s := 0.0
				for _, v := range vals {
					s += math.Exp(v - mx)
				}
				l = mx + math.Log(s)
			}
			l += o.m.d(x, i, j)
			sum += relu(l) * relu(l)
		}
	}
	if np == 0 {
		return 0
	}
	return sum / (2 * float64(np))
}

type npairOracle struct{ l2 float64 }

func dot(a, b []float64) float64 {
	s := 0.0
	for k := range a {
		s += a[k] * b[k]
	}
	return s
}

func (o npairOracle) loss(x [][]float64, labels []int) float64 {
	// first two samples of each class, classes in order of their second sample
	first := map[int]int{}
	done := map[int]bool{}
	type tuple struct{ a, p int }
	var tuples []tuple
	for i, l := range labels {
		f, ok := first[l]
		if !ok {
			first[l] = i
			continue
		}
		if done[l] {
			continue
		}
		done[l] = true
		tuples = append(tuples, tuple{f, i})
	}
	if len(tuples) == 0 {
		return 0
	}
	loss, ra, rp := 0.0, 0.0, 0.0
	for i, ti := range tuples {
		s := 0.0
		for j, tj := range tuples {
			if j != i {
				s += math.Exp(dot(x[ti.a], x[tj.p]) - dot(x[ti.a], x[ti.p]))
			}
		}
		loss += math.Log1p(s)
		ra += dot(x[ti.a], x[ti.a])
		rp += dot(x[ti.p], x[ti.p])
	}
	n := float64(len(tuples))
	return loss/n + o.l2*0.25*(ra/n+rp/n)
}

type nceOracle struct {
	m   metric
	tau float64
}

func (o nceOracle) loss(x [][]float64, labels []int) float64 {
	var pos, neg []float64
	for i := range x {
		for j := range x {
			if i == j {
				continue
			}
			l := -o.m.d(x, i, j) / o.tau
			if labels[i] == labels[j] {
				pos = append(pos, l)
			} else {
				neg = append(neg, l)
			}
		}
	}
	logNu := math.Log(math.Max(float64(len(neg)), 1)) - math.Log(math.Max(float64(len(pos)), 1))
	s := 0.0
	for _, l := range pos {
		s += softplus(-(l - logNu)) // −log σ(z) = log(1 + e^−z)
	}
	for _, l := range neg {
		s += softplus(l - logNu) // −log(1 − σ(z)) = log(1 + e^z)
	}
	return s / math.Max(float64(len(pos)), 1)
}

// logSumExp of a non-empty list, shifted by its maximum.
func logSumExp(v []float64) float64 {
	mx := v[0]
	for _, x := range v {
		mx = math.Max(mx, x)
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s)
}

// z returns the logit s_ij/τ (or −d_ij/τ).
func (m metric) z(x [][]float64, i, j int, tau float64) float64 { return -m.d(x, i, j) / tau }

type ntxentOracle struct {
	m   metric
	tau float64
}

func (o ntxentOracle) loss(x [][]float64, labels []int) float64 {
	sum, n := 0.0, 0
	for i := range x {
		for j := range x {
			if i == j || labels[i] != labels[j] {
				continue
			}
			n++
			den := []float64{o.m.z(x, i, j, o.tau)}
			for k := range x {
				if labels[k] != labels[i] {
					den = append(den, o.m.z(x, i, k, o.tau))
				}
			}
			sum += logSumExp(den) - o.m.z(x, i, j, o.tau)
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

type supconOracle struct {
	m   metric
	tau float64
}

func (o supconOracle) loss(x [][]float64, labels []int) float64 {
	sum, n := 0.0, 0
	for i := range x {
		var all, pos []float64
		for a := range x {
			if a == i {
				continue
			}
			all = append(all, o.m.z(x, i, a, o.tau))
			if labels[a] == labels[i] {
				pos = append(pos, o.m.z(x, i, a, o.tau))
			}
		}
		if len(pos) == 0 {
			continue
		}
		n++
		l := 0.0
		for _, p := range pos {
			l -= p - logSumExp(all)
		}
		sum += l / float64(len(pos))
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

type snnOracle struct {
	m metric
	t float64
}

func (o snnOracle) loss(x [][]float64, labels []int) float64 {
	sum, n := 0.0, 0
	for i := range x {
		var all, pos []float64
		for j := range x {
			if j == i {
				continue
			}
			all = append(all, o.m.z(x, i, j, o.t))
			if labels[j] == labels[i] {
				pos = append(pos, o.m.z(x, i, j, o.t))
			}
		}
		if len(pos) == 0 {
			continue
		}
		n++
		sum -= logSumExp(pos) - logSumExp(all)
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
