// Tests of cluster mode: routing, the CLUSTER commands, table pushes, and unmodified cluster clients (go-redis, redis-cli -c) against an in-process cluster.

package chkv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTransports are the transports the cluster suite runs over.
var clusterTransports = []string{ClusterMem, ClusterTCP}

// newTestCluster starts a cluster over transport with a heartbeat fast
// enough to see failures within seconds, slow enough that a loaded machine
// running -race does not miss beats (a missed beat moves slots).
func newTestCluster(t *testing.T, transport string, opts ...func(*ClusterConfig)) *Cluster {
	t.Helper()
	return NewClusterT(t, append([]func(*ClusterConfig){func(c *ClusterConfig) {
		c.Transport = transport
		c.HeartbeatInterval = 200 * time.Millisecond
	}}, opts...)...)
}

// call sends one command to addr and returns the reply or the error reply.
func call(t *testing.T, tr Transport, addr string, args ...string) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := &peerLink{tr: tr, addr: addr}
	defer l.close()
	r, err := l.do(ctx, args...)
	var re *RESPError
	if err != nil && !errors.As(err, &re) {
		t.Fatalf("%s %v: %v", addr, args, err)
	}
	return r, err
}

// wantError checks that err is an error reply with the given text.
func wantError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Fatalf("got error %v, want %q", err, want)
	}
}

// keyOn returns a key whose slot satisfies ok.
func keyOn(t *testing.T, ok func(slot int) bool) (string, int) {
	t.Helper()
	for i := range 1 << 20 {
		k := "key:" + strconv.Itoa(i)
		if s := Slot(k); ok(s) {
			return k, s
		}
	}
	t.Fatal("no key found")
	return "", 0
}

func forEachTransport(t *testing.T, f func(t *testing.T, transport string)) {
	for _, tr := range clusterTransports {
		t.Run(tr, func(t *testing.T) { f(t, tr) })
	}
}

func TestClusterGoRedis(t *testing.T) {
	forEachTransport(t, func(t *testing.T, transport string) {
		// The default heartbeat: this test loads the machine and needs no failure detection.
		c := newTestCluster(t, transport, func(c *ClusterConfig) { c.HeartbeatInterval = time.Second })
		tr := c.Transport()
		rc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:  c.Addrs(),
			Dialer: func(ctx context.Context, _, addr string) (net.Conn, error) { return tr.Dial(ctx, addr) },
		})
		defer rc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// 100,000 keys over both transports.
		n, batch := 100_000, 5_000
		for i := 0; i < n; i += batch {
			_, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j := i; j < i+batch; j++ {
					p.Set(ctx, "k"+strconv.Itoa(j), "v"+strconv.Itoa(j), 0)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("pipelined SET from %d: %v", i, err)
			}
		}
		for i := 0; i < n; i += batch {
			cmds, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j := i; j < i+batch; j++ {
					p.Get(ctx, "k"+strconv.Itoa(j))
				}
				return nil
			})
			if err != nil {
				t.Fatalf("pipelined GET from %d: %v", i, err)
			}
			for j, cmd := range cmds {
				if got, want := cmd.(*redis.StringCmd).Val(), "v"+strconv.Itoa(i+j); got != want {
					t.Fatalf("GET k%d = %q, want %q", i+j, got, want)
				}
			}
		}
		// The keys are spread: each node holds exactly the keys of the
		// slots it leads or replicates (every copy holds every write
		// acknowledged).
		table := c.NameNode().Table()
		want := map[NodeID]int64{}
		for j := 0; j < n; j++ {
			for _, id := range table.Owners(Slot("k" + strconv.Itoa(j))) {
				want[id]++
			}
		}
		var total int64
		for _, d := range c.DataNodes() {
			keys := d.Store().Keys()
			if keys == 0 {
				t.Errorf("%s holds no key", d.ID())
			}
			if keys != want[d.ID()] {
				t.Errorf("%s holds %d keys, want %d (the keys of the slots it leads or replicates)", d.ID(), keys, want[d.ID()])
			}
			total += keys
			for _, k := range d.Store().scanSlot(nil, Slot("k0"), nil) {
				if !table.holds(Slot(k), d.ID()) {
					t.Errorf("%s holds %q of slot %d owned by %v", d.ID(), k, Slot(k), table.Owners(Slot(k)))
				}
			}
		}
		n *= table.Replicas + 1
		if total != int64(n) {
			t.Errorf("nodes hold %d keys in all, want %d", total, n)
		}
	})
}

