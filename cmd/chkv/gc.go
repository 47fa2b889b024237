package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"time"
)

// gcTuner paces the garbage collector like GOGC=percent, except that the
// heap may grow to minHeap before it is collected at all. Go's own pacer
// collects a heap of a few MiB every few MiB allocated: a DataNode that
// receives a migration starts nearly empty and would collect its whole,
// growing heap a dozen times while the records arrive. A server has the
// memory to spare; a big heap is paced exactly as before.
//
// It also collects while the process is idle once the heap has used half
// its way to the next collection: a burst of work that follows (a
// migration, a bulk load) then starts with the room of a whole cycle
// instead of paying for a collection of the whole heap in its midst.
//
// It works with GOGC off and a soft memory limit that it moves after every
// collection (a finalizer that re-arms itself runs once per cycle) to the
// heap goal plus the memory the runtime uses besides objects and free pages
// (which the runtime returns to the OS to stay under the limit).
type gcTuner struct {
	minHeap uint64
	percent uint64
	stopped atomic.Bool
	samples []metrics.Sample
	limit   atomic.Uint64 // the memory limit set last
	quit    chan struct{}
}

const (
	metricLive    = "/gc/heap/live:bytes"
	metricTotal   = "/memory/classes/total:bytes"
	metricObjects = "/memory/classes/heap/objects:bytes"
	metricFree    = "/memory/classes/heap/free:bytes"
	metricFreed   = "/memory/classes/heap/released:bytes"
)

// startGCTuner starts pacing; the returned function restores Go's pacer.
func startGCTuner(minHeap int64, percent int) (stop func()) {
	t := &gcTuner{minHeap: uint64(minHeap), percent: uint64(percent), samples: []metrics.Sample{
		{Name: metricLive}, {Name: metricTotal}, {Name: metricObjects}, {Name: metricFree}, {Name: metricFreed},
	}}
	t.quit = make(chan struct{})
	oldPercent := debug.SetGCPercent(-1)
	t.update()
	t.arm()
	go t.idleLoop()
	return func() {
		t.stopped.Store(true)
		close(t.quit)
		debug.SetMemoryLimit(math.MaxInt64)
		debug.SetGCPercent(oldPercent)
	}
}

// sentinel is the object whose finalizer runs after each collection.
type sentinel struct{ t *gcTuner }

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&sentinel{t}, func(s *sentinel) {
		if s.t.stopped.Load() {
			return
		}
		s.t.update()
		s.t.arm()
	})
}

// update sets the memory limit from the heap the last collection left.
func (t *gcTuner) update() {
	metrics.Read(t.samples)
	live := t.samples[0].Value.Uint64()
	v := func(i int) uint64 { return t.samples[i].Value.Uint64() }
	other := v(1) - v(2) - v(3) - v(4) // fragmentation, stacks, metadata: what free pages cannot cover
	limit := min(gcLimit(live, other, t.minHeap, t.percent), math.MaxInt64)
	t.limit.Store(limit)
	debug.SetMemoryLimit(int64(limit))
}

// Idle collection: the process counts as idle when it used less than
// idleCPU of one core over idleSpan.
const (
	idleTick = 100 * time.Millisecond
	idleSpan = 3 // ticks
	idleCPU  = 0.05
)

// idleLoop runs a collection when the process is idle and the heap has
// grown more than half way from what the last collection left to the
// limit, at most once per cycle.
func (t *gcTuner) idleLoop() {
	tick := time.NewTicker(idleTick)
	defer tick.Stop()
	samples := []metrics.Sample{{Name: metricLive}, {Name: metricTotal}, {Name: metricFreed}, {Name: metricFree}}
	lastCPU, quiet := cpuTime(), 0
	for {
		select {
		case <-t.quit:
			return
		case <-tick.C:
		}
		cpu := cpuTime()
		if float64(cpu-lastCPU) < idleCPU*float64(idleTick) {
			quiet++
		} else {
			quiet = 0
		}
		lastCPU = cpu
		if quiet < idleSpan {
			continue
		}
		metrics.Read(samples)
		live, inUse := samples[0].Value.Uint64(), samples[1].Value.Uint64()-samples[2].Value.Uint64()-samples[3].Value.Uint64()
		if limit := t.limit.Load(); inUse > live && limit > live && inUse-live > (limit-live)/2 {
			runtime.GC()
			quiet = 0
			lastCPU = cpuTime() // the collection's own CPU is not work
		}
	}
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gcLimit is the memory limit for a live heap of live bytes, with other
// bytes of runtime memory besides heap objects and free pages: the heap
// goal GOGC=percent sets, but at least minHeap, and at least minHeap/2
// above live (a heap just under minHeap would be collected again at once),
// plus other.
func gcLimit(live, other, minHeap, percent uint64) uint64 {
	goal := live + max(live/100*percent, minHeap/2)
	return max(goal, minHeap) + other
}
