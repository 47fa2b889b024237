// MemNetwork tests: addresses, fault controls, delays and back-pressure under synctest, and goroutine hygiene.

package chkv

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// memPair dials from node from to a fresh listener of node to.
func memPair(t *testing.T, n *MemNetwork, from, to string) (client, server net.Conn) {
	t.Helper()
	return connPair(t, n.Transport(to), n.Transport(from))
}

// exchange sends a message each way and reports the first error.
func exchange(c, s net.Conn) error {
	buf := make([]byte, 4)
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	if _, err := io.ReadFull(s, buf); err != nil {
		return err
	}
	if _, err := s.Write([]byte("pong")); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "pong" {
		return errors.New("exchange garbled")
	}
	return nil
}

// wantErrno fails t unless err is a *net.OpError matching errno.
func wantErrno(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	var op *net.OpError
	if !errors.Is(err, errno) || !errors.As(err, &op) {
		t.Fatalf("%s: got %v, want a *net.OpError matching %v", what, err, errno)
	}
}

func TestMemListenAddresses(t *testing.T) {
	n := &MemNetwork{}
	defer n.Close()
	listen := func(node, addr string) (net.Listener, error) {
		l, err := n.Transport(node).Listen(addr)
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
		return l, err
	}
	seen := map[string]bool{}
	cases := []struct {
		name, node, addr, wantPrefix string
	}{
		{"Empty", "a", "", "a:"},
		{"PortZero", "a", ":0", "a:"},
		{"HostPortZero", "a", "10.0.0.1:0", "10.0.0.1:"},
		{"Loopback", "b", "127.0.0.1:0", "127.0.0.1:"},
		{"UnnamedNode", "", "", "mem:"},
		{"Explicit", "a", "db-1:7000", "db-1:7000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := listen(c.node, c.addr)
			if err != nil {
				t.Fatalf("Listen(%q): %v", c.addr, err)
			}
			a, ok := l.Addr().(MemAddr)
			if !ok || a.Network() != "mem" || a.Node != c.node || !strings.HasPrefix(a.String(), c.wantPrefix) {
				t.Fatalf("Addr = %#v, want a mem address of node %q starting %q", l.Addr(), c.node, c.wantPrefix)
			}
			if seen[a.Addr] {
				t.Fatalf("address %q handed out twice", a.Addr)
			}
			seen[a.Addr] = true
		})
	}

	_, err := listen("b", "db-1:7000")
	wantErrno(t, "Listen on a taken address", err, syscall.EADDRINUSE)

	l, err := listen("c", "db-2:7000")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := listen("c", "db-2:7000"); err != nil {
		t.Fatalf("Listen on the address of a closed listener: %v", err)
	}
}

func TestMemDialRefused(t *testing.T) {
	n := &MemNetwork{}
	defer n.Close()
	_, err := n.Transport("a").Dial(context.Background(), "nowhere:1")
	wantErrno(t, "Dial with no listener", err, syscall.ECONNREFUSED)
	if !strings.Contains(err.Error(), "chkv: mem: connection refused") {
		t.Errorf("Dial error %q does not say what happened", err)
	}
}

func TestMemConnAddrs(t *testing.T) {
	n := &MemNetwork{}
	defer n.Close()
	c, s := memPair(t, n, "client", "server")
	checks := []struct {
		name string
		addr net.Addr
		node string
	}{
		{"client local", c.LocalAddr(), "client"},
		{"client remote", c.RemoteAddr(), "server"},
		{"server local", s.LocalAddr(), "server"},
		{"server remote", s.RemoteAddr(), "client"},
	}
	for _, ch := range checks {
		if a, ok := ch.addr.(MemAddr); !ok || a.Node != ch.node || a.Network() != "mem" {
			t.Errorf("%s addr = %#v, want a mem address of node %q", ch.name, ch.addr, ch.node)
		}
	}
}

