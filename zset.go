// zset is the value of a sorted-set key: a treap ordered by (score, member) with subtree sizes for ranks, and a map from member to score.

package chkv

import "math/rand/v2"

// zsetMemberOverhead is the bytes a sorted-set member costs beyond its
// bytes (tree node, table slot, allocation rounding), measured live with
// 19-byte members: 76 at 100,000 members, 72 at 1,000,000 (107 to 109
// with a map[string]float64 as the index).
const zsetMemberOverhead = 74

// znode is one member of a sorted set in the treap: a binary search tree
// by (score, member) that is a heap by prio, so its depth is O(log N)
// with high probability whatever order members come in.
//
// The fields a descent reads and writes come first: 32 bytes, so that a
// node of the 48-byte size class keeps them in one cache line more often
// (three of four places in a 192-byte run, against two of four with the
// member before the score).
type znode struct {
	left, right *znode
	score       float64
	prio        uint32
	size        uint32 // nodes in this subtree
	member      string
}

func (t *znode) count() int {
	if t == nil {
		return 0
	}
	return int(t.size)
}

func (t *znode) fix() { t.size = uint32(1 + t.left.count() + t.right.count()) }

// zless orders (score, member) pairs as Redis's skiplist does: by score,
// then by the member's bytes.
func zless(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

// zsplit splits t into the nodes before (s, m) and the rest.
func zsplit(t *znode, s float64, m string) (l, r *znode) {
	if t == nil {
		return nil, nil
	}
	if zless(t.score, t.member, s, m) {
		t.right, r = zsplit(t.right, s, m)
		l = t
	} else {
		l, t.left = zsplit(t.left, s, m)
		r = t
	}
	t.fix()
	return l, r
}

// zmerge joins a and b, every node of a ordered before every node of b.
func zmerge(a, b *znode) *znode {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = zmerge(a.right, b)
		a.fix()
		return a
	default:
		b.left = zmerge(a, b.left)
		b.fix()
		return b
	}
}

// insert adds n (a single node) to the tree at *root: down the path of
// n's key while the nodes outrank it, then n takes the place of the
// subtree there, split around its key. A loop, not a recursion: only the
// sizes on the path are written.
func zinsert(root **znode, n *znode) {
	link := root
	for t := *link; t != nil && t.prio >= n.prio; t = *link {
		t.size++
		if zless(n.score, n.member, t.score, t.member) {
			link = &t.left
		} else {
			link = &t.right
		}
	}
	n.left, n.right = zsplit(*link, n.score, n.member)
	n.fix()
	*link = n
}

// zremove removes the node (s, m), which must be in the tree at *root,
// and returns it.
func zremove(root **znode, s float64, m string) *znode {
	link := root
	for {
		t := *link
		if t.score == s && t.member == m {
			*link = zmerge(t.left, t.right)
			return t
		}
		t.size--
		if zless(s, m, t.score, t.member) {
			link = &t.left
		} else {
			link = &t.right
		}
	}
}

// walk calls fn on the nodes of ranks [lo, hi) of t in order (reverse
// order when rev), until fn returns false.
func (t *znode) walk(lo, hi int, rev bool, fn func(*znode) bool) bool {
	if t == nil || lo >= hi {
		return true
	}
	ls := t.left.count()
	left := func() bool { return lo >= ls || t.left.walk(lo, min(hi, ls), rev, fn) }
	self := func() bool { return lo > ls || ls >= hi || fn(t) }
	right := func() bool { return hi <= ls+1 || t.right.walk(max(lo-ls-1, 0), hi-ls-1, rev, fn) }
	if rev {
		return right() && self() && left()
	}
	return left() && self() && right()
}

// zset is a sorted set: members ordered by score then bytes, each once.
type zset struct {
	root  *znode
	idx   ztable // member -> node
	bytes int64  // sum of member lengths
}

func newZSet() *zset { return &zset{idx: newZTable()} }

func (z *zset) len() int { return z.idx.n }

// size returns the accounted bytes of the sorted set's members.
func (z *zset) size() int64 { return z.bytes + int64(z.idx.n)*zsetMemberOverhead }

// score returns the score of member.
func (z *zset) score(member []byte) (float64, bool) {
	if n := z.idx.get(member); n != nil {
		return n.score, true
	}
	return 0, false
}

// add makes member (copied) hold score, reporting whether it is new. A
// score of -0 is kept as 0, as Redis's listpack keeps it.
func (z *zset) add(member []byte, score float64) bool {
	if score == 0 {
		score = 0
	}
	if n := z.idx.get(member); n != nil {
		if n.score == score {
			return false
		}
		zremove(&z.root, n.score, n.member)
		n.score, n.left, n.right, n.size = score, nil, nil, 1
		zinsert(&z.root, n)
		return false
	}
	n := &znode{member: string(member), score: score, prio: rand.Uint32(), size: 1}
	z.idx.add(n)
	z.bytes += int64(len(member))
	zinsert(&z.root, n)
	return true
}

