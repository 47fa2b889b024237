// Hash commands: HSET and friends, reads of fields and whole hashes, counters on fields, HRANDFIELD and HSCAN.

package chkv

import (
	"math"
	"math/big"
	"strconv"
)

// hashCommands returns the hash command table entries.
func hashCommands() []*command {
	const (
		w   = flagWrite | flagTrackName
		r   = flagReadonly | flagTrackName
		wfo = w | flagFast | flagDenyOOM
		rf  = r | flagFast
	)
	return []*command{
		{"hset", -4, wfo, 1, 1, 1, cmdHSet},
		{"hmset", -4, wfo, 1, 1, 1, cmdHSet},
		{"hsetnx", 4, wfo, 1, 1, 1, cmdHSetNX},
		{"hget", 3, rf, 1, 1, 1, cmdHGet},
		{"hmget", -3, rf, 1, 1, 1, cmdHMGet},
		{"hdel", -3, w | flagFast, 1, 1, 1, cmdHDel},
		{"hexists", 3, rf, 1, 1, 1, cmdHExists},
		{"hlen", 2, rf, 1, 1, 1, cmdHLen},
		{"hstrlen", 3, rf, 1, 1, 1, cmdHStrlen},
		{"hkeys", 2, r, 1, 1, 1, cmdHGetAll},
		{"hvals", 2, r, 1, 1, 1, cmdHGetAll},
		{"hgetall", 2, r, 1, 1, 1, cmdHGetAll},
		{"hincrby", 4, wfo, 1, 1, 1, cmdHIncrBy},
		{"hincrbyfloat", 4, wfo, 1, 1, 1, cmdHIncrByFloat},
		{"hrandfield", -2, r, 1, 1, 1, cmdHRandField},
		{"hscan", -3, r, 1, 1, 1, cmdHScan},
	}
}

func newHashEntryEmpty() *entry { return newHashEntry(&hashValue{}) }

// hashGet returns the value of field in the hash e (nil: no hash).
func hashGet(e *entry, field []byte) (string, bool) {
	if e == nil {
		return "", false
	}
	return e.hash().get(field)
}

// cmdHSet serves HSET and HMSET.
func cmdHSet(c *conn, args [][]byte) {
	if len(args)%2 != 0 {
		c.w.errorText("ERR wrong number of arguments for '" + lowerName(args[0]) + "' command")
		return
	}
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindHash)
	if !ok {
		return
	}
	defer unlock()
	wr := beginWrite(slot, key, e, newHashEntryEmpty)
	h := wr.e.hash()
	added := 0
	for i := 2; i < len(args); i += 2 {
		if h.set(args[i], args[i+1]) {
			added++
		}
	}
	wr.done(st, true)
	if eqFold(args[0], "hmset") {
		c.w.ok()
	} else {
		c.w.int(int64(added))
	}
}

func cmdHSetNX(c *conn, args [][]byte) {
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindHash)
	if !ok {
		return
	}
	defer unlock()
	if _, ok := hashGet(e, args[2]); ok {
		c.w.int(0)
		return
	}
	wr := beginWrite(slot, key, e, newHashEntryEmpty)
	wr.e.hash().set(args[2], args[3])
	wr.done(st, true)
	c.w.int(1)
}

func cmdHGet(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindHash)
	if !ok {
		return
	}
	defer unlock()
	if v, ok := hashGet(e, args[2]); ok {
		c.w.bulkString(v)
		return
	}
	c.w.null()
}

func cmdHMGet(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindHash)
	if !ok {
		return
	}
	defer unlock()
	c.w.array(len(args) - 2)
	for _, f := range args[2:] {
		if v, ok := hashGet(e, f); ok {
			c.w.bulkString(v)
		} else {
			c.w.null()
		}
	}
}

func cmdHDel(c *conn, args [][]byte) {
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindHash)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.int(0)
		return
	}
	wr := beginWrite(slot, key, e, nil)
	n := 0
	for _, f := range args[2:] {
		if e.hash().del(f) {
			n++
			if e.hash().len() == 0 {
				break
			}
		}
	}
	wr.done(st, n > 0)
	c.w.int(int64(n))
}

func cmdHExists(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindHash)
	if !ok {
		return
	}
	defer unlock()
	if _, ok := hashGet(e, args[2]); ok {
		c.w.int(1)
	} else {
		c.w.int(0)
	}
}

func cmdHLen(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindHash)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.int(0)
	} else {
		c.w.int(int64(e.hash().len()))
	}
}

func cmdHStrlen(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindHash)
	if !ok {
		return
	}
	defer unlock()
	v, _ := hashGet(e, args[2])
	c.w.int(int64(len(v)))
}

