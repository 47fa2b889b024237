// hashValue is the value of a hash key: field-value pairs in insertion order, indexed by a map once the hash grows.

package chkv

// Redis keeps a hash in a listpack (insertion order, deletions close the
// gap) while it has at most 128 fields and no field or value longer than
// 64 bytes; beyond that it converts to a hash table for good. chkv keeps
// the same pairs in a slice either way, so the replies of a small hash come
// in Redis's order, and adds a map from field to position when Redis would
// convert.
const (
	hashMaxListpackEntries = 128
	hashMaxListpackValue   = 64
)

// hashFieldOverhead approximates the bytes a hash field costs beyond its
// field and value bytes (pair slot, index slot, allocation rounding).
const hashFieldOverhead = 64

// hashPair is one field of a hash with its value.
type hashPair struct {
	field, value string
}

// hashValue is a hash. Once idx is set, pairs is in no particular order and
// a deletion moves the last pair into the gap.
type hashValue struct {
	pairs []hashPair
	idx   map[string]int32 // field -> position in pairs; nil while small
	bytes int64            // sum of field and value lengths
}

func (h *hashValue) len() int { return len(h.pairs) }

// size returns the accounted bytes of the hash's fields.
func (h *hashValue) size() int64 { return h.bytes + int64(len(h.pairs))*hashFieldOverhead }

// find returns the position of field, or -1.
func (h *hashValue) find(field []byte) int {
	if h.idx != nil {
		if i, ok := h.idx[string(field)]; ok {
			return int(i)
		}
		return -1
	}
	for i := range h.pairs {
		if h.pairs[i].field == string(field) {
			return i
		}
	}
	return -1
}

// get returns the value of field.
func (h *hashValue) get(field []byte) (string, bool) {
	if i := h.find(field); i >= 0 {
		return h.pairs[i].value, true
	}
	return "", false
}

// set makes field hold value (both copied) and reports whether the field is new.
func (h *hashValue) set(field, value []byte) bool {
	if i := h.find(field); i >= 0 {
		p := &h.pairs[i]
		h.bytes += int64(len(value) - len(p.value))
		p.value = string(value)
		h.convertFor(len(value))
		return false
	}
	h.pairs = append(h.pairs, hashPair{string(field), string(value)})
	h.bytes += int64(len(field) + len(value))
	if h.idx != nil {
		h.idx[h.pairs[len(h.pairs)-1].field] = int32(len(h.pairs) - 1)
	}
	h.convertFor(max(len(field), len(value)))
	return true
}

// convertFor adds the index when the hash has outgrown Redis's listpack
// (too many fields, or a field or value of n bytes too long).
func (h *hashValue) convertFor(n int) {
	if h.idx != nil || (len(h.pairs) <= hashMaxListpackEntries && n <= hashMaxListpackValue) {
		return
	}
	h.idx = make(map[string]int32, len(h.pairs))
	for i, p := range h.pairs {
		h.idx[p.field] = int32(i)
	}
}

// del removes field and reports whether it was there.
func (h *hashValue) del(field []byte) bool {
	i := h.find(field)
	if i < 0 {
		return false
	}
	p := h.pairs[i]
	h.bytes -= int64(len(p.field) + len(p.value))
	last := len(h.pairs) - 1
	if h.idx == nil {
		copy(h.pairs[i:], h.pairs[i+1:])
	} else {
		delete(h.idx, p.field)
		if i != last {
			h.pairs[i] = h.pairs[last]
			h.idx[h.pairs[i].field] = int32(i)
		}
	}
	h.pairs[last] = hashPair{}
	h.pairs = h.pairs[:last]
	return true
}

// encoding names the hash's representation as Redis's OBJECT ENCODING does.
func (h *hashValue) encoding() string {
	if h.idx == nil {
		return "listpack"
	}
	return "hashtable"
}
