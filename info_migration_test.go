package chkv

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// migrationFields are the fields of INFO's Migration section, in order.
var migrationFields = []string{
	"migrating_slots_out", "importing_slots_in",
	"migrate_keys_sent", "migrate_bytes_sent", "migrate_slots_sent",
	"migrate_keys_received", "migrate_bytes_received", "migrate_slots_received",
}

// infoMigration sends INFO migration to the node at addr and returns the
// section's fields; it fails the test unless the reply is exactly that
// section with every field.
func infoMigration(t *testing.T, tr Transport, addr string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := NewClient(ctx, ClientConfig{Addr: addr, Transport: tr})
	require.NoError(t, err)
	defer c.Close()
	r, err := c.Do(ctx, "INFO", "migration")
	require.NoError(t, err)
	text, ok := r.(string)
	require.True(t, ok, "INFO migration replied %T", r)
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	require.Equal(t, "# Migration", lines[0], "INFO migration:\n%s", text)
	require.Len(t, lines, 1+len(migrationFields), "INFO migration:\n%s", text)
	got := map[string]int64{}
	for i, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		require.True(t, ok, "line %q", l)
		require.Equal(t, migrationFields[i], k)
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "line %q", l)
		got[k] = n
	}
	return got
}

func TestInfoMigrationStandalone(t *testing.T) {
	d := RunT(t)
	got := infoMigration(t, nil, d.Addr())
	for _, f := range migrationFields {
		require.Zero(t, got[f], f)
	}
	c, err := NewClient(context.Background(), ClientConfig{Addr: d.Addr()})
	require.NoError(t, err)
	defer c.Close()
	for _, args := range [][]any{{"INFO"}, {"INFO", "all"}, {"INFO", "everything"}} {
		r, err := c.Do(context.Background(), args...)
		require.NoError(t, err)
		require.Contains(t, r, "\r\n# Migration\r\nmigrating_slots_out:0\r\n", "%v", args)
	}
	r, err := c.Do(context.Background(), "INFO", "server")
	require.NoError(t, err)
	require.NotContains(t, r, "Migration")
}

// TestInfoMigrationJoin adds a DataNode to a loaded cluster and checks
// that INFO migration on every node accounts for the keys that moved.
func TestInfoMigrationJoin(t *testing.T) {
	cl := NewClusterT(t, func(c *ClusterConfig) { c.Replicas = 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const keys = 3000
	loadMigrationKeys(ctx, t, cl, keys)
	for _, d := range cl.DataNodes() {
		got := infoMigration(t, cl.Transport(), d.Addr())
		require.Zero(t, got["migrate_keys_sent"]+got["migrate_keys_received"], "%s before the join: %v", d.ID(), got)
	}

	dn, err := cl.AddDataNode(ctx)
	require.NoError(t, err)
	require.NoError(t, cl.WaitStable(ctx))

	var sent, recv [3]int64 // keys, bytes, slots
	for _, d := range cl.DataNodes() {
		got := infoMigration(t, cl.Transport(), d.Addr())
		t.Logf("%s: %v", d.ID(), got)
		require.Zero(t, got["migrating_slots_out"], "%s: moves out still under way", d.ID())
		require.Zero(t, got["importing_slots_in"], "%s: moves in still under way", d.ID())
		sent[0] += got["migrate_keys_sent"]
		sent[1] += got["migrate_bytes_sent"]
		sent[2] += got["migrate_slots_sent"]
		recv[0] += got["migrate_keys_received"]
		recv[1] += got["migrate_bytes_received"]
		recv[2] += got["migrate_slots_received"]
		if d == dn {
			require.Zero(t, got["migrate_keys_sent"], "the new node sent keys")
			n, err := NewClient(ctx, ClientConfig{Addr: d.Addr(), Transport: cl.Transport()})
			require.NoError(t, err)
			size, err := n.DBSize(ctx)
			n.Close()
			require.NoError(t, err)
			require.Positive(t, size, "the new node holds no keys")
			require.Equal(t, size, got["migrate_keys_received"], "the new node holds other keys than it received")
			p, _ := cl.NameNode().Table().Load(d.ID())
			require.Equal(t, int64(p), got["migrate_slots_received"], "the new node leads other slots than it received")
		}
	}
	require.Positive(t, sent[0], "no old node reports keys sent")
	require.Equal(t, sent, recv, "sent (keys, bytes, slots) differs from received")
}

// TestStatusReReplication fails a DataNode of a loaded cluster with one
// replica and checks that CHKV.STATUS on the NameNode shows the replica
// copies that restore the lost copies apart from moves: how many there
// were, all done, and the keys they copied.
func TestStatusReReplication(t *testing.T) {
	cl := NewClusterT(t, func(c *ClusterConfig) { c.DataNodes, c.Replicas = 4, 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	loadMigrationKeys(ctx, t, cl, 3000)
	victim := cl.DataNodes()[1].ID()
	lost := 0 // slots whose copy dies with the victim
	for s := range NumSlots {
		if slices.Contains(cl.NameNode().Table().Owners(s), victim) {
			lost++
		}
	}
	require.NoError(t, cl.KillDataNode(victim))
	var m MigrationStatus
	require.NoError(t, cl.poll(ctx, func() bool {
		r, err := call(t, cl.Transport(), cl.NameNode().Addr(), "CHKV.STATUS")
		if err != nil {
			return false
		}
		var st struct {
			Migration MigrationStatus `json:"migration"`
		}
		require.NoError(t, json.Unmarshal(r.([]byte), &st))
		m = st.Migration
		return m.CopiesTotal > 0 && m.SlotsCopied == m.CopiesTotal && cl.NameNode().Converged()
	}), "re-replication never finished: %+v", m)
	t.Logf("%d slots lost a copy; status: %+v", lost, m)
	// Each slot that lost a copy gets it back by a copy, or by a move
	// where the plan also re-homes another of its copies.
	require.LessOrEqual(t, m.CopiesTotal, lost, "more copies than slots that lost a copy")
	require.GreaterOrEqual(t, m.SlotsTotal, lost, "fewer slots moved or copied than lost a copy")
	require.LessOrEqual(t, m.CopiesTotal, m.SlotsTotal, "copies are part of the slots to move")
	require.Positive(t, m.CopyKeys, "the copies carried no keys")
	require.LessOrEqual(t, m.CopyKeys, m.KeysMoved)
	require.Positive(t, m.CopyKeysPerSec)
	require.Zero(t, m.CopyETASec, "ETA left once the copies are done")
}

// loadMigrationKeys writes keys key:0.. with values value-0.. to cl.
func loadMigrationKeys(ctx context.Context, t *testing.T, cl *Cluster, keys int) {
	t.Helper()
	kv := make(map[string]string, keys)
	for i := range keys {
		kv[fmt.Sprintf("key:%d", i)] = fmt.Sprintf("value-%d", i)
	}
	require.NoError(t, clusterClient(t, cl).MSet(ctx, kv))
}
