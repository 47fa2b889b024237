// A failover test of the real binary: a NameNode and four DataNodes as processes, go-redis writers, kill -9 of a DataNode twice.

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// proc is one chkv process of the test cluster.
type proc struct {
	cmd  *exec.Cmd
	addr string
}

// startProc runs bin with args and waits for the line matching ready,
// whose first group is the address the process listens on.
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

// retriedIncrs counts, per key, the INCR attempts on a node that ended in
// an error other than a redirect: go-redis's ClusterClient tries such a
// command again, so an INCR it finally reports as acknowledged (or failed)
// may have been applied once by the attempt whose reply was lost (the
// node died between applying, replicating and answering) and once more by
// the retry. Each such attempt allows the counter one more increment.
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
		if err == nil || cmd.Name() != "incr" || len(cmd.Args()) != 2 {
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

// failoverWriter writes its own keys and remembers what was acknowledged.
type failoverWriter struct {
	id        int
	mu        sync.Mutex
	str       int64 // last acknowledged SET value of fs:<id>
	ctr       int64 // acknowledged INCRs of fc:<id>
	ctrFailed int64 // INCRs that failed: applied or not
	retried   *retriedIncrs
	pushed    []int64
	pushAck   []bool
	lastErrAt time.Time
	firstErr  time.Time
	errs      int
}

// run writes until ctx ends.
func (w *failoverWriter) run(ctx context.Context, rc *redis.ClusterClient) {
	k := strconv.Itoa(w.id)
	for i := int64(1); ctx.Err() == nil; i++ {
		err := rc.Set(ctx, "fs:{"+k+"}", i, 0).Err()
		w.note(err, func() { w.str = i })
		err = rc.Incr(ctx, "fc:{"+k+"}").Err()
		w.note(err, func() { w.ctr++ })
		if err != nil {
			w.mu.Lock()
			w.ctrFailed++
			w.mu.Unlock()
		}
		err = rc.RPush(ctx, "fl:{"+k+"}", i).Err()
		w.mu.Lock()
		w.pushed = append(w.pushed, i)
		w.pushAck = append(w.pushAck, err == nil)
		w.mu.Unlock()
		w.note(err, func() {})
	}
}

func (w *failoverWriter) note(err error, ok func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		ok()
		return
	}
	now := time.Now()
	if w.firstErr.IsZero() || now.Sub(w.lastErrAt) > 2*time.Second {
		w.firstErr = now
	}
	w.lastErrAt = now
	w.errs++
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
// with one replica and a 100 ms heartbeat, go-redis ClusterClient writers
// (SET, INCR, RPUSH) recording every acknowledgement. It kills -9 one
// DataNode, waits until the cluster has two live copies of every slot
// again, kills -9 a second one, and checks that every acknowledged write
// is readable; it logs how long writes failed after each kill.
func TestFailoverKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin := filepath.Join(t.TempDir(), "chkv")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	hb := "100ms"
	nn := startProc(t, bin, regexp.MustCompile(`NameNode ready on (\S+):`), "namenode", "--addr", "127.0.0.1:0", "--replicas", "1", "--heartbeat", hb, "--expect", "4")
	var dns []*proc
	for i := range 4 {
		dns = append(dns, startProc(t, bin, regexp.MustCompile(`listening on (\S+),`), "datanode", "--addr", "127.0.0.1:0", "--namenode", nn.addr, "--id", "dn"+strconv.Itoa(i+1), "--heartbeat", hb))
	}
	stable := func(what string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			out, err := exec.Command(bin, "status", "--namenode", nn.addr, "--json").Output()
			var st struct {
				Stable  bool `json:"stable"`
				Members []struct {
					State string `json:"state"`
				} `json:"members"`
			}
			if err == nil && json.Unmarshal(out, &st) == nil && st.Stable {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		out, _ := exec.Command(bin, "status", "--namenode", nn.addr).CombinedOutput()
		t.Fatalf("%s: the cluster did not become stable:\n%s", what, out)
	}
	stable("start")
	addrs := make([]string, len(dns))
	for i, d := range dns {
		addrs[i] = d.addr
	}
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	defer rc.Close()
	retried := &retriedIncrs{}
	rc.OnNewNode(func(c *redis.Client) { c.AddHook(retried) })
	ctx, cancel := context.WithCancel(context.Background())
	writers := make([]*failoverWriter, 16)
	var wg sync.WaitGroup
	for i := range writers {
		writers[i] = &failoverWriter{id: i, retried: retried}
		wg.Go(func() { writers[i].run(ctx, rc) })
	}
	for round, victim := range []int{0, 2} {
		time.Sleep(time.Second)
		killed := time.Now()
		if err := dns[victim].cmd.Process.Kill(); err != nil {
			cancel()
			t.Fatal(err)
		}
		dns[victim].cmd.Wait()
		downWait := time.Now().Add(30 * time.Second)
		for time.Now().Before(downWait) {
			out, _ := exec.Command(bin, "status", "--namenode", nn.addr, "--json").Output()
			var st struct {
				Members []struct {
					ID    string `json:"id"`
					State string `json:"state"`
				} `json:"members"`
			}
			down := false
			if json.Unmarshal(out, &st) == nil {
				for _, m := range st.Members {
					down = down || (m.ID == "dn"+strconv.Itoa(victim+1) && m.State == "down")
				}
			}
			if down {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		stable(fmt.Sprintf("after the kill of dn%d", victim+1))
		var worst time.Duration
		for _, w := range writers {
			w.mu.Lock()
			if w.lastErrAt.After(killed) {
				worst = max(worst, w.lastErrAt.Sub(killed))
			}
			w.mu.Unlock()
		}
		t.Logf("round %d: killed dn%d; writes answered errors until %v after the kill (they wait rather than fail while the failure is detected); every slot had 2 live copies again after %v", round+1, victim+1, worst.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	// A fresh client, seeded with the live nodes only, reads everything back.
	rc = redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{dns[1].addr, dns[3].addr}, MaxRedirects: 16})
	defer rc.Close()
	acks := 0
	for _, w := range writers {
		w.check(cctx, t, rc)
		acks += int(w.ctr)
	}
	if acks == 0 {
		t.Fatal("no write was acknowledged")
	}
	t.Logf("%d writers, %d acknowledged increments in all, every acknowledged write read back", len(writers), acks)
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the checks timed out")
	}
}
