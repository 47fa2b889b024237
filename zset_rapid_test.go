// Property tests of the sorted set's tree against a plain sorted-slice model.

package chkv

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestZSetRapid runs random adds, score changes, removals and range
// queries on a zset and a sorted slice, and after every step checks that
// the tree's order, sizes, ranks and map agree with the model.
func TestZSetRapid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		z := newZSet()
		var model []zmember // kept sorted
		member := rapid.StringOfN(rapid.RuneFrom([]rune("abcde")), 0, 3, -1)
		score := rapid.SampledFrom([]float64{-1, 0, 0.5, 1, 2, 3})
		find := func(m string) int {
			return slices.IndexFunc(model, func(e zmember) bool { return e.member == m })
		}
		t.Repeat(map[string]func(*rapid.T){
			"add": func(t *rapid.T) {
				m, s := member.Draw(t, "member"), score.Draw(t, "score")
				i := find(m)
				require.Equal(t, i < 0, z.add([]byte(m), s), "add reports a new member")
				if i >= 0 {
					model[i].score = s
				} else {
					model = append(model, zmember{m, s})
				}
				slices.SortFunc(model, zmemberCmp)
			},
			"del": func(t *rapid.T) {
				m := member.Draw(t, "member")
				i := find(m)
				require.Equal(t, i >= 0, z.del([]byte(m)))
				if i >= 0 {
					model = slices.Delete(model, i, i+1)
				}
			},
			"rank": func(t *rapid.T) {
				m := member.Draw(t, "member")
				r, ok := z.rank([]byte(m))
				i := find(m)
				require.Equal(t, i >= 0, ok)
				if ok {
					require.Equal(t, i, r)
				}
			},
			"scoreRange": func(t *rapid.T) {
				r := scoreRange{min: score.Draw(t, "min"), max: score.Draw(t, "max"),
					minEx: rapid.Bool().Draw(t, "minEx"), maxEx: rapid.Bool().Draw(t, "maxEx")}
				lo, hi := z.scoreSpan(&r)
				var want []string
				for _, e := range model {
					if !r.below(e.score) && r.notAbove(e.score) {
						want = append(want, e.member)
					}
				}
				var got []string
				z.each(lo, hi, false, func(n *znode) bool { got = append(got, n.member); return true })
				require.Equal(t, want, got)
			},
			"lexRange": func(t *rapid.T) {
				bound := func(label string) lexBound {
					return lexBound{inf: rapid.IntRange(-1, 1).Draw(t, label+"inf"), val: member.Draw(t, label),
						ex: rapid.Bool().Draw(t, label+"ex")}
				}
				r := lexRange{min: bound("min"), max: bound("max")}
				// Redis assumes equal scores for a lex range: check it on the members of score 0 only.
				eq := newZSet()
				var want []string
				for _, e := range model {
					if e.score == 0 {
						eq.add([]byte(e.member), 0)
						if !r.below(e.member) && r.notAbove(e.member) {
							want = append(want, e.member)
						}
					}
				}
				lo, hi := eq.lexSpan(&r)
				var got []string
				eq.each(lo, hi, false, func(n *znode) bool { got = append(got, n.member); return true })
				require.Equal(t, want, got)
			},
			"walk": func(t *rapid.T) {
				lo := rapid.IntRange(0, len(model)).Draw(t, "lo")
				hi := rapid.IntRange(lo, len(model)).Draw(t, "hi")
				rev := rapid.Bool().Draw(t, "rev")
				var want, got []string
				for _, e := range model[lo:hi] {
					want = append(want, e.member)
				}
				if rev {
					slices.Reverse(want)
				}
				z.each(lo, hi, rev, func(n *znode) bool { got = append(got, n.member); return true })
				require.Equal(t, want, got)
			},
			"": func(t *rapid.T) {
				require.Equal(t, len(model), z.len())
				checkZTree(t, z)
				for i, e := range model {
					n := z.at(i)
					require.Equal(t, e.member, n.member, "rank "+strconv.Itoa(i))
					require.Equal(t, e.score, n.score)
					s, ok := z.score([]byte(e.member))
					require.True(t, ok)
					require.Equal(t, e.score, s)
				}
				var bytes int64
				for _, e := range model {
					bytes += int64(len(e.member))
				}
				require.Equal(t, bytes, z.bytes)
			},
		})
	})
}

