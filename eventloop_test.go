package chkv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// eachServeMode runs f on a DataNode served by event loops and on one with a
// goroutine per connection: the two must look the same to clients.
func eachServeMode(t *testing.T, f func(t *testing.T, d *DataNode), opts ...func(*DataNodeConfig)) {
	for _, mode := range []struct {
		name  string
		loops int
	}{{"event-loop", 1}, {"goroutines", -1}} {
		t.Run(mode.name, func(t *testing.T) {
			d := RunT(t, append(opts, func(c *DataNodeConfig) { c.EventLoops = mode.loops })...)
			f(t, d)
		})
	}
}

// loopServed counts the node's connections an event loop serves.
func loopServed(d *DataNode) int {
	n := 0
	for _, c := range d.clients() {
		c.mu.Lock()
		if c.lc != nil {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

// TestEventLoopServesTCPClients checks that on Linux plain TCP clients are
// served by an event loop, that a blocking command moves its client to a
// goroutine of its own, and that both keep working.
func TestEventLoopServesTCPClients(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("event loops are Linux-only")
	}
	d := RunT(t)
	a, b := dialRaw(t, d.Addr()), dialRaw(t, d.Addr())
	for _, r := range []*rawConn{a, b} {
		r.send("PING\r\n")
		require.Equal(t, "+PONG\r\n", r.line())
	}
	require.Equal(t, 2, loopServed(d))

	a.send("BLPOP q 0\r\n")
	b.send("RPUSH q x\r\n")
	require.Equal(t, ":1\r\n", b.line())
	require.Equal(t, "*2\r\n", a.line())
	require.Equal(t, "$1\r\n", a.line())
	require.Equal(t, "q\r\n", a.line())
	require.Equal(t, "$1\r\n", a.line())
	require.Equal(t, "x\r\n", a.line())
	require.Equal(t, 1, loopServed(d), "the blocking client moved to a goroutine")
	a.send("GET nothing\r\n")
	require.Equal(t, "$-1\r\n", a.line())

	off := RunT(t, func(c *DataNodeConfig) { c.EventLoops = -1 })
	r := dialRaw(t, off.Addr())
	r.send("PING\r\n")
	require.Equal(t, "+PONG\r\n", r.line())
	require.Zero(t, loopServed(off), "EventLoops -1 serves every client from a goroutine")
}

// TestBlockingCommandInPipelineKeepsOrder sends a blocking command between
// others in one write: the replies come in request order, whichever way
// the connection is served.
func TestBlockingCommandInPipelineKeepsOrder(t *testing.T) {
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		a, b := dialRaw(t, d.Addr()), dialRaw(t, d.Addr())
		a.send("SET k v\r\nBLPOP q 0\r\nGET k\r\nBLPOP none 0.05\r\nPING\r\n")
		require.Equal(t, "+OK\r\n", a.line())
		b.send("RPUSH q x\r\n")
		require.Equal(t, ":1\r\n", b.line())
		for _, want := range []string{"*2", "$1", "q", "$1", "x", "$1", "v", "*-1", "+PONG"} {
			require.Equal(t, want+"\r\n", a.line())
		}
	})
}

// TestSlowReaderIsBounded pipelines large replies to a client that does
// not read them: the server holds back, its memory does not grow with the
// replies owed, other clients are served, and every reply arrives intact
// once the client reads.
func TestSlowReaderIsBounded(t *testing.T) {
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		const valueSize, gets = 256 << 10, 400 // 100 MiB of replies
		value := strings.Repeat("v", valueSize)
		setup := dialRaw(t, d.Addr())
		setup.send(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n", valueSize, value))
		require.Equal(t, "+OK\r\n", setup.line())

		before := heapInUse()
		slow := dialRaw(t, d.Addr())
		slow.send(strings.Repeat("GET big\r\n", gets))
		// The server answers others while it waits for the slow reader.
		for range 20 {
			setup.send("PING\r\n")
			require.Equal(t, "+PONG\r\n", setup.line())
		}
		time.Sleep(100 * time.Millisecond) // let the server write all it can
		grown := int64(heapInUse()) - int64(before)
		t.Logf("heap grew %d bytes with %d bytes of replies owed", grown, gets*valueSize)
		require.Less(t, grown, int64(16<<20), "replies owed are not buffered")

		want := fmt.Sprintf("$%d\r\n%s\r\n", valueSize, value)
		got := make([]byte, len(want))
		for i := range gets {
			_, err := io.ReadFull(slow.br, got)
			require.NoError(t, err)
			require.True(t, string(got) == want, "reply %d differs", i)
		}
	})
}

