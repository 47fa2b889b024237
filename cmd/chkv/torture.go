// chkv torture: a fault harness of real processes on a real network. It runs
// NameNodes (one, or a Raft group) and DataNodes as separate chkv processes, each in its own Linux
// network namespace joined by a bridge, injects faults on a schedule derived
// from a seed, records a client workload and checks its history.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Names and addresses of the harness's network (10.79.0.0/24 unless
// --net): every name starts with tPrefix so that a later run removes what a
// crashed one left. Two runs at once need two --net values.
var (
	tPrefix, tBridge, tSubnet, tHostIP string
	// tNameNodes is the comma-separated list of the NameNodes' addresses
	// (10.net.0.2:7000, .3, ...), as DataNodes and commands take it.
	tNameNodes string
)

// tFirstNameNode is the last byte of the first NameNode's address; the
// others follow it, and DataNodes start at tFirstDataNode.
const (
	tFirstNameNode = 2
	tFirstDataNode = 10
	tMaxNameNodes  = tFirstDataNode - tFirstNameNode - 1
)

// tSetNet picks the subnet 10.net.0.0/24 and the names of the harness,
// with namenodes NameNodes.
func tSetNet(net, namenodes int) {
	tPrefix = fmt.Sprintf("chkvt%d-", net)
	tBridge = tPrefix + "br"
	tSubnet = fmt.Sprintf("10.%d.0.", net)
	tHostIP = tSubnet + "1"
	var addrs []string
	for i := range namenodes {
		addrs = append(addrs, tNameNodeAddr(i))
	}
	tNameNodes = strings.Join(addrs, ",")
}

// tNameNodeAddr returns the address of NameNode i (from 0).
func tNameNodeAddr(i int) string { return fmt.Sprintf("%s%d:7000", tSubnet, tFirstNameNode+i) }

// errCouldNotRun makes torture exit 2.
var errCouldNotRun = errors.New("torture could not run")

// errCheckFailed makes torture exit 1.
var errCheckFailed = errors.New("a torture check failed")

// tortureConfig is the command line of chkv torture.
type tortureConfig struct {
	seed      uint64
	duration  time.Duration
	namenodes int
	datanodes int
	replicas  int
	out       string
	faults    []tFaultKind
	clients   int
	unsafeAck bool
}

func runTorture(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("torture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg tortureConfig
	fs.Uint64Var(&cfg.seed, "seed", 0, "seed of the fault schedule and the workload (0: from the clock)")
	fs.DurationVar(&cfg.duration, "duration", 2*time.Minute, "how long faults are injected")
	fs.IntVar(&cfg.namenodes, "namenodes", 3, fmt.Sprintf("NameNodes: 1, or a Raft group of up to %d (a majority stays up: at most one is faulted at a time)", tMaxNameNodes))
	fs.IntVar(&cfg.datanodes, "datanodes", 3, "DataNodes at the start")
	fs.IntVar(&cfg.replicas, "replicas", 1, "replicas of each slot besides its primary; at most this many DataNodes fail at once")
	fs.StringVar(&cfg.out, "out", "", "directory of the report and the process logs (default: torture-SEED)")
	fs.IntVar(&cfg.clients, "clients", 8, "concurrent clients")
	faults := fs.String("faults", "", "the kinds of fault the schedule draws from, comma-separated (default: "+
		strings.Join(tKindNames(tDataNodeKinds), ",")+", and with more than one NameNode "+strings.Join(tKindNames(tNameNodeKinds), ",")+")")
	net := fs.Int("net", 79, "the harness's subnet is 10.NET.0.0/24 and its names start with chkvtNET-")
	fs.BoolVar(&cfg.unsafeAck, "test-unsafe-ack", false, "TEST ONLY: run the DataNodes with --async-replication (answer before the replicas have the write) to show the harness finds lost writes; refused unless CHKV_TEST_UNSAFE_ACK=1")
	if _, err := parseArgs(fs, args); err != nil {
		return fmt.Errorf("%w: %v", errCouldNotRun, err)
	}
	if *net < 1 || *net > 254 {
		return fmt.Errorf("%w: --net must be 1-254", errCouldNotRun)
	}
	if cfg.namenodes < 1 || cfg.namenodes > tMaxNameNodes {
		return fmt.Errorf("%w: --namenodes must be 1-%d", errCouldNotRun, tMaxNameNodes)
	}
	tSetNet(*net, cfg.namenodes)
	if *faults == "" {
		*faults = strings.Join(tKindNames(tDataNodeKinds), ",")
		if cfg.namenodes > 1 {
			*faults += "," + strings.Join(tKindNames(tNameNodeKinds), ",")
		}
	}
	for _, k := range strings.Split(*faults, ",") {
		if !slices.Contains(tFaultKinds, tFaultKind(k)) {
			return fmt.Errorf("%w: unknown fault %q (kinds: %v)", errCouldNotRun, k, tFaultKinds)
		}
		cfg.faults = append(cfg.faults, tFaultKind(k))
	}
	if cfg.unsafeAck && os.Getenv("CHKV_TEST_UNSAFE_ACK") != "1" {
		return fmt.Errorf("%w: --test-unsafe-ack plants a bug that loses writes; set CHKV_TEST_UNSAFE_ACK=1 too", errCouldNotRun)
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano()) % 1000000
	}
	if cfg.datanodes < cfg.replicas+1 || cfg.datanodes > 40 || cfg.replicas < 1 {
		return fmt.Errorf("%w: need 1 <= replicas < datanodes <= 40", errCouldNotRun)
	}
	if cfg.out == "" {
		cfg.out = fmt.Sprintf("torture-%d", cfg.seed)
	}
	if err := tortureCanRun(); err != nil {
		fmt.Fprintln(stdout, "torture: cannot run:", err)
		return fmt.Errorf("%w: %v", errCouldNotRun, err)
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return fmt.Errorf("%w: %v", errCouldNotRun, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%w: %v", errCouldNotRun, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &harness{cfg: cfg, exe: exe, stdout: stdout, nodes: map[int]*tNode{}}
	defer h.cleanup()
	return h.run(ctx)
}

// tortureCanRun reports why the harness cannot make namespaces, or nil.
func tortureCanRun() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s (iproute2) not found", tool)
		}
	}
	ns := tPrefix + "probe"
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add: %v: %s", err, strings.TrimSpace(string(out)))
	}
	exec.Command("ip", "netns", "del", ns).Run()
	return nil
}

