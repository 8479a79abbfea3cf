//go:build mpi

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mainEnv makes this test binary run the command (run) instead of its
// tests: TestMPIMatchesOneProcess starts it under mpirun that way.
const mainEnv = "MNIST_TRIPLET_MPI_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(mainEnv); args != "" {
		os.Exit(run(context.Background(), strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestMPIMatchesOneProcess: mpirun -np 2 of a short MNIST run (MLP, 1,000
// images, one epoch of steps of 2 × 5×10 images) gives the metrics of one process with
// -shards 2, and each rank says its rank and size.
func TestMPIMatchesOneProcess(t *testing.T) {
	bin, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found (Debian: openmpi-bin, libopenmpi-dev)")
	}
	flags := []string{"-model", "mlp", "-epochs", "1", "-limit", "1000", "-dim", "8", "-p", "5", "-seed", "5"}

	oneOut := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(flags, "-shards", "2", "-workers", "2", "-out", oneOut), &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())

	mpiOut := t.TempDir()
	args := []string{"-np", "2", "--oversubscribe"}
	if os.Geteuid() == 0 {
		args = append(args, "--allow-run-as-root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, os.Args[0])...)
	cmd.Env = append(os.Environ(), mainEnv+"="+strings.Join(append(flags, "-workers", "1", "-out", mpiOut), " "), "OMPI_MCA_mpi_yield_when_idle=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	for r := range 2 {
		require.Contains(t, string(out), fmt.Sprintf("MPI rank %d of 2: data shard %d of 2", r, r))
	}

	read := func(dir string) map[string]any {
		raw, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		return m
	}
	one, dist := read(oneOut), read(mpiOut)
	require.EqualValues(t, 2, dist["processes"])
	require.Equal(t, one["steps"], dist["steps"])
	// Metrics of 10,000 queries agree to float rounding of the weights (as
	// in TestWorkersAgree: a query whose two nearest references are that
	// close can flip).
	for _, k := range []string{"precision_at_1", "r_precision", "map_at_r", "knn_accuracy", "final_running_loss"} {
		a, b := one[k].(float64), dist[k].(float64)
		t.Logf("%s: one process %v, mpirun -np 2 %v", k, a, b)
		require.InDelta(t, a, b, 1e-3, k)
	}
}
