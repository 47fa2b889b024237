package chkv

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// TestConnMuxSplitsRESPAndRaft: one address, two kinds of client. A RESP
// client reads its whole request (first byte included) on the RESP side; a
// Raft dialer's bytes arrive on the Raft side without the hello byte.
func TestConnMuxSplitsRESPAndRaft(t *testing.T) {
	var mn MemNetwork
	defer mn.Close()
	ln, err := mn.Transport("nn1").Listen("")
	if err != nil {
		t.Fatal(err)
	}
	mux := NewConnMux(ln)
	defer mux.Close()
	stream := NewRaftStream(mux.Raft(), mn.Transport("nn1"), "")

	// A silent client must not hold up the others.
	silent, err := mn.Transport("c0").Dial(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	rc, err := mn.Transport("c1").Dial(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	got, err := mux.RESP().Accept()
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(got).ReadString('\n')
	if err != nil || line != "*1\r\n" {
		t.Fatalf("RESP side read %q, %v; want the request's first line", line, err)
	}
	got.Close()

	other := NewRaftStream(mux.Raft(), mn.Transport("nn2"), "")
	pc, err := other.Dial(raft.ServerAddress(ln.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.Write([]byte("raft")); err != nil {
		t.Fatal(err)
	}
	sc, err := stream.Accept()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "raft" {
		t.Fatalf("Raft side read %q, %v", buf, err)
	}
	sc.Close()

	if err := mux.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := mux.RESP().Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
	if _, err := mn.Transport("c1").Dial(context.Background(), ln.Addr().String()); err == nil {
		t.Fatal("Dial after Close succeeded")
	}
}

// countFSM is a replicated log of strings.
type countFSM struct {
	mu  sync.Mutex
	log []string
}

func (f *countFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, string(l.Data))
	return len(f.log)
}

func (f *countFSM) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &countSnap{entries: f.entries()}, nil
}

func (f *countFSM) Restore(r io.ReadCloser) error {
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var log []string
	for len(b) >= 4 {
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if int(n) > len(b) {
			return fmt.Errorf("short snapshot")
		}
		log = append(log, string(b[:n]))
		b = b[n:]
	}
	f.mu.Lock()
	f.log = log
	f.mu.Unlock()
	return nil
}

type countSnap struct{ entries []string }

func (s *countSnap) Persist(sink raft.SnapshotSink) error {
	for _, e := range s.entries {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(e)))
		if _, err := sink.Write(append(n[:], e...)); err != nil {
			_ = sink.Cancel()
			return err
		}
	}
	return sink.Close()
}

func (s *countSnap) Release() {}

