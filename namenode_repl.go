// The NameNode's side of replication: in-sync sets in the served table, taking a lagging or restarted replica out of them.

package chkv

import (
	"fmt"
	"slices"
	"time"
)

// The served table's owner list of a slot is its primary and the replicas
// that hold every acknowledged write of it (the in-sync set, as Kafka's
// ISR): a replica enters it only after a copy filled it while the primary
// streamed the writes made meanwhile (CHKV.MIGRATE copy), and leaves it
// through a new table before any write is acknowledged without it. Only a
// copy in it is ever promoted.

// isrDropBackoff is how long a replica taken out of the in-sync set waits
// before a new copy fills it again.
const isrDropBackoff = time.Second

// dropCopiesLocked takes member id out of every served owner list in which
// another copy remains (a replica of a slot it led is promoted), because
// the copies it held are gone or stale. Slots whose only copy it held keep
// it. The plan is unchanged: copies come back to it by the usual movement.
func (n *NameNode) dropCopiesLocked(id NodeID) error {
	served := n.table
	changed := false
	owners := func(s int) ([]NodeID, bool) {
		ids, lost := ownersOf(served, s)
		if len(ids) > 1 && slices.Contains(ids, id) {
			changed = true
			return slices.DeleteFunc(slices.Clone(ids), func(o NodeID) bool { return o == id }), false
		}
		return ids, lost
	}
	resolved := resolveOwners(owners)
	if !changed {
		return nil
	}
	n.cfg.Logger.Warn("namenode: a node restarted without its data: its copies leave the in-sync sets", "id", id)
	if err := n.flipLocked(resolved); err != nil {
		return err
	}
	return n.reconcileLocked()
}

// cmdISRDrop handles CHKV.ISRDROP <primary> <replica>: the primary reports
// that the replica stopped acknowledging its writes. The replica leaves the
// owner list of every slot the primary leads; the reply is the new table,
// which the primary adopts before it acknowledges writes without it.
func (n *NameNode) cmdISRDrop(w *replyWriter, args [][]byte) {
	prim, repl := NodeID(args[1]), NodeID(args[2])
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.refuseLocked(w) {
		return
	}
	if _, ok := n.table.Member(prim); !ok {
		w.errorText(fmt.Sprintf("ERR chkv: unknown node %s", truncate(args[1], 64)))
		return
	}
	served := n.table
	drop := map[int]bool{}
	for s := range NumSlots {
		if p, ok := served.Primary(s); ok && p.ID == prim && repl != prim && served.holds(s, repl) {
			drop[s] = true
		}
	}
	n.isrDrops[repl]++ // a batch under way no longer adds it (jobDoneLocked)
	if len(drop) > 0 {
		if p := n.peers[prim]; p != nil {
			p.beat()
		}
		err := n.flipLocked(func(s int) ([]NodeID, bool) {
			ids, lost := ownersOf(served, s)
			if drop[s] {
				return slices.DeleteFunc(ids, func(o NodeID) bool { return o == repl }), false
			}
			return ids, lost
		})
		if err != nil {
			w.errorText("ERR " + err.Error())
			return
		}
		retry := time.Now().Add(max(isrDropBackoff, n.cfg.HeartbeatInterval))
		for s := range drop {
			n.mig.retryAt[s] = retry
		}
		n.cfg.Logger.Warn("namenode: replica out of the in-sync set: it stopped acknowledging", "primary", prim, "replica", repl, "slots", len(drop), "version", n.table.Version)
		if err := n.reconcileLocked(); err != nil {
			n.cfg.Logger.Error("namenode: reconcile", "err", err)
		}
	}
	n.replyTableLocked(w)
}

// replicaCandidates returns the served replicas of slot s that hold its
// data and are live in plan, in served order: the copies one of which is
// promoted when its primary is gone.
func replicaCandidates(served, plan *Table, s int) []NodeID {
	var out []NodeID
	for _, id := range served.Owners(s)[min(1, len(served.Owners(s))):] {
		if holds(plan, id) {
			out = append(out, id)
		}
	}
	return out
}
