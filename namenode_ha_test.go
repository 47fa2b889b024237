package chkv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// newRaftTestCluster starts 3 NameNodes on Raft and 3 DataNodes over the
// memory network, with short Raft and heartbeat timings.
func newRaftTestCluster(t *testing.T, opts ...func(*ClusterConfig)) *Cluster {
	t.Helper()
	return newTestCluster(t, ClusterMem, append([]func(*ClusterConfig){func(c *ClusterConfig) {
		c.NameNodes = 3
		// Raft's default timeouts: shorter ones make leaders flap on a loaded machine under -race.
		c.RaftTimeout = 0
	}}, opts...)...)
}

// tableHistory samples the tables every DataNode and every NameNode hold
// until stopped, and records each version's contents: one version seen
// with two contents, or a DataNode whose version went down, is a failure.
type tableHistory struct {
	c    *Cluster
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	contents map[uint64][]byte
	last     map[string]uint64
	errs     []string
}

func watchTables(c *Cluster) *tableHistory {
	h := &tableHistory{c: c, stop: make(chan struct{}), done: make(chan struct{}), contents: map[uint64][]byte{}, last: map[string]uint64{}}
	go func() {
		defer close(h.done)
		for {
			h.sample()
			select {
			case <-h.stop:
				h.sample()
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return h
}

func (h *tableHistory) see(who string, t *Table, dataNode bool) {
	if t == nil || t.Version == 0 {
		return
	}
	b, err := t.MarshalBinary()
	if err != nil {
		panic(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if prev, ok := h.contents[t.Version]; ok && !bytes.Equal(prev, b) {
		h.errs = append(h.errs, fmt.Sprintf("%s: table version %d seen with two contents", who, t.Version))
	}
	h.contents[t.Version] = b
	if dataNode && t.Version < h.last[who] {
		h.errs = append(h.errs, fmt.Sprintf("%s: table version %d after %d", who, t.Version, h.last[who]))
	}
	h.last[who] = max(h.last[who], t.Version)
}

func (h *tableHistory) sample() {
	for _, d := range h.c.DataNodes() {
		h.see(string(d.ID()), d.Table(), true)
	}
	for i := range h.c.NameNodes() {
		if n := h.c.NameNodeAt(i); n != nil {
			h.see(NameNodeNodeName(i), n.Table(), false)
		}
	}
}

// check stops the sampling and fails the test on any conflict.
func (h *tableHistory) check(t *testing.T) {
	t.Helper()
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.errs {
		t.Error(e)
	}
	t.Logf("%d table versions seen, one content each", len(h.contents))
}

// haLoadKeys writes n keys through cl and returns them with their values.
func haLoadKeys(t *testing.T, ctx context.Context, cl *Client, prefix string, n int) map[string]string {
	t.Helper()
	kv := map[string]string{}
	for i := range n {
		k, v := prefix+strconv.Itoa(i), "v"+strconv.Itoa(i)
		if err := cl.Set(ctx, k, v); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		kv[k] = v
	}
	return kv
}

// haCheckKeys reads every key back.
func haCheckKeys(t *testing.T, ctx context.Context, cl *Client, kv map[string]string) {
	t.Helper()
	for k, v := range kv {
		got, err := cl.Get(ctx, k)
		for try := 0; err != nil && !errors.Is(err, ErrNil) && try < 5; try++ {
			got, err = cl.Get(ctx, k) // a connection cut as a node changes hands: read again
		}
		if err != nil || got != v {
			t.Fatalf("GET %s = %q, %v; want %q", k, got, err, v)
		}
	}
}

// TestNameNodeFollowerRedirects: followers refuse every request that
// changes state with the leader's id and address, and answer CHKV.TABLE
// and CHKV.STATUS from the committed state, with their Raft role.
func TestNameNodeFollowerRedirects(t *testing.T) {
	c := newRaftTestCluster(t)
	ctx0, cancel0 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel0()
	l, err := c.WaitLeader(ctx0)
	if err != nil {
		t.Fatal(err)
	}
	leader := c.NameNodeAt(l)
	tr := c.Transport()
	err = c.poll(ctx0, func() bool { // followers learn the commit with the next heartbeat
		for i := range c.NameNodes() {
			if c.NameNodeAt(i).Table().Version != leader.Table().Version {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	var r any
	for i := range c.NameNodes() {
		addr := c.nnCfgs[i].Addr
		var st nnStatus
		r, err = call(t, tr, addr, "CHKV.STATUS")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r.([]byte), &st); err != nil {
			t.Fatal(err)
		}
		wantRole := "follower"
		if i == l {
			wantRole = "leader"
		}
		if st.Raft == nil || st.Raft.Role != wantRole || st.Raft.Term == 0 || st.Raft.LastApplied == 0 || st.Raft.LeaderAddr != leader.Addr() {
			t.Fatalf("NameNode %d status raft %+v, want role %s, leader %s", i, st.Raft, wantRole, leader.Addr())
		}
		if st.Version != leader.Table().Version || len(st.Members) != 3 {
			t.Fatalf("NameNode %d status version %d with %d members, leader's table %d", i, st.Version, len(st.Members), leader.Table().Version)
		}
		if i == l {
			continue
		}
		// A peerLink would follow the redirect: talk raw.
		link := &peerLink{tr: tr, addr: addr}
		_, err = link.doAt(context.Background(), addr, 5*time.Second, "CHKV.LEAVE", "dn1")
		link.close()
		want := fmt.Sprintf("ERR chkv: not the NameNode leader; leader is nn%d %s", l+1, leader.Addr())
		if err == nil || err.Error() != want {
			t.Fatalf("CHKV.LEAVE on follower %d: %v, want %q", i, err, want)
		}
		r, err = call(t, tr, addr, "CHKV.TABLE")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeTable(r.([]byte)); err != nil || got.Version != leader.Table().Version {
			t.Fatalf("CHKV.TABLE on follower %d: version %v (%v), leader %d", i, got, err, leader.Table().Version)
		}
	}
	// Through a list, the request reaches the leader.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link := &peerLink{tr: tr, addr: c.NameNodeAddr(), timeout: 5 * time.Second}
	defer link.close()
	if r, err := link.do(ctx, "CHKV.REASSIGNLOST"); err != nil || r != int64(0) {
		t.Fatalf("CHKV.REASSIGNLOST through the list: %v, %v", r, err)
	}
}

// TestNameNodeLeaderKilled: the leader of 3 NameNodes dies with keys
// loaded; a new leader is elected, writes and reads go on, a DataNode
// joined afterwards gets its share, and no DataNode's table version ever
// goes down.
func TestNameNodeLeaderKilled(t *testing.T) {
	c := newRaftTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := watchTables(c)
	cl, err := NewClient(ctx, ClientConfig{NameNode: c.NameNodeAddr(), Transport: c.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kv := haLoadKeys(t, ctx, cl, "before:", 300)
	old, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v0 := c.NameNodeAt(old).Table().Version
	start := time.Now()
	if err := c.KillNameNode(old); err != nil {
		t.Fatal(err)
	}
	l, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader nn%d after %v (Raft timeouts %v)", l+1, time.Since(start), c.cfg.RaftTimeout)
	if l == old {
		t.Fatalf("the killed NameNode %d leads", l)
	}
	for k, v := range haLoadKeys(t, ctx, cl, "after:", 300) {
		kv[k] = v
	}
	haCheckKeys(t, ctx, cl, kv)
	d, err := c.AddDataNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	tb := c.NameNode().Table()
	if p, _ := tb.Load(d.ID()); p == 0 {
		t.Fatalf("the DataNode joined under the new leader leads no slot in table %d", tb.Version)
	}
	if tb.Version <= v0 {
		t.Fatalf("table version %d after the join, %d before the kill", tb.Version, v0)
	}
	haCheckKeys(t, ctx, cl, kv)
	// The killed NameNode comes back as a follower and catches up.
	if _, err := c.RestartNameNode(ctx, old); err != nil {
		t.Fatal(err)
	}
	err = c.poll(ctx, func() bool {
		n := c.NameNodeAt(old)
		return n != nil && n.Table().Version == c.NameNode().Table().Version
	})
	if err != nil {
		t.Fatalf("restarted NameNode did not catch up: %v", err)
	}
	h.check(t)
}

// TestNameNodeLeaderPartitioned: the leader cut off from the other two
// NameNodes (it still reaches every DataNode) stops acting; the majority
// elects a new leader, which takes in a new DataNode; after healing there
// is one history of tables, which the old leader has caught up with.
func TestNameNodeLeaderPartitioned(t *testing.T) {
	c := newRaftTestCluster(t, func(c *ClusterConfig) { c.ClusterSecret = "raft-secret" }) // Raft connections present it too
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := watchTables(c)
	old, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mine, rest []string
	mine = append(mine, NameNodeNodeName(old), ClientNode)
	for i := range c.NameNodes() {
		if i != old {
			rest = append(rest, NameNodeNodeName(i))
		}
	}
	rest = append(rest, ClientNode)
	for _, d := range c.DataNodes() {
		mine = append(mine, string(d.ID()))
		rest = append(rest, string(d.ID()))
	}
	for i := 4; i <= 5; i++ { // the DataNodes added below
		mine = append(mine, "dn"+strconv.Itoa(i))
		rest = append(rest, "dn"+strconv.Itoa(i))
	}
	if err := c.Partition(mine, rest); err != nil {
		t.Fatal(err)
	}
	oldNN := c.NameNodeAt(old)
	err = c.poll(ctx, func() bool {
		l := c.Leader()
		return l >= 0 && l != old && !oldNN.Leading()
	})
	if err != nil {
		t.Fatalf("no new leader, or the old one still leads: %v", err)
	}
	stale := oldNN.Table().Version
	if _, err := c.AddDataNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	if v := oldNN.Table().Version; v != stale || oldNN.Leading() {
		t.Fatalf("the cut-off NameNode moved from table %d to %d (leading %v)", stale, v, oldNN.Leading())
	}
	c.Heal()
	if _, err := c.AddDataNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	want := c.NameNode().Table()
	err = c.poll(ctx, func() bool { return oldNN.Table().Version == want.Version })
	if err != nil {
		t.Fatalf("the healed NameNode has table %d, the leader %d", oldNN.Table().Version, want.Version)
	}
	if len(want.Members) != 5 {
		t.Fatalf("%d members, want 5", len(want.Members))
	}
	h.check(t)
}

// TestNameNodeLeaderKilledDuringJoin: the leader dies while a join moves
// data (rate-capped so that it is under way); the new leader finishes the
// movement, and every write acknowledged meanwhile reads back.
func TestNameNodeLeaderKilledDuringJoin(t *testing.T) {
	c := newRaftTestCluster(t, func(c *ClusterConfig) { c.MigrateRate = 2000 })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h := watchTables(c)
	// While no NameNode leads, a primary whose lease lapsed answers
	// CLUSTERDOWN until the new leader answers its heartbeat (a second or
	// two): the client retries for that long.
	cl, err := NewClient(ctx, ClientConfig{NameNode: c.NameNodeAddr(), Transport: c.Transport(), MaxRedirects: 40})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kv := haLoadKeys(t, ctx, cl, "k:", 3000)

	// A writer runs throughout; what it had acknowledged must survive. On
	// a machine loaded enough, the election outlasts the client's retries:
	// a write may then be refused (CLUSTERDOWN) or end with its outcome
	// unknown, and the key may hold any value whose outcome is unknown.
	stop := make(chan struct{})
	var mu sync.Mutex
	// Per key, the values it may hold: the last acknowledged one (or none,
	// nil) and those written since with their outcome unknown.
	type maybe struct {
		acked   *string
		unknown []string
	}
	may := map[string]*maybe{}
	var refused, unknown int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k, v := "w:"+strconv.Itoa(i%500), strconv.Itoa(i)
			err := cl.Set(ctx, k, v)
			mu.Lock()
			if may[k] == nil {
				may[k] = &maybe{}
			}
			switch historyOutcomeOf(err) {
			case historyOK:
				may[k] = &maybe{acked: &v}
			case historyUnknown:
				may[k].unknown = append(may[k].unknown, v)
				unknown++
			case historyRefused:
				refused++
			default:
				t.Errorf("SET %s: %v", k, err)
			}
			mu.Unlock()
		}
	}()

	d, err := c.AddDataNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := -1
	err = c.poll(ctx, func() bool {
		old = c.Leader()
		if old < 0 {
			return false
		}
		m := c.NameNodeAt(old).Migration()
		return m.Active && m.SlotsDone > 0
	})
	if err != nil {
		t.Fatalf("no movement under way: %v", err)
	}
	before := c.NameNodeAt(old).Migration()
	t.Logf("killing leader nn%d with %d of %d slots moved", old+1, before.SlotsDone, before.SlotsTotal)
	if err := c.KillNameNode(old); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	tb := c.NameNode().Table()
	if p, _ := tb.Load(d.ID()); p == 0 {
		t.Fatalf("the joined DataNode leads no slot in table %d", tb.Version)
	}
	haCheckKeys(t, ctx, cl, kv)
	mu.Lock()
	defer mu.Unlock()
	for k, m := range may {
		got, err := cl.Get(ctx, k)
		for try := 0; err != nil && !errors.Is(err, ErrNil) && try < 5; try++ {
			got, err = cl.Get(ctx, k)
		}
		ok := slices.Contains(m.unknown, got) && err == nil
		if m.acked == nil {
			ok = ok || errors.Is(err, ErrNil)
		} else {
			ok = ok || err == nil && got == *m.acked
		}
		if !ok {
			want := "none"
			if m.acked != nil {
				want = strconv.Quote(*m.acked)
			}
			t.Errorf("GET %s = %q, %v; want the acknowledged value (%s) or one of unknown outcome %q", k, got, err, want, m.unknown)
		}
	}
	t.Logf("%d keys written during the movement; %d writes refused, %d of unknown outcome", len(may), refused, unknown)
	// Once a leader is back, every write goes through.
	for i := range 500 {
		if err := cl.Set(ctx, "w:"+strconv.Itoa(i), "after"); err != nil {
			t.Fatalf("SET after the failover: %v", err)
		}
	}
	h.check(t)
}

// TestNameNodeSeededSchedule runs seeded schedules of NameNode kills,
// restarts and partitions mixed with DataNode joins, leaves and kills. After
// each step the cluster must settle under whichever NameNode leads; at the
// end every table version has had one content, DataNodes' versions only
// grew, and every acknowledged membership change holds: each DataNode
// joined and running is live, each one that left or was killed is not.
// CHKV_NN_SEEDS=N runs seeds 1..N (default 1); -short skips it.
func TestNameNodeSeededSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("seeded schedules take tens of seconds")
	}
	seeds := 1
	if v, err := strconv.Atoi(os.Getenv("CHKV_NN_SEEDS")); err == nil && v > 0 {
		seeds = v
	}
	for seed := 1; seed <= seeds; seed++ {
		steps := 8
		if raceEnabled {
			steps = 4 // each step is several times slower
		}
		t.Run("seed"+strconv.Itoa(seed), func(t *testing.T) { runNameNodeSchedule(t, int64(seed), steps) })
	}
}

func runNameNodeSchedule(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewPCG(uint64(seed), 19))
	c := newRaftTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := watchTables(c)
	running := map[NodeID]bool{"dn1": true, "dn2": true, "dn3": true}
	gone := map[NodeID]string{} // left or killed
	nnDown := -1                // a killed NameNode (one at most: a majority stays)
	cut := -1                   // a NameNode cut off from the other two
	var dns []string
	for i := 1; i <= 3+steps; i++ {
		dns = append(dns, "dn"+strconv.Itoa(i))
	}
	for step := range steps {
		var action string
		switch k := rng.IntN(7); {
		case k == 0 && nnDown < 0 && cut < 0:
			nnDown = rng.IntN(c.NameNodes())
			action = fmt.Sprintf("kill NameNode nn%d", nnDown+1)
			if err := c.KillNameNode(nnDown); err != nil {
				t.Fatal(err)
			}
		case k == 0 && nnDown >= 0:
			action = fmt.Sprintf("restart NameNode nn%d", nnDown+1)
			if _, err := c.RestartNameNode(ctx, nnDown); err != nil {
				t.Fatal(err)
			}
			nnDown = -1
		case k == 1 && cut < 0 && nnDown < 0:
			cut = rng.IntN(c.NameNodes())
			action = fmt.Sprintf("cut NameNode nn%d off from the others", cut+1)
			mine := append([]string{NameNodeNodeName(cut), ClientNode}, dns...)
			rest := append([]string{ClientNode}, dns...)
			for i := range c.NameNodes() {
				if i != cut {
					rest = append(rest, NameNodeNodeName(i))
				}
			}
			if err := c.Partition(mine, rest); err != nil {
				t.Fatal(err)
			}
		case k == 1 && cut >= 0:
			action = "heal"
			c.Heal()
			cut = -1
		case (k == 2 || k == 3) && len(running) < 6:
			d, err := c.AddDataNode(ctx)
			if err != nil {
				t.Fatal(err)
			}
			running[d.ID()] = true
			action = "join " + string(d.ID())
		case k == 4 && len(running) > 3:
			id := pick(rng, running)
			action = "leave " + string(id)
			// A NameNode busy committing (slow under -race) may let a
			// request time out: ask again, as chkv leave does (a repeat is
			// a no-op), then wait for the node to close itself.
			d := c.DataNode(id)
			for {
				err := d.Leave(ctx)
				if err == nil {
					break
				}
				t.Logf("leave %s: %v", id, err)
				if ctx.Err() != nil {
					t.Fatalf("step %d: %s: %v", step, action, err)
				}
			}
			select {
			case <-d.Done():
			case <-ctx.Done():
				t.Fatalf("step %d: %s: the node did not close", step, action)
			}
			c.take(id)
			if !d.Left() {
				t.Fatalf("step %d: %s: the node closed before its slots moved away", step, action)
			}
			delete(running, id)
			gone[id] = "left"
		case k == 5 && len(running) > 3:
			id := pick(rng, running)
			action = "kill " + string(id)
			if err := c.KillDataNode(id); err != nil {
				t.Fatal(err)
			}
			delete(running, id)
			gone[id] = "killed"
		default:
			action = "nothing"
		}
		t.Logf("seed %d step %d: %s", seed, step, action)
		if err := c.WaitStable(ctx); err != nil {
			t.Fatalf("seed %d step %d (%s): %v", seed, step, action, err)
		}
	}
	c.Heal()
	if nnDown >= 0 {
		if _, err := c.RestartNameNode(ctx, nnDown); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	final := c.NameNode().Table()
	for id := range running {
		if m, ok := final.Member(id); !ok || !m.State.Live() {
			t.Errorf("seed %d: %s joined and runs but is not live in table %d", seed, id, final.Version)
		}
	}
	for id, how := range gone {
		if m, ok := final.Member(id); ok && m.State.Live() {
			t.Errorf("seed %d: %s %s but is %s in table %d", seed, id, how, m.State, final.Version)
		}
	}
	// Every NameNode ends with the leader's table.
	err := c.poll(ctx, func() bool {
		for i := range c.NameNodes() {
			if c.NameNodeAt(i).Table().Version != final.Version {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Errorf("seed %d: NameNodes did not all reach table %d", seed, final.Version)
	}
	h.check(t)
}

// pick returns one of the ids, chosen by rng in a fixed order.
func pick(rng *rand.Rand, ids map[NodeID]bool) NodeID {
	s := make([]NodeID, 0, len(ids))
	for id := range ids {
		s = append(s, id)
	}
	slices.Sort(s)
	return s[rng.IntN(len(s))]
}
