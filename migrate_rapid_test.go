// The rapid state machine of live data movement: client calls interleaved
// with joins, graceful leaves and copies interrupted by a cut network.

package chkv

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// withRapidChecks makes rapid run n checks in this test, unless
// -rapid.checks was given on the command line.
func withRapidChecks(t *testing.T, n int) {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if set {
		return
	}
	f := flag.Lookup("rapid.checks")
	old := f.Value.String()
	require.NoError(t, f.Value.Set(strconv.Itoa(n)))
	t.Cleanup(func() { f.Value.Set(old) })
}

// versionWatch samples every running DataNode's table version until
// stopped and records any that went backwards.
type versionWatch struct {
	stop chan struct{}
	done sync.WaitGroup
	bad  atomic.Pointer[string]
}

func watchVersions(cl *Cluster) *versionWatch {
	w := &versionWatch{stop: make(chan struct{})}
	last := map[*DataNode]uint64{}
	w.done.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			for _, d := range cl.DataNodes() {
				t := d.Table()
				if t == nil {
					continue
				}
				if t.Version < last[d] {
					msg := fmt.Sprintf("%s went from table version %d back to %d", d.ID(), last[d], t.Version)
					w.bad.CompareAndSwap(nil, &msg)
				}
				last[d] = t.Version
			}
		}
	})
	return w
}

func (w *versionWatch) close() {
	close(w.stop)
	w.done.Wait()
}

// TestMigrateRapid interleaves typed client calls with joins, graceful
// leaves and joins whose copies a network cut interrupts. After every
// change settles it checks that each slot has exactly one primary that
// every node agrees on, that every key sits only on its slot's primary and
// holds what the model says, and, throughout, that no node's table version
// ever went back.
func TestMigrateRapid(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster per check")
	}
	withRapidChecks(t, 5)
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		// Each settle and each client call bounds its own wait; the check
		// as a whole only needs a backstop. A check of 97 actions (33 of
		// them joins and leaves) under -race on an overloaded machine took
		// over 3 minutes, the budget before.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var err error
		cfg := DefaultClusterConfig()
		cfg.Replicas = 0
		cfg.HeartbeatInterval = 100 * time.Millisecond
		cfg.Logger, err = envLogger(os.Stderr)
		require.NoError(rt, err)
		cl, err := StartCluster(ctx, cfg)
		require.NoError(rt, err)
		defer cl.Close()
		watch := watchVersions(cl)
		defer watch.close()
		c, err := NewClient(ctx, ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport()})
		require.NoError(rt, err)
		defer c.Close()

		// Bulk keys give the moves something to carry; the model's
		// keys are the ones the client calls change.
		bulk := map[string]string{}
		for i := range 400 {
			bulk["b"+strconv.Itoa(i)] = strconv.Itoa(i)
		}
		require.NoError(rt, c.MSet(ctx, bulk))
		keys := make([]string, 12)
		for i := range keys {
			keys[i] = fmt.Sprintf("r%d:%d", run, i)
		}
		m := newClusterModel()
		cm := newCollModel()
		hk, sk, zk := collKeys(run, 3)
		ops := mergeOps(m.ops(ctx, c, keys), cm.ops(ctx, c, hk, sk, zk))
		names := make([]string, 0, len(ops))
		for name := range ops {
			if name != "" {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		// some runs a few client calls while data moves.
		some := func(rt *rapid.T) {
			for range rapid.IntRange(0, 5).Draw(rt, "calls while moving") {
				ops[rapid.SampledFrom(names).Draw(rt, "call")](rt)
			}
		}
		settled := func(rt *rapid.T) {
			wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
			defer wcancel()
			checkOnePrimary(rt, wctx, cl)
			if msg := watch.bad.Load(); msg != nil {
				rt.Fatal(*msg)
			}
			census := keyCensus(rt, cl)
			total := int64(0)
			for _, n := range census {
				total += n
			}
			require.Equal(rt, int64(len(bulk)+len(m.str)+len(m.list)+cm.keys()), total, "keys on all nodes together")
			got, err := c.MGet(ctx, slices.Collect(maps.Keys(bulk))...)
			require.NoError(rt, err)
			require.Equal(rt, bulk, got)
			ops[""](rt)
		}
		nextJoin := func(rt *rapid.T) *DataNode {
			if len(cl.DataNodes()) >= 5 {
				rt.Skip("five DataNodes are enough")
			}
			d, err := cl.AddDataNode(ctx)
			require.NoError(rt, err)
			return d
		}

		leaver := func(rt *rapid.T) NodeID {
			nodes := cl.DataNodes()
			if len(nodes) <= 2 {
				rt.Skip("keep two DataNodes")
			}
			return rapid.SampledFrom(nodeIDs(nodes)).Draw(rt, "leaving")
		}

		// A cut stays well inside failure detection (3 heartbeats of
		// silence, then probes) even on a starved machine: with no replica,
		// a node declared down loses its slots for good. A cut of up to
		// 300 ms is the likely cause of a leave that failed once in CI (the
		// run of 2026-12-04, error not printed): now it says why.
		const maxCut = 150
		actions := map[string]func(*rapid.T){
			"join": func(rt *rapid.T) {
				nextJoin(rt)
				some(rt)
				settled(rt)
			},
			"leave": func(rt *rapid.T) {
				id := leaver(rt)
				errc := make(chan error, 1)
				go func() { errc <- cl.RemoveDataNode(ctx, id) }()
				some(rt)
				require.NoError(rt, <-errc)
				settled(rt)
			},
			"join, cut off while copying": func(rt *rapid.T) {
				d := nextJoin(rt)
				waitMoving(rt, ctx, cl)
				cl.Network().Isolate(string(d.ID()))
				time.Sleep(time.Duration(rapid.IntRange(1, maxCut).Draw(rt, "cut ms")) * time.Millisecond)
				cl.Heal()
				settled(rt)
			},
			"leave, cut off while copying": func(rt *rapid.T) {
				id := leaver(rt)
				require.NoError(rt, cl.DataNode(id).Leave(ctx)) // accepted before the cut
				waitMoving(rt, ctx, cl)
				cl.Network().Isolate(string(id))
				time.Sleep(time.Duration(rapid.IntRange(1, maxCut).Draw(rt, "cut ms")) * time.Millisecond)
				cl.Heal()
				if err := cl.RemoveDataNode(ctx, id); err != nil { // asks again (a no-op) and waits
					nn := cl.NameNode()
					nn.mu.Lock()
					fails := nn.fails[id]
					nn.mu.Unlock()
					rt.Fatalf("remove %s: %v (declared down %d times; NameNode: %s)", id, err, fails, nn.movesPending())
				}
				settled(rt)
			},
		}
		for name, op := range ops {
			actions[name] = op
		}
		actions[""] = settled
		rt.Repeat(actions)
	})
}