// tNode is one chkv process of the harness in its namespace.
type tNode struct {
	idx     int // the last byte of its address
	id      string
	nn      bool // a NameNode
	ns      string
	hostVet string // the host side of its veth pair
	addr    string
	dataDir string
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd exited
	left    bool          // it left the cluster for good
}

// harness is one torture run.
type harness struct {
	cfg    tortureConfig
	exe    string
	stdout io.Writer

	mu    sync.Mutex
	nodes map[int]*tNode // DataNodes by idx
	nns   []*tNode       // the NameNodes
	sched []*tFault
}

// sh runs a command of the harness's network setup.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// tortureClean removes the namespaces, their processes and the links a run
// left (this one, or a crashed earlier one).
func tortureClean() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], tPrefix) {
			continue
		}
		pids, _ := exec.Command("ip", "netns", "pids", f[0]).Output()
		for _, p := range strings.Fields(string(pids)) {
			var pid int
			if _, err := fmt.Sscan(p, &pid); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		exec.Command("ip", "netns", "del", f[0]).Run()
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, tPrefix) {
			exec.Command("ip", "link", "del", name).Run()
		}
	}
}

func (h *harness) cleanup() {
	h.mu.Lock()
	all := slices.Clone(h.nns)
	for _, n := range h.nodes {
		all = append(all, n)
	}
	h.mu.Unlock()
	for _, n := range all {
		if n != nil && n.cmd != nil && n.cmd.Process != nil {
			n.cmd.Process.Signal(syscall.SIGCONT)
			n.cmd.Process.Kill()
		}
	}
	for _, n := range all {
		if n != nil && n.done != nil {
			select {
			case <-n.done:
			case <-time.After(5 * time.Second):
			}
		}
	}
	tortureClean()
}

// netUp makes the bridge with the host's address in the subnet.
func (h *harness) netUp() error {
	tortureClean()
	for _, c := range [][]string{
		{"ip", "link", "add", tBridge, "type", "bridge"},
		{"ip", "addr", "add", tHostIP + "/24", "dev", tBridge},
		{"ip", "link", "set", tBridge, "up"},
	} {
		if err := sh(c...); err != nil {
			return err
		}
	}
	return nil
}

// addNS makes the namespace of node idx, wired to the bridge.
func addNS(idx int) (ns, hostVeth string, err error) {
	ns = fmt.Sprintf("%sn%d", tPrefix, idx)
	hostVeth = fmt.Sprintf("%sh%d", tPrefix, idx)
	peer := fmt.Sprintf("%sp%d", tPrefix, idx)
	ip := fmt.Sprintf("%s%d/24", tSubnet, idx)
	for _, c := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", hostVeth, "type", "veth", "peer", "name", peer},
		{"ip", "link", "set", peer, "netns", ns},
		{"ip", "link", "set", hostVeth, "master", tBridge},
		{"ip", "link", "set", hostVeth, "up"},
		{"ip", "-n", ns, "link", "set", peer, "name", "eth0"},
		{"ip", "-n", ns, "addr", "add", ip, "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
	} {
		if err := sh(c...); err != nil {
			return "", "", err
		}
	}
	return ns, hostVeth, nil
}

