// A cluster restart test of the real binary: a DataNode with a data dir killed with SIGKILL and started again on the same directory.

package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chkv/chkv"
	"github.com/redis/go-redis/v9"
)

// restartKey is what the cluster acknowledged for the four keys of one
// hash tag {i}: a string, a counter, a list and a versioned value.
type restartKey struct {
	i      int
	str    string   // value of rs:{i}; "" when it does not exist
	ctr    int64    // value of rc:{i}; 0 when it does not exist
	list   []string // elements of rl:{i}; nil when it does not exist
	val    string   // value of rv:{i}; "" when it does not exist
	ver    uint64   // version of rv:{i} when it exists
	maxVer uint64   // highest version ever acknowledged for rv:{i}
}

func (k *restartKey) name(kind string) string { return kind + ":{" + strconv.Itoa(k.i) + "}" }

// write changes the four keys (SET, INCR, RPUSH, CHKV.SETV with the version
// the key has) and records the acknowledgements; any error fails the test
// (no node is down while it runs).
func (k *restartKey) write(ctx context.Context, t *testing.T, rc *redis.ClusterClient, gen string) {
	t.Helper()
	str := gen + strconv.Itoa(k.i)
	if err := rc.Set(ctx, k.name("rs"), str, 0).Err(); err != nil {
		t.Fatalf("SET %s: %v", k.name("rs"), err)
	}
	k.str = str
	n, err := rc.Incr(ctx, k.name("rc")).Result()
	if err != nil || n != k.ctr+1 {
		t.Fatalf("INCR %s = %d, %v; want %d", k.name("rc"), n, err, k.ctr+1)
	}
	k.ctr = n
	l, err := rc.RPush(ctx, k.name("rl"), gen).Result()
	if err != nil || l != int64(len(k.list)+1) {
		t.Fatalf("RPUSH %s = %d, %v; want %d", k.name("rl"), l, err, len(k.list)+1)
	}
	k.list = append(k.list, gen)
	v, err := rc.Do(ctx, "CHKV.SETV", k.name("rv"), str, k.ver).Uint64()
	if err != nil || v <= k.maxVer {
		t.Fatalf("CHKV.SETV %s %s %d = %d, %v; want a version above %d", k.name("rv"), str, k.ver, v, err, k.maxVer)
	}
	k.val, k.ver, k.maxVer = str, v, v
}

// del deletes the four keys.
func (k *restartKey) del(ctx context.Context, t *testing.T, rc *redis.ClusterClient) {
	t.Helper()
	for _, kind := range []string{"rs", "rc", "rl", "rv"} {
		if n, err := rc.Del(ctx, k.name(kind)).Result(); err != nil || n != 1 {
			t.Fatalf("DEL %s = %d, %v; want 1", k.name(kind), n, err)
		}
	}
	k.str, k.ctr, k.list, k.val, k.ver = "", 0, nil, "", 0
}

// check reads the four keys and wants what was acknowledged last: nothing
// older, nothing deleted.
func (k *restartKey) check(ctx context.Context, t *testing.T, rc *redis.ClusterClient, when string) {
	t.Helper()
	if v, err := rc.Get(ctx, k.name("rs")).Result(); k.str == "" && err != redis.Nil || k.str != "" && (err != nil || v != k.str) {
		t.Errorf("%s: GET %s = %q, %v; acknowledged %q (\"\": deleted)", when, k.name("rs"), v, err, k.str)
	}
	if v, err := rc.Get(ctx, k.name("rc")).Int64(); k.ctr == 0 && err != redis.Nil || k.ctr != 0 && (err != nil || v != k.ctr) {
		t.Errorf("%s: GET %s = %d, %v; acknowledged %d (0: deleted)", when, k.name("rc"), v, err, k.ctr)
	}
	if v, err := rc.LRange(ctx, k.name("rl"), 0, -1).Result(); err != nil || !slices.Equal(v, k.list) {
		t.Errorf("%s: LRANGE %s = %q, %v; acknowledged %q", when, k.name("rl"), v, err, k.list)
	}
	r, err := rc.Do(ctx, "CHKV.GETV", k.name("rv")).Slice()
	switch {
	case k.val == "" && err != redis.Nil:
		t.Errorf("%s: CHKV.GETV %s = %v, %v; it was deleted", when, k.name("rv"), r, err)
	case k.val != "" && (err != nil || len(r) != 2 || fmt.Sprint(r[0]) != k.val || fmt.Sprint(r[1]) != strconv.FormatUint(k.ver, 10)):
		t.Errorf("%s: CHKV.GETV %s = %v, %v; acknowledged %q at version %d", when, k.name("rv"), r, err, k.val, k.ver)
	}
}

