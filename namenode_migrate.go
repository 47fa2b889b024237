// The NameNode's side of data movement: the plan (target table), the served table that approaches it slot batch by slot batch, and migration progress.

package chkv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The NameNode keeps two tables. The plan is what NextTable computed from
// the membership; the served table (Table, pushed to every node and client)
// is what the DataNodes hold data for. After a change the NameNode moves the
// served table towards the plan: slots whose data cannot move (their owner
// is down, or the primary stays and only replicas change) flip at once;
// the others move in batches (CHKV.MIGRATE to the source DataNode) and flip
// when the source reports them handed off. When the served table reaches the
// plan, members that left are removed.

// Defaults of data movement.
const (
	DefaultMigrateParallel = 4    // concurrent batches per source DataNode
	DefaultMigrateBatch    = 1024 // slots per batch: each finished batch is one table, composed, pushed and adopted by every node
	migrateJobTimeout      = 5 * time.Minute
	migrateRetryMin        = 50 * time.Millisecond
	migrateRetryMax        = 5 * time.Second
)

// nnJob is one batch of slots moving from source to target.
type nnJob struct {
	source, target Member
	slots          []int
	op             migrateOp // move (the default), copy to a new replica, or promote an in-sync one
	// targetInc is the target's process incarnation when the batch
	// started: a target restarted meanwhile lost what the batch gave it.
	targetInc string
	// targetFails is how often the target had been declared down when
	// the batch started: one declared down meanwhile may have dropped
	// what the batch gave it (it adopts a table that gives it nothing),
	// although its process lives on.
	targetFails uint64
	// sourceInc and sourceFails are the same of the source: a copy made
	// by a source that restarted (empty) or was declared down while the
	// batch ran (another copy may lead the slots and take writes this
	// one never sees) is not the slots' data.
	sourceInc   string
	sourceFails uint64
	// drops is isrDrops of the target and the kept replicas when the
	// batch started.
	drops  map[NodeID]uint64
	cancel context.CancelFunc
	epoch  uint64 // NameNode.epoch when it started: a batch of an earlier leadership no longer counts
}

// migrationState is the NameNode's bookkeeping of data movement. It is
// guarded by NameNode.mu.
type migrationState struct {
	jobs     map[int]*nnJob    // slot -> its batch in flight
	perSrc   map[NodeID]int    // batches in flight per source
	failures map[int]int       // slot -> failed attempts in a row
	retryAt  map[int]time.Time // slot -> no new attempt before
	timer    *time.Timer       // the next retry

	// Progress since the plan last changed from converged.
	started     time.Time
	finished    time.Time // when the movement ended; zero while it runs
	slotsTotal  int
	slotsDone   int
	slotsCopied int // of slotsDone, copies that filled a replica
	copiesTotal int // of slotsTotal, replica copies to fill (re-replication)
	copyKeys    int64
	copyBytes   int64
	keysMoved   int64
	bytesMoved  int64
	nodes       map[NodeID]*nodeProgress
}

type nodeProgress struct {
	slotsIn, slotsOut int // still to move
	keysIn, keysOut   int64
	bytesIn, bytesOut int64
}

// MigrationStatus is the progress of data movement, in chkv status (JSON
// "migration") and the NameNode's CHKV.STATUS.
type MigrationStatus struct {
	Active      bool `json:"active"`       // slots remain to move
	SlotsTotal  int  `json:"slots_total"`  // slots to move since the movement began
	SlotsDone   int  `json:"slots_done"`   // of those, moved
	SlotsMoving int  `json:"slots_moving"` // in batches under way
	SlotsCopied int  `json:"slots_copied"` // of slots_done, replica copies filled (re-replication) rather than moves
	// Re-replication on its own: replica copies to fill since the movement
	// began (of slots_total), the keys and bytes they copied (of keys_moved
	// and bytes_moved), their rate and the estimate of their time left.
	CopiesTotal    int                   `json:"copies_total"`
	CopyKeys       int64                 `json:"copy_keys"`
	CopyBytes      int64                 `json:"copy_bytes"`
	CopyKeysPerSec float64               `json:"copy_keys_per_sec"`
	CopyETASec     float64               `json:"copy_eta_sec"` // 0 when unknown or done
	KeysMoved      int64                 `json:"keys_moved"`
	BytesMoved     int64                 `json:"bytes_moved"`
	KeysPerSec     float64               `json:"keys_per_sec"`
	ElapsedSec     float64               `json:"elapsed_sec"`
	ETASec         float64               `json:"eta_sec"` // estimate of the time left; 0 when unknown or done
	Nodes          []NodeMigrationStatus `json:"nodes"`
}

// NodeMigrationStatus is one DataNode's share of a MigrationStatus.
type NodeMigrationStatus struct {
	ID       NodeID `json:"id"`
	SlotsIn  int    `json:"slots_in"`  // slots still to receive
	SlotsOut int    `json:"slots_out"` // slots still to send
	KeysIn   int64  `json:"keys_in"`
	KeysOut  int64  `json:"keys_out"`
	BytesIn  int64  `json:"bytes_in"`
	BytesOut int64  `json:"bytes_out"`
}

