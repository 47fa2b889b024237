// The store's side of slot migration: slot snapshots as records, applying records, slot digests and dropping a slot.

package chkv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Record operations of the migration stream. A value larger than
// recordChunk travels as a set record followed by append records, so no
// single request exceeds a DataNode's bulk limit.
const (
	recSetString    = 1 // key version expireAt bytes
	recSetList      = 2 // key version expireAt count elements...
	recAppendString = 3 // key bytes
	recAppendList   = 4 // key count elements...
	recDel          = 5 // key
	recHint         = 6 // "" keys: how many keys the slot's snapshot brings
	recSetHash      = 7 // key version expireAt count field value...
	recAppendHash   = 8 // key count field value...
	recSetSet       = 9 // key version expireAt count members...
	recAppendSet    = 10
	recSetZSet      = 11 // key version expireAt count member score... (score: 8 bytes, IEEE 754 big endian)
	recAppendZSet   = 12
)

// recordKind returns the kind of value a set or append record carries.
func recordKind(op byte) valueKind {
	switch op {
	case recSetString, recAppendString:
		return kindString
	case recSetList, recAppendList:
		return kindList
	case recSetHash, recAppendHash:
		return kindHash
	case recSetSet, recAppendSet:
		return kindSet
	case recSetZSet, recAppendZSet:
		return kindZSet
	}
	return 0
}

// isAppend reports whether op carries a further chunk of a value.
func isAppend(op byte) bool {
	return op == recAppendString || op == recAppendList || op == recAppendHash || op == recAppendSet || op == recAppendZSet
}

// presizeBytesPerKey bounds a hint: a map sized for n keys takes about
// this many bytes per key, so a request of b bytes sizes one for at most
// b/presizeBytesPerKey keys and a receiver never allocates for a hint more
// than the bytes it received.
const presizeBytesPerKey = 32

// recordChunk is the most value bytes one record carries.
const recordChunk = 1 << 20

// errBadRecord reports a malformed migration record.
var errBadRecord = errors.New("chkv: bad migration record")

// recordEncoder appends records to buf and remembers where each starts, so
// the sender can cut buf into requests at record boundaries.
type recordEncoder struct {
	buf   []byte
	marks []int // start of every record
	keys  int64 // keys encoded (set and delete records)
}

func (r *recordEncoder) reset() { r.buf, r.marks, r.keys = r.buf[:0], r.marks[:0], 0 }

func (r *recordEncoder) head(op byte, slot int, key string) {
	r.marks = append(r.marks, len(r.buf))
	r.buf = append(r.buf, op)
	r.buf = binary.AppendUvarint(r.buf, uint64(slot))
	r.buf = binary.AppendUvarint(r.buf, uint64(len(key)))
	r.buf = append(r.buf, key...)
}

func (r *recordEncoder) bytes(b []byte) {
	r.buf = binary.AppendUvarint(r.buf, uint64(len(b)))
	r.buf = append(r.buf, b...)
}

// hint encodes how many keys slot's snapshot is about to bring.
func (r *recordEncoder) hint(slot, keys int) {
	r.head(recHint, slot, "")
	r.buf = binary.AppendUvarint(r.buf, uint64(keys))
}

// del encodes the deletion of key.
func (r *recordEncoder) del(slot int, key string) {
	r.head(recDel, slot, key)
	r.keys++
}

