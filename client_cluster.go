// Client cluster mode: the cached partition table, its fetch, watch and refresh, redirect-following calls, and multi-key calls fanned out per owner node.

package chkv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// Cluster-mode timing.
const (
	// redirectBackoff is the first wait before a retry in cluster mode; it
	// doubles with every retry of a call, up to redirectBackoffMax.
	redirectBackoff    = 10 * time.Millisecond
	redirectBackoffMax = 500 * time.Millisecond
	// watchBackoff is the first wait before the table watcher reconnects
	// to the NameNode; it doubles, up to watchBackoffMax, and starts over
	// once a table arrives.
	watchBackoff    = 50 * time.Millisecond
	watchBackoffMax = 5 * time.Second
	// tableFetchTimeout caps one table refresh, shared by every caller
	// waiting on it.
	tableFetchTimeout = 5 * time.Second
)

// clusterState is a Client's routing state in cluster mode.
type clusterState struct {
	table  atomic.Pointer[Table] // newest table adopted; never nil once started
	flight singleflight.Group    // one table fetch at a time
	nn     []*clientPool         // a pool per NameNode of ClientConfig.NameNode (no AUTH); none without
	// watchAt is the NameNode the table watcher tries next.
	watchAt int
	cancel  context.CancelFunc // stops the watcher

	// fetches counts table fetches and inFlight/maxInFlight track how many
	// run at once, for tests.
	fetches, inFlight, maxInFlight atomic.Int64
}

// clusterMode reports whether cfg asks for a cluster Client.
func (cfg *ClientConfig) clusterMode() bool {
	return cfg.NameNode != "" || len(cfg.Seeds) > 0
}

// startCluster fetches the first table and starts the NameNode watcher.
func (c *Client) startCluster(ctx context.Context) error {
	cs := &clusterState{}
	if c.cfg.NameNode != "" {
		nnCfg := c.cfg
		nnCfg.Username, nnCfg.Password = "", ""
		nnCfg.PoolSize = 2
		for _, a := range SplitNameNodes(c.cfg.NameNode) {
			cs.nn = append(cs.nn, newClientPool(a, &nnCfg, c.closed))
		}
	}
	c.cluster = cs
	if err := c.fetchTable(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.Background())
	cs.cancel = cancel
	if len(cs.nn) > 0 {
		c.wg.Add(1)
		go c.watchTable(wctx)
	}
	return nil
}

// stop stops the watcher and closes the NameNode's pool.
func (cs *clusterState) stop() {
	if cs.cancel != nil {
		cs.cancel()
	}
	for _, p := range cs.nn {
		p.close()
	}
}

// primary returns the member leading key's slot in the current table; a
// slot without an owner is ErrClusterDown.
func (cs *clusterState) primary(key string) (Member, error) {
	slot := Slot(key)
	m, ok := cs.table.Load().Primary(slot)
	if !ok {
		return Member{}, fmt.Errorf("%w: slot %d has no owner in table version %d", ErrClusterDown, slot, cs.table.Load().Version)
	}
	return m, nil
}

// adopt makes t the Client's table when it is newer than the current one,
// drops the pools of nodes no longer live in it, and reports whether it did.
func (c *Client) adopt(t *Table) bool {
	cs := c.cluster
	for {
		cur := cs.table.Load()
		if cur != nil && t.Version <= cur.Version {
			return false
		}
		if cs.table.CompareAndSwap(cur, t) {
			break
		}
	}
	live := map[string]bool{}
	for _, m := range t.Members {
		if m.State != NodeDown { // a leaving node serves until its slots have moved
			live[m.Addr] = true
		}
	}
	c.mu.Lock()
	var gone []*clientPool
	for addr, p := range c.pools {
		if !live[addr] {
			gone = append(gone, p)
			delete(c.pools, addr)
		}
	}
	c.mu.Unlock()
	for _, p := range gone {
		p.retire()
	}
	return true
}