// sameOwners reports whether slot s has the same owner list in a and b.
func sameOwners(a, b *Table, s int) bool {
	if a.cnt[s] != b.cnt[s] || a.lost[s] != b.lost[s] {
		return false
	}
	for i := range int(a.cnt[s]) {
		if a.Members[a.ownRow(s)[i]].ID != b.Members[b.ownRow(s)[i]].ID {
			return false
		}
	}
	return true
}

// composeTable builds a table from members and per-slot owner lists
// (owners returns the ids, primary first, or lost).
func composeTable(version uint64, replicas int, members []Member, owners func(s int) ([]NodeID, bool)) (*Table, error) {
	t := newTable(version, replicas, members)
	for s := range NumSlots {
		ids, lost := owners(s)
		t.lost[s] = lost
		for _, id := range ids {
			i, ok := findMember(members, id)
			if !ok {
				return nil, fmt.Errorf("%w: slot %d owner %q is not a member", ErrBadTable, s, id)
			}
			if int(t.cnt[s]) == replicas+1 {
				return nil, fmt.Errorf("%w: slot %d has too many owners", ErrBadTable, s)
			}
			t.ownRow(s)[t.cnt[s]] = uint16(i)
			t.cnt[s]++
		}
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

// resolveOwners calls owners once for every slot and returns a function
// answering from the results: a flip consults the owners three times.
func resolveOwners(owners func(s int) ([]NodeID, bool)) func(s int) ([]NodeID, bool) {
	ids := make([][]NodeID, NumSlots)
	lost := make([]bool, NumSlots)
	for s := range NumSlots {
		ids[s], lost[s] = owners(s)
	}
	return func(s int) ([]NodeID, bool) { return ids[s], lost[s] }
}

// ownersOf returns slot s's owner ids in t and whether it is lost.
func ownersOf(t *Table, s int) ([]NodeID, bool) { return t.Owners(s), t.lost[s] }

// holds reports whether member id may still hold data: it is in plan and not down.
func holds(plan *Table, id NodeID) bool {
	m, ok := plan.Member(id)
	return ok && m.State != NodeDown
}

// onlyCopyDown reports whether slot s, in database mode, is served by
// owners that are all down in plan while plan gives it to others: the data
// died with them (until they return), so moving the slot would serve it
// empty. A plan made while a node was leaving gives its slots away before
// they move; if the node then dies, this is what catches them.
func (n *NameNode) onlyCopyDown(plan *Table, s int) bool {
	if n.cfg.Ring.CacheMode {
		return false
	}
	owners := n.table.Owners(s)
	if len(owners) == 0 {
		return false
	}
	for _, id := range owners {
		if holds(plan, id) {
			return false
		}
	}
	return true
}

// patchPlanLocked keeps slots whose data still lives out of the plan's lost
// ones: when a node that was to receive a slot fails before the slot moved,
// the plan loses the slot although its served owner still has the data.
// Such a slot goes back to its served owner (or, when that owner is leaving,
// to the live member leading fewest slots). And a slot lost with its only
// copy goes back to the process that held it when that very process is live
// again: a node cut off long enough to be declared down comes back with
// its data (a restarted one, with a new incarnation, does not).
func (n *NameNode) patchPlanLocked(plan *Table) (*Table, error) {
	served := n.table
	patch := map[int]NodeID{}
	var leastLoaded NodeID
	lose := map[int]bool{}
	for s := range NumSlots {
		if !plan.lost[s] {
			if n.onlyCopyDown(plan, s) {
				lose[s] = true
			}
			continue
		}
		p, ok := served.Primary(s)
		if !ok {
			// Lost already: back to the process that held it, if that
			// very process is live again (a partition healed). One that
			// is leaving holds the data (or its handoff) too: the slot
			// goes to a live member, and restoreLostLocked gives it back
			// to the holder first, so that it moves there with its data.
			id, found := n.lostFrom[s]
			if !found {
				continue
			}
			m, ok := plan.Member(id)
			if ok && m.State.Live() {
				patch[s] = id
			}
			if !ok || m.State != NodeLeaving {
				continue
			}
		} else if !holds(plan, p.ID) {
			continue
		} else if m, _ := plan.Member(p.ID); m.State.Live() {
			patch[s] = p.ID
			continue
		} else if m.State != NodeLeaving {
			continue // down with the data: lost indeed, until it returns
		}
		if leastLoaded == "" {
			best := -1
			for _, m := range plan.Members {
				if l, _ := plan.Load(m.ID); m.State.Live() && (best < 0 || l < best) {
					best, leastLoaded = l, m.ID
				}
			}
		}
		if leastLoaded != "" {
			patch[s] = leastLoaded
		}
	}
	if len(patch) == 0 && len(lose) == 0 {
		return plan, nil
	}
	if len(patch) > 0 {
		n.cfg.Logger.Info("namenode: slots kept from loss: their data still lives", "slots", len(patch))
	}
	if len(lose) > 0 {
		n.cfg.Logger.Warn("namenode: slots lost until their node returns: it died holding their only copy", "slots", len(lose))
	}
	return composeTable(plan.Version, plan.Replicas, plan.Members, func(s int) ([]NodeID, bool) {
		if id, ok := patch[s]; ok {
			return []NodeID{id}, false
		}
		if lose[s] {
			return nil, true
		}
		return ownersOf(plan, s)
	})
}

// servedMembers returns the members of the next served table: the plan's,
// with live members that still wait for slots marked joining.
func (n *NameNode) servedMembers(plan *Table, owners func(s int) ([]NodeID, bool)) []Member {
	waiting := map[NodeID]bool{}
	for s := range NumSlots {
		if ids, _ := owners(s); len(ids) > 0 {
			if p, ok := plan.Primary(s); ok && p.ID != ids[0] {
				waiting[p.ID] = true
			}
		}
	}
	ms := slices.Clone(plan.Members)
	for i := range ms {
		if ms[i].State.Live() {
			ms[i].State = NodeUp
			if waiting[ms[i].ID] {
				ms[i].State = NodeJoining
			}
		}
	}
	return ms
}

// reconcileLocked moves the served table towards the plan: it flips what
// needs no copy, starts batches for the rest (bounded per source), and when
// the two agree removes members that have left. It publishes a new served
// table when anything changed.
func (n *NameNode) reconcileLocked() error {
	if n.isClosed() || !n.leadingLocked() {
		return nil
	}
	if n.bootstrappingLocked() {
		return nil
	}
	if err := n.restoreLostLocked(); err != nil {
		return err
	}
	ms := &n.mig
	served, plan := n.table, n.plan
	flip := map[int]bool{}       // to the plan's owners
	flipTo := map[int][]NodeID{} // to these owners
	type pair struct {
		src, dst NodeID
		op       string
	}
	pending := map[pair][]int{}
	ops := map[pair]migrateOp{}
	now := time.Now()
	var nextRetry time.Time
	waitRetry := func(s int) bool {
		if t, ok := ms.retryAt[s]; ok && now.Before(t) {
			if nextRetry.IsZero() || t.Before(nextRetry) {
				nextRetry = t
			}
			return true
		}
		return false
	}
	for s := range NumSlots {
		if ms.jobs[s] != nil || sameOwners(served, plan, s) {
			continue
		}
		sp, sok := served.Primary(s)
		pp, pok := plan.Primary(s)
		if sok && pok && !n.cfg.NoDataMovement && !holds(plan, sp.ID) {
			// The primary is gone: an in-sync replica takes over, the
			// plan's choice when it is one.
			if cand := replicaCandidates(served, plan, s); len(cand) > 0 {
				if i := slices.Index(cand, pp.ID); i > 0 {
					cand[0], cand[i] = cand[i], cand[0]
				}
				flipTo[s] = cand
				delete(n.lostFrom, s)
				continue
			}
		}
		if !sok && pok && n.lostFrom[s] == pp.ID && len(plan.Owners(s)) > 1 {
			// A lost slot back with the node that held it: that node alone
			// has the data, so it serves the slot alone until copies fill
			// the plan's replicas (the next pass starts them). Flipping
			// to the plan's owners would name replicas that hold nothing
			// in-sync copies.
			flipTo[s] = []NodeID{pp.ID}
			delete(n.lostFrom, s)
			continue
		}
		if !sok || !pok || !holds(plan, sp.ID) || n.cfg.NoDataMovement {
			flip[s] = true // no data to move, or it stays where it is
			switch {
			case sok && plan.lost[s]:
				n.lostFrom[s] = sp.ID
			case pok:
				delete(n.lostFrom, s)
			}
			continue
		}
		// Replicas the plan no longer wants, or that are down, leave first.
		planned := plan.Owners(s)
		owners := served.Owners(s)
		keep := []NodeID{sp.ID}
		for _, id := range owners[1:] {
			if slices.Contains(planned, id) && holds(plan, id) {
				keep = append(keep, id)
			}
		}
		if len(keep) < len(owners) {
			flipTo[s] = keep
			continue
		}
		if sp.ID != pp.ID {
			if waitRetry(s) {
				continue
			}
			op := migrateOp{mode: modeMove}
			for _, id := range keep {
				if id == pp.ID {
					op.mode = modePromote // an in-sync replica: no copy
				} else if slices.Contains(planned, id) {
					op.keep = append(op.keep, id) // follows the slot under the new primary
				}
			}
			k := pair{sp.ID, pp.ID, op.String()}
			pending[k] = append(pending[k], s)
			ops[k] = op
			continue
		}
		// Same primary: fill a planned replica the slot lacks.
		var missing NodeID
		for _, id := range planned[1:] {
			if m, ok := plan.Member(id); ok && m.State.Live() && !slices.Contains(owners, id) {
				missing = id
				break
			}
		}
		if missing == "" {
			if len(owners) == len(planned) {
				flip[s] = true // the same copies in another order
			}
			continue
		}
		if waitRetry(s) {
			continue
		}
		k := pair{sp.ID, missing, modeCopy}
		pending[k] = append(pending[k], s)
		ops[k] = migrateOp{mode: modeCopy}
	}
	if !nextRetry.IsZero() {
		n.scheduleRetryLocked(nextRetry.Sub(now))
	}
	if len(flip) == 0 && !slices.Equal(n.table.Members, n.tableMembersLocked(func(s int) ([]NodeID, bool) { return ownersOf(served, s) })) {
		// No slot flips, but the members changed (one joined and waits
		// for its slots): the served table shows it at once.
		if err := n.flipLocked(func(s int) ([]NodeID, bool) { return ownersOf(served, s) }); err != nil {
			return err
		}
	}
	if len(flip) > 0 || len(flipTo) > 0 {
		if err := n.flipLocked(func(s int) ([]NodeID, bool) {
			if ids, ok := flipTo[s]; ok {
				return ids, false
			}
			if flip[s] {
				return ownersOf(plan, s)
			}
			return ownersOf(served, s)
		}); err != nil {
			return err
		}
		if len(flipTo) > 0 {
			// Promotions and dropped replicas may be followed by moves or
			// copies that the next pass sees.
			return n.reconcileLocked()
		}
	}
	// Start batches, pairs in a fixed order, bounded per source.
	pairs := make([]pair, 0, len(pending))
	for k := range pending {
		pairs = append(pairs, k)
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].src != pairs[j].src {
			return pairs[i].src < pairs[j].src
		}
		if pairs[i].dst != pairs[j].dst {
			return pairs[i].dst < pairs[j].dst
		}
		return pairs[i].op < pairs[j].op
	})
	for _, k := range pairs {
		slots := pending[k]
		for len(slots) > 0 && ms.perSrc[k.src] < n.cfg.MigrateParallel {
			b := min(len(slots), n.cfg.MigrateBatch)
			src, _ := n.table.Member(k.src)
			dst, _ := n.plan.Member(k.dst)
			n.startJobLocked(&nnJob{source: src, target: dst, slots: slices.Clone(slots[:b]), op: ops[k]})
			slots = slots[b:]
		}
	}
	if len(ms.jobs) == 0 && len(pending) == 0 && nextRetry.IsZero() {
		return n.finishLocked()
	}
	return nil
}

