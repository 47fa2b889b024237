// Tests of in-sync replication: replicas hold every acknowledged write, and a killed DataNode's slots fail over to them with nothing lost.

package chkv

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// replTestCluster starts an in-process cluster with r replicas and a short
// heartbeat, so failures are detected in well under a second.
func replTestCluster(t *testing.T, dataNodes, r int) *Cluster {
	t.Helper()
	return NewClusterT(t, func(c *ClusterConfig) {
		c.DataNodes = dataNodes
		c.Replicas = r
		c.HeartbeatInterval = 100 * time.Millisecond
	})
}

// TestReplicasHoldAcknowledgedWrites checks that once a write is
// acknowledged, every copy the table names holds it: values, counters,
// lists and versions.
func TestReplicasHoldAcknowledgedWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := replTestCluster(t, 3, 1)
	c, err := NewClient(ctx, ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 500
	for i := range n {
		k := "key" + strconv.Itoa(i)
		if err := c.Set(ctx, k, "v"+strconv.Itoa(i)); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if _, err := c.Incr(ctx, "ctr"+strconv.Itoa(i%7)); err != nil {
			t.Fatalf("INCR: %v", err)
		}
	}
	table := cl.NameNode().Table()
	for i := range n {
		k := "key" + strconv.Itoa(i)
		s := Slot(k)
		owners := table.Owners(s)
		if len(owners) != 2 {
			t.Fatalf("slot %d has owners %v, want a primary and one replica", s, owners)
		}
		var versions []uint64
		for _, id := range owners {
			st := cl.DataNode(id).Store()
			sd := st.slot(s)
			sd.mu.Lock()
			e := sd.keys[k]
			if e == nil || string(e.str) != "v"+strconv.Itoa(i) {
				sd.mu.Unlock()
				t.Fatalf("%s on %s: %v, want v%d", k, id, e, i)
			}
			versions = append(versions, e.version)
			sd.mu.Unlock()
		}
		if versions[0] != versions[1] {
			t.Errorf("%s: versions %v differ between primary and replica", k, versions)
		}
	}
}

