// DataNode is a chkv storage server: it holds keys in a Store and serves them over RESP.

package chkv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DataNodeConfig configures a DataNode.
type DataNodeConfig struct {
	// Addr is the address to listen on. Default "127.0.0.1:0" (a free port).
	Addr string
	// Transport listens for clients. Default: plain TCP.
	Transport Transport
	// RequirePass, when set, makes clients AUTH before any other command.
	RequirePass string
	// AllowRemote lets a server without a password listen on a non-loopback
	// address. Without it, such a configuration is refused.
	AllowRemote bool
	// MaxClients is the most connections served at once. Default 10000.
	MaxClients int
	// Limits bound what one request may make the server hold.
	Limits RequestLimits
	// MaxMemory caps the bytes of data the node holds (memory.go), as
	// Redis's maxmemory; 0: no cap. CONFIG SET maxmemory changes it.
	MaxMemory int64
	// MaxMemoryPolicy is what the node does at the cap: NoEviction (the
	// default) refuses writes with -OOM, the others evict keys.
	MaxMemoryPolicy MaxMemoryPolicy
	// MaxMemorySamples is how many keys eviction samples at a time.
	// Default DefaultMaxMemorySamples (5, as Redis).
	MaxMemorySamples int
	// MaxMemoryGCRoom is the percentage of MaxMemory kept free of data
	// for the garbage collector (Store.SetMaxMemoryGCRoom, 0 to 90):
	// eviction and -OOM hold the data to the rest. 0: the data may fill
	// the cap. The chkv binary sets 25 (--maxmemory-gc-room) and a memory
	// limit of the cap plus 16 MiB, so the process stays near the cap.
	MaxMemoryGCRoom int
	// MaxMemoryChanged, if set, is called with the new cap after CONFIG
	// SET maxmemory: the chkv binary moves the Go memory limit with it.
	MaxMemoryChanged func(capBytes int64)
	// IdleTimeout closes a connection that sends nothing for this long. 0: never.
	IdleTimeout time.Duration
	// Now is the clock for TTLs; tests inject a fake one. Default time.Now.
	Now func() time.Time
	// EventLoops is how many event loops serve plain TCP clients on Linux
	// (eventloop_linux.go): each serves its share of the connections from
	// one thread with io_uring or epoll, as Redis does with epoll, instead of a goroutine per
	// connection. 0: one per two cores of GOMAXPROCS (at least one), which
	// leaves the other half to the garbage collector, expiry, moves and,
	// on a shared machine, the clients; negative: none (a goroutine per
	// connection, as with TLS, other systems and the memory transport).
	EventLoops int
	// Logger receives the server's log lines. Default: discard.
	Logger *slog.Logger
	// Cluster, when set, makes the node a cluster member (cluster_node.go):
	// it registers with the NameNode and serves only the slots it leads.
	// Nil: standalone, owning every slot.
	Cluster *ClusterNodeConfig
	// DataDir, when set, keeps the node's data in files there (aof.go): an
	// append-only log of every write, compacted into snapshots, loaded when
	// the node starts. A cluster node keeps its id there too. "": the data
	// lives in memory only and nothing touches the disk.
	DataDir string
	// AppendFsync says when the log reaches the disk. Default FsyncEverySec.
	AppendFsync AppendFsync
	// AOFLoadTruncated makes a node whose files are damaged before their
	// end load the records before the damage (losing the rest) instead of
	// refusing to start. A torn tail (an incomplete last record) is always
	// cut off.
	AOFLoadTruncated bool
	// AutoAOFRewritePercentage compacts the files once they have grown by
	// this percentage since the last compaction. 0: 100; negative: never
	// on its own (BGREWRITEAOF still does).
	AutoAOFRewritePercentage int
	// AutoAOFRewriteMinSize is the size below which the files are not
	// compacted on their own. 0: 64 MiB.
	AutoAOFRewriteMinSize int64

	// loops, when set, are event loops the node shares with others (the
	// DataNodes of a Cluster) instead of starting its own; EventLoops is
	// then ignored. loopAffinity picks the node's loop among them (see
	// loopSet.pick).
	loops        *loopSet
	loopAffinity int
	// openAOFFile opens the files of the log; tests inject failing ones.
	// Nil: os.OpenFile.
	openAOFFile func(name string) (aofFile, error)
	// extraCommands are added to the command table: tests inject commands
	// (one that panics) through it.
	extraCommands []*command
}

