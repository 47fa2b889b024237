// The order of a sorted set's members: a B+tree counted for ranks, whose leaves keep the scores inline so a lookup compares them without following a pointer per step.

package chkv

import "sort"

// zbMax is the most members a leaf, and the most children an inner node,
// holds; a node under zbMin after a removal takes from or merges with a
// neighbour. 32 members of 16 bytes make a leaf of eight cache lines.
const (
	zbMax = 32
	zbMin = zbMax / 4
)

// zent is a member in a leaf: its score, inline, and its node (the member
// table holds the same node).
type zent struct {
	score float64
	n     *znode
}

// zkey is a position in the order, copied: a node's score changes in
// place when a member moves, so a separator must not point at one.
type zkey struct {
	score  float64
	member string
}

// zkid is a child of an inner node: a leaf (a slice of zent, cap zbMax
// once full) at height 1, an inner node above; and its separator: every
// member under kid i (i >= 1) is at or after kids[i].sep and every member
// under kid i-1 before it (kids[0].sep is not used).
type zkid struct {
	sep   zkey
	leaf  []zent
	inner *zinner
}

// zinner is an inner node: its children, and apart from them (a rank
// sums them from the first, reading a few cache lines) the members under
// each. The arrays have room for one child more than zbMax: a node splits
// right after it gains it.
type zinner struct {
	n     int
	sizes [zbMax + 1]int32
	kids  [zbMax + 1]zkid
}

// ztree is the ordered index of a sorted set: a lone leaf while the set is
// small (root nil, height 0), else a root at height >= 1.
type ztree struct {
	leaf   []zent
	root   *zinner
	height int
}

// before reports whether e is ordered before (s, m).
func (e zent) before(s float64, m string) bool { return zless(e.score, e.n.member, s, m) }

// leafSearch returns the position of the first member of l not before
// (s, m).
func leafSearch(l []zent, s float64, m string) int {
	return sort.Search(len(l), func(i int) bool { return !l[i].before(s, m) })
}

// child returns the kid of x whose range holds (s, m).
func (x *zinner) child(s float64, m string) int {
	// The kid before the first separator after (s, m).
	return sort.Search(x.n-1, func(j int) bool { k := &x.kids[j+1].sep; return zless(s, m, k.score, k.member) })
}

// kidLen returns the entries of kid i: members of a leaf, children of an
// inner node.
func (x *zinner) kidLen(h, i int) int {
	if h == 1 {
		return len(x.kids[i].leaf)
	}
	return x.kids[i].inner.n
}

// total returns the members under x.
func (x *zinner) total() int {
	t := 0
	for i := range x.n {
		t += int(x.sizes[i])
	}
	return t
}

// leafInsert puts e at position i of l. A full leaf splits after e, as
// far as each side keeps zbMin: l keeps what comes up to e and the rest
// comes back as right. Members added in order, at the end of a leaf or
// of a run of equal scores, so fill leaves to three quarters where a cut
// in half would leave each half full for good.
func leafInsert(l []zent, i int, e zent) (left, right []zent) {
	if len(l) < zbMax {
		if len(l) == cap(l) {
			nl := make([]zent, len(l), min(max(2*cap(l), 2), zbMax))
			copy(nl, l)
			l = nl
		}
		l = l[:len(l)+1]
		copy(l[i+1:], l[i:])
		l[i] = e
		return l, nil
	}
	var all [zbMax + 1]zent
	copy(all[:i], l[:i])
	all[i] = e
	copy(all[i+1:], l[i:])
	half := min(max(i+1, zbMin), zbMax+1-zbMin)
	right = make([]zent, zbMax+1-half, zbMax)
	copy(right, all[half:])
	clear(l[half:])
	left = l[:half]
	copy(left, all[:half])
	return left, right
}

// keyOf returns the separator before leaf l, whose first member it copies.
func keyOf(l []zent) zkey { return zkey{l[0].score, l[0].n.member} }

// addKid puts k, a new child with size members, after kid i of x.
func (x *zinner) addKid(i int, size int32, k zkid) {
	copy(x.sizes[i+2:x.n+1], x.sizes[i+1:x.n])
	copy(x.kids[i+2:x.n+1], x.kids[i+1:x.n])
	x.sizes[i+1], x.kids[i+1] = size, k
	x.n++
}

// removeKid takes kid i out of x.
func (x *zinner) removeKid(i int) {
	copy(x.sizes[i:x.n-1], x.sizes[i+1:x.n])
	copy(x.kids[i:x.n-1], x.kids[i+1:x.n])
	x.n--
	x.sizes[x.n], x.kids[x.n] = 0, zkid{}
}

