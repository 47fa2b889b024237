// NameNode is chkv's configuration server: it keeps the membership and the partition table, detects failed DataNodes and pushes every new table.

package chkv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// NameNodeConfig configures a NameNode.
type NameNodeConfig struct {
	// Addr is the address to listen on. Default "127.0.0.1:0" (a free port).
	Addr string
	// Transport listens for DataNodes and clients, and dials DataNodes to
	// probe them and push tables. Default: plain TCP.
	Transport Transport
	// DataDir, when set, is where the table is kept across restarts.
	DataDir string
	// Ring configures how each next table is computed. Default DefaultRingConfig().
	Ring RingConfig
	// HeartbeatInterval is how often DataNodes heartbeat. Default 1 s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a node may stay silent before it is
	// probed. Default 3 heartbeat intervals.
	HeartbeatTimeout time.Duration
	// ProbeInterval is the pause between the end of one probe of a silent
	// node and the start of the next. Default half a heartbeat interval.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe (dial, PING, +PONG), and one table push.
	// Default one heartbeat interval.
	ProbeTimeout time.Duration
	// MigrateParallel is how many batches of slots one DataNode sends at
	// once. Default DefaultMigrateParallel.
	MigrateParallel int
	// MigrateBatch is the most slots one batch moves. Default DefaultMigrateBatch.
	MigrateBatch int
	// NoDataMovement flips every table change at once, without copying
	// data: moved slots come up empty on their new owners. For tests of
	// membership alone, and caches that would rather lose moved keys than
	// wait for them.
	NoDataMovement bool
	// ExpectDataNodes, on a NameNode starting a new cluster (no table
	// resumed from DataDir), holds back the first table until that many
	// DataNodes have registered, so the slots are dealt out among all of
	// them at once instead of moving (empty) from the first node to the
	// next as each joins. 0 deals them out from the first registration.
	ExpectDataNodes int
	// MigrateRate caps the keys per second each DataNode sends while slots
	// move; 0 means no cap.
	MigrateRate float64
	// Logger receives the server's log lines. Default: discard.
	Logger *slog.Logger
	// ClusterSecret, when set, is required (AUTH chkv-cluster <secret>) of
	// every connection before any command but PING, QUIT and CHKV.TABLE,
	// and presented to the DataNodes the NameNode dials (auth.go).
	ClusterSecret string
	// AllowRemote lets a NameNode without a ClusterSecret listen on a
	// non-loopback address. Without it, such a configuration is refused.
	AllowRemote bool
	// RaftPeers, when set, makes this NameNode one member of a Raft group
	// of NameNodes (namenode_ha.go): every member listed with its address,
	// this one included. RESP and Raft share each address. DataDir is then
	// required and holds the Raft log and snapshots. Empty: a NameNode alone.
	RaftPeers []RaftPeer
	// RaftID is this NameNode's id among RaftPeers; its address there is
	// the one it listens on unless Addr says otherwise.
	RaftID string
	// RaftHeartbeatTimeout and RaftElectionTimeout tune the group's
	// elections; zero means DefaultRaftHeartbeatTimeout and
	// DefaultRaftElectionTimeout.
	RaftHeartbeatTimeout, RaftElectionTimeout time.Duration
}

// probeCount is how many probes in a row must fail before a silent node is
// declared down.
const probeCount = 3

// nameNodeLimits bound a NameNode request: its commands carry only short
// arguments, at most a slot and a node id for every slot (CHKV.HANDEDOFF).
func nameNodeLimits() RequestLimits {
	return RequestLimits{MaxBulk: 64 << 10, MaxArgs: 2*NumSlots + 4, MaxInline: 64 << 10, MaxQuery: 1 << 20}
}

// DefaultNameNodeConfig returns the configuration of a NameNode listening on
// a free loopback port with the default timing of CLUSTER_PROTOCOL.md.
func DefaultNameNodeConfig() NameNodeConfig {
	return NameNodeConfig{
		Addr:              "127.0.0.1:0",
		Ring:              DefaultRingConfig(),
		HeartbeatInterval: time.Second,
		HeartbeatTimeout:  3 * time.Second,
		ProbeInterval:     time.Second / 2,
		ProbeTimeout:      time.Second,
	}
}

// validate fills zero fields and rejects impossible settings.
func (c *NameNodeConfig) validate() error {
	if err := c.validateRaft(); err != nil {
		return err
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Transport == nil {
		c.Transport = &TCPTransport{}
	}
	ring, err := c.Ring.validate()
	if err != nil {
		return err
	}
	c.Ring = ring
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"HeartbeatInterval", c.HeartbeatInterval}, {"HeartbeatTimeout", c.HeartbeatTimeout},
		{"ProbeInterval", c.ProbeInterval}, {"ProbeTimeout", c.ProbeTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("chkv: %s %v is negative", d.name, d.v)
		}
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = 3 * c.HeartbeatInterval
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = c.HeartbeatInterval / 2
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = c.HeartbeatInterval
	}
	if c.HeartbeatTimeout < c.HeartbeatInterval {
		return fmt.Errorf("chkv: HeartbeatTimeout %v is shorter than HeartbeatInterval %v", c.HeartbeatTimeout, c.HeartbeatInterval)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if _, inMemory := c.Transport.(*MemTransport); c.ClusterSecret == "" && !c.AllowRemote && !inMemory && !isLoopback(c.Addr) {
		return fmt.Errorf("chkv: refusing to listen on %q without a cluster secret: set one or allow remote access explicitly", c.Addr)
	}
	if c.MigrateParallel == 0 {
		c.MigrateParallel = DefaultMigrateParallel
	}
	if c.MigrateBatch == 0 {
		c.MigrateBatch = DefaultMigrateBatch
	}
	if c.MigrateParallel < 0 || c.MigrateBatch < 0 || c.MigrateRate < 0 || c.ExpectDataNodes < 0 {
		return errors.New("chkv: negative MigrateParallel, MigrateBatch or MigrateRate")
	}
	return nil
}

