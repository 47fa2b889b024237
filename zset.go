// zset is the value of a sorted-set key: a B+tree ordered by (score, member) and counted for ranks (zbtree.go), and a table from member to node.

package chkv

// zsetMemberOverhead is the bytes a sorted-set member costs beyond its
// bytes (node, leaf entry, table slot, allocation rounding), measured live
// with 19-byte members added in random order: 84 at 100,000 members, 77
// at 1,000,000 (a treap before the B+tree: 76 and 72; a
// map[string]float64 as the index: 107 to 109).
const zsetMemberOverhead = 78

// znode is one member of a sorted set: the member table maps the member
// to it, and a leaf of the tree holds it beside a copy of its score.
type znode struct {
	score  float64
	member string
}

// zless orders (score, member) pairs as Redis's skiplist does: by score,
// then by the member's bytes.
func zless(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

// zset is a sorted set: members ordered by score then bytes, each once.
type zset struct {
	tree  ztree
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
		z.tree.remove(n.score, n.member)
		n.score = score
		z.tree.insert(zent{score, n})
		return false
	}
	n := &znode{member: string(member), score: score}
	z.idx.add(n)
	z.bytes += int64(len(member))
	z.tree.insert(zent{score, n})
	return true
}

// del removes member and reports whether it was there.
func (z *zset) del(member []byte) bool {
	n := z.idx.del(member)
	if n == nil {
		return false
	}
	z.tree.remove(n.score, n.member)
	z.bytes -= int64(len(member))
	return true
}

// rank returns the 0-based rank of member in ascending order.
func (z *zset) rank(member []byte) (int, bool) {
	n := z.idx.get(member)
	if n == nil {
		return 0, false
	}
	return z.tree.countWhile(func(s float64, m string) bool { return zless(s, m, n.score, n.member) }), true
}

// at returns the node of rank i (0 <= i < len).
func (z *zset) at(i int) *znode { return z.tree.at(i) }

// each calls fn on the nodes of ranks [lo, hi), ascending (descending when
// rev), until fn returns false.
func (z *zset) each(lo, hi int, rev bool, fn func(*znode) bool) {
	z.tree.walk(lo, hi, rev, fn)
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
	lo = z.tree.countWhile(func(s float64, _ string) bool { return r.below(s) })
	hi = z.tree.countWhile(func(s float64, _ string) bool { return r.notAbove(s) })
	return lo, max(lo, hi)
}

// lexSpan returns the ranks [lo, hi) of the members in r, the set's
// scores assumed all equal as Redis assumes them.
func (z *zset) lexSpan(r *lexRange) (lo, hi int) {
	lo = z.tree.countWhile(func(_ float64, m string) bool { return r.below(m) })
	hi = z.tree.countWhile(func(_ float64, m string) bool { return r.notAbove(m) })
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
