// chkv torture: the seeded fault schedule and the faults themselves.

package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// tFaultKind is a kind of fault.
type tFaultKind string

const (
	fKill      tFaultKind = "kill"      // kill -9, then a restart with the same id and data dir
	fPause     tFaultKind = "pause"     // SIGSTOP, then SIGCONT
	fPartition tFaultKind = "partition" // the node's link down: cut from everyone
	fCut       tFaultKind = "cut"       // blackhole routes from the node to the NameNode and some peers
	fNetem     tFaultKind = "netem"     // tc netem latency and loss on the node's link
	fJoin      tFaultKind = "join"      // a new DataNode
	fLeave     tFaultKind = "leave"     // chkv leave of a DataNode

	fNNKill      tFaultKind = "nnkill"      // kill -9 of a NameNode, then a restart with the same id and data dir
	fNNPause     tFaultKind = "nnpause"     // SIGSTOP of a NameNode, then SIGCONT
	fNNPartition tFaultKind = "nnpartition" // a NameNode's link down
)

// The kinds of fault on DataNodes and on NameNodes. The two run as two
// streams side by side: a NameNode fault may come while a DataNode is down.
var (
	tDataNodeKinds = []tFaultKind{fKill, fPause, fPartition, fCut, fNetem, fJoin, fLeave}
	tNameNodeKinds = []tFaultKind{fNNKill, fNNPause, fNNPartition}
	tFaultKinds    = slices.Concat(tDataNodeKinds, tNameNodeKinds)
)

// onNameNode reports whether k is a fault of a NameNode.
func (k tFaultKind) onNameNode() bool { return slices.Contains(tNameNodeKinds, k) }

// base returns the DataNode kind that does to a process what k does.
func (k tFaultKind) base() tFaultKind {
	switch k {
	case fNNKill:
		return fKill
	case fNNPause:
		return fPause
	case fNNPartition:
		return fPartition
	}
	return k
}

func tKindNames(ks []tFaultKind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}

// tFault is one fault of the schedule: what the seed decides (At, Kind,
// Count, Pick, Dur) and what happened when it ran.
type tFault struct {
	N     int
	At    time.Duration // after the start of the faults
	Kind  tFaultKind
	Count int           // nodes it hits at once (at most the replica count)
	Pick  uint64        // picks the nodes among those up
	Dur   time.Duration // until it heals
	Delay time.Duration // netem delay
	Loss  int           // netem loss percent

	Nodes      []string
	Start, End time.Time
	Note       string
}

// tSchedule returns the faults of a run: kinds in shuffled rounds so that
// every kind comes as often, each fault healed after 2-8s, 1-3s apart. The
// nodes a fault hits are chosen when it runs from Pick among the DataNodes
// up then (which the schedule itself decides), so a seed gives one schedule.
// The faults of NameNodes are a second stream of their own, merged in by
// time; N numbers the merged list.
func tSchedule(seed uint64, dur time.Duration, datanodes, replicas int, kinds []tFaultKind) []*tFault {
	var dn, nn []tFaultKind
	for _, k := range kinds {
		if k.onNameNode() {
			nn = append(nn, k)
		} else {
			dn = append(dn, k)
		}
	}
	out := slices.Concat(tDataNodeSchedule(seed, dur, datanodes, replicas, dn), tNameNodeSchedule(seed, dur, nn))
	slices.SortStableFunc(out, func(a, b *tFault) int { return int(a.At - b.At) })
	for i, f := range out {
		f.N = i + 1
	}
	return out
}

