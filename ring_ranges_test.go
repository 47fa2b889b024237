package chkv

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRingFewRanges checks the slot map clients load (CLUSTER SLOTS lists
// one entry per run of slots with the same owner list): a cluster started
// whole, one grown by joins, and the same after a failure, a rejoin, a
// leave and a join keep a handful of runs per node, as Redis Cluster does,
// instead of the thousands scattered ring arcs gave, while every change
// still moves only what it must.
func TestRingFewRanges(t *testing.T) {
	for _, c := range []struct {
		nodes, replicas int
		racks           bool
	}{{3, 0, false}, {3, 1, false}, {6, 1, false}, {6, 2, false}, {6, 1, true}, {6, 2, true}, {10, 1, false}} {
		t.Run(fmt.Sprintf("%d nodes R=%d racks=%v", c.nodes, c.replicas, c.racks), func(t *testing.T) {
			cfg := DefaultRingConfig()
			cfg.Replicas = c.replicas
			member := func(i int) Member {
				m := Member{ID: NodeID(fmt.Sprintf("dn%d", i+1)), Addr: fmt.Sprintf("10.0.0.%d:7000", i+1), Weight: 1}
				if c.racks {
					m.Rack = fmt.Sprintf("rack%d", i%3)
				}
				return m
			}
			var ms []Member
			for i := range c.nodes {
				ms = append(ms, member(i))
			}
			// About 10 runs per node: ring arcs (8 points per node) and
			// the replica runs between them; each change adds a few (a
			// joiner takes arcs, skipping runs of nodes that gave their
			// part already). The scattered layout had thousands.
			runs := func(tb *Table) int { return len(tb.Ranges()) }
			limit := 10 * (c.nodes + 1)
			whole, err := NewTable(ms, cfg)
			require.NoError(t, err)
			require.LessOrEqual(t, runs(whole), limit, "started whole")

			tb, err := NewTable(ms[:1], cfg)
			require.NoError(t, err)
			for i := 1; i < c.nodes; i++ {
				tb = mustNext(t, tb, Change{Kind: ChangeJoin, Member: ms[i]}, cfg)
			}
			require.LessOrEqual(t, runs(tb), 5*limit/2, "grown by joins")
			steps := []Change{
				{Kind: ChangeFail, Member: ms[1]},
				{Kind: ChangeJoin, Member: ms[1]},
				{Kind: ChangeLeave, Member: ms[2]},
				{Kind: ChangeRemove, Member: ms[2]},
				{Kind: ChangeJoin, Member: member(c.nodes)},
			}
			for _, ch := range steps {
				if c.replicas == 0 && ch.Member.ID == ms[1].ID {
					continue // R=0 loses a failed node's slots: nothing to place
				}
				tb = mustNext(t, tb, ch, cfg)
				require.LessOrEqual(t, runs(tb), 5*limit/2, "after %s %s", ch.Kind, ch.Member.ID)
			}
		})
	}
}
