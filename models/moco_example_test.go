package models_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/models"
)

// MoCo with NT-Xent: every step embeds the batch with the key encoder,
// appends the keys to a queue of 32, compares the queries with the queue
// and then moves the key encoder's weights towards the trained ones
// (momentum 0.9 here; the paper's is 0.999).
func ExampleMoCo() {
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
	moco, err := models.NewMoCo(m, losses.RefFunc(losses.NewNTXent()), 32, 0.9)
	if err != nil {
		log.Fatal(err)
	}
	defer moco.Close()
	tc := models.TrainConfig{P: 3, K: 4, Epochs: 1, Solver: models.Adam, LearnRate: 1e-2, Seed: 1}
	h, err := models.Train(context.Background(), m, moco, models.Dataset{X: x, Labels: labels}, tc)
	if err != nil {
		log.Fatal(err)
	}
	moved := !slices.Equal(moco.KeyModel().Params[0].Value.Data().([]float32), m.Params[0].Value.Data().([]float32))
	fmt.Printf("%d steps of 12 keys; the queue holds %d; the key encoder lags the query encoder: %v\n", h.Steps, moco.Queue().Len(), moved)
	// Output: 4 steps of 12 keys; the queue holds 32; the key encoder lags the query encoder: true
}
