// Live slot migration between DataNodes: snapshot, catch-up of concurrent writes, a short freeze, a digest check, then the handoff.
//
// The NameNode asks a slot's current owner (the source) to move a batch of
// slots to their new owner (the target) with CHKV.MIGRATE. The source
//
//  1. starts recording which keys of each slot are written (the store's
//     WriteObserver), then streams a snapshot of the slots to the target
//     (CHKV.IMPORT BEGIN, then DATA requests of binary records);
//  2. streams the keys written meanwhile, again, in rounds, until few are
//     left;
//  3. freezes the slots: new commands on them wait, and the commands
//     already running finish (a per-slot in-flight count);
//  4. sends the last writes, then compares an xxhash digest of each slot
//     with the target's (CHKV.IMPORT DIGEST), and commits (COMMIT);
//  5. hands the slots off: from then on it answers -ASK with the target's
//     address, and the target serves the slots to ASKING clients.
//
// The source then answers the NameNode, which flips the slots to the target
// in the next table. A node adopting a table in which it no longer owns a
// handed-off slot drops its copy and answers -MOVED. A copy that fails at
// any step before the commit is abandoned on both sides (ABORT) and the
// source serves the slots again as if nothing happened; the NameNode retries
// later. A whole slot moves at once, so a multi-key command is never split
// across a move; a command that waits for a freeze longer than
// freezeWaitLimit is answered -TRYAGAIN.

package chkv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// States of a slot move.
const (
	moveCopying   int32 = iota + 1 // source: copying, the slot serves as usual
	moveFrozen                     // source: last delta and digest, commands wait
	moveHandedOff                  // source: the target has the slot; answer ASK
	moveImporting                  // target: records arrive, the slot is not served
	moveImported                   // target: committed; served to ASKING clients
	// moveSuspended is a committed import (target) whose node a newer
	// table declared down: not served, its data kept, until a table gives
	// the slot to this node (the NameNode followed the handoff), to a third
	// node, or, the node live again, the source never reported it.
	moveSuspended
)

// Tuning of a migration.
const (
	migrateSendBytes  = 240 << 10        // DATA request size the sender aims at: with one more record, within the target's 256 KiB pooled bulk buffers
	migrateKeysPerRun = 512              // keys encoded per slot lock
	migrateWholeSlot  = 2048             // a slot this small is snapshot in one lock hold
	migrateInFlight   = 8                // DATA requests the sender keeps unanswered at least (it reads replies at twice that)
	migrateRounds     = 8                // catch-up rounds before the freeze at most
	migrateFreezeAt   = 128              // dirty keys left that end the catch-up
	freezeWaitLimit   = 2 * time.Second  // longest a command waits for a freeze
	migrateIOTimeout  = 10 * time.Second // one read or write of the copy stream
)

// slotMove is a slot on its way out of (out) or into this node.
type slotMove struct {
	state    atomic.Int32
	out      bool
	peerID   NodeID
	peerAddr string
	dirty    map[string]struct{} // out: keys written since last sent; under the slot lock
	thawed   chan struct{}       // out: closed when the freeze ends
	digest   runningDigest       // in: what the records applied so far add up to; under the slot lock
	promote  bool                // in: an in-sync replica taking over: an abort keeps its data
	// epoch is, in, the version of the source's table when the copy began
	// (CHKV.IMPORT EPOCH): a table no newer cannot end the import.
	epoch uint64
	// liveAgain is, for a suspended import, when this node first adopted a
	// table showing it live again (unix ns; under adoptMu).
	liveAgain int64
}

// committed reports whether an import committed here: served (imported) or
// suspended while its node is declared down.
func (m *slotMove) committed() bool {
	st := m.state.Load()
	return st == moveImported || st == moveSuspended
}

// migrationStats are a DataNode's migration counters, in INFO.
type migrationStats struct {
	keysSent, bytesSent, slotsSent         atomic.Int64
	keysReceived, bytesReceived, slotsRecv atomic.Int64
	slotsOut, slotsIn                      atomic.Int64 // moves under way
	replApplied                            atomic.Int64 // replication records applied here as a replica
	replFailed                             atomic.Int64 // connections closed because their writes' replication failed
	slotsCopied                            atomic.Int64 // slot copies sent to new replicas
}

// observe is the store's WriteObserver in cluster mode: it records the keys
// written in a slot that is being copied out. It runs under the slot lock.
func (cn *clusterNode) observe(slot int, op WriteOp, key string, e *entry) {
	if h := testHookObserve.Load(); h != nil {
		(*h)(cn, slot, op, key, e)
	}
	cn.observeRepl(slot, op, key, e)
	m := cn.moves[slot].Load()
	switch {
	case m == nil:
	case m.out && m.dirty != nil:
		m.dirty[key] = struct{}{}
	case !m.out && !m.digest.applying:
		m.digest.inexact = true // not a record: the running digest misses it
	}
}

// testHookRoute, set by tests, runs in route between reading the table and
// the slot's move: where a table adopted concurrently lands.
var testHookRoute atomic.Pointer[func(cn *clusterNode, slot int)]

// testHookAdoptSlot, set by tests, runs in afterAdopt between reading a
// slot's move and taking its lock to drop the slot.
var testHookAdoptSlot atomic.Pointer[func(cn *clusterNode, slot int)]

// testHookObserve, set by tests before a cluster starts, sees every write
// a node's store makes, on primaries and replicas alike.
var testHookObserve atomic.Pointer[func(cn *clusterNode, slot int, op WriteOp, key string, e *entry)]

// enter admits a command on slot: it counts the command in flight unless
// the slot is frozen or handed off, which the caller then handles.
func (cn *clusterNode) enter(c *conn, slot int) bool {
	cn.inflight[slot].Add(1)
	if m := cn.moves[slot].Load(); m != nil && m.out && m.state.Load() != moveCopying {
		cn.inflight[slot].Add(-1)
		return false
	}
	c.gate = slot + 1
	return true
}

// release ends the in-flight count of c's command, if any. A blocking
// command releases before it blocks: while blocked it writes nothing.
func (c *conn) release() {
	if c.gate != 0 {
		c.d.cluster.inflight[c.gate-1].Add(-1)
		c.gate = 0
	}
}

