package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
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
//
// While a DataNode imports slots (a rebuild, a join: watchImports), the
// heap grows by what it receives, all of it live: a collection in its
// midst marks the whole growing heap and frees almost nothing. So the goal
// is raised by the bytes the import brought since it began (or since the
// last collection), and the idle collection waits, until no slot has been
// imported for importLinger ticks; then the goal is restored and the
// collection that is due runs after the copy, not in it. The raise stops
// at the Go memory limit (--maxmemory), which the runtime keeps anyway.
type gcTuner struct {
	minHeap uint64
	percent uint64
	stopped atomic.Bool
	quit    chan struct{}
	imports atomic.Pointer[func() importLoad] // the DataNode's copies in (watchImports)

	mu      sync.Mutex // the goal and the import pacing
	samples []metrics.Sample
	pacer   importPacer
}

// importLoad is what a DataNode reports of the copies into it: the slots
// it is importing now and the keys and bytes it has received by copies.
type importLoad struct {
	slots       int
	keys, bytes int64
}

// importPacer follows the imports of a DataNode, tick by tick, and says by
// how many bytes the collector's goal is raised for them.
type importPacer struct {
	active bool       // an import is under way, or ended less than importLinger ticks ago
	from   importLoad // the counters when it began or the last collection ended
	still  int        // ticks without a slot importing
	extra  uint64     // bytes the goal is raised by
}

const (
	// importLinger is how many ticks without a slot being imported end an
	// import: a rebuild imports batch after batch, with short gaps.
	importLinger = 10
	// importKeyBytes is what a key received costs the heap besides its
	// bytes on the wire: the entry, its map slot, allocation rounding
	// (about 215 heap bytes per key of a 100-byte value, 2026-12-04).
	importKeyBytes = 96
)

// tick notes the imports now (cur) and returns the bytes the goal is to be
// raised by.
func (p *importPacer) tick(cur importLoad) uint64 {
	switch {
	case cur.slots > 0 && !p.active:
		p.active, p.from, p.still = true, cur, 0
	case cur.slots > 0:
		p.still = 0
	case p.active:
		if p.still++; p.still >= importLinger {
			p.active = false
		}
	}
	if cur.keys < p.from.keys || cur.bytes < p.from.bytes { // CONFIG RESETSTAT
		p.from = cur
	}
	p.extra = 0
	if p.active {
		p.extra = uint64(cur.bytes-p.from.bytes) + uint64(cur.keys-p.from.keys)*importKeyBytes
	}
	return p.extra
}

// collected notes a collection: what the import brought so far is in its
// live heap now.
func (p *importPacer) collected(cur importLoad) {
	if p.active {
		p.from, p.extra = cur, 0
	}
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
	go t.loop(idle)
	running.Store(t)
	return func() {
		running.CompareAndSwap(t, nil)
		t.stopped.Store(true)
		close(t.quit)
		t.mu.Lock()
		debug.SetGCPercent(oldPercent)
		t.mu.Unlock()
	}
}

// running is the tuner this process started, if any.
var running atomic.Pointer[gcTuner]

// watchImports has the running tuner, if any, keep the collector's goal
// out of the way of the imports src reports (a DataNode's Imports).
func watchImports(src func() (slots int, keys, bytes int64)) {
	if t := running.Load(); t != nil {
		f := func() importLoad {
			s, k, b := src()
			return importLoad{s, k, b}
		}
		t.imports.Store(&f)
	}
}

// importsNow reads the watched imports (none when nothing is watched).
func (t *gcTuner) importsNow() importLoad {
	if f := t.imports.Load(); f != nil {
		return (*f)()
	}
	return importLoad{}
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
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	t.pacer.collected(t.importsNow())
	t.setPercent()
}

// importTick raises or restores the goal for the imports now; it reports
// whether an import is under way.
func (t *gcTuner) importTick() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return false
	}
	before := t.pacer.extra
	if t.pacer.tick(t.importsNow()) != before {
		t.setPercent()
	}
	return t.pacer.active
}

// setPercent sets GOGC for the live heap the last collection left and the
// imports' extra; under t.mu.
func (t *gcTuner) setPercent() {
	metrics.Read(t.samples)
	debug.SetGCPercent(gcPercentFor(t.samples[0].Value.Uint64(), t.minHeap, t.percent, t.pacer.extra, uint64(debug.SetMemoryLimit(-1))))
}

// gcPercentFor is the GOGC that sets the next collection of a live heap of
// live bytes at the goal GOGC=percent sets, but at least minHeap and at
// least minHeap/2 above live; within [percent, maxTunedPercent]. Then extra
// bytes more (an import's growth), but not past limit (the Go memory
// limit), unless the goal without them already is.
func gcPercentFor(live, minHeap, percent, extra, limit uint64) int {
	if live == 0 {
		return maxTunedPercent
	}
	goal := max(live+max(live/100*percent, minHeap/2), minHeap)
	p := min(max((goal-live)*100/live, percent), maxTunedPercent)
	if extra == 0 {
		return int(p)
	}
	base := live + live*p/100
	goal = min(base+min(extra, 1<<50), max(limit, base))
	return int(min(max((goal-live)*100/live, p), 1<<30))
}

// Idle collection: the process counts as idle when it used less than
// idleCPU of one core over idleSpan ticks.
const (
	idleTick = 100 * time.Millisecond
	idleSpan = 3
	idleCPU  = 0.25
)

// loop follows the imports every tick and, if idle is set, runs a
// collection when the process is idle, no import is under way and the heap
// has grown more than half way from what the last collection left to the
// next goal.
func (t *gcTuner) loop(idle bool) {
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
		importing := t.importTick()
		if !idle {
			continue
		}
		cpu := cpuTime()
		if float64(cpu-lastCPU) < idleCPU*float64(idleTick) {
			quiet++
		} else {
			quiet = 0
		}
		lastCPU = cpu
		if quiet < idleSpan || importing {
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
