// Tests of the Client in cluster mode: routing, redirects, refreshes, multi-key fan-out and a rapid model check, on an in-process cluster over both transports and on fake servers.

package chkv

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// newClusterClient returns a cluster Client of cl, closed with the test.
// edit adjusts the config (NameNode and Transport are preset).
func newClusterClient(t testing.TB, cl *Cluster, edit func(*ClientConfig)) *Client {
	t.Helper()
	cfg := ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport()}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := NewClient(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// seedsOnly makes a Client that knows only the DataNodes of cl (no NameNode,
// so no watch): its table goes stale when the cluster changes.
func seedsOnly(cl *Cluster) func(*ClientConfig) {
	return func(cfg *ClientConfig) {
		cfg.NameNode = ""
		cfg.Seeds = cl.Addrs()
	}
}

// keysOnNode returns n keys (with prefix) whose slots node id leads in t.
func keysOnNode(t *testing.T, tb *Table, id NodeID, prefix string, n int) []string {
	t.Helper()
	var keys []string
	for i := 0; len(keys) < n; i++ {
		require.Less(t, i, 1<<20, "no keys on %s", id)
		k := prefix + strconv.Itoa(i)
		if m, ok := tb.Primary(Slot(k)); ok && m.ID == id {
			keys = append(keys, k)
		}
	}
	return keys
}

// testCtx returns a context bounded for one test step: a guard against a
// hang, not a speed check. Under -race on a loaded 2-core machine the tcp
// cases run about 4x slower than alone (ManyKeys/tcp 7.7 s alone, past 30 s
// in a CI run beside benchmarks), hence the generous bound.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestClientCluster(t *testing.T) {
	for _, tr := range clusterTransports {
		t.Run(tr, func(t *testing.T) {
			t.Run("ManyKeys", func(t *testing.T) { testClientClusterManyKeys(t, tr) })
			t.Run("MultiKeyOrder", func(t *testing.T) { testClientClusterMultiKey(t, tr) })
			t.Run("StaleTableFollowsMoved", func(t *testing.T) { testClientClusterStale(t, tr) })
			t.Run("StaleTableMultiKey", func(t *testing.T) { testClientClusterStaleMulti(t, tr) })
			t.Run("OneRefreshInFlight", func(t *testing.T) { testClientClusterOneRefresh(t, tr) })
			t.Run("NameNodeClosed", func(t *testing.T) { testClientClusterNameNodeClosed(t, tr) })
			t.Run("DeadNode", func(t *testing.T) { testClientClusterDeadNode(t, tr) })
			t.Run("Watch", func(t *testing.T) { testClientClusterWatch(t, tr) })
		})
	}
}

// testClientClusterManyKeys writes and reads 100,000 keys across three
// nodes in MSet/MGet batches, and checks that every node got its share.
func testClientClusterManyKeys(t *testing.T, tr string) {
	ctx := testCtx(t)
	cl := newTestCluster(t, tr)
	c := newClusterClient(t, cl, nil)
	const total, batch = 100_000, 5_000
	for b := 0; b < total; b += batch {
		kv := make(map[string]string, batch)
		for i := b; i < b+batch; i++ {
			kv["k"+strconv.Itoa(i)] = "v" + strconv.Itoa(i)
		}
		require.NoError(t, c.MSet(ctx, kv))
	}
	for b := 0; b < total; b += batch {
		keys := make([]string, 0, batch)
		for i := b; i < b+batch; i++ {
			keys = append(keys, "k"+strconv.Itoa(i))
		}
		got, err := c.MGet(ctx, keys...)
		require.NoError(t, err)
		require.Len(t, got, batch)
		for i := b; i < b+batch; i++ {
			require.Equal(t, "v"+strconv.Itoa(i), got["k"+strconv.Itoa(i)])
		}
	}
	for _, d := range cl.DataNodes() {
		n := d.Store().Keys()
		assert.Greater(t, n, int64(total/5), "node %s holds %d keys", d.ID(), n)
	}
	v, err := c.Get(ctx, "k4242")
	require.NoError(t, err)
	assert.Equal(t, "v4242", v)
}

