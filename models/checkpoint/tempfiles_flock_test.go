//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package checkpoint_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/contrastive-go/contrastive/models/checkpoint"
)

// TestSaveKeepsLiveTempFile: a temporary file that a live save holds (its
// lock) is never removed, however old its last write.
func TestSaveKeepsLiveTempFile(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, ".model.safetensors.tmp-42")
	f, err := os.Create(live)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	old := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(live, old, old))
	sample, meta := checkpointSample()
	require.NoError(t, checkpoint.Write(filepath.Join(dir, "model.safetensors"), sample, meta))
	require.FileExists(t, live)
}
