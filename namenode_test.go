// NameNode tests: registration, failure detection under fake time, bad input, persistence and watches, all on the memory transport.

package chkv

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Timing of the NameNodes under test (the defaults, spelled out because the
// failure detection tests compute with them).
const (
	tHeartbeatTimeout = 3 * time.Second
	tProbeInterval    = 500 * time.Millisecond
	tProbeTimeout     = time.Second
)

// nnEnv is a NameNode on a memory network, with a client connection to it.
type nnEnv struct {
	t   *testing.T
	mn  *MemNetwork
	nn  *NameNode
	cfg NameNodeConfig
	c   *respConn
}

// startNameNodeEnv starts a NameNode (node "nn") on a fresh memory network
// and connects a client (node "client") to it. Call it inside a synctest bubble.
func startNameNodeEnv(t *testing.T, opts ...func(*NameNodeConfig)) *nnEnv {
	t.Helper()
	e := &nnEnv{t: t, mn: &MemNetwork{}}
	e.cfg = DefaultNameNodeConfig()
	e.cfg.Addr = "nn:1"
	e.cfg.Transport = e.mn.Transport("nn")
	e.cfg.NoDataMovement = true // the fake DataNodes hold no data to move
	for _, o := range opts {
		o(&e.cfg)
	}
	e.restart()
	return e
}

// restart starts the env's NameNode (again) with its configuration and
// reconnects the client.
func (e *nnEnv) restart() {
	e.t.Helper()
	nn, err := StartNameNode(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatalf("StartNameNode: %v", err)
	}
	e.t.Cleanup(func() { nn.Close() })
	e.nn = nn
	e.c = e.dial()
}

// dial opens a client connection to the NameNode.
func (e *nnEnv) dial() *respConn {
	e.t.Helper()
	nc, err := e.mn.Transport("client").Dial(context.Background(), e.nn.Addr())
	if err != nil {
		e.t.Fatalf("dial namenode: %v", err)
	}
	e.t.Cleanup(func() { nc.Close() })
	return &respConn{c: nc, r: bufio.NewReader(nc)}
}

// do sends a command given as a redis-cli line and returns the raw reply.
func (e *nnEnv) do(cmd string) string {
	e.t.Helper()
	rep, err := e.c.do(splitCommand(cmd)...)
	if err != nil {
		e.t.Fatalf("%s: %v", cmd, err)
	}
	return string(rep.raw)
}

// table sends a command that must answer a table, and decodes it.
func (e *nnEnv) table(cmd string) *Table {
	e.t.Helper()
	rep, err := e.c.do(splitCommand(cmd)...)
	if err != nil {
		e.t.Fatalf("%s: %v", cmd, err)
	}
	return decodeTableReply(e.t, cmd, rep)
}

func decodeTableReply(t *testing.T, cmd string, rep *reply) *Table {
	t.Helper()
	if rep.kind() != '$' {
		t.Fatalf("%s: got %q, want a bulk table", cmd, rep.raw)
	}
	tb := new(Table)
	if err := tb.UnmarshalBinary([]byte(rep.bulk())); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return tb
}

// register starts a fake DataNode named id and registers it.
func (e *nnEnv) register(id string) *fakeDataNode {
	e.t.Helper()
	f := startFakeDataNode(e.t, e.mn, id)
	before := e.version()
	tb := e.table("CHKV.REGISTER " + id + " " + f.addr + " rack-" + id + " 1")
	if tb.Version != before+1 {
		e.t.Fatalf("register %s: version %d, want %d", id, tb.Version, before+1)
	}
	return f
}

// version returns the NameNode's current table version (0 before any).
func (e *nnEnv) version() uint64 { return e.nn.Table().Version }

// state returns the state of member id in the NameNode's table, 0 when absent.
func (e *nnEnv) state(id NodeID) NodeState {
	m, _ := e.nn.Table().Member(id)
	return m.State
}

// fakeDataNode is a stand-in DataNode: it answers PING and records the
// tables pushed with CHKV.PUSHTABLE.
type fakeDataNode struct {
	addr string
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	conns    []net.Conn
	versions []uint64 // pushed table versions, in order
}

func startFakeDataNode(t *testing.T, mn *MemNetwork, node string) *fakeDataNode {
	t.Helper()
	ln, err := mn.Transport(node).Listen(node + ":7000")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDataNode{addr: ln.Addr().String(), ln: ln}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeDataNode) accept() {
	defer f.wg.Done()
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, nc)
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(nc)
	}
}

