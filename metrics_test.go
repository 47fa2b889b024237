// Tests of the Prometheus metrics: each role's endpoint scraped over HTTP and parsed with Prometheus's own text parser.

package chkv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// scrape GETs url and parses the body with Prometheus's text parser.
func scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// sample returns the value of the metric of family name whose labels
// include all of want (name=value pairs); a histogram gives its count.
// ok is false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == want[i] && lp.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// sum adds the values of every metric of family name whose labels include want.
func sum(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	total := 0.0
	for _, m := range f.Metric {
		one := &dto.MetricFamily{Metric: []*dto.Metric{m}}
		if v, ok := sample(map[string]*dto.MetricFamily{name: one}, name, want...); ok {
			total += v
		}
	}
	return total
}

func TestMetricsDataNode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		loops int
	}{{"event loops", 1}, {"goroutine per connection", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			d := RunT(t, func(c *DataNodeConfig) { c.EventLoops = tc.loops })
			srv := httptest.NewServer(d.MetricsHandler())
			defer srv.Close()
			ctx := context.Background()
			rc := newGoRedis(t, d, func(o *redis.Options) { o.PoolSize = 1 })
			const n = 25
			for i := range n {
				require.NoError(t, rc.Set(ctx, fmt.Sprint("k", i), "value", 0).Err())
			}
			require.Equal(t, "value", rc.Get(ctx, "k3").Val())
			require.Error(t, rc.LPush(ctx, "k1", "x").Err())         // WRONGTYPE
			require.Error(t, rc.Do(ctx, "NOSUCHCMD", "a").Err())     // unknown: rejected
			require.Error(t, rc.Do(ctx, "GET", "a", "b", "c").Err()) // arity: rejected

			fams := scrape(t, srv.URL)
			check := func(name string, want float64, labels ...string) {
				t.Helper()
				got, ok := sample(fams, name, labels...)
				require.True(t, ok, "%s%v missing", name, labels)
				require.Equal(t, want, got, "%s%v", name, labels)
			}
			check("chkv_commands_total", n, "cmd", "set")
			check("chkv_commands_total", 1, "cmd", "get")
			check("chkv_commands_total", 1, "cmd", "lpush")
			check("chkv_command_failures_total", 1, "cmd", "lpush")
			check("chkv_command_failures_total", 0, "cmd", "set")
			timed, _ := sample(fams, "chkv_command_duration_seconds", "cmd", "set")
			require.GreaterOrEqual(t, timed, float64(n/latencySample), "one SET in %d timed", latencySample)
			require.LessOrEqual(t, timed, float64(n/latencySample+1))
			check("chkv_commands_rejected_total", 2)
			check("chkv_errors_total", 1, "error", "WRONGTYPE")
			check("chkv_errors_total", 2, "error", "ERR")
			check("chkv_keys", n)
			check("chkv_connected_clients", 1)
			check("chkv_slots", NumSlots, "role", "primary")
			check("chkv_table_version", 0)
			used, _ := sample(fams, "chkv_used_memory_bytes")
			require.Equal(t, float64(d.Store().UsedMemory()), used)
			require.Greater(t, used, float64(n*len("value")))
			in, _ := sample(fams, "chkv_net_input_bytes_total")
			require.Greater(t, in, float64(n*len("*3\r\n$3\r\nSET\r\n")))
			_, ok := sample(fams, "go_goroutines")
			require.True(t, ok, "Go runtime metrics missing")

			// The counts of a closed connection stay.
			rc.Close()
			rc2 := newGoRedis(t, d)
			require.NoError(t, rc2.Set(ctx, "x", "y", 0).Err())
			fams = scrape(t, srv.URL)
			check("chkv_commands_total", n+1, "cmd", "set")
			check("chkv_errors_total", 2, "error", "ERR")
			check("chkv_keys", n+1)
		})
	}
}

