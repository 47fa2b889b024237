// Store is the in-memory storage engine: keys grouped by hash slot, each with a value, a version and an expiry.

package chkv

import (
	"math/bits"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// valueKind is what a key holds.
type valueKind uint8

const (
	kindString valueKind = iota + 1
	kindList
	kindHash
	kindSet
	kindZSet
)

// entry is one key's value: str for kindString; obj for the collections,
// pointing to the *list, *hashValue, *setValue or *zset its kind says (one
// pointer for all of them keeps the struct in its 64-byte size class).
type entry struct {
	str      []byte
	obj      unsafe.Pointer
	version  uint64
	expireAt int64 // unix milliseconds; 0 means no expiry
	// vh caches the hash of the value for migration digests, valid while
	// it is not 0 and vhVer is the low half of version: every write bumps
	// the version, so nothing else needs to forget it. It fills the padding
	// of the struct's 64-byte size class.
	vh   uint64
	kind valueKind
	// access is Redis's 24-bit LRU/LFU field (memory.go): the LRU clock of
	// the last access in ticks of 100 ms (23 bits) and a used bit, or under an LFU
	// policy the minutes of the last decrement (16 bits) and a logarithmic
	// counter (8 bits). Three
	// bytes of the struct's padding: it stays in its 64-byte size class.
	access [3]byte
	vhVer  uint32
}

// slotMapHint is the initial capacity of a slot's key map: 0, a small map
// (up to 8 keys in one group, found by comparing them, no hashing and no
// directory to load): with 100,000 keys most slots hold about 6, and a GET
// at -P 16 ran 12% faster than with maps made for 9 (bench/README).
const slotMapHint = 0

// entryOverhead approximates the bytes a key costs beyond its key and value
// bytes: the entry struct (64) and its share of the slot's map (about 48
// with a few keys a slot, as most slots hold). It feeds INFO memory and the
// memory cap (memory.go): with it and allocSize the live heap measured
// 1.00x the accounted bytes for 100,000 and 1,000,000 strings of 10 to
// 1000 bytes (TestMemoryAccounting). A small keyspace costs more per key
// (an empty slot map takes about 250 bytes: 1.1-1.7x at 20,000 keys).
const entryOverhead = 112

// listElemOverhead approximates the bytes one list element costs beyond its data.
const listElemOverhead = 24

// size returns the accounted bytes of a key holding e.
func (e *entry) size(key string) int64 {
	n := int64(len(key) + entryOverhead)
	switch e.kind {
	case kindList:
		n += e.list().bytes + int64(e.list().len()*listElemOverhead)
	case kindHash:
		n += e.hash().size()
	case kindSet:
		n += e.set().size()
	case kindZSet:
		n += e.zset().size()
	default: // the key and the value share one allocation (keyValue)
		n += int64(allocSize(len(key)+cap(e.str)) - len(key))
	}
	return n
}

// allocSize approximates the bytes Go's allocator takes for an object of n
// bytes: its size classes step by 8 bytes up to 32, 16 up to 128, then by
// about an eighth of the size, and whole 8 KiB pages past 32 KiB.
func allocSize(n int) int {
	step := 8
	switch {
	case n > 32<<10:
		step = 8 << 10
	case n > 32 && n <= 128:
		step = 16
	case n > 128:
		step = 1 << (bits.Len(uint(n-1)) - 3)
	}
	return (n + step - 1) / step * step
}

// list returns the list of a kindList entry.
func (e *entry) list() *list { return (*list)(e.obj) }

// hash returns the hash of a kindHash entry.
func (e *entry) hash() *hashValue { return (*hashValue)(e.obj) }

// set returns the set of a kindSet entry.
func (e *entry) set() *setValue { return (*setValue)(e.obj) }

// zset returns the sorted set of a kindZSet entry.
func (e *entry) zset() *zset { return (*zset)(e.obj) }

// newListEntry returns an entry holding l.
func newListEntry(l *list) *entry { return &entry{kind: kindList, obj: unsafe.Pointer(l)} }

// newHashEntry returns an entry holding h.
func newHashEntry(h *hashValue) *entry { return &entry{kind: kindHash, obj: unsafe.Pointer(h)} }

// newSetEntry returns an entry holding s.
func newSetEntry(s *setValue) *entry { return &entry{kind: kindSet, obj: unsafe.Pointer(s)} }

// newZSetEntry returns an entry holding z.
func newZSetEntry(z *zset) *entry { return &entry{kind: kindZSet, obj: unsafe.Pointer(z)} }

// WriteOp says what a write did to a key.
type WriteOp uint8

const (
	// WriteSet means the key now holds the entry's value.
	WriteSet WriteOp = iota + 1
	// WriteDel means the key was deleted (or expired).
	WriteDel
)

// WriteObserver sees every write to a slot, in the order the writes are
// applied, while the slot is locked. Replication, migration and persistence
// hook in here. It must not block and must not call back into the store.
type WriteObserver func(slot int, op WriteOp, key string, e *entry)

// slotData holds the keys of one hash slot under one lock.
type slotData struct {
	mu      sync.Mutex
	keys    map[string]*entry
	seq     uint64 // the last version handed out in this slot
	bytes   int64  // accounted memory of the slot's keys
	ttlKeys int    // keys with an expiry
	waiters map[string]*waitQueue
	_       [16]byte // one slot per 64-byte cache line: no false sharing between cores
}

// StoreConfig configures a Store.
type StoreConfig struct {
	// Now returns the current time; tests inject a fake clock. Default time.Now.
	Now func() time.Time
	// ExpireInterval is how often the background expiry cycle runs. Default 100ms.
	ExpireInterval time.Duration
	// ExpireBudget is how many keys one expiry cycle may examine. Default 20000.
	ExpireBudget int
	// Rand returns random numbers for SPOP, SRANDMEMBER, HRANDFIELD and
	// ZRANDMEMBER; it must be safe for concurrent use. Default
	// math/rand/v2's Uint64.
	Rand func() uint64
}

// withDefaults fills zero fields.
func (c StoreConfig) withDefaults() StoreConfig {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ExpireInterval <= 0 {
		c.ExpireInterval = 100 * time.Millisecond
	}
	if c.ExpireBudget <= 0 {
		c.ExpireBudget = 20000
	}
	if c.Rand == nil {
		c.Rand = rand.Uint64
	}
	return c
}

// Store is an in-memory keyspace organised by hash slot, so a whole slot can
// be counted, copied, digested and dropped without touching others. It is
// safe for concurrent use.
type Store struct {
	cfg      StoreConfig
	slots    [NumSlots]slotData
	nkeys    atomic.Int64
	groups   [NumSlots / keyGroupSlots]keyGroup // keys by runs of slots, for RANDOMKEY
	used     atomic.Int64
	expired  atomic.Int64
	blocked  atomic.Int64
	observer atomic.Pointer[WriteObserver]
	// clock is the last time (unix ms) a command looked a key up: new keys
	// take their access time from it without reading the clock again.
	clock atomic.Int64
	mem   memoryState // the memory cap and eviction (memory.go)
	// persist, when set, logs every write to the data directory (aof.go).
	// It is a hook of its own beside the observer, called right after it.
	persist atomic.Pointer[aof]
	// loading is set while the data directory loads: the expiry cycle
	// waits, so keys expiring meanwhile still take the changes logged for
	// them, and go once the load is done.
	loading atomic.Bool

	expireCursor int // next slot the expiry cycle looks at; owned by that goroutine
	stop         chan struct{}
	stopOnce     sync.Once
	wg           sync.WaitGroup
}

// NewStore returns an empty store and starts its background expiry cycle,
// which Close stops.
func NewStore(cfg StoreConfig) *Store {
	s := &Store{cfg: cfg.withDefaults(), stop: make(chan struct{})}
	s.wg.Add(1)
	go s.expireLoop()
	return s
}

// Close stops the background expiry cycle. It is safe to call twice.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	return nil
}