// slotHolders returns, per slot, the addresses of the nodes CLUSTER SLOTS
// lists for it (primary and replicas).
func slotHolders(ctx context.Context, t *testing.T, addr string) [chkv.NumSlots][]string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ranges, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER SLOTS on %s: %v", addr, err)
	}
	var h [chkv.NumSlots][]string
	for _, r := range ranges {
		for s := r.Start; s <= r.End; s++ {
			for _, n := range r.Nodes {
				h[s] = append(h[s], n.Addr)
			}
		}
	}
	return h
}

// TestClusterRestartKill9 runs the real binary: a NameNode and DataNodes
// keeping their data in their own dirs, go-redis ClusterClient writes
// (SET, INCR, RPUSH, CHKV.SETV) whose acknowledgements are recorded, then
// a new DataNode takes slots from dn1, and the keys of those slots are
// deleted or overwritten on their new owners. dn1 is killed with SIGKILL
// and started again on the same address, id and data dir: every
// acknowledged write reads back as acknowledged last, no version goes back
// or is handed out again, dn1 holds no key of a slot that left it, and when
// the new node leaves and its slots come back to dn1, no deleted key and no
// older value comes back with them. With --replicas 0 the data of dn1's
// slots exists only in its files; with --replicas 1 its slots fail over
// while it is down and take new writes, which the files' older values must
// not shadow.
func TestClusterRestartKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin := buildBinary(t, t.TempDir())
	t.Run("replicas 0, restarted at once", func(t *testing.T) { clusterRestartKill9(t, bin, 0, false) })
	t.Run("replicas 0, restarted once down", func(t *testing.T) { clusterRestartKill9(t, bin, 0, true) })
	t.Run("replicas 1, restarted after failover", func(t *testing.T) { clusterRestartKill9(t, bin, 1, true) })
}