// NameNode keeps the cluster's membership and partition table. DataNodes
// register, heartbeat and leave over RESP (CLUSTER_PROTOCOL.md); a node
// silent for HeartbeatTimeout is probed probeCount times and declared down
// when every probe fails. Every new table is saved (with a DataDir) and
// pushed to each DataNode that is not down and to every CHKV.WATCH connection.
type NameNode struct {
	cfg    NameNodeConfig
	ln     net.Listener
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu         sync.Mutex
	table      *Table // served: version 0 until the first node registers
	tableBytes []byte // table's MarshalBinary
	plan       *Table // where membership wants the data (namenode_migrate.go)
	mig        migrationState
	// incarnation is each member's process incarnation as it registered;
	// a new one means the node restarted and lost its in-memory data.
	incarnation map[NodeID]string
	// fails counts, per member, the times it was declared down: a batch
	// to a target declared down while it ran counts as failed.
	fails map[NodeID]uint64
	// lostFrom remembers, for each lost slot, the member that held it last: when that member comes back (after a partition,
	// or restarted), it gets the slot again with the data it has.
	lostFrom map[int]NodeID
	// leaving holds the members asked to leave until they are removed, so
	// that one cut off and declared down goes on leaving when it returns.
	leaving map[NodeID]bool
	// primarySince holds, per slot, the version of the served table from
	// which its primary has been the one it is (for a leader that took
	// over or a NameNode that restarted: the first table it served). A
	// CHKV.HANDEDOFF based on an older table is stale (see
	// followHandoffsLocked).
	primarySince [NumSlots]uint64
	// departed holds the incarnation of each member removed after it
	// left: that process is told it has left, whether it heartbeats or
	// registers again, even if no table showing it leaving reached it; a
	// new process with the same id joins anew.
	departed map[NodeID]string
	changed  chan struct{}
	peers    map[NodeID]*nnPeer
	// isrDrops counts, per member, the times a primary reported it lagging
	// (CHKV.ISRDROP): a copy to it or a move keeping it that started
	// before the last report does not put it in an in-sync set.
	isrDrops map[NodeID]uint64
	conns    map[net.Conn]struct{}
	// In a Raft group (namenode_ha.go): the member, whether this NameNode
	// leads with its state rebuilt, and the context of what a leader runs
	// (peers, batches: alone, n.ctx), renewed with epoch at each change.
	raft    *nnRaft
	leading bool
	lctx    context.Context
	lcancel context.CancelFunc
	epoch   uint64
	obs     nameNodeObs // metrics and status page (metrics.go, statuspage.go)
}

// StartNameNode starts a NameNode listening on cfg.Addr, resuming the table
// kept in cfg.DataDir if there is one. Close stops it.
func StartNameNode(ctx context.Context, cfg NameNodeConfig) (*NameNode, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.raftMode() {
		return startRaftNameNode(ctx, cfg)
	}
	table, plan := new(Table), new(Table) // version 0: no members yet
	if cfg.DataDir != "" {
		t, err := loadTable(cfg.DataDir, tableFile)
		if err != nil {
			return nil, err
		}
		if t != nil {
			table, plan = t, t
		}
		p, err := loadTable(cfg.DataDir, planFile)
		if err != nil {
			return nil, err
		}
		if p != nil {
			plan = p
		}
	}
	b, err := table.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("chkv: namenode: %w", err)
	}
	ln, err := cfg.Transport.Listen(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("chkv: listen %s: %w", cfg.Addr, err)
	}
	n := newNameNode(cfg, ln, plan)
	n.mu.Lock()
	n.table, n.tableBytes = table, b
	n.primariesSinceLocked(nil)
	n.syncPeersLocked() // a resumed member gets HeartbeatTimeout of grace
	n.beginProgressLocked()
	err = n.reconcileLocked() // resume data movement
	n.mu.Unlock()
	if err != nil {
		n.Close()
		return nil, err
	}
	if table.Version > 0 {
		cfg.Logger.Info("namenode resumed table", "version", table.Version, "members", len(table.Members))
	}
	n.wg.Add(1)
	go n.acceptLoop()
	cfg.Logger.Info("namenode listening", "addr", ln.Addr().String())
	return n, nil
}

