// Uniformity of the random commands: SRANDMEMBER, SPOP, HRANDFIELD, ZRANDMEMBER and RANDOMKEY, checked by chi-square over many draws.

package chkv

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// chi2Crit returns the value a chi-square statistic with df degrees of
// freedom exceeds with probability 1e-6 (Wilson-Hilferty, within a few
// percent from df 10 on): a bound loose enough that a uniform source
// never trips it, whatever its seed, and tight enough for any real bias
// seen over 100 draws a member.
func chi2Crit(df int) float64 {
	const z = 4.7534 // the standard normal's upper 1e-6 quantile
	k := float64(df)
	a := 2 / (9 * k)
	return k * math.Pow(1-a+z*math.Sqrt(a), 3)
}

// checkUniform calls draw until it has picked at least perMember times
// the population's size, checks every pick is a member and every member
// came out, and that the counts pass a chi-square test of uniformity.
func checkUniform(t *testing.T, population []string, perMember int, draw func() []string) {
	t.Helper()
	counts := make(map[string]int, len(population))
	for _, m := range population {
		counts[m] = 0
	}
	total := 0
	for total < perMember*len(population) {
		picks := draw()
		require.NotEmpty(t, picks)
		for _, p := range picks {
			_, ok := counts[p]
			require.True(t, ok, "%q is not a member", p)
			counts[p]++
		}
		total += len(picks)
	}
	want := float64(total) / float64(len(population))
	chi2, least, most := 0.0, total, 0
	for _, n := range counts {
		d := float64(n) - want
		chi2 += d * d / want
		least, most = min(least, n), max(most, n)
	}
	require.Positive(t, least, "every member comes out")
	crit := chi2Crit(len(population) - 1)
	require.Less(t, chi2, crit, "chi-square of %d draws over %d members (least %d, most %d, expected %.0f)",
		total, len(population), least, most, want)
}