// checkZTree checks the tree's invariants: members in order under each
// separator, sizes that count them, nodes between zbMin and zbMax entries
// (the root from one, and two for an inner root), leaves at one depth, and
// the inline scores equal to the nodes'.
func checkZTree(t require.TestingT, z *zset) {
	var prev *znode
	var leaf func(l []zent, lo, hi *zkey, root bool) int
	leaf = func(l []zent, lo, hi *zkey, root bool) int {
		require.LessOrEqual(t, len(l), zbMax)
		if !root {
			require.GreaterOrEqual(t, len(l), zbMin, "leaf occupancy")
		}
		for _, e := range l {
			require.Equal(t, e.score, e.n.score, "inline score")
			if prev != nil {
				require.True(t, zless(prev.score, prev.member, e.n.score, e.n.member), "order")
			}
			if lo != nil {
				require.False(t, zless(e.score, e.n.member, lo.score, lo.member), "at or after its separator")
			}
			if hi != nil {
				require.True(t, zless(e.score, e.n.member, hi.score, hi.member), "before the next separator")
			}
			prev = e.n
		}
		return len(l)
	}
	var inner func(x *zinner, h int, lo, hi *zkey, root bool) int
	inner = func(x *zinner, h int, lo, hi *zkey, root bool) int {
		require.LessOrEqual(t, x.n, zbMax)
		if root {
			require.GreaterOrEqual(t, x.n, 2, "an inner root has two children")
		} else {
			require.GreaterOrEqual(t, x.n, zbMin, "inner occupancy")
		}
		total := 0
		for i := range x.n {
			klo, khi := lo, hi
			if i > 0 {
				klo = &x.kids[i].sep
			}
			if i+1 < x.n {
				khi = &x.kids[i+1].sep
			}
			var got int
			if h == 1 {
				require.Nil(t, x.kids[i].inner)
				got = leaf(x.kids[i].leaf, klo, khi, false)
			} else {
				require.Nil(t, x.kids[i].leaf)
				got = inner(x.kids[i].inner, h-1, klo, khi, false)
			}
			require.Equal(t, int(x.sizes[i]), got, "size of kid %d at height %d", i, h)
			total += got
		}
		for i := x.n; i <= zbMax; i++ {
			require.True(t, x.sizes[i] == 0 && x.kids[i].sep == zkey{} && x.kids[i].leaf == nil && x.kids[i].inner == nil, "unused slots are empty")
		}
		return total
	}
	var n int
	if z.tree.root == nil {
		require.Equal(t, 0, z.tree.height)
		n = leaf(z.tree.leaf, nil, nil, true)
	} else {
		require.Nil(t, z.tree.leaf)
		n = inner(z.tree.root, z.tree.height, nil, nil, true)
	}
	require.Equal(t, z.len(), n, "members in the tree")
}