// route applies the cluster routing rules before a command runs: commands
// without keys always run; keys in different slots answer CROSSSLOT; a slot
// with no owner answers CLUSTERDOWN; a slot led by another node answers
// MOVED, unless this node has imported it (committed) already; a slot
// handed off answers ASK; a frozen slot waits.
func (cn *clusterNode) route(c *conn, cmd *command, args [][]byte) bool {
	asking := c.asking
	c.asking = false
	var slot int
	if cmd.flags&flagNumKeys != 0 {
		keys := cmd.movableKeys(args)
		if len(keys) == 0 {
			return true
		}
		slot = SlotBytes(keys[0])
		for _, k := range keys[1:] {
			if SlotBytes(k) != slot {
				c.w.errorText(msgCrossSlot)
				return false
			}
		}
	} else {
		first, last, ok := cmd.keyBounds(args)
		if !ok {
			return true
		}
		slot = SlotBytes(args[first])
		for i := first + cmd.step; i <= last; i += cmd.step {
			if SlotBytes(args[i]) != slot {
				c.w.errorText(msgCrossSlot)
				return false
			}
		}
	}
	var deadline time.Time
	for {
		t, _ := cn.current()
		p, owned := t.Primary(slot)
		mine := owned && p.ID == cn.id
		if h := testHookRoute.Load(); h != nil {
			(*h)(cn, slot)
		}
		m := cn.moves[slot].Load()
		if m != nil && !m.out && !mine {
			if m.state.Load() == moveImported {
				// Committed here: the source only answers ASK now, so this
				// node is the slot's owner even before the table says so,
				// and serves clients whose table is newer than its own.
				// An in-move never overlaps an out-move: no gate needed.
				// Like a primary it needs its lease: cut off, it may have
				// been declared down and the slot given to another copy.
				if !cn.leaseValid() {
					c.w.errorText(msgNoLease)
					return false
				}
				return true
			}
			if asking {
				c.w.errorText("TRYAGAIN Slot " + strconv.Itoa(slot) + " is still being imported")
				return false
			}
		}
		switch {
		case !owned:
			c.w.errorText(msgClusterDown)
			return false
		case !mine && c.readonly && cmd.flags&flagReadonly != 0 && t.holds(slot, cn.id):
			return true // READONLY: a replica serves reads of its slots
		case !mine:
			c.w.errorText("MOVED " + strconv.Itoa(slot) + " " + p.Addr)
			return false
		case !cn.leaseValid():
			c.w.errorText(msgNoLease)
			return false
		case cn.fenced(slot):
			c.w.errorText(msgFailingOver)
			return false
		}
		if cn.enter(c, slot) {
			if cur, _ := cn.current(); cur != t {
				// A table adopted since t was read may have taken the slot
				// away and dropped its data, ending its handoff (m, read
				// after t, is then nil): the command would run on an empty
				// slot this node no longer leads. The slot's handoff ends
				// only after the swap, so an unchanged table means the
				// move states read are current. Route again.
				c.release()
				continue
			}
			return true
		}
		if m == nil || !m.out {
			continue // a move started and ended meanwhile
		}
		switch m.state.Load() {
		case moveHandedOff:
			c.w.errorText("ASK " + strconv.Itoa(slot) + " " + m.peerAddr)
			return false
		case moveFrozen:
			if c.lc != nil {
				// An event loop must not wait: it hands the client to a
				// goroutine, which routes the command again.
				c.asking, c.wouldWait = asking, true
				return false
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(freezeWaitLimit)
			}
			wait := time.Until(deadline)
			if wait <= 0 {
				c.w.errorText("TRYAGAIN Slot " + strconv.Itoa(slot) + " is being moved")
				return false
			}
			t := time.NewTimer(wait)
			select {
			case <-m.thawed:
			case <-t.C:
			case <-c.d.closed:
			}
			t.Stop()
		}
	}
}

// afterAdopt applies a newly adopted table to the slots' data: an imported
// slot the node now owns is simply its own; a handed-off slot it no longer
// owns is dropped; any other slot it does not own loses stale keys and
// blocked clients (they get MOVED), except a lost slot (no owner at all),
// whose data waits here for the slot to come back. It also notices that a
// leaving node is done.
func (cn *clusterNode) afterAdopt(t *Table) {
	st := cn.d.store
	defer cn.checkMisled() // a handed-off slot this table gives back: the data is at the target, tell the NameNode
	now := time.Now().UnixNano()
	me, isMember := t.Member(cn.id)
	live := isMember && me.State != NodeDown
	suspended := 0
	defer func() {
		if suspended > 0 {
			cn.leadChanges.Add(1) // frames not yet acknowledged drop the suspended slots' records
			cn.d.cfg.Logger.Warn("declared down: committed imports suspended", "id", cn.id, "table", t.Version, "slots", suspended)
		}
	}()
	for s := range NumSlots {
		p, owned := t.Primary(s)
		mine := owned && p.ID == cn.id
		m := cn.moves[s].Load()
		if m != nil && !m.out && m.state.Load() == moveImported && !live && t.Version > m.epoch {
			// Committed here, but a table newer than the source's when the
			// copy began declares this node down. Either the NameNode never
			// learnt of the handoff (the source answers ASK, and the data
			// is here only), or it did and then failed the slot over to an
			// in-sync replica, maybe the source itself, whose table shows
			// it the primary just as in the first case. Serving on would
			// split the slot in the second: the import is suspended, its
			// data kept for the source to report (CHKV.HANDEDOFF, after it
			// asked this node, CHKV.IMPORT HELD).
			m.state.Store(moveSuspended)
			cn.leadGen[s].Add(1) // writes waiting for their replicas fail
			suspended++
		}
		if m != nil && !m.out && m.state.Load() == moveSuspended && live {
			if m.liveAgain == 0 {
				m.liveAgain = now
			} else if time.Duration(now-m.liveAgain) > replPendingTTL && owned && !mine {
				// Live again, and the source never reported the handoff
				// (it leads the slot by a failover): the data goes below
				// unless the table names this node a replica.
				if cn.moves[s].CompareAndSwap(m, nil) {
					cn.stats.slotsIn.Add(-1)
				}
				m = nil
			}
		}
		if m != nil && !m.out && m.committed() && owned && !mine && p.ID != m.peerID && t.Version > m.epoch {
			// Committed here, but a table newer than the source's when
			// the copy began gives the slot to a third node: the
			// NameNode moved on (this node was declared down, or the
			// source was and an in-sync replica, which holds every write
			// acknowledged here, took over). Leading on would split the
			// slot: the import ends, and below the data goes unless the
			// table names this node a replica. An older table (this node
			// lagged behind the source) says nothing of the move: it
			// ended a committed import, dropped its data, and the flip
			// that followed had this node lead the slot empty.
			if cn.moves[s].CompareAndSwap(m, nil) {
				cn.stats.slotsIn.Add(-1)
			}
			m = nil
		}
		if owned && !mine && t.holds(s, cn.id) {
			// A replica: the data stays, and follows the primary's stream.
			cn.replicaSince[s].Store(0)
			if m != nil && m.out && m.state.Load() == moveHandedOff && cn.moves[s].CompareAndSwap(m, nil) {
				cn.stats.slotsOut.Add(-1) // the old primary follows the new one
			}
			continue
		}
		if since := cn.replicaSince[s].Load(); since != 0 && owned && !mine {
			if time.Duration(now-since) < replPendingTTL {
				continue // a fresh copy the table does not name yet
			}
			cn.replicaSince[s].Store(0)
		}
		if mine {
			cn.replicaSince[s].Store(0)
			switch {
			case m != nil && !m.out:
				cn.moves[s].CompareAndSwap(m, nil)
				cn.stats.slotsIn.Add(-1)
			}
			continue
		}
		if m != nil && (!m.out || m.state.Load() != moveHandedOff) {
			continue // still moving
		}
		if m != nil && !owned {
			// Handed off, and the table lost the slot: the node was
			// declared down before the NameNode learnt of the handoff.
			// The data lives at the target; the handoff is kept, to be
			// reported when the table gives the slot back here.
			continue
		}
		if h := testHookAdoptSlot.Load(); h != nil {
			(*h)(cn, s)
		}
		sd := st.slot(s)
		sd.mu.Lock()
		if m == nil && len(sd.keys) == 0 && len(sd.waiters) == 0 {
			sd.mu.Unlock() // nothing here: most slots of most tables
			continue
		}
		if since := cn.replicaSince[s].Load(); m == nil && since != 0 && owned && time.Duration(now-since) < replPendingTTL {
			// A copy made this node a replica of the slot since the
			// checks above (its move came and went while this loop ran):
			// the table does not name it yet.
			sd.mu.Unlock()
			continue
		}
		if cur, _ := cn.current(); cur.Version == t.Version && cn.moves[s].Load() == m {
			redirect := msgClusterDown
			if owned {
				redirect = "MOVED " + strconv.Itoa(s) + " " + p.Addr
			}
			switch {
			case !owned && m == nil:
				// Lost (database mode): the data stays, answering
				// CLUSTERDOWN, in case the slot comes back here.
				st.kickWaiters(s, redirect)
			case len(sd.keys) > 0 || len(sd.waiters) > 0:
				st.clearSlot(s, redirect)
			}
			if m != nil {
				cn.moves[s].CompareAndSwap(m, nil)
				cn.stats.slotsOut.Add(-1)
			}
		}
		sd.mu.Unlock()
	}
	me, ok := t.Member(cn.id)
	if ok && me.State.Live() {
		cn.member.Store(true)
	}
	gone := !ok && cn.member.Load()
	if ok && me.State == NodeLeaving {
		if !cn.sawLeaving.Swap(true) {
			cn.heartbeatSoon() // the NameNode waits for our import count
		}
		if p, r := t.Load(cn.id); p == 0 && r == 0 {
			if cn.importsHeld() == 0 {
				gone = true
			} else {
				cn.heartbeatSoon() // the count may have dropped
			}
		}
	}
	if gone {
		cn.leave(t.Version)
	}
}

