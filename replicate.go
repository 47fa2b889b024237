// In-sync replication: the primary of a slot streams every write of it to the slot's replicas, and a reply waits until they applied it.
//
// The partition table's owner list of a slot is its primary and its
// in-sync replicas: every copy named there holds every acknowledged write.
// A write on the primary goes, in the store's write order (the store's
// WriteObserver, under the slot lock), into one stream per replica node as
// a record of the key's whole new state: value, version and expiry, so a
// replica applies exactly what the primary holds, whatever the command was.
// One stream per pair of nodes carries every slot they share; frames are
// cut whenever the sender is free, so concurrent and pipelined writes share
// a round trip (group commit).
//
// Before a connection's replies leave, awaitReplicas waits until every
// stream its commands touched acknowledged the sequence number current when
// each command ran: reads wait too, so nobody sees a write that a failover
// could still lose. A replica that does not acknowledge within
// ReplicaTimeout is reported to the NameNode (CHKV.ISRDROP), which takes it
// out of the slots' owner lists in a new table; only once this node adopted
// that table do the waits end without it. A replica refuses records for a
// slot whose primary, in its own newer table, is another node: a deposed
// primary cannot slip writes in. The primary also holds a lease renewed by
// its heartbeats and shorter than the NameNode's failure detection: when it
// lapses the node stops serving the slots it leads before any other copy
// can be promoted.

package chkv

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Tuning of the replication stream.
const (
	replFrameBytes = 1 << 20 // a frame is cut once its records pass this size
	replDialWait   = 50 * time.Millisecond
	replPendingTTL = 30 * time.Second // how long a copied replica waits for the table naming it
)

// errReplication is why a connection's replies were withheld: the writes
// they report may or may not survive, so the connection is closed instead.
var errReplication = errors.New("chkv: replication did not complete")

// replFrame is a run of records sent as one CHKV.REPL request.
type replFrame struct {
	epoch   uint64 // table version the records were written under
	lastSeq uint64 // sequence number of the last write in the frame
	buf     []byte
	marks   []int     // start of every record, for filtering on a resend
	gens    []uint32  // per record: its slot's leadership generation when written (clusterNode.leadGen)
	changes uint64    // clusterNode.leadChanges when the frame was cut
	sentAt  time.Time // when it was last sent: its acknowledgement renews the lease from then
}

// replStream carries the writes of the slots this node leads to one
// replica node.
type replStream struct {
	cn   *clusterNode
	peer NodeID
	addr atomic.Pointer[string]

	mu      sync.Mutex
	enc     recordEncoder // records not yet framed
	gens    []uint32      // leadership generation of each of enc's records
	epoch   uint64        // epoch of enc's records
	frames  []replFrame   // framed, not yet acknowledged (the first ones may be sent)
	sent    int           // frames[:sent] are on the current connection
	todo    []replFrame   // claimLocked's, under wmu
	conn    net.Conn      // the current session's connection (as nc), for abortLocked; nil between sessions
	lagFrom time.Time     // when the oldest unacknowledged write was made; zero when none

	seq        atomic.Uint64 // writes appended
	acked      atomic.Uint64 // writes the replica applied
	confirmed  atomic.Int64  // unix nanoseconds: the replica last confirmed this node as its primary then
	detached   atomic.Bool   // no slot replicates to peer any more: waits end
	reportedAt atomic.Int64  // unix nanoseconds: lag last reported to the NameNode; 0: not in this stall
	lastSend   atomic.Int64  // unix nanoseconds: frames last sent

	// The current session's connection, for sendNow; under wmu, which a
	// sender holds from claiming frames until they are written.
	wmu      sync.Mutex
	nc       net.Conn
	writeNow func(p []byte) (int, error) // writes what the socket takes at once; nil: no session, or not TCP
	rest     []byte                      // what sendNow's write left over: the session writes it first
	wbuf     []byte

	wake    chan struct{}  // buffered 1: records or frames to send
	notify  chan struct{}  // closed and replaced when acked or detached changes; under mu
	waiters map[any]func() // run once on the next notify (an event loop's wake-up); under mu
	stop    chan struct{}
	done    chan struct{}
}

// slotRepl is what a slot this node leads replicates to.
type slotRepl struct {
	streams []*replStream
}

// replNeed is what one of a connection's commands waits for before its
// reply leaves: stream st applied write seq, and this node still leads slot.
type replNeed struct {
	st   *replStream
	seq  uint64
	slot int
	gen  uint32 // the slot's leadership generation when the command ran
}

// pendingRepl is a replica a copy has just filled, which the table does not
// name yet: the primary streams to it from the copy's end on.
type pendingRepl struct {
	st    *replStream
	since time.Time
	// liveIn is the version of this node's table at the copy when it
	// named the replica's node live (or leaving), else 0.
	liveIn uint64
}