// testClientClusterMultiKey checks MGet, Exists, Del and Unlink over keys on
// every node against their values, in the caller's order.
func testClientClusterMultiKey(t *testing.T, tr string) {
	ctx := testCtx(t)
	cl := newTestCluster(t, tr)
	c := newClusterClient(t, cl, nil)
	tb := cl.NameNode().Table()
	var keys []string
	for _, d := range cl.DataNodes() {
		keys = append(keys, keysOnNode(t, tb, d.ID(), "m:"+string(d.ID())+":", 4)...)
	}
	// Interleave the nodes, and name a {tagged} pair that shares a slot.
	keys = append(keys, "{tag}a", "{tag}b")
	kv := map[string]string{}
	for i, k := range keys {
		kv[k] = "val" + strconv.Itoa(i)
	}
	require.NoError(t, c.MSet(ctx, kv))
	ask := append([]string{"absent"}, keys...)
	got, err := c.MGet(ctx, ask...)
	require.NoError(t, err)
	assert.Equal(t, kv, got)

	n, err := c.Exists(ctx, keys[0], keys[0], keys[5], "absent", keys[len(keys)-1])
	require.NoError(t, err)
	assert.Equal(t, int64(4), n, "a key named twice counts twice")
	n, err = c.Del(ctx, keys[:6]...)
	require.NoError(t, err)
	assert.Equal(t, int64(6), n)
	n, err = c.Unlink(ctx, append(keys[4:], "absent")...)
	require.NoError(t, err)
	assert.Equal(t, int64(len(keys)-6), n)
	n, err = c.Exists(ctx, keys...)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// staleClient returns a cluster with a Client that routes by the table
// from before a fourth node joined, and keys that the new node now leads.
func staleClient(t *testing.T, tr string) (*Cluster, *Client, []string) {
	t.Helper()
	ctx := testCtx(t)
	// No replicas: the test is about a client's stale table, and a join
	// with replica copies takes too long to settle under -race on a busy
	// machine (replication has its own tests).
	cl := newTestCluster(t, tr, func(c *ClusterConfig) { c.Replicas = 0 })
	c := newClusterClient(t, cl, seedsOnly(cl))
	before := c.TableVersion()
	d, err := cl.AddDataNode(ctx)
	require.NoError(t, err)
	require.NoError(t, cl.WaitStable(ctx))
	require.Equal(t, before, c.TableVersion(), "a seeds-only client has no watch")
	keys := keysOnNode(t, cl.NameNode().Table(), d.ID(), "moved:", 50)
	return cl, c, keys
}

// testClientClusterStale: a Client with a stale table follows MOVED and
// adopts the newer table.
func testClientClusterStale(t *testing.T, tr string) {
	ctx := testCtx(t)
	cl, c, keys := staleClient(t, tr)
	before := c.TableVersion()
	lead, _ := cl.NameNode().Table().Primary(Slot(keys[0])) // the fourth node
	for _, k := range keys[:10] {
		require.NoError(t, c.Set(ctx, k, "x"+k))
	}
	// The client now routes by a table with the fourth node in it. Not
	// necessarily the NameNode's newest: it fetched from a DataNode, and a
	// busy machine may have made newer tables since (a heartbeat late).
	assert.Greater(t, c.TableVersion(), before)
	for _, k := range keys[:10] {
		m, ok := c.cluster.table.Load().Primary(Slot(k))
		require.True(t, ok)
		assert.Equal(t, lead.ID, m.ID, "client routes %s", k)
	}
	for _, k := range keys[:10] {
		v, err := c.Get(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, "x"+k, v)
	}
}

// testClientClusterStaleMulti: multi-key calls by a stale table run the
// commands that meet MOVED again, with one table fetch.
func testClientClusterStaleMulti(t *testing.T, tr string) {
	ctx := testCtx(t)
	_, c, keys := staleClient(t, tr)
	fetches := c.cluster.fetches.Load()
	kv := map[string]string{}
	for i, k := range append(keys, "other:1", "other:2", "other:3") {
		kv[k] = strconv.Itoa(i)
	}
	require.NoError(t, c.MSet(ctx, kv))
	assert.Equal(t, int64(1), c.cluster.fetches.Load()-fetches, "table fetches")
	got, err := c.MGet(ctx, append([]string{"other:3"}, keys...)...)
	require.NoError(t, err)
	assert.Len(t, got, len(keys)+1)
	for k, v := range got {
		assert.Equal(t, kv[k], v, k)
	}
	n, err := c.Del(ctx, keys...)
	require.NoError(t, err)
	assert.Equal(t, int64(len(keys)), n)
}

// testClientClusterOneRefresh: 50 callers hitting MOVED at once share one
// table fetch.
func testClientClusterOneRefresh(t *testing.T, tr string) {
	ctx := testCtx(t)
	_, c, keys := staleClient(t, tr)
	fetches := c.cluster.fetches.Load()
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range 50 {
		wg.Go(func() {
			<-start
			errs[i] = c.Set(ctx, keys[i], "v")
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), c.cluster.fetches.Load()-fetches, "table fetches")
	assert.Equal(t, int64(1), c.cluster.maxInFlight.Load(), "fetches in flight at once")
}

// testClientClusterNameNodeClosed: with the NameNode gone, calls go on, and
// a new Client bootstraps from a DataNode seed.
func testClientClusterNameNodeClosed(t *testing.T, tr string) {
	ctx := testCtx(t)
	cl := newTestCluster(t, tr)
	c := newClusterClient(t, cl, nil)
	require.NoError(t, c.Set(ctx, "before", "1"))
	require.NoError(t, cl.NameNode().Close())
	require.NoError(t, c.Set(ctx, "after", "2"))
	require.NoError(t, c.MSet(ctx, map[string]string{"a1": "1", "a2": "2", "a3": "3", "a4": "4"}))
	got, err := c.MGet(ctx, "before", "after", "a1", "a4")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"before": "1", "after": "2", "a1": "1", "a4": "4"}, got)

	c2 := newClusterClient(t, cl, func(cfg *ClientConfig) { cfg.Seeds = cl.Addrs()[1:] })
	assert.Equal(t, c.TableVersion(), c2.TableVersion())
	v, err := c2.Get(ctx, "after")
	require.NoError(t, err)
	assert.Equal(t, "2", v)

	_, err = NewClient(ctx, ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport()})
	assert.ErrorContains(t, err, "chkv: no table")
}

