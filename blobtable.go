// blobTable is a compact hash table of big hashes: one pointer a slot, each to a key and its value in one allocation.

package chkv

import (
	"encoding/binary"
	"hash/maphash"
	"unsafe"
)

// blobTable maps keys to values with open addressing (linear probing,
// deletion by backward shift, no tombstones) at a load of at most 3/4.
// A slot is a pointer to a blob: the key's and the value's lengths as
// uvarints, then the key and the value. At 20-byte fields that is about 50
// bytes a field, against some 100 for a Go map[string]string, whose slots
// hold two string headers and whose growth doubles them all at once.
type blobTable struct {
	slots []unsafe.Pointer // nil: empty
	tags  []uint8          // a byte of each slot's hash (never 0), so a probe reads a blob only on a likely match
	n     int
	seed  maphash.Seed
}

func newBlobTable(hint int) *blobTable {
	size := 8
	for size*3/4 < hint {
		size *= 2
	}
	return &blobTable{slots: make([]unsafe.Pointer, size), tags: make([]uint8, size), seed: maphash.MakeSeed()}
}

func (t *blobTable) len() int { return t.n }

// makeBlob copies k and v into one allocation.
func makeBlob(k, v []byte) unsafe.Pointer {
	var hdr [2 * binary.MaxVarintLen64]byte
	h := binary.AppendUvarint(hdr[:0], uint64(len(k)))
	h = binary.AppendUvarint(h, uint64(len(v)))
	b := make([]byte, len(h)+len(k)+len(v))
	copy(b, h)
	copy(b[len(h):], k)
	copy(b[len(h)+len(k):], v)
	return unsafe.Pointer(unsafe.SliceData(b))
}

// blobKV returns the key and the value of a blob, aliasing it.
func blobKV(p unsafe.Pointer) (k, v string) {
	kl, off := blobUvarint(p, 0)
	vl, off := blobUvarint(p, off)
	if kl > 0 { // no pointer past the allocation's end for an empty key or value
		k = unsafe.String((*byte)(unsafe.Add(p, off)), kl)
	}
	if vl > 0 {
		v = unsafe.String((*byte)(unsafe.Add(p, off+kl)), vl)
	}
	return k, v
}

// blobUvarint decodes the uvarint at offset off of a blob and returns it
// with the offset after it.
func blobUvarint(p unsafe.Pointer, off int) (int, int) {
	n, shift := 0, 0
	for {
		c := *(*byte)(unsafe.Add(p, off))
		off++
		n |= int(c&0x7f) << shift
		if c < 0x80 {
			return n, off
		}
		shift += 7
	}
}

// hash returns k's home slot and tag.
func (t *blobTable) hash(k string) (int, uint8) {
	h := maphash.String(t.seed, k)
	return int(h & uint64(len(t.slots)-1)), uint8(h>>56) | 1
}

func (t *blobTable) home(k string) int {
	i, _ := t.hash(k)
	return i
}

// find returns the slot of key k, or of the empty slot where it would go,
// with k's tag.
func (t *blobTable) find(k []byte) (int, uint8, bool) {
	mask := len(t.slots) - 1
	i, tag := t.hash(unsafe.String(unsafe.SliceData(k), len(k)))
	for ; ; i = (i + 1) & mask {
		switch t.tags[i] {
		case 0:
			return i, tag, false
		case tag:
			if bk, _ := blobKV(t.slots[i]); bk == string(k) {
				return i, tag, true
			}
		}
	}
}

// get returns the value of k, aliasing the table.
func (t *blobTable) get(k []byte) (string, bool) {
	i, _, ok := t.find(k)
	if !ok {
		return "", false
	}
	_, v := blobKV(t.slots[i])
	return v, true
}

// set makes k hold v (both copied) and reports whether k is new, and if
// not the length of the value it replaced: one probe for both, where a get
// before the set took two (a third of HSET's time on a 100,000-field hash
// went to probing).
func (t *blobTable) set(k, v []byte) (isNew bool, oldLen int) {
	i, tag, ok := t.find(k)
	if ok {
		_, old := blobKV(t.slots[i])
		oldLen = len(old)
	}
	t.slots[i], t.tags[i] = makeBlob(k, v), tag
	if ok {
		return false, oldLen
	}
	t.n++
	if t.n > len(t.slots)*3/4 {
		t.resize(2 * len(t.slots))
	}
	return true, 0
}

// del removes k and reports whether it was there, and the length of its
// value. The entries after it in its run move back where their home
// allows, so lookups need no markers.
func (t *blobTable) del(k []byte) (bool, int) {
	i, _, ok := t.find(k)
	if !ok {
		return false, 0
	}
	_, old := blobKV(t.slots[i])
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.tags[j] != 0; j = (j + 1) & mask {
		jk, _ := blobKV(t.slots[j])
		h := t.home(jk)
		// The entry at j may fill the gap at i unless its home lies
		// cyclically in (i, j].
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.slots[i], t.tags[i] = t.slots[j], t.tags[j]
			i = j
		}
	}
	t.slots[i], t.tags[i] = nil, 0
	t.n--
	if len(t.slots) > 64 && t.n < len(t.slots)/8 {
		t.resize(len(t.slots) / 2)
	}
	return true, len(old)
}

// resize moves every entry to a table of size slots.
func (t *blobTable) resize(size int) {
	old := t.slots
	t.slots, t.tags = make([]unsafe.Pointer, size), make([]uint8, size)
	mask := size - 1
	for _, p := range old {
		if p == nil {
			continue
		}
		k, _ := blobKV(p)
		i, tag := t.hash(k)
		for t.tags[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i], t.tags[i] = p, tag
	}
}

// each calls fn on every key and value, in slot order.
func (t *blobTable) each(fn func(k, v string)) {
	for _, p := range t.slots {
		if p != nil {
			fn(blobKV(p))
		}
	}
}

// random returns an entry picked uniformly with the random source r:
// random slots until one is taken (a slot is taken with probability
// at least 1/8, the load below which the table shrinks, save for a table
// of 64 slots or fewer). The table is not empty.
func (t *blobTable) random(r func() uint64) (k, v string) {
	mask := uint64(len(t.slots) - 1)
	for {
		if p := t.slots[r()&mask]; p != nil {
			return blobKV(p)
		}
	}
}

// randomExcept is random for an entry whose slot is not in seen, and adds
// its slot there; seen must leave an entry out.
func (t *blobTable) randomExcept(r func() uint64, seen map[int]bool) (k, v string) {
	mask := uint64(len(t.slots) - 1)
	for {
		i := int(r() & mask)
		if p := t.slots[i]; p != nil && !seen[i] {
			seen[i] = true
			return blobKV(p)
		}
	}
}

// scan calls fn on the entries of the home slots from cursor on, in
// Redis's reverse-binary cursor order, until about count entries came out
// or 10*count home slots were visited, and returns the next cursor (0:
// the scan is complete). See scanHomes for the guarantee.
func (t *blobTable) scan(cursor uint64, count int, fn func(k, v string)) uint64 {
	mask := len(t.slots) - 1
	return scanHomes(cursor, uint64(mask), count, func(home int) int {
		n := 0
		for i := home; t.tags[i] != 0; i = (i + 1) & mask {
			if k, v := blobKV(t.slots[i]); t.home(k) == home {
				fn(k, v)
				n++
			}
		}
		return n
	})
}