// entry encodes key's whole value, version and expiry, splitting big
// values into chunks. The caller holds the slot lock.
func (r *recordEncoder) entry(slot int, key string, e *entry) {
	r.keys++
	valueHash(e) // cached for the digest while the value is at hand
	if e.kind == kindString {
		first := e.str[:min(len(e.str), recordChunk)]
		r.head(recSetString, slot, key)
		r.buf = binary.AppendUvarint(r.buf, e.version)
		r.buf = binary.AppendVarint(r.buf, e.expireAt)
		r.bytes(first)
		for rest := e.str[len(first):]; len(rest) > 0; {
			n := min(len(rest), recordChunk)
			r.head(recAppendString, slot, key)
			r.bytes(rest[:n])
			rest = rest[n:]
		}
		return
	}
	switch e.kind {
	case kindList:
		l := e.list()
		r.collection(slot, key, e, recSetList, recAppendList, l.len(), 1,
			func(i int) int { return len(l.at(i)) },
			func(i int) { r.bytes(l.at(i)) })
	case kindHash:
		pairs := e.hash().snapshot()
		r.collection(slot, key, e, recSetHash, recAppendHash, len(pairs), 2,
			func(i int) int { return len(pairs[i].field) + len(pairs[i].value) },
			func(i int) { r.str(pairs[i].field); r.str(pairs[i].value) })
	case kindSet:
		st := e.set()
		r.collection(slot, key, e, recSetSet, recAppendSet, st.len(), 1,
			func(i int) int { return len(st.members[i]) },
			func(i int) { r.str(st.members[i]) })
	case kindZSet:
		z := e.zset()
		nodes := make([]*znode, 0, z.len())
		z.each(0, z.len(), false, func(t *znode) bool { nodes = append(nodes, t); return true })
		r.collection(slot, key, e, recSetZSet, recAppendZSet, len(nodes), 2,
			func(i int) int { return len(nodes[i].member) + 8 },
			func(i int) {
				r.str(nodes[i].member)
				r.buf = append(r.buf, 8)
				r.buf = binary.BigEndian.AppendUint64(r.buf, math.Float64bits(nodes[i].score))
			})
	}
}

// collection encodes the n units of a collection value (a list element, a
// hash's field and value, a set member, a sorted-set member and its score),
// per byte strings each, as a set record followed by append records of at
// most recordChunk bytes of units (a unit is never split).
func (r *recordEncoder) collection(slot int, key string, e *entry, setOp, appendOp byte, n, per int,
	size func(int) int, put func(int)) {
	i := 0
	chunk := func() {
		start, bytes := i, 0
		for i < n && (i == start || bytes+size(i) <= recordChunk) {
			bytes += size(i)
			i++
		}
		r.buf = binary.AppendUvarint(r.buf, uint64((i-start)*per))
		for j := start; j < i; j++ {
			put(j)
		}
	}
	r.head(setOp, slot, key)
	r.buf = binary.AppendUvarint(r.buf, e.version)
	r.buf = binary.AppendVarint(r.buf, e.expireAt)
	chunk()
	for i < n {
		r.head(appendOp, slot, key)
		chunk()
	}
}

func (r *recordEncoder) str(s string) {
	r.buf = binary.AppendUvarint(r.buf, uint64(len(s)))
	r.buf = append(r.buf, s...)
}

// record is one decoded migration record; its byte slices alias the input.
type record struct {
	op       byte
	slot     int
	key      []byte
	version  uint64
	expireAt int64
	str      []byte
	elems    [][]byte
}

// recordDecoder reads records from a buffer, checking every length against
// the bytes left, so it never allocates more than the input holds.
type recordDecoder struct {
	b   []byte
	err error
}

func (d *recordDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errBadRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errBadRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errBadRecord
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) list(rec *record) {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) { // every element takes at least one byte
		d.err = errBadRecord
		return
	}
	rec.elems = rec.elems[:0]
	for range n {
		rec.elems = append(rec.elems, d.bytes())
		if d.err != nil {
			return
		}
	}
}

// checkPairs refuses a hash or sorted-set record whose units are not
// pairs, or whose scores are not 8 bytes holding a number.
func (d *recordDecoder) checkPairs(rec *record) {
	switch k := recordKind(rec.op); {
	case k != kindHash && k != kindZSet:
	case len(rec.elems)%2 != 0:
		d.err = fmt.Errorf("%w: odd count of a pair record", errBadRecord)
	case k == kindZSet:
		for i := 1; i < len(rec.elems); i += 2 {
			if len(rec.elems[i]) != 8 || math.IsNaN(math.Float64frombits(binary.BigEndian.Uint64(rec.elems[i]))) {
				d.err = fmt.Errorf("%w: bad score", errBadRecord)
				return
			}
		}
	}
}

