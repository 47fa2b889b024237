// Command chkv runs chkv servers: a standalone DataNode, a NameNode, a cluster DataNode, a whole cluster in one process; and it reports a cluster's status and data movement, and takes DataNodes out.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"

	"github.com/chkv/chkv"
)

const usage = `chkv: a distributed in-memory key-value store that speaks RESP.

Usage:
  chkv server [--addr HOST:PORT] [--requirepass P] [--maxclients N] [--max-bulk BYTES]
              [--maxmemory BYTES] [--maxmemory-policy POLICY]
              [--data-dir D [--appendfsync always|everysec|no] [--aof-load-truncated]]
      run one standalone DataNode (owns every slot, needs no NameNode); at
      --maxmemory (64mb, 1gb) it evicts by POLICY or refuses writes (noeviction);
      with --data-dir every write goes to an append-only log there, loaded at start
  chkv namenode --addr HOST:PORT [--data-dir D] [--replicas R] [--expect N]
                [--migrate-rate KEYS_PER_SEC] [--migrate-parallel N]
      run the NameNode of a cluster; --expect holds the first table back
      until N DataNodes registered; --migrate-rate caps the keys per second
      each DataNode sends while slots move (0: no cap)
  chkv namenode --id ID --addr HOST:PORT --data-dir D --peers ID1=HOST:PORT,ID2=HOST:PORT,...
      run one of a group of NameNodes on Raft (3 survive the loss of one):
      --peers lists every member with its address, this one included; Raft
      shares the address with RESP; D keeps the Raft log and snapshots. Only
      the leader acts; give DataNodes and commands the list of addresses
  chkv datanode --addr HOST:PORT --namenode HOST:PORT[,HOST:PORT...] [--id ID] [--rack RACK] [--weight W]
                [--heartbeat D] [--replica-timeout D] [--async-replication]
                [--maxmemory BYTES] [--maxmemory-policy POLICY]
                [--data-dir D [--appendfsync always|everysec|no] [--aof-load-truncated]]
      run one DataNode that joins the cluster of the NameNode (a list: of
      the leader of the NameNodes; slots move to
      it while it serves); it exits by itself once it has left the cluster.
      Writes are answered once every in-sync replica applied them, unless
      --async-replication
  chkv cluster [--port P] [--datanodes N] [--replicas R] [--migrate-rate KEYS_PER_SEC]
               [--cache-mode] [--maxmemory BYTES] [--maxmemory-policy POLICY]
      run a whole cluster in this process on TCP loopback: the NameNode on
      port P (default 7000), DataNodes on P+1..P+N; redis-cli -c -p P+1 works
  Every server command also takes --metrics-addr HOST:PORT (Prometheus
  metrics at /metrics); namenode and cluster take --http HOST:PORT, the
  status page in a browser (members, slot map, movement; loopback only
  unless --http-secret PASSWORD or --allow-remote).
  chkv status --namenode HOST:PORT[,HOST:PORT...] [--json] [--watch] [--timeout D]
      print the members, table version, slots per node and the data movement
      (slots in/out, keys and bytes moved, rate, ETA); on a terminal a movement
      under way is followed with a live progress bar; --watch follows the
      movement (or waits for the next one) until it ends, one line a second
      when not on a terminal; --json prints the NameNode's CHKV.STATUS;
      given the NameNodes of a group, it shows each one's Raft role, term
      and last applied index (JSON "namenodes") and the leader's status
  chkv leave --namenode HOST:PORT [--wait=false] [--timeout D] ID
      take DataNode ID out gracefully: its slots move to the others while it
      serves, then it shuts down; waits (following the movement) until it left
  chkv reassign-lost --namenode HOST:PORT
      accept that the slots whose every copy died (database mode) lost their
      data: they get new, empty owners and serve again (as redis-cli --cluster
      fix covers uncovered slots); they answer -CLUSTERDOWN until then
  chkv check-aof [--fix] DIR
      check the snapshot and logs of a data directory, as redis-check-aof;
      --fix cuts a log at its first torn or damaged record
  chkv torture [--seed N] [--duration D] [--namenodes N] [--datanodes N] [--replicas R]
               [--faults KIND,...] [--out DIR]
      (root, Linux) run NameNodes (3 on Raft by default) and DataNodes as
      processes in network namespaces, inject seeded faults under a client
      workload and check the history; exit 0 all checks pass, 1 a check
      failed, 2 it could not run
  chkv version

Security flags (every role; --cluster-secret-file on all but server):
  --cluster-secret-file F   the secret the nodes require of each other's internal
                            commands (AUTH chkv-cluster <secret>); status and leave
                            present it too
  --tls-cert F --tls-key F  serve TLS with this certificate, and present it when
                            dialling peers
  --tls-ca F                CA that certificates of peers and clients must be signed
                            by (mutual TLS); redis-cli --tls --cacert --cert --key
  --allow-remote            (namenode, datanode) listen on a non-loopback address
                            without a cluster secret
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chkv:", err)
		if errors.Is(err, errCouldNotRun) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "namenode":
		return runNameNode(args[1:], stdout, stderr)
	case "datanode":
		return runDataNode(args[1:], stdout, stderr)
	case "cluster":
		return runCluster(args[1:], stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case "leave":
		return runLeave(args[1:], stdout, stderr)
	case "reassign-lost":
		return runReassignLost(args[1:], stdout, stderr)
	case "check-aof":
		return runCheckAOF(args[1:], stdout, stderr)
	case "torture":
		return runTorture(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "chkv", chkv.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// eventLoopsUsage describes --event-loops of a DataNode process.
const eventLoopsUsage = "event loops (io_uring, or epoll) serving TCP clients on Linux (0: one per two cores; -1: a goroutine per connection)"

func runServer(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := chkv.DefaultDataNodeConfig()
	cfg.Addr = "127.0.0.1:6379"
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on")
	fs.StringVar(&cfg.RequirePass, "requirepass", "", "password clients must AUTH with")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "listen on a non-loopback address without a password")
	fs.IntVar(&cfg.MaxClients, "maxclients", cfg.MaxClients, "most clients connected at once")
	fs.IntVar(&cfg.Limits.MaxBulk, "max-bulk", cfg.Limits.MaxBulk, "largest value or argument in bytes")
	fs.DurationVar(&cfg.IdleTimeout, "timeout", 0, "close connections idle this long (0: never)")
	fs.IntVar(&cfg.EventLoops, "event-loops", 0, eventLoopsUsage)
	mem := memoryFlags(fs)
	sec := addSecurityFlags(fs, false)
	persistFlags(fs, &cfg)
	rt := runtimeFlags(fs)
	web := addWebFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := mem(&cfg.MaxMemory, &cfg.MaxMemoryPolicy, &cfg.MaxMemoryGCRoom); err != nil {
		return err
	}
	tr, err := sec.transport(true)
	if err != nil {
		return err
	}
	cfg.Transport = tr
	stopRT, err := rt()
	if err != nil {
		return err
	}
	defer stopRT()
	limitHeap(cfg.MaxMemory, cfg.MaxMemoryGCRoom)
	cfg.MaxMemoryChanged = func(n int64) { limitHeap(n, cfg.MaxMemoryGCRoom) } // CONFIG SET maxmemory
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := chkv.StartDataNode(ctx, cfg)
	if err != nil {
		return err
	}
	stopWeb, err := web.start(stdout, d.MetricsHandler(), nil)
	if err != nil {
		d.Close()
		return err
	}
	defer stopWeb()
	fmt.Fprintf(stdout, "chkv %s DataNode ready on %s (standalone, all slots): redis-cli -p %s\n", chkv.Version, d.Addr(), port(d.Addr()))
	return closeOnSignal(ctx, stdout, d)
}

// memoryFlags adds --maxmemory, --maxmemory-policy and --maxmemory-gc-room
// to fs; after parsing, the returned function stores them in max, policy
// and room.
func memoryFlags(fs *flag.FlagSet) func(max *int64, policy *chkv.MaxMemoryPolicy, room *int) error {
	maxMem := fs.String("maxmemory", "0", "cap on the memory the data takes, in bytes or Redis's notation (64mb, 1gb); 0: none")
	pol := fs.String("maxmemory-policy", "noeviction", "at the cap: noeviction (refuse writes with -OOM), allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random or volatile-ttl")
	gcRoom := fs.Int("maxmemory-gc-room", defaultGCRoom, "percent of --maxmemory kept free of data for the garbage collector (0-90): eviction and -OOM hold the data to the rest")
	return func(max *int64, policy *chkv.MaxMemoryPolicy, room *int) error {
		if *gcRoom < 0 || *gcRoom > 90 {
			return fmt.Errorf("--maxmemory-gc-room %d is not within 0 to 90", *gcRoom)
		}
		*room = *gcRoom
		n, err := chkv.ParseMemory(*maxMem)
		if err != nil {
			return fmt.Errorf("--maxmemory: %w", err)
		}
		p, err := chkv.ParseMaxMemoryPolicy(*pol)
		if err != nil {
			return fmt.Errorf("--maxmemory-policy: %w", err)
		}
		*max, *policy = n, p
		return nil
	}
}

// defaultGCRoom is --maxmemory-gc-room's default: a quarter of the cap.
const defaultGCRoom = 25

// limitHeap sets the Go runtime's soft memory limit for a process whose
// DataNodes' caps add up to capacity bytes (the sum of their --maxmemory),
// of which room percent is kept free of data: the garbage collector then
// collects before the heap's growth takes the process far past the cap,
// as jemalloc keeps Redis's RSS near its used_memory. The limit is the cap
// plus 16 MiB for the rest of the process (buffers, stacks, the runtime),
// plus what a room under 25% lacks of a quarter of the cap. The collector
// works in the room: with the data at the cap and a limit of the cap plus
// an eighth and 16 MiB (before 2026-12-04), a flood of 1,000-byte writes
// under eviction at a 64 MiB cap collected every 2 MB written, half the
// CPU (the limit's own bound): 21-23 s of CPU per 1,000,000 SETs at RSS
// 95-100 MiB; with a quarter of room, 9.5 s and 86 MiB (redis-server:
// 5 s, 77 MiB; bench/maxmemory.sh). A GOMEMLIMIT in the environment wins.
func limitHeap(capacity int64, room int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(heapLimit(capacity, room))
}

// heapLimit is limitHeap's limit: none (math.MaxInt64) without a cap.
func heapLimit(capacity int64, room int) int64 {
	if capacity <= 0 {
		return math.MaxInt64
	}
	return capacity + capacity/100*int64(max(defaultGCRoom-room, 0)) + 16<<20
}

// runtimeFlags adds the Go runtime flags a server process takes
// (--gc-percent, --gc-min-heap-mb, --gc-idle, --cpuprofile, --procs) to fs; after
// parsing, the returned function applies them and returns the function
// that undoes them (ends the profile).
func runtimeFlags(fs *flag.FlagSet) func() (func(), error) {
	gcPercent := fs.Int("gc-percent", 50, "Go GC target percentage: lower uses less memory, more CPU")
	gcMinHeap := fs.Int("gc-min-heap-mb", 64, "heap MiB below which the GC does not run (0: Go's own pacing)")
	gcIdle := fs.Bool("gc-idle", true, "collect garbage while the process is nearly idle (with --gc-min-heap-mb)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until shutdown (SIGUSR1 goes on in FILE.1, FILE.2, ...)")
	procs := fs.Int("procs", 0, "CPU cores to run on (GOMAXPROCS); 0: all")
	return func() (func(), error) {
		if *gcPercent < 0 || *gcMinHeap < 0 {
			return nil, errors.New("--gc-percent and --gc-min-heap-mb must not be negative")
		}
		stopGC := func() {}
		if *gcMinHeap > 0 {
			stopGC = startGCTuner(int64(*gcMinHeap)<<20, *gcPercent, *gcIdle)
		} else {
			debug.SetGCPercent(*gcPercent)
		}
		if *procs > 0 {
			runtime.GOMAXPROCS(*procs)
		}
		if *cpuProfile == "" {
			return stopGC, nil
		}
		stopProfile, err := startProfile(*cpuProfile)
		if err != nil {
			stopGC()
			return nil, err
		}
		return func() { stopProfile(); stopGC() }, nil
	}
}

// startProfile writes a CPU profile to name until the returned function
// is called. Each SIGUSR1 ends the file and goes on in the next one
// (name.1, name.2, ...), so a benchmark can profile one phase of a
// long-running process.
func startProfile(name string) (func(), error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var mu sync.Mutex
	cut := make(chan os.Signal, 1)
	signal.Notify(cut, syscall.SIGUSR1)
	go func() {
		for n := 1; ; n++ {
			if _, ok := <-cut; !ok {
				return
			}
			mu.Lock()
			if f == nil {
				mu.Unlock()
				return
			}
			pprof.StopCPUProfile()
			f.Close()
			if f, _ = os.Create(fmt.Sprintf("%s.%d", name, n)); f != nil {
				if pprof.StartCPUProfile(f) != nil {
					f.Close()
					f = nil
				}
			}
			mu.Unlock()
		}
	}()
	return func() {
		signal.Stop(cut)
		close(cut)
		mu.Lock()
		defer mu.Unlock()
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
			f = nil
		}
	}, nil
}

func port(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}

// signalContext returns a context canceled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// nameNodeConfig parses the flags of chkv namenode.
// It also returns the function that applies the runtime flags.
func nameNodeConfig(args []string, stderr io.Writer) (chkv.NameNodeConfig, func() (func(), error), *webFlags, error) {
	fs := flag.NewFlagSet("namenode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := chkv.DefaultNameNodeConfig()
	cfg.Addr = "127.0.0.1:7000"
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory that keeps the table across restarts")
	fs.IntVar(&cfg.Ring.Replicas, "replicas", cfg.Ring.Replicas, "replicas of each slot besides its primary")
	fs.BoolVar(&cfg.Ring.CacheMode, "cache-mode", false, "reassign lost slots empty instead of answering CLUSTERDOWN")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", cfg.HeartbeatInterval, "DataNode heartbeat interval")
	fs.Float64Var(&cfg.MigrateRate, "migrate-rate", 0, "most keys per second each DataNode sends while slots move (0: no cap)")
	fs.IntVar(&cfg.MigrateParallel, "migrate-parallel", chkv.DefaultMigrateParallel, "batches of slots each DataNode sends at once")
	fs.IntVar(&cfg.MigrateBatch, "migrate-batch", chkv.DefaultMigrateBatch, "most slots in one batch")
	fs.IntVar(&cfg.ExpectDataNodes, "expect", 0, "hold the first table back until this many DataNodes registered (0: deal slots out from the first)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "listen on a non-loopback address without a cluster secret")
	fs.StringVar(&cfg.RaftID, "id", "", "this NameNode's id among --peers")
	peers := fs.String("peers", "", "the NameNodes of a Raft group: ID1=HOST:PORT,ID2=HOST:PORT,... (this one included)")
	sec := addSecurityFlags(fs, true)
	rt := runtimeFlags(fs)
	web := addWebFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return cfg, nil, nil, err
	}
	var err error
	if *peers != "" {
		if cfg.RaftPeers, err = chkv.ParseRaftPeers(*peers); err != nil {
			return cfg, nil, nil, err
		}
		if cfg.RaftID == "" || cfg.DataDir == "" {
			return cfg, nil, nil, errors.New("namenode: --peers needs --id and --data-dir")
		}
	} else if cfg.RaftID != "" {
		return cfg, nil, nil, errors.New("namenode: --id needs --peers")
	}
	if cfg.ClusterSecret, err = sec.secret(); err != nil {
		return cfg, nil, nil, err
	}
	if cfg.Transport, err = sec.transport(true); err != nil {
		return cfg, nil, nil, err
	}
	if fs.NArg() > 0 {
		return cfg, nil, nil, fmt.Errorf("namenode: unexpected argument %q", fs.Arg(0))
	}
	if cfg.MigrateRate < 0 || cfg.MigrateParallel < 1 || cfg.MigrateBatch < 1 || cfg.ExpectDataNodes < 0 {
		return cfg, nil, nil, errors.New("namenode: --migrate-rate and --expect must not be negative, --migrate-parallel and --migrate-batch must be at least 1")
	}
	// Failure detection follows the heartbeat: silence of 3 intervals,
	// then probes half an interval apart, each bounded by one interval.
	cfg.HeartbeatTimeout, cfg.ProbeInterval, cfg.ProbeTimeout = 3*cfg.HeartbeatInterval, cfg.HeartbeatInterval/2, cfg.HeartbeatInterval
	return cfg, rt, web, nil
}

func runNameNode(args []string, stdout, stderr io.Writer) error {
	cfg, rt, web, err := nameNodeConfig(args, stderr)
	if err != nil {
		return err
	}
	stopRT, err := rt()
	if err != nil {
		return err
	}
	defer stopRT()
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signalContext()
	defer stop()
	n, err := chkv.StartNameNode(ctx, cfg)
	if err != nil {
		return err
	}
	stopWeb, err := web.start(stdout, n.MetricsHandler(), n.StatusPage())
	if err != nil {
		n.Close()
		return err
	}
	defer stopWeb()
	list := n.Addr()
	if len(cfg.RaftPeers) > 0 {
		var as []string
		for _, p := range cfg.RaftPeers {
			as = append(as, p.Addr)
		}
		list = strings.Join(as, ",")
	}
	fmt.Fprintf(stdout, "chkv %s NameNode ready on %s: start DataNodes with chkv datanode --namenode %s\n", chkv.Version, n.Addr(), list)
	return closeOnSignal(ctx, stdout, n)
}

func runDataNode(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("datanode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := chkv.DefaultDataNodeConfig()
	cfg.Addr = "127.0.0.1:7001"
	cc := chkv.DefaultClusterNodeConfig("")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on (and to give the cluster)")
	fs.StringVar(&cc.NameNode, "namenode", "", "address of the NameNode, or the comma-separated addresses of a Raft group of NameNodes")
	id := fs.String("id", "", "node id (default: the address)")
	fs.StringVar(&cc.Rack, "rack", "", "failure domain")
	fs.IntVar(&cc.Weight, "weight", cc.Weight, "share of slots relative to other nodes")
	fs.DurationVar(&cc.HeartbeatInterval, "heartbeat", cc.HeartbeatInterval, "heartbeat interval (the lease and the replica timeout scale with it)")
	fs.DurationVar(&cc.ReplicaTimeout, "replica-timeout", 0, "how long a write waits for a replica before it is taken out of the in-sync set (default: 4 heartbeats)")
	fs.BoolVar(&cc.AsyncReplication, "async-replication", false, "answer writes before the replicas applied them (Redis's trade-off: a failover may lose the last writes)")
	fs.StringVar(&cfg.RequirePass, "requirepass", "", "password clients must AUTH with")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "listen on a non-loopback address without a password or a cluster secret")
	fs.IntVar(&cfg.EventLoops, "event-loops", 0, eventLoopsUsage)
	mem := memoryFlags(fs)
	sec := addSecurityFlags(fs, true)
	persistFlags(fs, &cfg)
	rt := runtimeFlags(fs)
	web := addWebFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := mem(&cfg.MaxMemory, &cfg.MaxMemoryPolicy, &cfg.MaxMemoryGCRoom); err != nil {
		return err
	}
	var err error
	if cc.ClusterSecret, err = sec.secret(); err != nil {
		return err
	}
	tr, err := sec.transport(true)
	if err != nil {
		return err
	}
	cfg.Transport = tr
	stopRT, err := rt()
	if err != nil {
		return err
	}
	defer stopRT()
	limitHeap(cfg.MaxMemory, cfg.MaxMemoryGCRoom)
	cfg.MaxMemoryChanged = func(n int64) { limitHeap(n, cfg.MaxMemoryGCRoom) } // CONFIG SET maxmemory
	if cc.NameNode == "" {
		return errors.New("datanode needs --namenode HOST:PORT")
	}
	cc.ID = chkv.NodeID(*id)
	cfg.Cluster = &cc
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signalContext()
	defer stop()
	d, err := chkv.StartDataNode(ctx, cfg)
	if err != nil {
		return err
	}
	watchImports(d.Imports) // a rebuild's growth does not start a collection
	stopWeb, err := web.start(stdout, d.MetricsHandler(), nil)
	if err != nil {
		d.Close()
		return err
	}
	defer stopWeb()
	fmt.Fprintf(stdout, "chkv %s DataNode %s listening on %s, joining the NameNode at %s: redis-cli -c -p %s\n", chkv.Version, d.ID(), d.Addr(), cc.NameNode, port(d.Addr()))
	select {
	case <-ctx.Done():
		return closeOnSignal(ctx, stdout, d)
	case <-d.Done(): // the node closed itself: it left the cluster
	}
	d.Close() // returns once the node has stopped
	if !d.Left() {
		return fmt.Errorf("DataNode %s stopped", d.ID())
	}
	fmt.Fprintf(stdout, "%s left the cluster: every slot moved away\n", d.ID())
	return nil
}

func runCluster(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := chkv.DefaultClusterConfig()
	cfg.Transport = chkv.ClusterTCP
	cfg.Port = 7000
	fs.IntVar(&cfg.Port, "port", cfg.Port, "NameNode port; DataNodes listen on the ports after it")
	fs.IntVar(&cfg.DataNodes, "datanodes", cfg.DataNodes, "number of DataNodes")
	fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "replicas of each slot besides its primary")
	fs.BoolVar(&cfg.CacheMode, "cache-mode", false, "reassign lost slots empty instead of answering CLUSTERDOWN")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", cfg.HeartbeatInterval, "DataNode heartbeat interval")
	fs.Float64Var(&cfg.MigrateRate, "migrate-rate", 0, "most keys per second each DataNode sends while slots move (0: no cap)")
	fs.IntVar(&cfg.EventLoops, "event-loops", 0, "event loops the DataNodes share (0: one per DataNode; -1: a goroutine per connection)")
	verbose := fs.Bool("v", false, "log every node's events to stderr")
	mem := memoryFlags(fs)
	sec := addSecurityFlags(fs, true)
	rt := runtimeFlags(fs)
	web := addWebFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := mem(&cfg.MaxMemory, &cfg.MaxMemoryPolicy, &cfg.MaxMemoryGCRoom); err != nil {
		return err
	}
	var err error
	if cfg.ClusterSecret, err = sec.secret(); err != nil {
		return err
	}
	if cfg.TLS, cfg.ClientTLS, err = sec.tlsConfigs(true); err != nil {
		return err
	}
	stopRT, err := rt()
	if err != nil {
		return err
	}
	defer stopRT()
	if cfg.DataNodes < 1 {
		return errors.New("cluster needs at least one DataNode")
	}
	limitHeap(cfg.MaxMemory*int64(cfg.DataNodes), cfg.MaxMemoryGCRoom)
	cfg.MaxMemoryChanged = func(n int64) { limitHeap(n, cfg.MaxMemoryGCRoom) } // CONFIG SET maxmemory on a DataNode
	if loops := cmp.Or(cfg.EventLoops, cfg.DataNodes); fs.Lookup("procs").Value.String() == "0" && loops > 0 {
		// A P for each event loop, which holds it while it serves and
		// while it waits (chkv.rawWaits), and one more so that the rest
		// of the runtime (the NameNode, heartbeats, expiry, the GC) never
		// waits for a loop. A waiting loop uses no core.
		runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), loops+1))
	}
	if cfg.MigrateRate < 0 {
		return errors.New("cluster: --migrate-rate must not be negative")
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ctx, stop := signalContext()
	defer stop()
	fmt.Fprintf(stdout, "chkv %s cluster: NameNode on 127.0.0.1:%d, %d DataNodes on ports %d-%d, %d replica(s)\n",
		chkv.Version, cfg.Port, cfg.DataNodes, cfg.Port+1, cfg.Port+cfg.DataNodes, cfg.Replicas)
	c, err := chkv.StartCluster(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	watchImports(func() (slots int, keys, bytes int64) { // the DataNodes' imports together
		for _, d := range c.DataNodes() {
			s, k, b := d.Imports()
			slots, keys, bytes = slots+s, keys+k, bytes+b
		}
		return slots, keys, bytes
	})
	stopWeb, err := web.start(stdout, c.MetricsHandler(), c.NameNode().StatusPage())
	if err != nil {
		return err
	}
	defer stopWeb()
	fmt.Fprintf(stdout, "connect: redis-cli -c -p %d    status: chkv status --namenode %s\n", cfg.Port+1, c.NameNodeAddr())
	fmt.Fprintf(stdout, "ready: all %d slots served (table version %d)\n", chkv.NumSlots, c.NameNode().Table().Version)
	return closeOnSignal(ctx, stdout, c)
}

// closeOnSignal waits for ctx (SIGINT or SIGTERM), then closes what runs.
func closeOnSignal(ctx context.Context, stdout io.Writer, running io.Closer) error {
	<-ctx.Done()
	fmt.Fprintln(stdout, "chkv: shutting down")
	return running.Close()
}

// persistFlags adds the file storage flags of a DataNode process to fs.
func persistFlags(fs *flag.FlagSet, cfg *chkv.DataNodeConfig) {
	fs.StringVar(&cfg.DataDir, "data-dir", "", "keep the data in an append-only log and snapshots in this directory (default: memory only)")
	fs.Func("appendfsync", "when the log reaches the disk: always (before each reply), everysec (default) or no (the OS decides)", func(v string) error {
		switch f := chkv.AppendFsync(v); f {
		case chkv.FsyncAlways, chkv.FsyncEverySec, chkv.FsyncNo:
			cfg.AppendFsync = f
			return nil
		}
		return fmt.Errorf("%q is not always, everysec or no", v)
	})
	fs.BoolVar(&cfg.AOFLoadTruncated, "aof-load-truncated", false, "load the records before damage in the data files instead of refusing to start")
	fs.IntVar(&cfg.AutoAOFRewritePercentage, "auto-aof-rewrite-percentage", chkv.DefaultAutoAOFRewritePercentage, "compact the files when they grew by this percentage since the last compaction (negative: only on BGREWRITEAOF)")
	fs.Int64Var(&cfg.AutoAOFRewriteMinSize, "auto-aof-rewrite-min-size", chkv.DefaultAutoAOFRewriteMinSize, "do not compact files smaller than this many bytes")
}

// runCheckAOF checks (and with --fix repairs) a data directory.
func runCheckAOF(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-aof", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fix := fs.Bool("fix", false, "cut each log at its first torn or damaged record")
	var rest []string // --fix may follow DIR, as with redis-check-aof
	for _, a := range args {
		if a == "--fix" || a == "-fix" {
			*fix = true
			continue
		}
		rest = append(rest, a)
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("check-aof needs the data directory: chkv check-aof [--fix] DIR")
	}
	return chkv.CheckAOF(fs.Arg(0), *fix, stdout)
}