// waitMoving waits (briefly) until the NameNode has batches under way.
func waitMoving(rt *rapid.T, ctx context.Context, cl *Cluster) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if st := cl.NameNode().Migration(); st.Active && st.SlotsMoving > 0 {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// checkOnePrimary waits until the cluster is stable and checks that the
// running DataNodes then all hold the NameNode's table and that each slot
// has exactly one primary among them. On a busy machine a node may be
// declared down (and come back) right after WaitStable: the check waits
// again when the tables moved on meanwhile.
func checkOnePrimary(t require.TestingT, ctx context.Context, cl *Cluster) {
	for {
		require.NoError(t, cl.WaitStable(ctx))
		want := cl.NameNode().Table()
		nodes := cl.DataNodes()
		tables := make([]*Table, len(nodes))
		same := true
		for i, d := range nodes {
			tables[i] = d.Table()
			same = same && tables[i].Version == want.Version
		}
		if !same {
			continue
		}
		for s := range NumSlots {
			primaries := 0
			for i, d := range nodes {
				if p, ok := tables[i].Primary(s); ok && p.ID == d.ID() {
					primaries++
				}
			}
			require.Equal(t, 1, primaries, "primaries of slot %d", s)
		}
		return
	}
}

// nodeIDs returns the ids of nodes.
func nodeIDs(nodes []*DataNode) []NodeID {
	ids := make([]NodeID, len(nodes))
	for i, d := range nodes {
		ids[i] = d.ID()
	}
	return ids
}
