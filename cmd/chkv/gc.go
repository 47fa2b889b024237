package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"time"
)

// gcTuner paces the garbage collector like GOGC=percent, except that the
// heap may grow to minHeap before it is collected, and a heap near minHeap
// still gets minHeap/2 of room. Go's own pacer collects a heap of a few MiB
// every few MiB allocated: a DataNode that receives a migration starts
// nearly empty and would collect its whole, growing heap a dozen times
// while the records arrive. A server has the memory to spare; a big heap
// is paced exactly as with GOGC=percent.
//
// After every collection (a finalizer that re-arms itself runs once per
// cycle) it sets GOGC to the percentage that puts the next goal there. A
// percentage, not an absolute limit: when the finalizer runs late, the
// runtime applies the last percentage to the new live heap, which errs
// towards room, not towards collecting again at once.
//
// It also collects while the process is nearly idle (under idleCPU of a
// core for idleSpan) once the heap has used half its way to the next
// collection: a collection then costs CPU nobody waits for, and a burst of
// work that follows (a migration, a bulk load) starts with the room of a
// whole cycle instead of collecting the whole heap in its midst.
type gcTuner struct {
	minHeap uint64
	percent uint64
	stopped atomic.Bool
	samples []metrics.Sample
	quit    chan struct{}
}

const (
	metricLive = "/gc/heap/live:bytes"
	metricGoal = "/gc/heap/goal:bytes"
	metricHeap = "/memory/classes/heap/objects:bytes"

	maxTunedPercent = 1000 // the most GOGC the tuner sets (a tiny heap)
)

// startGCTuner starts pacing, and collecting when idle if idle is set;
// the returned function restores Go's pacer.
func startGCTuner(minHeap int64, percent int, idle bool) (stop func()) {
	t := &gcTuner{
		minHeap: uint64(minHeap),
		percent: uint64(percent),
		samples: []metrics.Sample{{Name: metricLive}},
		quit:    make(chan struct{}),
	}
	oldPercent := debug.SetGCPercent(percent)
	t.update()
	t.arm()
	if idle {
		go t.idleLoop()
	}
	return func() {
		t.stopped.Store(true)
		close(t.quit)
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

// update sets GOGC from the heap the last collection left.
func (t *gcTuner) update() {
	metrics.Read(t.samples)
	debug.SetGCPercent(gcPercentFor(t.samples[0].Value.Uint64(), t.minHeap, t.percent))
}

// gcPercentFor is the GOGC that sets the next collection of a live heap of
// live bytes at the goal GOGC=percent sets, but at least minHeap and at
// least minHeap/2 above live; within [percent, maxTunedPercent].
func gcPercentFor(live, minHeap, percent uint64) int {
	if live == 0 {
		return maxTunedPercent
	}
	goal := max(live+max(live/100*percent, minHeap/2), minHeap)
	return int(min(max((goal-live)*100/live, percent), maxTunedPercent))
}

// Idle collection: the process counts as idle when it used less than
// idleCPU of one core over idleSpan ticks.
const (
	idleTick = 100 * time.Millisecond
	idleSpan = 3
	idleCPU  = 0.25
)

// idleLoop runs a collection when the process is idle and the heap has
// grown more than half way from what the last collection left to the
// next goal.
func (t *gcTuner) idleLoop() {
	tick := time.NewTicker(idleTick)
	defer tick.Stop()
	samples := []metrics.Sample{{Name: metricLive}, {Name: metricGoal}, {Name: metricHeap}}
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
		live, goal, heap := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64()
		if goal > live && heap > live && heap-live > (goal-live)/2 {
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
