// List commands (Tair's items, a FIFO queue): pushes, pops, ranges, edits, LPOS, LMOVE and the blocking pops.

package chkv

import (
	"bytes"
	"math"
	"time"
)

// listCommands returns the list command table entries.
func listCommands() []*command {
	const (
		w  = flagWrite | flagTrackName
		r  = flagReadonly | flagTrackName
		wo = w | flagDenyOOM | flagFast
	)
	return []*command{
		{"lpush", -3, wo, 1, 1, 1, cmdPush},
		{"rpush", -3, wo, 1, 1, 1, cmdPush},
		{"lpushx", -3, wo, 1, 1, 1, cmdPush},
		{"rpushx", -3, wo, 1, 1, 1, cmdPush},
		{"lpop", -2, w | flagFast, 1, 1, 1, cmdPop},
		{"rpop", -2, w | flagFast, 1, 1, 1, cmdPop},
		{"lrange", 4, r, 1, 1, 1, cmdLRange},
		{"llen", 2, r | flagFast, 1, 1, 1, cmdLLen},
		{"lindex", 3, r, 1, 1, 1, cmdLIndex},
		{"lset", 4, w | flagDenyOOM, 1, 1, 1, cmdLSet},
		{"lrem", 4, w, 1, 1, 1, cmdLRem},
		{"ltrim", 4, w, 1, 1, 1, cmdLTrim},
		{"linsert", 5, w | flagDenyOOM, 1, 1, 1, cmdLInsert},
		{"lpos", -3, r, 1, 1, 1, cmdLPos},
		{"lmove", 5, w | flagDenyOOM, 1, 2, 1, cmdLMove},
		{"rpoplpush", 3, w | flagDenyOOM, 1, 2, 1, cmdLMove},
		{"blpop", -3, w | flagBlocking, 1, -2, 1, cmdBPop},
		{"brpop", -3, w | flagBlocking, 1, -2, 1, cmdBPop},
		{"blmove", 6, w | flagDenyOOM | flagBlocking, 1, 2, 1, cmdBLMove},
		{"brpoplpush", 4, w | flagDenyOOM | flagBlocking, 1, 2, 1, cmdBLMove},
	}
}

// getList returns the live list entry of key, or nil, or writes a WRONGTYPE
// error and reports false. The caller holds the slot lock.
func (c *conn) getList(slot int, key []byte, now int64) (*entry, bool) {
	e := c.d.store.lookup(slot, key, now)
	if e != nil && e.kind != kindList {
		c.w.errorText(msgWrongType)
		return nil, false
	}
	return e, true
}

// cmdPush serves LPUSH, RPUSH, LPUSHX and RPUSHX.
func cmdPush(c *conn, args [][]byte) {
	name := args[0]
	left := name[0] == 'l' || name[0] == 'L'
	onlyIfExists := len(name) == 6
	st := c.d.store
	key := args[1]
	slot, sd := st.lockKey(key)
	defer sd.mu.Unlock()
	e, ok := c.getList(slot, key, c.now())
	if !ok {
		return
	}
	if e == nil && onlyIfExists {
		c.w.int(0)
		return
	}
	created := e == nil
	if created {
		e = newListEntry(&list{})
	}
	before, hadTTL := e.size(string(key)), e.expireAt != 0
	for _, v := range args[2:] {
		e.list().push(left, cloneBytes(v))
	}
	if created {
		st.insert(slot, string(key), e)
	} else {
		st.updateDelta(slot, string(key), e, before, hadTTL, &writeDelta{op: deltaPush, left: left, n: len(args) - 2, elems: args[2:]})
	}
	c.w.int(int64(e.list().len()))
	st.serveWaiters(slot, key)
}

// cmdPop serves LPOP and RPOP with an optional count.
func cmdPop(c *conn, args [][]byte) {
	left := args[0][0] == 'l' || args[0][0] == 'L'
	if len(args) > 3 {
		c.w.errorText("ERR wrong number of arguments for '" + lowerName(args[0]) + "' command")
		return
	}
	count := int64(-1)
	if len(args) == 3 {
		n, ok := parseInt(args[2])
		if !ok || n < 0 {
			c.w.errorText(msgMustPositive)
			return
		}
		count = n
	}
	st := c.d.store
	key := args[1]
	slot, sd := st.lockKey(key)
	defer sd.mu.Unlock()
	e, ok := c.getList(slot, key, c.now())
	if !ok {
		return
	}
	if e == nil {
		if count >= 0 {
			c.w.nullArray()
		} else {
			c.w.null()
		}
		return
	}
	if count < 0 {
		c.w.bulk(st.popList(slot, key, e, left))
		return
	}
	n := min(count, int64(e.list().len()))
	c.w.array(int(n))
	if n == 0 {
		return
	}
	before := e.size(string(key))
	for range n {
		c.w.bulk(e.list().pop(left))
	}
	if e.list().len() == 0 {
		st.removeSized(slot, string(key), e, before)
	} else {
		st.updateDelta(slot, string(key), e, before, e.expireAt != 0, &writeDelta{op: deltaPop, left: left, n: int(n)})
	}
}

