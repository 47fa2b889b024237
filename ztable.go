// ztable is a sorted set's index from member to tree node: open addressing over node pointers, scanned by HSCAN's cursor.

package chkv

import (
	"hash/maphash"
	"unsafe"
)

// ztable maps a member to its znode as blobTable maps fields: linear
// probing, backward-shift deletion, a tag byte a slot, a load of at most
// 3/4. The node holds the member and the score, so a slot is one pointer:
// about 12 bytes a member against some 40 for a map[string]float64.
type ztable struct {
	slots []*znode
	tags  []uint8
	n     int
	seed  maphash.Seed
}

func newZTable() ztable {
	return ztable{slots: make([]*znode, 8), tags: make([]uint8, 8), seed: maphash.MakeSeed()}
}

func (t *ztable) hash(m string) (int, uint8) {
	h := maphash.String(t.seed, m)
	return int(h & uint64(len(t.slots)-1)), uint8(h>>56) | 1
}

func (t *ztable) home(m string) int {
	i, _ := t.hash(m)
	return i
}

// find returns the slot of member m, or of the empty slot where it would
// go, with m's tag.
func (t *ztable) find(m []byte) (int, uint8, bool) {
	mask := len(t.slots) - 1
	i, tag := t.hash(unsafe.String(unsafe.SliceData(m), len(m)))
	for ; ; i = (i + 1) & mask {
		switch t.tags[i] {
		case 0:
			return i, tag, false
		case tag:
			if t.slots[i].member == string(m) {
				return i, tag, true
			}
		}
	}
}

// get returns the node of m, or nil.
func (t *ztable) get(m []byte) *znode {
	if i, _, ok := t.find(m); ok {
		return t.slots[i]
	}
	return nil
}

// add adds n, whose member must not be in the table.
func (t *ztable) add(n *znode) {
	i, tag, _ := t.find(unsafe.Slice(unsafe.StringData(n.member), len(n.member)))
	t.slots[i], t.tags[i] = n, tag
	t.n++
	if t.n > len(t.slots)*3/4 {
		t.resize(2 * len(t.slots))
	}
}

// del removes m and returns its node (nil: not there), shifting the rest
// of its run back as blobTable.del does.
func (t *ztable) del(m []byte) *znode {
	i, _, ok := t.find(m)
	if !ok {
		return nil
	}
	out := t.slots[i]
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.tags[j] != 0; j = (j + 1) & mask {
		h := t.home(t.slots[j].member)
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
	return out
}

func (t *ztable) resize(size int) {
	old := t.slots
	t.slots, t.tags = make([]*znode, size), make([]uint8, size)
	mask := size - 1
	for _, n := range old {
		if n == nil {
			continue
		}
		i, tag := t.hash(n.member)
		for t.tags[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i], t.tags[i] = n, tag
	}
}

// scan is blobTable.scan over the nodes.
func (t *ztable) scan(cursor uint64, count int, fn func(*znode)) uint64 {
	mask := len(t.slots) - 1
	return scanHomes(cursor, uint64(mask), count, func(home int) int {
		k := 0
		for i := home; t.tags[i] != 0; i = (i + 1) & mask {
			if n := t.slots[i]; t.home(n.member) == home {
				fn(n)
				k++
			}
		}
		return k
	})
}