// stream returns the stream to peer, starting it when there is none.
func (cn *clusterNode) stream(peer NodeID, addr string) *replStream {
	cn.replMu.Lock()
	defer cn.replMu.Unlock()
	if st := cn.streams[peer]; st != nil {
		if addr != "" && *st.addr.Load() != addr {
			st.addr.Store(&addr)
		}
		return st
	}
	st := &replStream{cn: cn, peer: peer, wake: make(chan struct{}, 1), notify: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	st.addr.Store(&addr)
	cn.streams[peer] = st
	cn.d.wg.Add(1)
	go st.run()
	return st
}

// observeRepl appends a write of slot to the streams of its replicas. It
// runs under the slot lock, in write order.
func (cn *clusterNode) observeRepl(slot int, op WriteOp, key string, e *entry) {
	sr := cn.repl[slot].Load()
	if sr == nil {
		return
	}
	epoch := cn.epoch.Load()
	for _, st := range sr.streams {
		st.append(epoch, slot, op, key, e)
	}
}

// append adds one write to the stream.
func (st *replStream) append(epoch uint64, slot int, op WriteOp, key string, e *entry) {
	st.mu.Lock()
	if len(st.enc.marks) > 0 && (st.epoch != epoch || len(st.enc.buf) >= replFrameBytes) {
		st.sealLocked()
	}
	st.epoch = epoch
	if op == WriteDel {
		st.enc.del(slot, key)
	} else {
		st.enc.entry(slot, key, e)
	}
	gen := st.cn.leadGen[slot].Load()
	for len(st.gens) < len(st.enc.marks) {
		st.gens = append(st.gens, gen)
	}
	if st.lagFrom.IsZero() {
		st.lagFrom = time.Now()
	}
	st.seq.Add(1)
	st.mu.Unlock()
	if st.cn.cfg.AsyncReplication {
		st.kick()
	}
	// In-sync, whoever waits for the write wakes the sender (waitAck,
	// parkRepl): an event loop does so after the turn's last request, so
	// one frame carries every write of the turn instead of the first alone.
	// Writes no one waits for (expiry, eviction) go with the next frame, or
	// with the idle frame of the next tick.
}

// sealLocked turns the records not yet framed into a frame.
func (st *replStream) sealLocked() {
	if len(st.enc.marks) == 0 {
		return
	}
	st.frames = append(st.frames, replFrame{
		epoch: st.epoch, lastSeq: st.seq.Load(),
		buf: append([]byte(nil), st.enc.buf...), marks: append([]int(nil), st.enc.marks...),
		gens: append([]uint32(nil), st.gens...), changes: st.cn.leadChanges.Load(),
	})
	st.enc.reset()
	st.gens = st.gens[:0]
}

// notifyLocked wakes the waiters; self (an event loop reading the
// acknowledgement, which serves its parked connections before it waits
// again) needs no wake-up, and its registration ends too.
func (st *replStream) notifyLocked(self any) {
	close(st.notify)
	st.notify = make(chan struct{})
	for key, fn := range st.waiters {
		if key != self {
			fn()
		}
	}
	clear(st.waiters)
}

// onNotify has fn run once on the stream's next acknowledgement or
// detachment; key stands for the caller (one registration per key). The
// caller sees that the write it waits for is sent (sendNow, kick).
func (st *replStream) onNotify(key any, fn func()) {
	st.mu.Lock()
	if st.waiters == nil {
		st.waiters = map[any]func(){}
	}
	st.waiters[key] = fn
	st.mu.Unlock()
}

// kick wakes the sender, which may be idle after a reconnect.
func (st *replStream) kick() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// detach ends every wait on the stream and drops what it holds: the table
// no longer names peer as a replica of any slot this node leads.
func (st *replStream) detach() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.detached.Swap(true) {
		return
	}
	st.abortLocked()
	st.frames, st.sent, st.lagFrom = nil, 0, time.Time{}
	st.enc.reset()
	st.gens = st.gens[:0]
	st.notifyLocked(nil)
}

// attach makes a detached stream carry writes again (the peer became a
// replica anew, after a fresh copy).
func (st *replStream) attach() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.detached.Swap(false) {
		st.acked.Store(st.seq.Load())
		st.reportedAt.Store(0)
	}
}

// run sends frames and reads acknowledgements until the stream stops.
func (st *replStream) run() {
	defer st.cn.d.wg.Done()
	defer close(st.done)
	var backoff time.Duration
	for {
		err := st.session()
		select {
		case <-st.stop:
			return
		case <-st.cn.d.closed:
			return
		default:
		}
		if err != nil {
			st.cn.d.cfg.Logger.Debug("replication stream", "id", st.cn.id, "to", st.peer, "err", err)
		}
		backoff = min(max(2*backoff, replDialWait), time.Second)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-st.stop:
			t.Stop()
			return
		case <-st.cn.d.closed:
			t.Stop()
			return
		}
	}
}

// session runs one connection to the replica: it resends what was not
// acknowledged, then sends new frames as they come, while the node's event
// loop (loopAcks) or a reader goroutine applies the acknowledgements. An
// event loop may send frames on the connection itself (sendNow); wmu keeps
// the frames in the order they were claimed.
func (st *replStream) session() (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), st.cn.cfg.RPCTimeout)
	nc, err := st.cn.dialPeer(ctx, *st.addr.Load())
	cancel()
	if err != nil {
		return err
	}
	ac, readErr := st.loopAcks(nc)
	if ac != nil {
		nc = ac
	}
	defer nc.Close()
	defer func() {
		var re *RESPError
		if errors.As(err, &re) {
			st.cn.d.cfg.Logger.Info("replica refused records: fetching its table", "id", st.cn.id, "replica", st.peer, "err", re.Msg)
			st.cn.refreshTableFrom(*st.addr.Load())
		}
	}()
	st.wmu.Lock()
	st.mu.Lock()
	st.sent, st.conn = 0, nc
	st.mu.Unlock()
	st.nc, st.writeNow, st.rest = nc, nonBlockingWriter(nc), st.rest[:0]
	st.wmu.Unlock()
	defer func() {
		st.wmu.Lock()
		st.nc, st.writeNow = nil, nil
		st.wmu.Unlock()
		st.mu.Lock()
		if st.conn == nc {
			st.conn = nil
		}
		st.mu.Unlock()
	}()
	if ac == nil {
		readErr = make(chan error, 1)
		go func() { readErr <- st.readAcks(nc) }()
	}
	bw := bufio.NewWriterSize(nc, 64<<10)
	tick := time.NewTicker(st.cn.cfg.HeartbeatInterval / 2)
	defer tick.Stop()
	for {
		st.wmu.Lock()
		st.mu.Lock()
		if st.detached.Load() {
			st.mu.Unlock()
			st.wmu.Unlock()
			select {
			case err := <-readErr:
				return err
			case <-st.wake:
			case <-st.stop:
				return nil
			case <-st.cn.d.closed:
				return nil
			}
			continue
		}
		st.sealLocked()
		if st.sent == len(st.frames) && time.Since(time.Unix(0, st.lastSend.Load())) >= st.cn.cfg.HeartbeatInterval/2 {
			// Idle: an empty frame has the replica confirm this node as
			// its primary, which renews the lease (leaseValid).
			st.frames = append(st.frames, replFrame{epoch: st.cn.epoch.Load(), lastSeq: st.seq.Load()})
		}
		todo := st.claimLocked()
		st.mu.Unlock()
		if len(todo) > 0 || len(st.rest) > 0 {
			bw.Write(st.rest) // what a sendNow left over goes first
			st.rest = st.rest[:0]
			for _, f := range todo {
				f = st.filter(f)
				st.wbuf = appendReplFrame(st.wbuf[:0], st.cn.id, f)
				bw.Write(st.wbuf)
			}
			nc.SetWriteDeadline(time.Now().Add(migrateIOTimeout))
			err := bw.Flush()
			st.wmu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		st.wmu.Unlock()
		select {
		case err := <-readErr:
			return err
		case <-st.wake:
		case <-tick.C:
		case <-st.stop:
			return nil
		case <-st.cn.d.closed:
			return nil
		}
	}
}

