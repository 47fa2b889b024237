// Tests of the Client: one suite run against a real server, plus the wire reader, pool and failure paths against fakes.

package chkv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clientUnixTransport dials and listens on unix sockets, to reach a
// redis-server started by a test.
type clientUnixTransport struct{}

var _ Transport = clientUnixTransport{}

func (clientUnixTransport) Listen(addr string) (net.Listener, error) {
	return net.Listen("unix", addr)
}

func (clientUnixTransport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", addr)
}

// startRedisForClient starts a redis-server on a unix socket for the test
// and returns the socket's path; extra are more server arguments. It skips
// the test when redis-server is not installed.
func startRedisForClient(t testing.TB, extra ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("SKIPPED: redis-server is not installed; the client suite runs against it")
	}
	dir, err := os.MkdirTemp("", "chkv") // short: a socket path has ~100 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "r.sock")
	args := append([]string{"--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no"}, extra...)
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v\n%s", err, out.String())
		}
	}
}

// redisClientConfig returns a config for the redis-server at sock.
func redisClientConfig(sock string) ClientConfig {
	cfg := DefaultClientConfig()
	cfg.Addr = sock
	cfg.Transport = clientUnixTransport{}
	return cfg
}

// newTestClient makes a client for cfg and closes it when the test ends.
func newTestClient(t testing.TB, cfg ClientConfig) *Client {
	t.Helper()
	c, err := NewClient(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientRedis(t *testing.T) {
	sock := startRedisForClient(t)
	testClient(t, true, func(t *testing.T, edit func(*ClientConfig)) *Client {
		cfg := redisClientConfig(sock)
		if edit != nil {
			edit(&cfg)
		}
		return newTestClient(t, cfg)
	})
}

func TestClientChkv(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) ClientConfig
	}{
		{"TCP", func(t *testing.T) ClientConfig {
			cfg := DefaultClientConfig()
			cfg.Addr = RunT(t).Addr()
			return cfg
		}},
		{"Mem", func(t *testing.T) ClientConfig {
			network := &MemNetwork{}
			t.Cleanup(func() { network.Close() })
			d := RunT(t, func(c *DataNodeConfig) { c.Transport = network.Transport("server") })
			cfg := DefaultClientConfig()
			cfg.Addr = d.Addr()
			cfg.Transport = network.Transport("client")
			return cfg
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.start(t)
			testClient(t, false, func(t *testing.T, edit func(*ClientConfig)) *Client {
				cfg := base
				if edit != nil {
					edit(&cfg)
				}
				return newTestClient(t, cfg)
			})
		})
	}
}