// next decodes the next record into rec; false at the end or on error (d.err).
func (d *recordDecoder) next(rec *record) bool {
	if len(d.b) == 0 || d.err != nil {
		return false
	}
	rec.op = d.b[0]
	d.b = d.b[1:]
	slot := d.uvarint()
	rec.key = d.bytes()
	if d.err == nil && slot >= NumSlots {
		d.err = fmt.Errorf("%w: slot %d", errBadRecord, slot)
	}
	rec.slot = int(slot)
	switch rec.op {
	case recSetString, recSetList, recSetHash, recSetSet, recSetZSet:
		rec.version = d.uvarint()
		rec.expireAt = d.varint()
		if rec.op == recSetString {
			rec.str = d.bytes()
		} else {
			d.list(rec)
		}
	case recAppendString:
		rec.str = d.bytes()
	case recAppendList, recAppendHash, recAppendSet, recAppendZSet:
		d.list(rec)
	case recDel:
	case recHint:
		rec.version = d.uvarint() // the key count
	default:
		d.err = fmt.Errorf("%w: op %d", errBadRecord, rec.op)
	}
	if d.err == nil {
		d.checkPairs(rec)
	}
	return d.err == nil
}

// presize gives an empty slot a key map with room for n keys. The caller
// holds the slot lock.
func (s *Store) presize(slot, n int) {
	if sd := &s.slots[slot]; len(sd.keys) == 0 && n > slotMapHint {
		sd.keys = make(map[string]*entry, n)
	}
}

// applyRecord applies one migration record to its slot, keeping the
// record's version and raising the slot's version sequence past it. The
// caller holds the slot lock.
func (s *Store) applyRecord(rec *record, d *runningDigest) error {
	if rec.op == recHint {
		return nil // sizing only: the receiver presizes before
	}
	slot, key := rec.slot, rec.key
	sd := &s.slots[slot]
	old := sd.keys[string(key)]
	d.applying = true
	defer func() { d.applying = false }()
	if old != nil && !isAppend(rec.op) {
		d.keys--
		if !d.off {
			d.sum -= entryDigest(string(key), old)
		}
	}
	if rec.op == recDel {
		if old != nil {
			s.remove(slot, string(key), old)
		}
		return nil
	}
	if rec.op == recSetString && old != nil && old.kind == kindString {
		s.replaceString(slot, key, old, rec)
		d.count(key, old)
		return nil
	}
	if !isAppend(rec.op) {
		var e *entry
		var k string
		if rec.op == recSetString { // the key and the value in one allocation
			e = &entry{kind: kindString}
			k, e.str = keyValue(key, rec.str)
		} else {
			e, k = entryForRecord(rec), string(key)
		}
		if old != nil {
			s.remove(slot, string(key), old)
		}
		e.expireAt = rec.expireAt
		s.insertAt(slot, k, e, rec.version)
		d.count(key, e)
		return nil
	}
	d.inexact = true // a chunk of a big value: the slot is scanned at the end
	if old == nil || recordKind(rec.op) != old.kind {
		return fmt.Errorf("%w: append to a missing key or one of another type", errBadRecord)
	}
	before, hadTTL := old.size(string(key)), old.expireAt != 0
	appendRecord(old, rec)
	// A chunk is part of the same write: the version stays, so the
	// value's hash is stale under the same version.
	s.updateDelta(slot, string(key), old, before, hadTTL, &writeDelta{op: deltaRecord, keep: true, rec: rec})
	old.vh = 0
	return nil
}

// count adds key, now holding e, to the digest of the keys applied.
func (d *runningDigest) count(key []byte, e *entry) {
	d.keys++
	if !d.off {
		d.sum += entryDigest(string(key), e)
	}
	if e.expireAt != 0 {
		d.inexact = true
	}
}

// replaceString makes e, a string in slot under key, hold the value, expiry
// and version of the string record rec in place, as setString does on a
// primary: no map delete and insert, one notification. The slot's sequence
// rises as if e were removed and inserted anew (past the record's version).
// The caller holds the slot lock.
func (s *Store) replaceString(slot int, key []byte, e *entry, rec *record) {
	sd := &s.slots[slot]
	before, hadTTL := e.size(string(key)), e.expireAt != 0
	k := ""
	if val := rec.str; cap(e.str) >= len(val) && cap(e.str) <= 2*len(val)+16 {
		e.str = append(e.str[:0], val...)
	} else {
		// A new allocation for key and value, and the map's key with
		// it: the old key may share its allocation with the old value.
		k, e.str = keyValue(key, val)
		sd.keys[k] = e
	}
	sd.nextVersion()
	e.version = sd.nextVersion()
	if rec.version != 0 {
		e.version = rec.version
		sd.seq = max(sd.seq, rec.version)
	}
	e.expireAt, e.vh = rec.expireAt, 0
	if hadTTL != (e.expireAt != 0) {
		if hadTTL {
			sd.ttlKeys--
		} else {
			sd.ttlKeys++
		}
	}
	s.initAccess(e) // as a new entry's
	if k == "" {
		k = string(key)
	}
	if n := e.size(k) - before; n != 0 {
		sd.bytes += n
		s.used.Add(n)
	}
	s.notify(slot, WriteSet, k, e)
}

