// chkv torture: the client workload and its recorded history.

package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// tKeyLife is how long a key takes writes: keys change every tKeyLife, which
// bounds the operations of unknown outcome one key's check must place.
const tKeyLife = 15 * time.Second

// tKeysPerKind is how many keys of each kind are live at once.
const tKeysPerKind = 2

// tOutcome is what became of one call.
type tOutcome uint8

const (
	tOK      tOutcome = iota + 1 // it answered
	tFailed                      // a definite error: it did not happen
	tUnknown                     // a timeout or a lost connection: it may have happened
)

// tRecord is one recorded call.
type tRecord struct {
	client     int
	key        string
	kind       tKind
	in         tIn
	out        tOut
	outcome    tOutcome
	start, end time.Time
	err        string
}

// tWorkload runs the clients and keeps their history.
type tWorkload struct {
	seed    uint64
	clients int
	rc      *redis.ClusterClient
	t0      time.Time

	mu    sync.Mutex
	ops   []tRecord
	keys  map[string]tKind
	order []string
}

// noRetryCmd is a command go-redis must not send twice: a retried INCR or
// RPUSH after a lost reply could apply twice and still answer once.
type noRetryCmd struct{ *redis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

func newTWorkload(seed uint64, clients int, seeds []string) *tWorkload {
	// Dial failures are recorded per call; go-redis's log of them is noise.
	redis.SetLogger(tQuietLogger{})
	rc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: seeds, MaxRetries: -1, MaxRedirects: 8,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		PoolSize: clients + 2,
	})
	return &tWorkload{seed: seed, clients: clients, rc: rc, t0: time.Now(), keys: map[string]tKind{}}
}

func (w *tWorkload) close() { w.rc.Close() }

// do runs one command and classifies its outcome.
func (w *tWorkload) do(ctx context.Context, args ...any) (any, tOutcome, error) {
	cmd := noRetryCmd{redis.NewCmd(ctx, args...)}
	w.rc.Process(ctx, cmd)
	v, err := cmd.Result()
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		return v, tOK, nil
	default:
		var re redis.Error
		var oe *net.OpError
		if errors.As(err, &re) || (errors.As(err, &oe) && oe.Op == "dial") {
			return nil, tFailed, err
		}
		return nil, tUnknown, err
	}
}

func (w *tWorkload) key(kind tKind, now time.Time, i int) string {
	epoch := int(now.Sub(w.t0) / tKeyLife)
	k := fmt.Sprintf("%s-%d-%d", kind, epoch, i)
	w.mu.Lock()
	if _, ok := w.keys[k]; !ok {
		w.keys[k] = kind
		w.order = append(w.order, k)
	}
	w.mu.Unlock()
	return k
}

func (w *tWorkload) run(ctx context.Context) {
	var wg sync.WaitGroup
	for c := 0; c < w.clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := tRand(w.seed, uint64(1000+c))
			for n := 0; ctx.Err() == nil; n++ {
				kind := tKind(1 + rng.IntN(4))
				key := w.key(kind, time.Now(), rng.IntN(tKeysPerKind))
				val := fmt.Sprintf("c%d.%d", c, n)
				write := rng.IntN(3) > 0
				w.one(ctx, c, key, kind, write, val)
				time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond)
			}
		}(c)
	}
	wg.Wait()
}

