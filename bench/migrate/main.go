// Command migrate measures a live rebalance: it starts a chkv cluster on TCP
// loopback, loads it with keys, adds one DataNode while clients (the chkv
// Client and go-redis's ClusterClient) keep reading and writing, and reports
// how fast the keys moved, how many moved against the minimum, the new
// node's share and every client error. bench/migrate.sh runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chkv/chkv"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

// loadStats counts one kind of client's requests during the move.
type loadStats struct {
	name              string
	ok, errs, corrupt atomic.Int64
	firstErr          atomic.Pointer[string]
	maxSet, slowSets  atomic.Int64 // longest SET (ns); SETs over slowSet (a frozen slot's wait)
}

// slowSet is the SET latency reported as a stall: far above a loopback
// round trip, well below the 2 s a frozen slot may hold a command.
const slowSet = 50 * time.Millisecond

func (s *loadStats) noteSet(d time.Duration) {
	for {
		m := s.maxSet.Load()
		if int64(d) <= m || s.maxSet.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	if d > slowSet {
		s.slowSets.Add(1)
	}
}

func (s *loadStats) fail(err error) {
	if s.errs.Add(1) == 1 {
		msg := err.Error()
		s.firstErr.Store(&msg)
	}
}

func run() error {
	keys := flag.Int("keys", 1_000_000, "keys loaded before the move")
	size := flag.Int("value", 100, "value size in bytes")
	nodes := flag.Int("datanodes", 3, "DataNodes before the one added")
	clients := flag.Int("clients", 2, "goroutines per client kind reading and writing during the move")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the move to this file")
	verbose := flag.Bool("v", false, "log the nodes' debug lines to stderr")
	parallel := flag.Int("parallel", 0, "batches each DataNode sends at once (0: the default)")
	batch := flag.Int("batch", 0, "slots per batch (0: the default)")
	bin := flag.String("chkv", "", "run the cluster as processes of this chkv binary (one per node) instead of in this process")
	redisSeed := flag.String("redis-seed", "", "instead of chkv: a running Redis Cluster node (HOST:PORT) to load and rebalance")
	redisPipeline := flag.Int("redis-pipeline", 10, "with -redis-seed: keys per MIGRATE (redis-cli --cluster-pipeline)")
	redisNew := flag.String("redis-new", "", "with -redis-seed: an empty cluster-enabled redis-server to add")
	flag.Parse()

	ctx := context.Background()
	if *redisSeed != "" {
		return runRedis(ctx, *redisSeed, *redisNew, *redisPipeline, *keys, *size, *clients)
	}
	if *bin != "" {
		var nnFlags []string
		if *parallel > 0 {
			nnFlags = append(nnFlags, "--migrate-parallel", strconv.Itoa(*parallel))
		}
		if *batch > 0 {
			nnFlags = append(nnFlags, "--migrate-batch", strconv.Itoa(*batch))
		}
		return runProcs(ctx, *bin, *nodes, *keys, *size, *clients, nnFlags)
	}
	cfg := chkv.DefaultClusterConfig()
	cfg.Transport = chkv.ClusterTCP
	cfg.DataNodes = *nodes
	cfg.Replicas = 0
	cfg.MigrateParallel, cfg.MigrateBatch = *parallel, *batch
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cl, err := chkv.StartCluster(ctx, cfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	c, err := chkv.NewClient(ctx, chkv.ClientConfig{NameNode: cl.NameNodeAddr()})
	if err != nil {
		return err
	}
	defer c.Close()

	fmt.Printf("loading %d keys with %d-byte values into %d DataNodes...\n", *keys, *size, *nodes)
	start := time.Now()
	if err := load(ctx, c, *keys, *size); err != nil {
		return err
	}
	fmt.Printf("loaded in %.1fs\n", time.Since(start).Seconds())

	// Clients run through the move: each writes its own keys and reads
	// them back (read-your-writes) and reads preloaded keys.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	chkvStats := &loadStats{name: "chkv Client"}
	redisStats := &loadStats{name: "go-redis ClusterClient"}
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), MaxRedirects: 16})
	defer rc.Close()
	for w := range *clients {
		wg.Go(func() {
			runLoad(ctx, stop, chkvStats, w, *keys, *size,
				func(k, v string) error { return c.Set(ctx, k, v) },
				func(k string) (string, error) { return c.Get(ctx, k) })
		})
		wg.Go(func() {
			runLoad(ctx, stop, redisStats, 1000+w, *keys, *size,
				func(k, v string) error { return rc.Set(ctx, k, v, 0).Err() },
				func(k string) (string, error) { return rc.Get(ctx, k).Result() })
		})
	}
	time.Sleep(500 * time.Millisecond) // the clients warm up on the old table

	before := census(cl)
	fmt.Printf("keys per node before: %v\n", before)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	cpu0 := cpuTime()
	t0 := time.Now()
	d, err := cl.AddDataNode(ctx)
	if err != nil {
		return err
	}
	if err := cl.WaitStable(ctx); err != nil {
		return err
	}
	wall := time.Since(t0)
	cpu := cpuTime() - cpu0
	pprof.StopCPUProfile()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	printMove(census(cl), string(d.ID()), cl.NameNode().Migration(), wall, cpu, "the whole process (clients included)")
	return report(chkvStats, redisStats)
}

