package models_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
)

// Training on two goroutines: each batch of 3 classes × 4 samples is split
// into shards of 6 rows, each run by its own replica of the encoder; the
// loss and the batch-hard miner see all 12 rows. An Embedder then embeds
// with a warm pool of two machines, and its result does not depend on the
// number of workers.
func ExampleEmbedder() {
	cfg := models.Config{Arch: models.MLP, Channels: 1, Height: 4, Width: 4, Hidden: []int{16}, Dim: 4, Normalize: true, Seed: 1}
	m, err := models.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	x := make([]float32, 48*cfg.Inputs())
	labels := make([]int, 48)
	for i := range labels {
		labels[i] = i % 3
		for j := 0; j < cfg.Inputs(); j++ {
			x[i*cfg.Inputs()+j] = float32((i*7+j*labels[i])%11) / 11
		}
	}
	loss := losses.TripletPML()
	loss.Miner = mining.BatchHard{}
	tc := models.TrainConfig{P: 3, K: 4, Epochs: 1, Solver: models.Adam, LearnRate: 1e-2, Seed: 1, Workers: 2}
	h, err := models.Train(context.Background(), m, loss, models.Dataset{X: x, Labels: labels}, tc)
	if err != nil {
		log.Fatal(err)
	}
	e, err := models.NewEmbedder(m, 16, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	emb, err := e.Embed(x, nil)
	if err != nil {
		log.Fatal(err)
	}
	one, err := models.NewEmbedder(m, 16, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer one.Close()
	same, err := one.Embed(x, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d steps; %d embeddings of dimension %d; same with 1 worker: %v\n", h.Steps, len(emb)/cfg.Dim, cfg.Dim, slices.Equal(emb, same))
	// Output: 4 steps; 48 embeddings of dimension 4; same with 1 worker: true
}
