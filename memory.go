// The memory cap: maxmemory policies, the LRU clock and LFU counter of every key, and eviction by sampling with Redis's eviction pool.

package chkv

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// MaxMemoryPolicy says what a node does when its data passes the memory cap,
// as Redis's maxmemory-policy.
type MaxMemoryPolicy int32

// The policies of Redis 7.0, named as Redis names them (String, ParseMaxMemoryPolicy).
const (
	// NoEviction refuses writes that would add data (-OOM) while over the cap.
	NoEviction MaxMemoryPolicy = iota
	// AllKeysLRU evicts the least recently used keys.
	AllKeysLRU
	// AllKeysLFU evicts the least frequently used keys.
	AllKeysLFU
	// AllKeysRandom evicts random keys.
	AllKeysRandom
	// VolatileLRU evicts the least recently used keys that have a TTL.
	VolatileLRU
	// VolatileLFU evicts the least frequently used keys that have a TTL.
	VolatileLFU
	// VolatileRandom evicts random keys that have a TTL.
	VolatileRandom
	// VolatileTTL evicts the keys with a TTL that expire soonest.
	VolatileTTL
)

// String returns the policy's Redis name.
func (p MaxMemoryPolicy) String() string {
	switch p {
	case NoEviction:
		return "noeviction"
	case AllKeysLRU:
		return "allkeys-lru"
	case AllKeysLFU:
		return "allkeys-lfu"
	case AllKeysRandom:
		return "allkeys-random"
	case VolatileLRU:
		return "volatile-lru"
	case VolatileLFU:
		return "volatile-lfu"
	case VolatileRandom:
		return "volatile-random"
	case VolatileTTL:
		return "volatile-ttl"
	}
	return "unknown"
}

