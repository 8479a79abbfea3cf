//go:build mpi

package mpi_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/losses"
	"github.com/contrastive-go/contrastive/mining"
	"github.com/contrastive-go/contrastive/models"
	"github.com/contrastive-go/contrastive/models/mpi"
)

// The launcher tests (TestTwoRanks, TestFailingRank*) start this test
// binary under mpirun; the ranks run the TestRank* tests, which skip
// unless rankEnv is set.
const rankEnv = "CONTRASTIVE_MPI_RANK_TEST"

var world *mpi.Comm

func TestMain(m *testing.M) {
	if os.Getenv(rankEnv) == "" {
		os.Exit(m.Run())
	}
	c, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	world = c
	code := m.Run()
	if code != 0 {
		// A failed rank ends the job rather than leave the others waiting.
		_ = c.Abort(code, "a test failed")
	}
	if err := c.Finalize(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

// mpirun runs this test binary on np ranks with -test.run pattern (and
// scenario in the environment), with a deadline, and returns its output
// and error.
func mpirun(t *testing.T, np int, pattern, scenario string, deadline time.Duration) (string, error, time.Duration) {
	t.Helper()
	bin, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found: install openmpi-bin and libopenmpi-dev (.ci/run does under CI=true)")
	}
	args := []string{"-np", fmt.Sprint(np), "--oversubscribe"}
	if os.Geteuid() == 0 {
		args = append(args, "--allow-run-as-root")
	}
	args = append(args, os.Args[0], "-test.run", pattern, "-test.v", "-test.count=1")
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), rankEnv+"="+scenario, "OMPI_MCA_mpi_yield_when_idle=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("mpirun did not end within %v (a hang):\n%s", deadline, out)
	}
	return string(out), err, time.Since(start)
}

// TestTwoRanks runs the TestRank* tests on 2 processes.
func TestTwoRanks(t *testing.T) {
	out, err, _ := mpirun(t, 2, "^TestRank(Collectives|Train)$", "ok", 5*time.Minute)
	require.NoError(t, err, out)
	require.Equal(t, 2, strings.Count(out, "--- PASS: TestRankCollectives ("), out)
	require.Equal(t, 2, strings.Count(out, "--- PASS: TestRankTrain ("), out)
}

// TestFailingRankEndsJob: rank 1 fails (exits with status 3, or stops
// without exiting) while rank 0 waits in a collective; the job must end
// with an error, not hang.
func TestFailingRankEndsJob(t *testing.T) {
	for _, tc := range []struct{ scenario, want string }{
		// mpirun ends the job when a rank exits without MPI_Finalize.
		{"exit", "exited with non-zero status"},
		// rank 0's collective times out and it aborts the job.
		{"stall", "MPI_Iallreduce: no completion after 2s"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			out, err, took := mpirun(t, 2, "^TestRankFails$", tc.scenario, 2*time.Minute)
			require.Error(t, err, out)
			require.Contains(t, out, tc.want)
			t.Logf("job ended after %v with %v:\n%s", took.Round(time.Millisecond), err, out)
		})
	}
}

func rankOnly(t *testing.T) {
	if world == nil {
		t.Skip("runs under mpirun (started by TestTwoRanks)")
	}
}

// TestRankFails is one rank failing while the other waits: rank 1 exits
// or stalls, rank 0 all-reduces with a 2 s timeout and aborts on error.
func TestRankFails(t *testing.T) {
	rankOnly(t)
	if world.Rank() == 1 {
		switch os.Getenv(rankEnv) {
		case "exit":
			fmt.Fprintln(os.Stderr, "rank 1 leaves")
			os.Exit(3)
		case "stall":
			time.Sleep(10 * time.Minute)
		}
	}
	world.Timeout = 2 * time.Second
	err := world.AllReduceFloat32([]float32{1, 2})
	require.Error(t, err)
	_ = world.Abort(4, err.Error())
}