// testClient is the client suite, run against every kind of server.
// newClient returns a client to the server, its config first changed by
// edit when edit is not nil; hasMulti says the server runs MULTI/EXEC. Keys
// are prefixed with the subtest's name, so the subtests share one server.
func testClient(t *testing.T, hasMulti bool, newClient func(t *testing.T, edit func(*ClientConfig)) *Client) {
	ctx := context.Background()
	key := func(t *testing.T, name string) string { return t.Name() + "/" + name }

	t.Run("Strings", func(t *testing.T) {
		c := newClient(t, nil)
		a, b, l := key(t, "a"), key(t, "b"), key(t, "list")

		_, err := c.Get(ctx, a)
		assert.ErrorIs(t, err, ErrNil)
		require.NoError(t, c.Set(ctx, a, "1"))
		got, err := c.Get(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, "1", got)
		require.NoError(t, c.Set(ctx, a, "bin\x00\r\n"))
		got, err = c.Get(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, "bin\x00\r\n", got)

		assert.ErrorIs(t, c.Set(ctx, a, "x", WithNX()), ErrNil)
		assert.ErrorIs(t, c.Set(ctx, b, "x", WithXX()), ErrNil)
		require.NoError(t, c.Set(ctx, a, "2", WithXX()))
		assert.Error(t, c.Set(ctx, a, "x", WithTTL(-time.Second)))
		require.NoError(t, c.Set(ctx, a, "2", WithNX(), WithXX()), "the last condition applies")

		ok, err := c.SetNX(ctx, b, "first", WithTTL(time.Minute))
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = c.SetNX(ctx, b, "second")
		require.NoError(t, err)
		assert.False(t, ok)
		got, _ = c.Get(ctx, b)
		assert.Equal(t, "first", got)

		old, err := c.GetSet(ctx, a, "3")
		require.NoError(t, err)
		assert.Equal(t, "2", old)
		_, err = c.GetSet(ctx, key(t, "new"), "v")
		assert.ErrorIs(t, err, ErrNil)
		got, err = c.GetDel(ctx, key(t, "new"))
		require.NoError(t, err)
		assert.Equal(t, "v", got)
		_, err = c.GetDel(ctx, key(t, "new"))
		assert.ErrorIs(t, err, ErrNil)

		got, err = c.GetEx(ctx, a, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, "3", got)
		ttl, _ := c.TTL(ctx, a)
		assert.Greater(t, ttl, 50*time.Second)
		_, err = c.GetEx(ctx, a, 0)
		require.NoError(t, err)
		ttl, _ = c.TTL(ctx, a)
		assert.Equal(t, TTLNoExpiry, ttl)
		_, err = c.GetEx(ctx, key(t, "missing"), time.Minute)
		assert.ErrorIs(t, err, ErrNil)

		require.NoError(t, c.MSet(ctx, map[string]string{a: "A", b: "B"}))
		m, err := c.MGet(ctx, a, key(t, "missing"), b)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{a: "A", b: "B"}, m)
		ok, err = c.MSetNX(ctx, map[string]string{a: "no", key(t, "c"): "no"})
		require.NoError(t, err)
		assert.False(t, ok)
		ok, err = c.MSetNX(ctx, map[string]string{key(t, "c"): "C", key(t, "d"): "D"})
		require.NoError(t, err)
		assert.True(t, ok)

		n, err := c.Append(ctx, key(t, "s"), "Hello")
		require.NoError(t, err)
		assert.Equal(t, int64(5), n)
		n, _ = c.Append(ctx, key(t, "s"), " World")
		assert.Equal(t, int64(11), n)
		n, _ = c.StrLen(ctx, key(t, "s"))
		assert.Equal(t, int64(11), n)
		n, _ = c.StrLen(ctx, key(t, "missing"))
		assert.Equal(t, int64(0), n)
		got, _ = c.GetRange(ctx, key(t, "s"), -5, -1)
		assert.Equal(t, "World", got)
		n, err = c.SetRange(ctx, key(t, "s"), 6, "Redis")
		require.NoError(t, err)
		assert.Equal(t, int64(11), n)
		got, _ = c.Get(ctx, key(t, "s"))
		assert.Equal(t, "Hello Redis", got)

		ctr := key(t, "ctr")
		for _, step := range []struct {
			name string
			op   func() (int64, error)
			want int64
		}{
			{"Incr", func() (int64, error) { return c.Incr(ctx, ctr) }, 1},
			{"IncrBy", func() (int64, error) { return c.IncrBy(ctx, ctr, 10) }, 11},
			{"Decr", func() (int64, error) { return c.Decr(ctx, ctr) }, 10},
			{"DecrBy", func() (int64, error) { return c.DecrBy(ctx, ctr, 20) }, -10},
		} {
			n, err := step.op()
			require.NoError(t, err, step.name)
			assert.Equal(t, step.want, n, step.name)
		}
		f, err := c.IncrByFloat(ctx, ctr, 10.5)
		require.NoError(t, err)
		assert.Equal(t, 0.5, f)

		_, err = c.Incr(ctx, key(t, "s"))
		assert.ErrorIs(t, err, ErrNotInteger)
		var re *RESPError
		assert.ErrorAs(t, err, &re)
		_, err = c.RPush(ctx, l, "x")
		require.NoError(t, err)
		_, err = c.Get(ctx, l)
		assert.ErrorIs(t, err, ErrWrongType)
		_, err = c.Incr(ctx, l)
		assert.ErrorIs(t, err, ErrWrongType)
	})

	t.Run("Expiry", func(t *testing.T) {
		c := newClient(t, nil)
		a := key(t, "a")
		require.NoError(t, c.Set(ctx, a, "v", WithTTL(time.Minute)))
		ttl, err := c.TTL(ctx, a)
		require.NoError(t, err)
		assert.True(t, ttl > 50*time.Second && ttl <= time.Minute, "ttl %v", ttl)
		require.NoError(t, c.Set(ctx, a, "w", WithKeepTTL()))
		ttl, _ = c.TTL(ctx, a)
		assert.Greater(t, ttl, 50*time.Second)
		require.NoError(t, c.Set(ctx, a, "x"))
		ttl, _ = c.TTL(ctx, a)
		assert.Equal(t, TTLNoExpiry, ttl)
		ttl, _ = c.TTL(ctx, key(t, "missing"))
		assert.Equal(t, TTLNoKey, ttl)

		require.NoError(t, c.Set(ctx, a, "x", WithTTL(time.Second), WithExpireAt(time.Now().Add(time.Hour))))
		ttl, _ = c.TTL(ctx, a)
		assert.True(t, ttl > 59*time.Minute && ttl <= time.Hour, "ttl %v", ttl)

		ok, err := c.Persist(ctx, a)
		require.NoError(t, err)
		assert.True(t, ok)
		ok, _ = c.Persist(ctx, a)
		assert.False(t, ok)
		ok, err = c.Expire(ctx, a, 90*time.Second)
		require.NoError(t, err)
		assert.True(t, ok)
		ttl, _ = c.TTL(ctx, a)
		assert.True(t, ttl > 80*time.Second && ttl <= 90*time.Second, "ttl %v", ttl)
		ok, _ = c.Expire(ctx, key(t, "missing"), time.Second)
		assert.False(t, ok)
		ok, err = c.ExpireAt(ctx, a, time.Now().Add(-time.Second))
		require.NoError(t, err)
		assert.True(t, ok)
		_, err = c.Get(ctx, a)
		assert.ErrorIs(t, err, ErrNil, "a key expiring in the past is gone")

		require.NoError(t, c.Set(ctx, a, "v", WithTTL(50*time.Millisecond)))
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := c.Get(ctx, a); errors.Is(err, ErrNil) {
				break
			}
			require.False(t, time.Now().After(deadline), "key did not expire")
		}
	})

	t.Run("Keys", func(t *testing.T) {
		c := newClient(t, nil)
		a, b, l := key(t, "a"), key(t, "b"), key(t, "l")
		require.NoError(t, c.MSet(ctx, map[string]string{a: "1", b: "2"}))
		_, err := c.RPush(ctx, l, "x")
		require.NoError(t, err)

		n, err := c.Exists(ctx, a, b, key(t, "missing"), a)
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
		for k, want := range map[string]string{a: "string", l: "list", key(t, "missing"): "none"} {
			typ, err := c.Type(ctx, k)
			require.NoError(t, err)
			assert.Equal(t, want, typ, k)
		}

		keys, err := c.Keys(ctx, t.Name()+"/*")
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{a, b, l}, keys)
		var scanned []string
		for k, err := range c.Scan(ctx, t.Name()+"/*", 1) {
			require.NoError(t, err)
			if !contains(scanned, k) {
				scanned = append(scanned, k)
			}
		}
		assert.ElementsMatch(t, []string{a, b, l}, scanned)
		seen := 0
		for range c.Scan(ctx, t.Name()+"/*", 0) {
			seen++
			break
		}
		assert.Equal(t, 1, seen, "breaking out of Scan stops it")
		size, err := c.DBSize(ctx)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, size, int64(3))

		require.NoError(t, c.Rename(ctx, a, key(t, "a2")))
		err = c.Rename(ctx, a, key(t, "a3"))
		assert.ErrorAs(t, err, new(*RESPError), "renaming a missing key is refused")
		ok, err := c.RenameNX(ctx, key(t, "a2"), b)
		require.NoError(t, err)
		assert.False(t, ok)
		ok, err = c.RenameNX(ctx, key(t, "a2"), a)
		require.NoError(t, err)
		assert.True(t, ok)

		n, err = c.Del(ctx, a, key(t, "missing"))
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		n, err = c.Unlink(ctx, b, l)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		n, _ = c.Exists(ctx, a, b, l)
		assert.Equal(t, int64(0), n)
	})

	t.Run("Lists", func(t *testing.T) {
		c := newClient(t, nil)
		l, l2, s := key(t, "l"), key(t, "l2"), key(t, "s")
		lrange := func(k string) []string {
			t.Helper()
			got, err := c.LRange(ctx, k, 0, -1)
			require.NoError(t, err)
			return got
		}

		n, err := c.LPushX(ctx, l, "x")
		require.NoError(t, err)
		assert.Equal(t, int64(0), n)
		n, err = c.RPush(ctx, l, "b", "c")
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		n, err = c.LPush(ctx, l, "a", "0")
		require.NoError(t, err)
		assert.Equal(t, int64(4), n)
		assert.Equal(t, []string{"0", "a", "b", "c"}, lrange(l))
		n, _ = c.RPushX(ctx, l, "d")
		assert.Equal(t, int64(5), n)
		n, _ = c.LPushX(ctx, l, "-")
		assert.Equal(t, int64(6), n)
		n, _ = c.LLen(ctx, l)
		assert.Equal(t, int64(6), n)
		n, _ = c.LLen(ctx, key(t, "missing"))
		assert.Equal(t, int64(0), n)

		v, err := c.LPop(ctx, l)
		require.NoError(t, err)
		assert.Equal(t, "-", v)
		v, _ = c.RPop(ctx, l)
		assert.Equal(t, "d", v)
		_, err = c.LPop(ctx, key(t, "missing"))
		assert.ErrorIs(t, err, ErrNil)
		_, err = c.RPop(ctx, key(t, "missing"))
		assert.ErrorIs(t, err, ErrNil)

		v, _ = c.LIndex(ctx, l, -1)
		assert.Equal(t, "c", v)
		_, err = c.LIndex(ctx, l, 100)
		assert.ErrorIs(t, err, ErrNil)
		require.NoError(t, c.LSet(ctx, l, 0, "zero"))
		assert.ErrorAs(t, c.LSet(ctx, l, 100, "x"), new(*RESPError))
		assert.Equal(t, []string{"zero", "a", "b", "c"}, lrange(l))
		sub, _ := c.LRange(ctx, l, 1, 2)
		assert.Equal(t, []string{"a", "b"}, sub)

		n, err = c.LInsertBefore(ctx, l, "b", "x")
		require.NoError(t, err)
		assert.Equal(t, int64(5), n)
		n, _ = c.LInsertAfter(ctx, l, "b", "x")
		assert.Equal(t, int64(6), n)
		n, _ = c.LInsertAfter(ctx, l, "nope", "x")
		assert.Equal(t, int64(-1), n)
		assert.Equal(t, []string{"zero", "a", "x", "b", "x", "c"}, lrange(l))
		n, err = c.LPos(ctx, l, "b")
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
		_, err = c.LPos(ctx, l, "nope")
		assert.ErrorIs(t, err, ErrNil)
		n, err = c.LRem(ctx, l, 0, "x")
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		require.NoError(t, c.LTrim(ctx, l, 1, -1))
		assert.Equal(t, []string{"a", "b", "c"}, lrange(l))

		v, err = c.LMove(ctx, l, l2, ListLeft, ListRight)
		require.NoError(t, err)
		assert.Equal(t, "a", v)
		v, err = c.RPopLPush(ctx, l, l2)
		require.NoError(t, err)
		assert.Equal(t, "c", v)
		assert.Equal(t, []string{"c", "a"}, lrange(l2))
		_, err = c.LMove(ctx, key(t, "missing"), l2, ListLeft, ListLeft)
		assert.ErrorIs(t, err, ErrNil)

		_, err = c.RPush(ctx, l, "1", "2", "3")
		require.NoError(t, err)
		vs, err := c.LPopCount(ctx, l, 2)
		require.NoError(t, err)
		assert.Equal(t, []string{"b", "1"}, vs)
		vs, err = c.RPopCount(ctx, l, 5)
		require.NoError(t, err)
		assert.Equal(t, []string{"3", "2"}, vs)
		_, err = c.LPopCount(ctx, l, 2)
		assert.ErrorIs(t, err, ErrNil)

		require.NoError(t, c.Set(ctx, s, "v"))
		_, err = c.LPush(ctx, s, "x")
		assert.ErrorIs(t, err, ErrWrongType)
		_, err = c.LRange(ctx, s, 0, -1)
		assert.ErrorIs(t, err, ErrWrongType)
	})

	t.Run("Blocking", func(t *testing.T) {
		c := newClient(t, nil)
		l, l2 := key(t, "l"), key(t, "l2")
		_, err := c.RPush(ctx, l2, "ready")
		require.NoError(t, err)
		k, v, err := c.BLPop(ctx, time.Second, l, l2)
		require.NoError(t, err)
		assert.Equal(t, [2]string{l2, "ready"}, [2]string{k, v})

		start := time.Now()
		_, _, err = c.BLPop(ctx, 100*time.Millisecond, l)
		assert.ErrorIs(t, err, ErrNil, "timeout passing is a nil reply")
		assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)

		done := make(chan error, 1)
		go func() {
			k, v, err := c.BRPop(ctx, 0, l)
			if err == nil && (k != l || v != "pushed") {
				err = fmt.Errorf("got %q %q", k, v)
			}
			done <- err
		}()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			// Push only once the pop is waiting, else it would not block.
			info, err := c.Do(ctx, "CLIENT", "LIST")
			require.NoError(t, err)
			if strings.Contains(info.(string), "cmd=brpop") {
				break
			}
			require.False(t, time.Now().After(deadline), "BRPOP did not block")
		}
		_, err = c.RPush(ctx, l, "pushed")
		require.NoError(t, err)
		require.NoError(t, <-done)

		_, err = c.RPush(ctx, l, "m")
		require.NoError(t, err)
		v, err = c.BLMove(ctx, l, l2, ListRight, ListLeft, time.Second)
		require.NoError(t, err)
		assert.Equal(t, "m", v)
		_, err = c.BLMove(ctx, l, l2, ListRight, ListLeft, 50*time.Millisecond)
		assert.ErrorIs(t, err, ErrNil)
		_, _, err = c.BLPop(ctx, -time.Second, l)
		assert.Error(t, err)
	})

	t.Run("BlockingPastDeadline", func(t *testing.T) {
		c := newClient(t, func(cfg *ClientConfig) { cfg.PoolSize = 1 })
		l := key(t, "l")
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, _, err := c.BLPop(dctx, 10*time.Second, l)
		assert.ErrorIs(t, err, ErrUnknownOutcome)
		assert.ErrorIs(t, err, ErrTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)

		// The abandoned BLPOP may still pop this element on the server;
		// the conn that sent it must be gone, so the next call on the
		// one-conn pool reads its own reply, not the BLPOP's.
		_, err = c.RPush(ctx, l, "after")
		require.NoError(t, err)
		require.NoError(t, c.Set(ctx, key(t, "s"), "own"))
		got, err := c.Get(ctx, key(t, "s"))
		require.NoError(t, err)
		assert.Equal(t, "own", got)

		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		_, _, err = c.BLPop(cctx, 0, key(t, "empty"))
		assert.ErrorIs(t, err, ErrUnknownOutcome)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, ErrTimeout)
		require.NoError(t, c.Ping(ctx))
	})

	t.Run("Do", func(t *testing.T) {
		c := newClient(t, nil)
		v, err := c.Do(ctx, "ECHO", "hi")
		require.NoError(t, err)
		assert.Equal(t, "hi", v)
		v, err = c.Do(ctx, "SET", key(t, "n"), 41)
		require.NoError(t, err)
		assert.Equal(t, "OK", v)
		v, err = c.Do(ctx, "INCRBY", key(t, "n"), int8(1))
		require.NoError(t, err)
		assert.Equal(t, int64(42), v)
		v, err = c.Do(ctx, "INCRBYFLOAT", key(t, "n"), 0.5)
		require.NoError(t, err)
		assert.Equal(t, "42.5", v)
		v, err = c.Do(ctx, "MGET", key(t, "n"), key(t, "missing"))
		require.NoError(t, err)
		assert.Equal(t, []any{"42.5", nil}, v)
		_, err = c.Do(ctx, "GET", key(t, "missing"))
		assert.ErrorIs(t, err, ErrNil)
		_, err = c.Do(ctx, "NOSUCHCOMMAND")
		assert.ErrorIs(t, err, ErrUnknownCommand)
		_, err = c.Do(ctx, "SET", key(t, "k"), struct{}{})
		assert.ErrorContains(t, err, "cannot send argument")
		assert.NotErrorIs(t, err, ErrUnknownOutcome)
		_, err = c.Do(ctx)
		assert.Error(t, err)
		require.NoError(t, c.Ping(ctx))
	})

	t.Run("Pipeline", func(t *testing.T) {
		c := newClient(t, nil)
		p := c.Pipeline()
		res, err := p.Exec(ctx)
		require.NoError(t, err)
		assert.Empty(t, res)

		ctr := key(t, "ctr")
		for i := range 1000 {
			if i%2 == 0 {
				p.Do("INCR", ctr)
			} else {
				p.Do("GET", ctr)
			}
		}
		require.Equal(t, 1000, p.Len())
		res, err = p.Exec(ctx)
		require.NoError(t, err)
		require.Len(t, res, 1000)
		for i, r := range res {
			want := any(int64(i/2 + 1))
			if i%2 == 1 {
				want = strconv.Itoa(i/2 + 1)
			}
			require.Equal(t, want, r, "reply %d", i)
		}
		assert.Equal(t, 0, p.Len(), "Exec empties the pipeline")

		p.Do("SET", key(t, "s"), "v")
		p.Do("INCR", key(t, "s"))
		p.Do("GET", key(t, "missing"))
		p.Do("LPUSH", key(t, "s"), "x")
		res, err = p.Exec(ctx)
		assert.ErrorIs(t, err, ErrNotInteger, "err is the first error reply")
		require.Len(t, res, 4)
		assert.Equal(t, "OK", res[0])
		assert.ErrorIs(t, res[1].(error), ErrNotInteger)
		assert.Nil(t, res[2])
		assert.ErrorIs(t, res[3].(error), ErrWrongType)

		if !hasMulti {
			return
		}
		p.Do("MULTI")
		p.Do("SET", key(t, "tx"), "1")
		p.Do("INCR", key(t, "tx"))
		p.Do("EXEC")
		res, err = p.Exec(ctx)
		require.NoError(t, err)
		assert.Equal(t, []any{"OK", "QUEUED", "QUEUED", []any{"OK", int64(2)}}, res)
	})

	t.Run("PoolConcurrency", func(t *testing.T) {
		const poolSize, workers, each = 4, 32, 50
		c := newClient(t, func(cfg *ClientConfig) { cfg.PoolSize = poolSize })
		node, err := c.nodeFor("")
		require.NoError(t, err)
		ctr := key(t, "ctr")
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		var maxOpen int
		var mu sync.Mutex
		for range workers {
			wg.Go(func() {
				for range each {
					if _, err := c.Incr(ctx, ctr); err != nil {
						errs <- err
						return
					}
					open, _ := node.stats()
					mu.Lock()
					maxOpen = max(maxOpen, open)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := c.Get(ctx, ctr)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(workers*each), got)
		assert.LessOrEqual(t, maxOpen, poolSize)
		open, idle := node.stats()
		assert.Equal(t, open, idle, "every conn is back in the pool")
		assert.LessOrEqual(t, open, poolSize)

		// Sequential calls reuse one idle conn rather than dialling.
		before, _ := node.stats()
		for range 20 {
			require.NoError(t, c.Ping(ctx))
		}
		after, _ := node.stats()
		assert.Equal(t, before, after)
	})

	t.Run("PoolWait", func(t *testing.T) {
		c := newClient(t, func(cfg *ClientConfig) { cfg.PoolSize = 1 })
		hold, release := context.WithCancel(ctx)
		held := make(chan error, 1)
		go func() {
			_, _, err := c.BLPop(hold, 0, key(t, "never"))
			held <- err
		}()
		waitConnTaken(t, c)
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := c.Ping(wctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "waiting for a conn ends with ctx")
		assert.NotErrorIs(t, err, ErrUnknownOutcome, "nothing was sent")
		release()
		assert.ErrorIs(t, <-held, context.Canceled)
		require.NoError(t, c.Ping(ctx))
	})

	t.Run("Close", func(t *testing.T) {
		c := newClient(t, nil)
		inFlight := make(chan error, 1)
		go func() {
			_, _, err := c.BLPop(ctx, 0, key(t, "never"))
			inFlight <- err
		}()
		waitConnTaken(t, c)
		require.NoError(t, c.Close())
		require.NoError(t, c.Close(), "Close twice")
		assert.ErrorIs(t, <-inFlight, ErrClosed, "Close ends a call in flight")
		_, err := c.Get(ctx, key(t, "a"))
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, c.Set(ctx, key(t, "a"), "v"), ErrClosed)
		_, err = c.Pipeline().Exec(ctx)
		require.NoError(t, err, "an empty pipeline sends nothing")
		p := c.Pipeline()
		p.Do("PING")
		_, err = p.Exec(ctx)
		assert.ErrorIs(t, err, ErrClosed)
	})
}

// waitConnTaken waits until a conn of c's node is handed out.
func waitConnTaken(t *testing.T, c *Client) {
	t.Helper()
	node, err := c.nodeFor("")
	require.NoError(t, err)
	for deadline := time.Now().Add(5 * time.Second); len(node.slots) == 0; time.Sleep(time.Millisecond) {
		require.False(t, time.Now().After(deadline), "no conn was taken")
	}
}

// contains reports whether s holds v.
func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

func TestClientAuthRedis(t *testing.T) {
	sock := startRedisForClient(t, "--requirepass", "secret")
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		password string
		want     error
	}{
		{"right", "secret", nil},
		{"wrong", "nope", ErrWrongPass},
		{"none", "", ErrNoAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := redisClientConfig(sock)
			cfg.Password = tc.password
			c, err := NewClient(ctx, cfg)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.Set(ctx, "k", "v"))
		})
	}
}

