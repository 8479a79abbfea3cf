package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/contrastive-go/contrastive/graph"
	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/checkpoint"
	"github.com/contrastive-go/contrastive/models/eval"
	"github.com/contrastive-go/contrastive/models/mnist"
)

// The catalogue of bad inputs (issue 11): one table across the library and
// the command, each entry a bad or extreme input with the error text it must
// give. An entry fails when the call returns no error, an error without the
// text (or without its package prefix), or panics; the command's entries
// also check the exit status (2 for usage errors, 1 for runtime errors).
// Errors from a graph's run come wrapped by Gorgonia's machine, so the
// losses' entries look for the package prefix inside the message.
// Entries marked "defect N" are the thirteen defects of the issue, which
// crashed, gave NaN or gave a misleading error before.

// gzIDX returns a gzip-compressed IDX file.
func gzIDX(magic uint32, dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	h := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		h = binary.BigEndian.AppendUint32(h, d)
	}
	z.Write(append(h, data...))
	z.Close()
	return b.Bytes()
}

// lossRun builds loss on a 6×4 batch of x (float64) with labels 0,0,1,1,2,2
// and runs the graph with its gradient: the build error, else the run's.
func lossRun(l models.Loss, x []float64) error {
	g := G.NewGraph()
	emb := G.NewMatrix(g, tensor.Float64, G.WithShape(6, 4), G.WithName("emb"), G.WithValue(graph.DenseOf(tensor.Float64, x, 6, 4)))
	lab := G.NewVector(g, tensor.Int, G.WithShape(6), G.WithName("labels"), G.WithValue(tensor.New(tensor.WithBacking([]int{0, 0, 1, 1, 2, 2}))))
	cost, err := l.Loss(emb, lab)
	if err != nil {
		return err
	}
	if _, err := G.Grad(cost, emb); err != nil {
		return err
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return err
	}
	if v, ok := cost.Value().Data().(float64); ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
		return fmt.Errorf("silent non-finite loss %v", v)
	}
	return nil
}

// embWith returns 6×4 embeddings with bad at row r, column c.
func embWith(r, c int, bad float64) []float64 {
	x := make([]float64, 24)
	for i := range x {
		x[i] = float64(i%5) * 0.3
	}
	x[r*4+c] = bad
	return x
}

// crafted writes a checkpoint whose metadata declares cfg (as JSON) and
// holds one tiny tensor.
func crafted(t *testing.T, cfg string, tensors []checkpoint.Tensor) string {
	p := filepath.Join(t.TempDir(), "crafted.safetensors")
	if tensors == nil {
		tensors = []checkpoint.Tensor{{Name: "fc0.weight", Shape: []int{1}, F32: []float32{1}}}
	}
	require.NoError(t, checkpoint.Write(p, tensors, map[string]string{
		models.MetaFormat: "contrastive-go/model", models.MetaVersion: "1", models.MetaConfig: cfg}))
	return p
}

func cfgJSON(c models.Config) string {
	b, _ := json.Marshal(c)
	return string(b)
}

