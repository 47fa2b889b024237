// Set commands: SADD and friends, membership, random pops and picks, SMOVE, and the intersections, unions and differences.

package chkv

import "slices"

// setCommandTable returns the set command table entries.
func setCommandTable() []*command {
	const (
		w   = flagWrite | flagTrackName
		r   = flagReadonly | flagTrackName
		wfo = w | flagFast | flagDenyOOM
		rf  = r | flagFast
	)
	return []*command{
		{"sadd", -3, wfo, 1, 1, 1, cmdSAdd},
		{"srem", -3, w | flagFast, 1, 1, 1, cmdSRem},
		{"sismember", 3, rf, 1, 1, 1, cmdSIsMember},
		{"smismember", -3, rf, 1, 1, 1, cmdSIsMember},
		{"scard", 2, rf, 1, 1, 1, cmdCollLen(kindSet)},
		{"smembers", 2, r, 1, 1, 1, cmdSetOp},
		{"spop", -2, w | flagFast, 1, 1, 1, cmdSPop},
		{"srandmember", -2, r, 1, 1, 1, cmdRandom(kindSet, "", func(c *conn, e *entry, _ int) func(int, bool) {
			return func(i int, _ bool) { c.w.bulkString(e.set().members[i]) }
		})},
		{"smove", 4, w | flagFast, 1, 2, 1, cmdSMove},
		{"sinter", -2, r, 1, -1, 1, cmdSetOp},
		{"sintercard", -3, r | flagNumKeys, 0, 0, 0, cmdSInterCard},
		{"sinterstore", -3, w | flagDenyOOM, 1, -1, 1, cmdSetOp},
		{"sunion", -2, r, 1, -1, 1, cmdSetOp},
		{"sunionstore", -3, w | flagDenyOOM, 1, -1, 1, cmdSetOp},
		{"sdiff", -2, r, 1, -1, 1, cmdSetOp},
		{"sdiffstore", -3, w | flagDenyOOM, 1, -1, 1, cmdSetOp},
		{"sscan", -3, r, 1, 1, 1, cmdCollScan(kindSet, func(e *entry, cur uint64, count int, put func(string, ...string)) uint64 {
			return e.set().scan(cur, count, func(m string) { put(m) })
		})},
	}
}

func newSetEntryEmpty() *entry { return newSetEntry(newSetValue()) }

func cmdSAdd(c *conn, args [][]byte) {
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindSet)
	if !ok {
		return
	}
	defer unlock()
	wr := beginWrite(slot, key, e, newSetEntryEmpty)
	n := 0
	for _, m := range args[2:] {
		if wr.e.set().add(m) {
			n++
		}
	}
	wr.done(st, n > 0)
	c.w.int(int64(n))
}

func cmdSRem(c *conn, args [][]byte) {
	c.removeMembers(args, kindSet, func(e *entry, m []byte) bool { return e.set().del(m) })
}

// cmdSIsMember serves SISMEMBER and SMISMEMBER.
func cmdSIsMember(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindSet)
	if !ok {
		return
	}
	defer unlock()
	multi := eqFold(args[0], "smismember")
	if multi {
		c.w.array(len(args) - 2)
	}
	for _, m := range args[2:] {
		if e != nil && e.set().has(m) {
			c.w.int(1)
		} else {
			c.w.int(0)
		}
	}
}

func cmdSPop(c *conn, args [][]byte) {
	if len(args) > 3 {
		c.w.errorText(msgSyntax)
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
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindSet)
	if !ok {
		return
	}
	defer unlock()
	switch {
	case e == nil && count < 0:
		c.w.null()
		return
	case e == nil || count == 0:
		c.w.array(0)
		return
	}
	s := e.set()
	wr := beginWrite(slot, key, e, nil)
	if count < 0 {
		c.w.bulkString(s.removeAt(st.randIntn(s.len())))
		wr.done(st, true)
		return
	}
	if count >= int64(s.len()) {
		c.w.bulkStrings(s.members)
		s.members, s.nums, s.idx, s.short, s.bytes = nil, nil, nil, nil, 0
		wr.done(st, true)
		return
	}
	c.w.array(int(count))
	for range count {
		c.w.bulkString(s.removeAt(st.randIntn(s.len())))
	}
	wr.done(st, true)
}

func cmdSMove(c *conn, args [][]byte) {
	st := c.d.store
	src, dst, m := args[1], args[2], args[3]
	unlock := st.lockKeys(args[1:3])
	defer unlock()
	now := c.now()
	ss, ds := SlotBytes(src), SlotBytes(dst)
	se := st.lookup(ss, src, now)
	de := st.lookup(ds, dst, now)
	switch {
	case se == nil:
		c.w.int(0)
		return
	case se.kind != kindSet || de != nil && de.kind != kindSet:
		c.w.errorText(msgWrongType)
		return
	case string(src) == string(dst):
		if se.set().has(m) {
			c.w.int(1)
		} else {
			c.w.int(0)
		}
		return
	}
	sw := beginWrite(ss, src, se, nil)
	if !se.set().del(m) {
		c.w.int(0)
		return
	}
	sw.done(st, true)
	dw := beginWrite(ds, dst, de, newSetEntryEmpty)
	dw.done(st, dw.e.set().add(m))
	c.w.int(1)
}