func TestClientConfig(t *testing.T) {
	ctx := context.Background()
	_, err := NewClient(ctx, ClientConfig{})
	assert.ErrorContains(t, err, "Addr")
	_, err = NewClient(ctx, ClientConfig{Addr: "x", PoolSize: -1})
	assert.ErrorContains(t, err, "PoolSize")

	cfg := ClientConfig{Addr: "x"}
	require.NoError(t, cfg.validate())
	def := DefaultClientConfig()
	assert.Equal(t, def.PoolSize, cfg.PoolSize)
	assert.Equal(t, def.ReadTimeout, cfg.ReadTimeout)
	assert.Equal(t, def.WriteTimeout, cfg.WriteTimeout)
	assert.Equal(t, def.DialTimeout, cfg.DialTimeout)
	assert.Equal(t, def.MaxRetries, cfg.MaxRetries)
	assert.NotNil(t, cfg.Transport)

	// Nothing listens on a closed listener's port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = NewClient(ctx, ClientConfig{Addr: addr})
	assert.ErrorContains(t, err, "chkv: dial")
}

// fakeClientServer serves RESP on 127.0.0.1:0 for the test: handle gets
// each command's arguments and returns the raw reply to write; a reply
// ending in fakeClientHangUp is written without it and the connection closed.
// It returns the address.
// fakeClientHangUp ends a fakeClientServer reply that closes the connection.
const fakeClientHangUp = "<close>"

