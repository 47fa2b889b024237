// The model of hashes, sets and sorted sets for the rapid cluster and migration tests, and a migration test that moves them.

package chkv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// collModel is what the collection keys of a rapid test hold. Each key has
// one type for good (by its position), so these ops never meet WRONGTYPE;
// the typed ops of clusterModel cover type conflicts on their own keys.
type collModel struct {
	hash map[string]map[string]string
	set  map[string]map[string]bool
	zset map[string]map[string]float64
}

func newCollModel() *collModel {
	return &collModel{hash: map[string]map[string]string{}, set: map[string]map[string]bool{},
		zset: map[string]map[string]float64{}}
}

// keys returns how many keys the model holds.
func (m *collModel) keys() int { return len(m.hash) + len(m.set) + len(m.zset) }

// doInt runs a command that answers an integer.
func doInt(rt *rapid.T, ctx context.Context, c *Client, args ...any) int64 {
	v, err := c.Do(ctx, args...)
	require.NoError(rt, err, "%v", args)
	n, ok := v.(int64)
	require.True(rt, ok, "%v answered %v", args, v)
	return n
}

// doStrings runs a command that answers an array of strings (empty: none).
func doStrings(rt *rapid.T, ctx context.Context, c *Client, args ...any) []string {
	v, err := c.Do(ctx, args...)
	require.NoError(rt, err, "%v", args)
	arr, ok := v.([]any)
	require.True(rt, ok, "%v answered %v", args, v)
	out := make([]string, len(arr))
	for i, x := range arr {
		out[i] = x.(string)
	}
	return out
}

// ops returns rapid actions on the collection keys hkeys (hashes), skeys
// (sets) and zkeys (sorted sets), checked against the model; "" checks
// every key whole.
func (m *collModel) ops(ctx context.Context, c *Client, hkeys, skeys, zkeys []string) map[string]func(*rapid.T) {
	member := rapid.SampledFrom([]string{"a", "b", "c", "d", "7", "-1"})
	return map[string]func(*rapid.T){
		"hset": func(rt *rapid.T) {
			k, f := rapid.SampledFrom(hkeys).Draw(rt, "key"), member.Draw(rt, "field")
			v := rapid.SampledFrom([]string{"x", "", "12"}).Draw(rt, "value")
			_, had := m.hash[k][f]
			require.Equal(rt, boolInt(!had), doInt(rt, ctx, c, "HSET", k, f, v))
			if m.hash[k] == nil {
				m.hash[k] = map[string]string{}
			}
			m.hash[k][f] = v
		},
		"hdel": func(rt *rapid.T) {
			k, f := rapid.SampledFrom(hkeys).Draw(rt, "key"), member.Draw(rt, "field")
			_, had := m.hash[k][f]
			require.Equal(rt, boolInt(had), doInt(rt, ctx, c, "HDEL", k, f))
			delete(m.hash[k], f)
			if len(m.hash[k]) == 0 {
				delete(m.hash, k)
			}
		},
		"sadd": func(rt *rapid.T) {
			k, x := rapid.SampledFrom(skeys).Draw(rt, "key"), member.Draw(rt, "member")
			require.Equal(rt, boolInt(!m.set[k][x]), doInt(rt, ctx, c, "SADD", k, x))
			if m.set[k] == nil {
				m.set[k] = map[string]bool{}
			}
			m.set[k][x] = true
		},
		"srem": func(rt *rapid.T) {
			k, x := rapid.SampledFrom(skeys).Draw(rt, "key"), member.Draw(rt, "member")
			require.Equal(rt, boolInt(m.set[k][x]), doInt(rt, ctx, c, "SREM", k, x))
			delete(m.set[k], x)
			if len(m.set[k]) == 0 {
				delete(m.set, k)
			}
		},
		"zadd": func(rt *rapid.T) {
			k, x := rapid.SampledFrom(zkeys).Draw(rt, "key"), member.Draw(rt, "member")
			s := rapid.SampledFrom([]float64{-1.5, 0, 2, 3.25, 1e10}).Draw(rt, "score")
			_, had := m.zset[k][x]
			require.Equal(rt, boolInt(!had), doInt(rt, ctx, c, "ZADD", k, s, x))
			if m.zset[k] == nil {
				m.zset[k] = map[string]float64{}
			}
			m.zset[k][x] = s
		},
		"zpopmin": func(rt *rapid.T) {
			k := rapid.SampledFrom(zkeys).Draw(rt, "key")
			got := doStrings(rt, ctx, c, "ZPOPMIN", k)
			want := m.sortedZ(k)
			if len(want) == 0 {
				require.Empty(rt, got)
				return
			}
			require.Equal(rt, []string{want[0].member, formatScore(want[0].score)}, got)
			delete(m.zset[k], want[0].member)
			if len(m.zset[k]) == 0 {
				delete(m.zset, k)
			}
		},
		"": func(rt *rapid.T) { m.check(rt, ctx, c, hkeys, skeys, zkeys) },
	}
}

