package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/eval"
	"github.com/contrastive-go/contrastive/models/mnist"
)

func main() {
	m, _ := models.Load("/tmp/run1/model.safetensors")
	dir, _ := mnist.DefaultDir()
	tr, te, _ := mnist.Load(dir)
	a, _ := m.Embed(te.Images, 500, nil)
	b, _ := m.Embed(tr.Images, 500, nil)
	f, _ := os.Create("/tmp/eval.prof")
	pprof.StartCPUProfile(f)
	t := time.Now()
	rep, err := eval.Retrieval(a, te.Labels, b, tr.Labels, 64, eval.Options{})
	pprof.StopCPUProfile()
	fmt.Println(rep, err, time.Since(t))
}