func lowerName(b []byte) string { return string(bytes.ToLower(b)) }

// clampRange converts Redis start/stop indexes to [start, end] within n
// elements, reporting false when the range is empty.
func clampRange(start, end, n int64) (int64, int64, bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	if start > end || start >= n {
		return 0, 0, false
	}
	return start, min(end, n-1), true
}

func cmdLRange(c *conn, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.w.errorText(msgNotInteger)
		return
	}
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getList(slot, args[1], c.now())
	if !ok {
		return
	}
	if e == nil {
		c.w.array(0)
		return
	}
	start, end, ok = clampRange(start, end, int64(e.list().len()))
	if !ok {
		c.w.array(0)
		return
	}
	c.w.array(int(end - start + 1))
	for i := start; i <= end; i++ {
		c.w.bulk(e.list().at(int(i)))
	}
}

func cmdLLen(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	if e, ok := c.getList(slot, args[1], c.now()); ok {
		if e == nil {
			c.w.int(0)
		} else {
			c.w.int(int64(e.list().len()))
		}
	}
}

// listIndex converts a possibly negative index into a position in n elements.
func listIndex(i, n int64) (int, bool) {
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return 0, false
	}
	return int(i), true
}

func cmdLIndex(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getList(slot, args[1], c.now())
	if !ok {
		return
	}
	if e == nil {
		c.w.null()
		return
	}
	idx, ok := parseInt(args[2])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	if i, ok := listIndex(idx, int64(e.list().len())); ok {
		c.w.bulk(e.list().at(i))
	} else {
		c.w.null()
	}
}

func cmdLSet(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getList(slot, args[1], c.now())
	if !ok {
		return
	}
	if e == nil {
		c.w.errorText(msgNoSuchKey)
		return
	}
	idx, ok := parseInt(args[2])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	i, ok := listIndex(idx, int64(e.list().len()))
	if !ok {
		c.w.errorText(msgOutOfRange)
		return
	}
	before, hadTTL := e.size(string(args[1])), e.expireAt != 0
	e.list().set(i, cloneBytes(args[3]))
	st.update(slot, string(args[1]), e, before, hadTTL)
	c.w.ok()
}

// rewrite replaces the elements of the list e at key with elems, deleting
// the key when none are left. The caller holds the slot lock.
func (s *Store) rewriteList(slot int, key []byte, e *entry, elems [][]byte) {
	before, hadTTL := e.size(string(key)), e.expireAt != 0
	e.list().replace(elems)
	if len(elems) == 0 {
		s.removeSized(slot, string(key), e, before)
	} else {
		s.update(slot, string(key), e, before, hadTTL)
	}
}

func cmdLRem(c *conn, args [][]byte) {
	count, ok := parseInt(args[2])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	st := c.d.store
	key := args[1]
	slot, sd := st.lockKey(key)
	defer sd.mu.Unlock()
	e, ok := c.getList(slot, key, c.now())
	if !ok {
		return
	}
	if e == nil {
		c.w.int(0)
		return
	}
	elems := e.list().elems()
	n := len(elems)
	drop := make([]bool, n)
	removed := int64(0)
	limit := count
	if limit < 0 {
		limit = -limit
	}
	for k := range n {
		i := k
		if count < 0 {
			i = n - 1 - k
		}
		if bytes.Equal(elems[i], args[3]) {
			drop[i] = true
			removed++
			if limit != 0 && removed == limit {
				break
			}
		}
	}
	if removed > 0 {
		kept := elems[:0]
		for i, v := range elems {
			if !drop[i] {
				kept = append(kept, v)
			}
		}
		st.rewriteList(slot, key, e, kept)
	}
	c.w.int(removed)
}

func cmdLTrim(c *conn, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.w.errorText(msgNotInteger)
		return
	}
	st := c.d.store
	key := args[1]
	slot, sd := st.lockKey(key)
	defer sd.mu.Unlock()
	e, ok := c.getList(slot, key, c.now())
	if !ok {
		return
	}
	if e != nil {
		elems := e.list().elems()
		if s, t, ok := clampRange(start, end, int64(len(elems))); ok {
			elems = elems[s : t+1]
		} else {
			elems = nil
		}
		st.rewriteList(slot, key, e, append([][]byte(nil), elems...))
	}
	c.w.ok()
}

