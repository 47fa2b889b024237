package chkv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// newGoRedis returns a go-redis client (a real, unmodified Redis client) for d.
func newGoRedis(t testing.TB, d *DataNode, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: d.Addr(), PoolSize: 64}
	for _, f := range opts {
		f(o)
	}
	rc := redis.NewClient(o)
	t.Cleanup(func() { rc.Close() })
	return rc
}

func TestGoRedisHandshakeAndCommands(t *testing.T) {
	d := RunT(t)
	ctx := context.Background()
	rc := newGoRedis(t, d)
	require.NoError(t, rc.Ping(ctx).Err())
	require.NoError(t, rc.Set(ctx, "k", "v", time.Minute).Err())
	got, err := rc.Get(ctx, "k").Result()
	require.NoError(t, err)
	require.Equal(t, "v", got)
	ttl, err := rc.TTL(ctx, "k").Result()
	require.NoError(t, err)
	require.InDelta(t, 60, ttl.Seconds(), 1)
	_, err = rc.Get(ctx, "missing").Result()
	require.ErrorIs(t, err, redis.Nil)
	n, err := rc.RPush(ctx, "q", "a", "b", "c").Result()
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	items, err := rc.LRange(ctx, "q", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, items)
	_, err = rc.Incr(ctx, "q").Result()
	require.EqualError(t, err, "WRONGTYPE Operation against a key holding the wrong kind of value")

	// A pipeline of 1000 commands answers in order.
	pipe := rc.Pipeline()
	cmds := make([]*redis.IntCmd, 1000)
	for i := range cmds {
		cmds[i] = pipe.Incr(ctx, "counter")
	}
	_, err = pipe.Exec(ctx)
	require.NoError(t, err)
	for i, c := range cmds {
		require.EqualValues(t, i+1, c.Val())
	}

	// Versions through the generic Do.
	v, err := rc.Do(ctx, "CHKV.SETV", "ver", "one", 0).Int64()
	require.NoError(t, err)
	v2, err := rc.Do(ctx, "CHKV.SETV", "ver", "two", v).Int64()
	require.NoError(t, err)
	require.Greater(t, v2, v)
	err = rc.Do(ctx, "CHKV.SETV", "ver", "three", v).Err()
	require.EqualError(t, err, "VERSION mismatch: current version is "+strconv.FormatInt(v2, 10))
	res, err := rc.Do(ctx, "CHKV.GETV", "ver").Slice()
	require.NoError(t, err)
	require.Equal(t, []any{"two", v2}, res)
	require.ErrorIs(t, rc.Do(ctx, "CHKV.GETV", "nope").Err(), redis.Nil)
}

func TestEveryWriteBumpsVersion(t *testing.T) {
	d := RunT(t)
	ctx := context.Background()
	rc := newGoRedis(t, d)
	version := func(key string) int64 {
		t.Helper()
		v, err := rc.Do(ctx, "CHKV.VERSION", key).Int64()
		require.NoError(t, err)
		return v
	}
	require.EqualValues(t, 0, version("s"))
	writes := [][]any{
		{"SET", "s", "1"}, {"INCR", "s"}, {"APPEND", "s", "0"}, {"SETRANGE", "s", 0, "9"},
		{"EXPIRE", "s", 100}, {"PERSIST", "s"}, {"INCRBYFLOAT", "s", "1.5"}, {"GETSET", "s", "x"},
		{"RPUSH", "l", "a"}, {"LPUSH", "l", "b"}, {"LSET", "l", 0, "c"}, {"LINSERT", "l", "BEFORE", "c", "d"},
		{"LREM", "l", 1, "d"}, {"LTRIM", "l", 0, 5}, {"RPOP", "l"},
	}
	last := map[string]int64{}
	for _, w := range writes {
		key := w[1].(string)
		require.NoError(t, rc.Do(ctx, w...).Err(), "%v", w)
		v := version(key)
		require.Greater(t, v, last[key], "%v must bump the version of %s", w, key)
		last[key] = v
	}
	// Deleting and recreating a key never hands out an old version again.
	require.NoError(t, rc.Del(ctx, "s").Err())
	require.EqualValues(t, 0, version("s"))
	require.NoError(t, rc.Set(ctx, "s", "again", 0).Err())
	require.Greater(t, version("s"), last["s"])
}

