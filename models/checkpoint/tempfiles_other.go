//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package checkpoint

import "os"

// canLock: no flock(2) here, so leftovers are told apart from live saves by
// their age alone (staleTempAgeNoLock).
const canLock = false

func lock(*os.File) error   { return nil }
func tryLock(*os.File) bool { return false }
