//go:build !unix

package bench

import (
	"testing"
	"time"
)

// cpuTime is not measured on this platform.
func cpuTime() time.Duration { return 0 }

// reportCPU reports nothing on this platform.
func reportCPU(*testing.B, time.Duration) {}

// peakRSS is not measured on this platform.
func peakRSS() float64 { return 0 }