// TestZSetTreeRandom runs many random adds, score changes and removals on
// a set large enough for inner nodes to split and merge, with few scores
// (so ties order by member), and compares with a model now and then.
func TestZSetTreeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	z := newZSet()
	model := map[string]float64{}
	check := func() {
		checkZTree(t, z)
		want := make([]zmember, 0, len(model))
		for m, s := range model {
			want = append(want, zmember{m, s})
		}
		slices.SortFunc(want, zmemberCmp)
		got := make([]zmember, 0, z.len())
		z.each(0, z.len(), false, func(n *znode) bool { got = append(got, zmember{n.member, n.score}); return true })
		require.Equal(t, want, got)
		for range 20 {
			if len(want) == 0 {
				break
			}
			i := r.IntN(len(want))
			require.Equal(t, want[i].member, z.at(i).member)
			rank, ok := z.rank([]byte(want[i].member))
			require.True(t, ok)
			require.Equal(t, i, rank)
			// A score range, and a reverse walk of a rank range, against the model.
			sr := scoreRange{min: float64(r.IntN(52) - 1), max: float64(r.IntN(52) - 1), minEx: r.IntN(2) == 0, maxEx: r.IntN(2) == 0}
			lo, hi := z.scoreSpan(&sr)
			wlo := slices.IndexFunc(want, func(e zmember) bool { return !sr.below(e.score) })
			whi := slices.IndexFunc(want, func(e zmember) bool { return !sr.notAbove(e.score) })
			if wlo < 0 {
				wlo = len(want)
			}
			if whi < 0 {
				whi = len(want)
			}
			require.Equal(t, [2]int{wlo, max(wlo, whi)}, [2]int{lo, hi}, "score range %+v", sr)
			j := i + r.IntN(len(want)-i+1)
			var rev []string
			z.each(i, j, true, func(n *znode) bool { rev = append(rev, n.member); return true })
			require.Len(t, rev, j-i)
			for k, m := range rev {
				require.Equal(t, want[j-1-k].member, m)
			}
		}
	}
	for phase, size := range []int{20000, 3000, 40000, 0} { // grow, shrink, grow, empty
		for i := range 60000 {
			if i%15000 == 14999 {
				check()
			}
			m := fmt.Sprintf("m%05d", r.IntN(max(size, 1)*2))
			if len(model) > size || (size == 0 && len(model) > 0) {
				for k := range model { // a member the set holds
					m = k
					break
				}
				require.True(t, z.del([]byte(m)))
				delete(model, m)
				continue
			}
			s := float64(r.IntN(50))
			_, had := model[m]
			require.Equal(t, !had, z.add([]byte(m), s))
			model[m] = s
		}
		check()
		t.Logf("phase %d: %d members, height %d", phase, z.len(), z.tree.height)
	}
	// Lex ranges over a set of one score, deep enough for inner nodes.
	eq := newZSet()
	var members []string
	for i := range 5000 {
		m := fmt.Sprintf("x%05d", i*7)
		eq.add([]byte(m), 0)
		members = append(members, m)
	}
	slices.Sort(members)
	for range 200 {
		bound := func() lexBound {
			return lexBound{inf: r.IntN(7)/3 - 1, val: fmt.Sprintf("x%05d", r.IntN(36000)), ex: r.IntN(2) == 0}
		}
		lr := lexRange{min: bound(), max: bound()}
		lo, hi := eq.lexSpan(&lr)
		var want, got []string
		for _, m := range members {
			if !lr.below(m) && lr.notAbove(m) {
				want = append(want, m)
			}
		}
		eq.each(lo, hi, false, func(n *znode) bool { got = append(got, n.member); return true })
		require.Equal(t, want, got, "lex range %+v", lr)
	}
}

// TestZSetLarge inserts members in ascending order (the worst input for a
// plain search tree) and checks ranks and the tree's height.
func TestZSetLarge(t *testing.T) {
	z := newZSet()
	const n = 100000
	for i := range n {
		z.add([]byte(strconv.Itoa(1000000+i)), float64(i))
	}
	checkZTree(t, z)
	require.LessOrEqual(t, z.tree.height, 5, "height for %d members", n)
	r, ok := z.rank([]byte("1050000"))
	require.True(t, ok)
	require.Equal(t, 50000, r)
	lo, hi := z.scoreSpan(&scoreRange{min: 10, max: 20, maxEx: true})
	require.Equal(t, [2]int{10, 20}, [2]int{lo, hi})
	for i := range n / 2 {
		require.True(t, z.del([]byte(strconv.Itoa(1000000+2*i))))
	}
	require.Equal(t, n/2, z.len())
	require.Equal(t, "1000001", z.at(0).member)
}

// BenchmarkZSetAdd is redis-benchmark's ZADD z __rand_int__ m:__rand_int__
// on a sorted set of 100,000 members: mostly a new score for a member.
func BenchmarkZSetAdd(b *testing.B) {
	z := newZSet()
	r := rand.New(rand.NewPCG(1, 2))
	member := func() []byte { return fmt.Appendf(nil, "m:%012d", r.IntN(100_000)) }
	for range 300_000 {
		z.add(member(), float64(r.IntN(100_000)))
	}
	ms := make([][]byte, 4096)
	for i := range ms {
		ms[i] = member()
	}
	i := 0
	for b.Loop() {
		z.add(ms[i&4095], float64(r.IntN(100_000)))
		i++
	}
}

// BenchmarkSetHas is SISMEMBER s m:__rand_int__ on a set of 100,000 members.
func BenchmarkSetHas(b *testing.B) {
	s := newSetValue()
	for i := range 100_000 {
		s.add(fmt.Appendf(nil, "m:%012d", i))
	}
	r := rand.New(rand.NewPCG(1, 2))
	ms := make([][]byte, 4096)
	for i := range ms {
		ms[i] = fmt.Appendf(nil, "m:%012d", r.IntN(100_000))
	}
	i := 0
	for b.Loop() {
		s.has(ms[i&4095])
		i++
	}
}