// TestMemFaults applies each fault to a full mesh of connections between
// four nodes, then checks which connections were cut and which dials are
// refused, and that Heal lets every dial through again.
func TestMemFaults(t *testing.T) {
	type pair = [2]string
	memNodes := []string{"a", "b", "c", "d"}
	cases := []struct {
		name    string
		fault   func(n *MemNetwork)
		cut     []pair // connections cut, whoever dialed
		refused []pair // dials refused both ways after the fault
	}{
		{
			name:    "PartitionTwoGroups",
			fault:   func(n *MemNetwork) { n.Partition([]string{"a", "b"}, []string{"c"}) },
			cut:     []pair{{"a", "c"}, {"b", "c"}},
			refused: []pair{{"a", "c"}, {"b", "c"}},
		},
		{
			name:    "PartitionOverlappingGroups",
			fault:   func(n *MemNetwork) { n.Partition([]string{"a", "b"}, []string{"b", "c"}) },
			cut:     []pair{{"a", "c"}},
			refused: []pair{{"a", "c"}},
		},
		{
			name:    "PartitionEveryNode",
			fault:   func(n *MemNetwork) { n.Partition([]string{"a"}, []string{"b"}, []string{"c"}, []string{"d"}) },
			cut:     []pair{{"a", "b"}, {"a", "c"}, {"a", "d"}, {"b", "c"}, {"b", "d"}, {"c", "d"}},
			refused: []pair{{"a", "b"}, {"a", "c"}, {"a", "d"}, {"b", "c"}, {"b", "d"}, {"c", "d"}},
		},
		{
			name: "PartitionReplacedByEmpty",
			fault: func(n *MemNetwork) {
				n.Partition([]string{"a"}, []string{"b", "c", "d"})
				n.Partition()
			},
			cut: []pair{{"a", "b"}, {"a", "c"}, {"a", "d"}},
		},
		{
			name:    "DropLink",
			fault:   func(n *MemNetwork) { n.DropLink("b", "a", true) },
			cut:     []pair{{"a", "b"}},
			refused: []pair{{"a", "b"}},
		},
		{
			name: "DropLinkRestored",
			fault: func(n *MemNetwork) {
				n.DropLink("a", "b", true)
				n.DropLink("a", "b", false)
			},
			cut: []pair{{"a", "b"}},
		},
		{
			name: "DropLinkOneDirectionRestored",
			fault: func(n *MemNetwork) {
				n.DropLink("a", "b", true)
				n.DropLink("b", "a", true)
				n.DropLink("a", "b", false)
			},
			cut:     []pair{{"a", "b"}},
			refused: []pair{{"a", "b"}},
		},
		{
			name:    "Isolate",
			fault:   func(n *MemNetwork) { n.Isolate("c") },
			cut:     []pair{{"a", "c"}, {"b", "c"}, {"c", "d"}},
			refused: []pair{{"a", "c"}, {"b", "c"}, {"c", "d"}},
		},
		{
			name:  "DelayCutsNothing",
			fault: func(n *MemNetwork) { n.DelayLink("a", "b", time.Millisecond) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			n := &MemNetwork{}
			defer n.Close()
			addrs := map[string]string{}
			for _, node := range memNodes {
				l := listenT(t, n.Transport(node))
				addrs[node] = l.Addr().String()
				go func() { // accept and hold every dial until the listener closes
					for {
						if _, err := l.Accept(); err != nil {
							return
						}
					}
				}()
			}
			type conn struct{ c, s net.Conn }
			mesh := map[pair]conn{}
			for i, a := range memNodes {
				for _, b := range memNodes[i+1:] {
					c, s := memPair(t, n, a, b)
					mesh[pair{a, b}] = conn{c, s}
				}
			}
			// A Read blocked on a connection that gets cut must wake.
			_, idle := memPair(t, n, "a", "c")
			blocked := readErr(idle)
			in := func(ps []pair, a, b string) bool {
				for _, p := range ps {
					if p == (pair{a, b}) || p == (pair{b, a}) {
						return true
					}
				}
				return false
			}
			dial := func(from, to string) error {
				c, err := n.Transport(from).Dial(context.Background(), addrs[to])
				if err == nil {
					c.Close()
				}
				return err
			}

			tc.fault(n)

			for p, cs := range mesh {
				err := exchange(cs.c, cs.s)
				if in(tc.cut, p[0], p[1]) {
					wantErrno(t, p[0]+"-"+p[1]+" exchange", err, syscall.ECONNRESET)
					_, err = cs.s.Read(make([]byte, 1))
					wantErrno(t, p[0]+"-"+p[1]+" server Read", err, syscall.ECONNRESET)
				} else if err != nil {
					t.Errorf("%s-%s: exchange on a live link: %v", p[0], p[1], err)
				}
			}
			if in(tc.cut, "a", "c") {
				wantErrno(t, "Read blocked across the cut", <-blocked, syscall.ECONNRESET)
			}
			for _, a := range memNodes {
				for _, b := range memNodes {
					err := dial(a, b)
					if a != b && in(tc.refused, a, b) {
						wantErrno(t, "Dial "+a+"->"+b, err, syscall.ECONNREFUSED)
					} else if err != nil {
						t.Errorf("Dial %s->%s: %v", a, b, err)
					}
				}
			}

			n.Heal()
			for _, a := range memNodes {
				for _, b := range memNodes {
					if err := dial(a, b); err != nil {
						t.Errorf("Dial %s->%s after Heal: %v", a, b, err)
					}
				}
			}
			if in(tc.cut, "a", "b") {
				err := exchange(mesh[pair{"a", "b"}].c, mesh[pair{"a", "b"}].s)
				wantErrno(t, "a cut connection after Heal", err, syscall.ECONNRESET)
			}
			if !in(tc.cut, "a", "c") {
				idle.Close()
				<-blocked
			}
		})
	}
}

func TestMemDelayLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &MemNetwork{}
		defer n.Close()
		c, s := memPair(t, n, "client", "server")
		n.DelayLink("client", "server", 100*time.Millisecond)
		buf := make([]byte, 8)

		start := time.Now()
		if _, err := c.Write([]byte("a")); err != nil {
			t.Fatal(err)
		}
		// The write returned at once; the bytes arrive after the delay.
		if _, err := io.ReadFull(s, buf[:1]); err != nil || buf[0] != 'a' {
			t.Fatalf("Read = %q, %v", buf[:1], err)
		}
		if got := time.Since(start); got != 100*time.Millisecond {
			t.Errorf("delayed byte arrived after %v, want 100ms", got)
		}

		// The other direction is not delayed.
		start = time.Now()
		s.Write([]byte("r"))
		if _, err := io.ReadFull(c, buf[:1]); err != nil || time.Since(start) != 0 {
			t.Errorf("undelayed direction: Read %v after %v, want at once", err, time.Since(start))
		}

		// A read deadline earlier than the arrival times out; the bytes
		// still arrive later.
		c.Write([]byte("b"))
		s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		_, err := s.Read(buf)
		wantTimeout(t, "Read before a delayed byte arrives", err)
		s.SetReadDeadline(time.Time{})

		// Removing the delay does not let later bytes overtake earlier ones.
		n.DelayLink("client", "server", 0)
		c.Write([]byte("c"))
		if _, err := io.ReadFull(s, buf[:2]); err != nil || string(buf[:2]) != "bc" {
			t.Fatalf("Read = %q, %v; want \"bc\" in order", buf[:2], err)
		}
		if got := time.Since(start); got != 100*time.Millisecond {
			t.Errorf("bytes arrived after %v, want 100ms", got)
		}

		// Heal removes delays on live connections.
		n.DelayLink("client", "server", time.Second)
		n.Heal()
		start = time.Now()
		c.Write([]byte("d"))
		if _, err := io.ReadFull(s, buf[:1]); err != nil || buf[0] != 'd' || time.Since(start) != 0 {
			t.Errorf("after Heal: Read %q, %v after %v; want \"d\" at once", buf[:1], err, time.Since(start))
		}

		// New connections get the delay too.
		n.DelayLink("server", "client", 50*time.Millisecond)
		c2, s2 := memPair(t, n, "client", "server")
		start = time.Now()
		s2.Write([]byte("e"))
		if _, err := io.ReadFull(c2, buf[:1]); err != nil || time.Since(start) != 50*time.Millisecond {
			t.Errorf("new connection: Read %v after %v, want 50ms", err, time.Since(start))
		}
	})
}