// testClientClusterDeadNode: a call to a killed node (dial refused) refreshes
// the table and goes to the slot's new primary.
func testClientClusterDeadNode(t *testing.T, tr string) {
	ctx := testCtx(t)
	cl := newTestCluster(t, tr)
	c := newClusterClient(t, cl, seedsOnly(cl))
	victim := cl.DataNodes()[0]
	key := keysOnNode(t, c.cluster.table.Load(), victim.ID(), "dead:", 1)[0]
	require.NoError(t, cl.KillDataNode(victim.ID()))
	require.NoError(t, cl.WaitStable(ctx))
	fetches := c.cluster.fetches.Load()
	err := c.Set(ctx, key, "v")
	require.NoError(t, err)
	assert.Greater(t, c.cluster.fetches.Load(), fetches)
	v, err := c.Get(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	c.mu.Lock()
	_, kept := c.pools[victim.Addr()]
	c.mu.Unlock()
	assert.False(t, kept, "the dead node's pool is dropped")
}

// testClientClusterWatch: a Client watching the NameNode adopts a new table
// without being redirected.
func testClientClusterWatch(t *testing.T, tr string) {
	ctx := testCtx(t)
	cl := newTestCluster(t, tr)
	c := newClusterClient(t, cl, nil)
	_, err := cl.AddDataNode(ctx)
	require.NoError(t, err)
	require.NoError(t, cl.WaitStable(ctx))
	want := cl.NameNode().Table().Version
	fetches := c.cluster.fetches.Load()
	for c.TableVersion() < want {
		select {
		case <-ctx.Done():
			t.Fatalf("table version %d, want %d", c.TableVersion(), want)
		case <-time.After(5 * time.Millisecond):
		}
	}
	assert.Equal(t, fetches, c.cluster.fetches.Load(), "pushed, not fetched")
}

// fakeCluster is a fake one-node cluster on TCP: it answers CHKV.TABLE with a
// table giving it every slot and hands every other command to handle.
func fakeCluster(t *testing.T, handle func(args []string) string) string {
	t.Helper()
	var table atomic.Value
	addr := fakeClientServer(t, func(args []string) string {
		if strings.EqualFold(args[0], "CHKV.TABLE") {
			b := table.Load().([]byte)
			return "$" + strconv.Itoa(len(b)) + "\r\n" + string(b) + "\r\n"
		}
		return handle(args)
	})
	tb, err := NewTable([]Member{{ID: "fake", Addr: addr}}, DefaultRingConfig())
	require.NoError(t, err)
	b, err := tb.MarshalBinary()
	require.NoError(t, err)
	table.Store(b)
	return addr
}

func TestClientClusterFake(t *testing.T) {
	ctx := context.Background()
	t.Run("Ask", func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		other := fakeClientServer(t, func(args []string) string {
			mu.Lock()
			seen = append(seen, strings.Join(args, " "))
			mu.Unlock()
			if args[0] == "ASKING" {
				return "+OK\r\n"
			}
			return "$3\r\nyes\r\n"
		})
		addr := fakeCluster(t, func(args []string) string {
			return "-ASK " + strconv.Itoa(Slot(args[1])) + " " + other + "\r\n"
		})
		c, err := NewClient(ctx, ClientConfig{Seeds: []string{addr}})
		require.NoError(t, err)
		defer c.Close()
		fetches := c.cluster.fetches.Load()
		v, err := c.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "yes", v)
		assert.Equal(t, []string{"ASKING", "GET k"}, seen)
		assert.Equal(t, fetches, c.cluster.fetches.Load(), "ASK leaves the table alone")
	})
	for _, tc := range []struct {
		name, reply string
		want        error
	}{
		{"ClusterDown", "-CLUSTERDOWN Hash slot not served\r\n", ErrClusterDown},
		{"TryAgain", "-TRYAGAIN Multiple keys request during rehashing of slot\r\n", ErrTryAgain},
		{"MovedForever", "-MOVED 1 127.0.0.1:1\r\n", ErrMoved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			addr := fakeCluster(t, func(args []string) string {
				calls.Add(1)
				if strings.HasPrefix(tc.reply, "-MOVED") {
					return "-MOVED " + strconv.Itoa(Slot(args[1])) + " " + args[len(args)-1] + "\r\n"
				}
				return tc.reply
			})
			c, err := NewClient(ctx, ClientConfig{Seeds: []string{addr}, MaxRedirects: 3})
			require.NoError(t, err)
			defer c.Close()
			if tc.want == ErrMoved {
				// MOVED to itself: every retry lands on the same node.
				_, err = c.Do(ctx, "GET", "k", addr)
			} else {
				_, err = c.Get(ctx, "k")
			}
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, int64(4), calls.Load(), "one call and MaxRedirects retries")
		})
	}
	t.Run("TimeoutIsUnknownOutcome", func(t *testing.T) {
		var sets atomic.Int64
		release := make(chan struct{})
		addr := fakeCluster(t, func(args []string) string {
			sets.Add(1)
			<-release
			return "+OK\r\n"
		})
		t.Cleanup(func() { close(release) }) // before the server's cleanup waits
		c, err := NewClient(ctx, ClientConfig{Seeds: []string{addr}, ReadTimeout: 50 * time.Millisecond})
		require.NoError(t, err)
		defer c.Close()
		err = c.Set(ctx, "k", "v")
		assert.ErrorIs(t, err, ErrUnknownOutcome)
		assert.ErrorIs(t, err, ErrTimeout)
		assert.Equal(t, int64(1), sets.Load(), "a write with an unknown outcome is not retried")
	})
	t.Run("Config", func(t *testing.T) {
		cfg := ClientConfig{Seeds: []string{"x"}}
		require.NoError(t, cfg.validate())
		assert.Equal(t, 5, cfg.MaxRedirects)
		_, err := NewClient(ctx, ClientConfig{Seeds: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
		assert.ErrorContains(t, err, "chkv: no table")
	})
}

// clusterModel is the model of the rapid test: what each key holds.
type clusterModel struct {
	str     map[string]string
	list    map[string][]string
	version map[string]uint64 // last version CHKV.SETV returned, while no other write followed
}

// TestClientClusterRapid runs random typed calls against a cluster and
// checks every reply against a map model.
func TestClientClusterRapid(t *testing.T) {
	for _, tr := range clusterTransports {
		t.Run(tr, func(t *testing.T) {
			cl := newTestCluster(t, tr)
			c := newClusterClient(t, cl, nil)
			run := 0
			rapid.Check(t, func(rt *rapid.T) {
				run++
				ctx := testCtx(t)
				keys := make([]string, 6)
				for i := range keys {
					keys[i] = fmt.Sprintf("r%d:%d", run, i)
				}
				m := newClusterModel()
				hk, sk, zk := collKeys(run, 2)
				rt.Repeat(mergeOps(m.ops(ctx, c, keys), newCollModel().ops(ctx, c, hk, sk, zk)))
			})
		})
	}
}

// newClusterModel returns an empty model.
func newClusterModel() *clusterModel {
	return &clusterModel{str: map[string]string{}, list: map[string][]string{}, version: map[string]uint64{}}
}

// ops returns the rapid actions that run typed Client calls on keys and
// check each reply against the model (updating it); the "" action checks
// every key.
func (m *clusterModel) ops(ctx context.Context, c *Client, keys []string) map[string]func(*rapid.T) {
	key := func(rt *rapid.T) string { return rapid.SampledFrom(keys).Draw(rt, "key") }
	wrote := func(k string) { delete(m.version, k) }
	return map[string]func(*rapid.T){
		"set": func(rt *rapid.T) {
			k, v := key(rt), rapid.SampledFrom([]string{"0", "41", "-7", "abc", ""}).Draw(rt, "value")
			require.NoError(rt, c.Set(ctx, k, v))
			delete(m.list, k)
			m.str[k] = v
			wrote(k)
		},
		"get": func(rt *rapid.T) {
			k := key(rt)
			v, err := c.Get(ctx, k)
			switch {
			case m.list[k] != nil:
				require.ErrorIs(rt, err, ErrWrongType)
			case !hasKey(m.str, k):
				require.ErrorIs(rt, err, ErrNil)
			default:
				require.NoError(rt, err)
				require.Equal(rt, m.str[k], v)
			}
		},
		"incr": func(rt *rapid.T) {
			k := key(rt)
			n, err := c.Incr(ctx, k)
			if m.list[k] != nil {
				require.ErrorIs(rt, err, ErrWrongType)
				return
			}
			cur := int64(0)
			if s, ok := m.str[k]; ok {
				var perr error
				cur, perr = strconv.ParseInt(s, 10, 64)
				if perr != nil {
					require.ErrorIs(rt, err, ErrNotInteger)
					return
				}
			}
			require.NoError(rt, err)
			require.Equal(rt, cur+1, n)
			m.str[k] = strconv.FormatInt(n, 10)
			wrote(k)
		},
		"rpush": func(rt *rapid.T) {
			k := key(rt)
			vals := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "c"}), 1, 3).Draw(rt, "values")
			n, err := c.RPush(ctx, k, vals...)
			if hasKey(m.str, k) {
				require.ErrorIs(rt, err, ErrWrongType)
				return
			}
			require.NoError(rt, err)
			m.list[k] = append(m.list[k], vals...)
			require.Equal(rt, int64(len(m.list[k])), n)
			wrote(k)
		},
		"lpop": func(rt *rapid.T) {
			k := key(rt)
			v, err := c.LPop(ctx, k)
			switch {
			case hasKey(m.str, k):
				require.ErrorIs(rt, err, ErrWrongType)
			case len(m.list[k]) == 0:
				require.ErrorIs(rt, err, ErrNil)
			default:
				require.NoError(rt, err)
				require.Equal(rt, m.list[k][0], v)
				m.list[k] = m.list[k][1:]
				if len(m.list[k]) == 0 {
					delete(m.list, k)
				}
				wrote(k)
			}
		},
		"setv": func(rt *rapid.T) {
			k := key(rt)
			known, isKnown := m.version[k]
			choice := rapid.IntRange(0, 2).Draw(rt, "version")
			want := uint64(0)
			switch {
			case choice == 1 && isKnown:
				want = known
			case choice == 2 && isKnown:
				want = known + 1000
			}
			v, err := c.SetVersion(ctx, k, "sv", want)
			if want == known+1000 && isKnown {
				var ve *VersionError
				require.ErrorAs(rt, err, &ve)
				require.Equal(rt, known, ve.Current)
				return
			}
			require.NoError(rt, err)
			if isKnown {
				require.Greater(rt, v, known)
			}
			delete(m.list, k)
			m.str[k] = "sv"
			m.version[k] = v
		},
		"del": func(rt *rapid.T) {
			ks := rapid.SliceOfNDistinct(rapid.SampledFrom(keys), 1, 4, rapid.ID).Draw(rt, "keys")
			n, err := c.Del(ctx, ks...)
			require.NoError(rt, err)
			want := int64(0)
			for _, k := range ks {
				if hasKey(m.str, k) || m.list[k] != nil {
					want++
				}
				delete(m.str, k)
				delete(m.list, k)
				delete(m.version, k)
			}
			require.Equal(rt, want, n)
		},
		"": func(rt *rapid.T) {
			got, err := c.MGet(ctx, keys...)
			require.NoError(rt, err)
			require.Equal(rt, m.str, got)
			n, err := c.Exists(ctx, keys...)
			require.NoError(rt, err)
			require.Equal(rt, int64(len(m.str)+len(m.list)), n)
		},
	}
}

// hasKey reports whether m holds k.
func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// ExampleClient_cluster routes calls across an in-process three-node
// cluster: the Client fetches the table from the NameNode and sends each key
// to the node leading its slot.
func ExampleClient_cluster() {
	ctx := context.Background()
	cl, err := StartCluster(ctx, DefaultClusterConfig())
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	c, err := NewClient(ctx, ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport()})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// MSet splits the keys per slot: atomic per slot, not across slots.
	if err := c.MSet(ctx, map[string]string{"a": "1", "b": "2", "c": "3"}); err != nil {
		panic(err)
	}
	vals, err := c.MGet(ctx, "a", "b", "c", "missing")
	if err != nil {
		panic(err)
	}
	fmt.Println(vals)
	n, err := c.Incr(ctx, "a")
	fmt.Println(n, err)
	// Output:
	// map[a:1 b:2 c:3]
	// 2 <nil>
}
