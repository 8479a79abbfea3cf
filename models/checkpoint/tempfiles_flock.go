//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package checkpoint

import (
	"os"
	"syscall"
)

// canLock: this system has flock(2), so live saves are told apart from
// leftovers by their lock.
const canLock = true

// lock takes an exclusive lock on f, held until f is closed.
func lock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

// tryLock takes an exclusive lock on f without waiting and reports whether
// it got it.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