// lockSets locks the slots of keys and returns their sets (nil for a
// missing key); on a key of another type it writes WRONGTYPE, unlocks and
// reports false.
func (c *conn) lockSets(keys [][]byte, lockAlso ...[]byte) ([]*setValue, func(), bool) {
	st := c.d.store
	unlock := st.lockKeys(append(slices.Clone(keys), lockAlso...))
	now := c.now()
	sets := make([]*setValue, len(keys))
	for i, k := range keys {
		e := st.lookup(SlotBytes(k), k, now)
		if e == nil {
			continue
		}
		if e.kind != kindSet {
			unlock()
			c.w.errorText(msgWrongType)
			return nil, nil, false
		}
		sets[i] = e.set()
	}
	return sets, unlock, true
}

// interSets returns the members of the intersection of sets, in the order
// of the smallest set (Redis iterates it), stopping at limit members (0: no
// limit). A nil set is empty.
func interSets(sets []*setValue, limit int) []string {
	if len(sets) == 0 || slices.Contains(sets, nil) {
		return nil
	}
	sorted := slices.Clone(sets)
	slices.SortStableFunc(sorted, func(a, b *setValue) int { return a.len() - b.len() })
	var out []string
	for _, m := range sorted[0].members {
		in := true
		for _, o := range sorted[1:] {
			if o != sorted[0] && !o.has([]byte(m)) {
				in = false
				break
			}
		}
		if in {
			out = append(out, m)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
	}
	return out
}

// storeSet makes dst hold the set of members (deleting it when there are
// none) and replies with its size. The caller holds dst's slot lock.
func (c *conn) storeSet(dst []byte, members []string) {
	st := c.d.store
	slot := SlotBytes(dst)
	if old := st.lookup(slot, dst, c.now()); old != nil {
		st.remove(slot, string(dst), old)
	}
	s := newSetValue()
	for _, m := range members {
		s.add([]byte(m))
	}
	if s.len() > 0 {
		st.insert(slot, string(dst), newSetEntry(s))
	}
	c.w.int(int64(s.len()))
}

// cmdSetOp serves SINTER, SINTERSTORE, SMEMBERS, SUNION, SUNIONSTORE,
// SDIFF and SDIFFSTORE.
func cmdSetOp(c *conn, args [][]byte) {
	name := lowerName(args[0])
	keys := args[1:]
	var dst [][]byte
	if name == "sinterstore" || name == "sunionstore" || name == "sdiffstore" {
		dst, keys = args[1:2], args[2:]
	}
	sets, unlock, ok := c.lockSets(keys, dst...)
	if !ok {
		return
	}
	defer unlock()
	var out []string
	switch name[1] {
	case 'i', 'm':
		out = interSets(sets, 0)
	case 'u':
		out = unionSets(sets)
	default:
		out = diffSets(sets)
	}
	if dst != nil {
		c.storeSet(dst[0], out)
		return
	}
	c.w.bulkStrings(out)
}

func cmdSInterCard(c *conn, args [][]byte) {
	keys, opts, ok := c.numKeysArgs(args[1], args[2:], "ERR numkeys should be greater than 0")
	if !ok {
		return
	}
	limit := int64(0)
	for i := 0; i < len(opts); i++ {
		if eqFold(opts[i], "limit") && i+1 < len(opts) {
			i++
			n, ok := parseInt(opts[i])
			if !ok || n < 0 {
				c.w.errorText("ERR LIMIT can't be negative")
				return
			}
			limit = n
			continue
		}
		c.w.errorText(msgSyntax)
		return
	}
	sets, unlock, ok := c.lockSets(keys)
	if !ok {
		return
	}
	defer unlock()
	c.w.int(int64(len(interSets(sets, int(limit)))))
}

// numKeysArgs splits the arguments after a numkeys argument into the keys
// and the rest, with Redis's errors for a bad count (msgLow below 1).
func (c *conn) numKeysArgs(num []byte, rest [][]byte, msgLow string) (keys, opts [][]byte, ok bool) {
	n, ok := parseInt(num)
	switch {
	case !ok || n < 1:
		c.w.errorText(msgLow)
		return nil, nil, false
	case n > int64(len(rest)):
		c.w.errorText("ERR Number of keys can't be greater than number of args")
		return nil, nil, false
	}
	return rest[:n], rest[n:], true
}

// unionSets returns the members of the union of sets (nil ones empty), in
// the order of a set built from them, as Redis answers.
func unionSets(sets []*setValue) []string {
	res := newSetValue()
	for _, s := range sets {
		if s != nil {
			for _, m := range s.members {
				res.add([]byte(m))
			}
		}
	}
	return res.members
}

// diffSets returns the members of the first set in none of the others, in
// the order of a set built from them.
func diffSets(sets []*setValue) []string {
	res := newSetValue()
	if sets[0] == nil {
		return nil
	}
	for _, m := range sets[0].members {
		in := false
		for _, o := range sets[1:] {
			if o == sets[0] || o != nil && o.has([]byte(m)) {
				in = true
				break
			}
		}
		if !in {
			res.add([]byte(m))
		}
	}
	return res.members
}