// restoreLostLocked gives a slot the served table has lost back to the node
// that held it when that node is live again, before anything else: the
// data is there. When the plan wants the slot elsewhere it then moves as
// usual; flipping it there directly would serve it empty.
func (n *NameNode) restoreLostLocked() error {
	served, plan := n.table, n.plan
	restore := map[int]NodeID{}
	for s, id := range n.lostFrom {
		if _, ok := served.Primary(s); ok || n.mig.jobs[s] != nil {
			continue
		}
		if pp, ok := plan.Primary(s); ok && pp.ID == id {
			continue // the plain flip gives it back
		}
		m, ok := plan.Member(id)
		_, planned := plan.Primary(s)
		if ok && (m.State.Live() || m.State == NodeLeaving && planned) {
			// A leaving holder gets it back only to move it on: with no
			// owner in the plan, the next flip would lose it again.
			restore[s] = id
		}
	}
	if len(restore) == 0 {
		return nil
	}
	n.cfg.Logger.Info("namenode: lost slots back with the node that held them", "slots", len(restore))
	for s := range restore {
		delete(n.lostFrom, s)
	}
	return n.flipLocked(func(s int) ([]NodeID, bool) {
		if id, ok := restore[s]; ok {
			return []NodeID{id}, false
		}
		return ownersOf(served, s)
	})
}

