package eval

import (
	"math"
	"testing"
)

func TestZZDbg(t *testing.T) {
	q, ql, r, rl := loadDump(t)
	nq := 640
	q, ql = q[:64*nq], ql[:nq]
	p := newProblem(q, ql, r, rl, 64, nq, len(rl), false, 5)
	p.plan(64)
	w := newWorker(p, 64)
	var totC, totU, totEnd int
	var sumE, sumE2 float64
	for b := 0; b+1 < len(p.bounds); b++ {
		qs := p.order[p.bounds[b]:p.bounds[b+1]]
		// replicate block up to query
		dbgHook = func(e, e2 float64, ncand, end int, unsure []bool) {
			totC += ncand; totEnd += end; sumE += e; sumE2 += e2
			for _, u := range unsure { if u { totU++ } }
		}
		p.block(w, qs)
	}
	dbgHook = nil
	t.Logf("blocks %d; per query: e %.3g e2 %.3g cands %d end %d unsure %d", len(p.bounds)-1, sumE/float64(nq), sumE2/float64(nq), totC/nq, totEnd/nq, totU/nq)
	_ = math.Inf
}
