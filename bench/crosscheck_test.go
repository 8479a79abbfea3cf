package bench

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"
)

// TestCrossCheckDump writes a fixed small float64 batch (B=8, D=4, four
// classes of two in shuffled order) with every loss's Go value and gradient
// to the JSON file named by BENCH_CROSSCHECK, for torch_losses.py
// --crosscheck to recompute in PyTorch (compare.sh runs both). It is a
// cross-check tool, not a CI test: without the variable it is skipped.
func TestCrossCheckDump(t *testing.T) {
	path := os.Getenv("BENCH_CROSSCHECK")
	if path == "" {
		t.Skip("set BENCH_CROSSCHECK=out.json to write the cross-check dump")
	}
	const b, d, p, k = 8, 4, 4, 2
	labels := []int{2, 0, 1, 0, 3, 2, 1, 3}
	x := embeddings(b, d, tensor.Float64)
	type entry struct {
		Value  float64   `json:"value"`
		Grad   []float64 `json:"grad"`
		Labels []int     `json:"labels,omitempty"` // the entry's own batch labels
	}
	// A loss with parameters also dumps them (initialised by InitParams
	// with the benchmarks' seed, one per class, rows of D) and their gradient.
	type proxyEntry struct {
		Value     float64     `json:"value"`
		Grad      []float64   `json:"grad"`
		Params    [][]float64 `json:"params"`
		ParamGrad []float64   `json:"param_grad"`
	}
	out := struct {
		Labels      []int                 `json:"labels"`
		X           [][]float64           `json:"x"`
		Losses      map[string]entry      `json:"losses"`
		ProxyLosses map[string]proxyEntry `json:"proxy_losses"`
	}{Labels: labels, Losses: map[string]entry{}, ProxyLosses: map[string]proxyEntry{}}
	flat := x.([]float64)
	for i := 0; i < b; i++ {
		out.X = append(out.X, flat[i*d:(i+1)*d])
	}
	for _, c := range append(lossCases(), pairLossCases()...) {
		s, err := buildWith(c, append([]float64(nil), flat...), labels, d, p, k)
		require.NoError(t, err, c.name)
		require.NoError(t, s.m.RunAll(), c.name)
		v, ok := scalar(s.loss.Value())
		require.True(t, ok, c.name)
		out.Losses[c.name] = entry{Value: v, Grad: floats(s.grad.Value().Data())}
		t.Logf("%-18s %.17g", c.name, v)
		s.close()
	}
	for _, c := range optionCases() {
		lab := c.labels
		if lab == nil {
			lab = labels
		}
		s, err := buildWith(c.lossCase, append([]float64(nil), flat...), lab, d, p, k)
		require.NoError(t, err, c.name)
		require.NoError(t, s.m.RunAll(), c.name)
		v, ok := scalar(s.loss.Value())
		require.True(t, ok, c.name)
		out.Losses[c.name] = entry{Value: v, Grad: floats(s.grad.Value().Data()), Labels: c.labels}
		t.Logf("%-18s %.17g", c.name, v)
		s.close()
	}
	for _, c := range proxyLossCases() {
		s, err := buildProxy(c, append([]float64(nil), flat...), labels, d)
		require.NoError(t, err, c.name)
		require.NoError(t, s.m.RunAll(), c.name)
		v, ok := scalar(s.loss.Value())
		require.True(t, ok, c.name)
		e := proxyEntry{Value: v, Grad: floats(s.grad.Value().Data()), ParamGrad: floats(s.pgrad.Value().Data())}
		pv := s.params.Data().([]float64)
		for r := 0; r < len(pv)/d; r++ {
			e.Params = append(e.Params, pv[r*d:(r+1)*d])
		}
		out.ProxyLosses[c.name] = e
		t.Logf("%-18s %.17g", c.name, v)
		s.close()
	}
	js, err := json.MarshalIndent(out, "", " ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, js, 0o644))
}
