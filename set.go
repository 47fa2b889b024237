// setValue is the value of a set key: Redis's intset (sorted integers) while it qualifies, then members indexed by a map.

package chkv

import "sort"

// setMaxIntsetEntries is how many integer members Redis 7.0 keeps in an
// intset (sorted, so SMEMBERS answers in numeric order) before it converts
// the set to a hash table for good; any non-integer member converts too.
const setMaxIntsetEntries = 512

// The bytes a set member costs beyond its bytes, measured live: in an
// intset (string, number, slice room) and in a big set (string, slice and
// map slots, allocation rounding).
const (
	setMemberOverheadInts = 40
	setMemberOverhead     = 75
)

// setValue is a set. While ints is set, members holds decimal integers in
// numeric order and idx is nil; afterwards short (members of up to 15
// bytes) and idx (longer ones) map every member to its position in
// members (in no particular order), so a random member is one index away.
//
// short keeps a member's bytes in the map's slot: a lookup in a big set
// misses the cache once, on the slot's group, where a string key costs a
// second miss on the member's bytes to compare them. In a set of 100,000
// members, SISMEMBER's map lookup was 37% of the server's CPU, half of it
// comparing keys (memeqbody) (2026-12-04).
type setValue struct {
	members []string
	nums    []int64               // the members' values while ints
	idx     map[string]int32      // nil while ints
	short   map[shortMember]int32 // nil while ints
	bytes   int64
}

// shortMember is a member of up to 15 bytes, with its length in the last byte.
type shortMember [16]byte

// toShort returns m as a shortMember; false when it is longer than 15 bytes.
func toShort[T string | []byte](m T) (k shortMember, ok bool) {
	if len(m) >= len(k) {
		return k, false
	}
	copy(k[:], m)
	k[len(k)-1] = byte(len(m))
	return k, true
}

// put records member m at position i of members (not while ints).
func (s *setValue) put(m string, i int32) {
	if k, ok := toShort(m); ok {
		s.short[k] = i
	} else {
		s.idx[m] = i
	}
}

func newSetValue() *setValue { return &setValue{nums: []int64{}} }

func (s *setValue) len() int { return len(s.members) }

// isIntset reports whether the set is still an intset.
func (s *setValue) isIntset() bool { return s.idx == nil }

// size returns the accounted bytes of the set's members.
func (s *setValue) size() int64 {
	if s.idx == nil {
		return s.bytes + int64(len(s.members))*setMemberOverheadInts
	}
	return s.bytes + int64(len(s.members))*setMemberOverhead
}

// find returns the position of m, or -1.
func (s *setValue) find(m []byte) int {
	if s.idx != nil {
		var i int32
		var ok bool
		if k, short := toShort(m); short {
			i, ok = s.short[k]
		} else {
			i, ok = s.idx[string(m)]
		}
		if ok {
			return int(i)
		}
		return -1
	}
	v, ok := parseInt(m)
	if !ok {
		return -1
	}
	i := sort.Search(len(s.nums), func(i int) bool { return s.nums[i] >= v })
	if i < len(s.nums) && s.nums[i] == v {
		return i
	}
	return -1
}

func (s *setValue) has(m []byte) bool { return s.find(m) >= 0 }

// add adds m (copied) and reports whether it was new.
func (s *setValue) add(m []byte) bool {
	if s.idx == nil {
		v, ok := parseInt(m)
		if ok && len(s.members) < setMaxIntsetEntries {
			i := sort.Search(len(s.nums), func(i int) bool { return s.nums[i] >= v })
			if i < len(s.nums) && s.nums[i] == v {
				return false
			}
			s.nums = append(s.nums, 0)
			copy(s.nums[i+1:], s.nums[i:])
			s.nums[i] = v
			s.members = append(s.members, "")
			copy(s.members[i+1:], s.members[i:])
			s.members[i] = string(m)
			s.bytes += int64(len(m))
			return true
		}
		if s.find(m) >= 0 {
			return false
		}
		s.convert()
	}
	if s.find(m) >= 0 {
		return false
	}
	k := string(m)
	s.put(k, int32(len(s.members)))
	s.members = append(s.members, k)
	s.bytes += int64(len(m))
	return true
}

// convert leaves the intset representation for good.
func (s *setValue) convert() {
	s.idx = map[string]int32{}
	s.short = make(map[shortMember]int32, len(s.members)+1)
	for i, m := range s.members {
		s.put(m, int32(i))
	}
	s.nums = nil
}

// del removes m and reports whether it was there.
func (s *setValue) del(m []byte) bool {
	i := s.find(m)
	if i < 0 {
		return false
	}
	s.removeAt(i)
	return true
}

// removeAt removes the member at position i and returns it.
func (s *setValue) removeAt(i int) string {
	m := s.members[i]
	s.bytes -= int64(len(m))
	last := len(s.members) - 1
	if s.idx == nil {
		copy(s.members[i:], s.members[i+1:])
		copy(s.nums[i:], s.nums[i+1:])
		s.nums = s.nums[:last]
	} else {
		if k, ok := toShort(m); ok {
			delete(s.short, k)
		} else {
			delete(s.idx, m)
		}
		if i != last {
			s.members[i] = s.members[last]
			s.put(s.members[i], int32(i))
		}
	}
	s.members[last] = ""
	s.members = s.members[:last]
	return m
}

// encoding names the set's representation as Redis's OBJECT ENCODING does.
func (s *setValue) encoding() string {
	if s.idx == nil {
		return "intset"
	}
	return "hashtable"
}

// scan passes SSCAN's members from cursor on and returns the next cursor:
// an intset passes everything with cursor 0, as Redis answers it in one
// reply. A big set pages down its members slice: the cursor is the end of
// the positions still to visit (0 to start: all of them). A member moves
// only when it is the last one and fills a removed member's place, that
// is only to a lower position, so a member present throughout never
// crosses the cursor unseen, and each call lowers the cursor by count, so
// a full scan ends whatever happens in between.
func (s *setValue) scan(cursor uint64, count int, fn func(string)) uint64 {
	if s.idx == nil {
		for _, m := range s.members {
			fn(m)
		}
		return 0
	}
	hi := len(s.members)
	if cursor != 0 && cursor < uint64(hi) {
		hi = int(cursor)
	}
	lo := max(hi-count, 0)
	for _, m := range s.members[lo:hi] {
		fn(m)
	}
	return uint64(lo)
}
