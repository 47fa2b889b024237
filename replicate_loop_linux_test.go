//go:build linux

package chkv

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestEventLoopReadsReplicationAcks runs a replication connection whose
// acknowledgements an event loop reads (io_uring, then epoll), against a
// fake replica: acknowledgements, also split across receives, release the
// frames they cover; frames written reach the replica; a refusal ends the
// session with the replica's error and closes the connection; so does the
// replica closing it; Close closes it; and purging a slot whose records
// went out resets it, so that the replica never gets what was not
// delivered yet.
func TestEventLoopReadsReplicationAcks(t *testing.T) {
	for _, mode := range []string{"io_uring", "epoll"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "epoll" {
				old := useUring
				useUring = false
				t.Cleanup(func() { useUring = old })
			}
			set := newLoopSet(1, 0, slog.New(slog.DiscardHandler))
			t.Cleanup(set.close)
			l := set.pick(0)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			// connect returns a stream whose connection the loop reads, and
			// the replica's side of it.
			connect := func(t *testing.T, st *replStream) (*ackConn, net.Conn) {
				t.Helper()
				nc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				peer, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { peer.Close() })
				peer.SetDeadline(time.Now().Add(30 * time.Second))
				a := newAckConn(l, st, nc.(*net.TCPConn))
				if a == nil {
					t.Fatal("no descriptor")
				}
				st.conn = a
				t.Cleanup(func() { a.Close() })
				return a, peer
			}
			newStream := func(frames ...replFrame) *replStream {
				st := &replStream{frames: frames, sent: len(frames), notify: make(chan struct{})}
				st.seq.Store(frames[len(frames)-1].lastSeq)
				return st
			}
			// ended returns why the loop stopped reading.
			ended := func(t *testing.T, a *ackConn) error {
				t.Helper()
				select {
				case err := <-a.ended:
					return err
				case <-time.After(30 * time.Second):
					t.Fatal("the reading did not end")
					return nil
				}
			}
			// closedByLoop checks that the replica's side sees the connection end.
			closedByLoop := func(t *testing.T, peer net.Conn, wantReset bool) {
				t.Helper()
				_, err := peer.Read(make([]byte, 1))
				switch {
				case wantReset && (err == nil || !strings.Contains(err.Error(), "reset")):
					t.Fatalf("the replica's side read %v, want a connection reset", err)
				case !wantReset && err != io.EOF:
					t.Fatalf("the replica's side read %v, want EOF", err)
				}
			}

			st := newStream(replFrame{lastSeq: 3}, replFrame{lastSeq: 5})
			a, peer := connect(t, st)
			waitAcked := func(seq uint64) {
				t.Helper()
				ch := func() chan struct{} { st.mu.Lock(); defer st.mu.Unlock(); return st.notify }()
				for st.acked.Load() < seq {
					select {
					case <-ch:
						ch = func() chan struct{} { st.mu.Lock(); defer st.mu.Unlock(); return st.notify }()
					case <-time.After(30 * time.Second):
						t.Fatalf("acked %d, want %d", st.acked.Load(), seq)
					}
				}
			}
			fmt.Fprint(peer, ":3\r\n:")
			waitAcked(3)
			fmt.Fprint(peer, "5\r\n")
			waitAcked(5)
			st.mu.Lock()
			if len(st.frames) != 0 || st.sent != 0 {
				t.Errorf("after the acknowledgements: %d frames, %d sent; want none", len(st.frames), st.sent)
			}
			st.mu.Unlock()
			if _, err := a.Write([]byte("frame")); err != nil {
				t.Fatal(err)
			}
			if n, err := a.writeNow([]byte("s\r\n")); n != 3 || err != nil {
				t.Fatalf("writeNow: %d, %v", n, err)
			}
			got := make([]byte, 8)
			if _, err := io.ReadFull(peer, got); err != nil || string(got) != "frames\r\n" {
				t.Fatalf("the replica read %q, %v", got, err)
			}
			fmt.Fprint(peer, "-ERR stale replication\r\n")
			var re *RESPError
			if err := ended(t, a); !errors.As(err, &re) || re.Msg != "ERR stale replication" {
				t.Fatalf("reading ended with %v, want the refusal", err)
			}
			closedByLoop(t, peer, false)
			if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("a write after the refusal: %v, want net.ErrClosed", err)
			}

			t.Run("replica closes", func(t *testing.T) {
				a, peer := connect(t, newStream(replFrame{lastSeq: 1}))
				peer.Close()
				if err := ended(t, a); err != io.EOF {
					t.Fatalf("reading ended with %v, want EOF", err)
				}
			})
			t.Run("Close", func(t *testing.T) {
				a, peer := connect(t, newStream(replFrame{lastSeq: 1}))
				a.Close()
				closedByLoop(t, peer, false)
			})
			t.Run("bad reply", func(t *testing.T) {
				a, peer := connect(t, newStream(replFrame{lastSeq: 1}))
				fmt.Fprint(peer, "+OK\r\n")
				if err := ended(t, a); !errors.Is(err, ErrProtocol) {
					t.Fatalf("reading ended with %v, want a protocol error", err)
				}
			})
			t.Run("purge resets", func(t *testing.T) {
				var enc recordEncoder
				enc.del(7, "k7")
				st := newStream(replFrame{lastSeq: 1, buf: enc.buf, marks: enc.marks, gens: []uint32{0}})
				_, peer := connect(t, st)
				st.purgeSlot(7)
				if st.conn != nil || st.sent != 0 {
					t.Errorf("after the reset: conn %v, sent %d; want none", st.conn, st.sent)
				}
				closedByLoop(t, peer, true)
			})
		})
	}
}