// TestMemSynctestBlocking shows that blocked calls are durably blocked (so
// synctest.Wait returns and fake time advances) and that deadlines run on
// fake time.
func TestMemSynctestBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &MemNetwork{}
		defer n.Close()
		c, s := memPair(t, n, "client", "server")

		read := readErr(s)
		synctest.Wait() // returns only if the Read is durably blocked
		select {
		case err := <-read:
			t.Fatalf("Read returned %v with nothing written", err)
		default:
		}
		c.Write([]byte("x"))
		synctest.Wait()
		select {
		case err := <-read:
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
		default:
			t.Fatal("Read still blocked after a Write")
		}

		start := time.Now()
		s.SetReadDeadline(start.Add(time.Hour))
		_, err := s.Read(make([]byte, 1))
		wantTimeout(t, "Read with a deadline", err)
		if got := time.Since(start); got != time.Hour {
			t.Errorf("read deadline fired after %v of fake time, want 1h", got)
		}

		l, err := n.Transport("server").Listen("")
		if err != nil {
			t.Fatal(err)
		}
		accepted := acceptErr(l)
		synctest.Wait()
		if len(accepted) != 0 {
			t.Fatal("Accept returned with no dial")
		}
		l.Close()
		if err := <-accepted; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	})
}

func TestMemBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &MemNetwork{BufferSize: 1024}
		defer n.Close()
		c, s := memPair(t, n, "client", "server")

		// Up to BufferSize, a Write returns without a reader.
		if n, err := c.Write(make([]byte, 1000)); n != 1000 || err != nil {
			t.Fatalf("Write within the buffer = %d, %v", n, err)
		}
		type result struct {
			n   int
			err error
		}
		wrote := make(chan result, 1)
		go func() {
			n, err := c.Write(make([]byte, 4000))
			wrote <- result{n, err}
		}()
		synctest.Wait()
		if len(wrote) != 0 {
			t.Fatal("Write beyond the buffer returned before the reader drained it")
		}
		got, err := io.ReadFull(s, make([]byte, 5000))
		if err != nil || got != 5000 {
			t.Fatalf("ReadFull = %d, %v", got, err)
		}
		if r := <-wrote; r.n != 4000 || r.err != nil {
			t.Fatalf("blocked Write = %d, %v; want 4000, nil", r.n, r.err)
		}

		// A Write blocked on a full buffer times out on fake time and reports
		// how much it buffered.
		start := time.Now()
		c.SetWriteDeadline(start.Add(time.Minute))
		m, err := c.Write(make([]byte, 3000))
		wantTimeout(t, "Write blocked on back-pressure", err)
		if m != 1024 || time.Since(start) != time.Minute {
			t.Fatalf("Write wrote %d after %v; want 1024 after 1m", m, time.Since(start))
		}
	})
}

func TestMemCloseWrite(t *testing.T) {
	n := &MemNetwork{}
	defer n.Close()
	c, s := memPair(t, n, "client", "server")
	c.Write([]byte("req"))
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "req" {
		t.Fatalf("server ReadAll = %q, %v; want \"req\" then EOF", got, err)
	}
	_, err = c.Write([]byte("more"))
	wantErrno(t, "Write after CloseWrite", err, syscall.EPIPE)
	// The other direction still works.
	s.Write([]byte("reply"))
	s.Close()
	got, err = io.ReadAll(c)
	if err != nil || string(got) != "reply" {
		t.Fatalf("client ReadAll = %q, %v; want \"reply\"", got, err)
	}
}

func TestMemWriteAfterPeerClose(t *testing.T) {
	n := &MemNetwork{}
	defer n.Close()
	c, s := memPair(t, n, "client", "server")
	s.Close()
	_, err := c.Write([]byte("x"))
	wantErrno(t, "Write to a closed peer", err, syscall.EPIPE)
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("Read from a closed peer = %v, want io.EOF", err)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v, want net.ErrClosed", err)
	}
	if err := s.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SetDeadline after Close = %v, want net.ErrClosed", err)
	}
}

