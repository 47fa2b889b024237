package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGCLimit(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name                       string
		live, other, minHeap, want uint64
	}{
		{"small heap waits for the minimum", 2 * mb, 3 * mb, 64 * mb, 67 * mb},
		{"big heap paced by the percentage", 200 * mb, 10 * mb, 64 * mb, 310 * mb},
		{"heap near the minimum keeps half of it as room", 50 * mb, 0, 64 * mb, 82 * mb},
		{"no minimum is Go's own pacing", 100 * mb, 0, 0, 150 * mb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, gcLimit(tc.live, tc.other, tc.minHeap, 50))
		})
	}
}

// TestGCTuner starts the tuner in this process: it turns GOGC off, keeps
// a memory limit of at least the minimum heap that follows collections,
// and restores Go's pacing when stopped.
func TestGCTuner(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	defer debug.SetMemoryLimit(math.MaxInt64)

	const minHeap = 256 << 20
	stop := startGCTuner(minHeap, 50)
	require.Equal(t, -1, debug.SetGCPercent(-1), "GOGC is off while the tuner runs")
	limit := debug.SetMemoryLimit(-1)
	require.GreaterOrEqual(t, limit, int64(minHeap))

	// Grow the live heap past the minimum: the limit follows after a
	// collection (the tuner's finalizer runs once per cycle).
	ballast := make([][]byte, 0, 300)
	for range 300 {
		ballast = append(ballast, make([]byte, 1<<20))
	}
	var grown int64
	for range 200 {
		runtime.GC()
		if grown = debug.SetMemoryLimit(-1); grown >= int64(300<<20)*3/2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.GreaterOrEqual(t, grown, int64(300<<20)*3/2, "limit follows a 300 MiB live heap at GOGC=50")
	runtime.KeepAlive(ballast)

	stop()
	require.Equal(t, 100, debug.SetGCPercent(100), "stop restores the GC percentage")
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "stop lifts the memory limit")
}
