package chkv

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// rangesPerNode counts, for each node, the CLUSTER SLOTS ranges it appears
// in (as primary or replica).
func rangesPerNode(t *Table) map[NodeID]int {
	n := map[NodeID]int{}
	for _, r := range t.Ranges() {
		for _, o := range r.Owners {
			n[o]++
		}
	}
	return n
}

// TestRingContiguousRanges checks that the planner keeps each node's slots
// in few contiguous ranges, as Redis Cluster does, so that CLUSTER SLOTS
// stays short: a fresh table has at most 4 ranges per node (times copies
// per slot); after that every join, leave or failure adds at most 4·k·N
// ranges to the table (k copies per slot, N live nodes), so the total is
// bounded by the changes seen rather than by the slot count. With named
// racks grouping nodes the planner keeps ring order for joins (a sweep costs
// moves through third nodes there), so those cases only log their counts.
func TestRingContiguousRanges(t *testing.T) {
	for _, c := range []struct{ nodes, replicas, racks int }{{3, 0, 0}, {3, 1, 0}, {6, 2, 0}, {10, 1, 3}, {40, 2, 4}} {
		t.Run(fmt.Sprintf("%dnodes-%dreplicas-%dracks", c.nodes, c.replicas, c.racks), func(t *testing.T) {
			cfg := DefaultRingConfig()
			cfg.Replicas = c.replicas
			var ms []Member
			rack := func(i int) string {
				if c.racks == 0 {
					return ""
				}
				return fmt.Sprintf("rack-%d", i%c.racks)
			}
			for i := range c.nodes {
				ms = append(ms, Member{ID: NodeID(fmt.Sprintf("n%02d", i)), Addr: fmt.Sprintf("127.0.0.1:%d", 7000+i), Rack: rack(i)})
			}
			tb, err := NewTable(ms, cfg)
			if err != nil {
				t.Fatal(err)
			}
			k := min(c.replicas+1, c.nodes)
			first := len(tb.Ranges())
			if limit := 4 * k * c.nodes; first > limit && c.racks == 0 {
				t.Fatalf("fresh table has %d ranges, want <= %d", first, limit)
			}
			t.Logf("fresh: %d ranges (CLUSTER SLOTS %d bytes), most per node %d", first, slotsBytes(tb), maxOf(rangesPerNode(tb)))
			rng := rand.New(rand.NewPCG(uint64(c.nodes), 7))
			budget := first
			next := c.nodes
			for step := range 12 {
				live := 0
				for _, m := range tb.Members {
					if m.State.Live() {
						live++
					}
				}
				var ch Change
				switch {
				case step%2 == 0 || live <= k:
					ch = Change{Kind: ChangeJoin, Member: Member{ID: NodeID(fmt.Sprintf("n%02d", next)), Addr: fmt.Sprintf("127.0.0.1:%d", 7000+next), Rack: rack(next)}}
					next++
				default:
					var ids []NodeID
					for _, m := range tb.Members {
						if m.State.Live() {
							ids = append(ids, m.ID)
						}
					}
					kind := ChangeFail
					if rng.IntN(2) == 0 {
						kind = ChangeLeave
					}
					ch = Change{Kind: kind, Member: Member{ID: ids[rng.IntN(len(ids))]}}
				}
				tb = mustNext(t, tb, ch, cfg)
				budget += 4 * k * (live + 1)
				got := len(tb.Ranges())
				t.Logf("after %s %s: %d ranges (bound %d, CLUSTER SLOTS %d bytes), most per node %d", ch.Kind, ch.Member.ID, got, budget, slotsBytes(tb), maxOf(rangesPerNode(tb)))
				if got > budget && c.racks == 0 {
					t.Fatalf("after %d changes %d ranges, want <= %d", step+1, got, budget)
				}
			}
		})
	}
}

func maxOf(m map[NodeID]int) int {
	x := 0
	for _, v := range m {
		x = max(x, v)
	}
	return x
}

// slotsBytes is the size of t's CLUSTER SLOTS reply.
func slotsBytes(t *Table) int {
	var w replyWriter
	encodeSlots(&w, nil, t)
	return len(w.buf)
}
