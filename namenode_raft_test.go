package chkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fsmRecorder records every table one NameNodeFSM applied.
type fsmRecorder struct {
	mu       sync.Mutex
	versions []uint64
	contents map[uint64][]byte
}

func newFSMRecorder(f *NameNodeFSM) *fsmRecorder {
	r := &fsmRecorder{contents: map[uint64][]byte{}}
	f.OnTable = func(t *Table, b []byte) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.versions = append(r.versions, t.Version)
		r.contents[t.Version] = b
	}
	return r
}

func testTables(t *testing.T, ids ...NodeID) []*Table {
	t.Helper()
	cfg := RingConfig{}
	prev := new(Table)
	var out []*Table
	for _, id := range ids {
		next, err := NextTable(prev, Change{Kind: ChangeJoin, Member: Member{ID: id, Addr: string(id) + ":1"}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, next)
		prev = next
	}
	return out
}

func applyTable(r *raft.Raft, kind byte, tb *Table) error {
	b, err := encodeNameNodeEntry(kind, tb)
	if err != nil {
		return err
	}
	f := r.Apply(b, 10*time.Second)
	if err := f.Error(); err != nil {
		return err
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

// TestNameNodeFSMVersionsOnlyGrow: a table entry at or below the committed
// version with other contents is refused and changes nothing; a repeat of
// the committed one is harmless; snapshot and restore carry table and plan.
func TestNameNodeFSMVersionsOnlyGrow(t *testing.T) {
	ts := testTables(t, "a", "b", "c")
	f := &NameNodeFSM{}
	rec := newFSMRecorder(f)
	apply := func(idx uint64, kind byte, tb *Table) any {
		b, err := encodeNameNodeEntry(kind, tb)
		if err != nil {
			t.Fatal(err)
		}
		return f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: b})
	}
	if res := apply(1, nnEntryTable, ts[1]); res != nil {
		t.Fatalf("apply v%d: %v", ts[1].Version, res)
	}
	if res := apply(2, nnEntryTable, ts[0]); !errors.Is(res.(error), ErrStaleTable) {
		t.Fatalf("older table applied: %v", res)
	}
	other := testTables(t, "x", "y")[1] // same version as ts[1], other members
	if other.Version != ts[1].Version {
		t.Fatalf("test setup: versions %d and %d", other.Version, ts[1].Version)
	}
	if res := apply(3, nnEntryTable, other); !errors.Is(res.(error), ErrStaleTable) {
		t.Fatalf("a second content for version %d applied: %v", other.Version, res)
	}
	if res := apply(4, nnEntryTable, ts[1]); res != nil {
		t.Fatalf("repeat of the committed table: %v", res)
	}
	if res := apply(5, nnEntryPlan, ts[2]); res != nil {
		t.Fatalf("plan: %v", res)
	}
	if res := f.Apply(&raft.Log{Index: 6, Type: raft.LogCommand, Data: []byte{nnEntryTable, 0xff, 1}}); res == nil {
		t.Fatal("a malformed entry applied")
	}
	tb, plan := f.State()
	if tb.Version != ts[1].Version || plan.Version != ts[2].Version || len(tb.Members) != 2 {
		t.Fatalf("state table v%d (%d members) plan v%d", tb.Version, len(tb.Members), plan.Version)
	}
	if fmt.Sprint(rec.versions) != fmt.Sprint([]uint64{ts[1].Version}) {
		t.Fatalf("OnTable saw versions %v", rec.versions)
	}

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := &NameNodeFSM{}
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	gt, gp := g.State()
	wt, _ := tb.MarshalBinary()
	gtb, _ := gt.MarshalBinary()
	if !bytes.Equal(wt, gtb) || gp.Version != plan.Version {
		t.Fatal("restored state differs from the snapshot's")
	}
	// A truncated snapshot is refused, not half-applied.
	if err := (&NameNodeFSM{}).Restore(io.NopCloser(bytes.NewReader(sink.buf.Bytes()[:10]))); err == nil {
		t.Fatal("a truncated snapshot restored")
	}
}

type memSink struct{ buf bytes.Buffer }

func (s *memSink) Write(p []byte) (int, error) { return s.buf.Write(p) }
func (s *memSink) Close() error                { return nil }
func (s *memSink) ID() string                  { return "mem" }
func (s *memSink) Cancel() error               { return nil }

// TestNameNodeRaftOneHistory: three NameNode FSMs on Raft over the memory
// network (ConnMux + RaftStream). The leader commits two tables; cut off from
// the others it cannot commit its next one, while the majority's new leader
// commits a different table of the same version. After healing every node
// has applied exactly one history: the same versions, only growing, and one
// content per version.
func TestNameNodeRaftOneHistory(t *testing.T) {
	var mn MemNetwork
	defer mn.Close()
	ids := []string{"nn1", "nn2", "nn3"}
	recs := map[string]*fsmRecorder{}
	nodes := startRaftGroup(t, &mn, ids, func(id string) raft.FSM {
		f := &NameNodeFSM{}
		recs[id] = newFSMRecorder(f)
		return f
	})
	leaderAmong := func(among []string) string { t.Helper(); return raftLeaderAmong(t, nodes, among) }

	ts := testTables(t, "a", "b", "c")
	first := leaderAmong(ids)
	for _, tb := range ts[:2] {
		if err := applyTable(nodes[first], nnEntryTable, tb); err != nil {
			t.Fatal(err)
		}
	}
	mn.Isolate(first)
	var rest []string
	for _, id := range ids {
		if id != first {
			rest = append(rest, id)
		}
	}
	// The cut-off leader proposes v3 = +c; the majority commits v3 = +z.
	lost := make(chan error, 1)
	go func() { lost <- applyTable(nodes[first], nnEntryTable, ts[2]) }()
	alt, err := NextTable(ts[1], Change{Kind: ChangeJoin, Member: Member{ID: "z", Addr: "z:1"}}, RingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	second := leaderAmong(rest)
	if err := applyTable(nodes[second], nnEntryTable, alt); err != nil {
		t.Fatal(err)
	}
	if err := <-lost; err == nil {
		t.Fatal("the cut-off leader committed its table")
	}
	mn.Heal()
	// A proposal of the lost content after healing is refused by the FSM.
	if err := applyTable(nodes[leaderAmong(ids)], nnEntryTable, ts[2]); !errors.Is(err, ErrStaleTable) {
		t.Fatalf("second content for version %d: %v", ts[2].Version, err)
	}
	altBytes, _ := alt.MarshalBinary()
	want := fmt.Sprint([]uint64{ts[0].Version, ts[1].Version, alt.Version})
	deadline := time.Now().Add(30 * time.Second) // liveness bound
	for _, id := range ids {
		for {
			r := recs[id]
			r.mu.Lock()
			got, content := fmt.Sprint(r.versions), r.contents[alt.Version]
			r.mu.Unlock()
			if got == want && bytes.Equal(content, altBytes) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s applied versions %s, want %s (v%d content matches: %v)", id, got, want, alt.Version, bytes.Equal(content, altBytes))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestParseRaftPeers(t *testing.T) {
	got, err := ParseRaftPeers("nn1=127.0.0.1:7001, nn2=h:7002")
	if err != nil || fmt.Sprint(got) != "[{nn1 127.0.0.1:7001} {nn2 h:7002}]" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "nn1", "nn1=", "=h:1", "a=h:1,a=h:2"} {
		if _, err := ParseRaftPeers(bad); err == nil {
			t.Errorf("ParseRaftPeers(%q) accepted", bad)
		}
	}
}

// TestRaftNodeRestartFromDataDir: three RaftNodes with data dirs on the
// memory network. The leader commits v1 and is stopped; the two others elect
// (with the default timeouts; the time to the new leader is logged, not
// asserted) and commit v2; the stopped member restarts from its data dir on
// the same address, rejoins and applies v1 then v2, nothing else.
func TestRaftNodeRestartFromDataDir(t *testing.T) {
	var mn MemNetwork
	defer mn.Close()
	ids := []string{"nn1", "nn2", "nn3"}
	dirs, addrs := map[string]string{}, map[string]string{}
	var peers []RaftPeer
	for _, id := range ids {
		dirs[id] = t.TempDir()
		addrs[id] = id + ":7000"
		peers = append(peers, RaftPeer{ID: id, Addr: addrs[id]})
	}
	members := map[string]*RaftNode{}
	nodes := map[string]*raft.Raft{}
	recs := map[string]*fsmRecorder{}
	start := func(id string) {
		t.Helper()
		ln, err := mn.Transport(id).Listen(addrs[id])
		if err != nil {
			t.Fatal(err)
		}
		mux := NewConnMux(ln)
		f := &NameNodeFSM{}
		recs[id] = newFSMRecorder(f)
		m, err := StartRaftNode(context.Background(), RaftNodeConfig{
			ID: id, Peers: peers, DataDir: dirs[id], Listener: mux.Raft(), Transport: mn.Transport(id), FSM: f,
		})
		if err != nil {
			mux.Close()
			t.Fatal(err)
		}
		members[id], nodes[id] = m, m.Raft
	}
	for _, id := range ids {
		start(id)
	}
	defer func() {
		for _, m := range members {
			m.Close()
		}
	}()
	ts := testTables(t, "a", "b")
	first := raftLeaderAmong(t, nodes, ids)
	if err := applyTable(nodes[first], nnEntryTable, ts[0]); err != nil {
		t.Fatal(err)
	}
	if err := members[first].Close(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	var rest []string
	for _, id := range ids {
		if id != first {
			rest = append(rest, id)
		}
	}
	second := raftLeaderAmong(t, nodes, rest)
	t.Logf("new leader %s %v after the old one stopped (default timeouts, memory network)", second, time.Since(stopped))
	if err := applyTable(nodes[second], nnEntryTable, ts[1]); err != nil {
		t.Fatal(err)
	}
	start(first)
	want := fmt.Sprint([]uint64{ts[0].Version, ts[1].Version})
	deadline := time.Now().Add(30 * time.Second) // liveness bound
	for {
		r := recs[first]
		r.mu.Lock()
		got := fmt.Sprint(r.versions)
		r.mu.Unlock()
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted %s applied %s, want %s", first, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
