package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Stale temporary files. A save writes "."+base+".tmp-<digits>" next to its
// target and renames it over the target when complete; a process killed in
// between leaves the temporary file behind (as large as the checkpoint).
// The next save of the same target removes such leftovers, but never a file
// that another live save is writing: on systems with flock(2) a save holds
// an exclusive lock on its temporary file from just after creating it until
// it has been renamed, and a leftover must be unlocked and untouched for
// staleTempAge; elsewhere only files untouched for staleTempAgeNoLock go.

// staleTempAge is the age (time since the last write) past which an
// unlocked temporary file is a leftover. It only has to cover the moment
// between creating the file and locking it.
const staleTempAge = time.Minute

// staleTempAgeNoLock is the age used where files cannot be locked: a save
// writes continuously, so an hour without a write means its process is gone.
const staleTempAgeNoLock = time.Hour

// tempPrefix is the prefix of the temporary files of a save of base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// isTempOf reports whether name is a temporary file of a save of base
// (os.CreateTemp replaces the pattern's "*" with digits).
func isTempOf(name, base string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix(base))
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// cleanStaleTemps removes the leftover temporary files of saves of base in
// dir, except self (the caller's own). It is best effort: a file that
// cannot be inspected, locked or removed is left alone, and the save goes on.
func cleanStaleTemps(dir, base, self string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // the save reports its own errors; cleaning is best effort
	}
	for _, e := range entries {
		name := e.Name()
		if !isTempOf(name, base) || filepath.Join(dir, name) == self || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		age := now.Sub(fi.ModTime())
		if !canLock {
			if age >= staleTempAgeNoLock {
				os.Remove(path) // best effort, see above
			}
			continue
		}
		if age < staleTempAge {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if tryLock(f) { // no live save holds it
			os.Remove(path) // best effort, see above
		}
		f.Close() // releases the lock
	}
}