// ParseMaxMemoryPolicy parses a policy's Redis name (any case).
func ParseMaxMemoryPolicy(s string) (MaxMemoryPolicy, error) {
	for p := NoEviction; p <= VolatileTTL; p++ {
		if strings.EqualFold(s, p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("chkv: unknown maxmemory policy %q", s)
}

func (p MaxMemoryPolicy) lfu() bool      { return p == AllKeysLFU || p == VolatileLFU }
func (p MaxMemoryPolicy) volatile() bool { return p >= VolatileLRU }
func (p MaxMemoryPolicy) random() bool   { return p == AllKeysRandom || p == VolatileRandom }

// ParseMemory parses a memory size in Redis's notation: plain bytes, or a
// number with b, k, kb, m, mb, g or gb (k = 1000, kb = 1024, ...), any case.
func ParseMemory(s string) (int64, error) {
	units := []struct {
		suffix string
		mul    int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}}
	l := strings.ToLower(s)
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(l, u.suffix) {
			l, mul = strings.TrimSuffix(l, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mul {
		return 0, fmt.Errorf("chkv: bad memory size %q", s)
	}
	return n * mul, nil
}

// Eviction defaults, as Redis's.
const (
	// DefaultMaxMemorySamples is how many keys eviction samples at a time.
	DefaultMaxMemorySamples = 5
	evictionPoolSize        = 16
	// evictBudget is the most keys one call of FreeMemory evicts; a write
	// that needs more goes on, and the next write or the background cycle
	// evicts the rest (Redis bounds the time instead).
	evictBudget = 256
	// evictScanLimit is the most keys eviction looks at in one slot while
	// it looks for keys with a TTL.
	evictScanLimit = 64
	// poolShareMax is the largest key and string value whose key the
	// eviction pool keeps without a copy (offer): 16 candidates keep at
	// most 64 KiB alive.
	poolShareMax = 4096
)

// LRU and LFU constants, as Redis's (lfu-log-factor 10, lfu-decay-time 1)
// except the LRU clock's tick.
const (
	lruClockMax = 1<<23 - 1 // the LRU clock has 23 bits (one of Redis's 24 is the used bit)
	// lruTickMs is the LRU clock's resolution: 100 ms, where Redis's is a
	// second, so the clock wraps after 9.7 days (Redis's after 194). A
	// flood that turns a small cache over in about a second (bench/maxmemory.sh:
	// 64 MB at full speed) left every key of the cache within one or two
	// ticks of a second, and a hot key last read in the previous second
	// looked as old as any: at each second's turn the hot set went until
	// its reader came round again.
	lruTickMs = 100
	// lruUnusedMs is what eviction adds to the idle time of a key not
	// used since it was written (its used bit clear): a key read since it
	// was written outlives keys written up to a second after its last
	// read. The clock of seconds gave a read key that lead only within its
	// second: at each second's turn every key read in the past second
	// looked as old as every key written in it, and once the cache had
	// turned over, older than the keys written since.
	lruUnusedMs   = 1000
	lruSkewMs     = 60_000 // an access up to this long after now is a clock read earlier, not a wrap
	lfuInitVal    = 5
	lfuLogFactor  = 10
	lfuDecayTimeM = 1 // minutes per decrement of an idle key's counter
)

// memoryState is the store's memory cap and eviction state.
type memoryState struct {
	max     atomic.Int64 // bytes; 0: no cap
	gcRoom  atomic.Int32 // percent of max kept free of data for the garbage collector (SetMaxMemoryGCRoom)
	policy  atomic.Int32
	samples atomic.Int32
	evicted atomic.Int64
	// evictable, when set, returns (once per eviction) whether eviction
	// may take keys of a slot: a cluster node evicts only in the slots it
	// leads, whose deletes its replicas receive; a replica's copy shrinks
	// with its primary's.
	evictable atomic.Pointer[func() func(slot int) bool]
	mu        sync.Mutex // one evictor at a time; taken before any slot lock
	pool      evictPool
}

// evictPool is the eviction pool: up to evictionPoolSize candidates in
// fixed cells, and their order by score in bytes. order[:n] are the cells
// in the pool, lowest score first; order[n:] the free ones. Keeping the
// order in bytes moves no strings: shifting a slice of candidates ran the
// garbage collector's write barrier for every key moved (bulkBarrierPreWrite,
// 4% of the CPU of a flood under eviction, and as much again flushing its
// buffers).
type evictPool struct {
	cells [evictionPoolSize]evictCand
	order [evictionPoolSize]uint8
	n     int
	ready bool // order numbers the cells (a zero order is no permutation)
}

// init numbers the cells, once.
func (p *evictPool) init() {
	if !p.ready {
		for i := range p.order {
			p.order[i] = uint8(i)
		}
		p.ready = true
	}
}

// remove takes the candidate at position i of the order out of the pool.
func (p *evictPool) remove(i int) {
	c := p.order[i]
	copy(p.order[i:p.n-1], p.order[i+1:p.n])
	p.order[p.n-1] = c
	p.n--
}

// pop takes out and returns the candidate of the highest score.
func (p *evictPool) pop() evictCand {
	p.n--
	return p.cells[p.order[p.n]]
}

// evictCand is a key of the eviction pool, with its score (higher goes first).
type evictCand struct {
	key   string
	slot  int
	score uint64
}

// SetMaxMemory sets the memory cap in bytes (0: none).
func (s *Store) SetMaxMemory(n int64) { s.mem.max.Store(n) }

// MaxMemory returns the memory cap in bytes (0: none).
func (s *Store) MaxMemory() int64 { return s.mem.max.Load() }

// SetMaxMemoryGCRoom sets the percentage of the memory cap kept free of
// data (0 to 90): eviction and -OOM then hold the data to the rest
// (DataCap). A Go heap holds what a write replaced or evicted until the
// collector runs, and the collector needs room beside the live data: with
// the data at the cap and the process's memory limit just above it, a
// flood of writes under eviction spent half the CPU collecting
// (bench/maxmemory.sh: 64 MiB of 1,000-byte values, a collection every
// 2 MB written). 0, the default: the data may fill the cap.
func (s *Store) SetMaxMemoryGCRoom(percent int) { s.mem.gcRoom.Store(int32(min(max(percent, 0), 90))) }

// MaxMemoryGCRoom returns the percentage of the memory cap kept free of data.
func (s *Store) MaxMemoryGCRoom() int { return int(s.mem.gcRoom.Load()) }

// DataCap returns the bytes of data the memory cap allows (0: no cap):
// the cap less its GC room.
func (s *Store) DataCap() int64 {
	m := s.mem.max.Load()
	return m - m/100*int64(s.mem.gcRoom.Load())
}

// SetMaxMemoryPolicy sets what happens when the data passes the cap.
func (s *Store) SetMaxMemoryPolicy(p MaxMemoryPolicy) { s.mem.policy.Store(int32(p)) }

// MaxMemoryPolicy returns the policy.
func (s *Store) MaxMemoryPolicy() MaxMemoryPolicy { return MaxMemoryPolicy(s.mem.policy.Load()) }

// SetMaxMemorySamples sets how many keys eviction samples at a time (n < 1: the default).
func (s *Store) SetMaxMemorySamples(n int) {
	if n < 1 {
		n = DefaultMaxMemorySamples
	}
	s.mem.samples.Store(int32(n))
}

// MaxMemorySamples returns how many keys eviction samples at a time.
func (s *Store) MaxMemorySamples() int {
	if n := s.mem.samples.Load(); n > 0 {
		return int(n)
	}
	return DefaultMaxMemorySamples
}

// SetEvictable sets the function that returns, once per eviction, which
// slots eviction may take keys from (nil: all).
func (s *Store) SetEvictable(f func() func(slot int) bool) {
	if f == nil {
		s.mem.evictable.Store(nil)
		return
	}
	s.mem.evictable.Store(&f)
}

// EvictedKeys returns how many keys eviction removed.
func (s *Store) EvictedKeys() int64 { return s.mem.evicted.Load() }

// overCap reports whether the data passes the memory cap (less its GC room).
func (s *Store) overCap() bool {
	m := s.DataCap()
	return m != 0 && s.used.Load() > m
}

// getAccess returns e's 24-bit LRU/LFU field.
func (e *entry) getAccess() uint32 {
	return uint32(e.access[0])<<16 | uint32(e.access[1])<<8 | uint32(e.access[2])
}

// setAccess sets e's 24-bit LRU/LFU field.
func (e *entry) setAccess(v uint32) { e.access = [3]byte{byte(v >> 16), byte(v >> 8), byte(v)} }

// lruClock is the LRU clock at unix time ms: ticks of lruTickMs, 23 bits.
// Under an LRU policy a key's access field holds it shifted left by one,
// with a used bit below: set by every access after the key was written
// (touch), clear in a new key (initAccess). Eviction counts an unused key
// lruUnusedMs older, so a key read since it was written outlives keys only
// written up to a second after its last read: when a flood turns the whole
// cache over in less than a second, plain LRU of seconds (Redis's) evicts
// a hot key as readily as any other.
func lruClock(ms int64) uint32 { return uint32(ms/lruTickMs) & lruClockMax }

// lfuMinutes is Redis's LFU time at unix time ms: minutes, 16 bits.
func lfuMinutes(ms int64) uint32 { return uint32(ms/60000) & 0xffff }

// initAccess gives a new key its access field: now, and under an LFU
// policy a counter of lfuInitVal, so a new key is not evicted at once.
func (s *Store) initAccess(e *entry) {
	now := s.clock.Load()
	if now == 0 {
		now = s.nowMs()
	}
	if s.MaxMemoryPolicy().lfu() {
		e.setAccess(lfuMinutes(now)<<8 | lfuInitVal)
	} else {
		e.setAccess(lruClock(now) << 1)
	}
}

// touch records an access to e at now: the LRU clock, or under an LFU
// policy the decayed counter incremented logarithmically, as Redis's
// updateLFU. The caller holds the slot lock; the entry is written only
// when the field changes, so reads of a key in one second dirty no cache line.
func (s *Store) touch(e *entry, now int64) {
	if !s.MaxMemoryPolicy().lfu() {
		if c := lruClock(now)<<1 | 1; e.getAccess() != c {
			e.setAccess(c)
		}
		return
	}
	counter := lfuDecr(e.getAccess(), now)
	if counter < 255 {
		base := max(float64(counter)-lfuInitVal, 0)
		p := 1 / (base*lfuLogFactor + 1)
		if float64(s.cfg.Rand()>>11)/(1<<53) < p {
			counter++
		}
	}
	if v := lfuMinutes(now)<<8 | counter; v != e.getAccess() {
		e.setAccess(v)
	}
}

// lfuDecr returns the LFU counter of access at now, decremented by one per
// lfuDecayTimeM minutes since its last decrement, as Redis's LFUDecrAndReturn.
func lfuDecr(access uint32, now int64) uint32 {
	ldt, counter := access>>8, access&255
	cur := lfuMinutes(now)
	elapsed := cur - ldt
	if cur < ldt {
		elapsed = 65535 - ldt + cur
	}
	if periods := elapsed / lfuDecayTimeM; periods > 0 {
		if periods > counter {
			return 0
		}
		return counter - periods
	}
	return counter
}

// idleMillis returns the milliseconds since e's last access by the LRU
// clock (a multiple of its tick), as Redis's estimateObjectIdleTime.
func idleMillis(e *entry, now int64) int64 {
	clock, lru := lruClock(now), e.getAccess()>>1
	switch {
	case clock >= lru:
		return int64(clock-lru) * lruTickMs
	case lru-clock <= lruSkewMs/lruTickMs:
		// Touched a moment "later" than now: by a command whose clock
		// read came after this one's (another event loop's). Redis's
		// wrap below would make the key just read the oldest of all.
		return 0
	}
	return int64(clock+(lruClockMax-lru)) * lruTickMs
}

// evictScore is how eagerly e is evicted under policy p (higher first).
func evictScore(e *entry, p MaxMemoryPolicy, now int64) uint64 {
	switch {
	case p == VolatileTTL:
		return math.MaxUint64 - uint64(e.expireAt)
	case p.lfu():
		return 255 - uint64(lfuDecr(e.getAccess(), now))
	}
	idle := uint64(idleMillis(e, now))
	if e.getAccess()&1 == 0 {
		idle += lruUnusedMs
	}
	return idle
}

// FreeMemory evicts keys while the data passes the memory cap, as Redis's
// performEvictions, and reports false when it is over the cap and cannot
// evict (noeviction, or no key the policy may take): a command that adds
// data is then refused with -OOM. It evicts at most evictBudget keys per
// call. Evicted keys reach the write observer as deletes. The caller holds
// no slot lock.
func (s *Store) FreeMemory() bool {
	if !s.overCap() {
		return true
	}
	p := s.MaxMemoryPolicy()
	if p == NoEviction {
		return false
	}
	m := &s.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	for range evictBudget {
		if !s.overCap() {
			return true
		}
		if !s.evictOne(p) {
			return false
		}
	}
	return true
}

// evictOne evicts one key under policy p; false when there is none to take.
func (s *Store) evictOne(p MaxMemoryPolicy) bool {
	now := s.nowMs()
	if p.random() {
		var victim evictCand
		found := false
		s.sampleKeys(p.volatile(), 1, s.mem.evictableSlots(), func(slot int, k string, e *entry) {
			victim, found = evictCand{key: k, slot: slot}, true
		})
		return found && s.evictKey(victim, p, now)
	}
	m := &s.mem
	m.pool.init()
	// A pool emptied of keys that went or were used since they were
	// sampled samples again, a few times, before the write gets -OOM.
	for range 8 {
		// Past 64 samples a call only costs more: the pool keeps 16.
		s.sampleKeys(p.volatile(), min(s.MaxMemorySamples(), 64), m.evictableSlots(), func(slot int, k string, e *entry) {
			// A small string's key may stay in the pool as the map holds
			// it: it keeps at most poolShareMax bytes alive per candidate.
			shared := e.kind == kindString && len(k)+cap(e.str) <= poolShareMax
			m.offer(evictCand{key: k, slot: slot, score: evictScore(e, p, now)}, shared)
		})
		if m.pool.n == 0 {
			return false
		}
		for m.pool.n > 0 {
			if s.evictKey(m.pool.pop(), p, now) {
				return true
			}
		}
	}
	return false
}

// offer puts c into the pool, kept sorted by score, when its score beats
// the pool's worst or the pool has room; a key already there is updated.
//
// Unless shared, the key is copied: the map's key may share its allocation
// with the value (keyValue), which the pool would keep alive after the key
// goes. A copy per candidate that entered the pool was 5% of the CPU of a
// flood of 1,000-byte writes under eviction.
func (m *memoryState) offer(c evictCand, shared bool) {
	p := &m.pool
	if p.n == evictionPoolSize && c.score <= p.cells[p.order[0]].score {
		// Most samples: no need to look for the key in the pool. A copy
		// there with a higher, stale score is not evicted for it (evictKey).
		return
	}
	for i := range p.n {
		if k := &p.cells[p.order[i]]; k.slot == c.slot && k.key == c.key { // the slot first: keys of one length cost a memeq each
			p.remove(i)
			break
		}
	}
	if p.n == evictionPoolSize {
		if c.score <= p.cells[p.order[0]].score {
			return
		}
		p.remove(0)
	}
	i := 0
	for i < p.n && p.cells[p.order[i]].score < c.score {
		i++
	}
	if !shared {
		c.key = strings.Clone(c.key)
	}
	cell := p.order[p.n]
	copy(p.order[i+1:p.n+1], p.order[i:p.n])
	p.order[i] = cell
	p.n++
	p.cells[cell] = c
}

// evictKey removes the candidate's key if it still exists (and, under a
// volatile policy, still has a TTL), and, for a candidate of the pool, was
// not used since it was sampled: the pool keeps the score of that moment,
// and a hot key read since must not go for it.
func (s *Store) evictKey(c evictCand, p MaxMemoryPolicy, now int64) bool {
	sd := &s.slots[c.slot]
	sd.mu.Lock()
	defer sd.mu.Unlock()
	e := sd.keys[c.key]
	if e == nil || p.volatile() && e.expireAt == 0 {
		return false
	}
	if !p.random() && evictScore(e, p, now) < c.score {
		return false
	}
	s.remove(c.slot, c.key, e)
	s.mem.evicted.Add(1)
	return true
}

// evictableSlots returns the filter of the slots eviction may take keys from, nil for all.
func (m *memoryState) evictableSlots() func(int) bool {
	if f := m.evictable.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// sampleKeys calls fn with up to n keys (only keys with a TTL when
// volatile; only of slots slotOK accepts, when not nil), from consecutive
// slots starting at a random one, each slot's from a random point of its
// map (Go randomizes where iteration starts), as Redis's dictGetSomeKeys
// takes consecutive buckets. fn runs under the slot's lock.
func (s *Store) sampleKeys(volatile bool, n int, slotOK func(int) bool, fn func(slot int, k string, e *entry)) {
	start := int(s.cfg.Rand() % NumSlots)
	got := 0
	for i := 0; i < NumSlots && got < n; i++ {
		slot := (start + i) % NumSlots
		if slotOK != nil && !slotOK(slot) {
			continue
		}
		sd := &s.slots[slot]
		sd.mu.Lock()
		if len(sd.keys) > 0 && (!volatile || sd.ttlKeys > 0) {
			seen := 0
			for k, e := range sd.keys {
				if got >= n || seen >= evictScanLimit {
					break
				}
				seen++
				if volatile && e.expireAt == 0 {
					continue
				}
				fn(slot, k, e)
				got++
			}
		}
		sd.mu.Unlock()
	}
}
