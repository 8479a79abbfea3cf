package eval

import (
	"encoding/binary"
	"os"
	"testing"
	"time"
)

func loadDump(t testing.TB) (q []float32, ql []int, r []float32, rl []int) {
	f, err := os.Open("/tmp/evaldump.bin")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var nq, nr int64
	rd := func(x any) { binary.Read(f, binary.LittleEndian, x) }
	rd(&nq)
	rd(&nr)
	q = make([]float32, nq*64)
	r = make([]float32, nr*64)
	rd(q)
	rd(r)
	a := make([]int64, nq)
	b := make([]int64, nr)
	rd(a)
	rd(b)
	for _, v := range a {
		ql = append(ql, int(v))
	}
	for _, v := range b {
		rl = append(rl, int(v))
	}
	return
}

func TestZZReal(t *testing.T) {
	q, ql, r, rl := loadDump(t)
	if os.Getenv("ZZN") != "" {
		q, ql = q[:64*1000], ql[:1000]
	}
	st := time.Now()
	rep, err := Retrieval(q, ql, r, rl, 64, Options{})
	t.Logf("%+v %v %v", rep, err, time.Since(st))
}
