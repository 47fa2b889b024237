package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
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
			require.Equal(t, int(tc.want), gcPercentFor(tc.live, tc.minHeap, 50, 0, math.MaxInt64))
		})
	}
}

// TestGCPercentForImport: an import's growth raises the goal by its bytes,
// but not past the memory limit, and a goal already past the limit stays.
func TestGCPercentForImport(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name                     string
		live, extra, limit, want uint64
	}{
		{"an import's 40 MiB on a 100 MiB heap", 100 * mb, 40 * mb, math.MaxInt64, 90},
		{"stops at the memory limit", 100 * mb, 40 * mb, 170 * mb, 70},
		{"a limit under the goal keeps the goal", 100 * mb, 40 * mb, 120 * mb, 50},
		{"a small heap: the minimum, then the import", 16 * mb, 32 * mb, math.MaxInt64, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, int(tc.want), gcPercentFor(tc.live, 64*mb, 50, tc.extra, tc.limit))
		})
	}
}

// TestImportPacer: the goal's raise follows what an import brought since
// it began or since the last collection, lasts importLinger ticks past the
// last slot imported, and is gone after.
func TestImportPacer(t *testing.T) {
	var p importPacer
	require.Zero(t, p.tick(importLoad{0, 500, 50_000}), "no import: no raise")
	require.Zero(t, p.tick(importLoad{4, 500, 50_000}), "an import begins: nothing received yet")
	require.Equal(t, uint64(100_000+1000*importKeyBytes), p.tick(importLoad{2, 1500, 150_000}))
	p.collected(importLoad{3, 2000, 200_000})
	require.Zero(t, p.extra, "a collection holds what was received")
	require.Equal(t, uint64(50_000+500*importKeyBytes), p.tick(importLoad{3, 2500, 250_000}))
	for i := range importLinger - 1 { // a gap between batches
		require.Equal(t, uint64(60_000+600*importKeyBytes), p.tick(importLoad{0, 2600, 260_000}), "tick %d of the gap", i)
	}
	require.Equal(t, uint64(70_000+700*importKeyBytes), p.tick(importLoad{1, 2700, 270_000}), "the next batch")
	for range importLinger - 1 {
		p.tick(importLoad{0, 2700, 270_000})
	}
	require.True(t, p.active)
	require.Zero(t, p.tick(importLoad{0, 2700, 270_000}), "the import ended: the goal is restored")
	require.False(t, p.active)
	p.collected(importLoad{0, 2700, 270_000})
	require.Zero(t, p.tick(importLoad{0, 2700, 270_000}))

	require.Zero(t, p.tick(importLoad{1, 3000, 300_000}), "a new import")
	require.Zero(t, p.tick(importLoad{1, 100, 10_000}), "CONFIG RESETSTAT")
	require.Equal(t, uint64(10_000+100*importKeyBytes), p.tick(importLoad{1, 200, 20_000}), "counted from the reset")
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

// TestGCTunerImports starts the tuner in this process with an import
// source it drives: the goal rises by what the import brings, and the
// tuner's GOGC returns once the import ends.
func TestGCTunerImports(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	stop := startGCTuner(64<<20, 50, false)
	defer stop()
	var mu sync.Mutex
	var load importLoad
	watchImports(func() (int, int64, int64) {
		mu.Lock()
		defer mu.Unlock()
		return load.slots, load.keys, load.bytes
	})
	tuner := running.Load()
	set := func(l importLoad) {
		mu.Lock()
		load = l
		mu.Unlock()
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond) // the tuner's finalizer sets the goal
	tuner.update()
	base := gcPercent()

	set(importLoad{slots: 4})
	require.True(t, tuner.importTick())
	set(importLoad{slots: 4, keys: 1_000_000, bytes: 1 << 30})
	tuner.importTick()
	require.Greater(t, gcPercent(), base+1000, "a GiB imported raises the goal")

	set(importLoad{keys: 1_000_000, bytes: 1 << 30})
	for range importLinger {
		tuner.importTick()
	}
	require.False(t, tuner.importTick())
	require.Equal(t, base, gcPercent(), "the import ended: GOGC is the tuner's again")
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