// TestIdleTimeoutClosesIdleClients checks that a client silent for longer
// than IdleTimeout is disconnected.
func TestIdleTimeoutClosesIdleClients(t *testing.T) {
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		r := dialRaw(t, d.Addr())
		r.send("PING\r\n")
		require.Equal(t, "+PONG\r\n", r.line())
		_, err := r.br.ReadByte() // blocks until the server hangs up (or dialRaw's 30 s deadline)
		require.ErrorIs(t, err, io.EOF)
	}, func(c *DataNodeConfig) { c.IdleTimeout = 100 * time.Millisecond })
}

// TestEventLoopIsFair streams a long pipeline on one connection while
// another makes round trips: one read per ready connection and turn keeps
// the streaming client from starving the other.
func TestEventLoopIsFair(t *testing.T) {
	d := RunT(t, func(c *DataNodeConfig) { c.EventLoops = 1 })
	const pings = 1_000_000
	stream, err := net.Dial("tcp", d.Addr())
	require.NoError(t, err)
	defer stream.Close()
	var answered atomic.Int64
	readerDone := make(chan error, 1)
	go func() {
		br := bufio.NewReaderSize(stream, 64<<10)
		for answered.Load() < pings {
			line, err := br.ReadSlice('\n')
			if err != nil {
				readerDone <- err
				return
			}
			if !bytes.Equal(line, []byte("+PONG\r\n")) {
				readerDone <- fmt.Errorf("unexpected reply %q", line)
				return
			}
			answered.Add(1)
		}
		readerDone <- nil
	}()
	go func() {
		chunk := bytes.Repeat([]byte("PING\r\n"), 10_000)
		for range pings / 10_000 {
			if _, err := stream.Write(chunk); err != nil {
				return
			}
		}
	}()
	for answered.Load() == 0 {
		runtime.Gosched() // the stream is being served
	}
	r := dialRaw(t, d.Addr())
	for i := range 50 {
		r.send(fmt.Sprintf("SET k%d %d\r\nGET k%d\r\n", i, i, i))
		require.Equal(t, "+OK\r\n", r.line())
		require.Equal(t, fmt.Sprintf("$%d\r\n", len(fmt.Sprint(i))), r.line())
		require.Equal(t, fmt.Sprint(i)+"\r\n", r.line())
	}
	require.Less(t, answered.Load(), int64(pings), "the round trips finished before the stream")
	require.NoError(t, <-readerDone)
}

// TestCloseWithBusyClients closes a node while clients are mid-pipeline and
// mid-request: Close returns and every client sees the connection end.
func TestCloseWithBusyClients(t *testing.T) {
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		var conns []*rawConn
		for i := range 8 {
			r := dialRaw(t, d.Addr())
			r.send("PING\r\n")
			require.Equal(t, "+PONG\r\n", r.line())
			if i%2 == 0 {
				r.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc") // a request cut short
			} else {
				r.send(strings.Repeat("INCR n\r\n", 1000))
			}
			conns = append(conns, r)
		}
		require.NoError(t, d.Close())
		for _, r := range conns {
			_, err := io.Copy(io.Discard, r.br)
			if err != nil { // a reset when requests were left unread; not a timeout
				require.ErrorIs(t, err, syscall.ECONNRESET)
			}
		}
	})
}

// TestLargeValuesInChunksIntact writes large values in small, uneven
// chunks and pipelines GETs of them whose replies outgrow the socket
// buffers: every byte arrives in order, whichever way the node serves
// (a loop receives a request over many turns and sends a reply in parts).
func TestLargeValuesInChunksIntact(t *testing.T) {
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		r := dialRaw(t, d.Addr())
		vals := make([][]byte, 6)
		for i := range vals {
			v := bytes.Repeat([]byte{byte('a' + i)}, 300_000+i*250_001)
			for j := 0; j < len(v); j += 4099 {
				v[j] = byte('0' + j%10) // not one repeated byte: order matters
			}
			vals[i] = v
			req := []byte(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$2\r\nk%d\r\n$%d\r\n%s\r\n", i, len(v), v))
			for len(req) > 0 { // uneven chunks, so requests span many reads
				n := min(len(req), 1+(len(req)*7919+i)%65_537)
				r.send(string(req[:n]))
				req = req[n:]
			}
			require.Equal(t, "+OK\r\n", r.line())
		}
		var pipe strings.Builder
		for round := range 3 {
			for i := range vals {
				fmt.Fprintf(&pipe, "GET k%d\r\n", (i+round)%len(vals))
			}
		}
		r.send(pipe.String())
		for round := range 3 {
			for i := range vals {
				want := vals[(i+round)%len(vals)]
				require.Equal(t, fmt.Sprintf("$%d\r\n", len(want)), r.line())
				got := make([]byte, len(want)+2)
				_, err := io.ReadFull(r.br, got)
				require.NoError(t, err)
				require.True(t, bytes.Equal(want, got[:len(want)]), "GET k%d: the value's bytes", (i+round)%len(vals))
				require.Equal(t, "\r\n", string(got[len(want):]))
			}
		}
	})
}