func (f *fakeDataNode) serve(nc net.Conn) {
	defer f.wg.Done()
	defer nc.Close()
	rr := newRequestReader(nc, DefaultRequestLimits())
	w := replyWriter{w: nc}
	for {
		args, err := rr.next()
		if err != nil {
			return
		}
		switch strings.ToUpper(string(args[0])) {
		case "PING":
			w.simple("PONG")
		case "CHKV.PUSHTABLE":
			tb := new(Table)
			if err := tb.UnmarshalBinary(args[1]); err != nil {
				w.errorText("ERR chkv: bad table: " + err.Error())
				break
			}
			f.mu.Lock()
			f.versions = append(f.versions, tb.Version)
			f.mu.Unlock()
			w.ok()
		default:
			w.errorText(unknownCommandError(args))
		}
		if w.flush() != nil {
			return
		}
	}
}

// stopListening closes the listener: dials to the node are refused.
func (f *fakeDataNode) stopListening() { f.ln.Close() }

func (f *fakeDataNode) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, nc := range f.conns {
		nc.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// lastPushed returns the version of the last table pushed, 0 when none was.
func (f *fakeDataNode) lastPushed() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.versions) == 0 {
		return 0
	}
	return f.versions[len(f.versions)-1]
}

func TestNameNodeRegister(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := startNameNodeEnv(t)
		if got := e.table("CHKV.TABLE"); got.Version != 0 || len(got.Members) != 0 {
			t.Fatalf("table before any registration: version %d, %d members", got.Version, len(got.Members))
		}
		fakes := map[string]*fakeDataNode{}
		for _, id := range []string{"a", "b", "c"} {
			fakes[id] = e.register(id)
		}
		synctest.Wait() // the pushes land
		tb := e.nn.Table()
		if tb.Version != 3 || len(tb.Members) != 3 {
			t.Fatalf("after 3 registrations: version %d, %d members; want 3, 3", tb.Version, len(tb.Members))
		}
		for s := range NumSlots {
			if got := len(tb.Owners(s)); got != 2 {
				t.Fatalf("slot %d has %d owners, want 2 (primary and one replica)", s, got)
			}
		}
		for id, f := range fakes {
			if got := f.lastPushed(); got != 3 {
				t.Errorf("node %s was last pushed version %d, want 3", id, got)
			}
		}

		{ // heartbeat
			if got := e.do("CHKV.HEARTBEAT a 3"); got != "+OK\r\n" {
				t.Errorf("current version: %q, want +OK", got)
			}
			if got := e.table("CHKV.HEARTBEAT a 1"); got.Version != 3 {
				t.Errorf("stale version: got table version %d, want 3", got.Version)
			}
		}
		{ // status
			rep, err := e.c.do("CHKV.STATUS")
			if err != nil || rep.kind() != '$' {
				t.Fatalf("CHKV.STATUS: %q, %v", rep.rawOrNil(), err)
			}
			var st struct {
				Version  uint64
				Stable   bool
				Replicas int
				Members  []struct {
					ID, Addr, Rack, State string
					Primaries, Replicas   int
				}
			}
			if err := json.Unmarshal([]byte(rep.bulk()), &st); err != nil {
				t.Fatal(err)
			}
			if st.Version != 3 || !st.Stable || st.Replicas != 1 || len(st.Members) != 3 {
				t.Fatalf("status %+v", st)
			}
			prim := 0
			for _, m := range st.Members {
				if m.State != "up" || m.Addr != m.ID+":7000" || m.Rack != "rack-"+m.ID || m.Primaries == 0 {
					t.Errorf("member %+v", m)
				}
				prim += m.Primaries
			}
			if prim != NumSlots {
				t.Errorf("primaries sum to %d, want %d", prim, NumSlots)
			}
		}
		{ // leave
			if got := e.do("CHKV.LEAVE b"); got != "+OK\r\n" {
				t.Fatalf("CHKV.LEAVE b: %q", got)
			}
			// With no data to move, the leave completes at once: version 4
			// gives b's slots away, version 5 removes it.
			tb := e.nn.Table()
			if _, ok := tb.Member("b"); tb.Version != 5 || ok {
				t.Fatalf("after leave: version %d, b still a member: %v", tb.Version, ok)
			}
			if got := e.do("CHKV.LEAVE b"); got != "+OK\r\n" || e.version() != 5 {
				t.Fatalf("leave again: %q, version %d; want +OK (it has left) and no change", got, e.version())
			}
			if got := e.do("CHKV.HEARTBEAT b 5"); got != "-ERR chkv: node b has left the cluster\r\n" {
				t.Fatalf("heartbeat after leaving: %q", got)
			}
			synctest.Wait()
			if got := fakes["b"].lastPushed(); got < 4 { // 4 (b owns nothing) or 5 (b is gone): either tells b it is done
				t.Errorf("the leaving node was last pushed version %d, want 4 or 5", got)
			}
		}
		{ // ping and quit
			if got := e.do("PING"); got != "+PONG\r\n" {
				t.Errorf("PING: %q", got)
			}
			if got := e.do("ping hi"); got != "$2\r\nhi\r\n" {
				t.Errorf("PING hi: %q", got)
			}
			if got := e.do("QUIT"); got != "+OK\r\n" {
				t.Errorf("QUIT: %q", got)
			}
			if _, err := e.c.recv(); err == nil {
				t.Errorf("the connection is still open after QUIT")
			}
		}
	})
}

