// Helpers shared by the hash, set and sorted-set commands: typed lookups, writes that delete emptied keys, *SCAN, random picks.

package chkv

import (
	"math"
	"strconv"
)

// Error texts of the collection commands, as redis-server 7.0 writes them.
const (
	msgOutOfRangeValue = "ERR value is out of range"
	msgNotFloatMinMax  = "ERR min or max is not a float"
	msgNotLexRange     = "ERR min or max not valid string range item"
)

// collLen returns the number of elements of a collection entry.
func (e *entry) collLen() int {
	switch e.kind {
	case kindList:
		return e.list().len()
	case kindHash:
		return e.hash().len()
	case kindSet:
		return e.set().len()
	case kindZSet:
		return e.zset().len()
	}
	return 1
}

// getKind returns the live entry of key when it holds kind, or nil when
// absent; on a key of another kind it writes WRONGTYPE and reports false.
// The caller holds the slot lock.
func (c *conn) getKind(slot int, key []byte, kind valueKind) (*entry, bool) {
	e := c.d.store.lookup(slot, key, c.now())
	if e != nil && e.kind != kind {
		c.w.errorText(msgWrongType)
		return nil, false
	}
	return e, true
}

// lockKind locks key's slot and returns the slot and the key's entry of
// kind (nil when absent) with the unlock function; on a key of another kind
// it writes WRONGTYPE, unlocks and reports false.
func (c *conn) lockKind(key []byte, kind valueKind) (slot int, e *entry, unlock func(), ok bool) {
	slot, sd := c.d.store.lockKey(key)
	if e, ok = c.getKind(slot, key, kind); !ok {
		sd.mu.Unlock()
		return 0, nil, nil, false
	}
	return slot, e, sd.mu.Unlock, true
}

// readKind is lockKind for a command that reads only.
func (c *conn) readKind(key []byte, kind valueKind) (*entry, func(), bool) {
	_, e, unlock, ok := c.lockKind(key, kind)
	return e, unlock, ok
}

// addOverflows reports whether a+b overflows an int64.
func addOverflows(a, b int64) bool {
	return b < 0 && a < 0 && b < math.MinInt64-a || b > 0 && a > 0 && b > math.MaxInt64-a
}

// collWrite is a write in progress to a collection key: begin notes its
// accounted size, done records the change (a new version) or deletes the
// key when the collection is empty, as Redis does.
type collWrite struct {
	slot   int
	key    []byte
	e      *entry
	before int64
	hadTTL bool
	isNew  bool
}

// beginWrite starts a write to e at key, or to a new collection entry made
// by mk when e is nil (inserted at done, if it is not empty then).
func beginWrite(slot int, key []byte, e *entry, mk func() *entry) collWrite {
	if e == nil {
		return collWrite{slot: slot, key: key, e: mk(), isNew: true}
	}
	return collWrite{slot: slot, key: key, e: e, before: e.size(string(key)), hadTTL: e.expireAt != 0}
}

// done records the write; changed false means nothing changed.
func (w *collWrite) done(s *Store, changed bool) {
	switch {
	case w.isNew:
		if w.e.collLen() > 0 {
			s.insert(w.slot, string(w.key), w.e)
		}
	case !changed:
	case w.e.collLen() == 0:
		s.removeSized(w.slot, string(w.key), w.e, w.before)
	default:
		s.update(w.slot, string(w.key), w.e, w.before, w.hadTTL)
	}
}

// cmdCollLen returns the command that answers the number of elements of a
// key of kind (HLEN, SCARD, ZCARD).
func cmdCollLen(kind valueKind) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		e, unlock, ok := c.readKind(args[1], kind)
		if !ok {
			return
		}
		defer unlock()
		if e == nil {
			c.w.int(0)
		} else {
			c.w.int(int64(e.collLen()))
		}
	}
}

// removeMembers serves HDEL, SREM and ZREM (args: name key members...):
// del removes one member from e; the key goes when it empties, and the
// members after that are not counted, as Redis stops there.
func (c *conn) removeMembers(args [][]byte, kind valueKind, del func(e *entry, m []byte) bool) {
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kind)
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
	for _, m := range args[2:] {
		if del(e, m) {
			n++
			if e.collLen() == 0 {
				break
			}
		}
	}
	wr.done(st, n > 0)
	c.w.int(int64(n))
}

// score writes a score as Redis 7.0 does in RESP2: %.17g, inf and -inf.
func (w *replyWriter) score(f float64) {
	var buf [32]byte
	w.bulk(appendScore(buf[:0], f))
}

// formatScore formats f as C's %.17g, with inf and -inf for the infinities.
func formatScore(f float64) string {
	var buf [32]byte
	return string(appendScore(buf[:0], f))
}

// appendScore appends f formatted as formatScore does. An integer below
// 1e17 prints as one (what %.17g prints for it), without the slower
// 17-digit float formatting.
func appendScore(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case f == math.Trunc(f) && math.Abs(f) < 1e17 && (f != 0 || !math.Signbit(f)):
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', 17, 64)
}

// defaultScanCount is the COUNT of a SCAN that gives none, as in Redis.
const defaultScanCount = 10

