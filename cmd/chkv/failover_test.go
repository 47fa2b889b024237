// A failover test of the real binary: a NameNode and four DataNodes as processes, go-redis writers, kill -9 of a DataNode twice.

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chkv/chkv"
	"github.com/redis/go-redis/v9"
)

// proc is one chkv process of the test cluster.
type proc struct {
	cmd  *exec.Cmd
	addr string
}

// startProc runs bin with args and waits for the line matching ready,
// whose first group is the address the process listens on.
// buildBinary builds the chkv binary into dir and returns its path.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "chkv")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startProc(t *testing.T, bin string, ready *regexp.Regexp, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CHKV_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := ready.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return &proc{cmd: cmd, addr: m[1]}
		}
	}
	t.Fatalf("%v did not start", args)
	return nil
}

// retriedIncrs counts, per key, the INCR and CHKV.SETV attempts on a node
// that ended in an error other than a redirect: go-redis's ClusterClient
// tries such a command again, so an INCR it finally reports as
// acknowledged (or failed) may have been applied once by the attempt whose
// reply was lost (the node died between applying, replicating and
// answering) and once more by the retry, and a CHKV.SETV whose retry met a
// version mismatch may have been applied by the first attempt. Each such
// attempt allows the counter one more increment.
type retriedIncrs struct{ m sync.Map } // key -> *atomic.Int64

func (r *retriedIncrs) count(key string) int64 {
	if v, ok := r.m.Load(key); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

func (r *retriedIncrs) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *retriedIncrs) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (r *retriedIncrs) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if name := strings.ToLower(cmd.Name()); err == nil || (name != "incr" && name != "chkv.setv") || len(cmd.Args()) < 2 {
			return err
		}
		if msg := err.Error(); strings.HasPrefix(msg, "MOVED ") || strings.HasPrefix(msg, "ASK ") {
			return err // redirected, not applied
		}
		key := fmt.Sprint(cmd.Args()[1])
		v, _ := r.m.LoadOrStore(key, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		return err
	}
}

// answeredBy remembers which node last answered a command on a key, so a
// test can name the node that served a wrong reply.
type answeredBy struct{ m sync.Map } // key -> node address

func (a *answeredBy) hook(addr string) redis.Hook { return answeredHook{a, addr} }

func (a *answeredBy) node(key string) string {
	v, _ := a.m.Load(key)
	s, _ := v.(string)
	return s
}

type answeredHook struct {
	a    *answeredBy
	addr string
}

func (h answeredHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h answeredHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h answeredHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if len(cmd.Args()) >= 2 {
			h.a.m.Store(fmt.Sprint(cmd.Args()[1]), h.addr)
		}
		return err
	}
}

// failoverWriter writes its own keys and remembers what was acknowledged.
type failoverWriter struct {
	id        int
	by        *answeredBy
	bad       chan<- string
	mu        sync.Mutex
	str       int64 // last acknowledged SET value of fs:<id>
	ctr       int64 // acknowledged INCRs of fc:<id>
	ctrFailed int64 // INCRs that failed: applied or not
	retried   *retriedIncrs
	pushed    []int64
	pushAck   []bool
	cas       int64  // acknowledged CHKV.SETV increments of fv:<id>
	casFailed int64  // CHKV.SETV calls that failed other than by a version mismatch: applied or not
	casVer    uint64 // version the last acknowledged CHKV.SETV returned
	acks      []time.Time
	lastErrAt time.Time
	errs      int
	strAcked  atomic.Int64 // str, for the readers
}

// run writes until ctx ends.
func (w *failoverWriter) run(ctx context.Context, rc *redis.ClusterClient) {
	k := strconv.Itoa(w.id)
	for i := int64(1); ctx.Err() == nil; i++ {
		err := rc.Set(ctx, "fs:{"+k+"}", i, 0).Err()
		w.note(err, func() { w.str = i; w.strAcked.Store(i) })
		err = rc.Incr(ctx, "fc:{"+k+"}").Err()
		w.note(err, func() { w.ctr++ })
		if err != nil {
			w.mu.Lock()
			w.ctrFailed++
			w.mu.Unlock()
		}
		n, err := rc.RPush(ctx, "fl:{"+k+"}", i).Result()
		w.mu.Lock()
		if err == nil && n == 1 && slices.Contains(w.pushAck, true) {
			w.bad <- fmt.Sprintf("%s: RPUSH of %d made a new list on %s at %s, after an acknowledged push", "fl:{"+k+"}", i, w.by.node("fl:{"+k+"}"), time.Now().Format("15:04:05.000"))
		}
		w.pushed = append(w.pushed, i)
		w.pushAck = append(w.pushAck, err == nil)
		w.mu.Unlock()
		w.note(err, func() {})
		w.casIncr(ctx, rc, "fv:{"+k+"}")
	}
}