// DefaultDataNodeConfig returns the configuration of a standalone DataNode
// listening on a free loopback port.
func DefaultDataNodeConfig() DataNodeConfig {
	return DataNodeConfig{Addr: "127.0.0.1:0", MaxClients: 10000, Limits: DefaultRequestLimits()}
}

// validate fills zero fields and rejects impossible settings.
func (c *DataNodeConfig) validate() error {
	d := DefaultDataNodeConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.Transport == nil {
		c.Transport = &TCPTransport{}
	}
	if c.MaxClients == 0 {
		c.MaxClients = d.MaxClients
	}
	if c.MaxClients < 0 {
		return fmt.Errorf("chkv: MaxClients %d is negative", c.MaxClients)
	}
	if c.MaxMemory < 0 {
		return fmt.Errorf("chkv: MaxMemory %d is negative", c.MaxMemory)
	}
	if c.MaxMemoryPolicy < NoEviction || c.MaxMemoryPolicy > VolatileTTL {
		return fmt.Errorf("chkv: unknown MaxMemoryPolicy %d", c.MaxMemoryPolicy)
	}
	if c.MaxMemorySamples == 0 {
		c.MaxMemorySamples = DefaultMaxMemorySamples
	}
	if c.MaxMemoryGCRoom < 0 || c.MaxMemoryGCRoom > 90 {
		return fmt.Errorf("chkv: MaxMemoryGCRoom %d is not within 0 to 90", c.MaxMemoryGCRoom)
	}
	if c.MaxMemorySamples < 0 {
		return fmt.Errorf("chkv: MaxMemorySamples %d is negative", c.MaxMemorySamples)
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("chkv: IdleTimeout %v is negative", c.IdleTimeout)
	}
	c.Limits = c.Limits.withDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch c.AppendFsync {
	case "":
		c.AppendFsync = FsyncEverySec
	case FsyncAlways, FsyncEverySec, FsyncNo:
	default:
		return fmt.Errorf("chkv: appendfsync %q is not always, everysec or no", c.AppendFsync)
	}
	if c.AutoAOFRewritePercentage == 0 {
		c.AutoAOFRewritePercentage = DefaultAutoAOFRewritePercentage
	}
	if c.AutoAOFRewriteMinSize <= 0 {
		c.AutoAOFRewriteMinSize = DefaultAutoAOFRewriteMinSize
	}
	if c.Cluster != nil {
		cc := *c.Cluster
		if err := cc.validate(); err != nil {
			return err
		}
		c.Cluster = &cc
	}
	_, inMemory := c.Transport.(*MemTransport)
	if c.RequirePass == "" && !c.AllowRemote && !inMemory && !isLoopback(c.Addr) {
		return fmt.Errorf("chkv: refusing to listen on %q without a password: set a password or allow remote access explicitly", c.Addr)
	}
	if c.Cluster != nil && c.Cluster.ClusterSecret == "" && !c.AllowRemote && !inMemory && !isLoopback(c.Addr) {
		return fmt.Errorf("chkv: refusing to listen on %q without a cluster secret: set one or allow remote access explicitly", c.Addr)
	}
	return nil
}

// isLoopback reports whether addr's host is "localhost" or a loopback IP.
// Any other name may resolve to a public address, so it does not count.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DataNode serves a Store over RESP. Standalone, it owns every slot.
type DataNode struct {
	cfg      DataNodeConfig
	store    *Store
	ln       net.Listener
	cmds     map[string]*command
	started  time.Time
	nextID   atomic.Int64
	closed   chan struct{}
	closeErr error
	once     sync.Once
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns map[*conn]struct{}

	// route, when set (cluster mode), vets every command before it runs:
	// it writes a redirect or error reply (MOVED, ASK, CROSSSLOT,
	// CLUSTERDOWN) and returns false when the command must not run here.
	route func(c *conn, cmd *command, args [][]byte) bool
	// cluster is the cluster state (cluster_node.go); nil when standalone.
	cluster *clusterNode
	// aof is the node's file storage (aof.go); nil without a DataDir.
	aof *aof

	stats   serverStats
	metrics dataNodeMetrics // metrics.go
	// settings are the parameters CONFIG SET changes (config.go).
	settings settings
	// lcsBytes is the memory the tables of running LCS calls hold (cmd_lcs.go).
	lcsBytes atomic.Int64

	// loops serve plain TCP clients (eventloop_linux.go); nil: none. The
	// node closes them when it owns them (ownLoops).
	loops    *loopSet
	ownLoops bool
	// loopAffinity is the index of the node's loop in a shared set; -1:
	// its connections go to its own loops in turn.
	loopAffinity int
}