// tNameNodeSchedule returns the NameNode faults, one at a time: each hits
// one NameNode (the leader when Pick is even), heals after 2-8s, and the
// next comes 1-3s later.
func tNameNodeSchedule(seed uint64, dur time.Duration, kinds []tFaultKind) []*tFault {
	if len(kinds) == 0 {
		return nil
	}
	rng := tRand(seed, 2)
	var out []*tFault
	var round []tFaultKind
	for at := 3 * time.Second; at < dur; {
		if len(round) == 0 {
			round = slices.Clone(kinds)
			rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		f := &tFault{At: at, Kind: round[0], Count: 1, Pick: rng.Uint64(),
			Dur: time.Duration(2000+rng.IntN(6000)) * time.Millisecond}
		round = round[1:]
		out = append(out, f)
		at += f.Dur + time.Duration(1000+rng.IntN(2000))*time.Millisecond
	}
	return out
}

func tDataNodeSchedule(seed uint64, dur time.Duration, datanodes, replicas int, kinds []tFaultKind) []*tFault {
	if len(kinds) == 0 {
		return nil
	}
	rng := tRand(seed, 1)
	var out []*tFault
	at := 2 * time.Second
	live := datanodes
	var round []tFaultKind
	for at < dur {
		if len(round) == 0 {
			round = slices.Clone(kinds)
			rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		k := round[0]
		round = round[1:]
		if k == fLeave && (live <= datanodes-1 || live <= replicas+1) && slices.Contains(kinds, fJoin) {
			k = fJoin
		} else if k == fJoin && live >= datanodes+1 && slices.Contains(kinds, fLeave) {
			k = fLeave
		} else if k == fLeave && (live <= datanodes-1 || live <= replicas+1) {
			at += time.Second // no join to undo it: skip this leave
			continue
		}
		f := &tFault{N: len(out) + 1, At: at, Kind: k, Count: 1, Pick: rng.Uint64(),
			Dur: time.Duration(2000+rng.IntN(6000)) * time.Millisecond}
		if k != fJoin && k != fLeave && replicas > 1 {
			f.Count = 1 + rng.IntN(replicas)
		}
		if k == fNetem {
			f.Delay, f.Loss = time.Duration(20+rng.IntN(200))*time.Millisecond, rng.IntN(20)
		}
		switch k {
		case fJoin:
			live++
		case fLeave:
			live--
		}
		out = append(out, f)
		at += f.Dur + time.Duration(1000+rng.IntN(2000))*time.Millisecond
	}
	return out
}

// upNodes returns the DataNodes that have not left, by address order.
func (h *harness) upNodes() []*tNode {
	h.mu.Lock()
	defer h.mu.Unlock()
	var idx []int
	for i, n := range h.nodes {
		if !n.left {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	var ns []*tNode
	for _, i := range idx {
		ns = append(ns, h.nodes[i])
	}
	return ns
}

// runSchedule runs the two streams of faults side by side: the DataNodes'
// and the NameNodes'.
func (h *harness) runSchedule(ctx context.Context, start time.Time) {
	var dn, nn []*tFault
	for _, f := range h.sched {
		if f.Kind.onNameNode() {
			nn = append(nn, f)
		} else {
			dn = append(dn, f)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.runNameNodeFaults(ctx, start, nn)
	}()
	h.runDataNodeFaults(ctx, start, dn)
	<-done
}

// waitUntil waits for the time of f; false when ctx ended first.
func waitUntil(ctx context.Context, start time.Time, f *tFault) bool {
	if wait := time.Until(start.Add(f.At)); wait > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
	return ctx.Err() == nil
}

// runNameNodeFaults runs the NameNode faults one after the other, each
// once every NameNode answers and follows one leader again, so no more
// than one NameNode is ever down: a majority of the group stays.
func (h *harness) runNameNodeFaults(ctx context.Context, start time.Time, faults []*tFault) {
	for _, f := range faults {
		if !waitUntil(ctx, start, f) {
			return
		}
		var leader string
		err := h.waitFor(ctx, 90*time.Second, "the NameNodes did not settle", func(st clusterStatus) bool {
			var ok bool
			leader, ok = tLeader(st, len(h.nns))
			return ok
		})
		if err != nil {
			f.Note = "skipped: " + err.Error()
			h.logf("fault %d %s %s", f.N, f.Kind, f.Note)
			continue
		}
		v := h.nns[int(f.Pick/2%uint64(len(h.nns)))]
		if f.Pick%2 == 0 {
			for _, n := range h.nns {
				if n.id == leader {
					v = n
				}
			}
		}
		role := "follower"
		if v.id == leader || len(h.nns) == 1 {
			role = "leader"
		}
		f.Nodes = []string{v.id + "(" + role + ")"}
		f.Start = time.Now()
		h.logf("fault %d: %s %v for %v", f.N, f.Kind, f.Nodes, f.Dur)
		h.injectFor(ctx, f, []*tNode{v})
	}
}

// runDataNodeFaults runs the DataNode faults one after the other, each on a
// stable cluster: a fault waits until the one before has healed and the
// NameNode's table is stable again (the replicas back in sync), so no more
// than the replica count of DataNodes are ever down at once.
func (h *harness) runDataNodeFaults(ctx context.Context, start time.Time, faults []*tFault) {
	nextIdx := tFirstDataNode + h.cfg.datanodes
	for _, f := range faults {
		if !waitUntil(ctx, start, f) {
			return
		}
		if err := h.waitStable(ctx, 0, 90*time.Second); err != nil {
			f.Note = "skipped: " + err.Error()
			h.logf("fault %d %s %s", f.N, f.Kind, f.Note)
			continue
		}
		up := h.upNodes()
		var victims []*tNode
		for i := 0; i < f.Count && len(up) > 0; i++ {
			j := int((f.Pick + uint64(i)*7919) % uint64(len(up)))
			victims = append(victims, up[j])
			up = slices.Delete(up, j, j+1)
		}
		f.Start = time.Now()
		if f.Kind == fJoin {
			n, err := h.newDataNode(nextIdx)
			nextIdx++
			if err != nil {
				f.Note = err.Error()
			} else {
				f.Nodes = []string{n.id}
			}
			f.End = time.Now()
			h.logf("fault %d: join %v %s", f.N, f.Nodes, f.Note)
			continue
		}
		for _, v := range victims {
			f.Nodes = append(f.Nodes, v.id)
		}
		h.logf("fault %d: %s %v for %v", f.N, f.Kind, f.Nodes, f.Dur)
		if f.Kind == fLeave {
			h.leave(victims[0], f)
			f.End = time.Now()
			continue
		}
		h.injectFor(ctx, f, victims)
	}
}

// injectFor injects f into the victims, waits its duration and heals it.
func (h *harness) injectFor(ctx context.Context, f *tFault, victims []*tNode) {
	for _, v := range victims {
		if err := h.inject(f, v); err != nil {
			f.Note += err.Error() + "; "
		}
	}
	select {
	case <-ctx.Done():
	case <-time.After(f.Dur):
	}
	for _, v := range victims {
		if err := h.heal(f, v); err != nil {
			f.Note += "heal: " + err.Error() + "; "
		}
	}
	f.End = time.Now()
	if f.Note != "" {
		h.logf("fault %d: %s", f.N, f.Note)
	}
}

func (h *harness) inject(f *tFault, n *tNode) error {
	switch f.Kind.base() {
	case fKill:
		return n.cmd.Process.Signal(syscall.SIGKILL)
	case fPause:
		return n.cmd.Process.Signal(syscall.SIGSTOP)
	case fPartition:
		return sh("ip", "link", "set", n.hostVet, "down")
	case fCut:
		for _, dst := range h.cutPeers(f, n) {
			if err := sh("ip", "-n", n.ns, "route", "add", "blackhole", dst+"/32"); err != nil {
				return err
			}
		}
	case fNetem:
		err := sh("ip", "netns", "exec", n.ns, "tc", "qdisc", "add", "dev", "eth0", "root", "netem",
			"delay", f.Delay.String(), (f.Delay / 2).String(), "loss", fmt.Sprintf("%d%%", f.Loss))
		if err != nil && strings.Contains(err.Error(), "unknown") {
			// A kernel without sch_netem: a token bucket as slow as a
			// modem queues packets up to the delay and drops the rest.
			f.Note = "no netem in this kernel: tbf rate 256kbit latency " + f.Delay.String() + "; "
			err = sh("ip", "netns", "exec", n.ns, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf",
				"rate", "256kbit", "burst", "4kb", "latency", f.Delay.String())
		}
		return err
	}
	return nil
}

func (h *harness) heal(f *tFault, n *tNode) error {
	switch f.Kind.base() {
	case fKill:
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("%s did not die", n.id)
		}
		if n.nn {
			return h.startNameNode(n)
		}
		return h.startDataNode(n)
	case fPause:
		return n.cmd.Process.Signal(syscall.SIGCONT)
	case fPartition:
		return sh("ip", "link", "set", n.hostVet, "up")
	case fCut:
		for _, dst := range h.cutPeers(f, n) {
			if err := sh("ip", "-n", n.ns, "route", "del", "blackhole", dst+"/32"); err != nil {
				return err
			}
		}
	case fNetem:
		return sh("ip", "netns", "exec", n.ns, "tc", "qdisc", "del", "dev", "eth0", "root")
	}
	return nil
}

// cutPeers returns the addresses a cut fault hides from n: every NameNode
// and every other DataNode chosen by the fault's Pick bits (the host, where
// the clients run, stays reachable).
func (h *harness) cutPeers(f *tFault, n *tNode) []string {
	var peers []string
	for _, nn := range h.nns {
		peers = append(peers, fmt.Sprintf("%s%d", tSubnet, nn.idx))
	}
	for i, p := range h.upNodes() {
		if p != n && f.Pick>>(i%64)&1 == 1 {
			peers = append(peers, fmt.Sprintf("%s%d", tSubnet, p.idx))
		}
	}
	return peers
}

// leave asks the NameNode to move n's slots away and waits for it to exit.
// When chkv leave fails (the NameNode leader it followed died, say) but the
// node still exits within a minute, the leave went through.
func (h *harness) leave(n *tNode, f *tFault) {
	out, err := exec.Command(h.exe, "leave", "--namenode", tNameNodes, "--timeout", "120s", n.id).CombinedOutput()
	if err != nil {
		f.Note = fmt.Sprintf("leave failed: %v: %s", err, strings.TrimSpace(string(out)))
		wait := 60 * time.Second
		if strings.Contains(string(out), "the NameNode refused") {
			wait = 0
		}
		select {
		case <-n.done:
			f.Note += "; the node left all the same"
			h.mu.Lock()
			n.left = true
			h.mu.Unlock()
		case <-time.After(wait):
		}
		h.logf("fault %d: %s", f.N, f.Note)
		return
	}
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		f.Note = "left, but the process did not exit in 30s; killed"
		n.cmd.Process.Kill()
	}
	h.mu.Lock()
	n.left = true
	h.mu.Unlock()
}

// healAll undoes whatever an interrupted schedule left broken.
func (h *harness) healAll() {
	h.mu.Lock()
	nns := slices.Clone(h.nns)
	h.mu.Unlock()
	for _, n := range append(nns, h.upNodes()...) {
		exec.Command("ip", "link", "set", n.hostVet, "up").Run()
		exec.Command("ip", "netns", "exec", n.ns, "tc", "qdisc", "del", "dev", "eth0", "root").Run()
		exec.Command("ip", "-n", n.ns, "route", "flush", "type", "blackhole").Run()
		if n.cmd != nil && n.cmd.Process != nil {
			n.cmd.Process.Signal(syscall.SIGCONT)
		}
		select {
		case <-n.done:
			if n.nn {
				h.startNameNode(n)
			} else {
				h.startDataNode(n)
			}
		default:
		}
	}
}