func TestClusterSlotsCoverEverySlotOnce(t *testing.T) {
	forEachTransport(t, func(t *testing.T, transport string) {
		c := newTestCluster(t, transport)
		table := c.NameNode().Table()
		for _, d := range c.DataNodes() {
			r, err := call(t, c.Transport(), d.Addr(), "CLUSTER", "SLOTS")
			if err != nil {
				t.Fatal(err)
			}
			var seen [NumSlots]int
			for _, e := range r.([]any) {
				e := e.([]any)
				start, end := e[0].(int64), e[1].(int64)
				if len(e) != 2+table.Replicas+1 {
					t.Errorf("range %d-%d has %d owners, want %d", start, end, len(e)-2, table.Replicas+1)
				}
				for s := start; s <= end; s++ {
					seen[s]++
					p, _ := table.Primary(int(s))
					node := e[2].([]any)
					addr := net.JoinHostPort(string(node[0].([]byte)), strconv.FormatInt(node[1].(int64), 10))
					if addr != p.Addr || string(node[2].([]byte)) != clusterNodeID(p.ID) {
						t.Fatalf("slot %d: primary %s %s, want %s %s", s, addr, node[2], p.Addr, clusterNodeID(p.ID))
					}
				}
			}
			for s, n := range seen {
				if n != 1 {
					t.Fatalf("%s: slot %d appears %d times in CLUSTER SLOTS", d.ID(), s, n)
				}
			}
		}
	})
}

func TestClusterRouting(t *testing.T) {
	forEachTransport(t, func(t *testing.T, transport string) {
		c := newTestCluster(t, transport)
		tr := c.Transport()
		table := c.NameNode().Table()
		d := c.DataNodes()[0]
		key, slot := keyOn(t, func(s int) bool { p, _ := table.Primary(s); return p.ID != d.ID() })
		p, _ := table.Primary(slot)
		t.Run("moved", func(t *testing.T) {
			_, err := call(t, tr, d.Addr(), "SET", key, "v")
			wantError(t, err, fmt.Sprintf("MOVED %d %s", slot, p.Addr))
			if !errors.Is(err, ErrMoved) {
				t.Errorf("%v is not ErrMoved", err)
			}
			if r, err := call(t, tr, p.Addr, "SET", key, "v"); err != nil || r != "OK" {
				t.Fatalf("SET on the primary: %v %v", r, err)
			}
		})
		t.Run("crossslot", func(t *testing.T) {
			_, err := call(t, tr, p.Addr, "MSET", key, "1", key+"x", "2", key+"y", "3")
			wantError(t, err, msgCrossSlot)
			_, err = call(t, tr, d.Addr(), "MSET", "{t}a", "1", "{t}b", "2", "c", "3")
			if Slot("{t}a") != Slot("c") {
				wantError(t, err, msgCrossSlot)
			}
		})
		t.Run("same-slot", func(t *testing.T) {
			p, _ := table.Primary(Slot("{tag}"))
			if r, err := call(t, tr, p.Addr, "MSET", "{tag}a", "1", "{tag}b", "2"); err != nil || r != "OK" {
				t.Fatalf("MSET one slot: %v %v", r, err)
			}
		})
		t.Run("keyless", func(t *testing.T) {
			for _, n := range c.DataNodes() {
				if r, err := call(t, tr, n.Addr(), "PING"); err != nil || r != "PONG" {
					t.Fatalf("PING: %v %v", r, err)
				}
			}
		})
	})
}

