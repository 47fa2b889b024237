// Tests of HSCAN, SSCAN and ZSCAN paging: every element present throughout a scan comes out, a scan ends, big collections page.

package chkv

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// scanner drives one collection type through go-redis for the scan tests.
type scanner struct {
	name string
	add  func(ctx context.Context, r *redis.Client, key string, members map[string]string) error // member -> value (hash) or score (zset)
	del  func(ctx context.Context, r *redis.Client, key string, members []string) error
	scan func(ctx context.Context, r *redis.Client, key string, cursor uint64, match string, count int64) ([]string, uint64, error)
	with bool // replies carry a value or score after each member
}

func scanners() []scanner {
	return []scanner{
		{"hash",
			func(ctx context.Context, r *redis.Client, key string, ms map[string]string) error {
				args := make([]any, 0, 2*len(ms))
				for m, v := range ms {
					args = append(args, m, v)
				}
				return r.HSet(ctx, key, args...).Err()
			},
			func(ctx context.Context, r *redis.Client, key string, ms []string) error {
				return r.HDel(ctx, key, ms...).Err()
			},
			func(ctx context.Context, r *redis.Client, key string, cur uint64, match string, count int64) ([]string, uint64, error) {
				return r.HScan(ctx, key, cur, match, count).Result()
			}, true},
		{"set",
			func(ctx context.Context, r *redis.Client, key string, ms map[string]string) error {
				args := make([]any, 0, len(ms))
				for m := range ms {
					args = append(args, m)
				}
				return r.SAdd(ctx, key, args...).Err()
			},
			func(ctx context.Context, r *redis.Client, key string, ms []string) error {
				args := make([]any, len(ms))
				for i, m := range ms {
					args[i] = m
				}
				return r.SRem(ctx, key, args...).Err()
			},
			func(ctx context.Context, r *redis.Client, key string, cur uint64, match string, count int64) ([]string, uint64, error) {
				return r.SScan(ctx, key, cur, match, count).Result()
			}, false},
		{"zset",
			func(ctx context.Context, r *redis.Client, key string, ms map[string]string) error {
				zs := make([]redis.Z, 0, len(ms))
				for m, v := range ms {
					s, err := strconv.ParseFloat(v, 64)
					if err != nil {
						return err
					}
					zs = append(zs, redis.Z{Score: s, Member: m})
				}
				return r.ZAdd(ctx, key, zs...).Err()
			},
			func(ctx context.Context, r *redis.Client, key string, ms []string) error {
				args := make([]any, len(ms))
				for i, m := range ms {
					args[i] = m
				}
				return r.ZRem(ctx, key, args...).Err()
			},
			func(ctx context.Context, r *redis.Client, key string, cur uint64, match string, count int64) ([]string, uint64, error) {
				return r.ZScan(ctx, key, cur, match, count).Result()
			}, true},
	}
}

// TestCollScanRapid: a full HSCAN, SSCAN or ZSCAN of a big collection
// (one 70-byte member keeps a hash or sorted set out of its listpack, a
// non-integer one a set out of its intset) returns every element present
// from the first call to the last at least once, each with its current
// value or score, and ends, while random adds, updates and removals (in
// bulk, so the tables grow and shrink) come between the calls.
func TestCollScanRapid(t *testing.T) {
	d := RunT(t)
	r := redis.NewClient(&redis.Options{Addr: d.Addr(), MaxRetries: -1})
	defer r.Close()
	ctx := context.Background()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		sc := rapid.SampledFrom(scanners()).Draw(rt, "type")
		key := fmt.Sprintf("%s%d", sc.name, run)
		live := map[string]string{} // member -> current value or score
		ever := map[string]bool{}
		fresh := 0
		add := func(n int) {
			if n == 0 {
				return
			}
			ms := map[string]string{}
			for range n {
				fresh++
				ms["m"+strconv.Itoa(fresh)] = strconv.Itoa(fresh)
			}
			require.NoError(rt, sc.add(ctx, r, key, ms))
			maps.Copy(live, ms)
			for m := range ms {
				ever[m] = true
			}
		}
		long := strings.Repeat("L", 70)
		require.NoError(rt, sc.add(ctx, r, key, map[string]string{long: "0"}))
		live[long], ever[long] = "0", true
		add(rapid.IntRange(0, 600).Draw(rt, "size"))
		throughout := maps.Clone(live)
		count := rapid.IntRange(1, 40).Draw(rt, "count")
		size0, maxLen := len(live), len(live)

		seen := map[string]bool{}
		cursor, calls := uint64(0), 0
		for {
			page, next, err := sc.scan(ctx, r, key, cursor, "", int64(count))
			require.NoError(rt, err)
			calls++
			step := 1
			if sc.with {
				step = 2
			}
			require.Zero(rt, len(page)%step, "page %v", page)
			for i := 0; i < len(page); i += step {
				m := page[i]
				require.True(rt, ever[m], "%q was never added", m)
				want, ok := live[m]
				require.True(rt, ok, "%q was removed before this call", m)
				if sc.with {
					require.Equal(rt, want, page[i+1], "value or score of %q", m)
				}
				seen[m] = true
			}
			if next == 0 {
				break
			}
			// A table of n entries has at most 4n+8 slots, and each call
			// visits one at least; a set's cursor drops by count a call.
			bound := 4*maxLen + 16
			if sc.name == "set" {
				bound = size0/count + 1
			}
			require.LessOrEqual(rt, calls, bound, "a scan of at most %d elements is still going", maxLen)
			cursor = next

			switch rapid.IntRange(0, 4).Draw(rt, "between") {
			case 1: // grow
				if len(live) < 3000 {
					add(rapid.IntRange(1, 300).Draw(rt, "adds"))
				}
			case 2: // remove a few, or most (the table shrinks)
				ms := slices.Sorted(maps.Keys(live))
				k := rapid.IntRange(0, len(ms)).Draw(rt, "removes")
				perm := rapid.Permutation(ms).Draw(rt, "order")[:k]
				if len(perm) > 0 {
					require.NoError(rt, sc.del(ctx, r, key, perm))
				}
				for _, m := range perm {
					delete(live, m)
					delete(throughout, m)
				}
			case 3: // new values or scores for some
				if sc.name != "set" && len(live) > 0 {
					ms := slices.Sorted(maps.Keys(live))
					upd := map[string]string{}
					for _, m := range rapid.Permutation(ms).Draw(rt, "updates")[:min(len(ms), 20)] {
						fresh++
						upd[m] = strconv.Itoa(fresh)
					}
					require.NoError(rt, sc.add(ctx, r, key, upd))
					maps.Copy(live, upd)
				}
			}
			maxLen = max(maxLen, len(live))
		}
		for m := range throughout {
			require.True(rt, seen[m], "%q was there throughout %d calls and never came out", m, calls)
		}
	})
}