// TestFailoverLosesNoAcknowledgedWrite kills (kill -9 in process) the
// DataNode leading a key's slot, checks that every acknowledged write is
// readable afterwards, that the cluster is writable again, that every slot
// gets two live copies back, and then does it again with a second node.
func TestFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := replTestCluster(t, 4, 1)
	c, err := NewClient(ctx, ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport(), MaxRedirects: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acked := map[string]string{}
	counts := map[string]int64{}  // acknowledged increments
	unknown := map[string]int64{} // increments that failed: applied or not
	write := func(round, n int) {
		for i := range n {
			k := "r" + strconv.Itoa(round) + ":" + strconv.Itoa(i)
			v := "v" + strconv.Itoa(i)
			if err := c.Set(ctx, k, v); err == nil {
				acked[k] = v
			}
			ck := "ctr" + strconv.Itoa(i%5)
			if _, err := c.Incr(ctx, ck); err == nil {
				counts[ck]++
			} else {
				unknown[ck]++
			}
		}
	}
	check := func(when string) {
		t.Helper()
		for k, v := range acked {
			got, err := c.Get(ctx, k)
			if err != nil || got != v {
				t.Fatalf("%s: GET %s = %q, %v; want the acknowledged %q", when, k, got, err, v)
			}
		}
		for k, want := range counts {
			s, err := c.Get(ctx, k)
			got, _ := strconv.ParseInt(s, 10, 64)
			if err != nil || got < want || got > want+unknown[k] {
				t.Fatalf("%s: counter %s = %q, %v; want %d acknowledged increments (and at most %d more that failed)", when, k, s, err, want, unknown[k])
			}
		}
	}
	write(0, 400)
	for round := 1; round <= 2; round++ {
		victim, _ := cl.NameNode().Table().Primary(Slot("r0:0"))
		if err := cl.KillDataNode(victim.ID); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		// How long writes to the dead node's slots fail: until the
		// failure is detected and a replica promoted.
		for c.Set(ctx, "r0:0", "v0") != nil {
			if ctx.Err() != nil {
				t.Fatal("the dead node's slot never became writable again")
			}
		}
		t.Logf("round %d: writes to %s's slots failed or waited for %v (heartbeat 100ms)", round, victim.ID, time.Since(killed).Round(time.Millisecond))
		// Writes go on while the copies are rebuilt: each either fails
		// (unknown or refused) or is acknowledged and must survive.
		write(round, 200)
		if err := cl.WaitStable(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: killed %s; stable with every slot's copies back after %v", round, victim.ID, time.Since(killed).Round(time.Millisecond))
		check("after the kill of " + string(victim.ID))
		table := cl.NameNode().Table()
		for s := range NumSlots {
			if n := len(table.Owners(s)); n != 2 {
				t.Fatalf("round %d: slot %d has %d copies after re-replication, want 2", round, s, n)
			}
		}
	}
}

// TestReplicaReadsAndWaitWithGoRedis drives replication through go-redis's
// ClusterClient: CLUSTER SLOTS names each range's replica, a ReadOnly
// client reads from replicas, and WAIT counts the replicas that applied a
// client's writes.
func TestReplicaReadsAndWaitWithGoRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := replTestCluster(t, 3, 1)
	tr := cl.Transport()
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) { return tr.Dial(ctx, addr) }
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), Dialer: dial})
	defer rc.Close()

	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	covered := 0
	for _, r := range slots {
		if len(r.Nodes) != 2 {
			t.Fatalf("CLUSTER SLOTS range %d-%d has %d nodes, want a primary and a replica", r.Start, r.End, len(r.Nodes))
		}
		covered += r.End - r.Start + 1
	}
	if covered != NumSlots {
		t.Fatalf("CLUSTER SLOTS covers %d slots, want %d", covered, NumSlots)
	}

	for i := range 200 {
		if err := rc.Set(ctx, "ro:"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// WAIT on the connection that wrote: the key's one replica applied it.
	k := "ro:0"
	primary, _ := cl.NameNode().Table().Primary(Slot(k))
	pc := redis.NewClient(&redis.Options{Addr: primary.Addr, Dialer: dial})
	defer pc.Close()
	pipe := pc.Pipeline()
	pipe.Set(ctx, k, "again", 0)
	wait := pipe.Do(ctx, "WAIT", 1, 1000)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := wait.Int64(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 1000 after a SET = %d, %v; want 1", n, err)
	}

	// A ReadOnly client reads from the replicas; the values are there.
	ro := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), Dialer: dial, ReadOnly: true, RouteRandomly: true})
	defer ro.Close()
	for i := 1; i < 200; i++ {
		if got, err := ro.Get(ctx, "ro:"+strconv.Itoa(i)).Result(); err != nil || got != strconv.Itoa(i) {
			t.Fatalf("READONLY GET ro:%d = %q, %v", i, got, err)
		}
	}
	// A replica answers a READONLY connection's read itself, and still
	// redirects its writes.
	owners := cl.NameNode().Table().Owners(Slot(k))
	replica, _ := cl.NameNode().Table().Member(owners[1])
	rr := redis.NewClient(&redis.Options{Addr: replica.Addr, Dialer: dial, OnConnect: func(ctx context.Context, cn *redis.Conn) error {
		return cn.ReadOnly(ctx).Err()
	}})
	defer rr.Close()
	if got, err := rr.Get(ctx, k).Result(); err != nil || got != "again" {
		t.Fatalf("GET %s on its replica after READONLY = %q, %v; want \"again\"", k, got, err)
	}
	if err := rr.Set(ctx, k, "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
		t.Fatalf("SET on a replica = %v, want MOVED", err)
	}
}
