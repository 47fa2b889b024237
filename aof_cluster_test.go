// Tests of file storage in a cluster: a DataNode restarted with its data dir serves its slots with their data, and nothing of slots that left it.

package chkv

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterKeys writes n keys through c with values tagged by gen.
func clusterKeys(t *testing.T, ctx context.Context, c *Client, n int, gen string) {
	t.Helper()
	for i := range n {
		if err := c.Set(ctx, "k"+strconv.Itoa(i), gen+strconv.Itoa(i)); err != nil {
			t.Fatalf("set k%d: %v", i, err)
		}
	}
}

// checkClusterKeys reads the n keys back through c and wants every value of gen.
func checkClusterKeys(t *testing.T, ctx context.Context, c *Client, n int, gen string) {
	t.Helper()
	for i := range n {
		if v, err := c.Get(ctx, "k"+strconv.Itoa(i)); err != nil || v != gen+strconv.Itoa(i) {
			t.Fatalf("k%d = %q, %v; want %q", i, v, err, gen+strconv.Itoa(i))
		}
	}
}

// storedKeys counts the keys every DataNode of cl holds.
func storedKeys(cl *Cluster) (n int64) {
	for _, d := range cl.DataNodes() {
		n += d.Store().Keys()
	}
	return n
}

func TestAOFClusterRestartKeepsSlotsDropsMovedOnes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := NewClusterT(t, func(c *ClusterConfig) {
		c.DataNodes, c.Replicas, c.HeartbeatInterval = 2, 0, 100*time.Millisecond
		c.DataNodeDirs = t.TempDir()
	})
	if err := cl.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	c := newClusterClient(t, cl, nil)
	const n = 1000
	clusterKeys(t, ctx, c, n, "a")
	// A third node takes slots from both: their copies leave dn1's files.
	if _, err := cl.AddDataNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	clusterKeys(t, ctx, c, n, "b")
	waitFor(t, func() bool { return storedKeys(cl) == n })
	dn1 := cl.DataNode("dn1")
	held := dn1.Store().Keys()
	if held == 0 || held == n {
		t.Fatalf("dn1 holds %d of %d keys", held, n)
	}
	// Restarted with its data: before any table it holds exactly its own
	// keys (the moved slots are gone from its files), then serves them.
	d, err := cl.RestartDataNode(ctx, "dn1")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Store().Keys(); got != held {
		t.Fatalf("dn1 loaded %d keys, held %d: slots that left it came back from its files", got, held)
	}
	if d.ID() != "dn1" {
		t.Fatalf("restarted as %q", d.ID())
	}
	if err := cl.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	checkClusterKeys(t, ctx, c, n, "b")
	if got := storedKeys(cl); got != n {
		t.Fatalf("%d keys stored in all after the restart, want %d", got, n)
	}
}

func TestAOFDataDirBelongsToOneNode(t *testing.T) {
	dir := t.TempDir()
	id, err := keepNodeID(dir, "", "127.0.0.1:7001")
	if err != nil || id != "127.0.0.1:7001" {
		t.Fatalf("first start: %q %v", id, err)
	}
	if id, err := keepNodeID(dir, "", "127.0.0.1:7999"); err != nil || id != "127.0.0.1:7001" {
		t.Fatalf("restart on another address: %q %v, want the kept id", id, err)
	}
	if _, err := keepNodeID(dir, "other", ""); err == nil {
		t.Fatal("a data dir of node 127.0.0.1:7001 was taken by node other")
	}
}

func TestAOFClusterRestartAfterFailoverServesNothingStale(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := NewClusterT(t, func(c *ClusterConfig) {
		c.DataNodes, c.Replicas, c.HeartbeatInterval = 3, 1, 100*time.Millisecond
		c.DataNodeDirs = t.TempDir()
	})
	if err := cl.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	c := newClusterClient(t, cl, nil)
	const n = 500
	clusterKeys(t, ctx, c, n, "a")
	// dn1 dies; its slots fail over to their replicas and take new values
	// while it is down.
	if err := cl.KillDataNode("dn1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		tb := cl.NameNode().Table()
		for s := range NumSlots {
			if p, ok := tb.Primary(s); !ok || p.ID == "dn1" {
				return false
			}
		}
		return true
	})
	clusterKeys(t, ctx, c, n, "b")
	// Back with its files, which hold the old values: none of them is served.
	if _, err := cl.RestartDataNode(ctx, "dn1"); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	checkClusterKeys(t, ctx, c, n, "b")
	// Not even unserved: once the table settled, dn1 holds no value it had
	// before it died.
	waitFor(t, func() bool { return staleValues(cl.DataNode("dn1").Store(), "a") == 0 })
}

// staleValues counts the keys of s whose value starts with prefix.
func staleValues(s *Store, prefix string) (n int) {
	for i := range NumSlots {
		sd := s.slot(i)
		sd.mu.Lock()
		for _, e := range sd.keys {
			if e.kind == kindString && strings.HasPrefix(string(e.str), prefix) {
				n++
			}
		}
		sd.mu.Unlock()
	}
	return n
}