// printMove prints the census after the move (keys per node id) and the
// move's figures; cpu is the CPU time of what whose names.
func printMove(after map[string]int64, newID string, m chkv.MigrationStatus, wall, cpu time.Duration, whose string) {
	var total int64
	for _, n := range after {
		total += n
	}
	mine := after[newID]
	fmt.Printf("keys per node after:  %v\n", after)
	fmt.Printf("moved %d keys (%.1f MB) in %.2fs of copying (%.2fs from join to stable)\n",
		m.KeysMoved, float64(m.BytesMoved)/1e6, m.ElapsedSec, wall.Seconds())
	fmt.Printf("rate: %.0f keys/s (copying), %.0f keys/s (join to stable)\n",
		float64(m.KeysMoved)/m.ElapsedSec, float64(m.KeysMoved)/wall.Seconds())
	fmt.Printf("CPU time of %s from join to stable: %.2fs (%.1f µs per key moved)\n",
		whose, cpu.Seconds(), float64(cpu.Microseconds())/float64(m.KeysMoved))
	fmt.Printf("moved fraction: %.2f%% of the keys; minimum (the new node's keys) %d: %.3fx the minimum\n",
		100*float64(m.KeysMoved)/float64(total), mine, float64(m.KeysMoved)/float64(mine))
	fmt.Printf("new node %s holds %.2f%% of the keys\n", newID, 100*float64(mine)/float64(total))
}

// report prints the clients' figures; an error when any request failed.
func report(stats ...*loadStats) error {
	bad := false
	for _, s := range stats {
		fmt.Printf("%s: %d requests, %d errors, %d wrong values; longest SET %.1f ms, %d SETs over %v\n", s.name, s.ok.Load(), s.errs.Load(), s.corrupt.Load(),
			float64(s.maxSet.Load())/1e6, s.slowSets.Load(), slowSet)
		if p := s.firstErr.Load(); p != nil {
			fmt.Printf("  first error: %s\n", *p)
		}
		bad = bad || s.errs.Load() > 0 || s.corrupt.Load() > 0
	}
	if bad {
		return errors.New("client requests failed during the move")
	}
	return nil
}

