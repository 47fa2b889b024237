package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name                string
		live, minHeap, want uint64
	}{
		{"small heap waits for the minimum", 16 * mb, 64 * mb, 300},
		{"tiny heap: at most the tuner's cap", 1 * mb, 64 * mb, maxTunedPercent},
		{"big heap paced by the percentage", 200 * mb, 64 * mb, 50},
		{"heap near the minimum keeps half of it as room", 50 * mb, 64 * mb, 64},
		{"no minimum is Go's own pacing", 100 * mb, 0, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, int(tc.want), gcPercentFor(tc.live, tc.minHeap, 50))
		})
	}
}

// gcPercent reads GOGC.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestGCTuner starts the tuner in this process: a small heap gets a high
// GOGC, a heap grown past the minimum gets the configured one after a
// collection (the tuner's finalizer runs once per cycle), and stopping
// restores the GOGC from before.
func TestGCTuner(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	const minHeap = 64 << 20
	stop := startGCTuner(minHeap, 50, false)
	runtime.GC()
	require.Greater(t, gcPercent(), 100, "a heap of a few MiB may grow to 64 MiB")

	ballast := make([][]byte, 0, 300)
	for range 300 {
		ballast = append(ballast, make([]byte, 1<<20))
	}
	for range 200 {
		runtime.GC()
		if gcPercent() == 50 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, 50, gcPercent(), "a 300 MiB heap is paced at GOGC=50")
	runtime.KeepAlive(ballast)

	stop()
	require.Equal(t, 100, gcPercent(), "stop restores GOGC")
}

// TestGCTunerIdle: a process that sits idle with its heap past half its
// way to the next collection collects on its own.
func TestGCTunerIdle(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	stop := startGCTuner(16<<20, 50, true)
	defer stop()
	runtime.GC()
	time.Sleep(20 * time.Millisecond) // the tuner's finalizer sets the goal
	samples := []metrics.Sample{{Name: metricLive}, {Name: metricGoal}}
	metrics.Read(samples)
	live, goal := samples[0].Value.Uint64(), samples[1].Value.Uint64()
	require.Greater(t, goal, live+8<<20, "a small heap may grow to the minimum")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cycles := ms.NumGC
	var garbage [][]byte
	for range (goal - live) * 6 / 10 >> 16 { // 60% of the way, in 64 KiB pieces: short of the collection's trigger
		garbage = append(garbage, make([]byte, 64<<10))
	}
	garbage = nil
	runtime.ReadMemStats(&ms)
	require.Equal(t, cycles, ms.NumGC, "the allocation did not start a collection")
	deadline := time.Now().Add(10 * time.Second)
	for ms.NumGC == cycles && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		runtime.ReadMemStats(&ms)
	}
	require.Greater(t, ms.NumGC, cycles, "an idle process past half its cycle collects")
}

// TestHeapLimit: the Go memory limit is the cap plus 16 MiB with the
// default GC room, more with less room, none without a cap.
func TestHeapLimit(t *testing.T) {
	for _, c := range []struct {
		capacity int64
		room     int
		want     int64
	}{
		{64 << 20, 25, 80 << 20},
		{64 << 20, 50, 80 << 20},
		{64 << 20, 0, 64<<20 + 64<<20/100*25 + 16<<20},
		{0, 25, math.MaxInt64},
	} {
		if got := heapLimit(c.capacity, c.room); got != c.want {
			t.Errorf("heapLimit(%d, %d) = %d, want %d", c.capacity, c.room, got, c.want)
		}
	}
}