func clusterRestartKill9(t *testing.T, bin string, replicas int, waitDown bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first := 2 + replicas // DataNodes at the start
	// Not 100 ms: at a load average of 12 that declared a leaving node down.
	hb := []string{"--heartbeat", "250ms"}
	nn := startProc(t, bin, regexp.MustCompile(`NameNode ready on (\S+):`), append([]string{"namenode", "--addr", "127.0.0.1:0", "--replicas", strconv.Itoa(replicas), "--expect", strconv.Itoa(first)}, hb...)...)
	listening := regexp.MustCompile(`listening on (\S+),`)
	dirs := map[string]string{}
	startDN := func(id, addr string) *proc {
		if dirs[id] == "" {
			dirs[id] = t.TempDir()
		}
		return startProc(t, bin, listening, append([]string{"datanode", "--addr", addr, "--namenode", nn.addr, "--id", id, "--data-dir", dirs[id]}, hb...)...)
	}
	stable := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if st, err := statusOf(bin, nn.addr); err == nil && st.Stable && !st.moving() {
				return
			}
		}
		out, _ := exec.Command(bin, "status", "--namenode", nn.addr).CombinedOutput()
		t.Fatalf("%s: the cluster did not become stable:\n%s", what, out)
	}
	dns := map[string]*proc{}
	for i := range first {
		id := "dn" + strconv.Itoa(i+1)
		dns[id] = startDN(id, "127.0.0.1:0")
	}
	stable("start")
	// client returns a new ClusterClient seeded with the running
	// DataNodes: one that knew a node gone since keeps dialling it.
	var rc *redis.ClusterClient
	client := func() *redis.ClusterClient {
		if rc != nil {
			rc.Close()
		}
		var addrs []string
		for _, p := range dns {
			addrs = append(addrs, p.addr)
		}
		rc = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16})
		return rc
	}
	defer func() { rc.Close() }()
	client()

	const n = 400
	keys := make([]*restartKey, n)
	for i := range keys {
		keys[i] = &restartKey{i: i}
		keys[i].write(ctx, t, rc, "a")
		keys[i].write(ctx, t, rc, "b")
	}
	victim := dns["dn1"].addr
	before := slotHolders(ctx, t, victim)

	// A new DataNode takes slots, some of them from dn1.
	extra := "dn" + strconv.Itoa(first+1)
	dns[extra] = startDN(extra, "127.0.0.1:0")
	stable("after " + extra + " joined")
	client()
	// dn1 may adopt the table a moment after the NameNode settled.
	var after [chkv.NumSlots][]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after = slotHolders(ctx, t, victim)
		if slices.ContainsFunc(after[:], func(h []string) bool { return slices.Contains(h, dns[extra].addr) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dn1's CLUSTER SLOTS does not list %s", extra)
		}
	}
	var left, kept []*restartKey
	for _, k := range keys {
		s := chkv.Slot(k.name("rs"))
		switch had, has := slices.Contains(before[s], victim), slices.Contains(after[s], victim); {
		case had && !has:
			left = append(left, k)
		case has:
			kept = append(kept, k)
		}
	}
	if len(left) < 4 || len(kept) < 4 {
		t.Fatalf("of %d key groups, %d were in slots that left dn1 and %d in slots it kept: too few to tell", n, len(left), len(kept))
	}
	// The keys of slots that left dn1 change on their new owners: half are
	// deleted, half overwritten. dn1's files hold their older values.
	for j, k := range left {
		if j%2 == 0 {
			k.del(ctx, t, rc)
		} else {
			k.write(ctx, t, rc, "c")
		}
	}
	// dn1's own keys take writes after the move (its log holds them after
	// the records of the slots that left), a quarter of them are deleted:
	// written again after the restart, they take versions above every
	// earlier one.
	for j, k := range kept {
		if j%4 == 0 {
			k.del(ctx, t, rc)
		} else {
			k.write(ctx, t, rc, "c")
		}
	}

	if err := dns["dn1"].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	dns["dn1"].cmd.Wait()
	delete(dns, "dn1")
	if waitDown {
		down := false
		for deadline := time.Now().Add(30 * time.Second); !down && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if st, err := statusOf(bin, nn.addr); err == nil {
				m, ok := st.member("dn1")
				down = ok && m.State == "down"
			}
		}
		if !down {
			t.Fatal("dn1 was not declared down within 30 s")
		}
	}
	if replicas > 0 {
		// Its slots failed over: they take new values while it is down.
		stable("after dn1 was killed")
		client()
		for _, k := range kept {
			k.write(ctx, t, rc, "d")
		}
	}

	dns["dn1"] = startDN("dn1", victim)
	stable("after dn1 restarted")
	client()
	for _, k := range keys {
		k.check(ctx, t, rc, "after the restart")
	}
	if t.Failed() {
		t.FailNow()
	}
	// dn1 holds the keys of its slots and nothing of the slots that left.
	c1 := redis.NewClient(&redis.Options{Addr: victim})
	defer c1.Close()
	waitUntil := time.Now().Add(10 * time.Second)
	for {
		now := slotHolders(ctx, t, victim)
		want := 0
		for _, k := range keys {
			if slices.Contains(now[chkv.Slot(k.name("rs"))], victim) {
				for _, exists := range []bool{k.str != "", k.ctr != 0, k.list != nil, k.val != ""} {
					if exists {
						want++
					}
				}
			}
		}
		got, err := c1.DBSize(ctx).Result()
		if err == nil && got == int64(want) {
			break
		}
		if time.Now().After(waitUntil) {
			t.Fatalf("dn1 holds %d keys, %v; its slots hold %d: keys of slots that left it came back from its files", got, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The new node leaves: its slots come back to the others, dn1 among
	// them. Nothing dn1's files once held for them reappears.
	if out, err := exec.Command(bin, "leave", "--namenode", nn.addr, "--timeout", "60s", extra).CombinedOutput(); err != nil {
		t.Fatalf("chkv leave %s: %v\n%s", extra, err, out)
	}
	stable("after " + extra + " left")
	delete(dns, extra)
	client()
	back := slotHolders(ctx, t, victim)
	returned := 0
	for _, k := range left {
		if slices.Contains(back[chkv.Slot(k.name("rs"))], victim) {
			returned++
		}
	}
	for _, k := range keys {
		k.check(ctx, t, rc, "after "+extra+" left")
	}
	// Versions go on from the highest ever acknowledged, also for keys
	// deleted and written again.
	for _, k := range keys {
		k.write(ctx, t, rc, "e")
	}
	for _, k := range keys {
		k.check(ctx, t, rc, "at the end")
	}
	t.Logf("replicas %d: %d key groups, %d in slots that left dn1 (%d of them back on dn1 at the end), %d in slots it kept; every acknowledged write read back after kill -9 and restart, nothing deleted or overwritten came back",
		replicas, n, len(left), returned, len(kept))
}
