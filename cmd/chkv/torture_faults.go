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
)

var tFaultKinds = []tFaultKind{fKill, fPause, fPartition, fCut, fNetem, fJoin, fLeave}

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
func tSchedule(seed uint64, dur time.Duration, datanodes, replicas int, kinds []tFaultKind) []*tFault {
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

// runSchedule runs the faults one after the other, each on a stable
// cluster: a fault waits until the one before has healed and the
// NameNode's table is stable again (the replicas back in sync), so no more
// than the replica count of DataNodes are ever down at once.
func (h *harness) runSchedule(ctx context.Context, start time.Time) {
	nextIdx := 10 + h.cfg.datanodes
	for _, f := range h.sched {
		if wait := time.Until(start.Add(f.At)); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
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
}

func (h *harness) inject(f *tFault, n *tNode) error {
	switch f.Kind {
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
	switch f.Kind {
	case fKill:
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("%s did not die", n.id)
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

// cutPeers returns the addresses a cut fault hides from n: the NameNode
// and every other DataNode chosen by the fault's Pick bits (the host, where
// the clients run, stays reachable).
func (h *harness) cutPeers(f *tFault, n *tNode) []string {
	peers := []string{tNameNode[:len(tNameNode)-len(":7000")]}
	for i, p := range h.upNodes() {
		if p != n && f.Pick>>(i%64)&1 == 1 {
			peers = append(peers, fmt.Sprintf("%s%d", tSubnet, p.idx))
		}
	}
	return peers
}

// leave asks the NameNode to move n's slots away and waits for it to exit.
func (h *harness) leave(n *tNode, f *tFault) {
	out, err := exec.Command(h.exe, "leave", "--namenode", tNameNode, "--timeout", "120s", n.id).CombinedOutput()
	if err != nil {
		f.Note = fmt.Sprintf("leave failed: %v: %s", err, out)
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
	for _, n := range h.upNodes() {
		exec.Command("ip", "link", "set", n.hostVet, "up").Run()
		exec.Command("ip", "netns", "exec", n.ns, "tc", "qdisc", "del", "dev", "eth0", "root").Run()
		exec.Command("ip", "-n", n.ns, "route", "flush", "type", "blackhole").Run()
		if n.cmd != nil && n.cmd.Process != nil {
			n.cmd.Process.Signal(syscall.SIGCONT)
		}
		select {
		case <-n.done:
			h.startDataNode(n)
		default:
		}
	}
}