// claimLocked returns the frames not yet sent on the current connection
// and counts them sent (in st.todo, valid until the next claim); the
// caller holds wmu and mu, and writes them before it releases wmu.
func (st *replStream) claimLocked() []replFrame {
	if st.sent == len(st.frames) {
		return nil
	}
	now := time.Now()
	for i := st.sent; i < len(st.frames); i++ {
		st.frames[i].sentAt = now
	}
	st.lastSend.Store(now.UnixNano())
	st.todo = append(st.todo[:0], st.frames[st.sent:]...)
	st.sent = len(st.frames)
	return st.todo
}

// sendNow writes the stream's new frames from the calling event loop, at
// the end of its turn, without waking the stream's goroutine: only as
// much as the socket takes at once; the goroutine writes the rest. When
// another sender holds the connection, or there is none, it wakes the
// goroutine instead.
func (st *replStream) sendNow() {
	if !st.wmu.TryLock() {
		st.kick()
		return
	}
	defer st.wmu.Unlock()
	if st.writeNow == nil || len(st.rest) > 0 {
		st.kick()
		return
	}
	st.mu.Lock()
	if st.detached.Load() {
		st.mu.Unlock()
		return
	}
	st.sealLocked()
	todo := st.claimLocked()
	st.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	buf := st.wbuf[:0]
	for _, f := range todo {
		buf = appendReplFrame(buf, st.cn.id, st.filter(f))
	}
	st.wbuf = buf
	n, err := st.writeNow(buf) // never waits: the goroutine writes what is left
	if err != nil {
		st.nc.Close() // the session ends, and the next one resends
		return
	}
	if n < len(buf) {
		st.rest = append(st.rest[:0], buf[n:]...)
		st.kick()
	}
}