// TestRankCollectives checks every collective against values each rank
// can compute on its own.
func TestRankCollectives(t *testing.T) {
	rankOnly(t)
	r, n := world.Rank(), world.Size()
	require.Equal(t, 2, n)

	f32 := []float32{float32(r + 1), 0.5, -float32(r)}
	require.NoError(t, world.AllReduceFloat32(f32))
	require.Equal(t, []float32{3, 1, -1}, f32) // 1+2, 0.5+0.5, -0-1

	f64 := []float64{float64(r) * 1e-300, 1}
	require.NoError(t, world.AllReduceFloat64(f64))
	require.Equal(t, []float64{1e-300, 2}, f64)

	send := []float32{float32(10 * r), float32(10*r + 1)}
	recv := make([]float32, 4)
	require.NoError(t, world.AllGatherFloat32(send, recv))
	require.Equal(t, []float32{0, 1, 10, 11}, recv)

	s64, r64 := []float64{float64(r) + 0.25}, make([]float64, 2)
	require.NoError(t, world.AllGatherFloat64(s64, r64))
	require.Equal(t, []float64{0.25, 1.25}, r64)

	labels := make([]int, 4)
	require.NoError(t, world.AllGatherInt([]int{r, math.MaxInt64 - r}, labels))
	require.Equal(t, []int{0, math.MaxInt64, 1, math.MaxInt64 - 1}, labels)

	// Rank r sends r+1 rows of 2 columns.
	rows := make([]float32, 2*(r+1))
	for i := range rows {
		rows[i] = float32(100*r + i)
	}
	all, counts, err := world.AllGatherVFloat32(rows, 2)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, counts)
	require.Equal(t, []float32{0, 1, 100, 101, 102, 103}, all)

	b32 := []float32{float32(r + 7)}
	require.NoError(t, world.BroadcastFloat32(b32, 1))
	require.Equal(t, []float32{8}, b32)
	b64 := []float64{float64(r + 7)}
	require.NoError(t, world.BroadcastFloat64(b64, 0))
	require.Equal(t, []float64{7}, b64)

	// Errors name the call.
	require.ErrorContains(t, world.AllGatherFloat32(send, make([]float32, 3)), "mpi: MPI_Iallgather: recv has 3 values; want 2 ranks × 2")
	require.ErrorContains(t, world.BroadcastFloat32(b32, 2), "mpi: MPI_Ibcast: root 2 is not a rank of 2")
	_, _, err = world.AllGatherVFloat32([]float32{1, 2, 3}, 2)
	require.ErrorContains(t, err, "mpi: MPI_Iallgatherv: 3 values are not rows of 2 columns")
}

// TestRankTrain: Train on 2 processes (rank-specific initial weights,
// replaced by rank 0's broadcast) ends, on both ranks, at the weights and
// losses of one process with Shards = 2, which each rank computes alone.
func TestRankTrain(t *testing.T) {
	rankOnly(t)
	for _, f64 := range []bool{true, false} {
		t.Run(fmt.Sprintf("float64=%v", f64), func(t *testing.T) {
			cfg := models.Config{Arch: models.ConvNet, Channels: 1, Height: 10, Width: 10, Hidden: []int{3, 4}, Kernel: 3, Dim: 4, Seed: 3, Float64: f64}
			// Same bounds and reasons as TestDistributedTrainMatchesOneProcess
			// in package models.
			abs, rel := 1e-3, 1e-2
			if f64 {
				abs, rel = 1e-12, 1e-10
			}
			data := models.Dataset{X: make([]float32, 90*cfg.Inputs()), Labels: make([]int, 90)}
			for i := range data.X {
				data.X[i] = float32(math.Sin(float64(i) * 0.37))
			}
			for i := range data.Labels {
				data.Labels[i] = i % 5
			}
			loss := func() models.Loss {
				l := losses.TripletPML()
				l.Margin, l.Miner = 0.2, mining.BatchHard{}
				return l
			}
			tc := models.TrainConfig{P: 3, K: 2, Epochs: 1, MaxSteps: 4, Solver: models.SGD, LearnRate: 0.2, Seed: 7, Workers: 2}

			one, err := models.New(cfg)
			require.NoError(t, err)
			ref := tc
			ref.Shards = 2
			hRef, err := models.Train(context.Background(), one, loss(), data, ref)
			require.NoError(t, err)

			mine := cfg
			mine.Seed += uint64(world.Rank())
			m, err := models.New(mine)
			require.NoError(t, err)
			dc := tc
			dc.Comm = world
			h, err := models.Train(context.Background(), m, loss(), data, dc)
			require.NoError(t, err)
			require.Equal(t, hRef.Steps, h.Steps)
			for s := range h.Losses {
				require.InDelta(t, hRef.Losses[s], h.Losses[s], abs+rel*math.Abs(hRef.Losses[s]), "step %d", s)
			}
			for i, p := range m.Params {
				want := flat(one.Params[i].Value.Data())
				got := flat(p.Value.Data())
				for k := range got {
					require.InDelta(t, want[k], got[k], abs+rel*math.Abs(want[k]), "%s[%d]", p.Name, k)
				}
				// Every rank holds the same weights: sum over ranks = 2 × mine.
				sum := append([]float64(nil), got...)
				require.NoError(t, world.AllReduceFloat64(sum))
				for k := range got {
					require.Equal(t, 2*got[k], sum[k], "%s[%d] differs between ranks", p.Name, k)
				}
			}
		})
	}
}

func flat(d any) []float64 {
	switch v := d.(type) {
	case []float32:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), v...)
	}
	return nil
}

// A Comm is what distributed training takes.
var _ models.Comm = (*mpi.Comm)(nil)