func TestCatalogue(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	small := models.Config{Arch: models.MLP, Channels: 1, Height: 2, Width: 2, Hidden: []int{3}, Dim: 2, Seed: 1}
	smallModel, err := models.New(small)
	require.NoError(t, err)
	saved := filepath.Join(dir, "saved.safetensors")
	require.NoError(t, smallModel.Save(saved))
	savedBytes, err := os.ReadFile(saved)
	require.NoError(t, err)
	flipped := append([]byte{}, savedBytes...)
	flipped[len(flipped)-3] ^= 0x04
	nanWeights := func() []checkpoint.Tensor {
		var ts []checkpoint.Tensor
		for _, p := range smallModel.Params {
			ts = append(ts, checkpoint.Tensor{Name: p.Name, Shape: p.Value.Shape(), F32: append([]float32(nil), p.Value.Data().([]float32)...)})
		}
		ts[1].F32[0] = float32(math.Inf(1))
		return ts
	}
	goodImages := gzIDX(2051, []uint32{2, 2, 2}, make([]byte, 8))
	goodLabels := gzIDX(2049, []uint32{2}, []byte{1, 2})
	loadSet := func(images, labels []byte) func() error {
		return func() error {
			_, err := mnist.LoadSet(file(fmt.Sprintf("i%p.gz", &images), images), file(fmt.Sprintf("l%p.gz", &labels), labels))
			return err
		}
	}
	batch := func(dist []float64, labels []int) mining.Batch {
		return mining.Batch{Dist: dist, Labels: labels, Dim: 4}
	}
	goodDist := []float64{0, 1, 2, 1, 0, 3, 2, 3, 0}
	mineT := func(m mining.TripletMiner, b mining.Batch) func() error {
		return func() error { return m.MineTriplets(b, mining.NewTripletList(64)) }
	}
	capT := func(m mining.TripletMiner, b int) func() error {
		return func() error { _, err := m.TripletCapacity(b); return err }
	}
	sampler := func(labels []int, p, k int) func() error {
		return func() error { _, err := mining.NewPKSampler(labels, p, k, 1); return err }
	}
	trainer := func(mod func(*models.TrainConfig), b int) func() error {
		return func() error {
			c := models.DefaultTrainConfig()
			mod(&c)
			tr, err := models.NewTrainer(smallModel, losses.NewTriplet(), b, c)
			if err == nil {
				tr.Close()
			}
			return err
		}
	}
	pk := func(n int) models.Dataset {
		d := models.Dataset{X: make([]float32, n*4), Labels: make([]int, n)}
		for i := range d.Labels {
			d.Labels[i] = i % 3
			d.X[4*i] = float32(i)
		}
		return d
	}
	train := func(m *models.Model, d models.Dataset, mod func(*models.TrainConfig)) func() error {
		return func() error {
			c := models.TrainConfig{P: 3, K: 2, Epochs: 1, Solver: models.Adam, LearnRate: 1e-3, Seed: 1}
			mod(&c)
			_, err := models.Train(context.Background(), m, losses.NewTriplet(), d, c)
			return err
		}
	}
	nanGradLoss := losses.Func(func(emb, _ *G.Node) (*G.Node, error) {
		z, err := G.Sub(emb, emb)
		if err != nil {
			return nil, err
		}
		r, err := G.Sqrt(z) // √0 has an infinite derivative: NaN gradients, loss 0
		if err != nil {
			return nil, err
		}
		return G.Sum(r)
	})
	q := []float32{0, 1, 1, 0}
	retrieval := func(qs []float32, ql []int, rs []float32, rl []int, dim int, opt eval.Options) func() error {
		return func() error { _, err := eval.Retrieval(qs, ql, rs, rl, dim, opt); return err }
	}

	lib := []struct {
		area, name string
		f          func() error
		want       string
	}{
		// losses: options (defect 3) and inputs
		{"losses", "triplet margin NaN (defect 3)", func() error { return lossRun(losses.Triplet{Margin: math.NaN()}, embWith(0, 0, 1)) }, "losses: triplet: margin is NaN"},
		{"losses", "triplet margin +Inf (defect 3)", func() error { return lossRun(losses.Triplet{Margin: math.Inf(1)}, embWith(0, 0, 1)) }, "losses: triplet: margin is +Inf"},
		{"losses", "contrastive PosMargin NaN (defect 3)", func() error {
			return lossRun(losses.Contrastive{PosMargin: math.NaN(), NegMargin: 1}, embWith(0, 0, 1))
		}, "losses: contrastive: PosMargin is NaN"},
		{"losses", "contrastive NegMargin +Inf (defect 3)", func() error { return lossRun(losses.Contrastive{NegMargin: math.Inf(1)}, embWith(0, 0, 1)) }, "losses: contrastive: NegMargin is +Inf"},
		{"losses", "lifted margin NaN (defect 3)", func() error { return lossRun(losses.Lifted{Margin: math.NaN()}, embWith(0, 0, 1)) }, "losses: lifted structured: margin is NaN"},
		{"losses", "n-pair L2 +Inf (defect 3)", func() error { return lossRun(losses.NPair{L2: math.Inf(1)}, embWith(0, 0, 1)) }, "losses: n-pair: L2 is +Inf"},
		{"losses", "nt-xent temperature -0.07", func() error { return lossRun(losses.NTXent{Temperature: -0.07}, embWith(0, 0, 1)) }, "losses: nt-xent: temperature is -0.07"},
		{"losses", "supcon temperature NaN", func() error { return lossRun(losses.SupCon{Temperature: math.NaN()}, embWith(0, 0, 1)) }, "losses: supcon: temperature is NaN"},
		{"losses", "nce temperature -1", func() error { return lossRun(losses.NCE{Temperature: -1}, embWith(0, 0, 1)) }, "losses: nce: temperature is -1"},
		{"losses", "triplet reduction 42", func() error { return lossRun(losses.Triplet{Reducer: 42}, embWith(0, 0, 1)) }, "losses: unknown reduction 42"},
		{"losses", "NaN embedding, triplet without miner (defect 12)", func() error { return lossRun(losses.NewTriplet(), embWith(2, 3, math.NaN())) }, "losses: triplet: embeddings row 2, column 3 is NaN"},
		{"losses", "NaN embedding, triplet with batch-hard (defect 12)", func() error { return lossRun(losses.Triplet{Miner: mining.BatchHard{}}, embWith(1, 0, math.NaN())) }, "losses: triplet: embeddings row 1, column 0 is NaN"},
		{"losses", "+Inf embedding, nt-xent (defect 12)", func() error { return lossRun(losses.NewNTXent(), embWith(5, 1, math.Inf(1))) }, "losses: nt-xent: embeddings row 5, column 1 is +Inf"},
		{"losses", "-Inf embedding, contrastive with pair-margin (defect 12)", func() error {
			return lossRun(losses.Contrastive{NegMargin: 1, Miner: mining.PairMarginPML()}, embWith(0, 2, math.Inf(-1)))
		}, "losses: contrastive: embeddings row 0, column 2 is -Inf"},
		{"losses", "NaN embedding, n-pair (defect 12)", func() error { return lossRun(losses.NewNPair(), embWith(3, 3, math.NaN())) }, "losses: n-pair: embeddings row 3, column 3 is NaN"},
		{"losses", "NaN embedding, lifted (defect 12)", func() error { return lossRun(losses.NewLifted(), embWith(4, 0, math.NaN())) }, "losses: lifted structured: embeddings row 4, column 0 is NaN"},
		// the pair-based losses of issue 14
		{"losses", "multi-similarity alpha -2", func() error { return lossRun(losses.MultiSimilarity{Alpha: -2}, embWith(0, 0, 1)) }, "losses: multi-similarity: alpha is -2"},
		{"losses", "multi-similarity base NaN", func() error { return lossRun(losses.MultiSimilarity{Base: math.NaN()}, embWith(0, 0, 1)) }, "losses: multi-similarity: base is NaN"},
		{"losses", "circle gamma +Inf", func() error { return lossRun(losses.Circle{Gamma: math.Inf(1)}, embWith(0, 0, 1)) }, "losses: circle: gamma is +Inf"},
		{"losses", "circle on a distance", func() error { return lossRun(losses.Circle{Distance: graph.Euclidean{}}, embWith(0, 0, 1)) }, "losses: circle: distance graph.Euclidean is not a similarity"},
		{"losses", "generalized lifted NegMargin NaN", func() error { return lossRun(losses.GeneralizedLifted{NegMargin: math.NaN()}, embWith(0, 0, 1)) }, "losses: generalized lifted structure: NegMargin is NaN"},
		{"losses", "margin alpha -0.2", func() error { return lossRun(losses.Margin{Margin: -0.2}, embWith(0, 0, 1)) }, "losses: margin: margin is -0.2"},
		{"losses", "margin beta +Inf", func() error { return lossRun(losses.Margin{Beta: math.Inf(1)}, embWith(0, 0, 1)) }, "losses: margin: beta is +Inf"},
		{"losses", "debiased contrastive TauPlus 1", func() error { return lossRun(losses.DebiasedContrastive{TauPlus: 1}, embWith(0, 0, 1)) }, "losses: debiased contrastive: TauPlus is 1"},
		{"losses", "hard-negative contrastive beta -1", func() error { return lossRun(losses.HardNegative{Beta: -1}, embWith(0, 0, 1)) }, "losses: hard-negative contrastive: beta is -1"},
		{"losses", "NaN embedding, multi-similarity", func() error { return lossRun(losses.NewMultiSimilarity(), embWith(1, 2, math.NaN())) }, "losses: multi-similarity: embeddings row 1, column 2 is NaN"},
		{"losses", "+Inf embedding, hard-negative contrastive", func() error { return lossRun(losses.NewHardNegative(), embWith(2, 1, math.Inf(1))) }, "losses: hard-negative contrastive: embeddings row 2, column 1 is +Inf"},
		// the options of issue 14 part 4
		{"losses", "Lp order 0.5 in a triplet loss", func() error { return lossRun(losses.Triplet{Distance: graph.Lp{P: 0.5}}, embWith(0, 0, 1)) }, "graph: Lp.P is 0.5; want a finite value ≥ 1"},
		{"losses", "Lp order NaN in N-pair", func() error { return lossRun(losses.NPair{Distance: graph.Lp{P: math.NaN()}}, embWith(0, 0, 1)) }, "graph: Lp.P is NaN"},
		{"losses", "NaN embedding, triplet with swap", func() error {
			return lossRun(losses.Triplet{Swap: true, Miner: mining.BatchEasyHardPML()}, embWith(3, 1, math.NaN()))
		}, "losses: triplet: embeddings row 3, column 1 is NaN"},
		{"losses", "NaN embedding, SupConPML", func() error { return lossRun(losses.SupConPML(), embWith(0, 3, math.NaN())) }, "losses: supcon: embeddings row 0, column 3 is NaN"},
		{"losses", "nil embeddings", func() error { _, err := losses.NewTriplet().Loss(nil, nil); return err }, "losses: triplet: embeddings is nil"},
		{"losses", "NCE logistic 3 noise for 2 data", func() error {
			g := G.NewGraph()
			_, err := losses.NCELogistic(G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("d")), G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("n")))
			return err
		}, "losses: nce: 3 noise logits for 2 data logits"},

		// miners (defect 4)
		{"mining", "AllTriplets Capacity 1<<34 (defect 4)", capT(mining.AllTriplets{Capacity: 1 << 34}, 100), "mining: AllTriplets.Capacity is 17179869184 slots, about 2199.0 GB"},
		{"mining", "PKTriplets(1000, 100000) as a capacity (defect 4)", capT(mining.AllTriplets{Capacity: mining.PKTriplets(1000, 100000)}, 100), "the limit is MaxCapacity = 67108864 slots"},
		{"mining", "SemiHard Capacity past MaxCapacity (defect 4)", capT(mining.SemiHard{Capacity: 1 << 30}, 100), "mining: SemiHard.Capacity is 1073741824 slots"},
		{"mining", "AllTriplets Capacity -1", capT(mining.AllTriplets{Capacity: -1}, 10), "mining: AllTriplets.Capacity is -1"},
		{"mining", "AllTriplets default past MaxSlots", capT(mining.AllTriplets{}, 1024), "set AllTriplets.Capacity"},
		{"mining", "batch with a NaN distance", mineT(mining.BatchHard{}, batch([]float64{0, math.NaN(), 2, 1, 0, 3, 2, 3, 0}, []int{0, 0, 1})), "mining: distance (0, 1) is NaN"},
		{"mining", "distance matrix of the wrong size", mineT(mining.BatchHard{}, batch(goodDist[:8], []int{0, 0, 1})), "mining: distance matrix has 8 entries; want 3×3"},
		{"mining", "empty batch", mineT(mining.BatchHard{}, batch(nil, nil)), "mining: empty batch"},
		{"mining", "SemiHard negative margin", mineT(mining.SemiHard{Margin: -1}, batch(goodDist, []int{0, 0, 1})), "mining: SemiHard.Margin is -1"},
		{"mining", "DistanceWeighted without Rand", mineT(mining.DistanceWeighted{}, batch(goodDist, []int{0, 0, 1})), "mining: DistanceWeighted.Rand is nil"},
		{"mining", "TripletsOfType unknown type", mineT(mining.TripletsOfType{Type: 9}, batch(goodDist, []int{0, 0, 1})), "mining: TripletsOfType.Type is"},
		{"mining", "AllTriplets margin NaN", mineT(mining.AllTriplets{OnlyViolating: true, Margin: math.NaN()}, batch(goodDist, []int{0, 0, 1})), "mining: AllTriplets.Margin is NaN"},
		{"mining", "BatchEasyHard both semi-hard", mineT(mining.BatchEasyHard{Pos: mining.StrategySemiHard, Neg: mining.StrategySemiHard}, batch(goodDist, []int{0, 0, 1})), "mining: BatchEasyHard: Pos and Neg cannot both be SemiHard"},
		{"mining", "BatchEasyHard semi-hard with all", capT(mining.BatchEasyHard{Pos: mining.StrategyAll, Neg: mining.StrategySemiHard}, 10), "mining: BatchEasyHard: SemiHard cannot be combined with All"},
		{"mining", "BatchEasyHard strategy 9", capT(mining.BatchEasyHard{Neg: 9}, 10), "mining: BatchEasyHard.Neg is Strategy(9)"},
		{"mining", "BatchEasyHard reversed range", mineT(mining.BatchEasyHard{PosRange: &mining.Range{Lo: 1, Hi: 0}}, batch(goodDist, []int{0, 0, 1})), "mining: BatchEasyHard.PosRange is [1, 0]"},
		{"mining", "warm-up miners on two distances", func() error {
			_, err := mining.NewWarmup(mining.AllTriplets{Distance: graph.Cosine{}}, mining.BatchHard{}, 10)
			return err
		}, "mining: Warmup's miners read different distances"},
		{"mining", "nil output triplets", func() error { return mining.BatchHard{}.MineTriplets(batch(goodDist, []int{0, 0, 1}), nil) }, "mining: nil output triplets"},

		// sampler
		{"sampler", "no labels", sampler(nil, 2, 2), "mining: PKSampler: no labels"},
		{"sampler", "P = 0", sampler([]int{0, 0, 1, 1}, 0, 2), "mining: PKSampler: P = 0"},
		{"sampler", "K = 1", sampler([]int{0, 0, 1, 1}, 2, 1), "mining: PKSampler: K = 1 < 2"},
		{"sampler", "K beyond the dataset", sampler([]int{0, 0, 1, 1}, 2, 5), "mining: PKSampler: K = 5 exceeds the 4 samples"},
		{"sampler", "too few classes with 2 samples", sampler([]int{0, 0, 1, 2}, 2, 2), "mining: PKSampler: 1 classes have at least 2 samples"},
		{"sampler", "negative epoch", func() error {
			s, err := mining.NewPKSampler([]int{0, 0, 1, 1}, 2, 2, 1)
			if err != nil {
				return err
			}
			_, err = s.Epoch(-1)
			return err
		}, "mining: PKSampler: epoch -1"},

		// Load and checkpoints (defects 1, 9, 13)
		{"load", "config overflowing int (defect 1)", func() error {
			_, err := models.Load(crafted(t, `{"arch":"mlp","channels":1,"height":1048576,"width":1048576,"hidden":[8388608],"dim":4}`, nil))
			return err
		}, "input shape 1×1048576×1048576 has 1099511627776 values; the limit is MaxParams"},
		{"load", "config of 15 TB (defect 1)", func() error {
			_, err := models.Load(crafted(t, `{"arch":"mlp","channels":1,"height":28,"width":28,"hidden":[2147483648],"dim":1000}`, nil))
			return err
		}, "the mlp configuration has 3833258312680 weights"},
		{"load", "valid config, tensors absent (defect 1)", func() error {
			_, err := models.Load(crafted(t, `{"arch":"mlp","channels":1,"height":28,"width":28,"hidden":[1048576],"dim":4}`, nil))
			return err
		}, "1 tensors; the mlp architecture has 4 parameters"},
		{"load", "flipped data byte (defect 13)", func() error { _, err := models.Load(file("flipped.safetensors", flipped)); return err }, "data checksum mismatch"},
		{"load", "truncated file", func() error {
			_, err := models.Load(file("cut.safetensors", savedBytes[:len(savedBytes)-5]))
			return err
		}, "file truncated?"},
		{"load", "header length past the file", func() error {
			return func() error {
				_, err := models.Load(file("hlen.safetensors", append(binary.LittleEndian.AppendUint64(nil, 1<<62), '{', '}')))
				return err
			}()
		}, "header length 4611686018427387904 is larger than the 2 bytes after it"},
		{"load", "missing file", func() error { _, err := models.Load(filepath.Join(dir, "none.safetensors")); return err }, "none.safetensors: no such file"},
		{"load", "plain checkpoint, not a model", func() error {
			p := filepath.Join(dir, "plain.safetensors")
			require.NoError(t, checkpoint.Write(p, []checkpoint.Tensor{{Name: "a", F32: []float32{1}}}, nil))
			_, err := models.Load(p)
			return err
		}, "not a saved model"},
		{"load", "infinite weight", func() error { _, err := models.Load(crafted(t, cfgJSON(small), nanWeights())); return err }, "fc0.bias holds +Inf at index 0; weights must be finite"},
		{"load", "format version 2", func() error {
			p := filepath.Join(dir, "v2.safetensors")
			require.NoError(t, checkpoint.Write(p, []checkpoint.Tensor{{Name: "a", F32: []float32{1}}}, map[string]string{models.MetaFormat: "contrastive-go/model", models.MetaVersion: "2"}))
			_, err := models.Load(p)
			return err
		}, `format version "2"; this library reads 1`},
		{"load", "unknown architecture in the file", func() error { _, err := models.Load(crafted(t, `{"arch":"rnn"}`, nil)); return err }, `unknown architecture "rnn"`},
		{"checkpoint", "reserved checksum key on write", func() error {
			return checkpoint.Write(filepath.Join(dir, "r.safetensors"), []checkpoint.Tensor{{Name: "a", F32: []float32{1}}}, map[string]string{checkpoint.MetaChecksum: "0"})
		}, `metadata key "data_crc32c" is reserved`},
		{"load", "nil model Save (defect 9)", func() error { var m *models.Model; return m.Save(filepath.Join(dir, "nil.safetensors")) }, "models: save"},
		{"load", "nil model Embed (defect 9)", func() error { var m *models.Model; _, err := m.Embed([]float32{1}, 1, nil); return err }, "models: embed: nil model"},

		// IDX reader (defect 11)
		{"idx", "gzip followed by garbage (defect 11)", loadSet(append(append([]byte{}, goodImages...), "GARBAGE"...), goodLabels), "trailing garbage after the end of the gzip stream"},
		{"idx", "count mismatch, labels header read first (defect 11)", loadSet(goodImages, gzIDX(2049, []uint32{3}, []byte{1, 2, 3})), "has 2 images but"},
		{"idx", "not gzip", loadSet([]byte("plain text"), goodLabels), "is not a gzip file"},
		{"idx", "wrong magic", loadSet(gzIDX(2049, []uint32{2, 2, 2}, make([]byte, 8)), goodLabels), "magic number 2049, want 2051"},
		{"idx", "dimensions past 1 GiB", loadSet(gzIDX(2051, []uint32{60000, 60000, 60000}, nil), goodLabels), "exceed 1073741824 bytes"},
		{"idx", "truncated data", loadSet(gzIDX(2051, []uint32{2, 2, 2}, make([]byte, 7)), goodLabels), "need 8 data bytes: file truncated"},
		{"idx", "label 10", loadSet(goodImages, gzIDX(2049, []uint32{2}, []byte{1, 10})), "label 10 of sample 1 is outside 0..9"},
		{"idx", "empty image size", loadSet(gzIDX(2051, []uint32{2, 0, 2}, nil), goodLabels), "image size 0×2 is empty"},

		// eval
		{"eval", "empty queries", retrieval(nil, nil, q, []int{0, 1}, 2, eval.Options{}), "eval: queries is empty"},
		{"eval", "NaN in the references", retrieval(q, []int{0, 1}, []float32{0, float32(math.NaN()), 1, 0}, []int{0, 1}, 2, eval.Options{}), "eval: refs row 0 has a non-finite value NaN at column 1"},
		{"eval", "dim 0", retrieval(q, []int{0, 1}, q, []int{0, 1}, 0, eval.Options{}), "eval: dim must be positive, got 0"},
		{"eval", "labels of the wrong length", retrieval(q, []int{0}, q, []int{0, 1}, 2, eval.Options{}), "eval: queryLabels has 1 entries, queries have 2 rows"},
		{"eval", "K beyond the references", retrieval(q, []int{0, 1}, q, []int{0, 1}, 2, eval.Options{K: 5}), "eval: K = 5 exceeds the 2 references"},
		{"eval", "negative workers", retrieval(q, []int{0, 1}, q, []int{0, 1}, 2, eval.Options{Workers: -1}), "eval: Workers must be non-negative"},
		{"eval", "depth beyond the references", retrieval(q, []int{0, 1}, q, []int{0, 1}, 2, eval.Options{Depth: 3, MAP: true}), "eval: Depth = 3 exceeds the 2 references"},
		{"eval", "depth and max_bin_count", retrieval(q, []int{0, 1}, q, []int{0, 1}, 2, eval.Options{Depth: 1, MaxBinCount: true}), "eval: Depth = 1 and MaxBinCount both set"},
		{"eval", "max_bin_count without same-label references", retrieval(q, []int{0, 1}, q, []int{2, 3}, 2, eval.Options{MaxBinCount: true}), "eval: MaxBinCount gives depth 0"},
		{"eval", "cosine of a zero row", retrieval(q, []int{0, 1}, []float32{0, 0, 1, 0}, []int{0, 1}, 2, eval.Options{Distance: eval.Cosine}), "eval: refs row 0 is zero"},
		{"eval", "unknown distance", retrieval(q, []int{0, 1}, q, []int{0, 1}, 2, eval.Options{Distance: 2}), "eval: unknown Distance(2)"},
		{"eval", "k-means with more clusters than rows", func() error { _, err := eval.KMeans(q, 2, 3, eval.KMeansOptions{}); return err }, "eval: k-means needs 1 ≤ k ≤ 2 rows, got k = 3"},
		{"eval", "NMI of labellings of different lengths", func() error { _, err := eval.NMI([]int{0, 1}, []int{0}); return err }, "eval: labels has 2 entries, clusters has 1"},

		// trainer (defects 2, 5, 6)
		{"trainer", "weight decay NaN (defect 2)", trainer(func(c *models.TrainConfig) { c.WeightDecay = math.NaN() }, 6), "models: weight decay is NaN"},
		{"trainer", "weight decay +Inf (defect 2)", trainer(func(c *models.TrainConfig) { c.WeightDecay = math.Inf(1) }, 6), "models: weight decay is +Inf"},
		{"trainer", "SGD momentum NaN (defect 2)", trainer(func(c *models.TrainConfig) { c.Solver, c.Momentum = models.SGD, math.NaN() }, 6), "models: momentum is NaN"},
		{"trainer", "class split of one class", func() error {
			_, err := models.SplitClasses(models.Dataset{X: []float32{1, 2}, Labels: []int{4, 4}}, models.Dataset{X: []float32{1}, Labels: []int{4}}, 1)
			return err
		}, "models: split: the training set has 1 classes; want ≥ 2"},
		{"mining", "warm-up of -1 steps", func() error { _, err := mining.NewWarmup(mining.BatchHard{}, mining.BatchHard{}, -1); return err }, "mining: Warmup steps is -1"},
		{"mining", "zero Warmup", func() error { _, err := (mining.Warmup{}).TripletCapacity(4); return err }, "mining: Warmup not built by NewWarmup"},
		{"trainer", "learning rate 1e300 (defect 2)", trainer(func(c *models.TrainConfig) { c.LearnRate = 1e300 }, 6), "models: learning rate is 1e+300; want > 0 and ≤ MaxLearnRate = 10"},
		{"trainer", "batch of 30000 (defect 6)", trainer(func(*models.TrainConfig) {}, 30000), "on batches of 30000 needs about"},
		{"trainer", "unknown solver", trainer(func(c *models.TrainConfig) { c.Solver = "lbfgs" }, 6), `models: unknown solver "lbfgs"`},
		{"trainer", "finite loss, NaN gradient (defect 2)", func() error {
			m, err := models.New(small)
			if err != nil {
				return err
			}
			tr, err := models.NewTrainer(m, nanGradLoss, 6, models.DefaultTrainConfig())
			if err != nil {
				return err
			}
			defer tr.Close()
			_, err = tr.Step(make([]float32, 24), []int{0, 0, 1, 1, 2, 2})
			return err
		}, "weights not updated"},
		{"trainer", "MaxInt epochs (defect 5)", train(smallModel, pk(12), func(c *models.TrainConfig) { c.Epochs = math.MaxInt }), "epochs of 2 steps overflow the step count"},
		{"trainer", "nil model", train(nil, pk(12), func(*models.TrainConfig) {}), "models: nil model"},
		{"trainer", "empty dataset", train(smallModel, models.Dataset{}, func(*models.TrainConfig) {}), "models: empty dataset"},
		{"trainer", "features do not match labels", train(smallModel, models.Dataset{X: make([]float32, 5), Labels: []int{0, 1}}, func(*models.TrainConfig) {}), "models: dataset has 5 features for 2 labels"},
		{"trainer", "zero epochs", train(smallModel, pk(12), func(c *models.TrainConfig) { c.Epochs = 0 }), "models: epochs is 0"},
		{"trainer", "embed batch 0", func() error { _, err := smallModel.Embed(make([]float32, 8), 0, nil); return err }, "models: embed: batch size is 0"},
	}

	// The command's empty-test-set data folder (defect 8).
	emptyTest := t.TempDir()
	labels := make([]byte, 100)
	for i := range labels {
		labels[i] = byte(i % 10)
	}
	for name, b := range map[string][]byte{
		mnist.TrainImagesFile: gzIDX(2051, []uint32{100, 28, 28}, make([]byte, 100*784)),
		mnist.TrainLabelsFile: gzIDX(2049, []uint32{100}, labels),
		mnist.TestImagesFile:  gzIDX(2051, []uint32{0, 28, 28}, nil),
		mnist.TestLabelsFile:  gzIDX(2049, []uint32{0}, nil),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(emptyTest, name), b, 0o644))
	}
	out := t.TempDir()
	cli := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"-margin NaN (defect 3)", []string{"-margin", "NaN"}, 2, "-margin is NaN"},
		{"-lr 1e300 (defect 2)", []string{"-lr", "1e300"}, 2, "-lr is 1e+300"},
		{"-lr Inf (defect 7)", []string{"-lr", "Inf"}, 2, "-lr is +Inf"},
		{"-epochs 1e12 (defect 5)", []string{"-epochs", "1000000000000"}, 2, "-epochs is 1000000000000; want ≤ 10000"},
		{"-epochs MaxInt64 (defect 5)", []string{"-epochs", "9223372036854775807"}, 2, "-epochs is 9223372036854775807"},
		{"-k 3000 (defect 6)", []string{"-k", "3000"}, 2, "-p 10 × -k 3000 with -model hybrid -dim 64 needs about"},
		{"-dim 1000000 (defect 6)", []string{"-dim", "1000000"}, 2, "-dim 1000000 needs about"},
		{"-k MaxInt64 (defect 7)", []string{"-k", "9223372036854775807"}, 2, "-k is 9223372036854775807 but MNIST has 60000 training images"},
		{"-miner all -k 200 (defect 4)", []string{"-miner", "all", "-k", "200"}, 2, "AllTriplets.Capacity is 716400000 slots"},
		{"-p 1", []string{"-p", "1"}, 2, "-p is 1; want ≥ 2"},
		{"-model resnet", []string{"-model", "resnet"}, 2, `unknown -model "resnet"`},
		{"-eval-batch 0", []string{"-eval-batch", "0"}, 2, "-eval-batch is 0"},
		{"-warmup -1", []string{"-warmup", "-1"}, 2, "-warmup is -1; want ≥ 0"},
		{"-warmup with a pair loss", []string{"-warmup", "10", "-loss", "contrastive", "-miner", "none"}, 2, "-warmup 10 needs -loss triplet"},
		{"-warmup without a miner", []string{"-warmup", "10", "-miner", "none"}, 2, "-warmup 10 needs a triplet -miner"},
		{"-warmup-miner hard", []string{"-warmup-miner", "hard"}, 2, `unknown -warmup-miner "hard"`},
		{"-split half", []string{"-split", "half"}, 2, `unknown -split "half"`},
		{"-split classes -p 10", []string{"-split", "classes", "-p", "10"}, 2, "-p is 10 but -split classes trains on 5 classes"},
		{"-transform rotate", []string{"-transform", "rotate"}, 2, `unknown -transform "rotate"`},
		{"-loss circle with the default triplet miner", []string{"-loss", "circle"}, 2, "-miner semi-hard selects triplets; -loss circle cannot use it"},
		{"-loss dcl with a pair miner", []string{"-loss", "dcl", "-miner", "multi-similarity"}, 2, "-miner multi-similarity selects pairs; -loss dcl cannot use it"},
		{"-loss margin -margin -0.2", []string{"-loss", "margin", "-miner", "none", "-margin", "-0.2"}, 2, "-margin is -0.2"},
		{"-loss circle-loss", []string{"-loss", "circle-loss"}, 2, `unknown -loss "circle-loss"`},
		{"-swap with contrastive", []string{"-swap", "-loss", "contrastive", "-miner", "none"}, 2, "-swap needs -loss triplet"},
		{"-pos-strategy without easy-hard", []string{"-pos-strategy", "hard"}, 2, "-pos-strategy and -neg-strategy choose the picks of -miner easy-hard; -miner is semi-hard"},
		{"-neg-strategy hardest", []string{"-miner", "easy-hard", "-neg-strategy", "hardest"}, 2, `unknown -neg-strategy "hardest"`},
		{"easy-hard semihard × semihard", []string{"-miner", "easy-hard", "-pos-strategy", "semihard", "-neg-strategy", "semihard"}, 2, "Pos and Neg cannot both be SemiHard"},
		{"easy-hard all × semihard", []string{"-miner", "easy-hard", "-pos-strategy", "all"}, 2, "SemiHard cannot be combined with All (Pos all, Neg semihard)"},
		{"easy-hard with ntxent", []string{"-miner", "easy-hard", "-loss", "ntxent"}, 2, "-miner easy-hard selects triplets or pairs; -loss ntxent cannot use it"},
		{"-distance manhattan", []string{"-distance", "manhattan"}, 2, `unknown -distance "manhattan"`},
		{"-miner-distance l2", []string{"-miner-distance", "l2"}, 2, `unknown -miner-distance "l2"`},
		{"-distance lp -lp-p 0.5", []string{"-distance", "lp", "-lp-p", "0.5"}, 2, "-lp-p is 0.5; want a finite value ≥ 1"},
		{"-distance lp -lp-p NaN", []string{"-distance", "lp", "-lp-p", "NaN"}, 2, "-lp-p is NaN"},
		{"-lp-p without lp", []string{"-lp-p", "3"}, 2, "-lp-p 3 needs -distance lp or -miner-distance lp"},
		{"-miner-distance without a miner", []string{"-miner-distance", "cosine", "-miner", "none"}, 2, "-miner-distance cosine needs a -miner"},
		{"-miner-distance similarity for distance-weighted", []string{"-miner", "distance-weighted", "-miner-distance", "dot"}, 2, "-miner-distance dot is a similarity"},
		{"-loss circle on a distance", []string{"-loss", "circle", "-miner", "none", "-distance", "euclidean"}, 2, "-loss circle -distance euclidean: losses: circle: distance graph.Euclidean is not a similarity"},
		{"-loss dcl -distance cosine", []string{"-loss", "dcl", "-miner", "none", "-distance", "cosine"}, 2, "-loss dcl has no -distance option"},
		{"-eval-distance manhattan", []string{"-eval-distance", "manhattan"}, 2, `unknown -eval-distance "manhattan" (want one of euclidean, cosine)`},
		{"-eval-k 0", []string{"-eval-k", "0"}, 2, `-eval-k is "0"; want all, max_bin_count or a whole number ≥ 1`},
		{"-eval-k max", []string{"-eval-k", "max"}, 2, `-eval-k is "max"; want all, max_bin_count or a whole number ≥ 1`},
		{"-eval-k 70000", []string{"-eval-k", "70000"}, 2, "-eval-k is 70000 but MNIST has 60000 training images to retrieve"},
		{"-eval-k beyond -limit", []string{"-limit", "100", "-eval-k", "200", "-out", out}, 2, "-eval-k is 200 but there are 100 training references to retrieve"},
		{"-knn -1", []string{"-knn", "-1"}, 2, "-knn is -1; want 0 (5) to 60000"},
		{"-knn beyond -limit", []string{"-limit", "100", "-knn", "101", "-out", out}, 2, "-knn is 101 but there are 100 training references to vote"},
		{"-metrics map@r", []string{"-metrics", "map@r"}, 2, `unknown metric "map@r" in -metrics "map@r"`},
		{"-metrics empty", []string{"-metrics", ""}, 2, `unknown metric "" in -metrics ""`},
		{"positional argument", []string{"extra"}, 2, "unexpected arguments"},
		{"missing data folder", []string{"-data", filepath.Join(dir, "none"), "-out", out}, 1, "train-images-idx3-ubyte.gz"},
		{"empty test set (defect 8)", []string{"-data", emptyTest, "-out", out, "-model", "mlp"}, 1, "the test set " + filepath.Join(emptyTest, mnist.TestImagesFile) + " is empty"},
	}

	require.GreaterOrEqual(t, len(lib)+len(cli), 60, "the catalogue must hold at least 60 bad inputs")
	areas := map[string]int{}
	for _, tc := range lib {
		areas[tc.area]++
		t.Run(tc.area+"/"+tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panicked: %v", r)
					}
				}()
				err = tc.f()
			}()
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
			pkg := map[string]string{"losses": "losses: ", "mining": "mining: ", "sampler": "mining: ", "load": "models: ", "idx": "mnist: ", "eval": "eval: ", "trainer": "models: ", "checkpoint": "checkpoint: "}[tc.area]
			if tc.area == "losses" {
				// errors of a graph's run come wrapped by Gorgonia's machine
				require.Contains(t, err.Error(), pkg)
			} else {
				require.True(t, strings.HasPrefix(err.Error(), pkg), "error %q does not start with %q", err, pkg)
			}
		})
	}
	for _, tc := range cli {
		areas["cli"]++
		t.Run("cli/"+tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			require.True(t, strings.HasPrefix(stderr.String(), "mnist-triplet: "), stderr.String())
		})
	}
	for _, a := range []string{"losses", "mining", "sampler", "load", "checkpoint", "idx", "eval", "trainer", "cli"} {
		require.Positive(t, areas[a], "no entry for %s", a)
	}
}