// check compares every collection key with the model.
func (m *collModel) check(rt *rapid.T, ctx context.Context, c *Client, hkeys, skeys, zkeys []string) {
	for _, k := range hkeys {
		got := doStrings(rt, ctx, c, "HGETALL", k)
		h := map[string]string{}
		for i := 0; i < len(got); i += 2 {
			h[got[i]] = got[i+1]
		}
		want := m.hash[k]
		if want == nil {
			want = map[string]string{}
		}
		require.Equal(rt, want, h, "hash %s", k)
	}
	for _, k := range skeys {
		got := doStrings(rt, ctx, c, "SMEMBERS", k)
		slices.Sort(got)
		require.Equal(rt, slices.Sorted(maps.Keys(m.set[k])), nilIfEmpty(got), "set %s", k)
	}
	for _, k := range zkeys {
		var want []string
		for _, zm := range m.sortedZ(k) {
			want = append(want, zm.member, formatScore(zm.score))
		}
		require.Equal(rt, want, nilIfEmpty(doStrings(rt, ctx, c, "ZRANGE", k, 0, -1, "WITHSCORES")), "zset %s", k)
	}
}

// sortedZ returns the members of the model's sorted set k in order.
func (m *collModel) sortedZ(k string) []zmember {
	var out []zmember
	for x, s := range m.zset[k] {
		out = append(out, zmember{x, s})
	}
	slices.SortFunc(out, zmemberCmp)
	return out
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// mergeOps adds the actions of more to ops; their "" checks run one after the other.
func mergeOps(ops, more map[string]func(*rapid.T)) map[string]func(*rapid.T) {
	for name, op := range more {
		if prev, ok := ops[name]; ok && name == "" {
			ops[name] = func(rt *rapid.T) { prev(rt); op(rt) }
			continue
		}
		ops[name] = op
	}
	return ops
}

// collKeys returns the hash, set and sorted-set keys of a rapid run.
func collKeys(run, n int) (h, s, z []string) {
	for i := range n {
		h = append(h, fmt.Sprintf("h%d:%d", run, i))
		s = append(s, fmt.Sprintf("s%d:%d", run, i))
		z = append(z, fmt.Sprintf("z%d:%d", run, i))
	}
	return h, s, z
}

// TestMigrateCollections loads hashes, sets and sorted sets (small ones,
// and big ones whose records come in chunks) into a 2-node cluster, adds a
// node and removes one, and checks every collection on its new owner, with
// its version and TTL, and that each slot's digest on the new owner equals
// the digest of the data the test wrote.
func TestMigrateCollections(t *testing.T) {
	cl := NewClusterT(t, func(c *ClusterConfig) {
		c.Replicas = 0
		c.DataNodes = 2
		c.HeartbeatInterval = 200 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := clusterClient(t, cl)
	const n = 300
	big := make([]byte, 70_000) // 20 of them pass a record chunk
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	for i := range n {
		k := strconv.Itoa(i)
		_, err := c.Do(ctx, "HSET", "h"+k, "f", k, "g", "x")
		require.NoError(t, err)
		_, err = c.Do(ctx, "SADD", "s"+k, "x"+k, "m", "1")
		require.NoError(t, err)
		_, err = c.Do(ctx, "ZADD", "z"+k, 1.5, "a", -2, "b"+k, "inf", "c")
		require.NoError(t, err)
		if i%50 == 0 {
			_, err = c.Do(ctx, "EXPIRE", "z"+k, 3600)
			require.NoError(t, err)
		}
	}
	for i := range 40 {
		f := "f" + strconv.Itoa(i)
		_, err := c.Do(ctx, "HSET", "bighash", f, big)
		require.NoError(t, err)
		_, err = c.Do(ctx, "SADD", "bigset", string(big[:60_000])+f)
		require.NoError(t, err)
		_, err = c.Do(ctx, "ZADD", "bigzset", i, string(big[:60_000])+f)
		require.NoError(t, err)
	}
	versions := map[string]int64{}
	for _, k := range []string{"h7", "s7", "z7", "bighash", "bigset", "bigzset"} {
		v, err := c.Do(ctx, "CHKV.VERSION", k)
		require.NoError(t, err)
		versions[k] = v.(int64)
	}
	// The digests of every slot, before anything moves.
	before := map[int]uint64{}
	now := time.Now().UnixMilli()
	for _, d := range cl.DataNodes() {
		for s := range NumSlots {
			if keys, dg := d.Store().slotDigest(s, now); keys > 0 {
				before[s] = dg
			}
		}
	}

	d3, err := cl.AddDataNode(ctx)
	require.NoError(t, err)
	require.NoError(t, cl.WaitStable(ctx))
	require.NoError(t, cl.RemoveDataNode(ctx, "dn1"))
	require.NoError(t, cl.WaitStable(ctx))
	require.Positive(t, cl.NameNode().Migration().KeysMoved)

	moved := 0
	for _, d := range cl.DataNodes() {
		for s := range NumSlots {
			keys, dg := d.Store().slotDigest(s, now)
			if keys == 0 {
				continue
			}
			require.Equal(t, before[s], dg, "digest of slot %d on %s", s, d.ID())
			if d.ID() == d3.ID() {
				moved++
			}
		}
	}
	require.Positive(t, moved, "slots on the new node")
	for i := range n {
		k := strconv.Itoa(i)
		h, err := c.Do(ctx, "HGETALL", "h"+k)
		require.NoError(t, err)
		require.Equal(t, []any{"f", k, "g", "x"}, h)
		sm, err := c.Do(ctx, "SMEMBERS", "s"+k)
		require.NoError(t, err)
		require.ElementsMatch(t, []any{"x" + k, "m", "1"}, sm)
		z, err := c.Do(ctx, "ZRANGE", "z"+k, 0, -1, "WITHSCORES")
		require.NoError(t, err)
		require.Equal(t, []any{"b" + k, "-2", "a", "1.5", "c", "inf"}, z)
		if i%50 == 0 {
			ttl, err := c.TTL(ctx, "z"+k)
			require.NoError(t, err)
			require.Greater(t, ttl, 59*time.Minute)
		}
	}
	for k, v := range versions {
		got, err := c.Do(ctx, "CHKV.VERSION", k)
		require.NoError(t, err)
		require.Equal(t, v, got, "version of %s", k)
	}
	for _, cmd := range [][]any{{"HLEN", "bighash"}, {"SCARD", "bigset"}, {"ZCARD", "bigzset"}} {
		v, err := c.Do(ctx, cmd...)
		require.NoError(t, err)
		require.Equal(t, int64(40), v, "%v", cmd)
	}
	v, err := c.Do(ctx, "HGET", "bighash", "f39")
	require.NoError(t, err)
	require.Equal(t, string(big), v)
	r, err := c.Do(ctx, "ZRANK", "bigzset", string(big[:60_000])+"f39")
	require.NoError(t, err)
	require.Equal(t, int64(39), r)
	// A write after the moves gets a greater version.
	_, err = c.Do(ctx, "SADD", "s7", "new")
	require.NoError(t, err)
	v2, err := c.Do(ctx, "CHKV.VERSION", "s7")
	require.NoError(t, err)
	require.Greater(t, v2.(int64), versions["s7"])
}

// TestCollectionsCrossSlot: multi-key collection commands, those whose
// keys follow a numkeys argument included, answer CROSSSLOT for keys of
// different slots and run for keys of one slot.
func TestCollectionsCrossSlot(t *testing.T) {
	cl := NewClusterT(t, func(c *ClusterConfig) { c.Replicas = 0 })
	ctx := context.Background()
	c := clusterClient(t, cl)
	tab := cl.NameNode().Table()
	p, _ := tab.Primary(Slot("{t}a"))
	tr := cl.Transport()
	require.NotEqual(t, Slot("a"), Slot("b"))
	for _, cmd := range [][]string{
		{"SINTER", "a", "b"}, {"SUNIONSTORE", "a", "b"}, {"SMOVE", "a", "b", "m"}, {"SINTERCARD", "2", "a", "b"},
		{"ZUNIONSTORE", "a", "1", "b"}, {"ZINTER", "2", "a", "b"}, {"ZDIFF", "2", "{t}a", "b"},
		{"ZINTERCARD", "2", "a", "b"}, {"ZMPOP", "2", "a", "b", "MIN"}, {"BZMPOP", "0.01", "2", "a", "b", "MIN"},
		{"ZRANGESTORE", "a", "b", "0", "-1"}, {"BZPOPMIN", "a", "b", "0.01"},
	} {
		_, err := call(t, tr, p.Addr, cmd...)
		wantError(t, err, msgCrossSlot)
	}
	_, err := c.Do(ctx, "SADD", "{t}a", "1", "2")
	require.NoError(t, err)
	_, err = c.Do(ctx, "ZADD", "{t}b", 1, "2")
	require.NoError(t, err)
	for _, tc := range []struct {
		args []any
		want any
	}{
		{[]any{"SINTERCARD", "2", "{t}a", "{t}x"}, int64(0)},
		{[]any{"SINTERCARD", "1", "{t}a"}, int64(2)},
		{[]any{"ZINTERCARD", "2", "{t}a", "{t}b"}, int64(1)},
		{[]any{"ZUNIONSTORE", "{t}c", "2", "{t}a", "{t}b"}, int64(2)},
		{[]any{"ZMPOP", "2", "{t}x", "{t}c", "MAX"}, []any{"{t}c", []any{[]any{"2", "2"}}}},
	} {
		got, err := c.Do(ctx, tc.args...) // routed by its second argument: MOVED sends it on
		require.NoError(t, err, "%v", tc.args)
		require.Equal(t, tc.want, got, "%v", tc.args)
	}
}

// TestReplicasHoldCollections: once acknowledged, writes to hashes, sets
// and sorted sets (pops, stores and numkeys commands included) are on
// every copy the table names: each slot's digest (keys, values, versions,
// TTLs) is the same on its primary and its replica.
func TestReplicasHoldCollections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := replTestCluster(t, 3, 1)
	c := clusterClient(t, cl)
	do := func(args ...any) {
		t.Helper()
		if _, err := c.Do(ctx, args...); err != nil && !errors.Is(err, ErrNil) {
			t.Fatalf("%v: %v", args, err)
		}
	}
	for i := range 200 {
		k := strconv.Itoa(i)
		do("HSET", "h"+k, "a", k, "b", "x")
		do("HINCRBY", "h"+k, "n", i)
		do("HDEL", "h"+k, "b")
		do("SADD", "{s"+k+"}a", "1", "2", "m"+k)
		do("SADD", "{s"+k+"}b", "2", "3")
		do("SINTERSTORE", "{s"+k+"}c", "{s"+k+"}a", "{s"+k+"}b")
		do("SPOP", "{s"+k+"}b")
		do("ZADD", "{z"+k+"}a", 1, "x", 2, "y", 3, "z")
		do("ZINCRBY", "{z"+k+"}a", 0.5, "x")
		do("ZUNIONSTORE", "{z"+k+"}b", 2, "{z"+k+"}a", "{z"+k+"}a", "WEIGHTS", 1, 2)
		do("ZMPOP", 1, "{z"+k+"}a", "MAX")
		do("ZREMRANGEBYSCORE", "{z"+k+"}b", "-inf", 2)
		do("ZMPOP", 1, "{z"+k+"}b", "MIN")
		if i%10 == 0 {
			do("EXPIRE", "h"+k, 3600)
		}
	}
	table := cl.NameNode().Table()
	now := time.Now().UnixMilli()
	checked := 0
	for s := range NumSlots {
		owners := table.Owners(s)
		require.Len(t, owners, 2, "slot %d", s)
		k0, d0 := cl.DataNode(owners[0]).Store().slotDigest(s, now)
		k1, d1 := cl.DataNode(owners[1]).Store().slotDigest(s, now)
		require.Equal(t, k0, k1, "keys of slot %d on %v", s, owners)
		require.Equal(t, d0, d1, "digest of slot %d on %v", s, owners)
		if k0 > 0 {
			checked++
		}
	}
	require.Greater(t, checked, 300)
}