// start runs n's process in its namespace, logging to the out directory.
func (h *harness) start(n *tNode, args ...string) error {
	logf, err := os.OpenFile(filepath.Join(h.cfg.out, n.id+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s start: %s\n", time.Now().UTC().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.ns, h.exe}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// ip netns exec execs the binary: the pid is chkv's own. Pdeathsig
	// kills it if the harness dies; its own group keeps ^C to the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	n.cmd, n.done = cmd, done
	return nil
}

func (h *harness) startDataNode(n *tNode) error {
	args := []string{"datanode", "--addr", n.addr, "--namenode", tNameNodes, "--id", n.id,
		"--data-dir", n.dataDir, "--allow-remote", "--procs", "1", "--event-loops", "-1"}
	if h.cfg.unsafeAck {
		args = append(args, "--async-replication")
	}
	return h.start(n, args...)
}

// startNameNode runs NameNode n: alone, or one of the Raft group with
// every NameNode as its peers; the same id and data dir on a restart.
func (h *harness) startNameNode(n *tNode) error {
	args := []string{"namenode", "--addr", n.addr, "--allow-remote", "--replicas", fmt.Sprint(h.cfg.replicas),
		"--expect", fmt.Sprint(h.cfg.datanodes), "--data-dir", n.dataDir}
	if h.cfg.namenodes > 1 {
		var peers []string
		for i := range h.cfg.namenodes {
			peers = append(peers, fmt.Sprintf("nn%d=%s", i+1, tNameNodeAddr(i)))
		}
		args = append(args, "--id", n.id, "--peers", strings.Join(peers, ","))
	}
	return h.start(n, args...)
}

// newNameNode makes the namespace of NameNode i (from 0) and starts it:
// "namenode" alone, nn1, nn2, ... in a group.
func (h *harness) newNameNode(i int) error {
	idx := tFirstNameNode + i
	ns, veth, err := addNS(idx)
	if err != nil {
		return err
	}
	id := "namenode"
	if h.cfg.namenodes > 1 {
		id = fmt.Sprintf("nn%d", i+1)
	}
	n := &tNode{idx: idx, id: id, nn: true, ns: ns, hostVet: veth, addr: tNameNodeAddr(i),
		dataDir: filepath.Join(h.cfg.out, "data", id)}
	if err := h.startNameNode(n); err != nil {
		return err
	}
	h.mu.Lock()
	h.nns = append(h.nns, n)
	h.mu.Unlock()
	return nil
}

// newDataNode makes the namespace of DataNode idx and starts it.
func (h *harness) newDataNode(idx int) (*tNode, error) {
	ns, veth, err := addNS(idx)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("dn%d", idx)
	n := &tNode{idx: idx, id: id, ns: ns, hostVet: veth, addr: fmt.Sprintf("%s%d:7001", tSubnet, idx),
		dataDir: filepath.Join(h.cfg.out, "data", id)}
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		return nil, err
	}
	if err := h.startDataNode(n); err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.nodes[idx] = n
	h.mu.Unlock()
	return n, nil
}

// status returns the NameNode leader's CHKV.STATUS, with every NameNode's
// Raft role when there is a group (chkv status --json given the list).
func (h *harness) status() (clusterStatus, error) {
	return statusOf(h.exe, tNameNodes, "--timeout", "5s")
}

// waitStable waits until the NameNode (the leader of the group) reports a
// stable table with want members up.
func (h *harness) waitStable(ctx context.Context, want int, limit time.Duration) error {
	return h.waitFor(ctx, limit, "the cluster did not become stable", func(st clusterStatus) bool {
		upN := 0
		for _, m := range st.Members {
			if m.State == "up" {
				upN++
			}
		}
		return st.Stable && upN >= want
	})
}

// waitNameNodes waits until every NameNode answers, one leads and the
// others follow it: the group can lose any one again. With one NameNode,
// until it answers.
func (h *harness) waitNameNodes(ctx context.Context, limit time.Duration) error {
	return h.waitFor(ctx, limit, "the NameNodes did not settle", func(st clusterStatus) bool {
		_, ok := tLeader(st, len(h.nns))
		return ok
	})
}

// tLeader returns the id of the NameNode leader when the status shows all
// namenodes of the group answering, one leading and the others following
// it (with one NameNode: "" and true).
func tLeader(st clusterStatus, namenodes int) (string, bool) {
	if namenodes == 1 {
		return "", true
	}
	if len(st.NameNodes) != namenodes {
		return "", false
	}
	leader := ""
	for _, n := range st.NameNodes {
		if n.Role == "leader" {
			if leader != "" {
				return "", false
			}
			leader = n.ID
		}
	}
	if leader == "" {
		return "", false
	}
	for _, n := range st.NameNodes {
		if n.Role != "leader" && (n.Role != "follower" || n.LeaderID != leader) {
			return "", false
		}
	}
	return leader, true
}

// waitFor polls the status until ok holds, for at most limit.
func (h *harness) waitFor(ctx context.Context, limit time.Duration, what string, ok func(clusterStatus) bool) error {
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		st, err := h.status()
		if err == nil && ok(st) {
			return nil
		}
		last = tDescribe(st, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s in %v: %s", what, limit, last)
}

// tDescribe sums a status up for an error message.
func tDescribe(st clusterStatus, err error) string {
	if err != nil {
		return "status: " + err.Error()
	}
	var ms, ns []string
	for _, m := range st.Members {
		ms = append(ms, string(m.ID)+":"+m.State)
	}
	for _, n := range st.NameNodes {
		ns = append(ns, n.ID+":"+n.Role)
	}
	d := fmt.Sprintf("stable %v, members %v", st.Stable, ms)
	if len(ns) > 0 {
		d += fmt.Sprintf(", namenodes %v", ns)
	}
	return d
}

func (h *harness) logf(format string, a ...any) {
	fmt.Fprintf(h.stdout, "%s %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

func (h *harness) run(ctx context.Context) error {
	cfg := h.cfg
	h.logf("torture seed %d: %d NameNodes, %d DataNodes, %d replicas, %v of faults (%s), report in %s", cfg.seed, cfg.namenodes,
		cfg.datanodes, cfg.replicas, cfg.duration, strings.Join(tKindNames(cfg.faults), ","), cfg.out)
	if err := h.netUp(); err != nil {
		return fmt.Errorf("%w: %v", errCouldNotRun, err)
	}
	for i := range cfg.namenodes {
		if err := h.newNameNode(i); err != nil {
			return fmt.Errorf("%w: %v", errCouldNotRun, err)
		}
	}
	for i := 0; i < cfg.datanodes; i++ {
		if _, err := h.newDataNode(tFirstDataNode + i); err != nil {
			return fmt.Errorf("%w: %v", errCouldNotRun, err)
		}
	}
	if err := h.waitStable(ctx, cfg.datanodes, 60*time.Second); err != nil {
		return fmt.Errorf("%w: %v", errCouldNotRun, err)
	}
	if err := h.waitNameNodes(ctx, 60*time.Second); err != nil {
		return fmt.Errorf("%w: %v", errCouldNotRun, err)
	}
	h.logf("cluster up and stable")
	h.sched = tSchedule(cfg.seed, cfg.duration, cfg.datanodes, cfg.replicas, cfg.faults)

	w := newTWorkload(cfg.seed, cfg.clients, h.seeds())
	defer w.close()
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.run(wctx) }()

	start := time.Now()
	h.runSchedule(ctx, start)
	h.healAll()
	interrupted := ctx.Err() != nil
	// Writers go on while the cluster settles, then stop.
	stableErr := h.waitStable(context.Background(), 0, 90*time.Second)
	time.Sleep(2 * time.Second)
	wcancel()
	wg.Wait()
	if stableErr == nil {
		stableErr = h.waitStable(context.Background(), 0, 60*time.Second)
	}
	if stableErr == nil {
		stableErr = h.waitNameNodes(context.Background(), 60*time.Second)
	}
	h.logf("workload stopped: %d operations; reading the final states", len(w.ops))
	w.readFinal(context.Background())
	rep := h.check(w, start, stableErr)
	if err := rep.write(cfg.out); err != nil {
		fmt.Fprintln(h.stdout, "torture: writing the report:", err)
	}
	fmt.Fprintln(h.stdout, rep.verdict())
	if interrupted {
		return fmt.Errorf("%w: interrupted", errCouldNotRun)
	}
	if !rep.pass() {
		return errCheckFailed
	}
	return nil
}

// seeds returns the client addresses of the DataNodes.
func (h *harness) seeds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s []string
	for _, n := range h.nodes {
		s = append(s, n.addr)
	}
	return s
}

// tRand is the harness's seeded random source.
func tRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