// TestVersionCASCounter increments one key from many goroutines with a
// CHKV.GETV / CHKV.SETV loop: the final value equals the successful writes.
func TestVersionCASCounter(t *testing.T) {
	d := RunT(t)
	ctx := context.Background()
	rc := newGoRedis(t, d)
	const workers, attempts = 8, 200
	require.NoError(t, rc.Set(ctx, "counter", "0", 0).Err())
	var ok, conflicts atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range attempts {
				res, err := rc.Do(ctx, "CHKV.GETV", "counter").Slice()
				if err != nil {
					t.Error(err)
					return
				}
				val, _ := strconv.ParseInt(res[0].(string), 10, 64)
				err = rc.Do(ctx, "CHKV.SETV", "counter", strconv.FormatInt(val+1, 10), res[1]).Err()
				switch {
				case err == nil:
					ok.Add(1)
				case strings.HasPrefix(err.Error(), "VERSION "):
					conflicts.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := rc.Get(ctx, "counter").Int64()
	require.NoError(t, err)
	require.Equal(t, ok.Load(), got, "final value must equal the successful writes (%d conflicts)", conflicts.Load())
	require.EqualValues(t, workers*attempts, ok.Load()+conflicts.Load())
	t.Logf("%d successful CAS writes, %d conflicts", ok.Load(), conflicts.Load())
}

// TestBLPOPProducersConsumers delivers every item exactly once, and each
// consumer sees each producer's items in the order they were pushed.
func TestBLPOPProducersConsumers(t *testing.T) {
	d := RunT(t)
	ctx := context.Background()
	rc := newGoRedis(t, d)
	const producers, consumers, items = 4, 4, 300
	var mu sync.Mutex
	seen := map[string]int{}
	var got atomic.Int64
	var cwg sync.WaitGroup
	for c := range consumers {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			last := map[int]int{}
			for got.Load() < producers*items {
				res, err := rc.BLPop(ctx, time.Second, "queue").Result()
				if errors.Is(err, redis.Nil) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				var p, i int
				fmt.Sscanf(res[1], "p%d-%d", &p, &i)
				if prev, ok := last[p]; ok && i <= prev {
					t.Errorf("consumer %d got p%d-%d after p%d-%d", c, p, i, p, prev)
				}
				last[p] = i
				mu.Lock()
				seen[res[1]]++
				mu.Unlock()
				got.Add(1)
			}
		}()
	}
	var pwg sync.WaitGroup
	for p := range producers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for i := range items {
				if err := rc.RPush(ctx, "queue", fmt.Sprintf("p%d-%d", p, i)).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	pwg.Wait()
	cwg.Wait()
	require.Len(t, seen, producers*items)
	for item, n := range seen {
		require.Equal(t, 1, n, "item %s delivered %d times", item, n)
	}
	n, err := rc.LLen(ctx, "queue").Result()
	require.NoError(t, err)
	require.Zero(t, n)
}

// TestBLPOPWakesOneWaiterInOrder checks that each pushed item wakes exactly
// one waiter, the one that has waited longest.
func TestBLPOPWakesOneWaiterInOrder(t *testing.T) {
	d := RunT(t)
	ctx := context.Background()
	rc := newGoRedis(t, d)
	const n = 5
	results := make([]chan string, n)
	for i := range n {
		results[i] = make(chan string, 1)
		go func() {
			res, err := rc.BLPop(ctx, 10*time.Second, "wq").Result()
			if err != nil {
				results[i] <- "error: " + err.Error()
				return
			}
			results[i] <- res[1]
		}()
		waitFor(t, func() bool { return d.Store().blockedClients() == int64(i+1) })
	}
	for i := range n {
		require.NoError(t, rc.RPush(ctx, "wq", fmt.Sprintf("item%d", i)).Err())
		require.Equal(t, fmt.Sprintf("item%d", i), <-results[i])
		for j := i + 1; j < n; j++ {
			require.Empty(t, results[j], "waiter %d woke for item %d", j, i)
		}
	}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeClock is a settable clock for TTL tests.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestTTLWithFakeClock(t *testing.T) {
	clock := newFakeClock()
	d := RunT(t, func(c *DataNodeConfig) { c.Now = clock.Now })
	ctx := context.Background()
	rc := newGoRedis(t, d)
	require.NoError(t, rc.Set(ctx, "a", "1", 10*time.Second).Err())
	require.NoError(t, rc.Set(ctx, "b", "1", 0).Err())
	require.NoError(t, rc.PExpire(ctx, "b", 1500*time.Millisecond).Err())
	pttl, err := rc.PTTL(ctx, "b").Result()
	require.NoError(t, err)
	require.Equal(t, 1500*time.Millisecond, pttl)
	clock.Advance(2 * time.Second)
	require.ErrorIs(t, rc.Get(ctx, "b").Err(), redis.Nil)
	ttl, err := rc.TTL(ctx, "a").Result()
	require.NoError(t, err)
	require.Equal(t, 8*time.Second, ttl)
	clock.Advance(8 * time.Second)
	require.EqualValues(t, 0, mustInt(rc.Exists(ctx, "a").Result()))
}

func mustInt(n int64, err error) int64 {
	if err != nil {
		panic(err)
	}
	return n
}

// TestActiveExpiryReclaimsMemory checks that keys nobody reads again are
// removed by the background cycle and their memory is given back.
func TestActiveExpiryReclaimsMemory(t *testing.T) {
	clock := newFakeClock()
	st := NewStore(StoreConfig{Now: clock.Now, ExpireInterval: time.Hour})
	defer st.Close()
	val := []byte(strings.Repeat("x", 100))
	for i := range 10000 {
		key := []byte(fmt.Sprintf("key:%d", i))
		slot, sd := st.lockKey(key)
		exp := int64(0)
		if i%2 == 0 {
			exp = clock.Now().Add(time.Minute).UnixMilli()
		}
		st.setString(slot, key, nil, val, exp, false)
		sd.mu.Unlock()
	}
	full := st.UsedMemory()
	require.EqualValues(t, 10000, st.Keys())
	clock.Advance(2 * time.Minute)
	for st.expireCycle() > 0 {
	}
	require.EqualValues(t, 5000, st.Keys())
	require.EqualValues(t, 5000, st.ExpiredKeys())
	require.InDelta(t, float64(full)/2, float64(st.UsedMemory()), float64(full)/100)
}

func TestAuthAndRemoteBind(t *testing.T) {
	d := RunT(t, func(c *DataNodeConfig) { c.RequirePass = "s3cret" })
	ctx := context.Background()
	noPass := newGoRedis(t, d, func(o *redis.Options) { o.MaxRetries = -1 })
	require.EqualError(t, noPass.Get(ctx, "k").Err(), "NOAUTH Authentication required.")
	bad := newGoRedis(t, d, func(o *redis.Options) { o.Password = "wrong"; o.MaxRetries = -1 })
	require.ErrorContains(t, bad.Ping(ctx).Err(), "WRONGPASS")
	good := newGoRedis(t, d, func(o *redis.Options) { o.Password = "s3cret" })
	require.NoError(t, good.Set(ctx, "k", "v", 0).Err())

	for _, addr := range []string{"0.0.0.0:0", "example.com:0", "myhost:0"} {
		_, err := StartDataNode(ctx, DataNodeConfig{Addr: addr})
		require.ErrorContains(t, err, "without a password", addr)
	}
}

// rawConn is a connection speaking raw bytes, for protocol-level tests.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	_, err := r.nc.Write([]byte(s))
	require.NoError(r.t, err)
}

func (r *rawConn) line() string {
	r.t.Helper()
	l, err := r.br.ReadString('\n')
	require.NoError(r.t, err)
	return l
}

func TestInlinePipelineAndQuit(t *testing.T) {
	d := RunT(t)
	r := dialRaw(t, d.Addr())
	r.send("SET greeting \"hello world\"\r\nGET greeting\r\nPING\r\n")
	require.Equal(t, "+OK\r\n", r.line())
	require.Equal(t, "$11\r\n", r.line())
	require.Equal(t, "hello world\r\n", r.line())
	require.Equal(t, "+PONG\r\n", r.line())
	r.send("*1\r\n$4\r\nQUIT\r\n")
	require.Equal(t, "+OK\r\n", r.line())
	_, err := r.br.ReadByte()
	require.Error(t, err, "the server closes the connection after QUIT")
}

func TestMaxClients(t *testing.T) {
	d := RunT(t, func(c *DataNodeConfig) { c.MaxClients = 2 })
	a, b := dialRaw(t, d.Addr()), dialRaw(t, d.Addr())
	a.send("PING\r\n")
	b.send("PING\r\n")
	require.Equal(t, "+PONG\r\n", a.line())
	require.Equal(t, "+PONG\r\n", b.line())
	c := dialRaw(t, d.Addr())
	require.Equal(t, "-ERR max number of clients reached\r\n", c.line())
}

func TestCloseTwiceAndBlockedClient(t *testing.T) {
	d := RunT(t)
	r := dialRaw(t, d.Addr())
	r.send("BLPOP nothing 0\r\n")
	waitFor(t, func() bool { return d.Store().blockedClients() == 1 })
	require.NoError(t, d.Close())
	require.NoError(t, d.Close())
	require.Zero(t, d.Store().blockedClients())
}

func TestBlockedClientDisconnectDoesNotStealItems(t *testing.T) {
	d := RunT(t)
	ctx := context.Background()
	r := dialRaw(t, d.Addr())
	r.send("BLPOP q 0\r\n")
	waitFor(t, func() bool { return d.Store().blockedClients() == 1 })
	r.nc.Close()
	waitFor(t, func() bool { return d.Store().blockedClients() == 0 })
	rc := newGoRedis(t, d)
	require.NoError(t, rc.RPush(ctx, "q", "x").Err())
	require.EqualValues(t, 1, mustInt(rc.LLen(ctx, "q").Result()), "the item stays in the list")
}

// countingTransport counts the writes of the server side of its connections.
type countingTransport struct {
	Transport
	writes *atomic.Int64
}

type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (t countingTransport) Listen(addr string) (net.Listener, error) {
	ln, err := t.Transport.Listen(addr)
	return countingListener{ln, t.writes}, err
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestPipelineOneFlushPerBatch sends 100 commands in one write over the
// memory transport and checks they are answered with one write.
func TestPipelineOneFlushPerBatch(t *testing.T) {
	var net MemNetwork
	defer net.Close()
	writes := &atomic.Int64{}
	d := RunT(t, func(c *DataNodeConfig) {
		c.Transport = countingTransport{net.Transport("server"), writes}
		c.Addr = "server:0"
		c.AllowRemote = true // a wrapped memory transport: not a network address
	})
	nc, err := net.Transport("client").Dial(context.Background(), d.Addr())
	require.NoError(t, err)
	defer nc.Close()
	var req strings.Builder
	for i := range 100 {
		fmt.Fprintf(&req, "SET k%d v\r\n", i)
	}
	_, err = nc.Write([]byte(req.String()))
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	for range 100 {
		l, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "+OK\r\n", l)
	}
	require.EqualValues(t, 1, writes.Load(), "100 pipelined replies must leave in one write")
}

// TestRedisCLI drives the real redis-cli against the server.
func TestRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not found: SKIPPING; install redis-tools")
	}
	d := RunT(t)
	_, port, _ := net.SplitHostPort(d.Addr())
	cmd := exec.Command(cli, "-p", port)
	cmd.Stdin = strings.NewReader("SET greeting hello\nGET greeting\nRPUSH q a b\nLRANGE q 0 -1\nCHKV.GETV greeting\nINCR greeting\n")
	// redis-cli prints errors followed by an empty line when not on a terminal.
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "OK\nhello\n2\na\nb\nhello\n1\nERR value is not an integer or out of range\n\n", string(out))
}

