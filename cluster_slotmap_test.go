// Tests of serving the slot map: the encoded CLUSTER SLOTS, SHARDS and NODES replies are cached per table.

package chkv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// mapEncodes returns how many slot map replies d has encoded and the table
// they are for.
func mapEncodes(d *DataNode) (int, *Table) {
	m := &d.cluster.maps
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.encodes, m.table
}

// TestClusterSlotMapStorm has a thousand clients load CLUSTER SLOTS from one
// DataNode at once, as cluster clients do after a failover: every one gets
// the whole map, the node encodes it once for the table, and PING on
// another connection still answers while the storm runs.
func TestClusterSlotMapStorm(t *testing.T) {
	clients := 1000
	if testing.Short() {
		clients = 200
	}
	c := newTestCluster(t, ClusterTCP)
	tr := c.Transport()
	d := c.DataNodes()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // liveness only
	defer cancel()

	// The reference reply, read by one client; its ranges must match the table.
	first, err := call(t, tr, d.Addr(), "CLUSTER", "SLOTS")
	if err != nil {
		t.Fatal(err)
	}
	table := d.Table()
	owned := 0
	for _, r := range table.Ranges() {
		if len(r.Owners) > 0 {
			owned++
		}
	}
	if n := len(first.([]any)); n != owned {
		t.Fatalf("CLUSTER SLOTS has %d ranges, the table %d", n, owned)
	}
	var want []byte
	func() {
		nc, err := dialPeer(ctx, tr, d.Addr(), "")
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		want = readRawReply(t, nc, "CLUSTER", "SLOTS")
	}()
	encBefore, _ := mapEncodes(d)

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := make(chan struct{})
	for i := range clients {
		wg.Go(func() {
			nc, err := dialPeer(ctx, tr, d.Addr(), "")
			if err != nil {
				errs <- fmt.Errorf("client %d: dial: %w", i, err)
				return
			}
			defer nc.Close()
			if dl, ok := ctx.Deadline(); ok {
				nc.SetDeadline(dl)
			}
			<-start
			if _, err := nc.Write([]byte("*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n")); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			// Compare the reply with the reference as it streams in, so
			// the test holds no thousand copies of it.
			br := bufio.NewReaderSize(nc, 32<<10)
			buf := make([]byte, 32<<10)
			for off := 0; off < len(want); {
				n, err := br.Read(buf[:min(len(buf), len(want)-off)])
				if !bytes.Equal(buf[:n], want[off:off+n]) {
					errs <- fmt.Errorf("client %d: reply differs from byte %d", i, off)
					return
				}
				off += n
				if err != nil {
					errs <- fmt.Errorf("client %d: after %d of %d bytes: %w", i, off, len(want), err)
					return
				}
			}
		})
	}
	close(start)
	// PING answers while the clients load the map.
	pings := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	ping := &peerLink{tr: tr, addr: d.Addr()}
	defer ping.close()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		default:
		}
		r, err := ping.do(ctx, "PING")
		if err != nil || r != "PONG" {
			t.Fatalf("PING during the storm (after %d): %v %v", pings, r, err)
		}
		pings++
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	encAfter, tab := mapEncodes(d)
	t.Logf("%d clients loaded a %d-byte CLUSTER SLOTS (%d ranges); %d PINGs answered meanwhile; %d encodings",
		clients, len(want), owned, pings, encAfter-encBefore)
	if tab == table && encAfter != encBefore {
		t.Errorf("the storm encoded CLUSTER SLOTS %d more times for an unchanged table", encAfter-encBefore)
	}
}

// readRawReply sends a command on nc and returns its reply's raw bytes.
func readRawReply(t *testing.T, nc io.ReadWriter, args ...string) []byte {
	t.Helper()
	var w replyWriter
	w.array(len(args))
	for _, a := range args {
		w.bulkString(a)
	}
	if _, err := nc.Write(w.buf); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := readPeerReply(bufio.NewReader(io.TeeReader(nc, &raw)), 0); err != nil {
		t.Fatal(err)
	}
	return raw.Bytes()
}

// TestSlotMapCacheFollowsTable checks that a cached reply is the encoding of
// the table asked for: a new table is encoded afresh, the same one is not.
func TestSlotMapCacheFollowsTable(t *testing.T) {
	ms := []Member{{ID: "a", Addr: "127.0.0.1:7001"}, {ID: "b", Addr: "127.0.0.1:7002"}, {ID: "c", Addr: "127.0.0.1:7003"}}
	cfg := DefaultRingConfig()
	cfg.Replicas = 1
	t1, err := NewTable(ms, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t2 := mustNext(t, t1, Change{Kind: ChangeJoin, Member: Member{ID: "d", Addr: "127.0.0.1:7004"}}, cfg)
	var m slotMapCache
	for _, step := range []struct {
		t       *Table
		kind    int
		encodes int
	}{{t1, mapSlots, 1}, {t1, mapSlots, 1}, {t1, mapShards, 2}, {t2, mapSlots, 3}, {t2, mapSlots, 3}, {t1, mapSlots, 4}} {
		got := m.get(nil, step.t, step.kind, []func(*replyWriter, *clusterNode, *Table){encodeSlots, encodeShards}[step.kind])
		var w replyWriter
		[]func(*replyWriter, *clusterNode, *Table){encodeSlots, encodeShards}[step.kind](&w, nil, step.t)
		if !bytes.Equal(got, w.buf) {
			t.Fatalf("table %d reply %d: cached reply is not the table's encoding", step.t.Version, step.kind)
		}
		if m.encodes != step.encodes {
			t.Fatalf("table %d reply %d: %d encodings, want %d", step.t.Version, step.kind, m.encodes, step.encodes)
		}
	}
}