// newNameNode returns a NameNode serving ln with plan, not started.
func newNameNode(cfg NameNodeConfig, ln net.Listener, plan *Table) *NameNode {
	n := &NameNode{
		cfg:         cfg,
		ln:          ln,
		closed:      make(chan struct{}),
		changed:     make(chan struct{}),
		peers:       make(map[NodeID]*nnPeer),
		conns:       make(map[net.Conn]struct{}),
		incarnation: map[NodeID]string{},
		fails:       map[NodeID]uint64{},
		lostFrom:    map[int]NodeID{},
		leaving:     map[NodeID]bool{},
		departed:    map[NodeID]string{},
		isrDrops:    map[NodeID]uint64{},
		plan:        plan,
		mig:         newMigrationState(),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.lctx, n.lcancel = n.ctx, n.cancel
	return n
}

// newMigrationState returns the bookkeeping of no movement.
func newMigrationState() migrationState {
	return migrationState{
		jobs: map[int]*nnJob{}, perSrc: map[NodeID]int{}, failures: map[int]int{},
		retryAt: map[int]time.Time{}, nodes: map[NodeID]*nodeProgress{},
	}
}

// Addr returns the address DataNodes and clients dial.
func (n *NameNode) Addr() string { return n.ln.Addr().String() }

// Table returns the current table: version 0, with no members, before the
// first node registers. The table is read-only.
func (n *NameNode) Table() *Table {
	if n.raft != nil {
		t, _, _ := n.raft.committed()
		return t
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.table
}

// Done is closed when the NameNode has been closed.
func (n *NameNode) Done() <-chan struct{} { return n.closed }

// Close stops the NameNode: it closes the listener, then every connection,
// probe and push, then waits for their goroutines. It is safe to call twice.
func (n *NameNode) Close() error {
	var err error
	n.once.Do(func() {
		close(n.closed)
		err = n.ln.Close()
		n.cancel()
		if n.raft != nil {
			// Before taking mu: a request holding it while it waits for a
			// commit gets ErrRaftShutdown.
			if rerr := n.raft.node.Close(); rerr != nil {
				n.cfg.Logger.Warn("namenode: raft shutdown", "err", rerr)
			}
		}
		n.mu.Lock()
		for nc := range n.conns {
			nc.Close()
		}
		for id, p := range n.peers {
			p.stop()
			delete(n.peers, id)
		}
		if n.mig.timer != nil {
			n.mig.timer.Stop()
		}
		n.mu.Unlock()
		n.wg.Wait()
	})
	return err
}

// acceptLoop accepts connections until the listener closes.
func (n *NameNode) acceptLoop() {
	defer n.wg.Done()
	var backoff time.Duration
	for {
		nc, err := n.ln.Accept()
		if err != nil {
			if n.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			n.cfg.Logger.Warn("namenode accept", "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-n.closed:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		n.mu.Lock()
		if n.isClosed() {
			n.mu.Unlock()
			nc.Close()
			return
		}
		n.conns[nc] = struct{}{}
		n.wg.Add(1)
		n.mu.Unlock()
		go n.serve(nc)
	}
}

func (n *NameNode) isClosed() bool {
	select {
	case <-n.closed:
		return true
	default:
		return false
	}
}

// serve runs one connection's request loop.
func (n *NameNode) serve(nc net.Conn) {
	defer func() {
		nc.Close()
		n.mu.Lock()
		delete(n.conns, nc)
		n.mu.Unlock()
		n.wg.Done()
	}()
	rr := newRequestReader(nc, nameNodeLimits())
	w := replyWriter{w: nc}
	authed := false // presented the cluster secret (auth.go)
	for {
		args, err := rr.next()
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				w.errorText("ERR " + pe.Error())
				w.flush()
			}
			return
		}
		if n.gate(&w, args, &authed) {
			if rr.buffered() == 0 && w.flush() != nil {
				return
			}
			continue
		}
		switch strings.ToUpper(string(truncate(args[0], 32))) {
		case "QUIT":
			w.ok()
			w.flush()
			return
		case "CHKV.WATCH":
			if len(args) != 1 {
				w.errorText(wrongArity(args[0]))
				break
			}
			if w.flush() == nil {
				n.watch(nc, &w)
			}
			return
		default:
			if !n.execContained(&w, args) {
				w.flush()
				return
			}
		}
		if rr.buffered() == 0 {
			if w.flush() != nil {
				return
			}
		}
	}
}

// wrongArity is Redis's reply to a command with the wrong number of arguments.
func wrongArity(name []byte) string {
	return "ERR wrong number of arguments for '" + strings.ToLower(string(name)) + "' command"
}

// exec runs one NameNode command and appends its reply.
func (n *NameNode) exec(w *replyWriter, args [][]byte) {
	name := strings.ToUpper(string(truncate(args[0], 32)))
	want, known := nameNodeArity(name)
	switch {
	case !known:
		w.errorText(unknownCommandError(args))
		return
	case (want > 0 && len(args) != want) || (want < 0 && len(args) < -want) || (name == "PING" && len(args) > 2):
		w.errorText(wrongArity(args[0]))
		return
	}
	if n.raft != nil && changesState(name) {
		n.mu.Lock()
		leading := n.leading
		n.mu.Unlock()
		if !leading {
			w.errorText(n.raft.notLeaderMsg())
			return
		}
	}
	switch name {
	case "PING":
		if len(args) == 2 {
			w.bulk(args[1])
		} else {
			w.simple("PONG")
		}
	case "CHKV.REGISTER":
		n.cmdRegister(w, args)
	case "CHKV.HEARTBEAT":
		n.cmdHeartbeat(w, args)
	case "CHKV.LEAVE":
		n.cmdLeave(w, args)
	case "CHKV.HANDEDOFF":
		n.cmdHandedOff(w, args)
	case "CHKV.ISRDROP":
		n.cmdISRDrop(w, args)
	case "CHKV.REASSIGNLOST":
		n.cmdReassignLost(w)
	case "CHKV.TABLE":
		if n.raft != nil {
			_, b, _ := n.raft.committed()
			w.bulk(b)
			return
		}
		n.mu.Lock()
		defer n.mu.Unlock() // released should a handler panic (panic.go)
		n.replyTableLocked(w)
	case "CHKV.STATUS":
		n.mu.Lock()
		defer n.mu.Unlock()
		w.bulk(n.statusLocked())
	}
}

// nameNodeArity returns a NameNode command's arity, Redis-style: n means
// exactly n arguments with the name, -n at least n.
func nameNodeArity(name string) (int, bool) {
	switch name {
	case "PING":
		return -1, true
	case "CHKV.REGISTER":
		return -5, true
	case "CHKV.HEARTBEAT":
		return -3, true
	case "CHKV.ISRDROP":
		return 3, true
	case "CHKV.LEAVE":
		return 2, true
	case "CHKV.HANDEDOFF":
		return -4, true
	case "CHKV.TABLE", "CHKV.STATUS", "CHKV.REASSIGNLOST":
		return 1, true
	}
	return 0, false
}

// replyTableLocked writes the current table as a bulk string.
func (n *NameNode) replyTableLocked(w *replyWriter) { w.bulk(n.tableBytes) }

// parseMember checks the arguments of CHKV.REGISTER.
func parseMember(args [][]byte) (Member, error) {
	m := Member{ID: NodeID(args[1]), Addr: string(args[2]), Rack: string(args[3]), State: NodeUp}
	if m.ID == "" {
		return m, errors.New("chkv: empty node id")
	}
	if len(m.ID) > maxStringLen || len(m.Addr) > maxStringLen || len(m.Rack) > maxStringLen {
		return m, fmt.Errorf("chkv: node id, address or rack longer than %d bytes", maxStringLen)
	}
	if _, port, err := net.SplitHostPort(m.Addr); err != nil || port == "" {
		return m, fmt.Errorf("chkv: bad node address %q: want host:port", m.Addr)
	}
	w, err := strconv.Atoi(string(args[4]))
	if err != nil || w < 1 || w > MaxWeight {
		return m, fmt.Errorf("chkv: bad weight %q: want an integer from 1 to %d", args[4], MaxWeight)
	}
	m.Weight = w
	return m, nil
}

// cmdRegister handles CHKV.REGISTER <id> <addr> <rack> <weight>
// [<incarnation> [NODATA]]. NODATA says the process holds nothing from an
// earlier one (it keeps no files): the slots lost with an earlier process
// of the same id stay lost instead of coming back to it empty.
func (n *NameNode) cmdRegister(w *replyWriter, args [][]byte) {
	if len(args) > 7 || (len(args) == 7 && !strings.EqualFold(string(args[6]), "NODATA")) {
		w.errorText(wrongArity(args[0]))
		return
	}
	m, err := parseMember(args)
	if err != nil {
		w.errorText("ERR " + err.Error())
		return
	}
	inc := ""
	if len(args) >= 6 {
		inc = string(truncate(args[5], maxStringLen))
	}
	noData := len(args) == 7
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.refuseLocked(w) {
		return
	}
	if d, ok := n.departed[m.ID]; ok {
		if d == inc {
			w.errorText(leftMsg(m.ID))
			return
		}
		delete(n.departed, m.ID) // a new process: it joins anew
	}
	for _, o := range n.plan.Members {
		if o.State == NodeDown {
			continue
		}
		if o.ID == m.ID && o.Addr != m.Addr {
			w.errorText(fmt.Sprintf("ERR chkv: duplicate node id %q: already %s at %s", m.ID, o.State, o.Addr))
			return
		}
		if o.ID != m.ID && o.Addr == m.Addr {
			w.errorText(fmt.Sprintf("ERR chkv: address %s already used by node %q", m.Addr, o.ID))
			return
		}
	}
	prev, known := n.incarnation[m.ID]
	restarted := known && prev != inc
	n.incarnation[m.ID] = inc
	if restarted && noData {
		// A new process without files holds nothing: what was lost with
		// the earlier one stays lost (-CLUSTERDOWN in database mode), not
		// served empty by it.
		kept := 0
		for s, id := range n.lostFrom {
			if id == m.ID {
				delete(n.lostFrom, s)
				kept++
			}
		}
		n.cfg.Logger.Warn("namenode: node restarted without data: the slots lost with it stay lost", "id", m.ID, "slots", kept)
	} else if restarted {
		// Database mode gives a node's lost slots back when it returns;
		// a new process has only what it persisted.
		n.cfg.Logger.Warn("namenode: node restarted: the slots it held come back with the data it kept", "id", m.ID)
	}
	if o, ok := n.plan.Member(m.ID); ok && o.State.Live() {
		// Registering again while live: a restart not noticed yet. A new
		// process lost what it held in memory: its copies leave the
		// served table (its in-sync replicas take over what it led)
		// before it hears of any slot.
		if restarted {
			if err := n.dropCopiesLocked(m.ID); err != nil {
				w.errorText("ERR " + err.Error())
				return
			}
		}
		if p := n.peers[m.ID]; p != nil {
			p.beat()
		}
		n.replyTableLocked(w)
		return
	}
	if err := n.applyLocked(Change{Kind: ChangeJoin, Member: m}); err != nil {
		w.errorText("ERR " + err.Error())
		return
	}
	if n.leaving[m.ID] {
		// Back from a cut with its data: the join gave it back the slots
		// lost with it; now they move off as the leave wanted.
		if err := n.applyLocked(Change{Kind: ChangeLeave, Member: Member{ID: m.ID}}); err != nil {
			w.errorText("ERR " + err.Error())
			return
		}
		n.cfg.Logger.Info("namenode: leaving node back: it goes on leaving", "id", m.ID, "version", n.table.Version)
		n.replyTableLocked(w)
		return
	}
	delete(n.leaving, m.ID)
	n.cfg.Logger.Info("namenode: node joined", "id", m.ID, "addr", m.Addr, "version", n.table.Version)
	n.replyTableLocked(w)
}

// cmdHeartbeat handles CHKV.HEARTBEAT <id> <tableVersion> [<leaseMs>
// [<imports>]]: the
// lease the node takes from this heartbeat bounds how soon it may be
// declared down (nnPeer.detect).
func (n *NameNode) cmdHeartbeat(w *replyWriter, args [][]byte) {
	id := NodeID(args[1])
	v, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil || len(args) > 5 {
		w.errorText(fmt.Sprintf("ERR chkv: bad table version %q", truncate(args[2], 32)))
		return
	}
	var lease int64
	if len(args) >= 4 {
		if lease, err = strconv.ParseInt(string(args[3]), 10, 64); err != nil || lease < 0 || lease > int64(time.Hour/time.Millisecond) {
			w.errorText(fmt.Sprintf("ERR chkv: bad lease %q", truncate(args[3], 32)))
			return
		}
	}
	imports := -1 // not leaving, or not known to the node yet
	if len(args) == 5 {
		if imports, err = strconv.Atoi(string(args[4])); err != nil || imports < 0 || imports > NumSlots {
			w.errorText(fmt.Sprintf("ERR chkv: bad import count %q", truncate(args[4], 32)))
			return
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.refuseLocked(w) {
		return
	}
	p := n.peers[id]
	if p == nil {
		if m, ok := n.plan.Member(id); ok && m.State == NodeDown {
			// Not "unknown": a node that left would take that as done.
			w.errorText(fmt.Sprintf("ERR chkv: node %s is marked down: register again", id))
			return
		}
		if _, ok := n.departed[id]; ok {
			w.errorText(leftMsg(id))
			return
		}
		w.errorText(fmt.Sprintf("ERR chkv: unknown node %s", id))
		return
	}
	p.lease.Store(lease)
	p.beat()
	if cleared := imports == 0 && p.leavingImports != 0; imports >= 0 {
		p.leavingImports = imports
		if cleared && n.leaving[id] {
			// The leave may finish now (finishLocked).
			if err := n.reconcileLocked(); err != nil {
				n.cfg.Logger.Error("namenode: reconcile", "err", err)
			}
		}
	}
	if v == n.table.Version {
		w.ok()
		return
	}
	n.replyTableLocked(w)
}

// leftMsg is the error a member removed after it left gets from
// CHKV.HEARTBEAT and CHKV.REGISTER (DataNodes look for "has left").
func leftMsg(id NodeID) string {
	return fmt.Sprintf("ERR chkv: node %s has left the cluster", id)
}

// cmdLeave handles CHKV.LEAVE <id>. Asking again while leaving, or once
// left, is a no-op.
func (n *NameNode) cmdLeave(w *replyWriter, args [][]byte) {
	id := NodeID(args[1])
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.refuseLocked(w) {
		return
	}
	m, ok := n.plan.Member(id)
	_, left := n.departed[id]
	switch {
	case !ok && left:
		w.ok() // it has left already
		return
	case !ok:
		w.errorText(fmt.Sprintf("ERR chkv: unknown node %s", id))
		return
	case m.State == NodeLeaving || (m.State == NodeDown && n.leaving[id]):
		w.ok() // leaving already (a down one goes on when it returns)
		return
	case m.State == NodeDown:
		w.errorText(fmt.Sprintf("ERR chkv: node %s is down: it can leave once it is back", id))
		return
	}
	if p := n.peers[id]; p != nil {
		p.beat()
	}
	if err := n.applyLocked(Change{Kind: ChangeLeave, Member: Member{ID: id}}); err != nil {
		w.errorText("ERR " + err.Error())
		return
	}
	n.leaving[id] = true
	n.cfg.Logger.Info("namenode: node leaving", "id", id, "version", n.table.Version)
	w.ok()
}

// cmdReassignLost handles CHKV.REASSIGNLOST: the operator accepts that
// the data of every lost slot is gone (redis-cli --cluster fix does the
// same for uncovered slots). Each lost slot gets new, empty owners; the
// reply is how many there were.
func (n *NameNode) cmdReassignLost(w *replyWriter) {
	k, err := n.ReassignLost()
	if err != nil {
		w.errorText("ERR chkv: " + err.Error())
		return
	}
	w.int(int64(k))
}

// ReassignLost gives every lost slot (its last copy died in database mode)
// new, empty owners: the operator accepts that their data is gone. It
// returns how many slots it gave back; 0 when none was lost.
func (n *NameNode) ReassignLost() (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.leadingLocked() {
		return 0, errors.New(strings.TrimPrefix(n.raft.notLeaderMsg(), "ERR "))
	}
	k := 0
	for s := range NumSlots {
		if n.plan.Lost(s) {
			k++
		}
	}
	if k == 0 {
		return 0, nil
	}
	if err := n.applyLocked(Change{Kind: ChangeReassignLost}); err != nil {
		return 0, err
	}
	for s := range n.lostFrom {
		delete(n.lostFrom, s)
	}
	n.cfg.Logger.Warn("namenode: lost slots reassigned empty by the operator", "slots", k, "version", n.plan.Version)
	return k, nil
}

// applyLocked computes the plan after ch and starts moving the served
// table towards it. On an error in the change nothing changes.
func (n *NameNode) applyLocked(ch Change) error {
	prev := n.plan
	if ch.Kind == ChangeJoin {
		prev = n.returnLostLocked(prev, ch.Member.ID)
	}
	next, err := NextTable(prev, ch, n.cfg.Ring)
	if err != nil {
		return err
	}
	if next, err = n.patchPlanLocked(next); err != nil {
		return err
	}
	if err := n.setPlanLocked(next); err != nil {
		return err
	}
	if ch.Kind == ChangeFail {
		n.fails[ch.Member.ID]++
		n.cancelJobsLocked(ch.Member.ID)
	}
	n.beginProgressLocked()
	return n.reconcileLocked()
}

// returnLostLocked gives the slots lost with node id back to it in plan,
// before the plan balances its return: a node back from a cut owns what it
// held already, and must not get a newcomer's share on top of it.
func (n *NameNode) returnLostLocked(plan *Table, id NodeID) *Table {
	back := false
	for s := range NumSlots {
		if plan.lost[s] && n.lostFrom[s] == id {
			back = true
			break
		}
	}
	if !back {
		return plan
	}
	t, err := composeTable(plan.Version, plan.Replicas, plan.Members, func(s int) ([]NodeID, bool) {
		if plan.lost[s] && n.lostFrom[s] == id {
			return []NodeID{id}, false
		}
		return ownersOf(plan, s)
	})
	if err != nil {
		n.cfg.Logger.Warn("namenode: cannot give lost slots back before the rebalance", "id", id, "err", err)
		return plan
	}
	return t
}

// setPlanLocked saves (with a DataDir) and adopts plan.
func (n *NameNode) setPlanLocked(plan *Table) error {
	if n.raft != nil {
		if err := n.raft.commit(nnEntryPlan, plan); err != nil {
			return err
		}
	} else if n.cfg.DataDir != "" {
		b, err := plan.MarshalBinary()
		if err != nil {
			return fmt.Errorf("chkv: namenode: %w", err)
		}
		if err := saveTable(n.cfg.DataDir, planFile, b); err != nil {
			return err
		}
	}
	n.plan = plan
	n.syncPeersLocked() // a member that only the plan has yet is watched too
	return nil
}

// publishLocked saves (with a DataDir) and adopts the served table t, then
// starts its pushes.
func (n *NameNode) publishLocked(t *Table) error {
	b, err := t.MarshalBinary()
	if err != nil {
		return fmt.Errorf("chkv: namenode: %w", err)
	}
	if n.raft != nil {
		if err := n.raft.commit(nnEntryTable, t); err != nil {
			return err
		}
	} else if n.cfg.DataDir != "" {
		if err := saveTable(n.cfg.DataDir, tableFile, b); err != nil {
			return err
		}
	}
	n.obs.published(n.table, t)
	old := n.table
	n.table, n.tableBytes = t, b
	n.primariesSinceLocked(old)
	close(n.changed)
	n.changed = make(chan struct{})
	n.syncPeersLocked()
	for _, p := range n.peers {
		p.kick()
	}
	return nil
}

// primariesSinceLocked updates primarySince for the served table, which
// replaced old (nil: every slot's primary counts from this table on).
func (n *NameNode) primariesSinceLocked(old *Table) {
	for s := range NumSlots {
		p, ok := n.table.Primary(s)
		if old != nil {
			if q, qok := old.Primary(s); qok == ok && q.ID == p.ID {
				continue
			}
		}
		n.primarySince[s] = n.table.Version
	}
}

// syncPeersLocked gives every member that is not down a peer (failure
// detector and pusher) at its current address, and stops the others.
func (n *NameNode) syncPeersLocked() {
	keep := make(map[NodeID]bool, len(n.plan.Members))
	for _, m := range n.plan.Members {
		if m.State == NodeDown {
			continue
		}
		keep[m.ID] = true
		if p := n.peers[m.ID]; p != nil && p.addr == m.Addr {
			continue
		} else if p != nil {
			p.stop()
		}
		n.peers[m.ID] = n.startPeer(m.ID, m.Addr)
	}
	for id, p := range n.peers {
		if !keep[id] {
			p.retire()
			delete(n.peers, id)
		}
	}
}

// declareFailed marks p's node down unless p was replaced or heard from
// meanwhile. It reports whether p's watch is over: false when a heartbeat
// arrived as the last probe failed, and the detector must watch on.
func (n *NameNode) declareFailed(p *nnPeer) (done bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.peers[p.id] != p || n.isClosed() {
		return true
	}
	select {
	case <-p.beats: // a heartbeat arrived as the last probe failed
		return false
	default:
	}
	if err := n.applyLocked(Change{Kind: ChangeFail, Member: Member{ID: p.id}}); err != nil {
		n.cfg.Logger.Error("namenode: cannot mark node down", "id", p.id, "err", err)
		return false
	}
	n.cfg.Logger.Warn("namenode: node down", "id", p.id, "version", n.table.Version)
	return true
}

// watch streams the table to a CHKV.WATCH connection: the current one, then
// each newer one. Tables that change faster than the watcher reads are
// coalesced: it always gets the newest.
func (n *NameNode) watch(nc net.Conn, w *replyWriter) {
	gone := make(chan struct{})
	n.wg.Add(1)
	go func() { // the connection only receives: notice when the client leaves
		defer n.wg.Done()
		io.Copy(io.Discard, nc)
		close(gone)
	}()
	sent := ^uint64(0)
	for {
		var changed <-chan struct{}
		var version uint64
		if n.raft != nil { // the committed table, on every member
			var t *Table
			var b []byte
			t, b, changed = n.raft.committed()
			if version = t.Version; version != sent {
				w.bulk(b)
			}
		} else {
			n.mu.Lock()
			changed, version = n.changed, n.table.Version
			if version != sent {
				n.replyTableLocked(w)
			}
			n.mu.Unlock()
		}
		if version != sent {
			if w.flush() != nil {
				return
			}
			sent = version
		}
		select {
		case <-changed:
		case <-gone:
			return
		case <-n.closed:
			return
		}
	}
}

// nnStatus is the JSON of CHKV.STATUS.
type nnStatus struct {
	Version   uint64           `json:"version"`
	Stable    bool             `json:"stable"`
	Members   []nnStatusMember `json:"members"`
	Replicas  int              `json:"replicas"`
	Migration MigrationStatus  `json:"migration"`
	// Raft is this NameNode's member of its Raft group; absent alone.
	Raft *raftStatus `json:"raft,omitempty"`
}

type nnStatusMember struct {
	ID        NodeID `json:"id"`
	Addr      string `json:"addr"`
	Rack      string `json:"rack"`
	State     string `json:"state"`
	Primaries int    `json:"primaries"`
	Replicas  int    `json:"replicas"`
}

// statusLocked returns the JSON of CHKV.STATUS. The cluster is stable when
// no member is joining or leaving, every slot has an owner and the served
// table has reached the plan.
func (n *NameNode) statusLocked() []byte {
	t, plan := n.table, n.plan
	var rs *raftStatus
	if n.raft != nil {
		rs = n.raft.status()
		if !n.leading { // a follower knows the committed state only
			t, _, _ = n.raft.committed()
			if _, _, plan = n.raft.fsm.committed(); plan == nil {
				plan = t
			}
		}
	}
	st := nnStatus{Version: t.Version, Stable: t.Version > 0, Members: []nnStatusMember{}, Replicas: t.Replicas, Raft: rs}
	prim, repl := t.loads()
	for i, m := range t.Members {
		st.Members = append(st.Members, nnStatusMember{ID: m.ID, Addr: m.Addr, Rack: m.Rack, State: m.State.String(), Primaries: prim[i], Replicas: repl[i]})
		if m.State == NodeJoining || m.State == NodeLeaving {
			st.Stable = false
		}
	}
	for s := 0; s < NumSlots && st.Stable; s++ {
		if t.cnt[s] == 0 || !sameOwners(t, plan, s) {
			st.Stable = false
		}
	}
	if n.leadingLocked() {
		st.Migration = n.migrationStatusLocked()
	} else {
		st.Migration.Nodes = []NodeMigrationStatus{}
	}
	b, _ := json.Marshal(st)
	return b
}

// nnPeer is the NameNode's side of one DataNode that is not down: its
// failure detector and its table pusher, one goroutine each.
type nnPeer struct {
	n     *NameNode
	id    NodeID
	addr  string
	beats chan struct{} // a heartbeat arrived (buffered 1)
	push  chan struct{} // a newer table waits to be pushed (buffered 1)
	// retiring is closed when the member left: push once more, then stop.
	retiring chan struct{}
	ctx      context.Context
	stop     context.CancelFunc
	// lease is the lease the node announced with its last heartbeat, in
	// milliseconds: the node is not declared down before it lapsed.
	lease atomic.Int64
	// leavingImports is what the node's last heartbeat said once it knew
	// it was leaving: how many slots it imports or has imported that its
	// table does not give it; -1 before such a heartbeat. Guarded by n.mu.
	// A leaving node is removed only at 0 (see finishLocked).
	leavingImports int
}

// startPeer starts the goroutines of a new peer. The caller holds n.mu.
func (n *NameNode) startPeer(id NodeID, addr string) *nnPeer {
	p := &nnPeer{n: n, id: id, addr: addr, beats: make(chan struct{}, 1), push: make(chan struct{}, 1), retiring: make(chan struct{}), leavingImports: -1}
	p.ctx, p.stop = context.WithCancel(n.lctx)
	n.wg.Add(2)
	go p.detect()
	go p.pushLoop()
	return p
}

// beat records a heartbeat.
func (p *nnPeer) beat() {
	select {
	case p.beats <- struct{}{}:
	default:
	}
}

// kick asks the pusher to push the current table.
func (p *nnPeer) kick() {
	select {
	case p.push <- struct{}{}:
	default:
	}
}

// wait waits d; it reports whether a heartbeat arrived (true) or the peer
// stopped (ok false) first.
func (p *nnPeer) wait(d time.Duration) (heard, ok bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return false, true
	case <-p.beats:
		return true, true
	case <-p.ctx.Done():
		return false, false
	}
}

// detect is the failure detector: after HeartbeatTimeout without a
// heartbeat it probes the node probeCount times, ProbeInterval apart; when
// every probe fails it declares the node down. A heartbeat or a successful
// probe starts the wait over.
func (p *nnPeer) detect() {
	defer p.n.wg.Done()
	cfg := &p.n.cfg
	for {
		// Probes start once the node's lease has surely lapsed: a node
		// declared down must have stopped serving (replicate.go).
		silence := max(cfg.HeartbeatTimeout, time.Duration(p.lease.Load())*time.Millisecond+cfg.HeartbeatInterval/2)
		heard, ok := p.wait(silence)
		if !ok {
			return
		}
		if heard {
			continue
		}
		alive := false
		for i := 0; i < probeCount && !alive; i++ {
			if i > 0 {
				heard, ok := p.wait(cfg.ProbeInterval)
				if !ok {
					return
				}
				if heard {
					alive = true
					break
				}
			}
			err := p.probe()
			if err == nil {
				alive = true
				break
			}
			cfg.Logger.Info("namenode: probe failed", "id", p.id, "probe", i+1, "err", err)
			if p.ctx.Err() != nil {
				return
			}
		}
		if !alive && p.n.declareFailed(p) {
			return
		}
		// A heartbeat came in as the last probe failed: watch on.
	}
}

// dial connects to the node, for ProbeTimeout at most.
func (p *nnPeer) dial() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.n.cfg.ProbeTimeout)
	defer cancel()
	return dialPeer(ctx, p.n.cfg.Transport, p.addr, p.n.cfg.ClusterSecret)
}

// call sends one command on nc and reads a one-line reply, within
// ProbeTimeout; stopping the peer interrupts it.
func (p *nnPeer) call(nc net.Conn, br *bufio.Reader, args ...[]byte) (string, error) {
	stop := context.AfterFunc(p.ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetDeadline(time.Now().Add(p.n.cfg.ProbeTimeout))
	var w replyWriter
	w.w = nc
	w.array(len(args))
	for _, a := range args {
		w.bulk(a)
	}
	if err := w.flush(); err != nil {
		return "", err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// probe dials the node and expects +PONG to a PING.
func (p *nnPeer) probe() error {
	nc, err := p.dial()
	if err != nil {
		return err
	}
	defer nc.Close()
	line, err := p.call(nc, bufio.NewReaderSize(nc, 512), []byte("PING"))
	if err != nil {
		return err
	}
	if line != "+PONG" {
		return fmt.Errorf("chkv: probe of %s: got %q, want +PONG", p.addr, line)
	}
	return nil
}

// pushLoop pushes each newer table to the node over one cached connection.
// A failed push is logged and not retried: the node's next heartbeat gets
// the table in its reply.
func (p *nnPeer) pushLoop() {
	defer p.n.wg.Done()
	var nc net.Conn
	var br *bufio.Reader
	defer func() {
		if nc != nil {
			nc.Close()
		}
	}()
	var pushed uint64
	for {
		retiring := false
		select {
		case <-p.ctx.Done():
			return
		case <-p.push:
		case <-p.retiring:
			retiring = true
		}
		p.n.mu.Lock()
		version, b := p.n.table.Version, p.n.tableBytes
		p.n.mu.Unlock()
		if version > pushed && nc == nil {
			c, err := p.dial()
			if err != nil {
				p.n.cfg.Logger.Info("namenode: push failed", "id", p.id, "version", version, "err", err)
			} else {
				nc, br = c, bufio.NewReaderSize(c, 512)
			}
		}
		if version > pushed && nc != nil {
			line, err := p.call(nc, br, []byte("CHKV.PUSHTABLE"), b)
			if err != nil || line != "+OK" {
				p.n.cfg.Logger.Info("namenode: push failed", "id", p.id, "version", version, "reply", line, "err", err)
				nc.Close()
				nc = nil
			} else {
				pushed = version
			}
		}
		if retiring {
			p.stop()
			return
		}
	}
}

// retire ends a peer whose member left the table after one last push, so
// that the node learns it is out.
func (p *nnPeer) retire() {
	select {
	case <-p.retiring:
	default:
		close(p.retiring)
	}
}
