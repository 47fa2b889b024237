// A crash test of the real binary: chkv server with a data dir under 50 writers, killed with SIGKILL again and again.

package main

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// crashServer is one run of the chkv binary.
type crashServer struct {
	cmd  *exec.Cmd
	addr string
}

var readyLine = regexp.MustCompile(`ready on (\S+)`)

// startCrashServer runs bin as a server keeping its data in dir and waits
// until it listens.
func startCrashServer(t *testing.T, bin, dir, fsync string) *crashServer {
	t.Helper()
	cmd := exec.Command(bin, "server", "--addr", "127.0.0.1:0", "--data-dir", dir, "--appendfsync", fsync)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return &crashServer{cmd: cmd, addr: m[1]}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("the server did not start")
	return nil
}

// writer is one client's own keys and what it knows of them: what was
// acknowledged, and what was sent without an answer (a crash came first).
type writer struct {
	id       int
	str      int64   // last acknowledged SET value of s:<id>
	strSent  int64   // last SET value sent
	ctr      int64   // last acknowledged INCR reply of c:<id>
	ctrSent  int64   // INCRs sent in all
	pushed   []int64 // elements pushed to l:<id>, acknowledged or not, in order
	listAck  int64   // last acknowledged RPUSH reply (the list's length)
	ver      int64   // highest version acknowledged for v:<id>
	verVal   int64   // value of that version
	verSent  int64   // last value sent with CHKV.SETV
	ttlAck   bool    // an EXPIRE of t:<id> was acknowledged
	versions []int64 // every acknowledged version of v:<id>, in order
	acks     int64   // writes acknowledged in all
}

// run writes until a write fails (the server died).
func (w *writer) run(ctx context.Context, rc *redis.Client) {
	k := strconv.Itoa(w.id)
	for i := 0; ; i++ {
		var err error
		switch i % 5 {
		case 0:
			w.strSent++
			if err = rc.Set(ctx, "s:"+k, w.strSent, 0).Err(); err == nil {
				w.str = w.strSent
			}
		case 1:
			w.ctrSent++
			var n int64
			if n, err = rc.Incr(ctx, "c:"+k).Result(); err == nil {
				w.ctr = n
			}
		case 2:
			v := int64(len(w.pushed) + 1)
			w.pushed = append(w.pushed, v)
			var n int64
			if n, err = rc.RPush(ctx, "l:"+k, v).Result(); err == nil {
				w.listAck = n
			}
		case 3:
			w.verSent++
			var v int64
			if v, err = rc.Do(ctx, "CHKV.SETV", "v:"+k, w.verSent, 0).Int64(); err == nil {
				w.versions = append(w.versions, v)
				w.ver, w.verVal = v, w.verSent
			}
		case 4:
			w.ttlAck = false // until the EXPIRE answers, the SET without a TTL may be what the log holds
			if err = rc.Set(ctx, "t:"+k, "x", 0).Err(); err == nil {
				if err = rc.Expire(ctx, "t:"+k, time.Hour).Err(); err == nil {
					w.ttlAck = true
				}
			}
		}
		if err != nil {
			return
		}
		w.acks++
	}
}