func TestMetricsCluster(t *testing.T) {
	c := NewClusterT(t, func(cfg *ClusterConfig) { cfg.Transport = ClusterTCP })
	ctx := context.Background()
	cl := newTestClient(t, ClientConfig{NameNode: c.NameNodeAddr()})
	const n = 60
	for i := range n {
		require.NoError(t, cl.Set(ctx, fmt.Sprint("key", i), "v"))
	}
	version := float64(c.NameNode().Table().Version)

	t.Run("cluster", func(t *testing.T) {
		srv := httptest.NewServer(c.MetricsHandler())
		defer srv.Close()
		fams := scrape(t, srv.URL)
		require.Equal(t, float64(n), sum(fams, "chkv_commands_total", "cmd", "set"))
		copies := float64(n * (1 + c.NameNode().Table().Replicas)) // a replica holds each key too
		require.Equal(t, copies, sum(fams, "chkv_keys"))
		require.Equal(t, float64(NumSlots), sum(fams, "chkv_slots", "role", "primary"))
		require.Equal(t, float64(NumSlots), sum(fams, "chkv_slots", "role", "replica"))
		for _, d := range c.DataNodes() {
			v, ok := sample(fams, "chkv_table_version", "node", string(d.ID()))
			require.True(t, ok)
			require.Equal(t, version, v)
			keys, _ := sample(fams, "chkv_keys", "node", string(d.ID()))
			require.Equal(t, float64(d.Store().Keys()), keys)
		}
		up, _ := sample(fams, "chkv_namenode_members", "state", "up")
		require.Equal(t, 3.0, up)
	})
	t.Run("namenode", func(t *testing.T) {
		srv := httptest.NewServer(c.NameNode().MetricsHandler())
		defer srv.Close()
		fams := scrape(t, srv.URL)
		v, _ := sample(fams, "chkv_namenode_table_version")
		require.Equal(t, version, v)
		require.Equal(t, 3.0, sum(fams, "chkv_namenode_members", "state", "up"))
		require.Equal(t, 0.0, sum(fams, "chkv_namenode_members", "state", "down"))
		require.Equal(t, float64(NumSlots), sum(fams, "chkv_namenode_member_slots", "role", "primary"))
		stable, _ := sample(fams, "chkv_namenode_stable")
		require.Equal(t, 1.0, stable)
		active, _ := sample(fams, "chkv_namenode_migration_active")
		require.Equal(t, 0.0, active)
	})
	t.Run("datanode", func(t *testing.T) {
		d := c.DataNodes()[0]
		srv := httptest.NewServer(d.MetricsHandler())
		defer srv.Close()
		fams := scrape(t, srv.URL)
		prim, _ := sample(fams, "chkv_slots", "role", "primary")
		want, _ := c.NameNode().Table().Load(d.ID())
		require.Equal(t, float64(want), prim)
		_, labelled := sample(fams, "chkv_keys", "node", string(d.ID()))
		require.False(t, labelled, "a DataNode's own endpoint has no node label")
	})
}

// BenchmarkMetricsOverhead measures the server's throughput of pipelined
// SETs (64 per round trip, one connection) with metrics off and on (on:
// the latency of every command is measured too). Compare ns/op:
//
//	go test -run '^$' -bench MetricsOverhead -count 6 .
func BenchmarkMetricsOverhead(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			d := RunT(b, func(c *DataNodeConfig) { c.EventLoops = 1 })
			if on {
				d.MetricsHandler()
			}
			nc, err := net.Dial("tcp", d.Addr())
			require.NoError(b, err)
			defer nc.Close()
			const depth = 64
			var req []byte
			for i := range depth {
				req = fmt.Appendf(req, "*3\r\n$3\r\nSET\r\n$6\r\nkey%03d\r\n$5\r\nvalue\r\n", i)
			}
			want := len("+OK\r\n") * depth
			buf := make([]byte, want)
			b.SetBytes(0)
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				if _, err := nc.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(nc, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUsedMemoryTruthful checks that INFO's used_memory (and the metric
// that reports it) follows the data held, in every type: it grows by about
// the bytes written and returns to zero once the keys are gone.
func TestUsedMemoryTruthful(t *testing.T) {
	d := RunT(t)
	ctx := context.Background()
	rc := newGoRedis(t, d)
	used := func() int64 {
		info, err := rc.Info(ctx, "memory").Result()
		require.NoError(t, err)
		var n int64
		_, err = fmt.Sscanf(info[strings.Index(info, "used_memory:"):], "used_memory:%d", &n)
		require.NoError(t, err)
		return n
	}
	require.Zero(t, used())
	const items, size = 100, 1000
	val := strings.Repeat("x", size)
	for _, tc := range []struct {
		typ   string
		write func(i int) error
	}{
		{"string", func(i int) error { return rc.Set(ctx, fmt.Sprint("s", i), val, 0).Err() }},
		{"hash", func(i int) error { return rc.HSet(ctx, "h", fmt.Sprint("f", i), val).Err() }},
		{"set", func(i int) error { return rc.SAdd(ctx, "st", fmt.Sprint(i, val)).Err() }},
		{"zset", func(i int) error {
			return rc.ZAdd(ctx, "z", redis.Z{Score: float64(i), Member: fmt.Sprint(i, val)}).Err()
		}},
		{"list", func(i int) error { return rc.RPush(ctx, "l", val).Err() }},
	} {
		before := used()
		for i := range items {
			require.NoError(t, tc.write(i), tc.typ)
		}
		grew := used() - before
		require.GreaterOrEqual(t, grew, int64(items*size), "%s: used_memory grew by %d for %d bytes", tc.typ, grew, items*size)
		require.Less(t, grew, int64(2*items*size), "%s: used_memory grew by %d for %d bytes", tc.typ, grew, items*size)
	}
	require.NoError(t, rc.FlushAll(ctx).Err())
	require.Zero(t, used(), "used_memory after FLUSHALL")
}

// BenchmarkExecCounted measures what counting adds to one command on the
// server, without the network: SET run bare (exec), counted with metrics
// off, and counted with metrics on (one command in latencySample timed).
//
//	go test -run '^$' -bench ExecCounted -count 6 .
func BenchmarkExecCounted(b *testing.B) {
	args := [][]byte{[]byte("SET"), []byte("key"), []byte("value")}
	for _, mode := range []string{"bare", "off", "on"} {
		b.Run(mode, func(b *testing.B) {
			d := RunT(b)
			if mode == "on" {
				d.MetricsHandler()
			}
			server, client := net.Pipe()
			defer client.Close()
			c := d.newConn(server)
			for b.Loop() {
				c.w.buf = c.w.buf[:0]
				if mode == "bare" {
					c.exec(args)
				} else {
					c.execCounted(args)
				}
			}
		})
	}
}
