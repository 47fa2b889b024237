// The status and leave commands: they ask the NameNode (CHKV.STATUS, CHKV.LEAVE) and follow data movement as it runs.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/chkv/chkv"
)

// Refresh periods of the progress display.
const (
	ttyEvery   = 200 * time.Millisecond // the bar redrawn in place
	plainEvery = time.Second            // one plain line
)

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parseArgs parses flags that may come before, between or after the
// positional arguments, which it returns.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// commandContext returns a context canceled by SIGINT or SIGTERM and,
// when timeout is positive, after timeout.
func commandContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signalContext()
	if timeout <= 0 {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

// dialNameNode connects to the NameNode at addr; given a comma-separated
// list of the NameNodes of a Raft group, to their leader (leaderOf).
func dialNameNode(ctx context.Context, addr string, sec *securityFlags) (*chkv.Client, error) {
	addrs := chkv.SplitNameNodes(addr)
	if len(addrs) == 1 {
		return dialNode(ctx, addrs[0], sec)
	}
	c, _, err := leaderOf(ctx, addrs, sec)
	return c, err
}

// leaderOf finds the leader of a group of NameNodes: it asks each for
// CHKV.STATUS, skipping the ones it cannot reach, follows the leader a
// follower names, and asks again while an election runs. It returns a
// connection to the leader and the status of each NameNode it reached
// (nil for the others). Each NameNode gets its share of the time left
// (statusShare among those still to ask), so that one that accepts
// connections but never answers (stopped, or cut off) does not use it all.
func leaderOf(ctx context.Context, addrs []string, sec *securityFlags) (*chkv.Client, []*raftStatus, error) {
	var last error
	ask := func(a string, left int) (*chkv.Client, clusterStatus, error) {
		actx, cancel := context.WithTimeout(ctx, statusShare(ctx, left))
		defer cancel()
		c, err := dialNode(actx, a, sec)
		if err != nil {
			return nil, clusterStatus{}, err
		}
		st, _, err := fetchStatus(actx, c)
		if err != nil {
			c.Close()
			return nil, st, fmt.Errorf("%s: %w", a, err)
		}
		return c, st, nil
	}
	for {
		sts := make([]*raftStatus, len(addrs))
		named := ""
		for i, a := range addrs {
			c, st, err := ask(a, len(addrs)-i)
			if err != nil {
				last = err
				continue
			}
			sts[i] = st.Raft
			if st.Raft == nil || st.Raft.Role == "leader" {
				for j := i + 1; j < len(addrs); j++ { // the others' figures, for chkv status
					if oc, ost, err := ask(addrs[j], len(addrs)-j); err == nil {
						sts[j] = ost.Raft
						oc.Close()
					}
				}
				return c, sts, nil
			}
			c.Close()
			if st.Raft.LeaderAddr != "" && st.Raft.LeaderID != st.Raft.ID {
				named = st.Raft.LeaderAddr
			}
		}
		if named != "" && !slices.Contains(addrs, named) {
			addrs = append(addrs, named) // a leader outside the list given
			continue
		}
		t := time.NewTimer(100 * time.Millisecond) // an election is under way
		select {
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				last = ctx.Err()
			}
			return nil, nil, fmt.Errorf("no NameNode leader among %s: %w", strings.Join(addrs, ","), last)
		case <-t.C:
		}
	}
}

// statusShare is the time the next of n NameNodes still to ask gets to
// answer: the time left divided among them (at least 200ms), 2s without a
// deadline.
func statusShare(ctx context.Context, n int) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return 2 * time.Second
	}
	return max(time.Until(dl)/time.Duration(max(n, 1)), 200*time.Millisecond)
}