func TestNameNodeFailureDetection(t *testing.T) {
	hbt, pi, pt := tHeartbeatTimeout, tProbeInterval, tProbeTimeout
	cases := []struct {
		name string
		// cut makes node a unreachable (its heartbeats stop with it).
		cut func(e *nnEnv, a *fakeDataNode)
		// downAfter is when a is declared down, counted from its last heartbeat.
		downAfter time.Duration
	}{
		{"isolated: probes refused", func(e *nnEnv, a *fakeDataNode) { e.mn.Isolate("a") }, hbt + 2*pi},
		{"listener closed: probes refused", func(e *nnEnv, a *fakeDataNode) { a.stopListening() }, hbt + 2*pi},
		{"silent: probes time out", func(e *nnEnv, a *fakeDataNode) { e.mn.DelayLink("a", "nn", time.Hour) }, hbt + 3*pt + 2*pi},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := startNameNodeEnv(t)
				a := e.register("a")
				e.register("b")
				e.register("c")
				time.Sleep(time.Second)
				if got := e.do("CHKV.HEARTBEAT a 3"); got != "+OK\r\n" {
					t.Fatalf("heartbeat: %q", got)
				}
				tc.cut(e, a)
				time.Sleep(tc.downAfter - time.Millisecond)
				synctest.Wait()
				if e.state("a") != NodeUp || e.version() != 3 {
					t.Fatalf("1ms before %v: a is %v at version %d; want up at 3", tc.downAfter, e.state("a"), e.version())
				}
				time.Sleep(2 * time.Millisecond)
				synctest.Wait()
				if e.state("a") != NodeDown || e.version() != 4 {
					t.Fatalf("1ms after %v: a is %v at version %d; want down at 4", tc.downAfter, e.state("a"), e.version())
				}
				if p, r := e.nn.Table().Load("a"); p+r != 0 {
					t.Errorf("the down node still holds %d+%d copies", p, r)
				}
				if e.state("b") != NodeUp || e.state("c") != NodeUp {
					t.Errorf("b and c, silent but answering probes, are %v and %v", e.state("b"), e.state("c"))
				}
			})
		})
	}

	t.Run("healed before the probes finish", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := startNameNodeEnv(t)
			e.register("a")
			e.register("b")
			e.mn.Isolate("a")
			time.Sleep(hbt + pi/2) // the first probe has failed
			e.mn.Heal()
			time.Sleep(10 * hbt) // the second probe succeeds; later ones too
			synctest.Wait()
			if e.state("a") != NodeUp || e.version() != 2 {
				t.Fatalf("a is %v at version %d; want up at 2", e.state("a"), e.version())
			}
		})
	})

	t.Run("heartbeat between probes restarts the clock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := startNameNodeEnv(t)
			e.register("a")
			e.register("b")
			e.mn.Isolate("a") // probes fail, but a's heartbeats still get through
			time.Sleep(hbt + pi/2)
			if got := e.do("CHKV.HEARTBEAT a 2"); got != "+OK\r\n" {
				t.Fatalf("heartbeat: %q", got)
			}
			time.Sleep(hbt + 2*pi - time.Millisecond)
			synctest.Wait()
			if e.state("a") != NodeUp {
				t.Fatalf("1ms before the timeout after the last heartbeat: a is %v", e.state("a"))
			}
			time.Sleep(2 * time.Millisecond)
			synctest.Wait()
			if e.state("a") != NodeDown {
				t.Fatalf("1ms after: a is %v", e.state("a"))
			}
		})
	})

	t.Run("heartbeat during the last probe, then silence", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := startNameNodeEnv(t)
			e.register("a")
			e.register("b")
			e.mn.DelayLink("a", "nn", time.Hour) // probes time out
			// The third probe runs from hbt+2pi+2pt to hbt+2pi+3pt; a
			// heartbeat (from the test's connection) lands in the middle.
			time.Sleep(hbt + 2*pi + 2*pt + pt/2)
			if got := e.do("CHKV.HEARTBEAT a 2"); got != "+OK\r\n" {
				t.Fatalf("heartbeat: %q", got)
			}
			time.Sleep(pt)
			synctest.Wait()
			if e.state("a") != NodeUp {
				t.Fatalf("after the heartbeat: a is %v", e.state("a"))
			}
			// Silent from then on: declared down one full detection later.
			time.Sleep(hbt + 3*pt + 2*pi)
			synctest.Wait()
			if e.state("a") != NodeDown {
				t.Fatalf("a silent since its last heartbeat is %v, want down", e.state("a"))
			}
		})
	})

	t.Run("down node comes back once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := startNameNodeEnv(t)
			a := e.register("a")
			e.register("b")
			e.register("c")
			e.mn.Isolate("a")
			time.Sleep(hbt + 2*pi + time.Millisecond)
			synctest.Wait()
			if e.state("a") != NodeDown {
				t.Fatalf("a is %v, want down", e.state("a"))
			}
			e.mn.Heal()
			if got := e.do("CHKV.HEARTBEAT a 4"); got != "-ERR chkv: node a is marked down: register again\r\n" {
				t.Fatalf("heartbeat of a down node: %q", got)
			}
			if got := e.do("CHKV.LEAVE a"); got != "-ERR chkv: node a is down: it can leave once it is back\r\n" {
				t.Fatalf("leave of a down node: %q", got)
			}
			tb := e.table("CHKV.REGISTER a " + a.addr + " rack-a 1")
			if tb.Version != 5 || len(tb.Members) != 3 || e.state("a") != NodeUp {
				t.Fatalf("after rejoin: version %d, %d members, a %v; want 5, 3, up", tb.Version, len(tb.Members), e.state("a"))
			}
			for _, id := range []NodeID{"a", "b", "c"} {
				if p, _ := tb.Load(id); p < NumSlots/3 || p > NumSlots/3+1 {
					t.Errorf("%s leads %d slots, want a third", id, p)
				}
			}
			time.Sleep(10 * hbt) // the rejoined node is watched again, and answers probes
			synctest.Wait()
			if e.state("a") != NodeUp || e.version() != 5 {
				t.Fatalf("later: a is %v at version %d", e.state("a"), e.version())
			}
			if got := a.lastPushed(); got != 5 {
				t.Errorf("a was last pushed version %d, want 5", got)
			}
		})
	})
}

