// Cluster mode of a DataNode: registration and heartbeats to the NameNode, the adopted partition table, and key routing (MOVED, CROSSSLOT, CLUSTERDOWN).

package chkv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
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

// ClusterNodeConfig makes a DataNode a member of a cluster (DataNodeConfig.Cluster).
type ClusterNodeConfig struct {
	// NameNode is the address of the NameNode, dialled over the DataNode's
	// Transport; a comma-separated list names the NameNodes of a Raft
	// group, and the node talks to their leader (nnlink.go).
	NameNode string
	// ID names the node in the cluster. Default: the address it listens on.
	ID NodeID
	// Rack is the node's failure domain; "" shares none with other nodes.
	Rack string
	// Weight scales the node's share of slots. Default 1.
	Weight int
	// HeartbeatInterval is the time between heartbeats. Default 1 s.
	HeartbeatInterval time.Duration
	// RPCTimeout bounds one request to the NameNode. Default 5 s.
	RPCTimeout time.Duration
	// Lease is how long a heartbeat the NameNode answered lets the node
	// serve the slots it leads. It must be shorter than the NameNode's
	// failure detection, so that a node cut off stops before another copy
	// of its slots is promoted. Default 2.5 heartbeat intervals (the
	// NameNode detects a failure after 4 at the earliest, and waits at
	// least the lease the node announces in its heartbeats).
	Lease time.Duration
	// ReplicaTimeout is how long a write may wait for a replica's
	// acknowledgement before the node asks the NameNode to take that
	// replica out of the in-sync set. Default 4 heartbeat intervals,
	// about the NameNode's failure detection.
	ReplicaTimeout time.Duration
	// AsyncReplication answers writes without waiting for the replicas,
	// as Redis does: faster, but a failover can lose the last writes.
	AsyncReplication bool
	// ClusterSecret, when set, is presented to the NameNode and the other
	// DataNodes (AUTH chkv-cluster <secret>) and required of every
	// connection sending this node an internal command (auth.go). The
	// NameNode and every DataNode of a cluster share it.
	ClusterSecret string
}

// DefaultClusterNodeConfig returns the cluster settings of a node that
// registers with the NameNode at nameNode.
func DefaultClusterNodeConfig(nameNode string) ClusterNodeConfig {
	return ClusterNodeConfig{NameNode: nameNode, Weight: 1, HeartbeatInterval: time.Second, RPCTimeout: 5 * time.Second}
}