// nowMs returns the store's clock in unix milliseconds.
func (s *Store) nowMs() int64 { return s.cfg.Now().UnixMilli() }

// Keys returns the number of keys (expired keys not yet reclaimed included, as Redis's DBSIZE).
func (s *Store) Keys() int64 { return s.nkeys.Load() }

// UsedMemory returns the accounted bytes of all keys and values.
func (s *Store) UsedMemory() int64 { return s.used.Load() }

// ExpiredKeys returns how many keys have been removed because their TTL passed.
func (s *Store) ExpiredKeys() int64 { return s.expired.Load() }

// slot returns the data of slot i.
func (s *Store) slot(i int) *slotData { return &s.slots[i] }

// lockKeys locks the slots of keys in ascending slot order (so concurrent
// multi-key commands never deadlock) and returns the unlock function.
func (s *Store) lockKeys(keys [][]byte) func() {
	if len(keys) == 1 {
		sd := &s.slots[SlotBytes(keys[0])]
		sd.mu.Lock()
		return sd.mu.Unlock
	}
	ids := make([]int, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, SlotBytes(k))
	}
	sort.Ints(ids)
	locked := ids[:0]
	for i, id := range ids {
		if i > 0 && id == ids[i-1] {
			continue
		}
		s.slots[id].mu.Lock()
		locked = append(locked, id)
	}
	return func() {
		for _, id := range locked {
			s.slots[id].mu.Unlock()
		}
	}
}