func TestNameNodeBadInput(t *testing.T) {
	cases := []struct{ cmd, want string }{
		{`CHKV.REGISTER "" d:7000 r 1`, "-ERR chkv: empty node id\r\n"},
		{`CHKV.REGISTER d nohostport r 1`, "-ERR chkv: bad node address \"nohostport\": want host:port\r\n"},
		{`CHKV.REGISTER d "" r 1`, "-ERR chkv: bad node address \"\": want host:port\r\n"},
		{`CHKV.REGISTER d d:7000 r x`, "-ERR chkv: bad weight \"x\": want an integer from 1 to 64\r\n"},
		{`CHKV.REGISTER d d:7000 r 0`, "-ERR chkv: bad weight \"0\": want an integer from 1 to 64\r\n"},
		{`CHKV.REGISTER d d:7000 r 65`, "-ERR chkv: bad weight \"65\": want an integer from 1 to 64\r\n"},
		{`CHKV.REGISTER d d:7000 r`, "-ERR wrong number of arguments for 'chkv.register' command\r\n"},
		{`CHKV.REGISTER a other:7000 r 1`, "-ERR chkv: duplicate node id \"a\": already up at a:7000\r\n"},
		{`CHKV.REGISTER d a:7000 r 1`, "-ERR chkv: address a:7000 already used by node \"a\"\r\n"},
		{`CHKV.HEARTBEAT zz 3`, "-ERR chkv: unknown node zz\r\n"},
		{`CHKV.HEARTBEAT a x`, "-ERR chkv: bad table version \"x\"\r\n"},
		{`CHKV.HEARTBEAT a`, "-ERR wrong number of arguments for 'chkv.heartbeat' command\r\n"},
		{`CHKV.LEAVE zz`, "-ERR chkv: unknown node zz\r\n"},
		{`CHKV.TABLE x`, "-ERR wrong number of arguments for 'chkv.table' command\r\n"},
		{`CHKV.HANDEDOFF zz 1 a`, "-ERR chkv: unknown node zz\r\n"},
		{`CHKV.HANDEDOFF a 16384 b`, "-ERR chkv: bad slot \"16384\"\r\n"},
		{`CHKV.HANDEDOFF a 1 b 2`, "-ERR chkv: want slot target pairs\r\n"},
		{`CHKV.HANDEDOFF a 1`, "-ERR wrong number of arguments for 'chkv.handedoff' command\r\n"},
		{`CHKV.HANDEDOFF a VERSION x 1 b`, "-ERR chkv: bad table version \"x\"\r\n"},
		{`CHKV.HANDEDOFF a VERSION 0 1 b`, "-ERR chkv: bad table version \"0\"\r\n"},
		{`CHKV.HANDEDOFF a 1 zz`, ":0\r\n"},    // no such target: nothing follows
		{`CHKV.HANDEDOFF a 0 a 1 a`, ":0\r\n"}, // to itself

		{`SET k v`, "-ERR unknown command 'SET', with args beginning with: 'k' 'v' \r\n"},
	}
	// withCluster runs check in a bubble with nodes a, b and c registered,
	// then requires that the table did not change.
	withCluster := func(t *testing.T, check func(t *testing.T, e *nnEnv)) {
		synctest.Test(t, func(t *testing.T) {
			e := startNameNodeEnv(t)
			for _, id := range []string{"a", "b", "c"} {
				e.register(id)
			}
			before := e.nn.Table()
			check(t, e)
			if got := e.nn.Table(); got != before {
				t.Fatalf("the table changed: version %d -> %d", before.Version, got.Version)
			}
		})
	}
	for _, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			withCluster(t, func(t *testing.T, e *nnEnv) {
				if got := e.do(tc.cmd); got != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			})
		})
	}
	t.Run("a reported handoff moves the slot to its target", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// With data movement: the fake DataNodes fail every MIGRATE,
			// so the served table keeps what it has until a report.
			// Without replicas, so no copy to a new replica starts a
			// batch on a slot its primary keeps.
			e := startNameNodeEnv(t, func(c *NameNodeConfig) { c.NoDataMovement, c.Ring.Replicas = false, 0 })
			for _, id := range []string{"a", "b", "c"} {
				e.register(id)
			}
			// A slot that a leads and whose owners the plan keeps as they
			// are, with no batch under way (one started before the plan
			// changed may still be): none will be, neither a move nor a
			// copy to a new replica.
			e.nn.mu.Lock()
			before, plan := e.nn.table, e.nn.plan
			s := 0
			for ; s < NumSlots; s++ {
				p, _ := before.Primary(s)
				if p.ID == "a" && slices.Equal(before.Owners(s), plan.Owners(s)) && e.nn.mig.jobs[s] == nil {
					break
				}
			}
			e.nn.mu.Unlock()
			if s == NumSlots {
				t.Fatal("no slot that a leads and keeps unchanged")
			}
			if got := e.do(fmt.Sprintf("CHKV.HANDEDOFF a %d b", s)); got != ":1\r\n" {
				e.nn.mu.Lock()
				p, _ := e.nn.table.Primary(s)
				m, _ := e.nn.plan.Member("b")
				j := e.nn.mig.jobs[s] != nil
				e.nn.mu.Unlock()
				t.Fatalf("got %q (slot %d primary %s, b %v, job %v)", got, s, p.ID, m.State, j)
			}
			after := e.nn.Table()
			if p, _ := after.Primary(s); p.ID != "b" || after.Version <= before.Version {
				t.Errorf("slot %d: primary %s at version %d (was %d)", s, p.ID, after.Version, before.Version)
			}
			if got := e.do(fmt.Sprintf("CHKV.HANDEDOFF a %d b", s)); got != ":0\r\n" {
				t.Errorf("again: got %q, want :0 (the table no longer gives the slot to a)", got)
			}
		})
	})
	t.Run("stale heartbeat gets the table", func(t *testing.T) {
		withCluster(t, func(t *testing.T, e *nnEnv) {
			if got := e.table("CHKV.HEARTBEAT b 1"); got.Version != 3 {
				t.Errorf("got version %d", got.Version)
			}
		})
	})
	t.Run("restart re-registers without a change", func(t *testing.T) {
		withCluster(t, func(t *testing.T, e *nnEnv) {
			if got := e.table("CHKV.REGISTER b b:7000 rack-b 1"); got.Version != 3 {
				t.Errorf("got version %d", got.Version)
			}
		})
	})
	t.Run("protocol error closes", func(t *testing.T) {
		withCluster(t, func(t *testing.T, e *nnEnv) {
			c := e.dial()
			if _, err := c.c.Write([]byte("*1\r\n$-5\r\n")); err != nil {
				t.Fatal(err)
			}
			rep, err := c.recv()
			if err != nil || string(rep.raw) != "-ERR Protocol error: invalid bulk length\r\n" {
				t.Fatalf("got %q, %v", rep.rawOrNil(), err)
			}
			if _, err := c.recv(); err == nil {
				t.Errorf("the connection is still open")
			}
		})
	})
	t.Run("the last live node cannot leave", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := startNameNodeEnv(t)
			e.register("solo")
			got := e.do("CHKV.LEAVE solo")
			if !strings.HasPrefix(got, "-ERR chkv: ") || !strings.Contains(got, "the last live node cannot leave") {
				t.Errorf("got %q", got)
			}
			if e.version() != 1 || e.state("solo") != NodeUp {
				t.Errorf("version %d, solo %v", e.version(), e.state("solo"))
			}
		})
	})
}

