// NameNode in Raft mode: the table and plan committed through a Raft group of NameNodes, only the leader acting on them.

package chkv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// In Raft mode (NameNodeConfig.RaftPeers set) every NameNode of the group
// holds the committed table and plan in its NameNodeFSM. Only the leader
// detects failures, probes, plans, moves data and pushes tables; each table
// and plan it adopts is a Raft entry committed before it is adopted
// (setPlanLocked, publishLocked). A new leader rebuilds its state from the
// FSM with fresh failure detection timers and resumes any movement in
// flight; a leader that steps down stops all of it. Followers answer
// CHKV.TABLE, CHKV.WATCH and CHKV.STATUS from the committed state and
// redirect every request that changes state to the leader.

// msgNotLeader starts a follower's answer to a request that changes state;
// " leader is <id> <addr>" or " no leader elected yet" follows.
const msgNotLeader = "ERR chkv: not the NameNode leader;"

// raftApplyTimeout bounds the wait for an entry to enter the leader's queue.
const raftApplyTimeout = 5 * time.Second

// nnRaft is a NameNode's Raft member and committed state.
type nnRaft struct {
	node *RaftNode
	fsm  *NameNodeFSM
	id   string
	addr string // this NameNode's address in the group

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when the FSM applies a table
}

// raftMode reports whether the config runs a NameNode in a Raft group.
func (c *NameNodeConfig) raftMode() bool { return len(c.RaftPeers) > 0 }

// validateRaft checks the Raft settings.
func (c *NameNodeConfig) validateRaft() error {
	if !c.raftMode() {
		return nil
	}
	if c.DataDir == "" {
		return errors.New("chkv: a NameNode in a Raft group needs a DataDir")
	}
	for _, p := range c.RaftPeers {
		if p.ID == c.RaftID {
			if c.Addr == "" || c.Addr == "127.0.0.1:0" {
				c.Addr = p.Addr
			}
			return nil
		}
	}
	return fmt.Errorf("chkv: NameNode id %q is not among its Raft peers", c.RaftID)
}

// startRaftNameNode starts a NameNode as one member of its Raft group: RESP
// and Raft share its listener (ConnMux).
func startRaftNameNode(ctx context.Context, cfg NameNodeConfig) (*NameNode, error) {
	ln, err := cfg.Transport.Listen(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("chkv: listen %s: %w", cfg.Addr, err)
	}
	mux := NewConnMux(ln)
	empty := new(Table)
	n := newNameNode(cfg, mux.RESP(), empty)
	b, _ := empty.MarshalBinary()
	n.table, n.tableBytes = empty, b
	n.primariesSinceLocked(nil)
	n.lctx, n.lcancel = context.WithCancel(n.ctx) // renewed at each change of leader
	self := cfg.Addr
	for _, p := range cfg.RaftPeers {
		if p.ID == cfg.RaftID {
			self = p.Addr
		}
	}
	rf := &nnRaft{fsm: &NameNodeFSM{}, id: cfg.RaftID, addr: self, changed: make(chan struct{})}
	rf.fsm.OnTable = func(*Table, []byte) { rf.notify() }
	node, err := StartRaftNode(ctx, RaftNodeConfig{
		ID: cfg.RaftID, Peers: cfg.RaftPeers, DataDir: cfg.DataDir,
		Listener: mux.Raft(), Transport: cfg.Transport, FSM: rf.fsm, Secret: cfg.ClusterSecret,
		HeartbeatTimeout: cfg.RaftHeartbeatTimeout, ElectionTimeout: cfg.RaftElectionTimeout,
	})
	if err != nil {
		mux.Close()
		n.cancel()
		return nil, err
	}
	rf.node = node
	n.raft = rf
	n.wg.Add(2)
	go n.acceptLoop()
	go n.followLeadership()
	cfg.Logger.Info("namenode listening", "addr", ln.Addr().String(), "raft_id", cfg.RaftID, "peers", len(cfg.RaftPeers))
	return n, nil
}

// notify wakes the CHKV.WATCH connections after the FSM applied a table.
func (rf *nnRaft) notify() {
	rf.mu.Lock()
	close(rf.changed)
	rf.changed = make(chan struct{})
	rf.mu.Unlock()
}

// committed returns the committed table (version 0 before the first), its
// encoding, and a channel closed when it changes.
func (rf *nnRaft) committed() (*Table, []byte, <-chan struct{}) {
	rf.mu.Lock()
	ch := rf.changed
	rf.mu.Unlock()
	t, b, _ := rf.fsm.committed()
	if t == nil {
		t = new(Table)
		b, _ = t.MarshalBinary()
	}
	return t, b, ch
}