// split moves the second half of x's children to a new node, which it
// returns with its separator.
func (x *zinner) split() (zkey, *zinner) {
	half := x.n / 2
	r := &zinner{n: x.n - half}
	copy(r.sizes[:], x.sizes[half:x.n])
	copy(r.kids[:], x.kids[half:x.n])
	clear(x.sizes[half:x.n])
	clear(x.kids[half:x.n])
	x.n = half
	sep := r.kids[0].sep
	r.kids[0].sep = zkey{}
	return sep, r
}

// insert adds e under x, at height h, and returns the new right sibling
// when x split.
func (x *zinner) insert(h int, e zent) (zkey, *zinner) {
	i := x.child(e.score, e.n.member)
	k := &x.kids[i]
	x.sizes[i]++
	if h == 1 {
		left, right := leafInsert(k.leaf, leafSearch(k.leaf, e.score, e.n.member), e)
		k.leaf = left
		if right == nil {
			return zkey{}, nil
		}
		x.sizes[i] = int32(len(left))
		x.addKid(i, int32(len(right)), zkid{sep: keyOf(right), leaf: right})
	} else {
		sep, right := k.inner.insert(h-1, e)
		if right == nil {
			return zkey{}, nil
		}
		moved := int32(right.total())
		x.sizes[i] -= moved
		x.addKid(i, moved, zkid{sep: sep, inner: right})
	}
	if x.n <= zbMax {
		return zkey{}, nil
	}
	return x.split()
}

// insert adds e to the tree.
func (t *ztree) insert(e zent) {
	if t.root == nil {
		left, right := leafInsert(t.leaf, leafSearch(t.leaf, e.score, e.n.member), e)
		t.leaf = left
		if right != nil {
			r := &zinner{n: 2}
			r.sizes[0], r.sizes[1] = int32(len(left)), int32(len(right))
			r.kids[0], r.kids[1] = zkid{leaf: left}, zkid{sep: keyOf(right), leaf: right}
			t.root, t.height, t.leaf = r, 1, nil
		}
		return
	}
	sep, right := t.root.insert(t.height, e)
	if right == nil {
		return
	}
	r := &zinner{n: 2}
	r.sizes[0], r.sizes[1] = int32(t.root.total()), int32(right.total())
	r.kids[0], r.kids[1] = zkid{inner: t.root}, zkid{sep: sep, inner: right}
	t.root = r
	t.height++
}

// leafRemove takes the member (s, m), which must be there, out of l.
func leafRemove(l []zent, s float64, m string) ([]zent, *znode) {
	i := leafSearch(l, s, m)
	n := l[i].n
	copy(l[i:], l[i+1:])
	l[len(l)-1] = zent{}
	return l[:len(l)-1], n
}

// remove takes the member (s, m), which must be under x at height h, out
// and returns its node.
func (x *zinner) remove(h int, s float64, m string) *znode {
	i := x.child(s, m)
	k := &x.kids[i]
	var n *znode
	if h == 1 {
		k.leaf, n = leafRemove(k.leaf, s, m)
	} else {
		n = k.inner.remove(h-1, s, m)
	}
	x.sizes[i]--
	if x.kidLen(h, i) < zbMin && x.n > 1 {
		x.rebalance(h, i)
	}
	return n
}

// rebalance mends kid i of x, short of entries after a removal: with its
// right neighbour (its left one for the last kid) it merges into one node
// when both fit in one, or else shares their entries evenly.
func (x *zinner) rebalance(h, i int) {
	a := i
	if a == x.n-1 {
		a--
	}
	b := a + 1
	na, nb := x.kidLen(h, a), x.kidLen(h, b)
	total := na + nb
	keep := total // entries that stay in a
	if total > zbMax {
		keep = total / 2
	}
	ka, kb := &x.kids[a], &x.kids[b]
	if h == 1 {
		var all [2 * zbMax]zent
		copy(all[:], ka.leaf)
		copy(all[na:], kb.leaf)
		ka.leaf, x.sizes[a] = refill(ka.leaf, all[:keep]), int32(keep)
		if keep == total {
			x.removeKid(b)
			return
		}
		kb.leaf, x.sizes[b] = refill(kb.leaf, all[keep:total]), int32(total-keep)
		kb.sep = keyOf(kb.leaf)
		return
	}
	// Inner children: line up both nodes' children, with the separator
	// between them, then cut the line again.
	var sizes [2*zbMax + 2]int32
	var line [2*zbMax + 2]zkid
	ia, ib := ka.inner, kb.inner
	copy(sizes[:], ia.sizes[:na])
	copy(sizes[na:], ib.sizes[:nb])
	copy(line[:], ia.kids[:na])
	copy(line[na:], ib.kids[:nb])
	line[na].sep = kb.sep // b's first child follows a's last
	*ia = zinner{n: keep}
	copy(ia.sizes[:], sizes[:keep])
	copy(ia.kids[:], line[:keep])
	x.sizes[a] = int32(ia.total())
	if keep == total {
		x.removeKid(b)
		return
	}
	*ib = zinner{n: total - keep}
	copy(ib.sizes[:], sizes[keep:total])
	copy(ib.kids[:], line[keep:total])
	kb.sep, ib.kids[0].sep = ib.kids[0].sep, zkey{}
	x.sizes[b] = int32(ib.total())
}

