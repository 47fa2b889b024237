// Transport tests: one suite run against the TCP (plain and TLS) and memory transports, and round-trip benchmarks.

package chkv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/errgroup"
)

// transportCase is one test of the shared suite: lt listens, dt dials.
type transportCase struct {
	name string
	fn   func(t *testing.T, lt, dt Transport)
}

// transportCases is the shared suite every Transport passes.
func transportCases() []transportCase {
	return []transportCase{
		{"Echo", testTransportEcho},
		{"LargeBothWays", testTransportLargeBothWays},
		{"ManyConns", testTransportManyConns},
		{"ReadDeadline", testTransportReadDeadline},
		{"WriteDeadline", testTransportWriteDeadline},
		{"CloseWakesRead", testTransportCloseWakesRead},
		{"PeerCloseEOF", testTransportPeerCloseEOF},
		{"ListenerCloseUnblocksAccept", testTransportListenerClose},
		{"DialClosedListener", testTransportDialClosed},
		{"DialCanceled", testTransportDialCanceled},
	}
}

// testTransport runs the shared suite; newT returns the transports to
// listen and to dial with, fresh for each case. Each case also checks that
// no goroutine outlives it.
func testTransport(t *testing.T, newT func(t *testing.T) (listenT, dialT Transport)) {
	t.Helper()
	for _, c := range transportCases() {
		t.Run(c.name, func(t *testing.T) {
			checkGoroutines(t)
			lt, dt := newT(t)
			c.fn(t, lt, dt)
		})
	}
}

func TestTCPTransport(t *testing.T) {
	testTransport(t, func(t *testing.T) (Transport, Transport) {
		return &TCPTransport{}, &TCPTransport{DialTimeout: 10 * time.Second}
	})
}

func TestTLSTransport(t *testing.T) {
	certs := newTestCerts(t)
	testTransport(t, func(t *testing.T) (Transport, Transport) {
		return &TCPTransport{TLS: certs.server(t)}, &TCPTransport{ClientTLS: certs.client(t, true)}
	})
}

func TestMemTransport(t *testing.T) {
	testTransport(t, func(t *testing.T) (Transport, Transport) {
		n := &MemNetwork{}
		t.Cleanup(func() { n.Close() })
		return n.Transport("server"), n.Transport("client")
	})
}

// TestMemTransportSynctest runs the shared suite in synctest bubbles: every
// wait is on fake time, and a goroutine left blocked fails the test.
func TestMemTransportSynctest(t *testing.T) {
	for _, c := range transportCases() {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := &MemNetwork{}
				t.Cleanup(func() { n.Close() })
				c.fn(t, n.Transport("server"), n.Transport("client"))
			})
		})
	}
}

// checkGoroutines fails t when, at its end, more goroutines run than at its start.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines leaked: %d before, %d after\n%s",
					before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// listenT listens on a fresh loopback address and closes the listener at the end of t.
func listenT(t *testing.T, lt Transport) net.Listener {
	t.Helper()
	l, err := lt.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// acceptOne accepts one connection in the background and completes its
// TLS handshake, if any; the channel yields the conn or nil.
func acceptOne(t *testing.T, l net.Listener) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
			ch <- nil
			return
		}
		if tc, ok := c.(*tls.Conn); ok {
			if err := tc.Handshake(); err != nil {
				t.Errorf("server handshake: %v", err)
			}
		}
		ch <- c
	}()
	return ch
}

// connPair returns both ends of a fresh connection, closed at the end of t.
func connPair(t *testing.T, lt, dt Transport) (client, server net.Conn) {
	t.Helper()
	l := listenT(t, lt)
	accepted := acceptOne(t, l)
	client, err := dt.Dial(context.Background(), l.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// readErr runs one Read on c in the background and yields its error.
func readErr(c net.Conn) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		ch <- err
	}()
	return ch
}

// acceptErr runs one Accept on l in the background and yields its error.
func acceptErr(l net.Listener) <-chan error {
	ch := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		ch <- err
	}()
	return ch
}

// pattern returns n deterministic bytes that differ with seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) ^ byte(i>>8)*31 ^ byte(i>>16)*7 ^ seed
	}
	return b
}

// wantTimeout fails t unless err is a deadline timeout as net reports it.
func wantTimeout(t *testing.T, op string, err error) {
	t.Helper()
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%s: got %v, want a timeout error matching os.ErrDeadlineExceeded", op, err)
	}
}