// runRedis measures the same move on Redis Cluster: it loads the keys
// through go-redis, adds the empty node with redis-cli --cluster add-node
// and times redis-cli --cluster rebalance --cluster-use-empty-masters
// while go-redis clients keep reading and writing.
func runRedis(ctx context.Context, seed, newNode string, pipeline, keys, size, clients int) error {
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{seed}, MaxRedirects: 16})
	defer rc.Close()
	fmt.Printf("loading %d keys with %d-byte values into Redis Cluster...\n", keys, size)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for lo := 0; lo < keys; lo += 1000 {
		g.Go(func() error {
			_, err := rc.Pipelined(gctx, func(p redis.Pipeliner) error {
				for i := lo; i < min(lo+1000, keys); i++ {
					p.Set(gctx, "key:"+strconv.Itoa(i), value(i, size), 0)
				}
				return nil
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Printf("loaded in %.1fs\n", time.Since(start).Seconds())
	if out, err := exec.CommandContext(ctx, "redis-cli", "--cluster", "add-node", newNode, seed).CombinedOutput(); err != nil {
		return fmt.Errorf("add-node: %v: %s", err, out)
	}
	// The new node learns the slots by gossip: MIGRATE to it fails with
	// CLUSTERDOWN until it reports the cluster ok.
	nc := redis.NewClient(&redis.Options{Addr: newNode})
	defer nc.Close()
	for deadline := time.Now().Add(time.Minute); ; {
		info, err := nc.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the new node never saw the cluster ok: %v %q", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	stats := &loadStats{name: "go-redis ClusterClient"}
	for w := range clients {
		wg.Go(func() {
			runLoad(ctx, stop, stats, 2000+w, keys, size,
				func(k, v string) error { return rc.Set(ctx, k, v, 0).Err() },
				func(k string) (string, error) { return rc.Get(ctx, k).Result() })
		})
	}
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "redis-cli", "--cluster", "rebalance", seed, "--cluster-use-empty-masters",
		"--cluster-pipeline", strconv.Itoa(pipeline)).CombinedOutput()
	wall := time.Since(t0)
	close(stop)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("rebalance: %v: %s", err, out)
	}
	n, err := nc.DBSize(ctx).Result()
	if err != nil {
		return err
	}
	fmt.Printf("moved %d keys in %.2fs (redis-cli --cluster rebalance)\n", n, wall.Seconds())
	fmt.Printf("rate: %.0f keys/s (rebalance)\n", float64(n)/wall.Seconds())
	fmt.Printf("new node holds %.2f%% of the keys\n", 100*float64(n)/float64(keys))
	return report(stats)
}

// value is the preloaded value of key i.
func value(i, size int) string {
	v := strconv.Itoa(i) + ":"
	for len(v) < size {
		v += "x"
	}
	return v[:size]
}

// load writes n keys with MSET batches, in parallel.
func load(ctx context.Context, c *chkv.Client, n, size int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	const batch = 1000
	for lo := 0; lo < n; lo += batch {
		g.Go(func() error {
			kv := make(map[string]string, batch)
			for i := lo; i < min(lo+batch, n); i++ {
				kv["key:"+strconv.Itoa(i)] = value(i, size)
			}
			return c.MSet(ctx, kv)
		})
	}
	return g.Wait()
}

// runLoad alternates a write of the worker's own key, a read of it and a
// read of a preloaded key until stop closes.
func runLoad(ctx context.Context, stop chan struct{}, s *loadStats, worker, keys, size int,
	set func(k, v string) error, get func(k string) (string, error)) {
	r := rand.New(rand.NewPCG(uint64(worker), 1))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		k := "w:" + strconv.Itoa(worker) + ":" + strconv.Itoa(i%1000)
		v := strconv.Itoa(i)
		t := time.Now()
		err := set(k, v)
		s.noteSet(time.Since(t))
		if err != nil {
			s.fail(fmt.Errorf("SET %s: %w", k, err))
			continue
		}
		s.ok.Add(1)
		got, err := get(k)
		if err != nil {
			s.fail(fmt.Errorf("GET %s: %w", k, err))
			continue
		}
		s.ok.Add(1)
		if got != v {
			s.corrupt.Add(1)
		}
		j := r.IntN(keys)
		got, err = get("key:" + strconv.Itoa(j))
		if err != nil {
			s.fail(fmt.Errorf("GET key:%d: %w", j, err))
			continue
		}
		s.ok.Add(1)
		if got != value(j, size) {
			s.corrupt.Add(1)
		}
	}
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// census returns the keys each running DataNode holds.
func census(cl *chkv.Cluster) map[string]int64 {
	out := map[string]int64{}
	for _, d := range cl.DataNodes() {
		out[string(d.ID())] = d.Store().Keys()
	}
	return out
}