// refill makes leaf l hold exactly es, in l's array (cleared beyond them,
// so it keeps no removed node alive).
func refill(l, es []zent) []zent {
	clear(l[:cap(l)])
	return append(l[:0], es...)
}

// remove takes the member (s, m), which must be in the tree, out and
// returns its node.
func (t *ztree) remove(s float64, m string) *znode {
	if t.root == nil {
		var n *znode
		t.leaf, n = leafRemove(t.leaf, s, m)
		return n
	}
	n := t.root.remove(t.height, s, m)
	if t.root.n == 1 { // a root of one child gives way to it
		if t.height == 1 {
			t.leaf, t.root = t.root.kids[0].leaf, nil
		} else {
			t.root = t.root.kids[0].inner
		}
		t.height--
	}
	return n
}

// countWhile returns how many members, from the first, satisfy before,
// which must hold for a prefix of the order (of every key, not only the
// members).
func (t *ztree) countWhile(before func(s float64, m string) bool) int {
	n := 0
	x, h := t.root, t.height
	for ; h >= 1; h-- {
		// kid k holds the first member not before: the last whose
		// separator is before (the kids ahead of it are wholly before).
		k := sort.Search(x.n-1, func(j int) bool { sep := &x.kids[j+1].sep; return !before(sep.score, sep.member) })
		for j := range k {
			n += int(x.sizes[j])
		}
		if h == 1 {
			return n + leafCount(x.kids[k].leaf, before)
		}
		x = x.kids[k].inner
	}
	return n + leafCount(t.leaf, before)
}

// leafCount returns how many members of l, from the first, satisfy before.
func leafCount(l []zent, before func(s float64, m string) bool) int {
	return sort.Search(len(l), func(i int) bool { return !before(l[i].score, l[i].n.member) })
}

// at returns the node of rank i (0 <= i < the set's size).
func (t *ztree) at(i int) *znode {
	x := t.root
	for h := t.height; h >= 1; h-- {
		k := 0
		for i >= int(x.sizes[k]) {
			i -= int(x.sizes[k])
			k++
		}
		if h == 1 {
			return x.kids[k].leaf[i].n
		}
		x = x.kids[k].inner
	}
	return t.leaf[i].n
}

// walk calls fn on the nodes of ranks [lo, hi), ascending (descending when
// rev), until fn returns false; it reports whether fn never did.
func (t *ztree) walk(lo, hi int, rev bool, fn func(*znode) bool) bool {
	if t.root == nil {
		return walkLeaf(t.leaf, lo, hi, rev, fn)
	}
	return t.root.walk(t.height, lo, hi, rev, fn)
}

func walkLeaf(l []zent, lo, hi int, rev bool, fn func(*znode) bool) bool {
	for j := lo; j < hi; j++ {
		k := j
		if rev {
			k = lo + hi - 1 - j
		}
		if !fn(l[k].n) {
			return false
		}
	}
	return true
}

func (x *zinner) walk(h, lo, hi int, rev bool, fn func(*znode) bool) bool {
	var off [zbMax + 1]int // rank of each kid's first member under x
	for i := 1; i < x.n; i++ {
		off[i] = off[i-1] + int(x.sizes[i-1])
	}
	for j := range x.n {
		i := j
		if rev {
			i = x.n - 1 - j
		}
		a, b := max(lo-off[i], 0), min(hi-off[i], int(x.sizes[i]))
		if a >= b {
			continue
		}
		var ok bool
		if h == 1 {
			ok = walkLeaf(x.kids[i].leaf, a, b, rev, fn)
		} else {
			ok = x.kids[i].inner.walk(h-1, a, b, rev, fn)
		}
		if !ok {
			return false
		}
	}
	return true
}
