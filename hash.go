// hashValue is the value of a hash key: field-value pairs in insertion order while small, a map once the hash grows.

package chkv

import (
	"slices"
	"unsafe"
)

// Redis keeps a hash in a listpack (insertion order, deletions close the
// gap) while it has at most 128 fields and no field or value longer than
// 64 bytes; beyond that it converts to a hash table for good. chkv does
// the same: a slice of pairs answers in Redis's order, and a map takes over
// where Redis's order is a hash table's.
const (
	hashMaxListpackEntries = 128
	hashMaxListpackValue   = 64
)

// The bytes a hash field costs beyond its field and value bytes, measured
// live with 20-byte fields: in a small hash (pair slot and its growth room,
// allocation rounding) and in a big one (table slot, blob header, rounding).
const (
	hashFieldOverheadSmall = 64
	hashFieldOverhead      = 30
)

// hashPair is one field of a hash with its value.
type hashPair struct {
	field, value string
}

// hashValue is a hash: pairs while small, m (and pairs nil) once big.
type hashValue struct {
	pairs []hashPair
	m     *blobTable
	bytes int64 // sum of field and value lengths
}

func (h *hashValue) len() int {
	if h.m != nil {
		return h.m.len()
	}
	return len(h.pairs)
}

// size returns the accounted bytes of the hash's fields.
func (h *hashValue) size() int64 {
	if h.m == nil {
		return h.bytes + int64(len(h.pairs))*hashFieldOverheadSmall
	}
	return h.bytes + int64(h.m.len())*hashFieldOverhead
}

// find returns the position of field in pairs, or -1.
func (h *hashValue) find(field []byte) int {
	for i := range h.pairs {
		if h.pairs[i].field == string(field) {
			return i
		}
	}
	return -1
}

// get returns the value of field.
func (h *hashValue) get(field []byte) (string, bool) {
	if h.m != nil {
		return h.m.get(field)
	}
	if i := h.find(field); i >= 0 {
		return h.pairs[i].value, true
	}
	return "", false
}

// fieldValue copies field and value into one allocation.
func fieldValue(field, value []byte) (string, string) {
	b := make([]byte, len(field)+len(value))
	copy(b, field)
	copy(b[len(field):], value)
	var f, v string
	if len(field) > 0 {
		f = unsafe.String(&b[0], len(field))
	}
	if len(value) > 0 {
		v = unsafe.String(&b[len(field)], len(value))
	}
	return f, v
}

// set makes field hold value (both copied) and reports whether the field is new.
func (h *hashValue) set(field, value []byte) bool {
	if h.m == nil && (len(field) > hashMaxListpackValue || len(value) > hashMaxListpackValue) {
		h.convert()
	}
	if h.m != nil {
		isNew, oldLen := h.m.set(field, value)
		if isNew {
			h.bytes += int64(len(field) + len(value))
		} else {
			h.bytes += int64(len(value) - oldLen)
		}
		return isNew
	}
	f, v := fieldValue(field, value)
	if i := h.find(field); i >= 0 {
		h.bytes += int64(len(value) - len(h.pairs[i].value))
		h.pairs[i] = hashPair{f, v}
		return false
	}
	h.pairs = append(h.pairs, hashPair{f, v})
	h.bytes += int64(len(field) + len(value))
	if len(h.pairs) > hashMaxListpackEntries {
		h.convert()
	}
	return true
}

// convert leaves the listpack representation for good.
func (h *hashValue) convert() {
	h.m = newBlobTable(len(h.pairs) + 1)
	for _, p := range h.pairs {
		h.m.set([]byte(p.field), []byte(p.value))
	}
	h.pairs = nil
}

// del removes field and reports whether it was there.
func (h *hashValue) del(field []byte) bool {
	if h.m != nil {
		ok, oldLen := h.m.del(field)
		if ok {
			h.bytes -= int64(len(field) + oldLen)
		}
		return ok
	}
	i := h.find(field)
	if i < 0 {
		return false
	}
	p := h.pairs[i]
	h.bytes -= int64(len(p.field) + len(p.value))
	h.pairs = slices.Delete(h.pairs, i, i+1)
	return true
}

// each calls fn on every field and value: in insertion order while small.
func (h *hashValue) each(fn func(field, value string)) {
	if h.m != nil {
		h.m.each(fn)
		return
	}
	for _, p := range h.pairs {
		fn(p.field, p.value)
	}
}

// snapshot returns the pairs in the order each visits them; for a big
// hash it builds them (O(N)).
func (h *hashValue) snapshot() []hashPair {
	if h.m == nil {
		return h.pairs
	}
	out := make([]hashPair, 0, h.m.len())
	h.m.each(func(f, v string) { out = append(out, hashPair{f, v}) })
	return out
}

// encoding names the hash's representation as Redis's OBJECT ENCODING does.
func (h *hashValue) encoding() string {
	if h.m == nil {
		return "listpack"
	}
	return "hashtable"
}

// scan passes HSCAN's fields from cursor on and returns the next cursor:
// a listpack hash passes everything in order with cursor 0, as Redis
// answers it in one reply; a big one pages through its table (see
// blobTable.scan).
func (h *hashValue) scan(cursor uint64, count int, fn func(field, value string)) uint64 {
	if h.m == nil {
		h.each(fn)
		return 0
	}
	return h.m.scan(cursor, count, fn)
}