// parseScanOpts parses MATCH and COUNT of a collection SCAN; it returns
// the pattern (nil for none) and the count, or writes the error and
// reports false.
func (c *conn) parseScanOpts(opts [][]byte) ([]byte, int, bool) {
	var match []byte
	count := defaultScanCount
	for i := 0; i < len(opts); i += 2 {
		if i+1 >= len(opts) {
			c.w.errorText(msgSyntax)
			return nil, 0, false
		}
		switch v := opts[i+1]; {
		case eqFold(opts[i], "count"):
			n, ok := parseInt(v)
			if !ok {
				c.w.errorText(msgNotInteger)
				return nil, 0, false
			}
			if n < 1 {
				c.w.errorText(msgSyntax)
				return nil, 0, false
			}
			count = int(min(n, 1<<30))
		case eqFold(opts[i], "match"):
			match = v
			if len(v) == 1 && v[0] == '*' {
				match = nil
			}
		default:
			c.w.errorText(msgSyntax)
			return nil, 0, false
		}
	}
	return match, count, true
}

// cmdCollScan returns HSCAN, SSCAN or ZSCAN: scan passes the members of a
// key of kind from cursor on to put, with what goes with each (a value, a
// score), about count of them, and returns the next cursor. A small
// collection (a listpack or an intset, by OBJECT ENCODING) comes whole
// with cursor 0, as Redis answers it; a big one pages, each call costing
// O(count). As in Redis, MATCH filters what a step visited, so a page may
// come back empty with a cursor that is not 0.
func cmdCollScan(kind valueKind, scan func(e *entry, cursor uint64, count int, put func(member string, with ...string)) uint64) func(*conn, [][]byte) {
	return func(c *conn, args [][]byte) {
		cursor, ok := parseCursor(args[2])
		if !ok {
			c.w.errorText("ERR invalid cursor")
			return
		}
		e, unlock, ok := c.readKind(args[1], kind)
		if !ok {
			return
		}
		defer unlock()
		if e == nil {
			c.w.emptyScan()
			return
		}
		match, count, ok := c.parseScanOpts(args[3:])
		if !ok {
			return
		}
		var out []string
		next := scan(e, cursor, count, func(m string, with ...string) {
			if match == nil || globMatch(match, []byte(m), false) {
				out = append(append(out, m), with...)
			}
		})
		c.w.array(2)
		var buf [20]byte
		c.w.bulk(strconv.AppendUint(buf[:0], next, 10))
		c.w.bulkStrings(out)
	}
}

// emptyScan is the reply of a SCAN of a missing key.
func (w *replyWriter) emptyScan() {
	w.array(2)
	w.bulkString("0")
	w.array(0)
}

// randIntn returns a random int in [0, n) from the store's source.
func (s *Store) randIntn(n int) int {
	return int(s.cfg.Rand() % uint64(n))
}

// parseRandCount parses the count of HRANDFIELD, SRANDMEMBER and
// ZRANDMEMBER (within ±LONG_MAX) into the number of picks and whether they
// must be distinct; it writes the error and reports false.
func (c *conn) parseRandCount(b []byte) (count int64, uniq, ok bool) {
	n, ok := parseInt(b)
	if !ok {
		c.w.errorText(msgNotInteger)
		return 0, false, false
	}
	if n == math.MinInt64 {
		c.w.errorText("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return 0, false, false
	}
	if n < 0 {
		return -n, false, true
	}
	return n, true, true
}

// maxRandRepeats bounds the picks of a random command with a negative count
// (repeats allowed), whose reply grows with the count alone, not with the
// data: beyond it chkv answers "value is out of range" instead of building
// a reply of many gigabytes.
const maxRandRepeats = 1 << 22

// pickDistinct returns k distinct random positions of [0, n), k < n, in random order.
func (s *Store) pickDistinct(n, k int) []int {
	if k*3 > n {
		// Shuffle a full permutation's prefix.
		p := make([]int, n)
		for i := range p {
			p[i] = i
		}
		for i := range k {
			j := i + s.randIntn(n-i)
			p[i], p[j] = p[j], p[i]
		}
		return p[:k]
	}
	seen := make(map[int]bool, k)
	out := make([]int, 0, k)
	for len(out) < k {
		i := s.randIntn(n)
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// cmdRandom returns HRANDFIELD, SRANDMEMBER or ZRANDMEMBER: prep returns
// the function that writes the element at position i of a key of kind
// (with its value or score when with), where distinct says how many
// distinct elements the reply takes (positions must then name distinct
// elements; 0: any random element will do for a random position); opt
// names the option that asks for values or scores ("" for none).
func cmdRandom(kind valueKind, opt string, prep func(c *conn, e *entry, distinct int) func(i int, with bool)) func(*conn, [][]byte) {
	return func(c *conn, args [][]byte) {
		if opt == "" && len(args) > 3 {
			c.w.errorText(msgSyntax)
			return
		}
		if len(args) == 2 {
			e, unlock, ok := c.readKind(args[1], kind)
			if !ok {
				return
			}
			defer unlock()
			if e == nil {
				c.w.null()
				return
			}
			prep(c, e, 0)(c.d.store.randIntn(e.collLen()), false)
			return
		}
		count, uniq, ok := c.parseRandCount(args[2])
		if !ok {
			return
		}
		with := false
		switch {
		case len(args) > 4 || len(args) == 4 && !eqFold(args[3], opt):
			c.w.errorText(msgSyntax)
			return
		case len(args) == 4:
			with = true
			if count > math.MaxInt64/2 {
				c.w.errorText(msgOutOfRangeValue)
				return
			}
		}
		e, unlock, ok := c.readKind(args[1], kind)
		if !ok {
			return
		}
		defer unlock()
		if e == nil || count == 0 {
			c.w.array(0)
			return
		}
		per := 1
		if with {
			per = 2
		}
		distinct := 0
		if uniq && count > 1 {
			distinct = int(min(count, int64(e.collLen())))
		}
		put := prep(c, e, distinct)
		c.randReply(e.collLen(), count, uniq, per, func(i int) { put(i, with) })
	}
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