func cmdLInsert(c *conn, args [][]byte) {
	var after bool
	switch {
	case eqFold(args[2], "after"):
		after = true
	case eqFold(args[2], "before"):
	default:
		c.w.errorText(msgSyntax)
		return
	}
	st := c.d.store
	key := args[1]
	slot, sd := st.lockKey(key)
	defer sd.mu.Unlock()
	e, ok := c.getList(slot, key, c.now())
	if !ok {
		return
	}
	if e == nil {
		c.w.int(0)
		return
	}
	elems := e.list().elems()
	for i, v := range elems {
		if !bytes.Equal(v, args[3]) {
			continue
		}
		if after {
			i++
		}
		out := make([][]byte, 0, len(elems)+1)
		out = append(append(append(out, elems[:i]...), cloneBytes(args[4])), elems[i:]...)
		st.rewriteList(slot, key, e, out)
		c.w.int(int64(len(out)))
		return
	}
	c.w.int(-1)
}

func cmdLPos(c *conn, args [][]byte) {
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for j := 3; j < len(args); j++ {
		more := j+1 < len(args)
		switch {
		case eqFold(args[j], "rank") && more:
			j++
			n, ok := parseInt(args[j])
			if !ok {
				c.w.errorText(msgNotInteger)
				return
			}
			if n == 0 {
				c.w.errorText("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
				return
			}
			rank = n
		case eqFold(args[j], "count") && more:
			j++
			n, ok := parseInt(args[j])
			if !ok || n < 0 {
				c.w.errorText("ERR COUNT can't be negative")
				return
			}
			count = n
		case eqFold(args[j], "maxlen") && more:
			j++
			n, ok := parseInt(args[j])
			if !ok || n < 0 {
				c.w.errorText("ERR MAXLEN can't be negative")
				return
			}
			maxlen = n
		default:
			c.w.errorText(msgSyntax)
			return
		}
	}
	fromTail := rank < 0
	if fromTail && rank != math.MinInt64 { // -MinInt64 overflows; Redis 7.0 then matches the first hit
		rank = -rank
	}
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e := st.lookup(slot, args[1], c.now())
	if e == nil {
		if count != -1 {
			c.w.array(0)
		} else {
			c.w.null()
		}
		return
	}
	if e.kind != kindList {
		c.w.errorText(msgWrongType)
		return
	}
	n := int64(e.list().len())
	var found []int64
	matches := int64(0)
	for k := int64(0); k < n && (maxlen == 0 || k < maxlen); k++ {
		i := k
		if fromTail {
			i = n - 1 - k
		}
		if !bytes.Equal(e.list().at(int(i)), args[2]) {
			continue
		}
		matches++
		if matches < rank {
			continue
		}
		found = append(found, i)
		if count == -1 || count != 0 && matches-rank+1 >= count {
			break
		}
	}
	if count != -1 {
		c.w.array(len(found))
		for _, i := range found {
			c.w.int(i)
		}
		return
	}
	if len(found) == 0 {
		c.w.null()
	} else {
		c.w.int(found[0])
	}
}

// parseSide parses LEFT or RIGHT.
func parseSide(b []byte) (left bool, ok bool) {
	switch {
	case eqFold(b, "left"):
		return true, true
	case eqFold(b, "right"):
		return false, true
	}
	return false, false
}

// cmdLMove serves LMOVE and RPOPLPUSH.
func cmdLMove(c *conn, args [][]byte) {
	from, to := false, true // RPOPLPUSH
	if len(args) == 5 {
		var ok1, ok2 bool
		from, ok1 = parseSide(args[3])
		to, ok2 = parseSide(args[4])
		if !ok1 || !ok2 {
			c.w.errorText(msgSyntax)
			return
		}
	}
	c.lmove(args[1], args[2], from, to)
}

// lmove moves one element from src to dst and replies with it; it reports
// false when src is absent or an error was written.
func (c *conn) lmove(src, dst []byte, from, to bool) bool {
	st := c.d.store
	unlock := st.lockKeys([][]byte{src, dst})
	defer unlock()
	now := c.now()
	ss, ds := SlotBytes(src), SlotBytes(dst)
	e, ok := c.getList(ss, src, now)
	if !ok {
		return false
	}
	if e == nil {
		c.w.null()
		return false
	}
	d, ok := c.getList(ds, dst, now)
	if !ok {
		return false
	}
	v := st.popList(ss, src, e, from)
	if string(src) == string(dst) {
		d = st.lookup(ds, dst, now) // the pop may have emptied (deleted) it
	}
	st.pushList(ds, dst, d, to, v)
	c.w.bulk(v)
	st.serveWaiters(ds, dst)
	return true
}

// cmdBPop serves BLPOP and BRPOP.
func cmdBPop(c *conn, args [][]byte) {
	left := args[0][1] == 'l' || args[0][1] == 'L'
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		c.w.errorText(msg)
		return
	}
	w := c.bpopOrWait(args[1:len(args)-1], left)
	if w == nil {
		return
	}
	p, ok := c.awaitPop(w, timeout)
	if !ok {
		return
	}
	c.w.array(2)
	c.w.bulk(p.key)
	c.w.bulk(p.val)
}