// TestCollScanPages: a 100,000-element hash, set and sorted set page
// through the real server: about COUNT elements a call (the default 10 for
// the hash), each exactly once when nothing changes, and a MATCH scan
// finds exactly the matching ones; a small collection (a listpack or an
// intset) still comes whole with cursor 0, as Redis answers it.
func TestCollScanPages(t *testing.T) {
	d := RunT(t)
	r := redis.NewClient(&redis.Options{Addr: d.Addr(), MaxRetries: -1})
	defer r.Close()
	ctx := context.Background()
	const n = 100_000
	for _, sc := range scanners() {
		t.Run(sc.name, func(t *testing.T) {
			big, small := sc.name+":big", sc.name+":small"
			for i := 0; i < n; i += 1000 {
				ms := map[string]string{}
				for j := i; j < i+1000; j++ {
					ms["field:"+strconv.Itoa(j)] = strconv.Itoa(j)
				}
				require.NoError(t, sc.add(ctx, r, big, ms))
			}
			count := int64(10)
			if sc.name != "hash" {
				count = 50
			}
			step := 1
			if sc.with {
				step = 2
			}
			seen := make(map[string]int, n)
			cursor, calls, most := uint64(0), 0, 0
			for {
				var page []string
				var err error
				if sc.name == "hash" {
					page, cursor, err = r.HScan(ctx, big, cursor, "", 0).Result() // no COUNT: 10
				} else {
					page, cursor, err = sc.scan(ctx, r, big, cursor, "", count)
				}
				require.NoError(t, err)
				calls++
				most = max(most, len(page)/step)
				for i := 0; i < len(page); i += step {
					seen[page[i]]++
					if sc.with {
						require.Equal(t, strings.TrimPrefix(page[i], "field:"), page[i+1])
					}
				}
				if cursor == 0 {
					break
				}
			}
			require.Len(t, seen, n)
			for m, k := range seen {
				require.Equal(t, 1, k, "%q came out %d times", m, k)
			}
			require.GreaterOrEqual(t, calls, n/int(count)/2, "pages of about %d", count)
			require.LessOrEqual(t, calls, 2*n/int(count), "pages of about %d", count)
			require.Less(t, most, 5*int(count), "the biggest page")

			var got []string
			cursor = 0
			for {
				page, next, err := sc.scan(ctx, r, big, cursor, "field:1234*", 1000)
				require.NoError(t, err)
				for i := 0; i < len(page); i += step {
					got = append(got, page[i])
				}
				if cursor = next; cursor == 0 {
					break
				}
			}
			slices.Sort(got)
			require.Equal(t, []string{"field:1234", "field:12340", "field:12341", "field:12342", "field:12343",
				"field:12344", "field:12345", "field:12346", "field:12347", "field:12348", "field:12349"}, got)

			require.NoError(t, sc.add(ctx, r, small, map[string]string{"1": "1", "2": "2"}))
			page, next, err := sc.scan(ctx, r, small, 0, "", 1)
			require.NoError(t, err)
			require.Zero(t, next, "a small collection comes whole")
			require.Len(t, page, 2*step)
		})
	}
}

// BenchmarkHScanStep is one HSCAN step of COUNT 10 through a hash of
// 1,000,000 fields: its cost does not grow with the hash.
func BenchmarkHScanStep(b *testing.B) {
	h := &hashValue{}
	for i := range 1_000_000 {
		h.set([]byte("field:"+strconv.Itoa(i)), []byte("v"))
	}
	cursor, n := uint64(0), 0
	for b.Loop() {
		cursor = h.scan(cursor, 10, func(string, string) { n++ })
	}
	b.ReportMetric(float64(n)/float64(b.N), "fields/op")
}