func fakeClientServer(t *testing.T, handle func(args []string) string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[nc] = true
			mu.Unlock()
			wg.Go(func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					v, err := readClientReply(br, 0)
					if err != nil {
						return
					}
					var args []string
					for _, a := range v.([]any) {
						args = append(args, a.(string))
					}
					reply, hangUp := strings.CutSuffix(handle(args), fakeClientHangUp)
					if _, err := io.WriteString(nc, reply); err != nil || hangUp {
						return
					}
				}
			})
		}
	})
	return l.Addr().String()
}

func TestClientFakeServer(t *testing.T) {
	ctx := context.Background()

	t.Run("MidReplyClose", func(t *testing.T) {
		addr := fakeClientServer(t, func(args []string) string {
			if args[0] == "PING" {
				return "+PONG\r\n"
			}
			return "$10\r\nabc" + fakeClientHangUp // mid bulk
		})
		c := newTestClient(t, ClientConfig{Addr: addr, ReadTimeout: time.Minute})
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := c.Get(dctx, "k")
		assert.ErrorIs(t, err, ErrUnknownOutcome)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.NotErrorIs(t, err, ErrTimeout, "a closed conn fails at once")
		open, _ := c.pools[addr].stats()
		assert.Equal(t, 0, open, "the broken conn is closed")
	})

	t.Run("RetryIdleConnClosed", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			maxRetries int
			deadIdle   int // more dead conns left idle before the call
			wantErr    bool
		}{
			{"default", 0, 0, false},
			{"many dead idle conns", 0, 3, false},
			{"disabled", -1, 0, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// The server answers one command on each conn and then
				// closes it, as one that restarted would.
				addr := fakeClientServer(t, func(args []string) string {
					return "+PONG\r\n" + fakeClientHangUp
				})
				c := newTestClient(t, ClientConfig{Addr: addr, MaxRetries: tc.maxRetries})
				node := c.pools[addr]
				var used []*clientConn
				for range tc.deadIdle {
					cn, err := node.get(ctx, true)
					require.NoError(t, err)
					_, err = node.roundTrip(ctx, cn, [][]any{{"PING"}}, 0, nil)
					require.NoError(t, err)
					used = append(used, cn)
				}
				for _, cn := range used {
					node.put(cn, false)
				}
				_, idle := node.stats()
				require.Equal(t, 1+tc.deadIdle, idle)
				// The server closes each conn just after its reply: wait
				// until this side sees every close (a loaded machine may
				// run the client before the server's close).
				require.Eventually(t, func() bool {
					node.mu.Lock()
					defer node.mu.Unlock()
					for _, cn := range node.idle {
						if !connGone(cn.nc) {
							return false
						}
					}
					return true
				}, 10*time.Second, time.Millisecond)

				err := c.Ping(ctx) // every idle conn is dead
				if tc.wantErr {
					// The dead conn is seen before anything is sent: a
					// plain error, not an unknown outcome.
					assert.ErrorIs(t, err, net.ErrClosed)
					assert.NotErrorIs(t, err, ErrUnknownOutcome)
				} else {
					assert.NoError(t, err)
				}
			})
		}
	})

	t.Run("ReadTimeout", func(t *testing.T) {
		addr := fakeClientServer(t, func(args []string) string {
			if args[0] == "PING" {
				return "+PONG\r\n"
			}
			time.Sleep(200 * time.Millisecond)
			return "+late\r\n"
		})
		c := newTestClient(t, ClientConfig{Addr: addr, ReadTimeout: 20 * time.Millisecond})
		_, err := c.Get(ctx, "k")
		assert.ErrorIs(t, err, ErrUnknownOutcome)
		assert.ErrorIs(t, err, ErrTimeout)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("Versions", func(t *testing.T) {
		addr := fakeClientServer(t, func(args []string) string {
			switch {
			case args[0] == "PING":
				return "+PONG\r\n"
			case args[0] == "CHKV.GETV" && args[1] == "k":
				return "*2\r\n$1\r\nv\r\n:7\r\n"
			case args[0] == "CHKV.GETV":
				return "*-1\r\n"
			case args[0] == "CHKV.SETV" && args[3] == "7":
				if len(args) == 6 && args[4] == "EX" {
					return ":" + args[5] + "00\r\n" // new version = seconds*100
				}
				return ":8\r\n"
			case args[0] == "CHKV.SETV":
				return "-VERSION mismatch: current version is 42\r\n"
			case args[0] == "CHKV.VERSION" && args[1] == "k":
				return ":7\r\n"
			case args[0] == "CHKV.VERSION":
				return ":0\r\n"
			}
			return "-ERR unknown command\r\n"
		})
		c := newTestClient(t, ClientConfig{Addr: addr})
		v, ver, err := c.GetVersion(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		assert.Equal(t, uint64(7), ver)
		_, _, err = c.GetVersion(ctx, "missing")
		assert.ErrorIs(t, err, ErrNil)

		nv, err := c.SetVersion(ctx, "k", "w", 7)
		require.NoError(t, err)
		assert.Equal(t, uint64(8), nv)
		nv, err = c.SetVersion(ctx, "k", "w", 7, WithTTL(1500*time.Millisecond))
		require.NoError(t, err)
		assert.Equal(t, uint64(200), nv, "TTL goes as whole seconds, rounded up")
		_, err = c.SetVersion(ctx, "k", "w", 7, WithNX())
		assert.ErrorContains(t, err, "only WithTTL")

		_, err = c.SetVersion(ctx, "k", "w", 3)
		assert.ErrorIs(t, err, ErrVersion)
		var ve *VersionError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, uint64(42), ve.Current)
		var re *RESPError
		require.ErrorAs(t, err, &re, "the server's reply stays reachable")
		assert.Contains(t, re.Msg, "current version is 42")

		ver, err = c.Version(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, uint64(7), ver)
		ver, err = c.Version(ctx, "missing")
		require.NoError(t, err)
		assert.Equal(t, uint64(0), ver)
	})
}

func TestClientChkvVersions(t *testing.T) {
	ctx := context.Background()
	c := newTestClient(t, ClientConfig{Addr: RunT(t).Addr()})

	_, _, err := c.GetVersion(ctx, "k")
	assert.ErrorIs(t, err, ErrNil)
	v, err := c.Version(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, uint64(0), v)

	v1, err := c.SetVersion(ctx, "k", "a", 0)
	require.NoError(t, err)
	assert.NotZero(t, v1)
	val, ver, err := c.GetVersion(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "a", val)
	assert.Equal(t, v1, ver)

	v2, err := c.SetVersion(ctx, "k", "b", v1)
	require.NoError(t, err)
	assert.Greater(t, v2, v1)

	_, err = c.SetVersion(ctx, "k", "stale", v1)
	assert.ErrorIs(t, err, ErrVersion)
	var ve *VersionError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, v2, ve.Current, "the refusal carries the current version")
	val, _, _ = c.GetVersion(ctx, "k")
	assert.Equal(t, "b", val, "a refused write changes nothing")

	require.NoError(t, c.Set(ctx, "k", "plain"))
	v3, err := c.Version(ctx, "k")
	require.NoError(t, err)
	assert.Greater(t, v3, v2, "every write bumps the version")

	_, err = c.SetVersion(ctx, "k", "ttl", v3, WithTTL(time.Minute))
	require.NoError(t, err)
	ttl, err := c.TTL(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ttl > 50*time.Second && ttl <= time.Minute, "ttl %v", ttl)

	_, err = c.RPush(ctx, "l", "x")
	require.NoError(t, err)
	_, _, err = c.GetVersion(ctx, "l")
	assert.ErrorIs(t, err, ErrWrongType)
}