func TestClusterDownForLostSlot(t *testing.T) {
	forEachTransport(t, func(t *testing.T, transport string) {
		c := newTestCluster(t, transport, func(c *ClusterConfig) { c.Replicas = 0 })
		tr := c.Transport()
		victim := c.DataNodes()[1]
		key, slot := keyOn(t, func(s int) bool { p, _ := c.NameNode().Table().Primary(s); return p.ID == victim.ID() })
		if err := c.KillDataNode(victim.ID()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		survivor := c.DataNodes()[0]
		err := c.poll(ctx, func() bool { return survivor.Table().Lost(slot) })
		if err != nil {
			t.Fatalf("slot %d never lost on %s: %v", slot, survivor.ID(), err)
		}
		_, err = call(t, tr, survivor.Addr(), "GET", key)
		wantError(t, err, msgClusterDown)
		if !errors.Is(err, ErrClusterDown) {
			t.Errorf("%v is not ErrClusterDown", err)
		}
		r, _ := call(t, tr, survivor.Addr(), "CLUSTER", "INFO")
		if !strings.Contains(string(r.([]byte)), "cluster_state:fail\r\n") {
			t.Errorf("CLUSTER INFO of a cluster with lost slots:\n%s", r)
		}
	})
}

func TestClusterPushTable(t *testing.T) {
	c := newTestCluster(t, ClusterMem)
	tr := c.Transport()
	d := c.DataNodes()[0]
	before := d.Table()
	good, err := before.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("malformed", func(t *testing.T) {
		for _, b := range []string{"", "garbage", string(good[:len(good)/2]), string(good) + "x"} {
			_, err := call(t, tr, d.Addr(), "CHKV.PUSHTABLE", b)
			if err == nil || !strings.HasPrefix(err.Error(), "ERR chkv: bad table: ") {
				t.Errorf("push of %d bytes: got %v, want a bad table error", len(b), err)
			}
			if d.Table() != before {
				t.Fatal("a malformed push changed the table")
			}
		}
	})
	t.Run("stale", func(t *testing.T) {
		old := *before
		old.Version--
		b, _ := old.MarshalBinary()
		if r, err := call(t, tr, d.Addr(), "CHKV.PUSHTABLE", string(b)); err != nil || r != "OK" {
			t.Fatalf("stale push: %v %v", r, err)
		}
		if d.Table() != before {
			t.Fatal("a stale push changed the table")
		}
	})
	t.Run("newer", func(t *testing.T) {
		next := *before
		next.Version += 10
		b, _ := next.MarshalBinary()
		if r, err := call(t, tr, d.Addr(), "CHKV.PUSHTABLE", string(b)); err != nil || r != "OK" {
			t.Fatalf("newer push: %v %v", r, err)
		}
		if v := d.Table().Version; v != next.Version {
			t.Fatalf("version after a newer push: %d, want %d", v, next.Version)
		}
		r, err := call(t, tr, d.Addr(), "CHKV.TABLE")
		if err != nil {
			t.Fatal(err)
		}
		got, err := replyTable(r)
		if err != nil || got.Version != next.Version {
			t.Fatalf("CHKV.TABLE: %v %v", got, err)
		}
	})
}

func TestClusterServesWithoutNameNode(t *testing.T) {
	forEachTransport(t, func(t *testing.T, transport string) {
		c := newTestCluster(t, transport)
		tr := c.Transport()
		c.NameNode().Close()
		table := c.DataNodes()[0].Table()
		time.Sleep(500 * time.Millisecond) // some failed heartbeats
		for i := range 50 {
			k := "nn-down:" + strconv.Itoa(i)
			p, _ := table.Primary(Slot(k))
			if r, err := call(t, tr, p.Addr, "SET", k, strconv.Itoa(i)); err != nil || r != "OK" {
				t.Fatalf("SET %s: %v %v", k, r, err)
			}
			if r, err := call(t, tr, p.Addr, "GET", k); err != nil || string(r.([]byte)) != strconv.Itoa(i) {
				t.Fatalf("GET %s: %v %v", k, r, err)
			}
		}
		for _, d := range c.DataNodes() {
			if d.Table().Version != table.Version {
				t.Errorf("%s changed table without a NameNode", d.ID())
			}
		}
	})
}

func TestClusterCommands(t *testing.T) {
	c := newTestCluster(t, ClusterTCP)
	tr := c.Transport()
	d := c.DataNodes()[0]
	table := d.Table()
	key, slot := keyOn(t, func(s int) bool { p, _ := table.Primary(s); return p.ID == d.ID() })
	call(t, tr, d.Addr(), "SET", key, "v")
	str := func(r any) string {
		switch r := r.(type) {
		case []byte:
			return string(r)
		case int64:
			return strconv.FormatInt(r, 10)
		case string:
			return r
		}
		return fmt.Sprint(r)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // reply, or error text
	}{
		{"keyslot", []string{"CLUSTER", "KEYSLOT", "foo"}, "12182"},
		{"myid", []string{"CLUSTER", "MYID"}, clusterNodeID(d.ID())},
		{"count", []string{"CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(slot)}, "1"},
		{"getkeys", []string{"CLUSTER", "GETKEYSINSLOT", strconv.Itoa(slot), "10"}, "[" + key + "]"},
		{"bad slot", []string{"CLUSTER", "COUNTKEYSINSLOT", "99999"}, "ERR Invalid slot"},
		{"bad count", []string{"CLUSTER", "GETKEYSINSLOT", "1", "-1"}, "ERR Invalid slot or number of keys"},
		{"not int", []string{"CLUSTER", "COUNTKEYSINSLOT", "x"}, "ERR value is not an integer or out of range"},
		{"arity", []string{"CLUSTER", "KEYSLOT"}, "ERR wrong number of arguments for 'cluster|keyslot' command"},
		{"unknown", []string{"CLUSTER", "FOO"}, "ERR unknown subcommand 'FOO'. Try CLUSTER HELP."},
		{"readonly", []string{"READONLY"}, "OK"},
		{"readwrite", []string{"READWRITE"}, "OK"},
		{"asking", []string{"ASKING"}, "OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := call(t, tr, d.Addr(), tc.args...)
			got := ""
			if err != nil {
				got = err.Error()
			} else if a, ok := r.([]any); ok {
				var ss []string
				for _, e := range a {
					ss = append(ss, str(e))
				}
				got = "[" + strings.Join(ss, " ") + "]"
			} else {
				got = str(r)
			}
			if got != tc.want {
				t.Errorf("%v = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
	t.Run("info", func(t *testing.T) {
		r, _ := call(t, tr, d.Addr(), "CLUSTER", "INFO")
		for _, want := range []string{"cluster_state:ok\r\n", "cluster_slots_assigned:16384\r\n", "cluster_known_nodes:3\r\n", "cluster_size:3\r\n", fmt.Sprintf("cluster_current_epoch:%d\r\n", table.Version)} {
			if !strings.Contains(string(r.([]byte)), want) {
				t.Errorf("CLUSTER INFO lacks %q:\n%s", want, r)
			}
		}
		r, _ = call(t, tr, d.Addr(), "INFO", "cluster")
		if string(r.([]byte)) != "# Cluster\r\ncluster_enabled:1\r\n" {
			t.Errorf("INFO cluster = %q", r)
		}
	})
	t.Run("nodes", func(t *testing.T) {
		r, _ := call(t, tr, d.Addr(), "CLUSTER", "NODES")
		lines := strings.Split(strings.TrimSuffix(string(r.([]byte)), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("CLUSTER NODES has %d lines:\n%s", len(lines), r)
		}
		slots := 0
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 9 || len(f[0]) != 40 || f[3] != "-" || f[7] != "connected" {
				t.Fatalf("bad CLUSTER NODES line %q", l)
			}
			if (f[0] == clusterNodeID(d.ID())) != strings.HasPrefix(f[2], "myself,") {
				t.Errorf("myself flag wrong in %q", l)
			}
			for _, s := range f[8:] {
				lo, hi, ok := strings.Cut(s, "-")
				a, _ := strconv.Atoi(lo)
				b := a
				if ok {
					b, _ = strconv.Atoi(hi)
				}
				slots += b - a + 1
			}
		}
		if slots != NumSlots {
			t.Errorf("CLUSTER NODES lists %d slots, want %d", slots, NumSlots)
		}
	})
	t.Run("shards", func(t *testing.T) {
		r, _ := call(t, tr, d.Addr(), "CLUSTER", "SHARDS")
		slots := 0
		for _, s := range r.([]any) {
			s := s.([]any)
			rs := s[1].([]any)
			for i := 0; i < len(rs); i += 2 {
				slots += int(rs[i+1].(int64)-rs[i].(int64)) + 1
			}
			if n := len(s[3].([]any)); n != 2 {
				t.Errorf("shard with %d nodes, want 2", n)
			}
		}
		if slots != NumSlots {
			t.Errorf("CLUSTER SHARDS covers %d slots", slots)
		}
	})
}

func TestClusterRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("SKIPPED: redis-cli is not on PATH; cannot check that redis-cli -c follows MOVED")
	}
	c := newTestCluster(t, ClusterTCP)
	addr := c.Addrs()[0]
	_, port, _ := net.SplitHostPort(addr)
	table := c.NameNode().Table()
	// A key led by another node, so the first node must redirect.
	key, _ := keyOn(t, func(s int) bool { p, _ := table.Primary(s); return p.Addr != addr })
	run := func(args ...string) string {
		out, err := exec.Command(cli, append([]string{"-c", "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run("set", key, "hello"); got != "OK" {
		t.Fatalf("redis-cli -c set = %q", got)
	}
	if got := run("get", key); got != "hello" {
		t.Fatalf("redis-cli -c get = %q", got)
	}
}

func TestClusterRemoveAndRestart(t *testing.T) {
	c := newTestCluster(t, ClusterMem)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := c.AddDataNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.NameNode().Table().Load(d.ID()); p == 0 {
		t.Fatalf("%s leads no slot after joining", d.ID())
	}
	if err := c.RemoveDataNode(ctx, d.ID()); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	if len(c.Addrs()) != 3 {
		t.Fatalf("%d nodes after a remove", len(c.Addrs()))
	}
	id := c.DataNodes()[0].ID()
	addr := c.DataNodes()[0].Addr()
	d, err = c.RestartDataNode(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr() != addr {
		t.Errorf("restarted on %s, want %s", d.Addr(), addr)
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Close() != nil || c.Close() != nil {
		t.Fatal("Close twice failed")
	}
}