// validate fills zero fields and rejects impossible settings.
func (c *ClusterNodeConfig) validate() error {
	d := DefaultClusterNodeConfig(c.NameNode)
	if c.NameNode == "" {
		return errors.New("chkv: cluster mode needs a NameNode address")
	}
	if c.Weight == 0 {
		c.Weight = d.Weight
	}
	if c.Weight < 1 || c.Weight > MaxWeight {
		return fmt.Errorf("chkv: weight %d outside 1..%d", c.Weight, MaxWeight)
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.RPCTimeout == 0 {
		c.RPCTimeout = d.RPCTimeout
	}
	if c.HeartbeatInterval < 0 || c.RPCTimeout < 0 || c.Lease < 0 || c.ReplicaTimeout < 0 {
		return errors.New("chkv: negative heartbeat interval, RPC timeout, lease or replica timeout")
	}
	if c.Lease == 0 {
		c.Lease = c.HeartbeatInterval * 5 / 2
	}
	if c.ReplicaTimeout == 0 {
		c.ReplicaTimeout = 4 * c.HeartbeatInterval
	}
	if strings.ContainsAny(string(c.ID), " \r\n") || strings.ContainsAny(c.Rack, " \r\n") {
		return fmt.Errorf("chkv: node id %q or rack %q holds spaces or line breaks", c.ID, c.Rack)
	}
	return nil
}

// Routing error texts, as Redis Cluster writes them.
const (
	msgCrossSlot   = "CROSSSLOT Keys in request don't hash to the same slot"
	msgClusterDown = "CLUSTERDOWN Hash slot not served"
	// msgNoLease answers commands on the slots a node leads while its lease
	// has lapsed: it lost the NameNode, which may promote another copy.
	msgNoLease = "CLUSTERDOWN chkv: this node lost contact with the NameNode and its replicas; its slots may have failed over"
	// msgFailingOver answers commands on a slot just promoted here while
	// the old primary's lease may still run.
	msgFailingOver = "CLUSTERDOWN chkv: the slot is failing over to this node"
)

// clusterNode is the cluster state of a DataNode.
type clusterNode struct {
	d   *DataNode
	cfg ClusterNodeConfig
	id  NodeID

	mu      sync.Mutex
	table   *Table        // nil until the first table arrives
	changed chan struct{} // closed and replaced when table changes

	moves    [NumSlots]atomic.Pointer[slotMove] // slots moving in or out
	inflight [NumSlots]atomic.Int32             // commands running per slot
	stats    migrationStats
	maps     slotMapCache // encoded CLUSTER SLOTS/SHARDS/NODES (cmd_cluster.go)
	member   atomic.Bool  // the node has been a live member of a table
	left     atomic.Bool  // the node has left the cluster and closes
	// incarnation tells this process from an earlier or later one with the
	// same id: the NameNode knows a restarted node lost its data by it.
	incarnation string
	adoptMu     sync.Mutex
	applied     atomic.Uint64 // the version whose slot changes are done (stale keys dropped)
	// sawLeaving is set once a table showed the node leaving. From then
	// on the node commits no import, and its heartbeats say how many it
	// still holds (the NameNode removes it only at none).
	sawLeaving atomic.Bool
	// beatNow wakes the loop to heartbeat at once (buffered 1).
	beatNow chan struct{}
	// misled is set when the table gives the node a slot it has handed
	// off: the loop reports it to the NameNode (CHKV.HANDEDOFF). It is
	// worked out again (under misledMu) after each table and each handoff.
	misled   atomic.Bool
	misledMu sync.Mutex

	// Replication (replicate.go).
	epoch      atomic.Uint64 // the current table's version
	leaseUntil atomic.Int64  // unix nanoseconds: leads slots until then
	// registered is set once the NameNode answered this process's
	// CHKV.REGISTER. Until then the node takes no table from anyone else
	// and leads nothing: a restarted process holds none of the data an
	// older table gives it, and the NameNode takes its copies away only
	// when it registers (see NameNode.cmdRegister).
	registered atomic.Bool
	repl       [NumSlots]atomic.Pointer[slotRepl] // streams of the slots this node leads
	replMu     sync.Mutex
	streams    map[NodeID]*replStream
	lastAcked  map[NodeID]int64       // unix nanoseconds: when this node last confirmed each primary
	fence      [NumSlots]atomic.Int64 // unix nanoseconds: a promoted slot serves from then on
	// leadGen counts, per slot, the times this node stopped leading it;
	// leadChanges counts the tables that changed any (replicate.go).
	leadGen     [NumSlots]atomic.Uint32
	leadChanges atomic.Uint64
	// replSetMu makes each change of the slots' replica streams whole:
	// a table's (addReplTargets, applyReplTargets) and a copy's
	// (addPending) never interleave (replicate.go).
	replSetMu sync.Mutex
	pendingMu sync.Mutex
	pending   [NumSlots]map[NodeID]pendingRepl // replicas filled by a copy, not yet in the table
	// replicaSince marks slots whose copy this node received as a replica
	// (unix nanoseconds): their data stays until the table names the node.
	replicaSince [NumSlots]atomic.Int64
}

// checkMisled works out misled from the current table and moves. It runs
// after every table adoption and every handoff, so the last run sees both
// the newest table and the newest handoff.
func (cn *clusterNode) checkMisled() {
	cn.misledMu.Lock()
	defer cn.misledMu.Unlock()
	t, _ := cn.current()
	misled := false
	for s := 0; t != nil && s < NumSlots && !misled; s++ {
		misled = cn.ledHandedOff(t, s) != nil
	}
	cn.misled.Store(misled)
}

// startCluster turns d into a cluster member: it adds the cluster commands,
// installs the router and starts the registration and heartbeat loop.
func (d *DataNode) startCluster() {
	cfg := *d.cfg.Cluster
	cn := &clusterNode{d: d, cfg: cfg, id: cfg.ID, changed: make(chan struct{}), beatNow: make(chan struct{}, 1), incarnation: newIncarnation(), streams: map[NodeID]*replStream{}, lastAcked: map[NodeID]int64{}}
	if cn.id == "" {
		cn.id = NodeID(d.Addr())
	}
	d.cluster = cn
	d.store.SetEvictable(cn.leadsNow) // replicas' copies shrink by their primaries' deletes
	for _, cmd := range append(append(clusterCommands(), migrateCommands()...), replCommands()...) {
		d.cmds[cmd.name] = cmd
	}
	d.store.SetObserver(cn.observe)
	d.route = cn.route
	d.wg.Add(1)
	go cn.loop()
}

// ID returns the node's cluster id ("" for a standalone node).
func (d *DataNode) ID() NodeID {
	if d.cluster == nil {
		return ""
	}
	return d.cluster.id
}

// Table returns the partition table the node routes by: nil for a
// standalone node or before the first table arrives.
func (d *DataNode) Table() *Table {
	if d.cluster == nil {
		return nil
	}
	t, _ := d.cluster.current()
	return t
}

// current returns the table and a channel closed when it changes.
func (cn *clusterNode) current() (*Table, <-chan struct{}) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.table, cn.changed
}