func TestClientVersionErrorText(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want uint64
	}{
		{"VERSION mismatch: current version is 42", 42},
		{"VERSION current 7", 7},
		{"VERSION 3 expected, current 18446744073709551615.", 18446744073709551615},
		{"VERSION mismatch", 0},
		{"VERSION current 99999999999999999999999", 0},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			err := clientReplyError(tc.msg)
			assert.ErrorIs(t, err, ErrVersion)
			var ve *VersionError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.want, ve.Current)
		})
	}
	var ve *VersionError
	assert.False(t, errors.As(clientReplyError("VERSIONX 1"), &ve), "only the VERSION prefix")
	assert.False(t, errors.As(clientReplyError("WRONGTYPE x"), &ve))
}

func TestClientReadReply(t *testing.T) {
	big := strings.Repeat("x", 3*clientPrealloc+5)
	nested := strings.Repeat("*1\r\n", clientMaxDepth) + ":1\r\n"
	for _, tc := range []struct {
		name string
		in   string
		want any
		err  error
	}{
		{"simple", "+OK\r\n", "OK", nil},
		{"error", "-WRONGTYPE no\r\n", &RESPError{Msg: "WRONGTYPE no"}, nil},
		{"integer", ":-42\r\n", int64(-42), nil},
		{"min int", ":-9223372036854775808\r\n", int64(-9223372036854775808), nil},
		{"bulk", "$5\r\na\r\nbc\r\n", "a\r\nbc", nil},
		{"empty bulk", "$0\r\n\r\n", "", nil},
		{"large bulk", fmt.Sprintf("$%d\r\n%s\r\n", len(big), big), big, nil},
		{"nil bulk", "$-1\r\n", nil, nil},
		{"nil array", "*-1\r\n", nil, nil},
		{"empty array", "*0\r\n", []any{}, nil},
		{"array", "*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:1\r\n", []any{"a", nil, []any{int64(1)}}, nil},
		{"nesting at the limit", nested, nil, nil},
		{"nesting over the limit", "*1\r\n" + nested, nil, ErrProtocol},
		{"bulk over the limit", "$536870913\r\n", nil, ErrProtocol},
		{"huge bulk", "$99999999999999999999\r\n", nil, ErrProtocol},
		{"array over the limit", "*999999999999\r\n", nil, ErrProtocol},
		{"negative bulk", "$-2\r\n", nil, ErrProtocol},
		{"bad integer", ":12a\r\n", nil, ErrProtocol},
		{"integer overflow", ":9223372036854775808\r\n", nil, ErrProtocol},
		{"empty integer", ":\r\n", nil, ErrProtocol},
		{"no CR", "+OK\n", nil, ErrProtocol},
		{"bulk without CRLF", "$2\r\nabXY", nil, ErrProtocol},
		{"unknown type", "%1\r\n", nil, ErrProtocol},
		{"line too long", "+" + strings.Repeat("a", clientReadBuf) + "\r\n", nil, ErrProtocol},
		{"empty", "", nil, io.EOF},
		{"truncated line", "+OK", nil, io.ErrUnexpectedEOF},
		{"truncated bulk", "$10\r\nabc", nil, io.ErrUnexpectedEOF},
		{"truncated large bulk", fmt.Sprintf("$%d\r\n%s", clientMaxBulk, big), nil, io.ErrUnexpectedEOF},
		{"truncated array", "*2\r\n:1\r\n", nil, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), clientReadBuf)
			got, err := readClientReply(br, 0)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if tc.name == "nesting at the limit" {
				for range clientMaxDepth {
					got = got.([]any)[0]
				}
				assert.Equal(t, int64(1), got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestClientReadReplyAllocatesAsBytesArrive(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"bulk", fmt.Sprintf("$%d\r\n0123456789", clientMaxBulk)},
		{"array", fmt.Sprintf("*%d\r\n:1\r\n", clientMaxElems)},
		{"nested arrays", strings.Repeat(fmt.Sprintf("*%d\r\n", clientMaxElems), clientMaxDepth)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := readClientReply(bufio.NewReaderSize(strings.NewReader(tc.in), clientReadBuf), 0)
			runtime.ReadMemStats(&after)
			assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "the reply is cut short: %v", err)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20),
				"a declared length alone must not make the reader allocate")
		})
	}
}

