package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chkv/chkv"
	"github.com/redis/go-redis/v9"
)

// status is the part of the NameNode's CHKV.STATUS this program reads.
type status struct {
	Stable    bool `json:"stable"`
	Members   []struct{ ID, State string }
	Migration chkv.MigrationStatus `json:"migration"`
}

// procCluster is a cluster of real chkv processes: a NameNode and one
// process per DataNode, as deployed.
type procCluster struct {
	bin   string
	nn    string
	nodes map[string]*exec.Cmd // id -> process
	addrs map[string]string
	admin *chkv.Client // single-node client to the NameNode
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startProcs(ctx context.Context, bin string, datanodes int, nnFlags []string) (*procCluster, error) {
	pc := &procCluster{bin: bin, nodes: map[string]*exec.Cmd{}, addrs: map[string]string{}}
	var err error
	if pc.nn, err = freeAddr(); err != nil {
		return nil, err
	}
	if dir := os.Getenv("CHKV_BENCH_PROFILES"); dir != "" {
		nnFlags = append(nnFlags, "--cpuprofile", dir+"/namenode.prof")
	}
	nn := exec.Command(bin, append([]string{"namenode", "--addr", pc.nn, "--replicas", "0", "--expect", strconv.Itoa(datanodes)}, nnFlags...)...)
	if err := nn.Start(); err != nil {
		return nil, err
	}
	pc.nodes["namenode"] = nn
	if pc.admin, err = dialWait(ctx, pc.nn); err != nil {
		pc.Close()
		return nil, err
	}
	for i := 1; i <= datanodes; i++ {
		if err := pc.addDataNode("dn" + strconv.Itoa(i)); err != nil {
			pc.Close()
			return nil, err
		}
	}
	if _, err := pc.waitStable(ctx, ""); err != nil {
		pc.Close()
		return nil, err
	}
	return pc, nil
}

// dialWait connects a single-node client to addr once it answers PING.
func dialWait(ctx context.Context, addr string) (*chkv.Client, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := chkv.NewClient(ctx, chkv.ClientConfig{Addr: addr})
		if err == nil {
			if _, err = c.Do(ctx, "PING"); err == nil {
				return c, nil
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s does not answer: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (pc *procCluster) addDataNode(id string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"datanode", "--addr", addr, "--namenode", pc.nn, "--id", id}
	args = append(args, strings.Fields(os.Getenv("CHKV_BENCH_DATANODE_FLAGS"))...)
	if dir := os.Getenv("CHKV_BENCH_PROFILES"); dir != "" {
		args = append(args, "--cpuprofile", dir+"/"+id+".prof")
	}
	cmd := exec.Command(pc.bin, args...)
	if os.Getenv("CHKV_BENCH_STDERR") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	pc.nodes[id], pc.addrs[id] = cmd, addr
	return nil
}

// cutProfiles, with CHKV_BENCH_PROFILES set, ends each process's CPU
// profile file and starts the next (ID.prof.1 profiles the move of a
// process that ran before the join, ID.prof the new node's).
func (pc *procCluster) cutProfiles() {
	if os.Getenv("CHKV_BENCH_PROFILES") == "" {
		return
	}
	for _, cmd := range pc.nodes {
		cmd.Process.Signal(syscall.SIGUSR1)
	}
}

func (pc *procCluster) status(ctx context.Context) (status, error) {
	var st status
	r, err := pc.admin.Do(ctx, "CHKV.STATUS")
	if err != nil {
		return st, err
	}
	s, _ := r.(string)
	err = json.Unmarshal([]byte(s), &st)
	return st, err
}

// waitStable waits until the cluster is stable with member id (if not
// empty) up and no data moving.
func (pc *procCluster) waitStable(ctx context.Context, id string) (status, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := pc.status(ctx)
		if err == nil && st.Stable && !st.Migration.Active {
			up := id == ""
			for _, m := range st.Members {
				up = up || (m.ID == id && m.State == "up")
			}
			if up {
				return st, nil
			}
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("the cluster did not become stable: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// census returns each DataNode's DBSIZE.
func (pc *procCluster) census(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for id, addr := range pc.addrs {
		c, err := chkv.NewClient(ctx, chkv.ClientConfig{Addr: addr})
		if err != nil {
			return nil, err
		}
		n, err := c.Do(ctx, "DBSIZE")
		c.Close()
		if err != nil {
			return nil, err
		}
		out[id], _ = n.(int64)
	}
	return out, nil
}

// gcInfo is a DataNode's garbage collector figures from INFO memory.
type gcInfo struct{ heap, goal, allocated, cycles int64 }

// gcStats reads every DataNode's gcInfo.
func (pc *procCluster) gcStats(ctx context.Context) map[string]gcInfo {
	out := map[string]gcInfo{}
	for id, addr := range pc.addrs {
		c, err := chkv.NewClient(ctx, chkv.ClientConfig{Addr: addr})
		if err != nil {
			continue
		}
		r, err := c.Do(ctx, "INFO", "memory")
		c.Close()
		s, _ := r.(string)
		if err != nil {
			continue
		}
		var g gcInfo
		for _, line := range strings.Split(s, "\r\n") {
			k, v, _ := strings.Cut(line, ":")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "used_memory_heap":
				g.heap = n
			case "go_heap_goal":
				g.goal = n
			case "go_heap_allocated_total":
				g.allocated = n
			case "go_gc_cycles":
				g.cycles = n
			}
		}
		out[id] = g
	}
	return out
}

// printGC prints, for each node that ran before the move, the room its
// heap had until the next collection when the move began, what it
// allocated during the move and how many collections ran.
func (pc *procCluster) printGC(before, after map[string]gcInfo) {
	ids := make([]string, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		b, a := before[id], after[id]
		parts = append(parts, fmt.Sprintf("%s %.1f MB room, %.1f MB allocated, %d GC", id,
			float64(b.goal-b.heap)/(1<<20), float64(a.allocated-b.allocated)/(1<<20), a.cycles-b.cycles))
	}
	fmt.Printf("garbage collection during the move: %s\n", strings.Join(parts, "; "))
}

// cpu returns the CPU time each of the cluster's processes has used.
func (pc *procCluster) cpu() map[string]time.Duration {
	out := map[string]time.Duration{}
	for id, cmd := range pc.nodes {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			out[id] = time.Duration(u+s) * 10 * time.Millisecond // USER_HZ is 100 on Linux
		}
	}
	return out
}

// cpuSince prints each process's CPU time since before and returns the sum.
func (pc *procCluster) cpuSince(before map[string]time.Duration) time.Duration {
	var total time.Duration
	var parts []string
	ids := make([]string, 0, len(pc.nodes))
	for id := range pc.nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	now := pc.cpu()
	for _, id := range ids {
		d := now[id] - before[id]
		total += d
		parts = append(parts, fmt.Sprintf("%s %.2fs", id, d.Seconds()))
	}
	fmt.Printf("CPU time by process from join to stable: %s\n", strings.Join(parts, ", "))
	return total
}

func (pc *procCluster) Close() {
	if pc.admin != nil {
		pc.admin.Close()
	}
	for _, cmd := range pc.nodes {
		cmd.Process.Signal(os.Interrupt)
	}
	for _, cmd := range pc.nodes {
		cmd.Wait()
	}
}

// runProcs is the move on real processes.
func runProcs(ctx context.Context, bin string, nodes, keys, size, clients int, nnFlags []string) error {
	pc, err := startProcs(ctx, bin, nodes, nnFlags)
	if err != nil {
		return err
	}
	defer pc.Close()
	c, err := chkv.NewClient(ctx, chkv.ClientConfig{NameNode: pc.nn})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("loading %d keys with %d-byte values into %d DataNode processes...\n", keys, size, nodes)
	start := time.Now()
	if err := load(ctx, c, keys, size); err != nil {
		return err
	}
	fmt.Printf("loaded in %.1fs\n", time.Since(start).Seconds())
	var seeds []string
	for _, a := range pc.addrs {
		seeds = append(seeds, a)
	}
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: seeds, MaxRedirects: 16})
	defer rc.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	chkvStats := &loadStats{name: "chkv Client"}
	redisStats := &loadStats{name: "go-redis ClusterClient"}
	for w := range clients {
		wg.Go(func() {
			runLoad(ctx, stop, chkvStats, w, keys, size,
				func(k, v string) error { return c.Set(ctx, k, v) },
				func(k string) (string, error) { return c.Get(ctx, k) })
		})
		wg.Go(func() {
			runLoad(ctx, stop, redisStats, 1000+w, keys, size,
				func(k, v string) error { return rc.Set(ctx, k, v, 0).Err() },
				func(k string) (string, error) { return rc.Get(ctx, k).Result() })
		})
	}
	time.Sleep(500 * time.Millisecond)
	before, err := pc.census(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("keys per node before: %v\n", before)
	newID := "dn" + strconv.Itoa(nodes+1)
	gc0 := pc.gcStats(ctx)
	cpu0, self0 := pc.cpu(), cpuTime()
	pc.cutProfiles()
	t0 := time.Now()
	if err := pc.addDataNode(newID); err != nil {
		return err
	}
	st, err := pc.waitStable(ctx, newID)
	wall := time.Since(t0)
	cpu := pc.cpuSince(cpu0)
	fmt.Printf("CPU time of this program (its clients, polling the status) from join to stable: %.2fs\n", (cpuTime() - self0).Seconds())
	pc.cutProfiles()
	pc.printGC(gc0, pc.gcStats(ctx))
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	after, err := pc.census(ctx)
	if err != nil {
		return err
	}
	printMove(after, newID, st.Migration, wall, cpu, "the cluster's processes")
	return report(chkvStats, redisStats)
}