// doOnLeader sends a command that changes state to the NameNode at addr,
// or to the leader of the list; while the leader is being elected (or
// rebuilds its state) it asks again. It returns the connection used (nil
// when none was reached) and the reply.
func doOnLeader(ctx context.Context, addr string, sec *securityFlags, args ...any) (*chkv.Client, any, error) {
	for {
		c, err := dialNameNode(ctx, addr, sec)
		if err != nil {
			return nil, nil, err
		}
		v, err := c.Do(ctx, args...)
		var re *chkv.RESPError
		if err == nil || !errors.As(err, &re) || !strings.Contains(re.Msg, "not the NameNode leader") || len(chkv.SplitNameNodes(addr)) == 1 {
			return c, v, err
		}
		c.Close()
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// dialNode connects to the NameNode (or any chkv node) at addr, with
// the cluster secret and over TLS when the security flags say so.
func dialNode(ctx context.Context, addr string, sec *securityFlags) (*chkv.Client, error) {
	cfg := chkv.DefaultClientConfig()
	cfg.Addr = addr
	cfg.PoolSize = 1
	secret, err := sec.secret()
	if err != nil {
		return nil, err
	}
	if secret != "" {
		cfg.Username, cfg.Password = chkv.ClusterUser, secret
	}
	tr, err := sec.transport(false)
	if err != nil {
		return nil, err
	}
	cfg.Transport = tr
	c, err := chkv.NewClient(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", addr, err)
	}
	return c, nil
}

// errNotNameNode reports a server that does not know CHKV.STATUS: a DataNode.
var errNotNameNode = errors.New("not a NameNode")

// fetchStatus asks the NameNode for CHKV.STATUS and returns the decoded
// snapshot and the JSON as sent.
func fetchStatus(ctx context.Context, c *chkv.Client) (clusterStatus, []byte, error) {
	var st clusterStatus
	r, err := c.Do(ctx, "CHKV.STATUS")
	if err != nil {
		var re *chkv.RESPError
		if errors.As(err, &re) && strings.HasPrefix(re.Msg, "ERR unknown command") {
			return st, nil, errNotNameNode
		}
		return st, nil, fmt.Errorf("CHKV.STATUS: %w", err)
	}
	s, ok := r.(string)
	if !ok {
		return st, nil, fmt.Errorf("CHKV.STATUS: unexpected reply %T", r)
	}
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return st, nil, fmt.Errorf("CHKV.STATUS: %w", err)
	}
	return st, []byte(s), nil
}

// follow polls the status until done holds, drawing the progress on out
// meanwhile: on a terminal a bar redrawn in place every ttyEvery, else a
// plain line every plainEvery. It returns the last status.
func follow(ctx context.Context, c *chkv.Client, out io.Writer, tty bool, done func(clusterStatus) bool) (clusterStatus, error) {
	every := plainEvery
	if tty {
		every = ttyEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	drawn, last := false, ""
	endLine := func() {
		if drawn {
			fmt.Fprintln(out)
			drawn = false
		}
	}
	defer endLine()
	for {
		st, _, err := fetchStatus(ctx, c)
		if err != nil {
			return st, err
		}
		if done(st) {
			if drawn { // leave the bar at its final state
				fmt.Fprint(out, "\r"+progressBar(st.Migration, barWidth)+"\x1b[K")
			}
			return st, nil
		}
		switch line := progressLine(st); {
		case tty && st.Migration.Active:
			fmt.Fprint(out, "\r"+progressBar(st.Migration, barWidth)+"\x1b[K")
			drawn, last = true, ""
		case !st.moving(): // waiting for a change: nothing to show
		case tty && line == last: // a terminal gets each member change once
		default:
			if drawn {
				fmt.Fprint(out, "\r\x1b[K")
				drawn = false
			}
			fmt.Fprintln(out, line)
			last = line
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-tick.C:
		}
	}
}

func runStatus(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("namenode", "127.0.0.1:7000", "address of the NameNode (or of any cluster DataNode: members only)")
	asJSON := fs.Bool("json", false, "print the NameNode's CHKV.STATUS JSON")
	watch := fs.Bool("watch", false, "follow data movement until it ends (waiting for one to begin if none runs)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: never)")
	sec := addSecurityFlags(fs, true)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	ctx, cancel := commandContext(*timeout)
	defer cancel()
	addrs := chkv.SplitNameNodes(*addr)
	var c *chkv.Client
	var group []*raftStatus
	var err error
	if len(addrs) > 1 {
		c, group, err = leaderOf(ctx, addrs, sec)
	} else {
		c, err = dialNameNode(ctx, *addr, sec)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	st, raw, err := fetchStatus(ctx, c)
	if errors.Is(err, errNotNameNode) {
		return tableStatus(ctx, *addr, sec, *asJSON, stdout)
	}
	if err != nil {
		return err
	}
	if group != nil {
		// Each NameNode's Raft figures, as far as reached.
		st.NameNodes = make([]raftStatus, len(addrs))
		for i, a := range addrs {
			if group[i] != nil {
				st.NameNodes[i] = *group[i]
			} else {
				st.NameNodes[i] = raftStatus{Addr: a, Role: "unreachable"}
			}
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		m["namenodes"] = st.NameNodes
		if raw, err = json.Marshal(m); err != nil {
			return err
		}
	}
	if *asJSON {
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := stdout.Write(b.Bytes())
		return err
	}
	lost := -1
	tableAddr := *addr
	if st.Raft != nil {
		tableAddr = st.Raft.Addr // the leader's
	}
	if t, err := fetchTable(ctx, tableAddr, sec); err == nil {
		lost = chkv.StatusOf(t).Lost
	}
	fmt.Fprint(stdout, renderStatus(st, lost))
	tty := isTerminal(stdout)
	if !*watch && !(tty && st.moving()) {
		return nil
	}
	// Follow the movement under way, or the next one.
	first, changed := st.Version, st.moving()
	if !changed {
		fmt.Fprintln(stdout, "no data moving; waiting for a change (Ctrl-C to stop)")
	}
	st, err = follow(ctx, c, stdout, tty, func(st clusterStatus) bool {
		if st.moving() || st.Version != first {
			changed = true
		}
		return changed && !st.moving()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "settled at table version %d, stable: %v", st.Version, st.Stable)
	if st.Migration.SlotsTotal > 0 {
		fmt.Fprint(stdout, "; moved "+doneFigures(st.Migration))
	}
	fmt.Fprintln(stdout)
	return nil
}

// tableStatus prints the status of a DataNode's table: members and slots,
// without the movement only the NameNode knows.
func tableStatus(ctx context.Context, addr string, sec *securityFlags, asJSON bool, stdout io.Writer) error {
	t, err := fetchTable(ctx, addr, sec)
	if err != nil {
		return err
	}
	st := chkv.StatusOf(t)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprint(stdout, renderStatus(clusterStatus{Version: st.Version, Stable: st.Stable, Replicas: st.Replicas, Members: st.Members}, st.Lost))
	fmt.Fprintf(stdout, "(the table of the DataNode at %s; ask the NameNode for the data movement)\n", addr)
	return nil
}

func runLeave(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("leave", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("namenode", "127.0.0.1:7000", "address of the NameNode, or the comma-separated addresses of a Raft group of NameNodes")
	wait := fs.Bool("wait", true, "follow the movement until the node has left")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: never)")
	sec := addSecurityFlags(fs, true)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("leave needs one DataNode id: chkv leave --namenode HOST:PORT ID")
	}
	id := chkv.NodeID(pos[0])
	ctx, cancel := commandContext(*timeout)
	defer cancel()
	c, _, err := doOnLeader(ctx, *addr, sec, "CHKV.LEAVE", string(id))
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	if err != nil {
		var re *chkv.RESPError
		if errors.As(err, &re) {
			msg := strings.TrimPrefix(strings.TrimPrefix(re.Msg, "ERR "), "chkv: ")
			return fmt.Errorf("leave %s: the NameNode refused: %s", id, msg)
		}
		return fmt.Errorf("leave %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "leave of %s accepted: its slots move to the other DataNodes, then it shuts down\n", id)
	if !*wait {
		return nil
	}
	var down bool
	for {
		_, err = follow(ctx, c, stdout, isTerminal(stdout), func(st clusterStatus) bool {
			m, ok := st.member(id)
			down = ok && m.State == "down"
			return !ok || down
		})
		var re *chkv.RESPError
		if err == nil || ctx.Err() != nil || errors.As(err, &re) || len(chkv.SplitNameNodes(*addr)) == 1 {
			break
		}
		// The leader followed went away; the next one carries the
		// committed leave on: follow it there.
		c.Close()
		if c, _, err = leaderOf(ctx, chkv.SplitNameNodes(*addr), sec); err != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("leave %s: %w", id, err)
	}
	if down {
		return fmt.Errorf("leave %s: the node went down before its slots moved away", id)
	}
	fmt.Fprintf(stdout, "%s left the cluster\n", id)
	return nil
}

// runReassignLost asks the NameNode to give every lost slot (its last copy
// died in database mode) new, empty owners: the operator accepts the loss.
func runReassignLost(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reassign-lost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("namenode", "127.0.0.1:7000", "address of the NameNode, or the comma-separated addresses of a Raft group of NameNodes")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long (0: never)")
	sec := addSecurityFlags(fs, true)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return errors.New("reassign-lost takes no arguments: chkv reassign-lost --namenode HOST:PORT")
	}
	ctx, cancel := commandContext(*timeout)
	defer cancel()
	c, v, err := doOnLeader(ctx, *addr, sec, "CHKV.REASSIGNLOST")
	if c != nil {
		c.Close()
	}
	if err != nil {
		return fmt.Errorf("reassign-lost: %w", err)
	}
	k, _ := v.(int64)
	if k == 0 {
		fmt.Fprintln(stdout, "no slot is lost: nothing to do")
		return nil
	}
	fmt.Fprintf(stdout, "%d lost slot(s) given new, empty owners: they serve again, without the data that died\n", k)
	return nil
}

// fetchTable reads the table of the node at addr (CHKV.TABLE, which needs
// no secret), over TLS when the security flags say so.
func fetchTable(ctx context.Context, addr string, sec *securityFlags) (*chkv.Table, error) {
	tr, err := sec.transport(false)
	if err != nil {
		return nil, err
	}
	return chkv.FetchTable(ctx, tr, addr)
}

// statusOf runs the chkv binary exe's `status --json` against the NameNode
// at addr (extra flags after it) and decodes its answer: how the torture
// harness and the tests of real processes watch a cluster.
func statusOf(exe, addr string, extra ...string) (clusterStatus, error) {
	var st clusterStatus
	out, err := exec.Command(exe, append([]string{"status", "--json", "--namenode", addr}, extra...)...).Output()
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(out, &st)
	return st, err
}