// lookup returns the live entry of key in slot sd, reclaiming it when it has
// expired. The caller holds sd.mu.
func (s *Store) lookup(slot int, key []byte, now int64) *entry {
	e := s.peek(slot, key, now)
	if e != nil {
		s.touch(e, now)
	}
	return e
}

// peek is lookup without counting an access (OBJECT, as Redis's
// LOOKUP_NOTOUCH). The caller holds the slot lock.
func (s *Store) peek(slot int, key []byte, now int64) *entry {
	if s.clock.Load() != now {
		s.clock.Store(now)
	}
	sd := &s.slots[slot]
	e := sd.keys[string(key)]
	if e == nil {
		return nil
	}
	if e.expireAt != 0 && e.expireAt <= now {
		s.remove(slot, string(key), e)
		s.expired.Add(1)
		return nil
	}
	return e
}

// nextVersion hands out the next version of slot: versions grow with every
// write and are never reused within a slot, even after FLUSHALL.
func (sd *slotData) nextVersion() uint64 {
	sd.seq++
	return sd.seq
}

// insert adds a new key to slot. The caller holds the slot lock and has
// checked that the key is absent.
func (s *Store) insert(slot int, key string, e *entry) {
	s.insertAt(slot, key, e, 0)
}

// insertAt is insert keeping version when it is not 0 (a copied entry),
// with the slot's sequence raised past it.
func (s *Store) insertAt(slot int, key string, e *entry, version uint64) {
	sd := &s.slots[slot]
	if sd.keys == nil {
		sd.keys = make(map[string]*entry, slotMapHint)
	}
	e.version = sd.nextVersion()
	if version != 0 {
		e.version = version
		sd.seq = max(sd.seq, version)
	}
	sd.keys[key] = e
	s.groups[slot/keyGroupSlots].n.Add(1)
	if e.expireAt != 0 {
		sd.ttlKeys++
	}
	if e.access == [3]byte{} { // a new value; a renamed one keeps its access
		s.initAccess(e)
	}
	sz := e.size(key)
	sd.bytes += sz
	s.used.Add(sz)
	s.nkeys.Add(1)
	s.notify(slot, WriteSet, key, e)
}

// update records that e (already in slot under key) changed. before is the
// accounted size before the change and hadTTL whether it had an expiry then.
// It bumps the version and tells the observer.
func (s *Store) update(slot int, key string, e *entry, before int64, hadTTL bool) {
	s.updateDelta(slot, key, e, before, hadTTL, nil)
}

// updateDelta is update for a change d describes in fewer bytes than the
// value (a list push or pop, a chunk of a copied value): the log records d
// instead of the whole value. A d with keep leaves e's version as it is.
func (s *Store) updateDelta(slot int, key string, e *entry, before int64, hadTTL bool, d *writeDelta) {
	sd := &s.slots[slot]
	if v := sd.nextVersion(); d == nil || !d.keep {
		e.version = v
	}
	if hadTTL != (e.expireAt != 0) {
		if hadTTL {
			sd.ttlKeys--
		} else {
			sd.ttlKeys++
		}
	}
	if n := e.size(key) - before; n != 0 { // overwrites of equal size skip the shared counter
		sd.bytes += n
		s.used.Add(n)
	}
	s.notifyDelta(slot, WriteSet, key, e, d)
}

// remove deletes key (holding e) from slot. The caller holds the slot lock.
func (s *Store) remove(slot int, key string, e *entry) {
	s.removeSized(slot, key, e, e.size(key))
}

// removeSized is remove for an entry changed since it was last accounted at sz bytes.
func (s *Store) removeSized(slot int, key string, e *entry, sz int64) {
	sd := &s.slots[slot]
	delete(sd.keys, key)
	s.groups[slot/keyGroupSlots].n.Add(-1)
	if e.expireAt != 0 {
		sd.ttlKeys--
	}
	sd.bytes -= sz
	s.used.Add(-sz)
	s.nkeys.Add(-1)
	sd.nextVersion()
	s.notify(slot, WriteDel, key, e)
}

// notify passes a write to the observer and to the log, if any.
func (s *Store) notify(slot int, op WriteOp, key string, e *entry) {
	s.notifyDelta(slot, op, key, e, nil)
}

// notifyDelta is notify for a write d describes (nil: the whole value).
func (s *Store) notifyDelta(slot int, op WriteOp, key string, e *entry, d *writeDelta) {
	if o := s.observer.Load(); o != nil {
		(*o)(slot, op, key, e)
	}
	if p := s.persist.Load(); p != nil {
		p.logWrite(slot, op, key, e, d)
	}
}