func FuzzClientReadReply(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "$3\r\nabc\r\n", "*2\r\n:1\r\n$-1\r\n", "-ERR x\r\n", "*1\r\n*1\r\n*-1\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), clientReadBuf)
		for {
			if _, err := readClientReply(br, 0); err != nil {
				return
			}
		}
	})
}

func TestClientAppendCommand(t *testing.T) {
	got, err := appendClientCommand(nil, []any{"SET", []byte("k"), 1, int64(-2), uint64(3), 1.5, true, false})
	require.NoError(t, err)
	assert.Equal(t, "*8\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n$2\r\n-2\r\n$1\r\n3\r\n$3\r\n1.5\r\n$1\r\n1\r\n$1\r\n0\r\n", string(got))
	_, err = appendClientCommand(nil, []any{"X", time.Second})
	assert.ErrorContains(t, err, "time.Duration")
}

func BenchmarkClientGetSet(b *testing.B) {
	b.Run("chkv", func(b *testing.B) {
		benchClientGetSet(b, newTestClient(b, ClientConfig{Addr: RunT(b).Addr()}))
	})
	b.Run("redis", func(b *testing.B) {
		sock := startRedisForClient(b)
		benchClientGetSet(b, newTestClient(b, redisClientConfig(sock)))
	})
}

// benchClientGetSet runs SET and GET pairs from parallel goroutines.
func benchClientGetSet(b *testing.B, c *Client) {
	ctx := context.Background()
	value := strings.Repeat("v", 64)
	b.ReportAllocs()
	b.SetParallelism(8) // 8 callers per core: the pool, not the caller count, is the limit
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := "bench:" + strconv.Itoa(i%1024)
			i++
			if err := c.Set(ctx, k, value); err != nil {
				b.Error(err)
				return
			}
			if _, err := c.Get(ctx, k); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
