// Raft over chkv's Transport: one listener shared by RESP and Raft, split by the first byte of each connection.

package chkv

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// raftHello is the first byte a Raft peer writes on a connection it dials.
// No RESP request starts with it: a multibulk starts with '*' and an inline
// command with printable text, so one byte tells the two apart.
const raftHello = 0xFE

// ConnMux splits one listener into two: connections whose first byte is the
// Raft hello go to the Raft listener, every other connection (with its first
// byte given back) to the RESP listener. This lets a NameNode serve Raft and
// RESP on its single address, over any Transport (memory, TCP, TLS).
//
// Closing either listener, or the mux, closes the underlying listener and
// every connection still waiting for its first byte.
type ConnMux struct {
	base   net.Listener
	resp   *muxListener
	raft   *muxListener
	closed chan struct{}
	once   sync.Once
	err    error

	mu      sync.Mutex
	pending map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// NewConnMux starts splitting base's connections. Accept on RESP and Raft.
func NewConnMux(base net.Listener) *ConnMux {
	m := &ConnMux{
		base:    base,
		closed:  make(chan struct{}),
		pending: make(map[net.Conn]struct{}),
	}
	m.resp = &muxListener{m: m, ch: make(chan net.Conn)}
	m.raft = &muxListener{m: m, ch: make(chan net.Conn)}
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

// RESP returns the listener of connections that are not Raft's.
func (m *ConnMux) RESP() net.Listener { return m.resp }

// Raft returns the listener of connections that opened with the Raft hello.
func (m *ConnMux) Raft() net.Listener { return m.raft }

// Close closes the underlying listener and the connections not yet handed out.
func (m *ConnMux) Close() error {
	m.once.Do(func() {
		close(m.closed)
		m.err = m.base.Close()
		m.mu.Lock()
		for c := range m.pending {
			_ = c.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return m.err
}

func (m *ConnMux) isClosed() bool {
	select {
	case <-m.closed:
		return true
	default:
		return false
	}
}

func (m *ConnMux) acceptLoop() {
	defer m.wg.Done()
	var backoff time.Duration
	for {
		c, err := m.base.Accept()
		if err != nil {
			if m.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-m.closed:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		m.mu.Lock()
		if m.isClosed() {
			m.mu.Unlock()
			_ = c.Close()
			return
		}
		m.pending[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.classify(c)
	}
}

// classify reads the first byte of c and hands c to the listener it names.
func (m *ConnMux) classify(c net.Conn) {
	defer m.wg.Done()
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	m.mu.Lock()
	delete(m.pending, c)
	m.mu.Unlock()
	if err != nil {
		_ = c.Close()
		return
	}
	to, out := m.resp, net.Conn(&peekedConn{Conn: c, first: b[0], has: true})
	if b[0] == raftHello {
		to, out = m.raft, c
	}
	select {
	case to.ch <- out:
	case <-m.closed:
		_ = c.Close()
	}
}

// muxListener is one side of a ConnMux.
type muxListener struct {
	m  *ConnMux
	ch chan net.Conn
}

// Accept waits for the next connection of this side.
func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.m.closed:
		return nil, &net.OpError{Op: "accept", Net: l.m.base.Addr().Network(), Addr: l.m.base.Addr(), Err: net.ErrClosed}
	}
}

// Close closes the whole mux.
func (l *muxListener) Close() error { return l.m.Close() }

// Addr is the underlying listener's address.
func (l *muxListener) Addr() net.Addr { return l.m.base.Addr() }

// peekedConn gives back the byte the mux read before the connection's other bytes.
type peekedConn struct {
	net.Conn
	mu    sync.Mutex
	first byte
	has   bool
}

func (c *peekedConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.has && len(b) > 0 {
		b[0] = c.first
		c.has = false
		c.mu.Unlock()
		return 1, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(b)
}

// CloseWrite half-closes when the underlying connection can.
func (c *peekedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("chkv: connection cannot half-close")
}

// RaftStream is a raft.StreamLayer over a chkv Transport: it accepts on a
// ConnMux's Raft side and dials peers through the Transport, writing the
// Raft hello first, so Raft inherits the transport's TLS settings and, on a
// MemNetwork, its fault controls.
//
// With a secret (WithSecret), the dialer sends it after the hello (2-byte
// big-endian length, then the bytes) and Accept hands Raft only the
// connections that presented it, as RESP requires AUTH of a cluster's
// internal commands: without it anyone reaching the address could write
// the NameNodes' log.
type RaftStream struct {
	ln        net.Listener
	transport Transport
	advertise net.Addr
	secret    []byte
	checked   bool // connections carry the secret frame (WithSecret called)

	once sync.Once
	ch   chan net.Conn
	done chan struct{} // closed when ln fails; err says why
	err  error
}

// raftSecretMax bounds the secret a Raft peer presents.
const raftSecretMax = 1024

// raftSecretTimeout bounds the wait for a Raft peer's secret.
const raftSecretTimeout = 5 * time.Second

// WithSecret makes the stream present secret on the connections it dials
// and require it of those it accepts; every member of a group must use the
// same. It returns s and must be called before the stream is used.
func (s *RaftStream) WithSecret(secret string) *RaftStream {
	s.secret, s.checked = []byte(secret), true
	return s
}

var _ raft.StreamLayer = (*RaftStream)(nil)

// NewRaftStream returns the stream layer of one NameNode. advertise is the
// address its peers dial (its --addr); empty means ln's address.
func NewRaftStream(ln net.Listener, t Transport, advertise string) *RaftStream {
	s := &RaftStream{ln: ln, transport: t, advertise: ln.Addr()}
	if advertise != "" {
		s.advertise = raftAddr(advertise)
	}
	return s
}

// Accept waits for the next connection from a Raft peer (with a secret,
// the next that presented it).
func (s *RaftStream) Accept() (net.Conn, error) {
	if !s.checked {
		return s.ln.Accept()
	}
	s.once.Do(func() {
		s.ch, s.done = make(chan net.Conn), make(chan struct{})
		go s.acceptLoop()
	})
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.done:
		return nil, s.err
	}
}

// acceptLoop checks each connection's secret on a goroutine of its own,
// so that a silent one holds up no other.
func (s *RaftStream) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.err = err
			close(s.done)
			return
		}
		go func() {
			if !s.verify(c) {
				_ = c.Close()
				return
			}
			select {
			case s.ch <- c:
			case <-s.done:
				_ = c.Close()
			}
		}()
	}
}

// verify reads the secret frame of c and compares it in constant time.
func (s *RaftStream) verify(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(raftSecretTimeout))
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return false
	}
	size := int(n[0])<<8 | int(n[1])
	if size > raftSecretMax {
		return false
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(c, b); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Time{})
	return subtle.ConstantTimeCompare(b, s.secret) == 1
}