// check compares w's keys in the restarted server with what was
// acknowledged, returns how many acknowledged writes are missing, and takes
// the server's state as the writer's from now on.
func (w *writer) check(t *testing.T, ctx context.Context, rc *redis.Client, strict bool) (lost int) {
	t.Helper()
	k := strconv.Itoa(w.id)
	miss := func(what string, args ...any) {
		lost++
		if strict {
			t.Errorf("writer %d: "+what, append([]any{w.id}, args...)...)
		}
	}
	s, _ := rc.Get(ctx, "s:"+k).Int64()
	if s < w.str || s > w.strSent {
		miss("s = %d, acknowledged %d, sent up to %d", s, w.str, w.strSent)
	}
	w.str, w.strSent = s, s
	c, _ := rc.Get(ctx, "c:"+k).Int64()
	if c < w.ctr || c > w.ctrSent {
		miss("c = %d, acknowledged %d, sent %d", c, w.ctr, w.ctrSent)
	}
	w.ctr, w.ctrSent = c, c
	l, _ := rc.LRange(ctx, "l:"+k, 0, -1).Result()
	if int64(len(l)) < w.listAck || len(l) > len(w.pushed) {
		miss("list of %d, acknowledged length %d, pushed %d", len(l), w.listAck, len(w.pushed))
	}
	for i, v := range l {
		if i >= len(w.pushed) || v != strconv.FormatInt(w.pushed[i], 10) {
			t.Errorf("writer %d: list element %d is %s, pushed %v", w.id, i, v, w.pushed[min(i, len(w.pushed)-1)])
			break
		}
	}
	w.pushed = w.pushed[:min(len(l), len(w.pushed))]
	w.listAck = int64(len(w.pushed))
	if r, err := rc.Do(ctx, "CHKV.GETV", "v:"+k).Slice(); err == nil && len(r) == 2 {
		val, _ := strconv.ParseInt(r[0].(string), 10, 64)
		ver := r[1].(int64)
		if ver < w.ver || (ver == w.ver && val != w.verVal) {
			miss("v = %d at version %d, acknowledged %d at version %d", val, ver, w.verVal, w.ver)
		}
		w.ver, w.verVal, w.verSent = ver, val, val
	} else if w.ver > 0 {
		miss("v is gone, acknowledged at version %d", w.ver)
	}
	if w.ttlAck {
		if ttl := rc.TTL(ctx, "t:"+k).Val(); ttl <= 0 {
			miss("t has TTL %v after an acknowledged EXPIRE", ttl)
		}
	}
	return lost
}

// TestCrashKill9 runs chkv server --appendfsync always under 50 writers
// and kills it with SIGKILL at random moments (CHKV_CRASH_KILLS times,
// default 3): after each restart every acknowledged write is there and no
// acknowledged version was handed out twice. CHKV_CRASH_FSYNC=everysec
// measures instead how many acknowledged writes a crash loses then.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	kills := 3
	if v, err := strconv.Atoi(os.Getenv("CHKV_CRASH_KILLS")); err == nil {
		kills = v
	}
	fsync := "always"
	if v := os.Getenv("CHKV_CRASH_FSYNC"); v != "" {
		fsync = v
	}
	bin := buildBinary(t, t.TempDir())
	dir := t.TempDir()
	ctx := context.Background()
	writers := make([]*writer, 50)
	for i := range writers {
		writers[i] = &writer{id: i}
	}
	totalLost := 0
	for round := 0; round <= kills; round++ {
		srv := startCrashServer(t, bin, dir, fsync)
		rc := redis.NewClient(&redis.Options{Addr: srv.addr, PoolSize: 60, MaxRetries: -1})
		if round > 0 {
			lost := 0
			for _, w := range writers {
				lost += w.check(t, ctx, rc, fsync == "always")
			}
			totalLost += lost
			if t.Failed() {
				srv.cmd.Process.Kill()
				srv.cmd.Wait()
				t.Fatalf("after kill %d", round)
			}
		}
		if round == kills {
			rc.Close()
			srv.cmd.Process.Signal(syscall.SIGTERM)
			srv.cmd.Wait()
			break
		}
		var wg sync.WaitGroup
		for _, w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, rc)
			}()
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGKILL)
		srv.cmd.Wait()
		wg.Wait()
		rc.Close()
	}
	for _, w := range writers {
		for i := 1; i < len(w.versions); i++ {
			if w.versions[i] <= w.versions[i-1] {
				t.Fatalf("writer %d: version %d acknowledged after %d: a version was handed out twice", w.id, w.versions[i], w.versions[i-1])
			}
		}
	}
	acks := int64(0)
	for _, w := range writers {
		acks += w.acks
	}
	t.Logf("%d kills with appendfsync %s, 50 writers: %d writes acknowledged, %d of them lost", kills, fsync, acks, totalLost)
}