// numbered returns prefix0..prefix(n-1).
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// anys converts strings to go-redis arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// TestRandomUniform: SRANDMEMBER, SPOP, HRANDFIELD and ZRANDMEMBER, with
// no count, a positive count (distinct picks, by both ways of picking
// them) and a negative one (repeats), on small (listpack, intset) and big
// collections, pick every member and uniformly; so does RANDOMKEY over
// keys that crowd one slot and keys alone in theirs.
func TestRandomUniform(t *testing.T) {
	d := RunT(t)
	r := redis.NewClient(&redis.Options{Addr: d.Addr(), MaxRetries: -1})
	defer r.Close()
	ctx := context.Background()
	const perMember = 100

	// batch runs n commands made by mk in one pipeline and returns their replies.
	batch := func(n int, mk func(p redis.Pipeliner)) []redis.Cmder {
		cmds, err := r.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range n {
				mk(p)
			}
			return nil
		})
		if err != nil {
			panic(err) // from a subtest: FailNow on t is not allowed there
		}
		return cmds
	}
	flat := func(cmds []redis.Cmder, step int) []string {
		var out []string
		for _, c := range cmds {
			switch c := c.(type) {
			case *redis.StringCmd:
				out = append(out, c.Val())
			case *redis.StringSliceCmd:
				for i := 0; i < len(c.Val()); i += step {
					out = append(out, c.Val()[i])
				}
			case *redis.Cmd:
				switch v := c.Val().(type) {
				case string:
					out = append(out, v)
				case []any:
					for i := 0; i < len(v); i += step {
						out = append(out, v[i].(string))
					}
				default:
					panic(fmt.Sprintf("%v answered %#v", c.Args(), c.Val()))
				}
			}
		}
		return out
	}
	distinct := func(t *testing.T, picks []string, n int) []string {
		require.Len(t, picks, n)
		s := slices.Clone(picks)
		slices.Sort(s)
		require.Len(t, slices.Compact(s), n, "picks of a positive count are distinct: %v", picks)
		return picks
	}

	for _, size := range []struct {
		name string
		n    int
		pre  string // member prefix: "" keeps a set's members integers (an intset)
	}{{"small", 50, ""}, {"big", 400, "member:"}} {
		pop := numbered(size.pre, size.n)
		half := size.n / 2 // count*3 > n: a shuffle picks them
		types := []struct {
			name, key string
			load      func()
			with      string
		}{
			{"SRANDMEMBER", "s", func() { require.NoError(t, r.SAdd(ctx, "s", anys(pop)...).Err()) }, ""},
			{"HRANDFIELD", "h", func() {
				for _, m := range pop {
					require.NoError(t, r.HSet(ctx, "h", "f"+m, m).Err())
				}
			}, "WITHVALUES"},
			{"ZRANDMEMBER", "z", func() {
				for i, m := range pop {
					require.NoError(t, r.ZAdd(ctx, "z", redis.Z{Score: float64(i % 7), Member: m}).Err())
				}
			}, "WITHSCORES"},
		}
		for _, ty := range types {
			population := pop
			if ty.name == "HRANDFIELD" {
				population = numbered("f"+size.pre, size.n)
			}
			ty.load()
			call := func(p redis.Pipeliner, args ...any) {
				p.Do(ctx, append([]any{ty.name, ty.key}, args...)...)
			}
			t.Run(fmt.Sprintf("%s/%s/single", size.name, ty.name), func(t *testing.T) {
				checkUniform(t, population, perMember, func() []string {
					return flat(batch(1000, func(p redis.Pipeliner) { call(p) }), 1)
				})
			})
			for _, k := range []int{7, half} {
				t.Run(fmt.Sprintf("%s/%s/count=%d", size.name, ty.name, k), func(t *testing.T) {
					checkUniform(t, population, perMember, func() []string {
						var out []string
						for _, c := range batch(50, func(p redis.Pipeliner) { call(p, k) }) {
							out = append(out, distinct(t, flat([]redis.Cmder{c}, 1), k)...)
						}
						return out
					})
				})
			}
			t.Run(fmt.Sprintf("%s/%s/count=-500", size.name, ty.name), func(t *testing.T) {
				checkUniform(t, population, perMember, func() []string {
					return flat(batch(10, func(p redis.Pipeliner) { call(p, -500) }), 1)
				})
			})
			if ty.with != "" {
				t.Run(fmt.Sprintf("%s/%s/count=-500/%s", size.name, ty.name, ty.with), func(t *testing.T) {
					checkUniform(t, population, perMember, func() []string {
						return flat(batch(10, func(p redis.Pipeliner) { call(p, -500, ty.with) }), 2)
					})
				})
			}
		}

		// SPOP takes members out: each batch pops a few and puts them back.
		for _, k := range []int{0, 7} {
			t.Run(fmt.Sprintf("%s/SPOP/count=%d", size.name, k), func(t *testing.T) {
				checkUniform(t, pop, perMember, func() []string {
					var picks []string
					for range size.n / 4 / max(k, 1) {
						if k == 0 {
							picks = append(picks, r.SPop(ctx, "s").Val())
						} else {
							picks = append(picks, distinct(t, r.SPopN(ctx, "s", int64(k)).Val(), k)...)
						}
					}
					require.NoError(t, r.SAdd(ctx, "s", anys(picks)...).Err())
					require.EqualValues(t, size.n, r.SCard(ctx, "s").Val())
					return picks
				})
			})
		}
		require.NoError(t, r.FlushAll(ctx).Err())
	}

	// RANDOMKEY: 150 keys share one slot ({crowd}), 150 have a slot each
	// (or nearly: the CRC16 of different names).
	keys := append(numbered("{crowd}k", 150), numbered("alone:", 150)...)
	for _, k := range keys {
		require.NoError(t, r.Set(ctx, k, "v", 0).Err())
	}
	checkUniform(t, keys, perMember, func() []string {
		return flat(batch(1000, func(p redis.Pipeliner) { p.RandomKey(ctx) }), 1)
	})
}