// bootstrappingLocked reports whether a new cluster still waits for
// ExpectDataNodes registrations before it serves its first table.
func (n *NameNode) bootstrappingLocked() bool {
	if n.cfg.ExpectDataNodes == 0 {
		return false
	}
	for s := range NumSlots {
		if _, ok := n.table.Primary(s); ok {
			return false // the cluster has served slots: data may live
		}
	}
	live := 0
	for _, m := range n.plan.Members {
		if m.State.Live() {
			live++
		}
	}
	return live < n.cfg.ExpectDataNodes
}

// flipLocked publishes the next served table with the given owners.
func (n *NameNode) flipLocked(owners func(s int) ([]NodeID, bool)) error {
	owners = resolveOwners(owners)
	members := n.tableMembersLocked(owners)
	t, err := composeTable(n.table.Version+1, max(n.table.Replicas, n.plan.Replicas), members, owners)
	if err != nil {
		return err
	}
	return n.publishLocked(t)
}

// tableMembersLocked returns the members of the next served table with
// the given owners, sorted by id.
func (n *NameNode) tableMembersLocked(owners func(s int) ([]NodeID, bool)) []Member {
	members := n.servedMembers(n.plan, owners)
	for _, m := range n.table.Members { // a member removed from the plan may still own slots here
		if _, ok := findMember(members, m.ID); !ok {
			for s := range NumSlots {
				if ids, _ := owners(s); slices.Contains(ids, m.ID) {
					members = append(members, m)
					break
				}
			}
		}
	}
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return members
}