// casIncr adds one to key with Tair's compare-and-set: CHKV.GETV, then
// CHKV.SETV with the version read. A version mismatch wrote nothing.
func (w *failoverWriter) casIncr(ctx context.Context, rc *redis.ClusterClient, key string) {
	var n int64
	var ver uint64
	r, err := rc.Do(ctx, "CHKV.GETV", key).Slice()
	if err == nil && len(r) == 2 {
		n, _ = strconv.ParseInt(fmt.Sprint(r[0]), 10, 64)
		ver, _ = strconv.ParseUint(fmt.Sprint(r[1]), 10, 64)
	} else if err != nil && err != redis.Nil {
		w.note(err, func() {})
		return
	} else if err == redis.Nil && w.cas > 0 {
		w.bad <- fmt.Sprintf("%s: CHKV.GETV answered nil on %s at %s, after %d acknowledged CHKV.SETV", key, w.by.node(key), time.Now().Format("15:04:05.000"), w.cas)
	}
	nv, err := rc.Do(ctx, "CHKV.SETV", key, n+1, ver).Uint64()
	if err != nil && strings.HasPrefix(err.Error(), "VERSION ") {
		return
	}
	w.note(err, func() { w.cas, w.casVer = w.cas+1, nv })
	if err != nil {
		w.mu.Lock()
		w.casFailed++
		w.mu.Unlock()
	}
}

func (w *failoverWriter) note(err error, ok func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if err == nil {
		ok()
		w.acks = append(w.acks, now)
		return
	}
	w.lastErrAt = now
	w.errs++
}

// stall returns the longest wait between two acknowledgements of w around
// t: how long its writes were refused or stalled by an event at t.
func (w *failoverWriter) stall(t time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearchFunc(w.acks, t, func(a, b time.Time) int { return a.Compare(b) })
	if i == 0 || i == len(w.acks) {
		return 0
	}
	return w.acks[i].Sub(w.acks[i-1])
}

// read reads fs:<id> until ctx ends and reports a read that returned less
// than a SET acknowledged before the read began: an acknowledged value
// that went back.
func (w *failoverWriter) read(ctx context.Context, rc *redis.ClusterClient, reads *atomic.Int64, bad chan<- string) {
	key := "fs:{" + strconv.Itoa(w.id) + "}"
	for ctx.Err() == nil {
		floor := w.strAcked.Load()
		v, err := rc.Get(ctx, key).Int64()
		if err != nil {
			if err == redis.Nil && floor > 0 {
				bad <- fmt.Sprintf("%s read as missing after SET %d was acknowledged", key, floor)
			}
			continue
		}
		reads.Add(1)
		if v < floor {
			bad <- fmt.Sprintf("%s read as %d after SET %d was acknowledged", key, v, floor)
		}
	}
}

// check reads back what w had acknowledged.
func (w *failoverWriter) check(ctx context.Context, t *testing.T, rc *redis.ClusterClient) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	k := strconv.Itoa(w.id)
	if w.str == 0 && w.ctr == 0 {
		return // nothing acknowledged (the writer's slot was down the whole time)
	}
	if v, err := rc.Get(ctx, "fs:{"+k+"}").Int64(); err != nil || v < w.str {
		t.Errorf("fs:{%s} = %d, %v; the last acknowledged SET wrote %d", k, v, err, w.str)
	}
	retried := w.retried.count("fc:{" + k + "}")
	if v, err := rc.Get(ctx, "fc:{"+k+"}").Int64(); err != nil || v < w.ctr || v > w.ctr+w.ctrFailed+retried {
		t.Errorf("fc:{%s} = %d, %v; want %d acknowledged increments (+ up to %d failed, + up to %d attempts retried by go-redis)", k, v, err, w.ctr, w.ctrFailed, retried)
	}
	if w.cas > 0 {
		r, err := rc.Do(ctx, "CHKV.GETV", "fv:{"+k+"}").Slice()
		var n int64
		var ver uint64
		if err == nil && len(r) == 2 {
			n, _ = strconv.ParseInt(fmt.Sprint(r[0]), 10, 64)
			ver, _ = strconv.ParseUint(fmt.Sprint(r[1]), 10, 64)
		}
		retried := w.retried.count("fv:{" + k + "}")
		if err != nil || n < w.cas || n > w.cas+w.casFailed+retried || ver < w.casVer {
			t.Errorf("fv:{%s} = %d at version %d, %v; want %d acknowledged CHKV.SETV increments (+ up to %d failed, + up to %d attempts retried by go-redis) and at least version %d", k, n, ver, err, w.cas, w.casFailed, retried, w.casVer)
		}
	}
	got, err := rc.LRange(ctx, "fl:{"+k+"}", 0, -1).Result()
	if err != nil {
		t.Errorf("LRANGE fl:{%s}: %v", k, err)
		return
	}
	have := map[string]bool{}
	for _, v := range got {
		have[v] = true
	}
	for i, v := range w.pushed {
		if w.pushAck[i] && !have[strconv.FormatInt(v, 10)] {
			t.Errorf("fl:{%s} lost the acknowledged push of %d", k, v)
			return
		}
	}
}