// importsHeld counts the slots the node is importing or has imported
// (committed or suspended) that its table does not give it yet: it must
// not leave with their data.
func (cn *clusterNode) importsHeld() int {
	n := 0
	for s := range NumSlots {
		if m := cn.moves[s].Load(); m != nil && !m.out {
			n++
		}
	}
	return n
}

// leave closes the node once it has left the cluster (seen in table
// version v, 0 when the NameNode said it no longer knows the node). It
// lingers for two heartbeats first, answering -MOVED: a client whose table
// still sends it requests learns where its keys went, instead of finding
// its connection closed under a request whose outcome it cannot know.
func (cn *clusterNode) leave(v uint64) {
	if cn.left.CompareAndSwap(false, true) {
		cn.heartbeatSoon() // the loop's last heartbeat
		linger := min(max(2*cn.cfg.HeartbeatInterval, 50*time.Millisecond), 2*time.Second)
		cn.d.cfg.Logger.Info("left the cluster: every slot has moved away; shutting down", "id", cn.id, "version", v, "after", linger)
		go func() {
			t := time.NewTimer(linger)
			defer t.Stop()
			select {
			case <-t.C:
			case <-cn.d.closed:
			}
			cn.d.Close()
		}()
	}
}

// Left reports whether the node has left the cluster gracefully: every slot
// moved away after a leave, and the node closed itself.
func (d *DataNode) Left() bool { return d.cluster != nil && d.cluster.left.Load() }

// Imports reports the copies coming into this node: the slots it is
// importing now, and the keys and bytes it has received by copies since it
// started (the counters of INFO's migrate_keys_received). A standalone
// node imports nothing.
func (d *DataNode) Imports() (slots int, keys, bytes int64) {
	if d.cluster == nil {
		return 0, 0, 0
	}
	st := &d.cluster.stats
	return int(st.slotsIn.Load()), st.keysReceived.Load(), st.bytesReceived.Load()
}

// migrateCommands are the commands of the migration protocol.
func migrateCommands() []*command {
	return []*command{
		{"chkv.migrate", -5, flagAdmin | flagStale | flagLong | flagInternal, 0, 0, 0, cmdMigrate},
		{"chkv.import", -2, flagAdmin | flagStale | flagInternal, 0, 0, 0, cmdImport},
	}
}

// cmdMigrate handles CHKV.MIGRATE <target-id> <target-addr> <keys-per-sec>
// [<mode>] [EXPECT <incarnation>] <slot>... from the NameNode. The mode is "move" (the default:
// copy the slots to the target and hand them off), "copy" (fill the target
// as a new replica; the slots stay here), "promote" (hand the slots off to
// the target, an in-sync replica that holds them already), and move or
// promote may name the replicas that go on following the slots under the
// target: "move:id1,id2". It answers [keys, bytes] once done, or an error
// when the copy failed and was abandoned.
func cmdMigrate(c *conn, args [][]byte) {
	rate, err := strconv.ParseFloat(string(args[3]), 64)
	if err != nil || rate < 0 {
		c.w.errorText("ERR chkv: bad rate")
		return
	}
	op := migrateOp{mode: modeMove}
	rest := args[4:]
	if len(rest) > 0 && len(rest[0]) > 0 && (rest[0][0] < '0' || rest[0][0] > '9') {
		if op, err = parseMigrateOp(string(rest[0])); err != nil {
			c.w.errorText("ERR " + err.Error())
			return
		}
		rest = rest[1:]
	}
	if len(rest) >= 2 && eqFold(rest[0], "expect") {
		op.expect = string(truncate(rest[1], maxStringLen))
		rest = rest[2:]
	}
	if len(rest) == 0 {
		c.w.errorText("ERR chkv: no slots to migrate")
		return
	}
	slots, err := parseSlots(rest)
	if err != nil {
		c.w.errorText("ERR chkv: " + err.Error())
		return
	}
	keys, bytes, err := c.d.cluster.migrateOut(NodeID(args[1]), string(args[2]), rate, slots, op)
	if err != nil {
		c.w.errorText("ERR " + err.Error())
		return
	}
	c.w.array(2)
	c.w.int(keys)
	c.w.int(bytes)
}

// Modes of CHKV.MIGRATE.
const (
	modeMove    = "move"
	modeCopy    = "copy"
	modePromote = "promote"
)

// migrateOp is what one CHKV.MIGRATE does: its mode, and the replicas that
// follow the slots under their new primary (move, promote).
type migrateOp struct {
	mode string
	keep []NodeID
	// expect is the target's process incarnation the NameNode planned the
	// batch with: a target that restarted since (its incarnation differs)
	// refuses the batch, so a move never hands a slot to a process the
	// NameNode does not know holds it. Empty: not checked.
	expect string
}

// String formats the op as CHKV.MIGRATE's mode argument.
func (op migrateOp) String() string {
	if len(op.keep) == 0 {
		return op.mode
	}
	ids := make([]string, len(op.keep))
	for i, id := range op.keep {
		ids[i] = string(id)
	}
	return op.mode + ":" + strings.Join(ids, ",")
}

// parseMigrateOp parses CHKV.MIGRATE's mode argument.
func parseMigrateOp(a string) (migrateOp, error) {
	mode, ids, _ := strings.Cut(a, ":")
	op := migrateOp{mode: strings.ToLower(mode)}
	switch op.mode {
	case modeMove, modePromote:
	case modeCopy:
		if ids != "" {
			return op, errors.New("chkv: a copy keeps no replicas")
		}
	default:
		return op, fmt.Errorf("chkv: unknown migrate mode %q", truncate([]byte(mode), 32))
	}
	if ids != "" {
		for _, id := range strings.Split(ids, ",") {
			if id == "" || len(id) > maxStringLen {
				return op, errors.New("chkv: bad replica id")
			}
			op.keep = append(op.keep, NodeID(id))
		}
	}
	return op, nil
}