// SetObserver installs the function that sees every write; nil removes it.
func (s *Store) SetObserver(o WriteObserver) {
	if o == nil {
		s.observer.Store(nil)
		return
	}
	s.observer.Store(&o)
}

// setString makes key hold val (copied), keeping or replacing its expiry as
// told. The caller holds the slot lock; e is the key's live entry or nil.
func (s *Store) setString(slot int, key []byte, e *entry, val []byte, expireAt int64, keepTTL bool) *entry {
	if e == nil {
		k, v := keyValue(key, val)
		e = &entry{kind: kindString, str: v, expireAt: expireAt}
		s.insert(slot, k, e)
		return e
	}
	before, hadTTL := e.size(string(key)), e.expireAt != 0
	if e.kind == kindString && cap(e.str) >= len(val) && cap(e.str) <= 2*len(val)+16 {
		e.str = append(e.str[:0], val...)
	} else {
		// A new allocation for key and value, and the map's key with
		// it: the old key may share its allocation with the old value.
		k, v := keyValue(key, val)
		e.str = v
		s.slots[slot].keys[k] = e
	}
	e.kind, e.obj = kindString, nil
	if !keepTTL {
		e.expireAt = expireAt
	}
	s.update(slot, string(key), e, before, hadTTL)
	return e
}

// setExpire changes the expiry of e (live, in slot under key).
func (s *Store) setExpire(slot int, key []byte, e *entry, expireAt int64) {
	before, hadTTL := e.size(string(key)), e.expireAt != 0
	e.expireAt = expireAt
	s.update(slot, string(key), e, before, hadTTL)
}

// Flush removes every key. Versions keep growing afterwards.
func (s *Store) Flush() {
	for i := range s.slots {
		sd := &s.slots[i]
		sd.mu.Lock()
		for k, e := range sd.keys {
			s.remove(i, k, e)
		}
		sd.keys = nil
		sd.mu.Unlock()
	}
}

// CountKeysInSlot returns the number of keys in slot (expired keys not yet reclaimed included).
func (s *Store) CountKeysInSlot(slot int) int {
	sd := &s.slots[slot]
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return len(sd.keys)
}

// scanSlot appends to dst the live keys of slot that match filter, sorted,
// and reclaims the expired keys it passes.
func (s *Store) scanSlot(dst []string, slot int, filter func(key string, e *entry) bool) []string {
	sd := &s.slots[slot]
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if len(sd.keys) == 0 {
		return dst
	}
	now := s.nowMs()
	start := len(dst)
	for k, e := range sd.keys {
		if e.expireAt != 0 && e.expireAt <= now { // reclaim it, as Redis's SCAN does
			s.remove(slot, k, e)
			s.expired.Add(1)
			continue
		}
		if filter == nil || filter(k, e) {
			dst = append(dst, k)
		}
	}
	sort.Strings(dst[start:])
	return dst
}

// expireLoop runs the active expiry cycle until Close.
func (s *Store) expireLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.ExpireInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.expireCycle()
			s.FreeMemory() // writes that came without a command (migration, replication)
		}
	}
}

// expireCycle examines up to ExpireBudget keys in slots that hold keys with
// a TTL, starting where the last cycle stopped, and reclaims expired ones, so
// memory of keys nobody reads again comes back.
func (s *Store) expireCycle() int {
	if s.loading.Load() {
		return 0
	}
	budget, reclaimed := s.cfg.ExpireBudget, 0
	now := s.nowMs()
	for n := 0; n < NumSlots && budget > 0; n++ {
		i := s.expireCursor
		s.expireCursor = (s.expireCursor + 1) % NumSlots
		sd := &s.slots[i]
		sd.mu.Lock()
		if sd.ttlKeys > 0 {
			for k, e := range sd.keys {
				budget--
				if e.expireAt != 0 && e.expireAt <= now {
					s.remove(i, k, e)
					s.expired.Add(1)
					reclaimed++
				}
			}
		}
		sd.mu.Unlock()
	}
	return reclaimed
}

// keyValue copies key and val into one allocation and returns them as the
// key string and the value: a key costs one object less to allocate and
// for the garbage collector to mark, and a read finds the value next to
// the key it compared. The value's capacity ends at its length, so an
// append moves it out; the old allocation then stays alive with the key
// until the key goes or is set anew (setString re-keys), which costs at
// most the value's size at that set.
func keyValue(key, val []byte) (string, []byte) {
	b := make([]byte, len(key)+len(val))
	copy(b, key)
	copy(b[len(key):], val)
	return unsafe.String(unsafe.SliceData(b), len(key)), b[len(key):len(b):len(b)]
}

// cloneBytes returns a copy of b that does not alias it (never nil).
func cloneBytes(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}