// entryForRecord returns a new entry (in no store) holding the value of a
// set record, nil for another record. next has checked the record.
func entryForRecord(rec *record) *entry {
	var e *entry
	switch rec.op {
	case recSetString:
		return &entry{kind: kindString, str: cloneBytes(rec.str)}
	case recSetList:
		e = newListEntry(&list{})
	case recSetHash:
		e = newHashEntry(&hashValue{})
	case recSetSet:
		e = newSetEntry(newSetValue())
	case recSetZSet:
		e = newZSetEntry(newZSet())
	default:
		return nil
	}
	fillCollection(e, rec.elems)
	return e
}

// appendRecord adds the chunk of an append record to e, of the record's kind.
func appendRecord(e *entry, rec *record) {
	if rec.op == recAppendString {
		e.str = append(e.str, rec.str...)
		return
	}
	fillCollection(e, rec.elems)
}

// fillCollection adds the decoded units of a collection record to e.
func fillCollection(e *entry, elems [][]byte) {
	switch e.kind {
	case kindList:
		for _, v := range elems {
			e.list().pushBack(cloneBytes(v))
		}
	case kindHash: // pairs: checked by the decoder
		for i := 0; i < len(elems); i += 2 {
			e.hash().set(elems[i], elems[i+1])
		}
	case kindSet:
		for _, m := range elems {
			e.set().add(m)
		}
	case kindZSet: // pairs with 8-byte scores: checked by the decoder
		for i := 0; i < len(elems); i += 2 {
			e.zset().add(elems[i], math.Float64frombits(binary.BigEndian.Uint64(elems[i+1])))
		}
	}
}

// slotSeq returns slot's version sequence.
func (s *Store) slotSeq(slot int) uint64 {
	sd := &s.slots[slot]
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.seq
}

// slotKeyList returns the keys of slot. The caller holds the slot lock.
func (s *Store) slotKeyList(slot int) []string {
	sd := &s.slots[slot]
	keys := make([]string, 0, len(sd.keys))
	for k := range sd.keys {
		keys = append(keys, k)
	}
	return keys
}

// slotDigest returns the live keys of slot at time now and an
// order-independent digest of their keys, values, versions and expiries.
// Both sides of a migration compute it and must agree before a slot flips.
func (s *Store) slotDigest(slot int, now int64) (keys int64, digest uint64) {
	sd := &s.slots[slot]
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return s.slotDigestLocked(slot, now)
}

// slotDigestLocked is slotDigest for a caller holding the slot lock.
func (s *Store) slotDigestLocked(slot int, now int64) (keys int64, digest uint64) {
	sd := &s.slots[slot]
	for k, e := range sd.keys {
		if e.expireAt != 0 && e.expireAt <= now {
			continue
		}
		keys++
		digest += entryDigest(k, e) // a sum: the map's order does not matter
	}
	return keys, digest
}

// slotDigestFresh is slotDigest computed from the values themselves, with
// every cached value hash of the slot dropped and computed again.
func (s *Store) slotDigestFresh(slot int, now int64) (keys int64, digest uint64) {
	sd := &s.slots[slot]
	sd.mu.Lock()
	defer sd.mu.Unlock()
	for _, e := range sd.keys {
		e.vh = 0
	}
	return s.slotDigestLocked(slot, now)
}

// entryDigest hashes a key with its value, version, expiry and type: a
// slot's digest is the sum over its live keys.
func entryDigest(k string, e *entry) uint64 {
	h := digestMix(xxhash.Sum64String(k), e.version)
	h = digestMix(h, uint64(e.expireAt))
	h = digestMix(h, uint64(e.kind))
	return digestMix(h, valueHash(e))
}

