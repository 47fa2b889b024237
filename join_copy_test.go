package chkv

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestJoinCopyRatio joins a DataNode to a loaded cluster with one replica
// and counts the keys the DataNodes received (INFO migration) against the
// minimum: the keys in the slots the new node gains a copy of. Primaries
// that change hands between old nodes holding in-sync copies are promotions
// and copy nothing, so the ratio stays at most 1.05.
func TestJoinCopyRatio(t *testing.T) {
	cl := NewClusterT(t, func(c *ClusterConfig) { c.DataNodes, c.Replicas = 3, 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const keys = 3000
	loadMigrationKeys(ctx, t, cl, keys)
	require.NoError(t, cl.WaitStable(ctx))
	before := cl.NameNode().Table()
	var recv0 int64
	for _, d := range cl.DataNodes() {
		recv0 += infoMigration(t, cl.Transport(), d.Addr())["migrate_keys_received"]
	}

	dn, err := cl.AddDataNode(ctx)
	require.NoError(t, err)
	require.NoError(t, cl.WaitStable(ctx))
	after := cl.NameNode().Table()

	perSlot := make([]int64, NumSlots)
	for i := range keys {
		perSlot[Slot(fmt.Sprintf("key:%d", i))]++
	}
	var minimum int64
	for s := range NumSlots {
		if slices.Contains(after.Owners(s), dn.ID()) && !slices.Contains(before.Owners(s), dn.ID()) {
			minimum += perSlot[s]
		}
	}
	var recv int64
	for _, d := range cl.DataNodes() {
		recv += infoMigration(t, cl.Transport(), d.Addr())["migrate_keys_received"]
	}
	recv -= recv0
	p, r := after.Load(dn.ID())
	t.Logf("join with 1 replica: %d keys copied, minimum %d (ratio %.3f); the new node leads %d and replicates %d slots",
		recv, minimum, float64(recv)/float64(max(minimum, 1)), p, r)
	require.Positive(t, minimum, "the new node gained no keys; the test proves nothing")
	require.LessOrEqual(t, recv*100, minimum*105, "copied %d keys, minimum %d", recv, minimum)
	require.GreaterOrEqual(t, p, NumSlots/4-1, "the new node's primaries")
	require.GreaterOrEqual(t, r, NumSlots/4-1, "the new node's replicas")
}