// adopt makes t the node's table when it is newer than the current one,
// and reports whether it did.
func (cn *clusterNode) adopt(t *Table) bool {
	cn.adoptMu.Lock() // tables are applied to the data one at a time, in order
	defer cn.adoptMu.Unlock()
	if cur, _ := cn.current(); t != nil && (cur == nil || t.Version > cur.Version) {
		cn.addReplTargets(t) // before any write under t
	}
	if !cn.swapTable(t) {
		return false
	}
	cn.afterAdopt(t)
	cn.applyReplTargets(t)
	cn.applied.Store(t.Version)
	return true
}

// swapTable makes t the current table when it is newer.
func (cn *clusterNode) swapTable(t *Table) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if t == nil || (cn.table != nil && t.Version <= cn.table.Version) {
		return false
	}
	old := cn.table
	cn.fencePromoted(old, t)
	cn.countLeadChanges(old, t)
	cn.table = t
	close(cn.changed)
	cn.changed = make(chan struct{})
	oldVersion := uint64(0)
	if old != nil {
		oldVersion = old.Version
	}
	cn.epoch.Store(t.Version)
	cn.d.cfg.Logger.Info("adopted table", "id", cn.id, "version", t.Version, "previous", oldVersion)
	return true
}

// loop registers with the NameNode, retrying with backoff, then heartbeats
// every interval, adopting newer tables from the replies and registering
// again when the NameNode no longer knows the node. It runs until the node
// closes; while the NameNode is away the node keeps serving with its table.
func (cn *clusterNode) loop() {
	defer cn.d.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-cn.d.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	link := &peerLink{tr: cn.d.cfg.Transport, addr: cn.cfg.NameNode, timeout: cn.cfg.RPCTimeout, secret: cn.cfg.ClusterSecret}
	defer link.close()
	registered := false
	var backoff time.Duration
	forgotten := false // the NameNode answered that it does not know us
	for {
		var err error
		if cn.left.Load() {
			// Left: the node lingers answering -MOVED until it closes,
			// but must not heartbeat (or register anew) meanwhile. One
			// last word: the NameNode removes a leaving node once it said
			// it holds no import (finishLocked), and it may have left
			// before its heartbeat said so.
			if registered && cn.sawLeaving.Load() {
				cn.lastHeartbeat(ctx, link)
			}
			return
		}
		if forgotten && cn.sawLeaving.Load() {
			// The NameNode forgot us after we were leaving: we have left,
			// even if the table saying so never reached us. Registering
			// again would join the cluster anew.
			cn.leave(0)
			return
		}
		if !registered {
			err = cn.register(ctx, link)
			registered = err == nil
		} else {
			var known bool
			known, err = cn.heartbeat(ctx, link)
			registered = known
			forgotten = !known && err == nil
		}
		if nameNodeSaysLeft(err) {
			// Removed after it left, before any table showing it leaving
			// or gone reached it: registering again would join anew.
			cn.leave(0)
			return
		}
		if err == nil && registered && cn.misled.Load() {
			err = cn.reportHandoffs(ctx, link)
		}
		if err == nil && registered && cn.sawLeaving.Load() {
			cn.dropOrphanImports(ctx)
		}
		wait := cn.cfg.HeartbeatInterval
		if err != nil {
			cn.d.cfg.Logger.Warn("namenode", "id", cn.id, "err", err)
			backoff = min(max(2*backoff, 20*time.Millisecond), cn.cfg.HeartbeatInterval)
			wait = backoff
		} else {
			backoff = 0
			if !registered {
				wait = 0 // unknown node: register again at once
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-cn.beatNow:
			timer.Stop()
		}
	}
}

// lastHeartbeat tells the NameNode, once the node has left, that it holds
// no import; the answer is not adopted.
func (cn *clusterNode) lastHeartbeat(ctx context.Context, link *peerLink) {
	t, _ := cn.current()
	if t == nil {
		return
	}
	_, err := link.do(ctx, "CHKV.HEARTBEAT", string(cn.id), strconv.FormatUint(t.Version, 10), "0", strconv.Itoa(cn.importsHeld()))
	if err != nil && !nameNodeForgot(err) && !nameNodeSaysLeft(err) {
		cn.d.cfg.Logger.Info("left: last heartbeat", "id", cn.id, "err", err)
	}
}

// heartbeatSoon wakes the loop to heartbeat now rather than after the
// interval.
func (cn *clusterNode) heartbeatSoon() {
	select {
	case cn.beatNow <- struct{}{}:
	default:
	}
}

// newIncarnation returns a random id for this process's life as a node.
func newIncarnation() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errMarkedDown is the heartbeat's error when the NameNode has declared the
// node down: it registers again.
var errMarkedDown = errors.New("chkv: the NameNode has marked this node down")

// register sends CHKV.REGISTER and adopts the table it returns.
func (cn *clusterNode) register(ctx context.Context, link *peerLink) error {
	sent := time.Now()
	args := []string{"CHKV.REGISTER", string(cn.id), cn.d.Addr(), cn.cfg.Rack, strconv.Itoa(cn.cfg.Weight), cn.incarnation}
	if cn.d.aof == nil {
		args = append(args, "NODATA") // nothing survives this process's start
	}
	r, err := link.do(ctx, args...)
	if err != nil {
		return fmt.Errorf("chkv: register: %w", err)
	}
	t, err := replyTable(r)
	if err != nil {
		return fmt.Errorf("chkv: register: %w", err)
	}
	cn.adopt(t)
	cn.registered.Store(true)
	cn.renewLease(sent)
	return nil
}

// heartbeat sends CHKV.HEARTBEAT; known is false when the NameNode answered
// that it does not know the node.
func (cn *clusterNode) heartbeat(ctx context.Context, link *peerLink) (known bool, err error) {
	t, _ := cn.current()
	var v uint64
	if t != nil {
		v = t.Version
	}
	sent := time.Now()
	args := []string{"CHKV.HEARTBEAT", string(cn.id), strconv.FormatUint(v, 10), strconv.FormatInt(cn.cfg.Lease.Milliseconds(), 10)}
	if cn.sawLeaving.Load() {
		// Counted after sawLeaving read true: an import committed
		// before is seen (importEnd), none commits after.
		args = append(args, strconv.Itoa(cn.importsHeld()))
	}
	r, err := link.do(ctx, args...)
	if err != nil {
		if nameNodeForgot(err) {
			return false, nil
		}
		if replyErrorHas(err, "marked down") {
			return false, errMarkedDown
		}
		return true, fmt.Errorf("chkv: heartbeat: %w", err)
	}
	if _, ok := r.([]byte); ok {
		t, err := replyTable(r)
		if err != nil {
			return true, fmt.Errorf("chkv: heartbeat: %w", err)
		}
		cn.adopt(t)
	}
	cn.renewLease(sent)
	return true, nil
}

// reportHandoffs tells the NameNode which slots its table gives this node
// although their data went to another node (CHKV.HANDEDOFF): the node was
// declared down, or the answer to MIGRATE lost, after the handoff. The
// NameNode flips them to where the data is; until then the node answers
// ASK for them.
func (cn *clusterNode) reportHandoffs(ctx context.Context, link *peerLink) error {
	t, _ := cn.current()
	if t == nil {
		return nil
	}
	type target struct {
		addr  string
		slots []int
	}
	targets := map[NodeID]*target{}
	for s := range NumSlots {
		if m := cn.ledHandedOff(t, s); m != nil {
			tg := targets[m.peerID]
			if tg == nil {
				tg = &target{addr: m.peerAddr}
				targets[m.peerID] = tg
			}
			tg.slots = append(tg.slots, s)
		}
	}
	// The report is based on t: the NameNode ignores it for a slot whose
	// primary changed since (a handoff seen in a table older than the one
	// that made this node primary again).
	args := []string{"CHKV.HANDEDOFF", string(cn.id), "VERSION", strconv.FormatUint(t.Version, 10)}
	resumed := 0
	for id, tg := range targets {
		version, held, err := cn.askHeld(ctx, tg.addr, tg.slots)
		if err != nil {
			// Asked again after the next heartbeat.
			cn.d.cfg.Logger.Info("cannot ask a target whether it holds slots handed off to it", "id", cn.id, "target", id, "err", err)
			continue
		}
		for i, s := range tg.slots {
			switch {
			case held[i]:
				args = append(args, strconv.Itoa(s), string(id))
			case version > t.Version:
				// The target's newer table may give the slot to a third
				// node: adopt it first, and ask again.
			case cn.resumeHandedOff(t, s):
				resumed++
			}
		}
		if version > t.Version {
			cn.refreshTableFrom(tg.addr)
		}
	}
	if resumed > 0 {
		cn.d.cfg.Logger.Info("the target no longer holds slots handed off to it: leading them again", "id", cn.id, "slots", resumed)
		cn.checkMisled()
	}
	if len(args) == 4 {
		return nil
	}
	r, err := link.do(ctx, args...)
	if err != nil {
		return fmt.Errorf("chkv: report handoffs: %w", err)
	}
	lv := slog.LevelDebug // a flip on its way races the report: nothing to follow
	if n, _ := r.(int64); n > 0 {
		lv = slog.LevelInfo
	}
	cn.d.cfg.Logger.Log(ctx, lv, "reported slots handed off that the table gives this node", "id", cn.id, "slots", (len(args)-4)/2, "followed", r)
	return nil
}

// dropOrphanImports asks the source of every import a leaving node has
// committed, and that its table does not give it, whether it handed the
// slot off here (CHKV.IMPORT GAVE). The NameNode removes a leaving node only
// once it holds no such import (finishLocked); an import whose source lost
// the COMMIT answer and went on leading the slot would hold the leave back
// for ever. A slot the source did not hand off here, and is not moving here,
// with a source table no newer than this node's, is dropped: the source
// leads it with its data. A newer source table is adopted first.
func (cn *clusterNode) dropOrphanImports(ctx context.Context) {
	t, _ := cn.current()
	if t == nil {
		return
	}
	type source struct {
		addr  string
		slots []int
	}
	sources := map[NodeID]*source{}
	for s := range NumSlots {
		m := cn.moves[s].Load()
		if m == nil || m.out || !m.committed() {
			continue
		}
		src := sources[m.peerID]
		if src == nil {
			mem, ok := t.Member(m.peerID)
			if !ok {
				continue // the source left: the NameNode or a third node decides
			}
			src = &source{addr: mem.Addr}
			sources[m.peerID] = src
		}
		src.slots = append(src.slots, s)
	}
	for id, src := range sources {
		args := []string{"CHKV.IMPORT", "GAVE", string(cn.id)}
		for _, s := range src.slots {
			args = append(args, strconv.Itoa(s))
		}
		link := &peerLink{tr: cn.d.cfg.Transport, addr: src.addr, timeout: cn.cfg.RPCTimeout, secret: cn.cfg.ClusterSecret}
		r, err := link.do(ctx, args...)
		link.close()
		a, ok := r.([]any)
		if err != nil || !ok || len(a) != 1+len(src.slots) {
			cn.d.cfg.Logger.Info("cannot ask a source whether it handed slots off here", "id", cn.id, "source", id, "reply", r, "err", err)
			continue
		}
		if v, _ := a[0].(int64); uint64(v) > t.Version {
			cn.refreshTableFrom(src.addr)
			continue
		}
		dropped := 0
		for i, s := range src.slots {
			if n, _ := a[1+i].(int64); n != 0 {
				continue
			}
			if m := cn.moves[s].Load(); m != nil && !m.out && m.peerID == id && m.committed() {
				cn.abortImport(s, m)
				dropped++
			}
		}
		if dropped > 0 {
			cn.d.cfg.Logger.Info("leaving: dropped imports their source did not hand off here", "id", cn.id, "source", id, "slots", dropped)
			cn.heartbeatSoon()
		}
	}
}

// askHeld asks the DataNode at addr which of slots it holds as handed off
// by this node (CHKV.IMPORT HELD), and the version of its table.
func (cn *clusterNode) askHeld(ctx context.Context, addr string, slots []int) (uint64, []bool, error) {
	args := []string{"CHKV.IMPORT", "HELD", string(cn.id)}
	for _, s := range slots {
		args = append(args, strconv.Itoa(s))
	}
	link := &peerLink{tr: cn.d.cfg.Transport, addr: addr, timeout: cn.cfg.RPCTimeout, secret: cn.cfg.ClusterSecret}
	defer link.close()
	r, err := link.do(ctx, args...)
	if err != nil {
		return 0, nil, err
	}
	a, ok := r.([]any)
	if !ok || len(a) != 1+len(slots) {
		return 0, nil, fmt.Errorf("chkv: CHKV.IMPORT HELD: unexpected answer %v", r)
	}
	version, _ := a[0].(int64)
	held := make([]bool, len(slots))
	for i, v := range a[1:] {
		n, _ := v.(int64)
		held[i] = n == 1
	}
	return uint64(version), held, nil
}

// resumeHandedOff ends the handoff of slot s, which t gives back to this
// node, once its target said it does not hold the slot: the NameNode
// learnt of the handoff, and then failed the slot over to this node, an
// in-sync replica of the target (which was declared down and dropped the
// slot). This node's copy is the slot's data; it leads s again.
func (cn *clusterNode) resumeHandedOff(t *Table, s int) bool {
	m := cn.ledHandedOff(t, s)
	if m == nil || !cn.moves[s].CompareAndSwap(m, nil) {
		return false
	}
	cn.stats.slotsOut.Add(-1)
	return true
}

// ledHandedOff returns slot s's move when t gives s to this node although
// the node has handed it off, else nil.
func (cn *clusterNode) ledHandedOff(t *Table, s int) *slotMove {
	m := cn.moves[s].Load()
	if p, ok := t.Primary(s); ok && p.ID == cn.id && m != nil && m.out && m.state.Load() == moveHandedOff {
		return m
	}
	return nil
}

// nameNodeSaysLeft reports whether err is the NameNode's answer that the
// node was removed after it left (leftMsg).
func nameNodeSaysLeft(err error) bool { return replyErrorHas(err, "has left the cluster") }

// nameNodeForgot reports whether err is the NameNode's answer that it does
// not know the node (it never did, or removed it after it left).
func nameNodeForgot(err error) bool { return replyErrorHas(err, "unknown node") }

// replyErrorHas reports whether err is an error reply whose text holds text.
func replyErrorHas(err error, text string) bool {
	var re *RESPError
	return errors.As(err, &re) && strings.Contains(re.Msg, text)
}

// Leave asks the NameNode to take the node out of the cluster gracefully
// (CHKV.LEAVE). Its slots move to the other nodes while it keeps serving;
// once none is left the node closes itself: Done is closed and Left
// reports true. Leave returns when the NameNode has accepted the request.
// Asking again is a no-op, also once the NameNode has removed the node: a
// node that was leaving and is forgotten has left, and closes itself when
// it hears so (possibly only now, after a network cut).
func (d *DataNode) Leave(ctx context.Context) error {
	cn := d.cluster
	if cn == nil {
		return errors.New("chkv: leave: not in cluster mode")
	}
	link := &peerLink{tr: d.cfg.Transport, addr: cn.cfg.NameNode, timeout: cn.cfg.RPCTimeout, secret: cn.cfg.ClusterSecret}
	defer link.close()
	if _, err := link.do(ctx, "CHKV.LEAVE", string(cn.id)); err != nil {
		if nameNodeForgot(err) && (cn.left.Load() || cn.sawLeaving.Load()) {
			return nil
		}
		return fmt.Errorf("chkv: leave: %w", err)
	}
	return nil
}

// replyTable decodes a bulk reply holding a table.
func replyTable(r any) (*Table, error) {
	b, ok := r.([]byte)
	if !ok {
		return nil, fmt.Errorf("%w: expected a table, got %T", ErrProtocol, r)
	}
	return decodeTable(b)
}

// FetchTable asks the server at addr (the NameNode or any cluster DataNode)
// for its partition table with CHKV.TABLE.
func FetchTable(ctx context.Context, tr Transport, addr string) (*Table, error) {
	link := &peerLink{tr: tr, addr: addr, timeout: 5 * time.Second}
	defer link.close()
	r, err := link.do(ctx, "CHKV.TABLE")
	if err != nil {
		return nil, fmt.Errorf("chkv: table from %s: %w", addr, err)
	}
	return replyTable(r)
}

// peerLink is a lazily dialled RESP connection to one server for
// request-reply calls between nodes. It is not safe for concurrent use.
type peerLink struct {
	tr      Transport
	addr    string // one address, or a comma-separated list of NameNodes
	secret  string // the cluster secret presented on connecting (dialPeer)
	timeout time.Duration
	nc      net.Conn
	br      *bufio.Reader
	// With NameNodes (nameNodeLink.go): the address nc is connected to,
	// the leader a follower named, and the list entry to try next.
	ncAddr, leader string
	next           int
}

// do sends one command and reads its reply: string (simple), int64, []byte
// (bulk, nil when null), []any (array) or a *RESPError as the error. A
// broken connection is closed and dialled again by the next call. A
// NameNode that is not the Raft leader sends the command on to the leader
// it names; with a list of NameNodes, one unreachable is skipped.
func (l *peerLink) do(ctx context.Context, args ...string) (any, error) {
	if strings.IndexByte(l.addr, ',') < 0 {
		r, err := l.doAt(ctx, l.addr, l.timeout, args...)
		if !isNotLeader(err) {
			return r, err
		}
	}
	return l.doLeader(ctx, args...)
}

// doAt sends one command to addr within timeout (0: none).
func (l *peerLink) doAt(ctx context.Context, addr string, timeout time.Duration, args ...string) (any, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if l.nc != nil && l.ncAddr != addr {
		l.close()
	}
	if l.nc == nil {
		nc, err := dialPeer(ctx, l.tr, addr, l.secret)
		if err != nil {
			return nil, err
		}
		l.nc, l.br, l.ncAddr = nc, bufio.NewReader(nc), addr
	}
	if dl, ok := ctx.Deadline(); ok {
		l.nc.SetDeadline(dl)
	}
	nc := l.nc // the interrupt may run after close has cleared l.nc
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var w replyWriter
	w.array(len(args))
	for _, a := range args {
		w.bulkString(a)
	}
	_, err := l.nc.Write(w.buf)
	var r any
	if err == nil {
		r, err = readPeerReply(l.br, 0)
	}
	var re *RESPError
	if err != nil && !errors.As(err, &re) {
		l.close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, err
	}
	return r, err
}

// close drops the connection.
func (l *peerLink) close() {
	if l.nc != nil {
		l.nc.Close()
		l.nc, l.br = nil, nil
	}
}

// Bounds on replies read from peers.
const (
	maxPeerBulk  = 64 << 20
	maxPeerArray = 1 << 20
	maxPeerDepth = 8
)

// readPeerReply reads one RESP2 reply.
func readPeerReply(br *bufio.Reader, depth int) (any, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: bad reply line %q", ErrProtocol, line)
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, &RESPError{Msg: body}
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bad integer %q", ErrProtocol, body)
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > maxPeerBulk {
			return nil, fmt.Errorf("%w: bad bulk length %q", ErrProtocol, body)
		}
		if n == -1 {
			return []byte(nil), nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		return b[:n], nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > maxPeerArray || depth >= maxPeerDepth {
			return nil, fmt.Errorf("%w: bad array length %q", ErrProtocol, body)
		}
		if n == -1 {
			return []any(nil), nil
		}
		a := make([]any, 0, min(n, 1024))
		for range n {
			e, err := readPeerReply(br, depth+1)
			var re *RESPError
			if errors.As(err, &re) {
				e, err = re, nil
			}
			if err != nil {
				return nil, err
			}
			a = append(a, e)
		}
		return a, nil
	}
	return nil, fmt.Errorf("%w: bad reply type %q", ErrProtocol, line[0])
}