func TestMemListenerClosePending(t *testing.T) {
	n := &MemNetwork{}
	defer n.Close()
	l, err := n.Transport("server").Listen("svc:1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.Transport("client").Dial(context.Background(), "svc:1")
	if err != nil {
		t.Fatalf("Dial before Accept: %v", err)
	}
	defer c.Close()
	l.Close()
	_, err = c.Read(make([]byte, 1))
	wantErrno(t, "Read on a connection its listener never accepted", err, syscall.ECONNRESET)
	_, err = n.Transport("client").Dial(context.Background(), "svc:1")
	wantErrno(t, "Dial after listener Close", err, syscall.ECONNREFUSED)
}

func TestMemDialBacklogFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &MemNetwork{}
		defer n.Close()
		l, err := n.Transport("server").Listen("")
		if err != nil {
			t.Fatal(err)
		}
		dt := n.Transport("client")
		for range memBacklog {
			if _, err := dt.Dial(context.Background(), l.Addr().String()); err != nil {
				t.Fatalf("Dial within the backlog: %v", err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = dt.Dial(ctx, l.Addr().String())
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Dial on a full backlog = %v after %v; want context.DeadlineExceeded after 1s", err, time.Since(start))
		}

		dialed := make(chan error, 1)
		go func() {
			c, err := dt.Dial(context.Background(), l.Addr().String())
			if err == nil {
				c.Close()
			}
			dialed <- err
		}()
		synctest.Wait()
		if len(dialed) != 0 {
			t.Fatal("Dial on a full backlog returned before an Accept")
		}
		if _, err := l.Accept(); err != nil {
			t.Fatal(err)
		}
		if err := <-dialed; err != nil {
			t.Fatalf("Dial after an Accept made room: %v", err)
		}
		l.Close()
	})
}

func TestMemNetworkClose(t *testing.T) {
	checkGoroutines(t)
	n := &MemNetwork{}
	c, _ := memPair(t, n, "client", "server")
	l, err := n.Transport("server").Listen("")
	if err != nil {
		t.Fatal(err)
	}
	accepted := acceptErr(l)
	n.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after network Close = %v, want net.ErrClosed", err)
	}
	_, err = c.Read(make([]byte, 1))
	wantErrno(t, "Read after network Close", err, syscall.ECONNRESET)
	if _, err := n.Transport("x").Listen(""); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Listen after network Close = %v, want net.ErrClosed", err)
	}
	_, err = n.Transport("x").Dial(context.Background(), l.Addr().String())
	wantErrno(t, "Dial after network Close", err, syscall.ECONNREFUSED)
	if err := n.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// TestMemFaultsUnderLoad changes faults while connections carry traffic:
// it must not race, deadlock or leave a goroutine behind.
func TestMemFaultsUnderLoad(t *testing.T) {
	checkGoroutines(t)
	memNodes := []string{"a", "b", "c", "d"}
	n := &MemNetwork{BufferSize: 4096}
	defer n.Close()
	var wg sync.WaitGroup
	for i, from := range memNodes {
		to := memNodes[(i+1)%len(memNodes)]
		c, s := memPair(t, n, from, to)
		wg.Go(func() { io.Copy(s, s); s.Close() })
		wg.Go(func() {
			buf := make([]byte, 3000)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
			}
		})
	}
	for round := range 200 {
		switch round % 4 {
		case 0:
			n.DelayLink(memNodes[round%3], memNodes[round%3+1], time.Microsecond)
		case 1:
			n.Partition(memNodes[:2], memNodes[1:])
		case 2:
			n.DropLink(memNodes[round%4], memNodes[(round+1)%4], true)
		case 3:
			n.Isolate(memNodes[round%4])
			n.Heal()
		}
	}
	n.Close() // cuts every connection, ending the loops
	wg.Wait()
}

func TestMemDeadlineErrors(t *testing.T) {
	n := &MemNetwork{}
	defer n.Close()
	c, _ := memPair(t, n, "client", "server")
	c.SetDeadline(time.Now())
	_, rerr := c.Read(make([]byte, 1))
	_, werr := c.Write([]byte("x"))
	for _, err := range []error{rerr, werr} {
		var op *net.OpError
		if !errors.As(err, &op) || op.Net != "mem" || !op.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("got %v, want a mem *net.OpError that times out", err)
		}
	}
}