// Close closes the listener (and with it the mux it belongs to).
func (s *RaftStream) Close() error { return s.ln.Close() }

// Addr is the address peers dial to reach this node.
func (s *RaftStream) Addr() net.Addr { return s.advertise }

// Dial connects to the peer at address within timeout and sends the Raft hello.
func (s *RaftStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.transport.Dial(ctx, string(address))
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	hello := []byte{raftHello}
	if s.checked {
		hello = append(hello, byte(len(s.secret)>>8), byte(len(s.secret)))
		hello = append(hello, s.secret...)
	}
	if _, err := c.Write(hello); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("chkv: raft hello to %s: %w", address, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// raftAddr is an advertised "host:port" as a net.Addr.
type raftAddr string

func (a raftAddr) Network() string { return "tcp" }
func (a raftAddr) String() string  { return string(a) }

// OpenRaftStores opens a NameNode's durable Raft state in dir: the log and
// stable store in dir/raft.db (raft-boltdb) and snapshots under
// dir/snapshots (keeping the last 2). Close the BoltStore after the Raft
// node shuts down.
func OpenRaftStores(dir string) (*raftboltdb.BoltStore, *raft.FileSnapshotStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("chkv: raft data dir: %w", err)
	}
	bs, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return nil, nil, fmt.Errorf("chkv: raft log store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
	if err != nil {
		_ = bs.Close()
		return nil, nil, fmt.Errorf("chkv: raft snapshot store: %w", err)
	}
	return bs, snaps, nil
}
