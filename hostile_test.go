package chkv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHostileInputKeepsServing throws malformed and abusive input at one
// server from many connections; each abuser gets a protocol error (or is
// held within its limits) and a well-behaved client keeps being answered.
func TestHostileInputKeepsServing(t *testing.T) {
	d := RunT(t, func(c *DataNodeConfig) { c.Limits.MaxInline = 4096 })
	cases := []struct {
		name  string
		input string
		reply string // the first reply line, "" when the server just waits for more bytes
	}{
		{"nested array", "*1\r\n*1\r\n$4\r\nPING\r\n", "-ERR Protocol error: expected '$', got '*'\r\n"},
		{"integer element", "*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
		{"negative bulk", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk beyond limit", "*1\r\n$67108865\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"too many args", "*1048577\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"garbage count", "*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"unbalanced quotes", "SET \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"endless inline", strings.Repeat("A", 5000), "-ERR Protocol error: too big inline request\r\n"},
		{"binary garbage", "\x01\xff\x13\x37 garbage\r\n", "-ERR unknown command '\x01\xff\x13\x37', with args beginning with: 'garbage' \r\n"},
		{"huge declared bulk, few bytes", "*2\r\n$3\r\nGET\r\n$60000000\r\nabc", ""},
		{"huge declared count, few args", "*1000000\r\n$4\r\nPING\r\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, d.Addr())
			r.send(tc.input)
			if tc.reply != "" {
				require.Equal(t, tc.reply, r.line())
			} else {
				r.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				_, err := r.br.ReadByte()
				var ne net.Error
				require.ErrorAs(t, err, &ne, "the server waits for the rest of the request")
				require.True(t, ne.Timeout())
			}
			good := dialRaw(t, d.Addr())
			good.send("PING\r\n")
			require.Equal(t, "+PONG\r\n", good.line())
		})
	}
}

// TestHugeDeclaredBulksFromManyConnections opens many connections that each
// announce a 60 MB argument and send only 1 KiB of it. The server's heap
// must grow with the bytes received, not with the sizes announced.
func TestHugeDeclaredBulksFromManyConnections(t *testing.T) {
	d := RunT(t)
	const conns, sent = 200, 1024
	before := heapInUse()
	var held []net.Conn
	for range conns {
		nc, err := net.Dial("tcp", d.Addr())
		require.NoError(t, err)
		held = append(held, nc)
		_, err = fmt.Fprintf(nc, "*2\r\n$3\r\nSET\r\n$60000000\r\n%s", bytes.Repeat([]byte{'x'}, sent))
		require.NoError(t, err)
	}
	defer func() {
		for _, nc := range held {
			nc.Close()
		}
	}()
	// Wait until the server has read what was sent: it answers a new client after that.
	r := dialRaw(t, d.Addr())
	r.send("PING\r\n")
	require.Equal(t, "+PONG\r\n", r.line())
	time.Sleep(100 * time.Millisecond) // let every reader goroutine consume its bytes
	grown := int64(heapInUse()) - int64(before)
	announced := int64(conns) * 60_000_000
	// Each connection may hold its 16 KiB read buffer and a bulk buffer of at
	// most 2x the bytes received + 64 KiB (the request reader's bound), plus
	// 16 KiB of connection state: far below what was announced (12 GB).
	limit := int64(conns) * (16<<10 + 2*sent + 64<<10 + 16<<10)
	t.Logf("heap grew %d bytes for %d connections (announced %d bytes)", grown, conns, announced)
	require.Less(t, grown, limit)
}

// TestSlowSenderAndRandomSplits feeds a pipeline byte by byte and in random
// chunks; the replies are the same as when it arrives at once.
func TestSlowSenderAndRandomSplits(t *testing.T) {
	d := RunT(t)
	var req bytes.Buffer
	for i := range 50 {
		fmt.Fprintf(&req, "*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\nv%d\r\n", len(fmt.Sprint("k", i)), i, len(fmt.Sprint("v", i)), i)
		fmt.Fprintf(&req, "GET k%d\r\n", i)
	}
	want := strings.Repeat("+OK\r\n", 1) // checked per command below
	_ = want
	rng := rand.New(rand.NewPCG(1, 2))
	for _, split := range []string{"bytewise", "random"} {
		t.Run(split, func(t *testing.T) {
			r := dialRaw(t, d.Addr())
			data := req.Bytes()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for len(data) > 0 {
					n := 1
					if split == "random" {
						n = 1 + rng.IntN(40)
					}
					n = min(n, len(data))
					r.nc.Write(data[:n])
					data = data[n:]
				}
			}()
			for i := range 50 {
				require.Equal(t, "+OK\r\n", r.line())
				v := fmt.Sprint("v", i)
				require.Equal(t, fmt.Sprintf("$%d\r\n", len(v)), r.line())
				require.Equal(t, v+"\r\n", r.line())
			}
			wg.Wait()
		})
	}
}

// TestOversizedValuesAndWrongTypesLoseNothing checks that refused writes
// leave the data as it was.
func TestOversizedValuesAndWrongTypesLoseNothing(t *testing.T) {
	d := RunT(t, func(c *DataNodeConfig) { c.Limits.MaxBulk = 1024 })
	ctx := context.Background()
	rc := newGoRedis(t, d)
	require.NoError(t, rc.Set(ctx, "k", "orig", 0).Err())
	require.NoError(t, rc.RPush(ctx, "l", "a").Err())
	require.ErrorContains(t, rc.SetRange(ctx, "k", 2000, "x").Err(), "string exceeds maximum allowed size")
	require.ErrorContains(t, rc.Append(ctx, "k", strings.Repeat("y", 1021)).Err(), "string exceeds maximum allowed size")
	require.ErrorContains(t, rc.LPush(ctx, "k", "x").Err(), "WRONGTYPE")
	require.ErrorContains(t, rc.Incr(ctx, "l").Err(), "WRONGTYPE")
	require.Equal(t, "orig", rc.Get(ctx, "k").Val())
	require.Equal(t, []string{"a"}, rc.LRange(ctx, "l", 0, -1).Val())
	// An argument beyond the bulk limit is a protocol error and closes only that connection.
	r := dialRaw(t, d.Addr())
	r.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n")
	require.Equal(t, "-ERR Protocol error: invalid bulk length\r\n", r.line())
	_, err := r.br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, "orig", rc.Get(ctx, "k").Val())
}