// finishLocked runs when the served table has reached the plan: members
// that left are removed from the plan, the served table becomes the plan
// exactly, and the progress figures close.
func (n *NameNode) finishLocked() error {
	removed := false
	for _, m := range n.plan.Members {
		if m.State != NodeLeaving {
			continue
		}
		if p, r := n.plan.Load(m.ID); p > 0 || r > 0 {
			continue
		}
		if p := n.peers[m.ID]; p != nil && p.leavingImports != 0 && !n.cfg.NoDataMovement {
			// Not before the node, knowing it leaves, said it holds no
			// import the table does not give it: a source cut off from us
			// may have handed slots to it that we have not heard of, and
			// removing it would drop their data (its heartbeat brings us
			// back here).
			continue
		}
		delete(n.leaving, m.ID)
		n.departed[m.ID] = n.incarnation[m.ID]
		next, err := NextTable(n.plan, Change{Kind: ChangeRemove, Member: Member{ID: m.ID}}, n.cfg.Ring)
		if err != nil {
			return err
		}
		if err := n.setPlanLocked(next); err != nil {
			return err
		}
		n.cfg.Logger.Info("namenode: node left", "id", m.ID)
		removed = true
	}
	if removed {
		// The plan without the member may place other slots anew (a
		// node down meanwhile): those must move, not flip.
		return n.reconcileLocked()
	}
	same := len(n.table.Members) == len(n.plan.Members) && n.table.Replicas == n.plan.Replicas
	for i := 0; same && i < len(n.plan.Members); i++ {
		same = n.table.Members[i] == n.plan.Members[i]
	}
	for s := 0; same && s < NumSlots; s++ {
		same = sameOwners(n.table, n.plan, s)
	}
	if !same {
		t, err := composeTable(n.table.Version+1, n.plan.Replicas, slices.Clone(n.plan.Members), func(s int) ([]NodeID, bool) { return ownersOf(n.plan, s) })
		if err != nil {
			return err
		}
		if err := n.publishLocked(t); err != nil {
			return err
		}
	}
	if n.rebalanceLocked() {
		return nil // more to move
	}
	ms := &n.mig
	if ms.slotsTotal > 0 && ms.slotsDone >= ms.slotsTotal && ms.finished.IsZero() {
		ms.finished = time.Now()
		n.cfg.Logger.Info("namenode: data movement done", "slots", ms.slotsDone, "keys", ms.keysMoved, "bytes", ms.bytesMoved, "took", time.Since(ms.started))
	}
	return nil
}

// rebalanceLocked plans a rebalance when the plan just reached is healthy
// (every member live, no slot lost) but not what the ring would make of it:
// a safety net for loads that drifted from the ring's targets while nodes
// flapped. It reports whether the plan changed (the new moves have
// started).
func (n *NameNode) rebalanceLocked() bool {
	for _, m := range n.plan.Members {
		if !m.State.Live() || m.State == NodeLeaving {
			return false
		}
	}
	for s := range NumSlots {
		if n.plan.lost[s] {
			return false
		}
	}
	next, err := NextTable(n.plan, Change{Kind: ChangeRebalance}, n.cfg.Ring)
	if err != nil {
		n.cfg.Logger.Error("namenode: rebalance", "err", err)
		return false
	}
	moved := 0
	for s := range NumSlots {
		if !sameOwners(n.plan, next, s) {
			moved++
		}
	}
	if moved == 0 {
		return false
	}
	n.cfg.Logger.Info("namenode: rebalancing: the loads drifted from the ring's targets", "slots", moved)
	if err := n.setPlanLocked(next); err != nil {
		n.cfg.Logger.Error("namenode: rebalance", "err", err)
		return false
	}
	n.beginProgressLocked()
	if err := n.reconcileLocked(); err != nil {
		n.cfg.Logger.Error("namenode: reconcile", "err", err)
	}
	return true
}

// startJobLocked sends one batch on its way.
func (n *NameNode) startJobLocked(j *nnJob) {
	ms := &n.mig
	ctx, cancel := context.WithTimeout(n.lctx, migrateJobTimeout)
	j.cancel = cancel
	j.epoch = n.epoch
	j.targetInc = n.incarnation[j.target.ID]
	j.targetFails = n.fails[j.target.ID]
	j.sourceInc, j.sourceFails = n.incarnation[j.source.ID], n.fails[j.source.ID]
	j.drops = map[NodeID]uint64{j.target.ID: n.isrDrops[j.target.ID]}
	for _, id := range j.op.keep {
		j.drops[id] = n.isrDrops[id]
	}
	for _, s := range j.slots {
		ms.jobs[s] = j
	}
	ms.perSrc[j.source.ID]++
	rate := 0.0
	if n.cfg.MigrateRate > 0 {
		rate = n.cfg.MigrateRate / float64(n.cfg.MigrateParallel)
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer cancel()
		link := &peerLink{tr: n.cfg.Transport, addr: j.source.Addr, secret: n.cfg.ClusterSecret}
		defer link.close()
		args := []string{"CHKV.MIGRATE", string(j.target.ID), j.target.Addr, strconv.FormatFloat(rate, 'f', -1, 64), j.op.String()}
		if j.targetInc != "" {
			args = append(args, "EXPECT", j.targetInc)
		}
		args = append(args, slotArgs(j.slots)...)
		r, err := link.do(ctx, args...)
		n.mu.Lock()
		defer n.mu.Unlock()
		n.jobDoneLocked(j, r, err)
	}()
}