// commit proposes an entry and waits until the group committed and this
// member applied it. On an error the entry did not apply here.
func (rf *nnRaft) commit(kind byte, t *Table) error {
	b, err := encodeNameNodeEntry(kind, t)
	if err != nil {
		return err
	}
	f := rf.node.Raft.Apply(b, raftApplyTimeout)
	if err := f.Error(); err != nil {
		return fmt.Errorf("chkv: namenode: raft commit: %w", err)
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

// leader returns the current leader's id and address ("" when unknown).
func (rf *nnRaft) leader() (id, addr string) {
	a, i := rf.node.Raft.LeaderWithID()
	return string(i), string(a)
}

// notLeaderMsg is a follower's answer to a request that changes state.
func (rf *nnRaft) notLeaderMsg() string {
	id, addr := rf.leader()
	if id == "" || id == rf.id {
		// No leader, or this member won an election and is still
		// rebuilding its state: the client retries shortly.
		return msgNotLeader + " no leader elected yet"
	}
	return fmt.Sprintf("%s leader is %s %s", msgNotLeader, id, addr)
}

// raftStatus is a NameNode's Raft member in CHKV.STATUS.
type raftStatus struct {
	ID          string `json:"id"`
	Addr        string `json:"addr"`
	Role        string `json:"role"` // leader, follower or candidate
	Term        uint64 `json:"term"`
	LastApplied uint64 `json:"last_applied"`
	LeaderID    string `json:"leader_id"`
	LeaderAddr  string `json:"leader_addr"`
}

func (rf *nnRaft) status() *raftStatus {
	r := rf.node.Raft
	id, addr := rf.leader()
	st := r.Stats()
	var term uint64
	fmt.Sscan(st["term"], &term)
	return &raftStatus{
		ID: rf.id, Addr: rf.addr, Role: strings.ToLower(r.State().String()),
		Term: term, LastApplied: r.AppliedIndex(), LeaderID: id, LeaderAddr: addr,
	}
}

// changesState reports whether a NameNode command changes state: in Raft
// mode only the leader serves it.
func changesState(name string) bool {
	switch name {
	case "CHKV.REGISTER", "CHKV.HEARTBEAT", "CHKV.LEAVE", "CHKV.HANDEDOFF", "CHKV.ISRDROP", "CHKV.REASSIGNLOST":
		return true
	}
	return false
}

// leadingLocked reports whether this NameNode acts on the cluster: always
// alone, only as the Raft leader with its state rebuilt in a group.
func (n *NameNode) leadingLocked() bool {
	// Raft may have deposed it before followLeadership hears of it.
	return n.raft == nil || (n.leading && n.raft.node.Raft.State() == raft.Leader)
}

// followLeadership rebuilds the NameNode's state each time it becomes
// the leader and stops acting each time it loses leadership.
func (n *NameNode) followLeadership() {
	defer n.wg.Done()
	r := n.raft.node.Raft
	ch := r.LeaderCh()
	for {
		select {
		case <-n.closed:
			return
		case leader := <-ch:
			if leader {
				n.becomeLeader(r)
			} else {
				n.stepDown()
			}
		}
	}
}

// becomeLeader waits until every entry of earlier terms applied here, then
// takes over from the committed table and plan as a NameNode resuming from
// its DataDir would: fresh failure detection timers for every member that
// is not down, leaving members from the plan's states, and the movement in
// flight resumed.
func (n *NameNode) becomeLeader(r *raft.Raft) {
	start := time.Now()
	for {
		if r.State() != raft.Leader || n.isClosed() {
			return
		}
		if err := r.Barrier(raftApplyTimeout).Error(); err == nil {
			break
		} else {
			n.cfg.Logger.Warn("namenode: raft barrier", "err", err)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if r.State() != raft.Leader || n.isClosed() {
		return
	}
	n.resetLocked()
	table, tb, _ := n.raft.committed()
	_, _, plan := n.raft.fsm.committed()
	if plan == nil {
		plan = table
	}
	n.table, n.tableBytes, n.plan = table, tb, plan
	n.primariesSinceLocked(nil)
	for _, m := range plan.Members {
		if m.State == NodeLeaving {
			n.leaving[m.ID] = true
		}
	}
	n.leading = true
	n.syncPeersLocked()
	n.beginProgressLocked()
	if err := n.reconcileLocked(); err != nil {
		n.cfg.Logger.Error("namenode: reconcile", "err", err)
	}
	n.cfg.Logger.Info("namenode: leader", "raft_id", n.raft.id, "version", table.Version, "members", len(plan.Members), "took", time.Since(start))
}

// stepDown stops failure detection, pushes and data movement.
func (n *NameNode) stepDown() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.leading {
		return
	}
	n.leading = false
	n.resetLocked()
	n.cfg.Logger.Warn("namenode: no longer the leader", "raft_id", n.raft.id)
}

// resetLocked ends everything a leader runs and forgets its in-memory
// state: peers, batches (whose answers no longer count), the retry timer.
func (n *NameNode) resetLocked() {
	n.lcancel()
	n.lctx, n.lcancel = context.WithCancel(n.ctx)
	n.epoch++
	for id, p := range n.peers {
		p.stop()
		delete(n.peers, id)
	}
	for _, j := range n.mig.jobs {
		j.cancel()
	}
	if n.mig.timer != nil {
		n.mig.timer.Stop()
		n.mig.timer = nil
	}
	n.mig = newMigrationState()
	n.incarnation = map[NodeID]string{}
	n.lostFrom = map[int]NodeID{}
	n.leaving = map[NodeID]bool{}
	n.departed = map[NodeID]string{}
	n.isrDrops = map[NodeID]uint64{}
}

// Leading reports whether this NameNode acts on the cluster: always when
// alone; in a Raft group, while it is the leader with its state rebuilt.
func (n *NameNode) Leading() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leadingLocked()
}

// RaftNode returns the NameNode's Raft member, nil when it runs alone.
func (n *NameNode) RaftNode() *raft.Raft {
	if n.raft == nil {
		return nil
	}
	return n.raft.node.Raft
}

// refuseLocked answers the redirect and reports true when this NameNode
// does not lead: a request that changes state checks it under n.mu, as
// leadership may have changed since exec let it through.
func (n *NameNode) refuseLocked(w *replyWriter) bool {
	if n.leadingLocked() {
		return false
	}
	w.errorText(n.raft.notLeaderMsg())
	return true
}