// serverStats are the counters INFO reports.
type serverStats struct {
	connsReceived atomic.Int64
	connsRejected atomic.Int64
	commands      atomic.Int64 // of closed connections; open ones count their own
	netIn         atomic.Int64 // likewise
	netOut        atomic.Int64 // likewise
	panics        atomic.Int64 // commands whose handler panicked (panic.go)
}

// StartDataNode starts a standalone DataNode listening on cfg.Addr. Close stops it.
func StartDataNode(ctx context.Context, cfg DataNodeConfig) (*DataNode, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ln, err := cfg.Transport.Listen(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("chkv: listen %s: %w", cfg.Addr, err)
	}
	d := &DataNode{
		cfg:     cfg,
		store:   NewStore(StoreConfig{Now: cfg.Now}),
		ln:      ln,
		started: cfg.Now(),
		closed:  make(chan struct{}),
		conns:   make(map[*conn]struct{}),
	}
	d.initSettings()
	if cfg.DataDir != "" {
		if err := d.openDataDir(); err != nil {
			ln.Close()
			d.store.Close()
			return nil, err
		}
	}
	d.cmds = commandTable()
	d.store.SetMaxMemory(cfg.MaxMemory)
	d.store.SetMaxMemoryPolicy(cfg.MaxMemoryPolicy)
	d.store.SetMaxMemorySamples(cfg.MaxMemorySamples)
	d.store.SetMaxMemoryGCRoom(cfg.MaxMemoryGCRoom)
	for _, cmd := range cfg.extraCommands {
		d.cmds[cmd.name] = cmd
	}
	switch {
	case cfg.loops != nil:
		d.loops, d.loopAffinity = cfg.loops, cfg.loopAffinity
	case cfg.EventLoops >= 0:
		d.loops, d.ownLoops, d.loopAffinity = newLoopSet(cfg.EventLoops, cfg.IdleTimeout, cfg.Logger), true, -1
	}
	if cfg.Cluster != nil {
		d.startCluster()
	}
	d.wg.Add(1)
	go d.acceptLoop()
	cfg.Logger.Info("datanode listening", "addr", ln.Addr().String())
	return d, nil
}

// Addr returns the address clients dial.
func (d *DataNode) Addr() string { return d.ln.Addr().String() }

// Store returns the node's storage engine.
func (d *DataNode) Store() *Store { return d.store }

// Done is closed when the node has been closed.
func (d *DataNode) Done() <-chan struct{} { return d.closed }

// Close stops the node: it closes the listener, then every connection, then
// waits for their goroutines. It is safe to call twice.
func (d *DataNode) Close() error {
	d.once.Do(func() {
		close(d.closed)
		d.closeErr = d.ln.Close()
		d.mu.Lock()
		for c := range d.conns {
			c.close()
		}
		d.mu.Unlock()
		if d.ownLoops {
			d.loops.close() // the loops close the connections they serve
		}
		d.wg.Wait() // shared loops close this node's connections, as close asked
		d.store.Close()
		if d.aof != nil {
			if err := d.aof.close(); err != nil && d.closeErr == nil {
				d.closeErr = err
			}
		}
	})
	return d.closeErr
}

// acceptLoop accepts connections until the listener closes.
func (d *DataNode) acceptLoop() {
	defer d.wg.Done()
	var backoff time.Duration
	for {
		nc, err := d.ln.Accept()
		if err != nil {
			select {
			case <-d.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (e.g. too many open files): back off and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			d.cfg.Logger.Warn("accept", "err", err)
			select {
			case <-time.After(backoff):
			case <-d.closed:
				return
			}
			continue
		}
		backoff = 0
		d.stats.connsReceived.Add(1)
		c := d.newConn(nc)
		d.mu.Lock()
		if len(d.conns) >= d.maxClients() {
			d.mu.Unlock()
			d.stats.connsRejected.Add(1)
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(nc, "-ERR max number of clients reached\r\n")
			nc.Close()
			continue
		}
		select {
		case <-d.closed:
			d.mu.Unlock()
			nc.Close()
			return
		default:
		}
		d.conns[c] = struct{}{}
		d.wg.Add(1)
		d.mu.Unlock()
		if !d.loopServe(c) {
			go c.serve(nil)
		}
	}
}

// clients returns a snapshot of the open connections.
func (d *DataNode) clients() []*conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	cs := make([]*conn, 0, len(d.conns))
	for c := range d.conns {
		cs = append(cs, c)
	}
	return cs
}