func testTransportEcho(t *testing.T, lt, dt Transport) {
	l := listenT(t, lt)
	accepted := acceptOne(t, l)
	c, err := dt.Dial(context.Background(), l.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if got, want := c.RemoteAddr().String(), l.Addr().String(); got != want {
		t.Errorf("client RemoteAddr = %q, want the listener's %q", got, want)
	}
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	if got, want := s.RemoteAddr().String(), c.LocalAddr().String(); got != want {
		t.Errorf("server RemoteAddr = %q, want the client's LocalAddr %q", got, want)
	}
	echoed := make(chan error, 1)
	go func() {
		_, err := io.Copy(s, s)
		s.Close()
		echoed <- err
	}()
	for _, msg := range []string{"PING", "*1\r\n$4\r\nPING\r\n", strings.Repeat("x", 70000)} {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatalf("Write: %v", err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("ReadFull: %v", err)
		}
		if string(got) != msg {
			t.Fatalf("echo of %d bytes differs", len(msg))
		}
	}
	c.Close()
	if err := <-echoed; err != nil {
		t.Errorf("echo side ended with %v, want a clean EOF", err)
	}
}

func testTransportLargeBothWays(t *testing.T, lt, dt Transport) {
	const size = 8 << 20
	c, s := connPair(t, lt, dt)
	up, down := pattern(size, 1), pattern(size, 2)
	var g errgroup.Group
	transfer := func(name string, w, r net.Conn, data []byte) {
		g.Go(func() error {
			_, err := w.Write(data)
			if err != nil {
				return fmt.Errorf("%s write: %w", name, err)
			}
			return nil
		})
		g.Go(func() error {
			got := make([]byte, size)
			if _, err := io.ReadFull(r, got); err != nil {
				return fmt.Errorf("%s read: %w", name, err)
			}
			if !bytes.Equal(got, data) {
				return fmt.Errorf("%s: received bytes differ from sent", name)
			}
			return nil
		})
	}
	transfer("client to server", c, s, up)
	transfer("server to client", s, c, down)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func testTransportManyConns(t *testing.T, lt, dt Transport) {
	const conns = 50
	l := listenT(t, lt)
	var servers sync.WaitGroup
	servers.Go(func() {
		for {
			s, err := l.Accept()
			if err != nil {
				return
			}
			servers.Go(func() {
				defer s.Close()
				io.Copy(s, s)
			})
		}
	})
	var g errgroup.Group
	for i := range conns {
		g.Go(func() error {
			c, err := dt.Dial(context.Background(), l.Addr().String())
			if err != nil {
				return err
			}
			defer c.Close()
			msg := pattern(1000+i, byte(i))
			if _, err := c.Write(msg); err != nil {
				return err
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				return err
			}
			if !bytes.Equal(got, msg) {
				return fmt.Errorf("conn %d: echo differs", i)
			}
			return nil
		})
	}
	err := g.Wait()
	l.Close()
	servers.Wait()
	if err != nil {
		t.Fatal(err)
	}
}

func testTransportReadDeadline(t *testing.T, lt, dt Transport) {
	c, s := connPair(t, lt, dt)
	buf := make([]byte, 16)

	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err := c.Read(buf)
	wantTimeout(t, "Read past deadline", err)

	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(buf)
	wantTimeout(t, "Read blocked until deadline", err)

	c.SetReadDeadline(time.Time{})
	if _, err := s.Write([]byte("after")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	n, err := io.ReadAtLeast(c, buf, 5)
	if err != nil || string(buf[:n]) != "after" {
		t.Fatalf("Read after clearing the deadline = %q, %v; want \"after\"", buf[:n], err)
	}

	// A deadline set while a Read is blocked wakes it.
	done := readErr(c)
	c.SetDeadline(time.Now().Add(10 * time.Millisecond))
	wantTimeout(t, "Read woken by a later SetDeadline", <-done)
}

func testTransportWriteDeadline(t *testing.T, lt, dt Transport) {
	c, _ := connPair(t, lt, dt)
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	n, err := c.Write([]byte("late"))
	wantTimeout(t, "Write past deadline", err)
	if n != 0 {
		t.Errorf("Write past deadline wrote %d bytes, want 0", n)
	}

	// A Write blocked on a peer that does not read times out. (TLS cannot
	// write again after a write timeout, so this is the last write.)
	c2, _ := connPair(t, lt, dt)
	c2.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	big := make([]byte, 64<<20)
	n, err = c2.Write(big)
	wantTimeout(t, "Write blocked on a full buffer", err)
	if n == len(big) {
		t.Errorf("Write wrote all %d bytes to a peer that reads nothing", n)
	}
}

func testTransportCloseWakesRead(t *testing.T, lt, dt Transport) {
	c, _ := connPair(t, lt, dt)
	done := readErr(c)
	c.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: got %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: got %v, want net.ErrClosed", err)
	}
}

func testTransportPeerCloseEOF(t *testing.T, lt, dt Transport) {
	c, s := connPair(t, lt, dt)
	done := make(chan error, 1)
	go func() {
		got, err := io.ReadAll(c)
		if err == nil && string(got) != "bye" {
			err = fmt.Errorf("read %q, want \"bye\"", got)
		}
		done <- err
	}()
	if _, err := s.Write([]byte("bye")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatalf("reading until the peer closes: %v", err)
	}
}

func testTransportListenerClose(t *testing.T, lt, dt Transport) {
	l, err := lt.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	done := acceptErr(l)
	l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: got %v, want net.ErrClosed", err)
	}
	l.Close() // a second Close must be safe
}

func testTransportDialClosed(t *testing.T, lt, dt Transport) {
	l, err := lt.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := dt.Dial(context.Background(), addr)
	if err == nil {
		c.Close()
		t.Fatal("Dial to a closed listener succeeded")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial to a closed listener: got %v, want connection refused", err)
	}
}

func testTransportDialCanceled(t *testing.T, lt, dt Transport) {
	l := listenT(t, lt)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := dt.Dial(ctx, l.Addr().String())
	if err == nil {
		c.Close()
		t.Fatal("Dial with a canceled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with a canceled context: got %v, want context.Canceled", err)
	}
}

// testCerts is a CA with server and client certificates for 127.0.0.1, as PEM files.
type testCerts struct {
	dir string
}

// newTestCerts writes a self-signed CA, a server certificate for 127.0.0.1
// and a client certificate, all signed by the CA, into a temporary directory.
func newTestCerts(t *testing.T) *testCerts {
	t.Helper()
	dir := t.TempDir()
	if err := WriteTestCerts(dir); err != nil {
		t.Fatal(err)
	}
	return &testCerts{dir: dir}
}

func (c *testCerts) file(name string) string { return filepath.Join(c.dir, name) }

// server returns the server side of mutual TLS.
func (c *testCerts) server(t *testing.T) *tls.Config {
	t.Helper()
	cfg, err := LoadTLSConfig(c.file("server.pem"), c.file("server-key.pem"), c.file("ca.pem"), true)
	if err != nil {
		t.Fatalf("LoadTLSConfig(server): %v", err)
	}
	return cfg
}

// client returns the client side, with or without a client certificate.
func (c *testCerts) client(t *testing.T, withCert bool) *tls.Config {
	t.Helper()
	cert, key := "", ""
	if withCert {
		cert, key = c.file("client.pem"), c.file("client-key.pem")
	}
	cfg, err := LoadTLSConfig(cert, key, c.file("ca.pem"), false)
	if err != nil {
		t.Fatalf("LoadTLSConfig(client): %v", err)
	}
	return cfg
}

func TestTLSRejectsClientWithoutCert(t *testing.T) {
	checkGoroutines(t)
	certs := newTestCerts(t)
	l := listenT(t, &TCPTransport{TLS: certs.server(t)})
	serverErr := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		defer c.Close()
		serverErr <- c.(*tls.Conn).Handshake()
	}()

	dt := &TCPTransport{ClientTLS: certs.client(t, false)}
	c, err := dt.Dial(context.Background(), l.Addr().String())
	if err == nil {
		// Under TLS 1.3 the client finishes its handshake before the server
		// checks its certificate; the refusal arrives on the first read.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate exchanged data under mutual TLS")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("client error = %v, want a TLS refusal for the missing certificate", err)
	}
	if err := <-serverErr; err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("server handshake error = %v, want a missing client certificate", err)
	}
}