// fetchTable asks for the table with CHKV.TABLE: the NameNode first, then
// each seed and each live DataNode of the current table, until one answers.
// It adopts the answer when it is newer.
func (c *Client) fetchTable(ctx context.Context) error {
	cs := c.cluster
	cs.fetches.Add(1)
	n := cs.inFlight.Add(1)
	defer cs.inFlight.Add(-1)
	for {
		m := cs.maxInFlight.Load()
		if n <= m || cs.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	var errs []error
	got := false
	for _, p := range cs.nn { // any NameNode of a Raft group serves the committed table
		t, err := c.tableFrom(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = true
		if c.adopt(t) || len(cs.nn) == 1 {
			return nil
		}
		// Nothing newer: this NameNode may be a follower cut off from the
		// group; ask the next.
	}
	if got {
		return nil
	}
	seen := map[string]bool{}
	addrs := append([]string(nil), c.cfg.Seeds...)
	for _, m := range cs.table.Load().liveMembers() {
		addrs = append(addrs, m.Addr)
	}
	for _, addr := range addrs {
		if seen[addr] {
			continue
		}
		seen[addr] = true
		if ctx.Err() != nil {
			break
		}
		p, err := c.poolFor(addr)
		if err != nil {
			return err
		}
		t, err := c.tableFrom(ctx, p)
		if err == nil {
			c.adopt(t)
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no NameNode or seed to ask"))
	}
	return fmt.Errorf("chkv: no table: %w", errors.Join(errs...))
}

// liveMembers returns t's live members; none for a nil table.
func (t *Table) liveMembers() []Member {
	if t == nil {
		return nil
	}
	var ms []Member
	for _, m := range t.Members {
		if m.State.Live() {
			ms = append(ms, m)
		}
	}
	return ms
}

// tableFrom fetches and decodes the table of the server behind p.
func (c *Client) tableFrom(ctx context.Context, p *clientPool) (*Table, error) {
	out, err := p.exec(ctx, [][]any{{"CHKV.TABLE"}}, 0, nil)
	if err == nil {
		err, _ = out[0].(error)
	}
	if err != nil {
		return nil, fmt.Errorf("chkv: table from %s: %w", p.addr, err)
	}
	b, ok := out[0].(string)
	if !ok {
		return nil, fmt.Errorf("chkv: table from %s: %w", p.addr, unexpectedReply(out[0]))
	}
	t, err := decodeTable([]byte(b))
	if err != nil {
		return nil, fmt.Errorf("chkv: table from %s: %w", p.addr, err)
	}
	return t, nil
}

// refresh fetches the table again unless one newer than seen (the version
// the caller routed by) was adopted meanwhile. However many callers ask at
// once, one fetch is in flight; each waits for it within its own ctx.
func (c *Client) refresh(ctx context.Context, seen uint64) error {
	if c.cluster.table.Load().Version > seen {
		return nil
	}
	ch := c.cluster.flight.DoChan("table", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tableFetchTimeout)
		defer cancel()
		go func() { // the fetch ends when the client closes
			select {
			case <-c.closed:
				cancel()
			case <-fctx.Done():
			}
		}()
		return nil, c.fetchTable(fctx)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return ErrClosed
	}
}

// watchTable holds CHKV.WATCH on the NameNode and adopts every newer table
// it pushes, reconnecting with backoff, until ctx ends (Close).
func (c *Client) watchTable(ctx context.Context) {
	defer c.wg.Done()
	delay := watchBackoff
	for {
		if c.watchOnce(ctx) {
			delay = watchBackoff
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, watchBackoffMax)
	}
}

// watchOnce runs one CHKV.WATCH connection until it fails or ctx ends, and
// reports whether any table arrived on it.
func (c *Client) watchOnce(ctx context.Context) (got bool) {
	addrs := SplitNameNodes(c.cfg.NameNode)
	addr := addrs[c.cluster.watchAt%len(addrs)]
	dctx, cancel := context.WithTimeout(ctx, max(c.cfg.DialTimeout, time.Second))
	nc, err := dialPeer(dctx, c.cfg.Transport, addr, c.cfg.ClusterSecret)
	cancel()
	if err != nil {
		c.cluster.watchAt++ // the next NameNode of the list
		return false
	}
	defer func() {
		if !got {
			c.cluster.watchAt++
		}
	}()
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	if _, err := nc.Write([]byte("*1\r\n$10\r\nCHKV.WATCH\r\n")); err != nil {
		return false
	}
	br := bufio.NewReaderSize(nc, clientReadBuf)
	for {
		v, err := readClientReply(br, 0)
		if err != nil {
			return got
		}
		b, ok := v.(string)
		if !ok {
			return got
		}
		t, err := decodeTable([]byte(b))
		if err != nil {
			return got
		}
		c.adopt(t)
		got = true
	}
}

// redirectKind says what a cluster reply or failure asks the Client to do.
type redirectKind uint8

const (
	redirectNone      redirectKind = iota // a final reply or error
	redirectMoved                         // -MOVED: refresh, retry at the new address
	redirectAsk                           // -ASK: ASKING + retry at the address once
	redirectWait                          // -CLUSTERDOWN, -TRYAGAIN: wait, retry
	redirectUnreached                     // nothing was sent (dial refused, retired pool): refresh, wait, retry
)

// classify returns what err (an error reply or a failure of a call) asks
// for, and the address a MOVED or ASK names.
func (c *Client) classify(err error) (redirectKind, string) {
	var re *RESPError
	if errors.As(err, &re) {
		switch sentinelFor(re.Msg) {
		case ErrMoved, ErrAsk:
			f := strings.Fields(re.Msg)
			if len(f) == 3 {
				if _, perr := strconv.Atoi(f[1]); perr == nil {
					if sentinelFor(re.Msg) == ErrMoved {
						return redirectMoved, f[2]
					}
					return redirectAsk, f[2]
				}
			}
		case ErrClusterDown, ErrTryAgain:
			return redirectWait, ""
		}
		return redirectNone, ""
	}
	if errors.Is(err, ErrUnknownOutcome) {
		return redirectNone, ""
	}
	var de *clientDialError
	if errors.As(err, &de) {
		return redirectUnreached, ""
	}
	if errors.Is(err, ErrClusterDown) { // no owner in our table
		return redirectWait, ""
	}
	if errors.Is(err, ErrClosed) {
		select {
		case <-c.closed:
		default:
			return redirectUnreached, "" // a pool retired under us
		}
	}
	return redirectNone, ""
}

// sleepBackoff waits before retry number n (1-based) of a call.
func (c *Client) sleepBackoff(ctx context.Context, n int) error {
	d := min(redirectBackoff<<min(n-1, 16), redirectBackoffMax)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return ErrClosed
	}
}

// clusterDo runs one command routed by key in cluster mode and returns its
// reply; an error reply is the error. It follows MOVED (refreshing the
// table, one fetch however many callers hit it) and ASK (ASKING, then the
// command at the named node once, the table unchanged), and retries
// CLUSTERDOWN, TRYAGAIN and a node that refused the connection with
// exponential backoff, at most MaxRedirects times; then the last error is
// returned. A failure after the request was sent (ErrUnknownOutcome) is
// never retried.
func (c *Client) clusterDo(ctx context.Context, key string, block time.Duration, args []any) (any, error) {
	cs := c.cluster
	target, asking := "", false // set by a redirect for the next attempt
	for attempt := 0; ; attempt++ {
		t := cs.table.Load()
		addr := target
		var v any
		var err error
		if addr == "" {
			var m Member
			m, err = cs.primary(key)
			addr = m.Addr
		}
		if addr != "" {
			v, err = c.execAt(ctx, addr, asking, block, args)
		}
		if err == nil {
			return v, nil
		}
		kind, to := c.classify(err)
		if kind == redirectNone || attempt >= c.cfg.MaxRedirects {
			return nil, err
		}
		target, asking = "", false
		switch kind {
		case redirectMoved:
			if rerr := c.refresh(ctx, t.Version); errors.Is(rerr, ErrClosed) || ctx.Err() != nil {
				return nil, err
			}
			target = to
			if attempt > 0 {
				if serr := c.sleepBackoff(ctx, attempt); serr != nil {
					return nil, err
				}
			}
		case redirectAsk:
			target, asking = to, true
		case redirectWait, redirectUnreached:
			if serr := c.sleepBackoff(ctx, attempt+1); serr != nil {
				return nil, err
			}
			if rerr := c.refresh(ctx, t.Version); errors.Is(rerr, ErrClosed) || ctx.Err() != nil {
				return nil, err
			}
		}
	}
}

// execAt sends args to the node at addr, preceded by ASKING when asking is
// set, and returns the reply; an error reply is the error.
func (c *Client) execAt(ctx context.Context, addr string, asking bool, block time.Duration, args []any) (any, error) {
	p, err := c.poolFor(addr)
	if err != nil {
		return nil, err
	}
	var buf [2]any
	cmds := [][]any{args}
	if asking {
		cmds = [][]any{{"ASKING"}, args}
	}
	out, err := p.exec(ctx, cmds, block, buf[:0])
	if err != nil {
		return nil, err
	}
	last := out[len(out)-1]
	if err, ok := last.(error); ok {
		return nil, err
	}
	return last, nil
}

// slotCmd is one command of a multi-key call: the keys of one slot.
type slotCmd struct {
	slot int
	args []any
	idx  []int // positions of its keys in the caller's list
}

// splitBySlot builds one command per slot of keys: cmd, then each key of
// the slot followed by its value when vals is given, in the caller's order.
func splitBySlot(cmd string, keys, vals []string) []slotCmd {
	bySlot := map[int]int{}
	var cmds []slotCmd
	for i, k := range keys {
		s := Slot(k)
		j, ok := bySlot[s]
		if !ok {
			j = len(cmds)
			bySlot[s] = j
			cmds = append(cmds, slotCmd{slot: s, args: []any{cmd}})
		}
		cmds[j].args = append(cmds[j].args, k)
		if vals != nil {
			cmds[j].args = append(cmds[j].args, vals[i])
		}
		cmds[j].idx = append(cmds[j].idx, i)
	}
	return cmds
}

// fanOut runs cmds in cluster mode: grouped by the node leading their slot,
// pipelined on one connection per node, the nodes in parallel. It returns
// one reply per command; an error reply is the error.
//
// Commands answered by a redirect, CLUSTERDOWN or TRYAGAIN, or whose node
// refused the connection, run again: the first of them alone through
// clusterDo, which follows the redirect and refreshes the table, then the
// rest fanned out again by the new table, at most MaxRedirects rounds; after
// that each runs alone through clusterDo.
func (c *Client) fanOut(ctx context.Context, cmds []slotCmd) ([]any, error) {
	out := make([]any, len(cmds))
	idx := make([]int, len(cmds))
	for i := range idx {
		idx[i] = i
	}
	if err := c.fanOutRound(ctx, cmds, idx, out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// fanOutRound is round number round of fanOut, for cmds[idx...].
func (c *Client) fanOutRound(ctx context.Context, cmds []slotCmd, idx []int, out []any, round int) error {
	t := c.cluster.table.Load()
	byNode := map[string][]int{}
	for _, i := range idx {
		m, _ := t.Primary(cmds[i].slot) // no owner: "", to run again
		byNode[m.Addr] = append(byNode[m.Addr], i)
	}
	var mu sync.Mutex
	var redo []int
	g, gctx := errgroup.WithContext(ctx)
	for addr, idx := range byNode {
		g.Go(func() error {
			r, err := c.runOnNode(gctx, addr, idx, cmds, out)
			mu.Lock()
			redo = append(redo, r...)
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(redo) == 0 {
		return nil
	}
	rest := redo
	if round < c.cfg.MaxRedirects {
		rest = redo[:1]
	}
	for _, i := range rest {
		v, err := c.clusterDo(ctx, cmds[i].args[1].(string), 0, cmds[i].args)
		if err != nil {
			return err
		}
		out[i] = v
	}
	if len(rest) == len(redo) {
		return nil
	}
	return c.fanOutRound(ctx, cmds, redo[1:], out, round+1)
}

// runOnNode pipelines cmds[idx...] to the node at addr ("" for none) and
// stores their replies in out at the same indexes. It returns the indexes
// of the commands to run again (see fanOut).
func (c *Client) runOnNode(ctx context.Context, addr string, idx []int, cmds []slotCmd, out []any) (redo []int, err error) {
	if addr == "" {
		return idx, nil
	}
	p, err := c.poolFor(addr)
	var res []any
	if err == nil {
		batch := make([][]any, len(idx))
		for j, i := range idx {
			batch[j] = cmds[i].args
		}
		res, err = p.exec(ctx, batch, 0, make([]any, 0, len(idx)))
	}
	if err != nil {
		if kind, _ := c.classify(err); kind == redirectNone {
			return nil, err
		}
		return idx, nil
	}
	for j, r := range res {
		if e, ok := r.(error); ok {
			if kind, _ := c.classify(e); kind != redirectNone {
				redo = append(redo, idx[j])
				continue
			}
			return nil, e
		}
		out[idx[j]] = r
	}
	return redo, nil
}

// clusterMGet is MGet in cluster mode: one MGET per slot.
func (c *Client) clusterMGet(ctx context.Context, keys []string) (map[string]string, error) {
	cmds := splitBySlot("MGET", keys, nil)
	res, err := c.fanOut(ctx, cmds)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(keys))
	for i, sc := range cmds {
		arr, ok := res[i].([]any)
		if !ok || len(arr) != len(sc.idx) {
			return nil, unexpectedReply(res[i])
		}
		for j, e := range arr {
			switch e := e.(type) {
			case string:
				out[keys[sc.idx[j]]] = e
			case nil:
			default:
				return nil, unexpectedReply(e)
			}
		}
	}
	return out, nil
}

// clusterMSet is MSet in cluster mode: one MSET per slot, so it is atomic
// per slot only.
func (c *Client) clusterMSet(ctx context.Context, kv map[string]string) error {
	keys := make([]string, 0, len(kv))
	vals := make([]string, 0, len(kv))
	for k, v := range kv {
		keys = append(keys, k)
		vals = append(vals, v)
	}
	_, err := c.fanOut(ctx, splitBySlot("MSET", keys, vals))
	return err
}

// clusterCount runs cmd (DEL, EXISTS, UNLINK) per slot and sums the counts.
func (c *Client) clusterCount(ctx context.Context, cmd string, keys []string) (int64, error) {
	res, err := c.fanOut(ctx, splitBySlot(cmd, keys, nil))
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, r := range res {
		n, err := replyInt(r, nil)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// TableVersion returns the version of the partition table the Client routes
// by; 0 for a single-node Client.
func (c *Client) TableVersion() uint64 {
	if c.cluster == nil {
		return 0
	}
	return c.cluster.table.Load().Version
}