func TestNameNodeDataDir(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		e := startNameNodeEnv(t, func(c *NameNodeConfig) { c.DataDir = dir })
		fakes := []*fakeDataNode{e.register("a"), e.register("b"), e.register("c")}
		if got := e.do("CHKV.LEAVE c"); got != "+OK\r\n" {
			t.Fatalf("leave: %q", got)
		}
		want := e.nn.Table()
		e.nn.Close()
		for _, f := range fakes {
			f.stopListening() // nobody answers probes after the restart
		}

		e.restart()
		got := e.nn.Table()
		if got.Version != 5 || len(got.Members) != 2 { // the leave of c completed: c is gone
			t.Fatalf("resumed version %d with %d members, want 5 and 2", got.Version, len(got.Members))
		}
		for i, m := range want.Members {
			if got.Members[i] != m {
				t.Errorf("member %d: %+v, want %+v", i, got.Members[i], m)
			}
		}
		for s := range NumSlots {
			if g, w := got.Owners(s), want.Owners(s); strings.Join(nodeStrings(g), ",") != strings.Join(nodeStrings(w), ",") {
				t.Fatalf("slot %d owners %v, want %v", s, g, w)
			}
		}
		if tb := e.table("CHKV.TABLE"); tb.Version != 5 {
			t.Errorf("CHKV.TABLE after restart: version %d", tb.Version)
		}
		// Every member gets a full HeartbeatTimeout of grace before probing.
		time.Sleep(tHeartbeatTimeout - time.Millisecond)
		synctest.Wait()
		if e.version() != 5 {
			t.Fatalf("a member was declared down within its grace: version %d", e.version())
		}
		if got := e.do("CHKV.HEARTBEAT a 5"); got != "+OK\r\n" {
			t.Fatalf("heartbeat after restart: %q", got)
		}
		time.Sleep(2*tProbeInterval + 2*time.Millisecond)
		synctest.Wait()
		if e.state("a") != NodeUp || e.state("b") != NodeDown || e.state("c") != 0 {
			t.Fatalf("states a %v b %v c %v; want up (heard from), down, gone", e.state("a"), e.state("b"), e.state("c"))
		}
	})
}

func TestNameNodeDataDirCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, tableFile), []byte("not a table"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultNameNodeConfig()
	cfg.DataDir = dir
	nn, err := StartNameNode(context.Background(), cfg)
	if err == nil {
		nn.Close()
		t.Fatal("a NameNode started on a corrupt table file")
	}
	if !strings.HasPrefix(err.Error(), "chkv: namenode: load table") {
		t.Errorf("error %q", err)
	}
}

// TestNameNodeTCP runs a NameNode over TCP with a real DataNode registered.
func TestNameNodeTCP(t *testing.T) {
	nn, err := StartNameNode(context.Background(), DefaultNameNodeConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer nn.Close()
	d := RunT(t)
	c := dialResp(t, "tcp", nn.Addr())
	rep, err := c.do("CHKV.REGISTER", "d1", d.Addr(), "", "2")
	if err != nil {
		t.Fatal(err)
	}
	tb := decodeTableReply(t, "CHKV.REGISTER", rep)
	if m, ok := tb.Member("d1"); tb.Version != 1 || !ok || m.Addr != d.Addr() || m.Weight != 2 {
		t.Fatalf("table version %d, member %+v", tb.Version, m)
	}
	if p, _ := tb.Load("d1"); p != NumSlots {
		t.Errorf("the only node leads %d slots", p)
	}
	if err := nn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	nn.Close() // safe twice
}

func nodeStrings(ids []NodeID) []string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return s
}

func TestNameNodeWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := startNameNodeEnv(t)
		w := e.dial()
		if err := w.send("CHKV.WATCH"); err != nil {
			t.Fatal(err)
		}
		next := func(want uint64) {
			t.Helper()
			rep, err := w.recv()
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			if got := decodeTableReply(t, "CHKV.WATCH", rep); got.Version != want {
				t.Fatalf("watch got version %d, want %d", got.Version, want)
			}
		}
		next(0)
		e.register("a")
		next(1)
		e.register("b")
		next(2)
		e.do("CHKV.LEAVE b")
		next(4) // the leave's two tables (b's slots go, then b) are coalesced
		e.mn.Isolate("a")
		time.Sleep(tHeartbeatTimeout + 2*tProbeInterval + time.Millisecond)
		next(5) // a declared down
		e.do("CHKV.HEARTBEAT a 5")
		synctest.Wait()
		w.c.SetReadDeadline(time.Now().Add(time.Minute))
		if rep, err := readReply(w.r); err == nil {
			t.Fatalf("the watcher got %q without a change", rep.raw)
		}
	})
}