func TestTLSRejectsUnknownServer(t *testing.T) {
	checkGoroutines(t)
	certs, other := newTestCerts(t), newTestCerts(t)
	l := listenT(t, &TCPTransport{TLS: certs.server(t)})
	go func() {
		if c, err := l.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	// The client trusts another CA: it must refuse the server.
	dt := &TCPTransport{ClientTLS: other.client(t, true)}
	c, err := dt.Dial(context.Background(), l.Addr().String())
	if err == nil {
		c.Close()
		t.Fatal("a client dialed a server whose CA it does not trust")
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Fatalf("Dial error = %v, want a certificate verification error", err)
		}
	}
}

func TestLoadTLSConfigErrors(t *testing.T) {
	certs := newTestCerts(t)
	bogus := filepath.Join(t.TempDir(), "bogus.pem")
	if err := os.WriteFile(bogus, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		cert, key, ca string
		server        bool
	}{
		{"ServerWithoutCert", "", "", certs.file("ca.pem"), true},
		{"MissingKeyFile", certs.file("server.pem"), "", "", true},
		{"MissingCAFile", certs.file("server.pem"), certs.file("server-key.pem"), bogus + ".missing", true},
		{"CAFileWithoutPEM", "", "", bogus, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadTLSConfig(c.cert, c.key, c.ca, c.server)
			if err == nil || !strings.HasPrefix(err.Error(), "chkv: ") {
				t.Fatalf("LoadTLSConfig = %v, want a chkv error", err)
			}
		})
	}
	cfg, err := LoadTLSConfig("", "", "", false)
	if err != nil || cfg.RootCAs != nil || len(cfg.Certificates) != 0 {
		t.Fatalf("LoadTLSConfig for a plain client = %+v, %v; want system roots and no certificate", cfg, err)
	}
}

// benchRoundTrip measures small request-reply exchanges on one connection.
func benchRoundTrip(b *testing.B, lt, dt Transport) {
	l, err := lt.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		s, err := l.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		io.Copy(s, s)
	})
	c, err := dt.Dial(context.Background(), l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("*1\r\n$4\r\nPING\r\n")
	buf := make([]byte, len(msg))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	wg.Wait()
}

func BenchmarkMemConnRoundTrip(b *testing.B) {
	n := &MemNetwork{}
	defer n.Close()
	benchRoundTrip(b, n.Transport("server"), n.Transport("client"))
}

func BenchmarkTCPConnRoundTrip(b *testing.B) {
	benchRoundTrip(b, &TCPTransport{}, &TCPTransport{})
}
