// Property test of the sorted-set treap against a plain sorted-slice model.

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
				require.Equal(t, len(model), z.root.count())
				checkZNode(t, z.root)
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

// checkZNode checks the subtree sizes and the heap order of the treap under t.
func checkZNode(t *rapid.T, n *znode) {
	if n == nil {
		return
	}
	require.Equal(t, 1+n.left.count()+n.right.count(), n.count(), "subtree size")
	for _, c := range []*znode{n.left, n.right} {
		if c != nil {
			require.LessOrEqual(t, c.prio, n.prio, "heap order")
		}
	}
	checkZNode(t, n.left)
	checkZNode(t, n.right)
}

// TestZSetLarge inserts members in ascending order (a treap's worst input
// for a plain tree) and checks ranks and depth stay logarithmic.
func TestZSetLarge(t *testing.T) {
	z := newZSet()
	const n = 100000
	for i := range n {
		z.add([]byte(strconv.Itoa(1000000+i)), float64(i))
	}
	var depth func(*znode) int
	depth = func(t *znode) int {
		if t == nil {
			return 0
		}
		return 1 + max(depth(t.left), depth(t.right))
	}
	require.Less(t, depth(z.root), 100, "depth of %d members", n)
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