// bpopOrWait pops from the first non-empty list of keys and replies, or
// writes WRONGTYPE, and returns nil; when every list is empty it returns
// a waiter it has registered on keys. The slot locks are released by defer.
func (c *conn) bpopOrWait(keys [][]byte, left bool) *waiter {
	st := c.d.store
	unlock := st.lockKeys(keys)
	defer unlock()
	now := c.now()
	for _, k := range keys {
		slot := SlotBytes(k)
		e := st.lookup(slot, k, now)
		if e == nil {
			continue
		}
		if e.kind != kindList {
			c.w.errorText(msgWrongType)
			return nil
		}
		c.w.array(2)
		c.w.bulk(k)
		c.w.bulk(st.popList(slot, k, e, left))
		return nil
	}
	w := &waiter{left: left, ch: make(chan popped, 1)}
	for _, k := range keys {
		w.keys = append(w.keys, cloneBytes(k))
	}
	st.addWaiter(w)
	return w
}

// blmoveOrWait checks BLMOVE's source: ready when it holds a list to move
// from now; a registered waiter when it is empty; neither after it wrote
// WRONGTYPE. The slot locks are released by defer.
func (c *conn) blmoveOrWait(src, dst []byte, from, to bool) (w *waiter, ready bool) {
	st := c.d.store
	unlock := st.lockKeys([][]byte{src, dst})
	defer unlock()
	e := st.lookup(SlotBytes(src), src, c.now())
	if e != nil && e.kind != kindList {
		c.w.errorText(msgWrongType)
		return nil, false
	}
	if e != nil {
		return nil, true
	}
	w = &waiter{keys: [][]byte{cloneBytes(src)}, left: from, move: true, dest: cloneBytes(dst), destLeft: to}
	w.ch = make(chan popped, 1)
	st.addWaiter(w)
	return w, false
}

// cmdBLMove serves BLMOVE and BRPOPLPUSH.
func cmdBLMove(c *conn, args [][]byte) {
	from, to := false, true
	tidx := 3
	if len(args) == 6 {
		var ok1, ok2 bool
		from, ok1 = parseSide(args[3])
		to, ok2 = parseSide(args[4])
		if !ok1 || !ok2 {
			c.w.errorText(msgSyntax)
			return
		}
		tidx = 5
	}
	timeout, msg := parseTimeout(args[tidx])
	if msg != "" {
		c.w.errorText(msg)
		return
	}
	src, dst := args[1], args[2]
	w, ready := c.blmoveOrWait(src, dst, from, to)
	if ready {
		// lmove takes the locks again; the list may change between, as if another client ran first
		c.lmove(src, dst, from, to)
		return
	}
	if w == nil {
		return
	}
	p, ok := c.awaitPop(w, timeout)
	switch {
	case !ok:
	case p.moved || c.pushMoved(w, p.val):
		c.w.bulk(p.val)
	default:
		c.w.errorText(msgWrongType)
	}
}

// awaitPop waits for w to be served for at most timeout milliseconds (0:
// no limit); when none arrives it answers the null array, when the slot
// moved away meanwhile the error, and reports false.
func (c *conn) awaitPop(w *waiter, timeout int64) (popped, bool) {
	p, ok := c.blockPop(w, time.Duration(timeout)*time.Millisecond)
	switch {
	case !ok:
		c.w.nullArray()
		return p, false
	case p.err != "":
		c.w.errorText(p.err)
		return p, false
	}
	return p, true
}

// pushMoved finishes a BLMOVE whose source and destination live in different
// slots: it pushes v to the destination, or, when that holds a non-list,
// puts v back where it came from and reports false.
func (c *conn) pushMoved(w *waiter, v []byte) bool {
	st := c.d.store
	unlock := st.lockKeys([][]byte{w.keys[0], w.dest})
	defer unlock()
	now := c.now()
	ds := SlotBytes(w.dest)
	if d := st.lookup(ds, w.dest, now); d == nil || d.kind == kindList {
		st.pushList(ds, w.dest, d, w.destLeft, v)
		st.serveWaiters(ds, w.dest)
		return true
	}
	ss := SlotBytes(w.keys[0])
	e := st.lookup(ss, w.keys[0], now)
	if e != nil && e.kind != kindList {
		return true // the source became a non-list meanwhile: nowhere to put v back, deliver it
	}
	st.pushList(ss, w.keys[0], e, w.left, v)
	return false
}