// valueHash returns the hash of e's value, from its cache when the cache
// belongs to e's version. The migration fills it while it encodes the
// entry (the value is in the CPU's cache then), so the digest at the end of
// a copy reads the entry, not the value bytes. The caller holds the slot
// lock.
func valueHash(e *entry) uint64 {
	if e.vh != 0 && e.vhVer == uint32(e.version) {
		return e.vh
	}
	var h uint64
	switch e.kind {
	case kindString:
		h = xxhash.Sum64(e.str)
	case kindList:
		for i := range e.list().len() {
			h = digestMix(h, xxhash.Sum64(e.list().at(i)))
		}
	case kindHash: // a sum: the order of the fields does not matter
		e.hash().each(func(f, v string) { h += digestMix(xxhash.Sum64String(f), xxhash.Sum64String(v)) })
	case kindSet:
		for _, m := range e.set().members {
			h += digestMix(xxhash.Sum64String(m), 1)
		}
	case kindZSet:
		e.zset().each(0, e.zset().len(), false, func(t *znode) bool {
			h = digestMix(digestMix(h, xxhash.Sum64String(t.member)), math.Float64bits(t.score))
			return true
		})
	}
	e.vh, e.vhVer = h, uint32(e.version) // a hash of 0 is computed again each time
	return h
}

// runningDigest is the running digest of a slot being imported, kept as
// records are applied, while their entries are still in the CPU's cache:
// rescanning a big slot at the end costs a cache miss per key. It is only
// trusted while nothing but whole-key records touched the slot and no key
// has an expiry (whose cut-off depends on the time of the check).
type runningDigest struct {
	keys     int64
	sum      uint64
	inexact  bool // an append, an expiry, or a write not from a record
	applying bool // a record is being applied: the observer ignores it
	off      bool // no digest is wanted (a load from the data directory): sum stays 0
}

// exact returns the slot's live key count and digest from d when d can be
// trusted, else by a scan. The caller holds the slot lock.
func (s *Store) importedDigest(slot int, d *runningDigest, now int64) (keys int64, digest uint64) {
	sd := &s.slots[slot]
	if d.inexact || sd.ttlKeys != 0 || int64(len(sd.keys)) != d.keys {
		return s.slotDigestLocked(slot, now)
	}
	return d.keys, d.sum
}

// digestMix folds v into the hash h (xxhash64's round: multiply, rotate,
// multiply), so that swapped or changed fields change the result.
func digestMix(h, v uint64) uint64 {
	const p1, p2 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F
	h ^= bits.RotateLeft64(v*p2, 31) * p1
	return bits.RotateLeft64(h, 27)*p1 + 0x85EBCA77C2B2AE63
}

// clearSlot removes every key of slot at once and answers its blocked
// clients with errText. The observer is not told of each key: the slot has
// left this node as a whole. The caller holds the slot lock.
func (s *Store) clearSlot(slot int, errText string) (keys int) {
	sd := &s.slots[slot]
	keys = len(sd.keys)
	s.used.Add(-sd.bytes)
	s.nkeys.Add(-int64(keys))
	s.groups[slot/keyGroupSlots].n.Add(-int64(keys)) // RANDOMKEY's counts
	sd.keys, sd.bytes, sd.ttlKeys = nil, 0, 0
	sd.nextVersion() // the drop is a change of the slot, like a write
	if p := s.persist.Load(); p != nil {
		p.logDrop(slot) // the slot leaves the files too
	}
	s.kickWaiters(slot, errText)
	return keys
}

// kickWaiters answers every client blocked on a key of slot with errText
// (a redirect when the slot moves away). The caller holds the slot lock.
func (s *Store) kickWaiters(slot int, errText string) {
	sd := &s.slots[slot]
	for k, q := range sd.waiters {
		for _, w := range q.ws {
			if w.claimed.CompareAndSwap(false, true) {
				s.blocked.Add(-1)
				w.ch <- popped{err: errText}
			}
		}
		delete(sd.waiters, k)
	}
}

// slotBytes returns the accounted bytes of slot.
func (s *Store) slotBytes(slot int) int64 {
	sd := &s.slots[slot]
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.bytes
}