// jobDoneLocked records a batch's outcome: its slots flip to the target,
// or wait and are tried again.
func (n *NameNode) jobDoneLocked(j *nnJob, r any, err error) {
	if j.epoch != n.epoch {
		return // leadership changed meanwhile: the state it counted in is gone
	}
	ms := &n.mig
	for _, s := range j.slots {
		if ms.jobs[s] == j {
			delete(ms.jobs, s)
		}
	}
	ms.perSrc[j.source.ID]--
	if ms.perSrc[j.source.ID] <= 0 {
		delete(ms.perSrc, j.source.ID)
	}
	if n.isClosed() {
		return
	}
	if err == nil && n.incarnation[j.target.ID] != j.targetInc {
		err = fmt.Errorf("chkv: %s restarted during the batch: what it received is gone", j.target.ID)
	}
	if err == nil && n.fails[j.target.ID] != j.targetFails {
		err = fmt.Errorf("chkv: %s was declared down during the batch: what it received may be gone", j.target.ID)
	}
	if err == nil && (n.incarnation[j.source.ID] != j.sourceInc || n.fails[j.source.ID] != j.sourceFails) {
		err = fmt.Errorf("chkv: the source %s restarted or was declared down during the batch: what it sent may not be the slots' data", j.source.ID)
	}
	var keys, bytes int64
	if a, ok := r.([]any); ok && len(a) == 2 {
		keys, _ = a[0].(int64)
		bytes, _ = a[1].(int64)
	}
	if err != nil {
		now := time.Now()
		for _, s := range j.slots {
			ms.failures[s]++
			ms.retryAt[s] = now.Add(min(migrateRetryMin<<min(ms.failures[s]-1, 10), migrateRetryMax))
		}
		n.cfg.Logger.Warn("namenode: batch failed; will retry", "from", j.source.ID, "to", j.target.ID, "slots", len(j.slots), "err", err)
		var re *RESPError
		if errors.As(err, &re) && strings.Contains(re.Msg, "handed off") {
			n.adoptHandoffLocked(j.source.ID, re.Msg)
		}
		if err := n.reconcileLocked(); err != nil {
			n.cfg.Logger.Error("namenode: reconcile", "err", err)
		}
		return
	}
	for _, s := range j.slots {
		delete(ms.failures, s)
		delete(ms.retryAt, s)
	}
	ms.slotsDone += len(j.slots)
	if j.op.mode == modeCopy {
		ms.slotsCopied += len(j.slots)
		ms.copyKeys += keys
		ms.copyBytes += bytes
	}
	// Moves that follow (a replica after a move) were not known when the
	// movement began: the total grows with them.
	ms.slotsTotal = max(ms.slotsTotal, ms.slotsDone+len(ms.jobs))
	ms.copiesTotal = max(ms.copiesTotal, ms.slotsCopied+copyJobs(ms.jobs))
	ms.keysMoved += keys
	ms.bytesMoved += bytes
	n.progressOf(j.source.ID).keysOut += keys
	n.progressOf(j.source.ID).bytesOut += bytes
	n.progressOf(j.target.ID).keysIn += keys
	n.progressOf(j.target.ID).bytesIn += bytes
	moved := map[int]bool{}
	for _, s := range j.slots {
		moved[s] = true
	}
	served, plan := n.table, n.plan
	err = n.flipLocked(func(s int) ([]NodeID, bool) {
		ids, lost := ownersOf(served, s)
		if !moved[s] {
			return ids, lost
		}
		if j.op.mode == modeCopy {
			// The target is an in-sync replica now, if the slot is still
			// led by the source and the plan still wants the copy there.
			if len(ids) > 0 && ids[0] == j.source.ID && !slices.Contains(ids, j.target.ID) && n.isrDrops[j.target.ID] == j.drops[j.target.ID] &&
				slices.Contains(plan.Owners(s), j.target.ID) && len(ids) <= max(served.Replicas, plan.Replicas) {
				return append(ids, j.target.ID), false
			}
			return ids, lost
		}
		// Moved or promoted: the target leads, and the replicas that
		// followed the slot stay in sync with it.
		// Only those still in the slot's in-sync set: one taken out
		// while the batch ran may have dropped its copy.
		out := []NodeID{j.target.ID}
		for _, id := range j.op.keep {
			if holds(plan, id) && slices.Contains(ids, id) && n.isrDrops[id] == j.drops[id] && len(out) <= max(served.Replicas, plan.Replicas) && !slices.Contains(out, id) {
				if _, ok := plan.Member(id); ok {
					out = append(out, id)
				}
			}
		}
		return out, false
	})
	if err == nil {
		err = n.reconcileLocked()
	}
	if err != nil {
		n.cfg.Logger.Error("namenode: flip after a batch", "err", err)
	}
}

// adoptHandoffLocked handles a source's answer that a slot was handed off
// already ("... handed off: <slot> <target>"): the data is at that target,
// so the served table follows it.
func (n *NameNode) adoptHandoffLocked(from NodeID, msg string) {
	f := strings.Fields(msg[strings.Index(msg, "handed off:")+len("handed off:"):])
	at, _ := parseHandoffs(f)
	n.followHandoffsLocked(from, at, 0)
}

// parseHandoffs parses slot, target pairs.
func parseHandoffs(f []string) (map[int]NodeID, error) {
	if len(f)%2 != 0 {
		return nil, errors.New("chkv: want slot target pairs")
	}
	at := map[int]NodeID{}
	for i := 0; i+1 < len(f); i += 2 {
		s, err := strconv.Atoi(f[i])
		if err != nil || s < 0 || s >= NumSlots {
			return nil, fmt.Errorf("chkv: bad slot %q", truncate([]byte(f[i]), 32))
		}
		at[s] = NodeID(f[i+1])
	}
	return at, nil
}