// TestFailoverKill9 runs the real binary: one NameNode and four DataNodes
// with one replica, go-redis ClusterClient writers (SET, INCR, RPUSH and
// CHKV.GETV/CHKV.SETV compare-and-set increments) recording every
// acknowledgement, and readers checking that no read returns less than a
// SET acknowledged before it began. It kills -9 one DataNode, waits until
// the cluster has two live copies of every slot again, kills -9 a second
// one, and checks that every acknowledged write is readable. It logs how
// long writes stalled or failed around each kill (the longest gap between
// two acknowledgements of one writer), once with a 100 ms heartbeat and
// once with the defaults.
func TestFailoverKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin := buildBinary(t, t.TempDir())
	t.Run("heartbeat 100ms", func(t *testing.T) { failoverKill9(t, bin, "100ms") })
	t.Run("default settings", func(t *testing.T) { failoverKill9(t, bin, "") })
}

func failoverKill9(t *testing.T, bin, hb string) {
	var hbArgs []string
	if hb != "" {
		hbArgs = []string{"--heartbeat", hb}
	}
	nn := startProc(t, bin, regexp.MustCompile(`NameNode ready on (\S+):`), append([]string{"namenode", "--addr", "127.0.0.1:0", "--replicas", "1", "--expect", "4"}, hbArgs...)...)
	var dns []*proc
	for i := range 4 {
		dns = append(dns, startProc(t, bin, regexp.MustCompile(`listening on (\S+),`), append([]string{"datanode", "--addr", "127.0.0.1:0", "--namenode", nn.addr, "--id", "dn" + strconv.Itoa(i+1)}, hbArgs...)...))
	}
	killed := map[int]bool{}
	// stable waits until every slot has its full set of live copies and
	// every DataNode not killed is up: a node declared down under load (a
	// false positive of failure detection) is back and filled before the
	// next kill, which would otherwise be a second failure with 1 replica.
	stable := func(what string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if st, err := statusOf(bin, nn.addr); err == nil && st.Stable {
				up := true
				for i := range dns {
					m, ok := st.member(chkv.NodeID("dn" + strconv.Itoa(i+1)))
					up = up && (killed[i] || ok && m.State == "up")
				}
				if up {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		out, _ := exec.Command(bin, "status", "--namenode", nn.addr).CombinedOutput()
		t.Fatalf("%s: the cluster did not become stable with every DataNode not killed up:\n%s", what, out)
	}
	stable("start")
	addrs := make([]string, len(dns))
	for i, d := range dns {
		addrs[i] = d.addr
	}
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	defer rc.Close()
	retried := &retriedIncrs{}
	by := &answeredBy{}
	rc.OnNewNode(func(c *redis.Client) { c.AddHook(retried); c.AddHook(by.hook(c.Options().Addr)) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writers := make([]*failoverWriter, 16)
	var wg sync.WaitGroup
	var reads atomic.Int64
	bad := make(chan string, 1000)
	for i := range writers {
		writers[i] = &failoverWriter{id: i, retried: retried, by: by, bad: bad}
		wg.Go(func() { writers[i].run(ctx, rc) })
		wg.Go(func() { writers[i].read(ctx, rc, &reads, bad) })
	}
	for round, victim := range []int{0, 2} {
		time.Sleep(time.Second)
		stable(fmt.Sprintf("before the kill of dn%d", victim+1))
		killed[victim] = true
		killedAt := time.Now()
		if err := dns[victim].cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		dns[victim].cmd.Wait()
		down := false
		for deadline := time.Now().Add(30 * time.Second); !down && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			if st, err := statusOf(bin, nn.addr); err == nil {
				m, ok := st.member(chkv.NodeID("dn" + strconv.Itoa(victim+1)))
				down = ok && m.State == "down"
			}
		}
		if !down {
			t.Fatalf("dn%d was not declared down within 30 s", victim+1)
		}
		stable(fmt.Sprintf("after the kill of dn%d", victim+1))
		rebuilt := time.Since(killedAt)
		time.Sleep(500 * time.Millisecond) // the stalled writers' next acknowledgements
		var worst time.Duration
		stalled := 0
		for _, w := range writers {
			if d := w.stall(killedAt); d > 0 {
				worst = max(worst, d)
				if d > time.Second/2 {
					stalled++
				}
			}
		}
		t.Logf("round %d: killed dn%d; writes to its slots stalled or failed for up to %v (%d of %d writers waited more than 0.5 s); every slot had 2 live copies again %v after the kill",
			round+1, victim+1, worst.Round(time.Millisecond), stalled, len(writers), rebuilt.Round(time.Millisecond))
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Error(msg)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	// A fresh client, seeded with the live nodes only, reads everything back.
	rc = redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{dns[1].addr, dns[3].addr}, MaxRedirects: 16})
	defer rc.Close()
	acks, cas := 0, 0
	for _, w := range writers {
		w.check(cctx, t, rc)
		acks += int(w.ctr)
		cas += int(w.cas)
	}
	if acks == 0 || cas == 0 || reads.Load() == 0 {
		t.Fatalf("too little happened: %d acknowledged increments, %d compare-and-sets, %d reads", acks, cas, reads.Load())
	}
	t.Logf("%d writers and readers: %d acknowledged increments, %d compare-and-sets, %d reads, every acknowledged write read back, no read went back", len(writers), acks, cas, reads.Load())
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the checks timed out")
	}
}
