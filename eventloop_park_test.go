//go:build linux

package chkv

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestEventLoopServesWhileAWriteWaitsForItsReplica holds a replica's
// apply of a write and checks what clients of the primary see: the
// writer's OK waits, while another client on the same event loop gets
// its PING answered meanwhile (the loop parks the writer's connection
// instead of blocking on the replication round trip); once the replica
// applies the write, the writer gets OK and the replica holds the value.
func TestEventLoopServesWhileAWriteWaitsForItsReplica(t *testing.T) {
	var hold atomic.Bool
	entered := make(chan NodeID, 16)
	release := make(chan struct{})
	testHookReplFrame = func(replica NodeID) {
		if hold.Load() {
			entered <- replica
			<-release
		}
	}
	t.Cleanup(func() { testHookReplFrame = nil })
	cl := NewClusterT(t, func(c *ClusterConfig) {
		c.DataNodes = 2
		c.Replicas = 1
		c.Transport = ClusterTCP
		c.EventLoops = 1 // both nodes' clients on one loop
		c.HeartbeatInterval = 2 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	table := cl.NameNode().Table()
	key := "parked"
	p, _ := table.Primary(Slot(key))
	owners := table.Owners(Slot(key))
	if len(owners) != 2 {
		t.Fatalf("slot of %q has owners %v, want a primary and a replica", key, owners)
	}
	writer := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer writer.Close()
	other := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer other.Close()
	if err := other.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := writer.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	hold.Store(true)
	setDone := make(chan error, 1)
	go func() { setDone <- writer.Set(ctx, key, "v1", 0).Err() }()
	select {
	case r := <-entered:
		if r != owners[1] {
			t.Fatalf("frame held on %s, want the replica %s", r, owners[1])
		}
	case err := <-setDone:
		t.Fatalf("SET answered (%v) before its replica applied it", err)
	case <-ctx.Done():
		t.Fatal("the replica never received the write")
	}
	hold.Store(false)
	pctx, pcancel := context.WithTimeout(ctx, 20*time.Second) // a liveness bound, not a speed check
	err := other.Ping(pctx).Err()
	pcancel()
	if err != nil {
		t.Fatalf("PING on the primary while a write waited for its replica: %v", err)
	}
	select {
	case err := <-setDone:
		t.Fatalf("SET answered (%v) while its replica had not applied it", err)
	default:
	}
	close(release)
	if err := <-setDone; err != nil {
		t.Fatalf("SET after the replica applied it: %v", err)
	}
	rep := redis.NewClient(&redis.Options{Addr: mustMember(t, table, owners[1]).Addr})
	defer rep.Close()
	if err := rep.Do(ctx, "READONLY").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := rep.Get(ctx, key).Result(); err != nil || got != "v1" {
		t.Fatalf("GET on the replica after READONLY: %q, %v; want v1", got, err)
	}
}

func mustMember(t *testing.T, table *Table, id NodeID) Member {
	t.Helper()
	m, ok := table.Member(id)
	if !ok {
		t.Fatalf("no member %s", id)
	}
	return m
}