// followHandoffsLocked flips slots that node from handed off to a target
// without the NameNode learning it (its MIGRATE answer was lost, or it was
// declared down meanwhile and got the slots back) to that target: the data
// is there. Only slots the served table gives to from, with no batch under
// way, whose target is a live or leaving member, follow (a leaving target
// then moves them on). A report based on table version basis (0: made now,
// as an answer to MIGRATE) is stale for a slot whose primary changed in a
// later table: the sender saw its handoff in a table older than the one
// that made it primary again (a promotion back to it, say), and following
// it would give the slot to a target that has dropped it since. It returns
// how many followed.
func (n *NameNode) followHandoffsLocked(from NodeID, at map[int]NodeID, basis uint64) int {
	for s, id := range at {
		p, ok := n.table.Primary(s)
		m, member := n.plan.Member(id)
		stale := basis > 0 && n.primarySince[s] > basis
		if !ok || p.ID != from || n.mig.jobs[s] != nil || !member || !(m.State.Live() || m.State == NodeLeaving) || id == from || stale {
			delete(at, s)
		}
	}
	if len(at) == 0 {
		return 0
	}
	n.cfg.Logger.Info("namenode: slots were handed off without our knowing: following them", "from", from, "slots", len(at))
	served := n.table
	if err := n.flipLocked(func(x int) ([]NodeID, bool) {
		if id, ok := at[x]; ok {
			return []NodeID{id}, false
		}
		return ownersOf(served, x)
	}); err != nil {
		n.cfg.Logger.Error("namenode: follow a handoff", "err", err)
		return 0
	}
	return len(at)
}

// cmdHandedOff handles CHKV.HANDEDOFF <id> [VERSION <v>] <slot> <target>
// [<slot> <target> ...]: a DataNode reports slots its table version v gives
// it although it handed their data off to a target (see
// followHandoffsLocked). It answers how many slots followed; the new table
// is pushed as usual.
func (n *NameNode) cmdHandedOff(w *replyWriter, args [][]byte) {
	rest := args[2:]
	var basis uint64
	if len(rest) >= 2 && eqFold(rest[0], "version") {
		v, err := strconv.ParseUint(string(rest[1]), 10, 64)
		if err != nil || v == 0 {
			w.errorText(fmt.Sprintf("ERR chkv: bad table version %q", truncate(rest[1], 32)))
			return
		}
		basis, rest = v, rest[2:]
	}
	f := make([]string, 0, len(rest))
	for _, a := range rest {
		f = append(f, string(a))
	}
	at, err := parseHandoffs(f)
	if err != nil {
		w.errorText("ERR " + err.Error())
		return
	}
	id := NodeID(args[1])
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.refuseLocked(w) {
		return
	}
	if n.peers[id] == nil {
		w.errorText(fmt.Sprintf("ERR chkv: unknown node %s", id))
		return
	}
	followed := n.followHandoffsLocked(id, at, basis)
	if followed > 0 {
		if err := n.reconcileLocked(); err != nil {
			n.cfg.Logger.Error("namenode: reconcile", "err", err)
		}
	}
	w.int(int64(followed))
}

func (n *NameNode) progressOf(id NodeID) *nodeProgress {
	p := n.mig.nodes[id]
	if p == nil {
		p = &nodeProgress{}
		n.mig.nodes[id] = p
	}
	return p
}

// scheduleRetryLocked runs a reconcile after d, once.
func (n *NameNode) scheduleRetryLocked(d time.Duration) {
	if n.mig.timer != nil {
		n.mig.timer.Stop()
	}
	n.mig.timer = time.AfterFunc(d, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if err := n.reconcileLocked(); err != nil {
			n.cfg.Logger.Error("namenode: reconcile", "err", err)
		}
	})
}

// cancelJobsLocked stops the batches that involve node id.
func (n *NameNode) cancelJobsLocked(id NodeID) {
	for _, j := range n.mig.jobs {
		if j.source.ID == id || j.target.ID == id {
			j.cancel()
		}
	}
}

// beginProgressLocked counts the slots the new plan moves, starting the
// figures afresh when nothing was moving.
func (n *NameNode) beginProgressLocked() {
	ms := &n.mig
	if len(ms.jobs) == 0 {
		ms.started, ms.slotsTotal, ms.slotsDone, ms.keysMoved, ms.bytesMoved, ms.slotsCopied = time.Now(), 0, 0, 0, 0, 0
		ms.copiesTotal, ms.copyKeys, ms.copyBytes = 0, 0, 0
		ms.finished = time.Time{}
		ms.nodes = map[NodeID]*nodeProgress{}
	}
	total := ms.slotsDone + len(ms.jobs)
	copies := ms.slotsCopied + copyJobs(ms.jobs)
	for s := range NumSlots {
		if ms.jobs[s] != nil {
			continue
		}
		sp, sok := n.table.Primary(s)
		pp, pok := n.plan.Primary(s)
		if sok && pok && sp.ID != pp.ID && holds(n.plan, sp.ID) {
			total++
			continue
		}
		if sok && pok && sp.ID == pp.ID {
			// Replica copies to fill (re-replication, a new replica).
			owners := n.table.Owners(s)
			for _, id := range n.plan.Owners(s)[1:] {
				if m, ok := n.plan.Member(id); ok && m.State.Live() && !slices.Contains(owners, id) {
					total++
					copies++
				}
			}
		}
	}
	ms.slotsTotal = total
	ms.copiesTotal = copies
}

// copyJobs counts the slots in flight in replica copy batches.
func copyJobs(jobs map[int]*nnJob) int {
	n := 0
	for _, j := range jobs {
		if j.op.mode == modeCopy {
			n++
		}
	}
	return n
}

