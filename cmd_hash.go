// Hash commands: HSET and friends, reads of fields and whole hashes, counters on fields, HRANDFIELD and HSCAN.

package chkv

import (
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
		{"hlen", 2, rf, 1, 1, 1, cmdCollLen(kindHash)},
		{"hstrlen", 3, rf, 1, 1, 1, cmdHStrlen},
		{"hkeys", 2, r, 1, 1, 1, cmdHGetAll},
		{"hvals", 2, r, 1, 1, 1, cmdHGetAll},
		{"hgetall", 2, r, 1, 1, 1, cmdHGetAll},
		{"hincrby", 4, wfo, 1, 1, 1, cmdHIncrBy},
		{"hincrbyfloat", 4, wfo, 1, 1, 1, cmdHIncrByFloat},
		{"hrandfield", -2, r, 1, 1, 1, cmdRandom(kindHash, "withvalues", func(c *conn, e *entry, distinct int) func(int, bool) {
			h := e.hash()
			write := func(f, v string, with bool) {
				c.w.bulkString(f)
				if with {
					c.w.bulkString(v)
				}
			}
			switch {
			case h.m != nil && distinct == 0: // a big hash picks from its table at once
				return func(_ int, with bool) { f, v := h.m.random(c.d.store.cfg.Rand); write(f, v, with) }
			case h.m != nil && distinct*3 <= h.len():
				// Few distinct fields of a big hash: random table slots, each
				// taken once, in O(distinct) rather than a snapshot's O(N).
				seen := make(map[int]bool, distinct)
				return func(_ int, with bool) {
					f, v := h.m.randomExcept(c.d.store.cfg.Rand, seen)
					write(f, v, with)
				}
			}
			pairs := h.snapshot()
			return func(i int, with bool) { write(pairs[i].field, pairs[i].value, with) }
		})},
		{"hscan", -3, r, 1, 1, 1, cmdCollScan(kindHash, func(e *entry, cur uint64, count int, put func(string, ...string)) uint64 {
			return e.hash().scan(cur, count, func(f, v string) { put(f, v) })
		})},
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
	c.removeMembers(args, kindHash, func(e *entry, f []byte) bool { return e.hash().del(f) })
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
	h.each(func(f, v string) {
		if keys {
			c.w.bulkString(f)
		}
		if vals {
			c.w.bulkString(v)
		}
	})
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