// nonBlockingWriter returns, for sendNow, what writes to nc as much as
// its socket takes at once; nil for other connections than TCP (TLS, the
// memory transport).
func nonBlockingWriter(nc net.Conn) func(p []byte) (int, error) {
	if ac, ok := nc.(interface{ writeNow([]byte) (int, error) }); ok {
		return ac.writeNow // read by an event loop (loopAcks)
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return func(p []byte) (int, error) {
		n, werr := 0, error(nil)
		err := rc.Write(func(fd uintptr) bool {
			n, werr = writeNonBlocking(int(fd), p)
			return true
		})
		return n, cmp.Or(err, werr)
	}
}

// filter drops from f the records of slots this node has not led without
// a break since they were written (its table moved them away, maybe back):
// the replica would rightly refuse them, and the writes they carry are
// answered with an error (awaitReplicas checks the same generation).
func (st *replStream) filter(f replFrame) replFrame {
	cn := st.cn
	if f.changes == cn.leadChanges.Load() {
		return f // no slot changed hands since the frame was cut
	}
	f = f.keep(func(i, slot int) bool {
		return cn.stillLeads(slot) && f.gens[i] == cn.leadGen[slot].Load()
	})
	if t, _ := cn.current(); t != nil {
		f.epoch = t.Version
	}
	return f
}

// keep returns f with only the records for which keep(index, slot) holds.
func (f replFrame) keep(keep func(i, slot int) bool) replFrame {
	var rec record
	var out []byte
	var marks []int
	var gens []uint32
	for i, start := range f.marks {
		end := len(f.buf)
		if i+1 < len(f.marks) {
			end = f.marks[i+1]
		}
		d := recordDecoder{b: f.buf[start:end]}
		if d.next(&rec) && keep(i, rec.slot) {
			marks = append(marks, len(out))
			gens = append(gens, f.gens[i])
			out = append(out, f.buf[start:end]...)
		}
	}
	f.buf, f.marks, f.gens = out, marks, gens
	return f
}

// purgeSlot drops from the frames not yet acknowledged the records of
// slot: the stream's replica stopped being one of its copies (the table
// took it out, or a copy's pending replica expired). They must never reach
// it: sent while its table names it no copy, the replica refuses them, and
// every resend was refused again, wedging the whole stream; sent after a
// later copy filled it anew, they would overwrite the copy's newer data.
// Their waiters lose nothing: a replica taken out is never promoted, and
// comes back only through a fresh copy, which holds their writes.
//
// Records already written to the connection are out of reach: a
// partitioned replica's kernel gets them when the link comes back, TCP
// retransmitting them maybe seconds later, after the fresh copy (a torture
// run lost 5 acknowledged RPUSHes so). So when one of them is purged the
// connection is reset, its unacknowledged bytes discarded, and the next
// session resends the frames without them.
func (st *replStream) purgeSlot(slot int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sealLocked()
	var rec record
	sent := false
	for i, f := range st.frames {
		if slices.ContainsFunc(f.marks, func(start int) bool {
			d := recordDecoder{b: f.buf[start:]}
			return d.next(&rec) && rec.slot == slot
		}) {
			st.frames[i] = f.keep(func(_, s int) bool { return s != slot })
			sent = sent || i < st.sent
		}
	}
	if sent {
		st.abortLocked()
	}
}

// abortLocked resets the current connection when frames were sent on it:
// the kernel discards what it has not delivered yet instead of sending it
// later (SO_LINGER 0), and the session ends. The caller holds st.mu.
func (st *replStream) abortLocked() {
	if st.conn == nil || st.sent == 0 {
		return
	}
	c := st.conn
	for {
		u, ok := c.(interface{ NetConn() net.Conn }) // TLS
		if !ok {
			break
		}
		c = u.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	if ac, ok := c.(interface{ abort() }); ok {
		ac.abort() // read by an event loop (loopAcks)
	}
	c.Close() // beneath TLS: its close alert could wait on a full buffer
	st.conn, st.sent = nil, 0
}

// appendReplFrame appends CHKV.REPL <from> <epoch> <lastSeq> <records> to b.
func appendReplFrame(b []byte, from NodeID, f replFrame) []byte {
	w := replyWriter{buf: b}
	w.array(5)
	w.bulkString("CHKV.REPL")
	w.bulkString(string(from))
	w.buf = append(w.buf, '$')
	w.buf = strconv.AppendInt(w.buf, int64(countDigits(f.epoch)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = strconv.AppendUint(w.buf, f.epoch, 10)
	w.buf = append(w.buf, '\r', '\n', '$')
	w.buf = strconv.AppendInt(w.buf, int64(countDigits(f.lastSeq)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = strconv.AppendUint(w.buf, f.lastSeq, 10)
	w.buf = append(w.buf, '\r', '\n', '$')
	w.buf = strconv.AppendInt(w.buf, int64(len(f.buf)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = append(w.buf, f.buf...)
	return append(w.buf, '\r', '\n')
}

// countDigits returns how many decimal digits v has.
func countDigits(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// readAcks reads the replica's answers: the sequence number applied, or an
// error (a refusal: the replica's table is newer; the session fetches it).
func (st *replStream) readAcks(nc net.Conn) error {
	br := bufio.NewReaderSize(nc, 4096)
	for {
		nc.SetReadDeadline(time.Time{})
		r, err := readPeerReply(br, 0)
		if err != nil {
			nc.Close()
			return err
		}
		n, ok := r.(int64)
		if !ok {
			nc.Close()
			return fmt.Errorf("%w: replication ack %T", ErrProtocol, r)
		}
		st.ack(uint64(n), nil)
	}
}

// ack records that the replica applied every write up to seq; self is the
// event loop that read it, if one did (notifyLocked).
func (st *replStream) ack(seq uint64, self any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := 0
	for i < len(st.frames) && st.frames[i].lastSeq <= seq {
		if t := st.frames[i].sentAt.UnixNano(); t > st.confirmed.Load() {
			st.confirmed.Store(t)
		}
		i++
	}
	if seq <= st.acked.Load() {
		st.frames = st.frames[i:]
		st.sent = max(st.sent-i, 0)
		return
	}
	st.acked.Store(seq)
	st.frames = st.frames[i:]
	st.sent = max(st.sent-i, 0)
	if seq >= st.seq.Load() {
		st.lagFrom = time.Time{}
	} else {
		st.lagFrom = time.Now()
	}
	st.reportedAt.Store(0)
	st.notifyLocked(self)
}

// lag returns how long the oldest unacknowledged write has waited.
func (st *replStream) lag() time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lagFrom.IsZero() || st.detached.Load() {
		return 0
	}
	return time.Since(st.lagFrom)
}

// waitAck waits until the stream applied seq (true) or was detached
// (true: the table took the replica out). It gives up (false) when the node
// closes, when lost reports that the write can no longer count (a table
// took its slot's lead away), or at giveUp (replWaitBound after the
// wait began). A lapsed lease alone does not end the wait: an
// acknowledgement still proves the write is on a replica, which refuses a
// deposed primary's records.
func (st *replStream) waitAck(seq uint64, lost func() bool, giveUp time.Time) bool {
	cn := st.cn
	for {
		st.mu.Lock()
		ch := st.notify
		done := st.acked.Load() >= seq || st.detached.Load()
		st.mu.Unlock()
		if done {
			return true
		}
		if lost() || time.Now().After(giveUp) {
			return false
		}
		st.kick()
		t := time.NewTimer(cn.cfg.HeartbeatInterval / 4)
		select {
		case <-ch:
		case <-t.C:
		case <-cn.d.closed:
			t.Stop()
			return false
		}
		t.Stop()
		cn.checkLag(st)
	}
}

// noteRepl records what the reply of a command on slot must wait for.
func (c *conn) noteRepl(cn *clusterNode, slot int) {
	c.lastSlot = slot + 1
	sr := cn.repl[slot].Load()
	if sr == nil || cn.cfg.AsyncReplication {
		return
	}
	for _, st := range sr.streams {
		seq := st.seq.Load()
		if seq <= st.acked.Load() {
			continue
		}
		gen := cn.leadGen[slot].Load()
		n := len(c.replNeed)
		if n > 0 && c.replNeed[n-1].st == st && c.replNeed[n-1].slot == slot && c.replNeed[n-1].gen == gen {
			c.replNeed[n-1].seq = seq
			continue
		}
		c.replNeed = append(c.replNeed, replNeed{st: st, seq: seq, slot: slot, gen: gen})
	}
}

// awaitReplicas waits, before c's replies are written, until the replicas
// applied what c's commands wrote or read. False means the outcome is
// unknown: the caller closes the connection instead of replying.
func (c *conn) awaitReplicas() bool {
	if len(c.replNeed) == 0 {
		return true
	}
	cn := c.d.cluster
	giveUp := c.replDeadline
	if giveUp.IsZero() {
		giveUp = time.Now().Add(cn.replWaitBound())
	}
	c.replDeadline = time.Time{}
	ok := true
	for _, n := range c.replNeed {
		if !ok {
			break
		}
		lost := func() bool { return n.lost(cn) }
		if n.seq > n.st.acked.Load() && !n.st.waitAck(n.seq, lost, giveUp) {
			ok = false
			break
		}
		if n.seq > n.st.acked.Load() && !cn.tookOut(n.slot, n.st.peer) {
			// The stream was detached before the replica applied the
			// write: that only counts when a table took the replica out
			// of the slot's copies, which the NameNode then never
			// promotes. A node leading by a move the table does not show
			// (or no longer leading) has no such table.
			ok = false
			break
		}
		ok = cn.stillLeads(n.slot) && cn.leadGen[n.slot].Load() == n.gen
	}
	c.replNeed = c.replNeed[:0]
	if !ok {
		cn.stats.replFailed.Add(1)
	}
	return ok
}

// replWaitBound is how long a reply waits for its replicas at most: far
// past the replica timeout (after which the NameNode takes a silent
// replica out) and the lease.
func (cn *clusterNode) replWaitBound() time.Duration {
	return 4*cn.cfg.ReplicaTimeout + 2*cn.cfg.Lease + cn.cfg.RPCTimeout
}

// lost reports whether the write n waits for can no longer count: a table
// took its slot's lead away since.
func (n replNeed) lost(cn *clusterNode) bool {
	return !cn.stillLeads(n.slot) || cn.leadGen[n.slot].Load() != n.gen
}

// replReady reports whether c's replies may leave without waiting for a
// replica: every stream its commands touched has acknowledged their writes
// or was detached (awaitReplicas then decides at once).
func (c *conn) replReady() bool {
	for _, n := range c.replNeed {
		if n.seq > n.st.acked.Load() && !n.st.detached.Load() {
			return false
		}
	}
	return true
}

// repliesWait reports whether c's replies so far must wait before they
// leave: for replicas to apply what its commands wrote or read, or for the
// disk (flushReplies would block).
func (c *conn) repliesWait() bool {
	return !c.replReady() || !c.durSettled()
}

// parkRepl prepares c's replies to wait for its replicas without blocking
// the caller (an event loop): wake runs on an acknowledgement of any
// stream c waits for (key: one registration per caller), and send gets
// each stream c waits for (the caller has it send its frames: sendNow).
// It returns false when there is nothing to wait for after all.
func (c *conn) parkRepl(key any, wake func(), send func(*replStream)) bool {
	if len(c.replNeed) == 0 || c.replReady() {
		return false
	}
	for _, n := range c.replNeed {
		n.st.onNotify(key, wake)
		send(n.st)
	}
	if c.replReady() { // acknowledged before the registration
		return false
	}
	c.replDeadline = time.Now().Add(c.d.cluster.replWaitBound())
	return true
}

// replSettled reports whether a parked c's replies may be flushed now
// (flushReplies then does not block): its replicas acknowledged, or the
// wait must end without them (a slot changed hands, or the bound passed).
// While it waits, a lagging replica is reported as waitAck does, and send
// gets each stream it waits for (the caller has it send: sendNow).
func (c *conn) replSettled(now time.Time, send func(*replStream)) bool {
	if c.replReady() || now.After(c.replDeadline) {
		return true
	}
	cn := c.d.cluster
	for _, n := range c.replNeed {
		if n.seq <= n.st.acked.Load() || n.st.detached.Load() {
			continue
		}
		if n.lost(cn) {
			return true
		}
		send(n.st)
		cn.checkLag(n.st)
	}
	return false
}

// tookOut reports whether the current table makes this node the primary of
// slot without peer among its copies.
func (cn *clusterNode) tookOut(slot int, peer NodeID) bool {
	t, _ := cn.current()
	p, ok := t.Primary(slot)
	return ok && p.ID == cn.id && !t.holds(slot, peer)
}

// stillLeads reports whether a write on slot, once replicated, counts: this
// node still leads slot, leads it by a move the table does not show yet,
// or handed it off with the data that holds it.
func (cn *clusterNode) stillLeads(slot int) bool {
	t, _ := cn.current()
	if p, ok := t.Primary(slot); ok && p.ID == cn.id {
		return true
	}
	m := cn.moves[slot].Load()
	return m != nil && (m.out || m.state.Load() == moveImported)
}

// leadsNow returns whether this node leads a slot in its current table:
// the slots whose keys eviction may take (memory.go).
func (cn *clusterNode) leadsNow() func(slot int) bool {
	t, _ := cn.current()
	return func(slot int) bool {
		p, ok := t.Primary(slot)
		return ok && p.ID == cn.id
	}
}

// checkLag reports a replica that has not acknowledged within
// ReplicaTimeout to the NameNode (again each further ReplicaTimeout while
// the stall lasts). Once the NameNode answered, the node stops streaming
// to it the slots a copy filled that no table names yet (the NameNode no
// longer adds it for them: it counts the drop), and adopts the answer's
// table, which takes the replica out of the slots' in-sync sets.
func (cn *clusterNode) checkLag(st *replStream) {
	lag := st.lag()
	if lag < cn.cfg.ReplicaTimeout {
		return
	}
	now := time.Now().UnixNano()
	if last := st.reportedAt.Load(); last != 0 && time.Duration(now-last) < cn.cfg.ReplicaTimeout {
		return
	}
	if !st.reportedAt.CompareAndSwap(st.reportedAt.Load(), now) {
		return
	}
	cn.d.cfg.Logger.Warn("replica lags: asking the NameNode to take it out of the in-sync set", "id", cn.id, "replica", st.peer, "lag", lag)
	cn.d.wg.Add(1)
	go func() {
		defer cn.d.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), cn.cfg.RPCTimeout)
		defer cancel()
		link := cn.nameNodeLink()
		defer link.close()
		r, err := link.do(ctx, "CHKV.ISRDROP", string(cn.id), string(st.peer))
		if err != nil {
			st.reportedAt.Store(0) // try again on the next wait
			cn.d.cfg.Logger.Warn("isr drop", "id", cn.id, "replica", st.peer, "err", err)
			return
		}
		cn.pendingMu.Lock()
		for s := range cn.pending {
			delete(cn.pending[s], st.peer)
		}
		cn.pendingMu.Unlock()
		t, err := replyTable(r)
		if err == nil && cn.adopt(t) {
			return // the adoption set the streams anew
		}
		cn.adoptMu.Lock()
		cur, _ := cn.current()
		cn.applyReplTargets(cur)
		cn.adoptMu.Unlock()
	}()
}

// tableNamesReplica reports whether the current table names peer a replica
// of a slot this node leads.
func (cn *clusterNode) tableNamesReplica(peer NodeID) bool {
	t, _ := cn.current()
	for s := range NumSlots {
		if p, ok := t.Primary(s); ok && p.ID == cn.id && t.holds(s, peer) {
			return true
		}
	}
	return false
}

// nameNodeLink returns a link to the NameNode.
func (cn *clusterNode) nameNodeLink() *peerLink {
	return &peerLink{tr: cn.d.cfg.Transport, addr: cn.cfg.NameNode, timeout: cn.cfg.RPCTimeout, secret: cn.cfg.ClusterSecret}
}

// refreshTableFrom fetches the table of the server at addr and adopts it
// when newer.
func (cn *clusterNode) refreshTableFrom(addr string) {
	if !cn.registered.Load() {
		return // the NameNode's answer to CHKV.REGISTER comes first
	}
	ctx, cancel := context.WithTimeout(context.Background(), cn.cfg.RPCTimeout)
	defer cancel()
	if t, err := FetchTable(ctx, cn.d.cfg.Transport, addr); err == nil {
		cn.adopt(t)
	}
}

// dialPeer connects to another node of the cluster.
func (cn *clusterNode) dialPeer(ctx context.Context, addr string) (net.Conn, error) {
	return dialPeer(ctx, cn.d.cfg.Transport, addr, cn.cfg.ClusterSecret)
}

// leaseValid reports whether the node may serve the slots it leads: a
// heartbeat the NameNode answered, or a confirmation from every replica
// it streams to (each refuses a primary its table deposed), within the
// lease. A node with no replica to stream to needs neither: no other copy
// of its slots can be promoted. So the cluster serves on while the
// NameNode is down, and a node cut off from both stops. A process that has
// not registered yet leads nothing.
func (cn *clusterNode) leaseValid() bool {
	if !cn.registered.Load() {
		return false
	}
	now := time.Now().UnixNano()
	if now < cn.leaseUntil.Load() {
		return true
	}
	cn.replMu.Lock()
	defer cn.replMu.Unlock()
	for _, st := range cn.streams {
		if !st.detached.Load() && now >= st.confirmed.Load()+int64(cn.cfg.Lease) {
			return false
		}
	}
	return true
}

// renewLease extends the lease from the moment a heartbeat that the
// NameNode answered was sent.
func (cn *clusterNode) renewLease(sent time.Time) {
	until := sent.Add(cn.cfg.Lease).UnixNano()
	for {
		cur := cn.leaseUntil.Load()
		if until <= cur || cn.leaseUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// addReplTargets gives the slots this node leads in t, before t takes
// effect, the streams of t's replicas besides those they have: from the
// table's first write on, every replica it names receives it.
func (cn *clusterNode) addReplTargets(t *Table) {
	cn.replSetMu.Lock()
	defer cn.replSetMu.Unlock()
	for s := range NumSlots {
		p, ok := t.Primary(s)
		if !ok || p.ID != cn.id || t.cnt[s] < 2 {
			continue
		}
		if m := cn.moves[s].Load(); m != nil && m.out && m.state.Load() == moveHandedOff {
			// Handed off: the target leads and streams the slot's writes,
			// here among others. A stream from here would send the
			// records this node applies back to the target, older ones
			// over newer (seed 100625 lost an increment that way).
			continue
		}
		var streams []*replStream
		if cur := cn.repl[s].Load(); cur != nil {
			streams = append(streams, cur.streams...)
		}
		n := len(streams)
		for _, id := range t.Owners(s)[1:] {
			m, _ := t.Member(id)
			st := cn.stream(id, m.Addr)
			if !slices.Contains(streams, st) {
				streams = append(streams, st)
			}
		}
		if len(streams) > n {
			cn.setRepl(s, streams)
		}
	}
}

// applyReplTargets sets, for every slot, the streams its writes go to: the
// table's replicas of the slots this node leads, and replicas a copy has
// filled that the table does not name yet. Streams no slot uses any more
// are detached. Runs after each adopted table, under adoptMu.
func (cn *clusterNode) applyReplTargets(t *Table) {
	// Whole, against a copy's addPending: one landing between the slots'
	// loop and the detach below had its new stream detached while a slot
	// wrote to it (every write then failed), or its stream dropped from the
	// slot by the loop (the copy's replica missed the writes that followed).
	cn.replSetMu.Lock()
	defer cn.replSetMu.Unlock()
	// A pending replica on a node that a table newer than the copy's
	// shows down, or no longer names (it left), will never be named: a
	// copy's drain waited on its stream until the copy failed, batch after
	// batch, for the pending entry's whole TTL (seed 101076: 232 slots
	// stuck moving to dn1 behind "replica dn2 did not catch up", dn2
	// gone). Only when this node's table named the replica live at the
	// copy: one its table lagged behind (a joiner, a node back from down)
	// may show it down or absent in tables the NameNode has left behind.
	gone := func(id NodeID, pr pendingRepl) bool {
		if pr.liveIn == 0 || t.Version <= pr.liveIn {
			return false
		}
		m, ok := t.Member(id)
		return !ok || m.State == NodeDown
	}
	used := map[NodeID]bool{}
	now := time.Now()
	for s := range NumSlots {
		var streams []*replStream
		p, ok := t.Primary(s)
		m := cn.moves[s].Load()
		handedOff := m != nil && m.out && m.state.Load() == moveHandedOff
		primary := ok && p.ID == cn.id && !handedOff
		// Committed here by a move the table does not show yet: the
		// replicas that followed the slot are pending.
		leads := primary || (m != nil && !m.out && m.state.Load() == moveImported)
		if primary {
			for _, id := range t.Owners(s)[1:] {
				m, _ := t.Member(id)
				streams = append(streams, cn.stream(id, m.Addr))
			}
		}
		cn.pendingMu.Lock()
		for id, pr := range cn.pending[s] {
			if !leads || now.Sub(pr.since) > replPendingTTL || gone(id, pr) {
				delete(cn.pending[s], id)
				continue
			}
			named := false
			for _, st := range streams {
				named = named || st.peer == id
			}
			if named {
				delete(cn.pending[s], id)
				continue
			}
			streams = append(streams, pr.st)
		}
		cn.pendingMu.Unlock()
		cn.setRepl(s, streams)
		for _, st := range streams {
			used[st.peer] = true
		}
	}
	cn.replMu.Lock()
	var detach []*replStream
	for id, st := range cn.streams {
		if !used[id] {
			detach = append(detach, st)
		}
	}
	cn.replMu.Unlock()
	for _, st := range detach {
		st.detach()
	}
}

// setRepl sets slot's streams, under the slot lock so that a write sees
// either the old or the new set whole.
func (cn *clusterNode) setRepl(s int, streams []*replStream) {
	cur := cn.repl[s].Load()
	if cur == nil && len(streams) == 0 {
		return
	}
	if cur != nil && len(cur.streams) == len(streams) {
		same := true
		for i := range streams {
			same = same && cur.streams[i] == streams[i]
		}
		if same {
			return
		}
	}
	for _, st := range streams {
		st.attach()
	}
	sd := cn.d.store.slot(s)
	sd.mu.Lock()
	if len(streams) == 0 {
		cn.repl[s].Store(nil)
	} else {
		cn.repl[s].Store(&slotRepl{streams: streams})
	}
	sd.mu.Unlock()
	if cur != nil { // after the switch: no write of s reaches them any more
		for _, st := range cur.streams {
			if !slices.Contains(streams, st) {
				st.purgeSlot(s)
			}
		}
	}
}

// addPending makes slot's writes go to peer from now on: a copy has just
// filled it. The caller holds the slot frozen.
func (cn *clusterNode) addPending(s int, peer NodeID, addr string) {
	var liveIn uint64
	if t, _ := cn.current(); t != nil {
		if m, ok := t.Member(peer); ok && m.State != NodeDown {
			liveIn = t.Version
		}
	}
	cn.replSetMu.Lock()
	defer cn.replSetMu.Unlock()
	st := cn.stream(peer, addr)
	st.attach()
	cn.pendingMu.Lock()
	if cn.pending[s] == nil {
		cn.pending[s] = map[NodeID]pendingRepl{}
	}
	cn.pending[s][peer] = pendingRepl{st: st, since: time.Now(), liveIn: liveIn}
	cn.pendingMu.Unlock()
	var streams []*replStream
	if cur := cn.repl[s].Load(); cur != nil {
		for _, o := range cur.streams {
			if o != st {
				streams = append(streams, o)
			}
		}
	}
	cn.setRepl(s, append(streams, st))
}

// drainReplUntil waits until every stream of slots acknowledged every
// write made so far, or deadline passes: a frozen slot's replicas then hold
// exactly its data.
func (cn *clusterNode) drainReplUntil(slots []int, deadline time.Time) error {
	for _, s := range slots {
		sr := cn.repl[s].Load()
		if sr == nil {
			continue
		}
		for _, st := range sr.streams {
			seq := st.seq.Load()
			for st.acked.Load() < seq && !st.detached.Load() {
				st.mu.Lock()
				ch := st.notify
				st.mu.Unlock()
				if st.acked.Load() >= seq || st.detached.Load() {
					break
				}
				select {
				case st.wake <- struct{}{}:
				default:
				}
				// A replica that does not acknowledge is reported as a
				// write waiting for it would report it: the NameNode takes
				// it out of the in-sync set, and the next attempt goes on
				// without it. Copies alone (no client writing the slots)
				// retried for 20 s and more behind a silent replica (seeds
				// 102304 and 102356), the lag reported only when a write came.
				cn.checkLag(st)
				wait := time.Until(deadline)
				if wait <= 0 {
					return fmt.Errorf("chkv: replica %s did not catch up with slot %d", st.peer, s)
				}
				t := time.NewTimer(min(wait, max(cn.cfg.ReplicaTimeout/4, time.Millisecond)))
				select {
				case <-ch:
				case <-t.C:
				case <-cn.d.closed:
					t.Stop()
					return errReplication
				}
				t.Stop()
			}
		}
	}
	return nil
}

// stopStreams ends every stream; the node is closing.
func (cn *clusterNode) stopStreams() {
	cn.replMu.Lock()
	defer cn.replMu.Unlock()
	for _, st := range cn.streams {
		select {
		case <-st.stop:
		default:
			close(st.stop)
		}
	}
}

// cmdRepl handles CHKV.REPL <from> <epoch> <lastSeq> <records> on a
// replica: it applies the records when their sender may still write their
// slots, and answers lastSeq.
func cmdRepl(c *conn, args [][]byte) {
	if h := testHookReplFrame; h != nil && len(args[4]) > 0 {
		h(c.d.cluster.id)
	}
	cn := c.d.cluster
	from := NodeID(args[1])
	epoch, err1 := strconv.ParseUint(string(args[2]), 10, 64)
	seq, err2 := strconv.ParseUint(string(args[3]), 10, 64)
	if err1 != nil || err2 != nil {
		c.w.errorText("ERR chkv: bad replication frame header")
		return
	}
	t, _ := cn.current()
	if t == nil {
		c.w.errorText("ERR chkv: stale replication: no table yet")
		return
	}
	d := recordDecoder{b: args[4]}
	var rec record
	checked := -1
	for d.next(&rec) {
		if rec.slot == checked {
			continue
		}
		checked = rec.slot
		if !cn.acceptsRepl(t, rec.slot, from, epoch) {
			c.w.errorText("ERR chkv: stale replication: table version " + strconv.FormatUint(t.Version, 10) + " does not let " + string(truncate(args[1], 64)) + " write slot " + strconv.Itoa(rec.slot) + " here")
			return
		}
	}
	if d.err != nil {
		c.w.errorText("ERR " + d.err.Error())
		return
	}
	if checked < 0 && epoch < t.Version && !cn.followsPrimary(t, from) {
		c.w.errorText("ERR chkv: stale replication: table version " + strconv.FormatUint(t.Version, 10) + " does not make " + string(truncate(args[1], 64)) + " a primary of this node's copies")
		return
	}
	cn.ackedPrimary(from)
	if err := cn.applyRepl(args[4]); err != nil {
		c.w.errorText("ERR " + err.Error())
		return
	}
	c.w.int(int64(seq))
}

// testHookReplFrame, set by tests before a cluster starts, runs on a
// replica before it applies a frame that carries records.
var testHookReplFrame func(replica NodeID)

// acceptsRepl reports whether records of slot from primary from, written
// under table version epoch, may be applied here: this node holds a copy of
// the slot (the table names it, a copy just filled it, or it is moving),
// and the sender leads the slot in this node's table unless the sender's
// table is at least as new.
func (cn *clusterNode) acceptsRepl(t *Table, slot int, from NodeID, epoch uint64) bool {
	if epoch > t.Version {
		return true // the sender's table is newer, and names this node (a restarted node's first table is the newest)
	}
	m := cn.moves[slot].Load()
	if !t.holds(slot, cn.id) && cn.replicaSince[slot].Load() == 0 && m == nil {
		return false // a node that lost its data, or never had the slot
	}
	if epoch == t.Version {
		return true
	}
	if p, ok := t.Primary(slot); ok && p.ID == from {
		return true
	}
	return m != nil && m.out && m.peerID == from && m.state.Load() == moveHandedOff
}

// followsPrimary reports whether t makes from the primary of a slot this
// node holds a copy of.
func (cn *clusterNode) followsPrimary(t *Table, from NodeID) bool {
	for s := range NumSlots {
		if p, ok := t.Primary(s); ok && p.ID == from && t.holds(s, cn.id) {
			return true
		}
	}
	return false
}

// ackedPrimary records that this node just confirmed from as its primary:
// should it be promoted in from's place, it waits until from's lease, which
// this confirmation may have renewed, has lapsed.
func (cn *clusterNode) ackedPrimary(from NodeID) {
	now := time.Now().UnixNano()
	cn.replMu.Lock()
	cn.lastAcked[from] = now
	cn.replMu.Unlock()
}

// countLeadChanges bumps the leadership generation of every slot this
// node led in old but not in t: writes made before then that its replicas
// have not applied are lost with the lead, never acknowledged.
func (cn *clusterNode) countLeadChanges(old, t *Table) {
	if old == nil {
		return
	}
	n := 0
	for s := range NumSlots {
		if p, ok := old.Primary(s); ok && p.ID == cn.id {
			if q, ok := t.Primary(s); !ok || q.ID != cn.id {
				cn.leadGen[s].Add(1)
				n++
			}
		}
	}
	if n > 0 {
		cn.leadChanges.Add(1)
	}
}

// fencePromoted holds back, on a node that now leads slots another node
// led in its previous table, those slots until the lease this node's
// confirmations gave the old primary has lapsed.
func (cn *clusterNode) fencePromoted(old, t *Table) {
	if old == nil {
		return
	}
	cn.replMu.Lock()
	defer cn.replMu.Unlock()
	for s := range NumSlots {
		p, ok := t.Primary(s)
		if !ok || p.ID != cn.id {
			continue
		}
		op, ok := old.Primary(s)
		if !ok || op.ID == cn.id {
			continue
		}
		if m := cn.moves[s].Load(); m != nil && !m.out && m.committed() {
			continue // handed over by the old primary, which stopped serving it first
		}
		if last := cn.lastAcked[op.ID]; last != 0 {
			until := last + int64(cn.cfg.Lease) + int64(cn.cfg.HeartbeatInterval/4)
			if until > time.Now().UnixNano() {
				cn.fence[s].Store(until)
			}
		}
	}
}

// fenced reports whether slot waits for its old primary's lease to lapse.
func (cn *clusterNode) fenced(slot int) bool {
	f := cn.fence[slot].Load()
	return f != 0 && time.Now().UnixNano() < f
}

// applyRepl applies replication records, each slot under its lock.
func (cn *clusterNode) applyRepl(b []byte) error {
	st := cn.d.store
	d := recordDecoder{b: b}
	var rec record
	dg := runningDigest{off: true} // no migration: no digest wanted
	locked := -1
	defer func() {
		if locked >= 0 {
			st.slot(locked).mu.Unlock()
		}
	}()
	var n int64
	for d.next(&rec) {
		if rec.slot != locked {
			if locked >= 0 {
				st.slot(locked).mu.Unlock()
			}
			locked = rec.slot
			st.slot(locked).mu.Lock()
		}
		if isAppend(rec.op) {
			if e := st.slot(locked).keys[string(rec.key)]; e == nil {
				continue // the key's start went with a frame this replica refused
			}
		}
		if err := st.applyRecord(&rec, &dg); err != nil {
			return err
		}
		n++
	}
	cn.stats.replApplied.Add(n)
	return d.err
}

// replCommands are the commands of the replication protocol.
func replCommands() []*command {
	return []*command{
		// Served by the replica's event loop like any command: no loop
		// ever blocks on an acknowledgement (replies that wait park), so
		// two nodes replicating to each other never stall each other.
		{"chkv.repl", 5, flagAdmin | flagStale | flagInternal, 0, 0, 0, cmdRepl},
	}
}

// infoReplication returns the fields of INFO's Replication section: the
// slots led and replicated here, and per replica stream its state,
// sequence numbers and lag.
func (cn *clusterNode) infoReplication() []any {
	t, _ := cn.current()
	var prim, repl int
	if t != nil {
		for s := range NumSlots {
			if p, ok := t.Primary(s); ok && p.ID == cn.id {
				prim++
			} else if t.holds(s, cn.id) {
				repl++
			}
		}
	}
	role := "master"
	if prim == 0 && repl > 0 {
		role = "slave"
	}
	mode := "sync"
	if cn.cfg.AsyncReplication {
		mode = "async"
	}
	cn.replMu.Lock()
	streams := make([]*replStream, 0, len(cn.streams))
	for _, st := range cn.streams {
		streams = append(streams, st)
	}
	cn.replMu.Unlock()
	slices.SortFunc(streams, func(a, b *replStream) int { return strings.Compare(string(a.peer), string(b.peer)) })
	kv := []any{
		"role", role,
		"chkv_primary_slots", prim,
		"chkv_replica_slots", repl,
		"chkv_replication_mode", mode,
		"chkv_lease_valid", map[bool]int{false: 0, true: 1}[cn.leaseValid()],
	}
	attached := 0
	for _, st := range streams {
		if !st.detached.Load() {
			attached++
		}
	}
	kv = append(kv, "connected_slaves", attached)
	i := 0
	for _, st := range streams {
		state := "online"
		lag := st.lag()
		switch {
		case st.detached.Load():
			state = "detached"
		case lag >= cn.cfg.ReplicaTimeout:
			state = "lagging"
		}
		host, port := splitAddr(*st.addr.Load())
		st.mu.Lock()
		frames := len(st.frames)
		st.mu.Unlock()
		kv = append(kv, "slave"+strconv.Itoa(i), fmt.Sprintf("id=%s,ip=%s,port=%d,state=%s,offset=%d,acked=%d,lag_ms=%d,frames=%d",
			st.peer, host, port, state, st.seq.Load(), st.acked.Load(), lag.Milliseconds(), frames))
		i++
	}
	kv = append(kv,
		"chkv_repl_records_applied", cn.stats.replApplied.Load(),
		"chkv_repl_writes_failed", cn.stats.replFailed.Load(),
		"chkv_slots_copied", cn.stats.slotsCopied.Load(),
	)
	return kv
}

// cmdWait handles WAIT numreplicas timeout as Redis does: it waits (up to
// timeout milliseconds, 0 for ever) until the replicas applied this
// client's writes, and answers how many replicas of its last slot did. In
// sync mode the replies of earlier writes have waited already, so it
// answers at once with the slot's in-sync replicas.
func cmdWait(c *conn, args [][]byte) {
	want, ok1 := parseInt(args[1])
	timeout, ok2 := parseInt(args[2])
	if !ok1 || !ok2 {
		c.w.errorText(msgNotInteger)
		return
	}
	if timeout < 0 {
		c.w.errorText(msgNegTimeout)
		return
	}
	cn := c.d.cluster
	if cn == nil || c.lastSlot == 0 {
		c.w.int(0)
		return
	}
	slot := c.lastSlot - 1
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(time.Duration(min(timeout, int64(time.Hour/time.Millisecond))) * time.Millisecond)
	}
	count := func() int64 {
		var n int64
		for _, need := range c.replNeed {
			if need.slot == slot && need.st.acked.Load() >= need.seq {
				n++
			}
		}
		if sr := cn.repl[slot].Load(); sr != nil {
			for _, st := range sr.streams {
				pending := false
				for _, need := range c.replNeed {
					pending = pending || (need.st == st && need.slot == slot)
				}
				if !pending && !st.detached.Load() {
					n++ // nothing of this client's waits on it: it has applied all
				}
			}
		}
		return n
	}
	for {
		n := count()
		if n >= want || (!deadline.IsZero() && time.Now().After(deadline)) {
			c.w.int(n)
			return
		}
		for _, need := range c.replNeed {
			need.st.kick() // the writes' own waits come after this reply
		}
		select {
		case <-c.d.closed:
			c.w.int(n)
			return
		case <-time.After(min(10*time.Millisecond, max(time.Until(deadline), time.Millisecond))):
		}
	}
}