// cmdHGetAll serves HGETALL, HKEYS and HVALS.
func cmdHGetAll(c *conn, args [][]byte) {
	keys := !eqFold(args[0], "hvals")
	vals := !eqFold(args[0], "hkeys")
	e, unlock, ok := c.readKind(args[1], kindHash)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.array(0)
		return
	}
	h := e.hash()
	n := h.len()
	if keys && vals {
		n *= 2
	}
	c.w.array(n)
	for _, p := range h.pairs {
		if keys {
			c.w.bulkString(p.field)
		}
		if vals {
			c.w.bulkString(p.value)
		}
	}
}

func cmdHIncrBy(c *conn, args [][]byte) {
	by, ok := parseInt(args[3])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindHash)
	if !ok {
		return
	}
	defer unlock()
	var cur int64
	if v, ok := hashGet(e, args[2]); ok {
		if cur, ok = parseInt([]byte(v)); !ok {
			c.w.errorText("ERR hash value is not an integer")
			return
		}
	}
	if addOverflows(cur, by) {
		c.w.errorText(msgOverflow)
		return
	}
	cur += by
	var buf [24]byte
	wr := beginWrite(slot, key, e, newHashEntryEmpty)
	wr.e.hash().set(args[2], strconv.AppendInt(buf[:0], cur, 10))
	wr.done(st, true)
	c.w.int(cur)
}

func cmdHIncrByFloat(c *conn, args [][]byte) {
	by, ok := parseLongDouble(args[3])
	if !ok {
		c.w.errorText(msgNotFloat)
		return
	}
	if by.IsInf() {
		c.w.errorText("ERR value is NaN or Infinity")
		return
	}
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindHash)
	if !ok {
		return
	}
	defer unlock()
	cur := new(big.Float).SetPrec(longDoublePrec)
	if v, ok := hashGet(e, args[2]); ok {
		if cur, ok = parseLongDouble([]byte(v)); !ok {
			c.w.errorText("ERR hash value is not a float")
			return
		}
	}
	if cur.IsInf() {
		c.w.errorText(msgNaN)
		return
	}
	sum := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven).Add(cur, by)
	if longDoubleOverflows(sum) {
		c.w.errorText(msgNaN)
		return
	}
	s := formatLongDouble(sum)
	wr := beginWrite(slot, key, e, newHashEntryEmpty)
	wr.e.hash().set(args[2], []byte(s))
	wr.done(st, true)
	c.w.bulkString(s)
}

func cmdHRandField(c *conn, args [][]byte) {
	if len(args) == 2 {
		e, unlock, ok := c.readKind(args[1], kindHash)
		if !ok {
			return
		}
		defer unlock()
		if e == nil {
			c.w.null()
			return
		}
		h := e.hash()
		c.w.bulkString(h.pairs[c.d.store.randIntn(h.len())].field)
		return
	}
	count, uniq, ok := c.parseRandCount(args[2])
	if !ok {
		return
	}
	withValues := false
	switch {
	case len(args) > 4 || len(args) == 4 && !eqFold(args[3], "withvalues"):
		c.w.errorText(msgSyntax)
		return
	case len(args) == 4:
		withValues = true
		if count > math.MaxInt64/2 {
			c.w.errorText(msgOutOfRangeValue)
			return
		}
	}
	e, unlock, ok := c.readKind(args[1], kindHash)
	if !ok {
		return
	}
	defer unlock()
	if e == nil || count == 0 {
		c.w.array(0)
		return
	}
	h := e.hash()
	put := func(i int) {
		c.w.bulkString(h.pairs[i].field)
		if withValues {
			c.w.bulkString(h.pairs[i].value)
		}
	}
	per := 1
	if withValues {
		per = 2
	}
	c.randReply(h.len(), count, uniq, per, put)
}

// randReply answers a random pick of count of n elements (distinct when
// uniq, else with repeats), each written by put as per replies.
func (c *conn) randReply(n int, count int64, uniq bool, per int, put func(int)) {
	st := c.d.store
	if !uniq || count == 1 {
		if count > maxRandRepeats {
			c.w.errorText(msgOutOfRangeValue)
			return
		}
		c.w.array(int(count) * per)
		for range count {
			put(st.randIntn(n))
		}
		return
	}
	if count >= int64(n) {
		c.w.array(n * per)
		for i := range n {
			put(i)
		}
		return
	}
	c.w.array(int(count) * per)
	for _, i := range st.pickDistinct(n, int(count)) {
		put(i)
	}
}

func cmdHScan(c *conn, args [][]byte) {
	if !c.parseCursorArg(args[2]) {
		return
	}
	e, unlock, ok := c.readKind(args[1], kindHash)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.emptyScan()
		return
	}
	match, ok := c.parseScanOpts(args[3:])
	if !ok {
		return
	}
	var out []string
	for _, p := range e.hash().pairs {
		if match == nil || globMatch(match, []byte(p.field), false) {
			out = append(out, p.field, p.value)
		}
	}
	c.w.array(2)
	c.w.bulkString("0")
	c.w.bulkStrings(out)
}