// TestRaftOverMemNetwork: three Raft nodes, each on one memory address it
// shares with RESP through a ConnMux (one keeps its log in raft-boltdb),
// elect a leader, replicate entries, and when the leader's node is isolated
// the other two elect a new leader that commits what the old one could not;
// after healing the old leader holds exactly the majority's log.
func TestRaftOverMemNetwork(t *testing.T) {
	var mn MemNetwork
	defer mn.Close()
	ids := []string{"nn1", "nn2", "nn3"}
	fsms := map[string]*countFSM{}
	nodes := startRaftGroup(t, &mn, ids, func(id string) raft.FSM {
		fsms[id] = &countFSM{}
		return fsms[id]
	})

	// Liveness bounds only: generous, never a speed claim.
	leaderAmong := func(among []string) string { t.Helper(); return raftLeaderAmong(t, nodes, among) }
	waitLog := func(id string, want []string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Join(fsms[id].entries(), ",") == strings.Join(want, ",") {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s applied %v, want %v", id, fsms[id].entries(), want)
	}

	first := leaderAmong(ids)
	for _, e := range []string{"a", "b"} {
		if err := nodes[first].Apply([]byte(e), 10*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		waitLog(id, []string{"a", "b"})
	}

	mn.Isolate(first)
	var rest []string
	for _, id := range ids {
		if id != first {
			rest = append(rest, id)
		}
	}
	// The isolated leader cannot commit: its Apply fails once it steps down.
	lost := nodes[first].Apply([]byte("lost"), 5*time.Second)
	second := leaderAmong(rest)
	if err := nodes[second].Apply([]byte("c"), 10*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := lost.Error(); err == nil {
		t.Fatal("an isolated leader committed an entry")
	}
	mn.Heal()
	for _, id := range ids {
		waitLog(id, []string{"a", "b", "c"})
	}
	if st := nodes[first].State(); st == raft.Leader && first != leaderAmong(ids) {
		t.Fatalf("two leaders after healing")
	}
}

// TestRaftStoresSurviveRestart: a single-node Raft on OpenRaftStores
// replays its committed entries after a restart from the same directory.
func TestRaftStoresSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	start := func(bootstrap bool) (*raft.Raft, *countFSM, func()) {
		t.Helper()
		bs, snaps, err := OpenRaftStores(dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg := raft.DefaultConfig()
		cfg.LocalID = "nn1"
		cfg.Logger = hclog.NewNullLogger()
		addr, nt := raft.NewInmemTransport("nn1")
		if bootstrap {
			if err := raft.BootstrapCluster(cfg, bs, bs, snaps, nt, raft.Configuration{Servers: []raft.Server{{ID: "nn1", Address: addr}}}); err != nil {
				t.Fatal(err)
			}
		}
		fsm := &countFSM{}
		r, err := raft.NewRaft(cfg, fsm, bs, bs, snaps, nt)
		if err != nil {
			t.Fatal(err)
		}
		return r, fsm, func() {
			if err := r.Shutdown().Error(); err != nil {
				t.Error(err)
			}
			if err := bs.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	r, _, stop := start(true)
	waitFor(t, func() bool { return r.State() == raft.Leader })
	for _, c := range []string{"x", "y"} {
		if err := r.Apply([]byte(c), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	stop()

	r, fsm, stop := start(false)
	defer stop()
	waitFor(t, func() bool { return r.State() == raft.Leader })
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got, want := fsm.entries(), []string{"x", "y"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after restart applied %q, want %q", got, want)
	}
}

// startRaftGroup starts one bootstrapped Raft node per id on mn, each on a
// memory address it shares with RESP through a ConnMux, with fast timeouts;
// fsm gives each node its state machine. The first node keeps its log in
// raft-boltdb, the others in memory. The nodes shut down when the test ends.
func startRaftGroup(t *testing.T, mn *MemNetwork, ids []string, fsm func(id string) raft.FSM) map[string]*raft.Raft {
	t.Helper()
	addrs := map[string]string{}
	streams := map[string]*RaftStream{}
	for _, id := range ids {
		ln, err := mn.Transport(id).Listen("")
		if err != nil {
			t.Fatal(err)
		}
		mux := NewConnMux(ln)
		t.Cleanup(func() { mux.Close() })
		addrs[id] = ln.Addr().String()
		streams[id] = NewRaftStream(mux.Raft(), mn.Transport(id), "")
	}
	var servers []raft.Server
	for _, id := range ids {
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(addrs[id])})
	}
	nodes := map[string]*raft.Raft{}
	for i, id := range ids {
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(id)
		conf.HeartbeatTimeout = 200 * time.Millisecond
		conf.ElectionTimeout = 200 * time.Millisecond
		conf.LeaderLeaseTimeout = 100 * time.Millisecond
		conf.Logger = hclog.New(&hclog.LoggerOptions{Name: id, Level: hclog.Warn, Output: io.Discard})
		var logs raft.LogStore
		var stable raft.StableStore
		if i == 0 {
			bs, err := raftboltdb.NewBoltStore(filepath.Join(t.TempDir(), "raft.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { bs.Close() })
			logs, stable = bs, bs
		} else {
			ms := raft.NewInmemStore()
			logs, stable = ms, ms
		}
		trans := raft.NewNetworkTransport(streams[id], 3, time.Second, io.Discard)
		r, err := raft.NewRaft(conf, fsm(id), logs, stable, raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			t.Fatal(err)
		}
		nodes[id] = r
		t.Cleanup(func() { r.Shutdown().Error() })
	}
	return nodes
}

// raftLeaderAmong waits for one of among to lead. Liveness bound only
// (30 s), never a speed claim.
func raftLeaderAmong(t *testing.T, nodes map[string]*raft.Raft, among []string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range among {
			if nodes[id].State() == raft.Leader {
				return id
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no leader among %v within the 30 s liveness bound", among)
	return ""
}

// TestRaftStreamSecret: with a secret, Accept hands Raft only the
// connections that presented it; a wrong or silent peer is dropped and
// holds up no other.
func TestRaftStreamSecret(t *testing.T) {
	mn := &MemNetwork{}
	defer mn.Close()
	ln, err := mn.Transport("nn1").Listen("")
	if err != nil {
		t.Fatal(err)
	}
	mux := NewConnMux(ln)
	defer mux.Close()
	stream := NewRaftStream(mux.Raft(), mn.Transport("nn1"), "").WithSecret("s3cret")
	addr := raft.ServerAddress(ln.Addr().String())

	silent, err := mn.Transport("c0").Dial(context.Background(), string(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if _, err := silent.Write([]byte{raftHello}); err != nil { // the hello, then nothing
		t.Fatal(err)
	}
	wrong, err := NewRaftStream(mux.Raft(), mn.Transport("nn2"), "").WithSecret("guess").Dial(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if _, err := wrong.Write([]byte("evil")); err != nil {
		t.Fatal(err)
	}
	none, err := NewRaftStream(mux.Raft(), mn.Transport("nn4"), "").Dial(addr, time.Second) // no secret frame at all
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	if _, err := none.Write([]byte("\x00\x00evil")); err != nil {
		t.Fatal(err)
	}
	good, err := NewRaftStream(mux.Raft(), mn.Transport("nn3"), "").WithSecret("s3cret").Dial(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if _, err := good.Write([]byte("raft")); err != nil {
		t.Fatal(err)
	}
	sc, err := stream.Accept()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "raft" {
		t.Fatalf("accepted a connection that read %q, %v; want the one with the secret", buf, err)
	}
	sc.Close()
	// The wrong ones were closed by the stream.
	for name, c := range map[string]net.Conn{"wrong": wrong, "none": none} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s secret: connection not closed (%v)", name, err)
		}
	}
	mux.Close()
	if _, err := stream.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
}