// del removes member and reports whether it was there.
func (z *zset) del(member []byte) bool {
	n := z.idx.del(member)
	if n == nil {
		return false
	}
	zremove(&z.root, n.score, n.member)
	z.bytes -= int64(len(member))
	return true
}

// rank returns the 0-based rank of member in ascending order.
func (z *zset) rank(member []byte) (int, bool) {
	n := z.idx.get(member)
	if n == nil {
		return 0, false
	}
	return z.countWhile(func(t *znode) bool { return zless(t.score, t.member, n.score, n.member) }), true
}

// countWhile returns how many nodes, from the first, satisfy before,
// which must hold for a prefix of the order.
func (z *zset) countWhile(before func(*znode) bool) int {
	n := 0
	for t := z.root; t != nil; {
		if before(t) {
			n += t.left.count() + 1
			t = t.right
		} else {
			t = t.left
		}
	}
	return n
}

// at returns the node of rank i (0 <= i < len).
func (z *zset) at(i int) *znode {
	t := z.root
	for {
		ls := t.left.count()
		switch {
		case i < ls:
			t = t.left
		case i == ls:
			return t
		default:
			i -= ls + 1
			t = t.right
		}
	}
}

// each calls fn on the nodes of ranks [lo, hi), ascending (descending when
// rev), until fn returns false.
func (z *zset) each(lo, hi int, rev bool, fn func(*znode) bool) {
	z.root.walk(lo, hi, rev, fn)
}

// scoreRange is a score interval as ZRANGEBYSCORE takes it.
type scoreRange struct {
	min, max     float64
	minEx, maxEx bool
}

// below reports whether s lies before the interval.
func (r *scoreRange) below(s float64) bool {
	if r.minEx {
		return s <= r.min
	}
	return s < r.min
}

// notAbove reports whether s lies at or before the interval's end.
func (r *scoreRange) notAbove(s float64) bool {
	if r.maxEx {
		return s < r.max
	}
	return s <= r.max
}

// lexBound is one end of a ZRANGEBYLEX interval: "-" (inf < 0), "+"
// (inf > 0), or a member, inclusive or exclusive.
type lexBound struct {
	inf int
	val string
	ex  bool
}

// lexRange is a member interval as ZRANGEBYLEX takes it.
type lexRange struct{ min, max lexBound }

// below reports whether m lies before the interval.
func (r *lexRange) below(m string) bool {
	switch r.min.inf {
	case -1:
		return false
	case 1:
		return true
	}
	if r.min.ex {
		return m <= r.min.val
	}
	return m < r.min.val
}

// notAbove reports whether m lies at or before the interval's end.
func (r *lexRange) notAbove(m string) bool {
	switch r.max.inf {
	case -1:
		return false
	case 1:
		return true
	}
	if r.max.ex {
		return m < r.max.val
	}
	return m <= r.max.val
}

// scoreSpan returns the ranks [lo, hi) of the members whose score lies in r.
func (z *zset) scoreSpan(r *scoreRange) (lo, hi int) {
	lo = z.countWhile(func(t *znode) bool { return r.below(t.score) })
	hi = z.countWhile(func(t *znode) bool { return r.notAbove(t.score) })
	return lo, max(lo, hi)
}

// lexSpan returns the ranks [lo, hi) of the members in r, the set's
// scores assumed all equal as Redis assumes them.
func (z *zset) lexSpan(r *lexRange) (lo, hi int) {
	lo = z.countWhile(func(t *znode) bool { return r.below(t.member) })
	hi = z.countWhile(func(t *znode) bool { return r.notAbove(t.member) })
	return lo, max(lo, hi)
}

// Redis keeps a sorted set in a listpack while it has at most 128 members
// of at most 64 bytes.
const (
	zsetMaxListpackEntries = 128
	zsetMaxListpackValue   = 64
)

// encoding names the sorted set's representation as Redis's OBJECT
// ENCODING does (listpack while small, by the limits above).
func (z *zset) encoding() string {
	small := z.len() <= zsetMaxListpackEntries
	if small {
		z.each(0, z.len(), false, func(t *znode) bool {
			small = len(t.member) <= zsetMaxListpackValue
			return small
		})
	}
	if small {
		return "listpack"
	}
	return "skiplist"
}

// scan passes ZSCAN's members from cursor on and returns the next cursor:
// a listpack-sized set passes everything in order with cursor 0, as Redis
// answers it in one reply; a big one pages through its member table (see
// blobTable.scan).
func (z *zset) scan(cursor uint64, count int, fn func(*znode)) uint64 {
	if z.encoding() == "listpack" {
		z.each(0, z.len(), false, func(n *znode) bool { fn(n); return true })
		return 0
	}
	return z.idx.scan(cursor, count, fn)
}
