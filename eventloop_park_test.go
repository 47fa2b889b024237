//go:build linux

package chkv

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
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

// TestEventLoopRepliesWaitWithoutBlockingTheLoop runs two DataNodes that
// replicate to each other on one shared event loop, which also serves the
// replication frames: on each node a pipeline whose replies pass the size
// at which a loop writes replies mid-turn, a QUIT right after a write,
// and a protocol error right after a write. Every reply arrives
// (so the loop never blocked on an acknowledgement its own frames would
// bring), after its replica applied the write.
func TestEventLoopRepliesWaitWithoutBlockingTheLoop(t *testing.T) {
	cl := NewClusterT(t, func(c *ClusterConfig) {
		c.DataNodes = 2
		c.Replicas = 1
		c.Transport = ClusterTCP
		c.EventLoops = 1 // both nodes' clients and replication frames on one loop
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	table := cl.NameNode().Table()
	// keysOf returns n keys whose slots node leads.
	keysOf := func(node NodeID, prefix string, n int) []string {
		var keys []string
		for i := 0; len(keys) < n; i++ {
			k := fmt.Sprintf("%s:%d", prefix, i)
			if p, _ := table.Primary(Slot(k)); p.ID == node {
				keys = append(keys, k)
			}
		}
		return keys
	}
	// Each SET of a big value is followed by GETs of it, which wait for
	// the SET's replica too: their replies pass the 64 KiB at which a
	// loop writes replies mid-turn, before the SET's frame went out.
	big := strings.Repeat("x", 100<<10)
	ids := []NodeID{table.Members[0].ID, table.Members[1].ID}
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: mustMember(t, table, id).Addr, PoolSize: 1, MaxRetries: -1})
			defer c.Close()
			pipe := c.Pipeline()
			for _, k := range keysOf(id, "pipe", 5) {
				pipe.Set(ctx, k, big, 0)
				pipe.Get(ctx, k)
				pipe.Get(ctx, k)
			}
			cmds, err := pipe.Exec(ctx)
			if err != nil {
				errs <- fmt.Errorf("pipeline on %s: %w", id, err)
				return
			}
			for _, cmd := range cmds {
				if err := cmd.Err(); err != nil {
					errs <- fmt.Errorf("pipeline on %s: %s: %w", id, cmd.Args(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, id := range ids {
		for _, tc := range []struct{ name, extra, want string }{
			{"quit", "QUIT\r\n", "+OK\r\n+OK\r\n"},
			{"protocol error", "*1\r\n$x\r\n", "+OK\r\n-ERR "},
		} {
			t.Run(string(id)+" "+tc.name, func(t *testing.T) {
				key := keysOf(id, tc.name, 1)[0]
				nc, err := net.Dial("tcp", mustMember(t, table, id).Addr)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(30 * time.Second))
				fmt.Fprintf(nc, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n%s", len(key), key, tc.extra)
				got, err := io.ReadAll(nc) // until the node closes the connection
				if err != nil {
					t.Fatalf("reading the replies: %v (got %q)", err, got)
				}
				if !strings.HasPrefix(string(got), tc.want) {
					t.Fatalf("replies %q, want them to start with %q", got, tc.want)
				}
				owners := table.Owners(Slot(key))
				rep := redis.NewClient(&redis.Options{Addr: mustMember(t, table, owners[1]).Addr})
				defer rep.Close()
				if err := rep.Do(ctx, "READONLY").Err(); err != nil {
					t.Fatal(err)
				}
				if v, err := rep.Get(ctx, key).Result(); err != nil || v != "v" {
					t.Fatalf("GET %s on the replica after the OK: %q, %v; want v", key, v, err)
				}
			})
		}
	}
}