// parseSlots parses distinct slot numbers.
func parseSlots(args [][]byte) ([]int, error) {
	seen := map[int]bool{}
	slots := make([]int, 0, len(args))
	for _, a := range args {
		s, err := strconv.Atoi(string(a))
		if err != nil || s < 0 || s >= NumSlots || seen[s] {
			return nil, fmt.Errorf("bad or repeated slot %q", truncate(a, 32))
		}
		seen[s] = true
		slots = append(slots, s)
	}
	return slots, nil
}

// migrateOut moves slots to the target; see the file comment.
func (cn *clusterNode) migrateOut(targetID NodeID, targetAddr string, rate float64, slots []int, op migrateOp) (keys, bytes int64, err error) {
	if targetID == cn.id {
		return 0, 0, errors.New("chkv: cannot migrate to myself")
	}
	t, _ := cn.current()
	todo := make([]int, 0, len(slots))
	var elsewhere []string // slot, target pairs
	for _, s := range slots {
		if m := cn.moves[s].Load(); m != nil {
			switch {
			case m.out && m.state.Load() == moveHandedOff && m.peerID == targetID:
				continue // a retry of a move that finished: the NameNode lost our answer
			case m.out && m.state.Load() == moveHandedOff:
				// The NameNode lost our answer and now wants the slot
				// elsewhere: it must first learn where the data is.
				elsewhere = append(elsewhere, strconv.Itoa(s), string(m.peerID))
				continue
			}
			return 0, 0, fmt.Errorf("chkv: slot %d is already moving", s)
		}
		if p, ok := t.Primary(s); !ok || p.ID != cn.id {
			return 0, 0, fmt.Errorf("chkv: slot %d is not served here", s)
		}
		if op.mode == modePromote && !t.holds(s, targetID) {
			return 0, 0, fmt.Errorf("chkv: slot %d: %s is not its replica", s, targetID)
		}
		todo = append(todo, s)
	}
	if len(elsewhere) > 0 {
		return 0, 0, fmt.Errorf("chkv: handed off: %s", strings.Join(elsewhere, " "))
	}
	if len(todo) == 0 {
		return 0, 0, nil
	}
	slots = todo
	ctx, cancel := context.WithTimeout(context.Background(), migrateIOTimeout)
	nc, err := dialPeer(ctx, cn.d.cfg.Transport, targetAddr, cn.cfg.ClusterSecret)
	cancel()
	if err != nil {
		return 0, 0, fmt.Errorf("chkv: migrate to %s: %w", targetID, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() { // closing the node interrupts the copy
		select {
		case <-cn.d.closed:
			nc.SetDeadline(time.Unix(1, 0))
		case <-done:
		}
	}()
	defer nc.Close()
	mv := newMover(cn, nc, rate)
	defer mv.release()
	if op.expect != "" {
		// First on the pipe: a refusal shows at the first sync, and the
		// target refuses every later IMPORT request of this connection.
		mv.send("EXPECT", op.expect)
	}
	// The table the copy begins under: on the target, only a newer one
	// can end the import (see afterAdopt).
	mv.send("EPOCH", strconv.FormatUint(t.Version, 10))
	ms := make([]*slotMove, len(slots))
	for i := range slots {
		ms[i] = &slotMove{out: true, peerID: targetID, peerAddr: targetAddr, thawed: make(chan struct{})}
		ms[i].state.Store(moveCopying)
	}
	abort := func(err error) (int64, int64, error) {
		for i, s := range slots {
			if cn.moves[s].CompareAndSwap(ms[i], nil) {
				cn.stats.slotsOut.Add(-1)
			}
			select {
			case <-ms[i].thawed:
			default:
				close(ms[i].thawed)
			}
		}
		nc.SetDeadline(time.Now().Add(time.Second))
		mv.send("ABORT", slotArgs(slots)...) // best effort: the target drops what it got
		mv.flush()
		cn.d.cfg.Logger.Warn("migration abandoned", "id", cn.id, "to", targetID, "slots", len(slots), "err", err)
		return 0, 0, fmt.Errorf("chkv: migrate to %s: %w", targetID, err)
	}
	var phases []any // how long each phase took, for the debug log
	phase := func(name string) {
		phases = append(phases, name, time.Since(mv.start))
	}
	if op.mode == modePromote {
		// The target holds the slots already (an in-sync replica): no
		// copy, only the freeze, the digests and the handoff.
		mv.send("PROMOTE", append([]string{string(cn.id)}, slotArgs(slots)...)...)
		for i, s := range slots {
			sd := cn.d.store.slot(s)
			sd.mu.Lock()
			cn.moves[s].Store(ms[i])
			cn.stats.slotsOut.Add(1)
			sd.mu.Unlock()
		}
		if err := mv.sync(); err != nil {
			return abort(err)
		}
		return cn.finishMove(mv, targetID, targetAddr, slots, ms, op, abort)
	}
	// BEGIN goes down the same pipe as the data: a refusal shows at the
	// first sync, and nothing is applied after a refused BEGIN.
	mv.send("BEGIN", append([]string{string(cn.id)}, slotArgs(slots)...)...)
	// Start recording writes, then snapshot each slot: a small one is
	// encoded at once under its lock, a big one's key list is taken and
	// its keys are encoded a few at a time.
	for i, s := range slots {
		st := cn.d.store
		sd := st.slot(s)
		sd.mu.Lock()
		ms[i].dirty = map[string]struct{}{}
		cn.moves[s].Store(ms[i])
		cn.stats.slotsOut.Add(1)
		mv.enc.hint(s, len(sd.keys))
		var list []string
		if len(sd.keys) <= migrateWholeSlot {
			now := st.nowMs()
			for k, e := range sd.keys {
				if e.expireAt == 0 || e.expireAt > now {
					mv.enc.entry(s, k, e)
				}
			}
		} else {
			list = st.slotKeyList(s)
		}
		sd.mu.Unlock()
		if len(mv.enc.buf) >= migrateSendBytes {
			if err := mv.sendRecords(); err != nil {
				return abort(err)
			}
		}
		if list != nil {
			if err := mv.sendKeys(s, list, false); err != nil {
				return abort(err)
			}
		}
	}
	if len(mv.enc.marks) > 0 {
		if err := mv.sendRecords(); err != nil {
			return abort(err)
		}
	}
	phase("snapshot sent")
	// Catch up with the writes made meanwhile. Each round waits for the
	// target to apply what was sent, so that the freeze below lasts only
	// as long as the last few keys take, not the target's backlog.
	for round := 0; ; round++ {
		n, err := mv.sendDirty(slots, ms)
		if err != nil {
			return abort(err)
		}
		if err := mv.sync(); err != nil {
			return abort(err)
		}
		if n <= migrateFreezeAt || round == migrateRounds {
			break
		}
	}
	phase("caught up")
	return cn.finishMove(mv, targetID, targetAddr, slots, ms, op, abort)
}

// finishMove freezes the slots, sends the last writes, waits for the
// replicas to apply everything, compares digests and then, for a move or a
// promotion, commits and hands the slots off; for a copy it makes the
// target a replica of the slots and lets them thaw.
func (cn *clusterNode) finishMove(mv *mover, targetID NodeID, targetAddr string, slots []int, ms []*slotMove, op migrateOp, abort func(error) (int64, int64, error)) (keys, bytes int64, err error) {
	var phases []any // how long each phase took, for the debug log
	phase := func(name string) {
		phases = append(phases, name, time.Since(mv.start))
	}
	// Freeze: no new command starts; wait for the running ones.
	for i, s := range slots {
		ms[i].state.Store(moveFrozen)
		for cn.inflight[s].Load() > 0 {
			runtime.Gosched()
		}
	}
	phase("frozen")
	if op.mode != modePromote {
		if _, err := mv.sendDirty(slots, ms); err != nil {
			return abort(err)
		}
	}
	if op.mode != modeCopy {
		// The replicas that follow the slots, and a promoted target,
		// must hold every write before the target takes over.
		if err := cn.drainReplUntil(slots, time.Now().Add(cn.cfg.ReplicaTimeout)); err != nil {
			return abort(err)
		}
	}
	// Both sides digest the slots at the same instant; the target starts
	// while this side computes its own.
	now := cn.d.store.nowMs()
	dargs := []string{strconv.FormatInt(now, 10)}
	for _, s := range slots {
		dargs = append(dargs, strconv.Itoa(s), strconv.FormatUint(cn.d.store.slotSeq(s), 10))
	}
	mv.send("DIGEST", dargs...)
	if err := mv.flush(); err != nil {
		return abort(err)
	}
	want := make([][2]int64, len(slots))
	for i, s := range slots {
		k, d := cn.d.store.slotDigest(s, now)
		want[i] = [2]int64{k, int64(d)}
	}
	if err := mv.sync(); err != nil {
		return abort(err)
	}
	phase("digests compared")
	got, ok := mv.last.([]any)
	if !ok || len(got) != 2*len(slots) {
		return abort(fmt.Errorf("%w: bad digest reply", ErrProtocol))
	}
	for i, s := range slots {
		if got[2*i] != want[i][0] || got[2*i+1] != want[i][1] {
			// The source's digest reads cached value hashes; one gone
			// stale (a value changed under the same version) would fail
			// every retry of the batch. Compute it afresh before giving up.
			k, d := cn.d.store.slotDigestFresh(s, now)
			if got[2*i] == k && got[2*i+1] == int64(d) {
				cn.d.cfg.Logger.Warn("migration: a cached value hash was stale; the fresh digest matches", "id", cn.id, "slot", s)
				continue
			}
			return abort(fmt.Errorf("digest of slot %d differs: %d keys here, %v there", s, want[i][0], got[2*i]))
		}
	}
	if op.mode == modeCopy {
		mv.send("REPLICA", slotArgs(slots)...)
		if err := mv.sync(); err != nil {
			return abort(err)
		}
		for i, s := range slots {
			cn.addPending(s, targetID, targetAddr)
			if cn.moves[s].CompareAndSwap(ms[i], nil) {
				cn.stats.slotsOut.Add(-1)
			}
			close(ms[i].thawed)
			bytes += cn.d.store.slotBytes(s)
		}
		cn.stats.slotsCopied.Add(int64(len(slots)))
		cn.stats.keysSent.Add(mv.keys)
		cn.stats.bytesSent.Add(mv.bytes)
		cn.d.cfg.Logger.Info("slots copied to a new replica", "id", cn.id, "to", targetID, "slots", len(slots), "keys", mv.keys, "took", time.Since(mv.start))
		return mv.keys, mv.bytes, nil
	}
	if len(op.keep) > 0 {
		// Each kept replica goes with its address: a target whose table
		// is older than the move (cut off from the NameNode, or not yet
		// given a table) could not resolve it, and would lead the slots
		// with no replica, acknowledging writes no other copy holds.
		t, _ := cn.current()
		ids := make([]string, len(op.keep))
		for i, id := range op.keep {
			m, ok := t.Member(id)
			if t == nil || !ok {
				return abort(fmt.Errorf("chkv: the replica %s that keeps the slots is not in this node's table", id))
			}
			ids[i] = string(id) + "@" + m.Addr
		}
		mv.send("COMMITKEEP", append([]string{strings.Join(ids, ",")}, slotArgs(slots)...)...)
	} else {
		mv.send("COMMIT", slotArgs(slots)...)
	}
	if err := mv.sync(); err != nil {
		return abort(err)
	}
	phase("committed")
	// Hand off: from now on the target serves the slots.
	ask := ""
	for i, s := range slots {
		ask = "ASK " + strconv.Itoa(s) + " " + targetAddr
		sd := cn.d.store.slot(s)
		sd.mu.Lock()
		ms[i].state.Store(moveHandedOff)
		ms[i].dirty = nil
		cn.d.store.kickWaiters(s, ask)
		cn.repl[s].Store(nil) // the target streams the slot's writes now
		sd.mu.Unlock()
		cn.pendingMu.Lock()
		cn.pending[s] = nil
		cn.pendingMu.Unlock()
		close(ms[i].thawed)
		bytes += cn.d.store.slotBytes(s)
	}
	// The table still gives the slots here until the NameNode flips them;
	// should the NameNode never hear of this handoff (it declared the node
	// down meanwhile and dropped the batch), the heartbeat reports it.
	cn.checkMisled()
	cn.stats.keysSent.Add(mv.keys)
	cn.stats.bytesSent.Add(mv.bytes)
	cn.stats.slotsSent.Add(int64(len(slots)))
	cn.d.cfg.Logger.Info("slots handed off", "id", cn.id, "to", targetID, "mode", op.mode, "slots", len(slots), "keys", mv.keys, "bytes", mv.bytes, "took", time.Since(mv.start))
	cn.d.cfg.Logger.Debug("migration phases", phases...)
	return mv.keys, mv.bytes, nil
}

// slotArgs formats slot numbers as arguments.
func slotArgs(slots []int) []string {
	a := make([]string, len(slots))
	for i, s := range slots {
		a[i] = strconv.Itoa(s)
	}
	return a
}

// mover is the sending end of one migration's copy stream.
type mover struct {
	cn      *clusterNode
	nc      net.Conn
	bw      *bufio.Writer
	br      *bufio.Reader
	w       replyWriter
	enc     recordEncoder
	pending int // requests sent whose replies are unread
	last    any // the last reply read by sync
	err     error
	rate    float64 // keys per second; 0: no cap
	start   time.Time
	keys    int64 // keys sent (a key sent twice counts twice)
	bytes   int64 // record bytes sent
}

// moverPool keeps movers' buffers from one migration to the next: a
// rebalance runs many, and garbage on a DataNode full of data is what
// costs (a collection of its whole heap).
var moverPool sync.Pool

// newMover returns a mover on nc, with buffers from moverPool.
func newMover(cn *clusterNode, nc net.Conn, rate float64) *mover {
	mv, _ := moverPool.Get().(*mover)
	if mv == nil {
		// DATA payloads bypass bw (a bufio.Writer writes what is larger
		// than its free room straight through), so it stays small.
		mv = &mover{bw: bufio.NewWriterSize(nil, 8<<10), br: bufio.NewReaderSize(nil, 512)}
		mv.enc.buf = make([]byte, 0, migrateSendBytes+migrateSendBytes/8)
	}
	bw, br, w, enc := mv.bw, mv.br, mv.w, mv.enc
	bw.Reset(nc)
	br.Reset(nc)
	enc.reset()
	*mv = mover{cn: cn, nc: nc, bw: bw, br: br, w: w, enc: enc, rate: rate, start: time.Now()}
	return mv
}

// release returns mv's buffers to moverPool unless one grew big (a
// huge value went through).
func (mv *mover) release() {
	mv.bw.Reset(nil)
	mv.br.Reset(nil)
	mv.cn, mv.nc, mv.last, mv.err = nil, nil, nil, nil
	if cap(mv.enc.buf) <= 4*migrateSendBytes && cap(mv.w.buf) <= 4*migrateSendBytes {
		moverPool.Put(mv)
	}
}

// send writes one CHKV.IMPORT request without waiting for its reply.
func (mv *mover) send(sub string, args ...string) {
	mv.w.buf = mv.w.buf[:0]
	mv.w.array(2 + len(args))
	mv.w.bulkString("CHKV.IMPORT")
	mv.w.bulkString(sub)
	for _, a := range args {
		mv.w.bulkString(a)
	}
	mv.write(mv.w.buf)
}

// write writes b to the stream and counts one reply to read.
func (mv *mover) write(b []byte) {
	if mv.err != nil {
		return
	}
	mv.nc.SetWriteDeadline(time.Now().Add(migrateIOTimeout))
	_, mv.err = mv.bw.Write(b)
	mv.pending++
}

func (mv *mover) flush() error {
	if mv.err == nil {
		mv.nc.SetWriteDeadline(time.Now().Add(migrateIOTimeout))
		mv.err = mv.bw.Flush()
	}
	return mv.err
}

// sync flushes and reads every pending reply; the first error reply fails it.
func (mv *mover) sync() error { return mv.drain(0) }

// sendRecords sends the encoded records as DATA requests of about
// migrateSendBytes each, cut at record boundaries, then resets the encoder.
func (mv *mover) sendRecords() error {
	b, marks := mv.enc.buf, mv.enc.marks
	for len(marks) > 0 {
		end := len(b)
		for i, m := range marks {
			if i > 0 && m-marks[0] > migrateSendBytes {
				end = m
				break
			}
		}
		mv.w.buf = mv.w.buf[:0]
		mv.w.array(3)
		mv.w.bulkString("CHKV.IMPORT")
		mv.w.bulkString("DATA")
		mv.w.buf = append(mv.w.buf, '$')
		mv.w.buf = strconv.AppendInt(mv.w.buf, int64(end-marks[0]), 10)
		mv.w.buf = append(mv.w.buf, '\r', '\n')
		mv.write(mv.w.buf)
		if mv.err == nil {
			mv.bw.Write(b[marks[0]:end])
			_, mv.err = mv.bw.WriteString("\r\n")
		}
		mv.bytes += int64(end - marks[0])
		for len(marks) > 0 && marks[0] < end {
			marks = marks[1:]
		}
	}
	mv.keys += mv.enc.keys
	mv.enc.reset()
	mv.throttle()
	if mv.pending > 2*migrateInFlight {
		return mv.drain(migrateInFlight)
	}
	return mv.err
}

// drain flushes and reads replies until at most keep are pending: the
// target is kept busy while the sender waits for it to catch up.
func (mv *mover) drain(keep int) error {
	if err := mv.flush(); err != nil {
		return err
	}
	for ; mv.pending > keep; mv.pending-- {
		mv.nc.SetReadDeadline(time.Now().Add(migrateIOTimeout))
		r, err := readPeerReply(mv.br, 0)
		if err != nil {
			mv.err = err
			return err
		}
		mv.last = r
	}
	return nil
}

// throttle sleeps as long as the copy runs ahead of the rate cap.
func (mv *mover) throttle() {
	if mv.rate <= 0 {
		return
	}
	ahead := time.Duration(float64(mv.keys)/mv.rate*float64(time.Second)) - time.Since(mv.start)
	if ahead > 0 {
		mv.flush()
		select {
		case <-time.After(ahead):
		case <-mv.cn.d.closed:
		}
	}
}

// sendKeys sends the current state of keys of slot: the value, or a
// deletion when the key is gone (always for dirty keys; a snapshot skips
// missing keys).
func (mv *mover) sendKeys(slot int, keys []string, dels bool) error {
	st := mv.cn.d.store
	sd := st.slot(slot)
	for len(keys) > 0 {
		n := min(len(keys), migrateKeysPerRun)
		sd.mu.Lock()
		now := st.nowMs()
		for _, k := range keys[:n] {
			e := sd.keys[k]
			if e != nil && e.expireAt != 0 && e.expireAt <= now {
				e = nil
			}
			switch {
			case e != nil:
				mv.enc.entry(slot, k, e)
			case dels:
				mv.enc.del(slot, k)
			}
		}
		sd.mu.Unlock()
		keys = keys[n:]
		if len(mv.enc.buf) >= migrateSendBytes {
			if err := mv.sendRecords(); err != nil {
				return err
			}
		}
	}
	if len(mv.enc.marks) > 0 {
		return mv.sendRecords()
	}
	return mv.err
}

// sendDirty sends every key written since the last round and returns how many.
func (mv *mover) sendDirty(slots []int, ms []*slotMove) (int, error) {
	total := 0
	for i, s := range slots {
		sd := mv.cn.d.store.slot(s)
		sd.mu.Lock()
		dirty := ms[i].dirty
		ms[i].dirty = map[string]struct{}{}
		sd.mu.Unlock()
		if len(dirty) == 0 {
			continue
		}
		keys := make([]string, 0, len(dirty))
		for k := range dirty {
			keys = append(keys, k)
		}
		total += len(keys)
		if err := mv.sendKeys(s, keys, true); err != nil {
			return total, err
		}
	}
	return total, mv.flush()
}

// cmdImport handles the target's side: CHKV.IMPORT EXPECT <incarnation>,
// BEGIN <source-id>
// <slot>..., DATA <records>, DIGEST <now> (<slot> <seq>)..., COMMIT
// <slot>..., ABORT <slot>....
func cmdImport(c *conn, args [][]byte) {
	cn := c.d.cluster
	sub := string(truncate(args[1], 16))
	var err error
	switch {
	case c.importRefused:
		err = errors.New("chkv: this connection's batch was refused")
	case eqFold(args[1], "expect") && len(args) == 3:
		if string(args[2]) != cn.incarnation {
			c.importRefused = true
			err = fmt.Errorf("chkv: %s restarted since the batch was planned (incarnation %s, not %s)", cn.id, cn.incarnation, truncate(args[2], 32))
		} else {
			c.w.ok()
		}
	case eqFold(args[1], "epoch") && len(args) == 3:
		if c.importEpoch, err = strconv.ParseUint(string(args[2]), 10, 64); err == nil {
			c.w.ok()
		}
	case eqFold(args[1], "data") && len(args) == 3:
		err = cn.importData(c, args[2])
		if err == nil {
			c.w.ok()
		}
	case eqFold(args[1], "begin") && len(args) >= 4:
		var slots []int
		if slots, err = parseSlots(args[3:]); err == nil {
			err = c.noteImports(cn.importBegin(NodeID(args[2]), slots, c.importEpoch))
		}
		if err == nil {
			c.w.ok()
		}
	case eqFold(args[1], "promote") && len(args) >= 4:
		var slots []int
		if slots, err = parseSlots(args[3:]); err == nil {
			err = c.noteImports(cn.importPromote(NodeID(args[2]), slots, c.importEpoch))
		}
		if err == nil {
			c.w.ok()
		}
	case eqFold(args[1], "replica") && len(args) >= 3:
		var slots []int
		if slots, err = parseSlots(args[2:]); err == nil {
			err = cn.importReplica(c, slots)
		}
		if err == nil {
			c.w.ok()
		}
	case eqFold(args[1], "commitkeep") && len(args) >= 4:
		var slots []int
		var keep []Member
		if slots, err = parseSlots(args[3:]); err == nil {
			if keep, err = cn.resolveReplicas(strings.Split(string(args[2]), ",")); err == nil {
				err = cn.importEnd(c, slots, true)
			}
		}
		if err == nil {
			cn.keepReplicas(keep, slots)
			c.w.ok()
		}
	case eqFold(args[1], "digest") && len(args) >= 4 && len(args)%2 == 1:
		err = cn.importDigest(c, args[2:])
	case eqFold(args[1], "held") && len(args) >= 4:
		err = cn.answerSlots(c, args[3:], func(s int) int64 {
			if cn.holdsHandoff(NodeID(args[2]), s) {
				return 1
			}
			return 0
		})
	case eqFold(args[1], "gave") && len(args) >= 4:
		err = cn.answerSlots(c, args[3:], func(s int) int64 { return cn.gaveTo(NodeID(args[2]), s) })
	case (eqFold(args[1], "commit") || eqFold(args[1], "abort")) && len(args) >= 3:
		var slots []int
		if slots, err = parseSlots(args[2:]); err == nil {
			err = cn.importEnd(c, slots, eqFold(args[1], "commit"))
		}
		if err == nil {
			c.w.ok()
		}
	default:
		err = fmt.Errorf("chkv: unknown CHKV.IMPORT subcommand %q or wrong number of arguments", sub)
	}
	if err != nil {
		c.w.errorText("ERR " + err.Error())
	}
}

// answerSlots answers CHKV.IMPORT HELD and GAVE: [table-version,
// answer(slot)...] for the slots args name.
func (cn *clusterNode) answerSlots(c *conn, args [][]byte, answer func(s int) int64) error {
	slots, err := parseSlots(args)
	if err != nil {
		return err
	}
	version := uint64(0)
	if t, _ := cn.current(); t != nil {
		version = t.Version
	}
	c.w.array(1 + len(slots))
	c.w.int(int64(version))
	for _, s := range slots {
		c.w.int(answer(s))
	}
	return nil
}

// holdsHandoff reports whether this node holds slot s handed off to it by
// source (CHKV.IMPORT HELD): it committed an import of s from source that
// no table has ended, or its table makes it s's primary. A source whose
// table gives it back a slot it handed off asks before it reports the slot
// to the NameNode: the answer may be no when the NameNode did learn of the
// handoff and then failed the slot over to the source (this node was
// declared down and dropped the slot), and following the report would hand
// the slot to a node without its data.
func (cn *clusterNode) holdsHandoff(source NodeID, s int) bool {
	if m := cn.moves[s].Load(); m != nil && !m.out && m.peerID == source && m.committed() {
		return true
	}
	t, _ := cn.current()
	if t == nil {
		return false
	}
	p, ok := t.Primary(s)
	return ok && p.ID == cn.id
}

// gaveTo answers CHKV.IMPORT GAVE for slot s: 1 when this node handed s
// off to target, 2 when it is moving s there, 0 otherwise.
func (cn *clusterNode) gaveTo(target NodeID, s int) int64 {
	m := cn.moves[s].Load()
	switch {
	case m == nil || !m.out || m.peerID != target:
		return 0
	case m.state.Load() == moveHandedOff:
		return 1
	default:
		return 2
	}
}

// importBegin prepares slots to receive a copy: they must not be served
// here; whatever they held (an abandoned earlier copy) is dropped.
func (cn *clusterNode) importBegin(source NodeID, slots []int, epoch uint64) ([]slotImport, error) {
	t, _ := cn.current()
	for _, s := range slots {
		if p, ok := t.Primary(s); ok && p.ID == cn.id {
			return nil, fmt.Errorf("chkv: slot %d is served here (table version %d)", s, t.Version)
		}
		if t.holds(s, cn.id) {
			// An in-sync replica: its copy must not be dropped for a new
			// one. A NameNode copying here has a newer table that took
			// this node out (it pushes it; the batch is retried).
			return nil, fmt.Errorf("chkv: slot %d: a copy in sync is held here (table version %d)", s, t.Version)
		}
		if m := cn.moves[s].Load(); m != nil && m.out {
			return nil, fmt.Errorf("chkv: slot %d is moving out of here", s)
		}
	}
	st := cn.d.store
	imps := make([]slotImport, len(slots))
	for i, s := range slots {
		sd := st.slot(s)
		sd.mu.Lock()
		st.clearSlot(s, msgClusterDown)
		m := &slotMove{peerID: source, epoch: epoch}
		m.state.Store(moveImporting)
		if cn.moves[s].Swap(m) == nil {
			cn.stats.slotsIn.Add(1)
		}
		sd.mu.Unlock()
		imps[i] = slotImport{slot: s, m: m}
	}
	return imps, nil
}

// slotImport is a slot a connection began importing, and its move.
type slotImport struct {
	slot int
	m    *slotMove
}

// noteImports remembers the imports a BEGIN or PROMOTE of c started: if c
// closes before they commit or abort, they are abandoned (abandonImports).
func (c *conn) noteImports(imps []slotImport, err error) error {
	if len(imps) > 0 && c.imports == nil {
		c.imports = make(map[int]*slotMove, len(imps))
	}
	for _, imp := range imps {
		c.imports[imp.slot] = imp.m
	}
	return err
}

// importOf returns slot s's import when this connection began it and it is
// still the slot's move, else nil. Every later step of a copy (DATA,
// DIGEST, REPLICA, COMMIT, ABORT) acts only on its own connection's
// imports: a request of an earlier, abandoned attempt that a partition
// held back and delivered late (as TCP retransmits once a link heals) must
// not touch the attempt that replaced it. An ABORT so delivered cleared a
// slot whose new copy had committed, and the node then led it empty.
func (c *conn) importOf(s int) *slotMove {
	m := c.imports[s]
	if m == nil || c.d.cluster.moves[s].Load() != m {
		return nil
	}
	return m
}

// abandonImports aborts the imports c began that neither committed nor
// aborted when c closed: the source gave up (its ABORT may have been lost
// with the link), and a stale import would refuse the next attempt.
func (c *conn) abandonImports() {
	if len(c.imports) == 0 {
		return
	}
	cn := c.d.cluster
	for s, m := range c.imports {
		if m.state.Load() == moveImporting {
			cn.abortImport(s, m)
		}
	}
	c.imports = nil
}

// importPromote prepares slots this node holds as an in-sync replica to be
// handed over: they are marked as imported-to-be without dropping their data.
func (cn *clusterNode) importPromote(source NodeID, slots []int, epoch uint64) ([]slotImport, error) {
	t, _ := cn.current()
	for _, s := range slots {
		if p, ok := t.Primary(s); !ok || p.ID == cn.id || !t.holds(s, cn.id) {
			return nil, fmt.Errorf("chkv: slot %d: not a replica here (table version %d)", s, t.Version)
		}
		// An earlier promote from the same source gives way: one that
		// never ended (its connection is not closed yet), or one
		// committed here whose OK the source never heard (a partition
		// cut the answer): the source, which is trying again, never
		// handed the slot off, so no client was sent here for it, and
		// its stream kept this copy current. Refusing it wedged every
		// later attempt, and with it a leave, for good.
		if m := cn.moves[s].Load(); m != nil && !(m.promote && m.peerID == source && (m.state.Load() == moveImporting || m.committed())) {
			return nil, fmt.Errorf("chkv: slot %d is moving (out %v, state %d, peer %s)", s, m.out, m.state.Load(), m.peerID)
		}
	}
	imps := make([]slotImport, len(slots))
	for i, s := range slots {
		sd := cn.d.store.slot(s)
		sd.mu.Lock()
		m := &slotMove{peerID: source, promote: true, epoch: epoch}
		m.digest.inexact = true // the slot is digested by a scan
		m.state.Store(moveImporting)
		if cn.moves[s].Swap(m) == nil {
			cn.stats.slotsIn.Add(1)
		}
		sd.mu.Unlock()
		imps[i] = slotImport{slot: s, m: m}
	}
	return imps, nil
}

// importReplica ends the copy of slots as a new replica: the data stays,
// not served, and the primary's stream keeps it current.
func (cn *clusterNode) importReplica(c *conn, slots []int) error {
	now := time.Now().UnixNano()
	for _, s := range slots {
		m := c.importOf(s)
		if m == nil || m.state.Load() != moveImporting {
			return fmt.Errorf("chkv: slot %d is not being imported", s)
		}
	}
	for _, s := range slots {
		m := c.importOf(s)
		cn.replicaSince[s].Store(now)
		if cn.moves[s].CompareAndSwap(m, nil) {
			cn.stats.slotsIn.Add(-1)
		}
	}
	return nil
}

// resolveReplicas returns the replicas that follow imported slots from
// their source, given as id@addr (or a bare id this node's table knows).
// A replica it cannot place fails the commit: leading the slots without it
// would acknowledge writes that no other copy holds.
func (cn *clusterNode) resolveReplicas(items []string) ([]Member, error) {
	t, _ := cn.current()
	var out []Member
	for _, it := range items {
		id, addr, ok := strings.Cut(it, "@")
		if !ok {
			m, known := t.Member(NodeID(id))
			if t == nil || !known {
				return nil, fmt.Errorf("chkv: unknown replica %q to keep", truncate([]byte(it), 64))
			}
			addr = m.Addr
		}
		if id == "" || addr == "" {
			return nil, fmt.Errorf("chkv: bad replica %q to keep", truncate([]byte(it), 64))
		}
		if NodeID(id) != cn.id {
			out = append(out, Member{ID: NodeID(id), Addr: addr})
		}
	}
	return out, nil
}

// keepReplicas makes the writes of slots, just imported, go to the replicas
// that followed them from the source.
func (cn *clusterNode) keepReplicas(keep []Member, slots []int) {
	for _, m := range keep {
		for _, s := range slots {
			cn.addPending(s, m.ID, m.Addr)
		}
	}
}

// importData applies a DATA request's records to slots being imported.
func (cn *clusterNode) importData(c *conn, b []byte) error {
	st := cn.d.store
	d := recordDecoder{b: b}
	var rec record
	locked := -1
	defer func() {
		if locked >= 0 {
			st.slot(locked).mu.Unlock()
		}
	}()
	var keys int64
	var m *slotMove
	for d.next(&rec) {
		if rec.slot != locked {
			if locked >= 0 {
				st.slot(locked).mu.Unlock()
			}
			locked = rec.slot
			st.slot(locked).mu.Lock()
			if m = c.importOf(locked); m == nil || m.state.Load() != moveImporting {
				return fmt.Errorf("chkv: slot %d is not being imported", locked)
			}
		}
		if rec.op == recHint {
			// The source's key count before a slot's snapshot: size an
			// empty map for it at once instead of growing it, within
			// what the bytes left of this request can fill.
			st.presize(locked, min(int(min(rec.version, 1<<30)), len(d.b)/presizeBytesPerKey))
			continue
		}
		if err := st.applyRecord(&rec, &m.digest); err != nil {
			return err
		}
		if rec.op == recSetString || rec.op == recSetList || rec.op == recDel {
			keys++
		}
	}
	cn.stats.keysReceived.Add(keys)
	cn.stats.bytesReceived.Add(int64(len(b)))
	return d.err
}

// importDigest raises each slot's version sequence to the source's and
// answers the slot's live key count and digest, for each slot.
func (cn *clusterNode) importDigest(c *conn, args [][]byte) error {
	now, err := strconv.ParseInt(string(args[0]), 10, 64)
	if err != nil {
		return errors.New("chkv: bad time")
	}
	type pair struct {
		slot int
		seq  uint64
		m    *slotMove
	}
	ps := make([]pair, 0, len(args)/2)
	for i := 1; i+1 < len(args); i += 2 {
		s, err1 := strconv.Atoi(string(args[i]))
		seq, err2 := strconv.ParseUint(string(args[i+1]), 10, 64)
		if err1 != nil || err2 != nil || s < 0 || s >= NumSlots {
			return errors.New("chkv: bad slot or sequence")
		}
		m := c.importOf(s)
		if m == nil || m.state.Load() != moveImporting {
			return fmt.Errorf("chkv: slot %d is not being imported", s)
		}
		ps = append(ps, pair{s, seq, m})
	}
	c.w.array(2 * len(ps))
	st := cn.d.store
	for _, p := range ps {
		sd := st.slot(p.slot)
		sd.mu.Lock()
		sd.seq = max(sd.seq, p.seq)
		k, d := st.importedDigest(p.slot, &p.m.digest, now)
		sd.mu.Unlock()
		c.w.int(k)
		c.w.int(int64(d))
	}
	return nil
}

// abortImport ends the import m of slot s without taking the slot: its
// partial copy is dropped, except a promoted replica's, which keeps its copy.
func (cn *clusterNode) abortImport(s int, m *slotMove) {
	st := cn.d.store
	sd := st.slot(s)
	sd.mu.Lock()
	if cn.moves[s].CompareAndSwap(m, nil) {
		if !m.promote {
			st.clearSlot(s, msgClusterDown)
		}
		cn.stats.slotsIn.Add(-1)
	}
	sd.mu.Unlock()
}

// importEnd commits (the slots are served to ASKING clients until the
// table gives them to this node) or abandons (their data is dropped) the
// import of slots.
func (cn *clusterNode) importEnd(c *conn, slots []int, commit bool) error {
	if commit && cn.sawLeaving.Load() {
		cn.importEnd(c, slots, false)
		return errLeavingImport
	}
	for _, s := range slots {
		m := c.importOf(s)
		if m == nil {
			if commit {
				return fmt.Errorf("chkv: slot %d is not being imported", s)
			}
			continue
		}
		if commit {
			m.state.Store(moveImported)
			continue
		}
		cn.abortImport(s, m)
	}
	if commit && cn.sawLeaving.Load() {
		// The table saying the node leaves arrived meanwhile. Its
		// heartbeat counts imports after it saw that; this commit was
		// stored before this second look, so either the count holds it or
		// it is undone here: the NameNode never removes the node with data
		// no table gives it.
		for _, s := range slots {
			if m := c.importOf(s); m != nil {
				cn.abortImport(s, m)
			}
		}
		return errLeavingImport
	}
	if commit {
		cn.stats.slotsRecv.Add(int64(len(slots)))
	}
	return nil
}

// errLeavingImport refuses to commit an import on a leaving node: the
// source keeps the slots.
var errLeavingImport = errors.New("chkv: this node is leaving the cluster: it takes no slots")