// TestInfoStatsCountsBytes: INFO stats counts the bytes every connection
// sent and received, open ones and closed ones alike (each connection
// keeps its own counters; INFO sums them).
func TestInfoStatsCountsBytes(t *testing.T) {
	d := RunT(t)
	roundTrip := func(nc net.Conn, req, want string) {
		t.Helper()
		_, err := nc.Write([]byte(req))
		require.NoError(t, err)
		got := make([]byte, len(want))
		_, err = io.ReadFull(nc, got)
		require.NoError(t, err)
		require.Equal(t, want, string(got))
	}
	open, err := net.Dial("tcp", d.Addr())
	require.NoError(t, err)
	defer open.Close()
	roundTrip(open, "PING\r\n", "+PONG\r\n") // 6 bytes in, 7 out
	closed, err := net.Dial("tcp", d.Addr())
	require.NoError(t, err)
	roundTrip(closed, "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n", "$5\r\nhello\r\n") // 25 in, 11 out
	closed.Close()
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.conns) == 1
	}, 10*time.Second, time.Millisecond, "the server notices the closed connection")

	info, err := net.Dial("tcp", d.Addr())
	require.NoError(t, err)
	defer info.Close()
	_, err = info.Write([]byte("INFO stats\r\n")) // 12 in, counted before the reply is made
	require.NoError(t, err)
	text, err := readClientReply(bufio.NewReader(info), 0)
	require.NoError(t, err)
	stats := map[string]string{}
	for _, l := range strings.Split(text.(string), "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			stats[k] = v
		}
	}
	require.Equal(t, strconv.Itoa(6+25+12), stats["total_net_input_bytes"])
	require.Equal(t, strconv.Itoa(7+11), stats["total_net_output_bytes"])
	require.Equal(t, "3", stats["total_connections_received"])
}