// one runs and records one operation on key.
func (w *tWorkload) one(ctx context.Context, c int, key string, kind tKind, write bool, val string) {
	r := tRecord{client: c, key: key, kind: kind, start: time.Now()}
	var args []any
	switch {
	case kind == tRegister && write:
		r.in, args = tIn{Op: tSet, Value: val}, []any{"SET", key, val}
	case kind == tCounter && write:
		r.in, args = tIn{Op: tIncr}, []any{"INCR", key}
	case kind == tQueue && write:
		r.in, args = tIn{Op: tPush, Value: val}, []any{"RPUSH", key, val}
	case kind == tQueue:
		r.in, args = tIn{Op: tPop}, []any{"LPOP", key}
	case kind == tVersioned && write:
		r.in, args = tIn{Op: tSetV, Value: val}, []any{"CHKV.SETV", key, val, 0}
	case kind == tVersioned:
		r.in, args = tIn{Op: tGetV}, []any{"CHKV.GETV", key}
	default:
		r.in, args = tIn{Op: tGet}, []any{"GET", key}
	}
	octx, cancel := context.WithTimeout(ctx, 3*time.Second)
	v, outcome, err := w.do(octx, args...)
	cancel()
	if ctx.Err() != nil && outcome != tOK {
		// Stopped by the harness: a read never happened for the check;
		// a write may have.
		if !r.in.Op.isWrite() {
			return
		}
	}
	r.end, r.outcome = time.Now(), outcome
	if err != nil {
		r.err = err.Error()
	}
	if outcome == tUnknown {
		r.out.Unknown = true
	}
	if outcome == tOK {
		r.out = tDecode(r.in.Op, v)
	}
	w.mu.Lock()
	w.ops = append(w.ops, r)
	w.mu.Unlock()
}

// tDecode turns a reply into the output of op.
func tDecode(op tOp, v any) tOut {
	var o tOut
	switch x := v.(type) {
	case nil:
	case string:
		o.Exists, o.Value = true, x
		if op == tGet {
			o.N, _ = strconv.ParseInt(x, 10, 64)
		}
	case int64:
		o.Exists, o.N = true, x
	case []any:
		o.Exists = true
		if op == tGetV && len(x) == 2 {
			o.Value, _ = x[0].(string)
			o.N, _ = x[1].(int64)
		} else {
			for i, e := range x {
				s, _ := e.(string)
				if i > 0 {
					o.Value += tSep
				}
				o.Value += s
			}
		}
	}
	return o
}

// readFinal reads every key once the cluster healed, retrying until a read
// answers, and records the reads as the last operations of the history.
func (w *tWorkload) readFinal(ctx context.Context) {
	for _, key := range w.order {
		kind := w.keys[key]
		var op tOp
		var args []any
		switch kind {
		case tRegister, tCounter:
			op, args = tGet, []any{"GET", key}
		case tQueue:
			op, args = tRange, []any{"LRANGE", key, 0, -1}
		case tVersioned:
			op, args = tGetV, []any{"CHKV.GETV", key}
		}
		r := tRecord{client: -1, key: key, kind: kind, in: tIn{Op: op}}
		for try := 0; try < 30; try++ {
			r.start = time.Now()
			v, outcome, err := w.do(ctx, args...)
			if outcome == tOK {
				r.end, r.outcome, r.out = time.Now(), tOK, tDecode(op, v)
				break
			}
			r.err = err.Error()
			time.Sleep(time.Second)
		}
		if r.outcome == tOK {
			w.ops = append(w.ops, r)
		} else {
			w.ops = append(w.ops, tRecord{client: -1, key: key, kind: kind, in: tIn{Op: op}, outcome: tFailed, start: r.start, end: time.Now(), err: r.err})
		}
	}
}

// history returns the porcupine operations of key, its final read last (nil
// when the final read failed).
func (w *tWorkload) history(key string) (ops []porcupine.Operation, finalOK bool) {
	var final *tRecord
	for i := range w.ops {
		r := &w.ops[i]
		if r.key != key || r.outcome == tFailed || r.outcome == tUnknown && !r.in.Op.isWrite() {
			continue
		}
		if r.client == -1 {
			final = r
			continue
		}
		ret := r.end.Sub(w.t0).Nanoseconds()
		if r.outcome == tUnknown {
			ret = math.MaxInt64
		}
		ops = append(ops, porcupine.Operation{ClientId: r.client, Input: r.in, Output: r.out,
			Call: r.start.Sub(w.t0).Nanoseconds(), Return: ret})
	}
	if final == nil {
		return ops, false
	}
	ops = append(ops, porcupine.Operation{ClientId: w.clients, Input: final.in, Output: final.out,
		Call: final.start.Sub(w.t0).Nanoseconds(), Return: final.end.Sub(w.t0).Nanoseconds()})
	return ops, true
}

// tQuietLogger drops go-redis's internal log.
type tQuietLogger struct{}

func (tQuietLogger) Printf(context.Context, string, ...any) {}