// migrationStatusLocked returns the progress figures.
func (n *NameNode) migrationStatusLocked() MigrationStatus {
	ms := &n.mig
	st := MigrationStatus{SlotsTotal: ms.slotsTotal, SlotsDone: ms.slotsDone, SlotsMoving: len(ms.jobs), SlotsCopied: ms.slotsCopied, CopiesTotal: ms.copiesTotal, CopyKeys: ms.copyKeys, CopyBytes: ms.copyBytes, KeysMoved: ms.keysMoved, BytesMoved: ms.bytesMoved, Nodes: []NodeMigrationStatus{}}
	in, out := map[NodeID]int{}, map[NodeID]int{}
	served, plan := n.table, n.plan
	holding := make([]bool, len(served.Members)) // by served member index
	for i, m := range served.Members {
		holding[i] = holds(plan, m.ID)
	}
	for s := range NumSlots {
		if served.cnt[s] == 0 || plan.cnt[s] == 0 {
			continue
		}
		si := served.ownRow(s)[0]
		sp, pp := served.Members[si].ID, plan.Members[plan.ownRow(s)[0]].ID
		if sp != pp && holding[si] {
			out[sp]++
			in[pp]++
			st.Active = true
		}
	}
	if !ms.started.IsZero() {
		end := ms.finished
		if end.IsZero() {
			end = time.Now()
		}
		st.ElapsedSec = end.Sub(ms.started).Seconds()
		if st.ElapsedSec > 0 {
			st.KeysPerSec = float64(ms.keysMoved) / st.ElapsedSec
		}
		if st.Active && ms.slotsDone > 0 {
			left := ms.slotsTotal - ms.slotsDone
			st.ETASec = st.ElapsedSec / float64(ms.slotsDone) * float64(max(left, 0))
		}
		if st.ElapsedSec > 0 {
			st.CopyKeysPerSec = float64(ms.copyKeys) / st.ElapsedSec
		}
		if left := ms.copiesTotal - ms.slotsCopied; ms.slotsCopied > 0 && left > 0 {
			st.CopyETASec = st.ElapsedSec / float64(ms.slotsCopied) * float64(left)
		}
	}
	ids := map[NodeID]bool{}
	for id := range ms.nodes {
		ids[id] = true
	}
	for id := range in {
		ids[id] = true
	}
	for id := range out {
		ids[id] = true
	}
	for _, m := range n.table.Members {
		if !ids[m.ID] {
			continue
		}
		p := ms.nodes[m.ID]
		if p == nil {
			p = &nodeProgress{}
		}
		st.Nodes = append(st.Nodes, NodeMigrationStatus{ID: m.ID, SlotsIn: in[m.ID], SlotsOut: out[m.ID], KeysIn: p.keysIn, KeysOut: p.keysOut, BytesIn: p.bytesIn, BytesOut: p.bytesOut})
	}
	return st
}

// Migration returns the progress of data movement.
func (n *NameNode) Migration() MigrationStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.migrationStatusLocked()
}

// Converged reports whether the served table has reached the plan: no slot
// waits to move and no member waits to be removed.
func (n *NameNode) Converged() bool {
	return n.notConverged() == ""
}

// notConverged says why the served table is not the plan yet, or "".
func (n *NameNode) notConverged() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.mig.jobs) > 0 {
		return fmt.Sprintf("%d migration jobs running", len(n.mig.jobs))
	}
	moving := 0
	for s := range NumSlots {
		if !sameOwners(n.table, n.plan, s) {
			moving++
		}
	}
	if moving > 0 {
		return fmt.Sprintf("%d slots still to move", moving)
	}
	for _, m := range n.plan.Members {
		if m.State == NodeLeaving || m.State == NodeJoining {
			return fmt.Sprintf("%s is %s", m.ID, m.State)
		}
	}
	return ""
}

// movesPending describes, for a test that waited in vain, what the
// NameNode still waits for: why the table is not the plan, the batches in
// flight (source, target, kind, slots), and a few slots whose served owners
// differ from the plan's.
func (n *NameNode) movesPending() string {
	why := n.notConverged()
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%q, table v%d, plan v%d", why, n.table.Version, n.plan.Version)
	type batch struct {
		source, target NodeID
		mode           string
	}
	batches := map[batch]int{}
	for _, j := range n.mig.jobs {
		batches[batch{j.source.ID, j.target.ID, j.op.mode}]++
	}
	for k, slots := range batches {
		fmt.Fprintf(&b, "; batch %s->%s %q: %d slots", k.source, k.target, k.mode, slots)
	}
	for id := range n.leaving {
		if p := n.peers[id]; p != nil && p.leavingImports != 0 {
			fmt.Fprintf(&b, "; leaving %s holds %d imports (-1: not reported yet)", id, p.leavingImports)
		}
	}
	shown := 0
	for s := range NumSlots {
		if sameOwners(n.table, n.plan, s) {
			continue
		}
		if shown == 3 {
			b.WriteString("; ...")
			break
		}
		_, busy := n.mig.jobs[s]
		fmt.Fprintf(&b, "; slot %d served %v plan %v in a batch %v", s, n.table.Owners(s), n.plan.Owners(s), busy)
		shown++
	}
	return b.String()
}
