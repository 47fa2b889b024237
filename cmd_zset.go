// Sorted-set commands: ZADD and friends, scores and ranks, the ZRANGE family, removals by range, pops (blocking too), ZRANDMEMBER and the unions, intersections and differences.

package chkv

import (
	"math"
	"slices"
	"strings"
	"time"
)

// zsetCommands returns the sorted-set command table entries.
func zsetCommands() []*command {
	const (
		w   = flagWrite | flagTrackName
		r   = flagReadonly | flagTrackName
		wfo = w | flagFast | flagDenyOOM
		rf  = r | flagFast
		wo  = w | flagDenyOOM
	)
	return []*command{
		{"zadd", -4, wfo, 1, 1, 1, cmdZAdd},
		{"zincrby", 4, wfo, 1, 1, 1, cmdZAdd},
		{"zrem", -3, w | flagFast, 1, 1, 1, cmdZRem},
		{"zcard", 2, rf, 1, 1, 1, cmdCollLen(kindZSet)},
		{"zcount", 4, rf, 1, 1, 1, cmdZCount},
		{"zlexcount", 4, rf, 1, 1, 1, cmdZCount},
		{"zscore", 3, rf, 1, 1, 1, cmdZScore},
		{"zmscore", -3, rf, 1, 1, 1, cmdZScore},
		{"zrank", 3, rf, 1, 1, 1, cmdZRank},
		{"zrevrank", 3, rf, 1, 1, 1, cmdZRank},
		{"zrange", -4, r, 1, 1, 1, cmdZRange},
		{"zrangestore", -5, wo, 1, 2, 1, cmdZRange},
		{"zrevrange", -4, r, 1, 1, 1, cmdZRange},
		{"zrangebyscore", -4, r, 1, 1, 1, cmdZRange},
		{"zrevrangebyscore", -4, r, 1, 1, 1, cmdZRange},
		{"zrangebylex", -4, r, 1, 1, 1, cmdZRange},
		{"zrevrangebylex", -4, r, 1, 1, 1, cmdZRange},
		{"zremrangebyrank", 4, w, 1, 1, 1, cmdZRemRange},
		{"zremrangebyscore", 4, w, 1, 1, 1, cmdZRemRange},
		{"zremrangebylex", 4, w, 1, 1, 1, cmdZRemRange},
		{"zpopmin", -2, w | flagFast, 1, 1, 1, cmdZPop},
		{"zpopmax", -2, w | flagFast, 1, 1, 1, cmdZPop},
		{"bzpopmin", -3, w | flagFast | flagBlocking, 1, -2, 1, cmdBZPop},
		{"bzpopmax", -3, w | flagFast | flagBlocking, 1, -2, 1, cmdBZPop},
		{"zmpop", -4, w | flagNumKeys, 0, 0, 0, cmdZMPop},
		{"bzmpop", -5, w | flagBlocking | flagNumKeys, 0, 0, 0, cmdZMPop},
		{"zrandmember", -2, r, 1, 1, 1, cmdRandom(kindZSet, "withscores", func(c *conn, e *entry, _ int) func(int, bool) {
			z := e.zset()
			return func(i int, with bool) {
				n := z.at(z.len() - 1 - i) // the whole set comes highest first, as Redis iterates it
				c.w.bulkString(n.member)
				if with {
					c.w.score(n.score)
				}
			}
		})},
		{"zunion", -3, r | flagNumKeys, 0, 0, 0, cmdZSetOp},
		{"zunionstore", -4, wo | flagNumKeys, 1, 1, 1, cmdZSetOp},
		{"zinter", -3, r | flagNumKeys, 0, 0, 0, cmdZSetOp},
		{"zinterstore", -4, wo | flagNumKeys, 1, 1, 1, cmdZSetOp},
		{"zintercard", -3, r | flagNumKeys, 0, 0, 0, cmdZSetOp},
		{"zdiff", -3, r | flagNumKeys, 0, 0, 0, cmdZSetOp},
		{"zdiffstore", -4, wo | flagNumKeys, 1, 1, 1, cmdZSetOp},
		{"zscan", -3, r, 1, 1, 1, cmdCollScan(kindZSet, func(e *entry, cur uint64, count int, put func(string, ...string)) uint64 {
			return e.zset().scan(cur, count, func(n *znode) { put(n.member, formatScore(n.score)) })
		})},
	}
}

func newZSetEntryEmpty() *entry { return newZSetEntry(newZSet()) }

// zmember is a member with its score, as a pop or a computation yields it.
type zmember struct {
	member string
	score  float64
}

// zmemberCmp orders members as a sorted set does.
func zmemberCmp(a, b zmember) int {
	switch {
	case zless(a.score, a.member, b.score, b.member):
		return -1
	case zless(b.score, b.member, a.score, a.member):
		return 1
	}
	return 0
}

// ZADD option flags.
const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddIncr
	zaddCh
)

// cmdZAdd serves ZADD and ZINCRBY (ZADD with INCR).
func cmdZAdd(c *conn, args [][]byte) {
	flags := 0
	if eqFold(args[0], "zincrby") {
		flags = zaddIncr
	}
	at := 2
	for ; at < len(args); at++ {
		switch o := args[at]; {
		case eqFold(o, "nx"):
			flags |= zaddNX
		case eqFold(o, "xx"):
			flags |= zaddXX
		case eqFold(o, "gt"):
			flags |= zaddGT
		case eqFold(o, "lt"):
			flags |= zaddLT
		case eqFold(o, "incr"):
			flags |= zaddIncr
		case eqFold(o, "ch"):
			flags |= zaddCh
		default:
			goto parsed
		}
	}
parsed:
	pairs := args[at:]
	has := func(f int) bool { return flags&f != 0 }
	switch {
	case len(pairs)%2 != 0 || len(pairs) == 0:
		c.w.errorText(msgSyntax)
		return
	case has(zaddNX) && has(zaddXX):
		c.w.errorText("ERR XX and NX options at the same time are not compatible")
		return
	case has(zaddGT) && has(zaddNX) || has(zaddLT) && has(zaddNX) || has(zaddGT) && has(zaddLT):
		c.w.errorText("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	case has(zaddIncr) && len(pairs) > 2:
		c.w.errorText("ERR INCR option supports a single increment-element pair")
		return
	}
	scores := make([]float64, len(pairs)/2)
	for i := range scores {
		f, ok := parseFloat(pairs[2*i])
		if !ok {
			c.w.errorText(msgNotFloat)
			return
		}
		scores[i] = f
	}
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindZSet)
	if !ok {
		return
	}
	defer unlock()
	if e == nil && has(zaddXX) {
		if has(zaddIncr) {
			c.w.null()
		} else {
			c.w.int(0)
		}
		return
	}
	wr := beginWrite(slot, key, e, newZSetEntryEmpty)
	z := wr.e.zset()
	added, updated, processed := 0, 0, 0
	var score float64
	for i, s := range scores {
		m := pairs[2*i+1]
		cur, exists := z.score(m)
		switch {
		case exists && has(zaddNX), !exists && has(zaddXX):
			continue
		case exists:
			if has(zaddIncr) {
				s += cur
				if math.IsNaN(s) {
					wr.done(st, added+updated > 0)
					c.w.errorText("ERR resulting score is not a number (NaN)")
					return
				}
			}
			if has(zaddLT) && s >= cur || has(zaddGT) && s <= cur {
				continue
			}
			if s != cur {
				z.add(m, s)
				updated++
			}
		default:
			z.add(m, s)
			added++
		}
		processed++
		score = s
	}
	wr.done(st, added+updated > 0)
	if added > 0 {
		st.serveWaiters(slot, key)
	}
	switch {
	case has(zaddIncr) && processed > 0:
		c.w.score(score)
	case has(zaddIncr):
		c.w.null()
	case has(zaddCh):
		c.w.int(int64(added + updated))
	default:
		c.w.int(int64(added))
	}
}

func cmdZRem(c *conn, args [][]byte) {
	c.removeMembers(args, kindZSet, func(e *entry, m []byte) bool { return e.zset().del(m) })
}

// cmdZScore serves ZSCORE and ZMSCORE.
func cmdZScore(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindZSet)
	if !ok {
		return
	}
	defer unlock()
	if eqFold(args[0], "zmscore") {
		c.w.array(len(args) - 2)
	}
	for _, m := range args[2:] {
		if e == nil {
			c.w.null()
		} else if s, ok := e.zset().score(m); ok {
			c.w.score(s)
		} else {
			c.w.null()
		}
	}
}

// cmdZRank serves ZRANK and ZREVRANK.
func cmdZRank(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindZSet)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.null()
		return
	}
	r, ok := e.zset().rank(args[2])
	switch {
	case !ok:
		c.w.null()
	case eqFold(args[0], "zrevrank"):
		c.w.int(int64(e.zset().len() - 1 - r))
	default:
		c.w.int(int64(r))
	}
}

// parseScoreBound parses one end of a score range as Redis's zslParseRange
// does: "(" makes it exclusive, and the rest is read by strtod, which skips
// leading spaces and reads an overflow as an infinity, but leaves no byte
// unread (an empty string is 0).
func parseScoreBound(b []byte) (f float64, ex, ok bool) {
	b = []byte(cString(b)) // Redis reads the bound as a C string: a NUL ends it
	if len(b) > 0 && b[0] == '(' {
		ex, b = true, b[1:]
	}
	if len(b) == 0 {
		return 0, ex, true
	}
	f, _, ok = strtod(strings.TrimLeft(string(b), " \t\n\v\f\r"))
	return f, ex, ok
}

// parseScoreRange parses min and max of a score range.
func parseScoreRange(min, max []byte) (scoreRange, bool) {
	var r scoreRange
	var ok1, ok2 bool
	r.min, r.minEx, ok1 = parseScoreBound(min)
	r.max, r.maxEx, ok2 = parseScoreBound(max)
	return r, ok1 && ok2
}

// parseLexBound parses one end of a lex range: "-", "+", "(member" or "[member".
func parseLexBound(b []byte) (lexBound, bool) {
	switch {
	case len(b) == 0:
		return lexBound{}, false
	case b[0] == '+' || b[0] == '-':
		if len(b) != 1 {
			return lexBound{}, false
		}
		if b[0] == '+' {
			return lexBound{inf: 1, ex: true}, true
		}
		return lexBound{inf: -1, ex: true}, true
	case b[0] == '(' || b[0] == '[':
		return lexBound{val: string(b[1:]), ex: b[0] == '('}, true
	}
	return lexBound{}, false
}

// parseLexRange parses min and max of a lex range.
func parseLexRange(min, max []byte) (lexRange, bool) {
	lo, ok1 := parseLexBound(min)
	hi, ok2 := parseLexBound(max)
	return lexRange{min: lo, max: hi}, ok1 && ok2
}

// cmdZCount serves ZCOUNT and ZLEXCOUNT.
func cmdZCount(c *conn, args [][]byte) {
	lex := eqFold(args[0], "zlexcount")
	sr, ok := parseScoreRange(args[2], args[3])
	var lr lexRange
	if lex {
		lr, ok = parseLexRange(args[2], args[3])
	}
	if !ok {
		if lex {
			c.w.errorText(msgNotLexRange)
		} else {
			c.w.errorText(msgNotFloatMinMax)
		}
		return
	}
	e, unlock, ok := c.readKind(args[1], kindZSet)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.int(0)
		return
	}
	var lo, hi int
	if lex {
		lo, hi = e.zset().lexSpan(&lr)
	} else {
		lo, hi = e.zset().scoreSpan(&sr)
	}
	c.w.int(int64(hi - lo))
}

// Kinds of range of the ZRANGE family.
const (
	zrangeAuto = iota
	zrangeRank
	zrangeScore
	zrangeLex
)

// zrangeQuery is a parsed ZRANGE-family request.
type zrangeQuery struct {
	kind          int
	rev           bool
	withScores    bool
	start, end    int64 // by rank
	score         scoreRange
	lex           lexRange
	offset, limit int64 // limit < 0: no limit
}

// cmdZRange serves ZRANGE, ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE,
// ZREVRANGEBYSCORE, ZRANGEBYLEX and ZREVRANGEBYLEX.
func cmdZRange(c *conn, args [][]byte) {
	name := lowerName(args[0])
	store := name == "zrangestore"
	q := zrangeQuery{limit: -1}
	revFixed := false
	switch name {
	case "zrevrange":
		q.kind, q.rev, revFixed = zrangeRank, true, true
	case "zrangebyscore", "zrevrangebyscore":
		q.kind, q.rev, revFixed = zrangeScore, strings.HasPrefix(name, "zrev"), true
	case "zrangebylex", "zrevrangebylex":
		q.kind, q.rev, revFixed = zrangeLex, strings.HasPrefix(name, "zrev"), true
	}
	src := 1
	if store {
		src = 2
	}
	for j := src + 3; j < len(args); j++ {
		left := len(args) - j - 1
		switch o := args[j]; {
		case !store && eqFold(o, "withscores"):
			q.withScores = true
		case eqFold(o, "limit") && left >= 2:
			var ok1, ok2 bool
			q.offset, ok1 = parseInt(args[j+1])
			q.limit, ok2 = parseInt(args[j+2])
			if !ok1 || !ok2 {
				c.w.errorText(msgNotInteger)
				return
			}
			j += 2
		case !revFixed && !q.rev && eqFold(o, "rev"):
			q.rev = true
		case q.kind == zrangeAuto && eqFold(o, "bylex"):
			q.kind = zrangeLex
		case q.kind == zrangeAuto && eqFold(o, "byscore"):
			q.kind = zrangeScore
		default:
			c.w.errorText(msgSyntax)
			return
		}
	}
	if q.kind == zrangeAuto {
		q.kind = zrangeRank
	}
	switch {
	case q.kind == zrangeRank && q.limit != -1:
		c.w.errorText("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
		return
	case q.withScores && q.kind == zrangeLex:
		c.w.errorText("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
		return
	}
	lo, hi := args[src+1], args[src+2]
	if q.rev && q.kind != zrangeRank {
		lo, hi = hi, lo // given as max min
	}
	var ok bool
	switch q.kind {
	case zrangeRank:
		var ok1, ok2 bool
		q.start, ok1 = parseInt(lo)
		q.end, ok2 = parseInt(hi)
		if !ok1 || !ok2 {
			c.w.errorText(msgNotInteger)
			return
		}
	case zrangeScore:
		if q.score, ok = parseScoreRange(lo, hi); !ok {
			c.w.errorText(msgNotFloatMinMax)
			return
		}
	case zrangeLex:
		if q.lex, ok = parseLexRange(lo, hi); !ok {
			c.w.errorText(msgNotLexRange)
			return
		}
	}
	st := c.d.store
	var keys [][]byte
	if store {
		keys = args[1:3]
	} else {
		keys = args[1:2]
	}
	unlock := st.lockKeys(keys)
	defer unlock()
	e := st.lookup(SlotBytes(args[src]), args[src], c.now())
	if e != nil && e.kind != kindZSet {
		c.w.errorText(msgWrongType)
		return
	}
	var ms []zmember
	if e != nil {
		ms = q.run(e.zset())
	}
	if store {
		c.storeZSet(args[1], ms)
		return
	}
	c.writeMembers(ms, q.withScores)
}

// run returns the members the query selects, in reply order.
func (q *zrangeQuery) run(z *zset) []zmember {
	n := z.len()
	var lo, hi int
	switch q.kind {
	case zrangeRank:
		s, t, ok := clampRange(q.start, q.end, int64(n))
		if !ok {
			return nil
		}
		lo, hi = int(s), int(t)+1
		if q.rev {
			lo, hi = n-hi, n-lo
		}
	case zrangeScore:
		lo, hi = z.scoreSpan(&q.score)
	default:
		lo, hi = z.lexSpan(&q.lex)
	}
	if q.kind != zrangeRank {
		// LIMIT: a negative offset selects nothing, a negative count everything after the offset.
		if q.offset < 0 || q.offset >= int64(hi-lo) {
			return nil
		}
		if q.rev {
			hi -= int(q.offset)
		} else {
			lo += int(q.offset)
		}
		if q.limit >= 0 && q.limit < int64(hi-lo) {
			if q.rev {
				lo = hi - int(q.limit)
			} else {
				hi = lo + int(q.limit)
			}
		}
	}
	out := make([]zmember, 0, hi-lo)
	z.each(lo, hi, q.rev, func(t *znode) bool { out = append(out, zmember{t.member, t.score}); return true })
	return out
}

// writeMembers replies with the members, and their scores when asked.
func (c *conn) writeMembers(ms []zmember, withScores bool) {
	if withScores {
		c.w.array(2 * len(ms))
	} else {
		c.w.array(len(ms))
	}
	for _, m := range ms {
		c.w.bulkString(m.member)
		if withScores {
			c.w.score(m.score)
		}
	}
}

// storeZSet makes dst hold the members (deleting it when there are none),
// replies with its size and wakes clients blocked on it. The caller holds
// dst's slot lock.
func (c *conn) storeZSet(dst []byte, members []zmember) {
	st := c.d.store
	slot := SlotBytes(dst)
	if old := st.lookup(slot, dst, c.now()); old != nil {
		st.remove(slot, string(dst), old)
	}
	z := newZSet()
	for _, m := range members {
		z.add([]byte(m.member), m.score)
	}
	c.w.int(int64(z.len()))
	if z.len() > 0 {
		st.insert(slot, string(dst), newZSetEntry(z))
		st.serveWaiters(slot, dst)
	}
}

// cmdZRemRange serves ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX.
func cmdZRemRange(c *conn, args [][]byte) {
	q := zrangeQuery{limit: -1}
	var ok bool
	switch name := lowerName(args[0]); name {
	case "zremrangebyrank":
		var ok1, ok2 bool
		q.kind = zrangeRank
		q.start, ok1 = parseInt(args[2])
		q.end, ok2 = parseInt(args[3])
		if !ok1 || !ok2 {
			c.w.errorText(msgNotInteger)
			return
		}
	case "zremrangebyscore":
		q.kind = zrangeScore
		if q.score, ok = parseScoreRange(args[2], args[3]); !ok {
			c.w.errorText(msgNotFloatMinMax)
			return
		}
	default:
		q.kind = zrangeLex
		if q.lex, ok = parseLexRange(args[2], args[3]); !ok {
			c.w.errorText(msgNotLexRange)
			return
		}
	}
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindZSet)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.int(0)
		return
	}
	ms := q.run(e.zset())
	wr := beginWrite(slot, key, e, nil)
	for _, m := range ms {
		e.zset().del([]byte(m.member))
	}
	wr.done(st, len(ms) > 0)
	c.w.int(int64(len(ms)))
}

// popZSet pops up to count members of the lowest (highest when high) scores
// of the sorted set e at key, deleting the key when it empties. The caller
// holds the slot lock.
func (s *Store) popZSet(slot int, key []byte, e *entry, high bool, count int) []zmember {
	z := e.zset()
	wr := beginWrite(slot, key, e, nil)
	count = min(count, z.len())
	out := make([]zmember, 0, count)
	for range count {
		n := z.at(0)
		if high {
			n = z.at(z.len() - 1)
		}
		out = append(out, zmember{n.member, n.score})
		z.del([]byte(n.member))
	}
	wr.done(s, len(out) > 0)
	return out
}

// cmdZPop serves ZPOPMIN and ZPOPMAX.
func cmdZPop(c *conn, args [][]byte) {
	if len(args) > 3 {
		c.w.errorText(msgSyntax)
		return
	}
	count := int64(1)
	if len(args) == 3 {
		n, ok := parseInt(args[2])
		if !ok || n < 0 {
			c.w.errorText(msgMustPositive)
			return
		}
		count = n
	}
	st, key := c.d.store, args[1]
	slot, e, unlock, ok := c.lockKind(key, kindZSet)
	if !ok {
		return
	}
	defer unlock()
	if e == nil || count == 0 {
		c.w.array(0)
		return
	}
	zs := st.popZSet(slot, key, e, eqFold(args[0], "zpopmax"), int(min(count, int64(e.zset().len()))))
	c.w.array(2 * len(zs))
	for _, m := range zs {
		c.w.bulkString(m.member)
		c.w.score(m.score)
	}
}

// cmdBZPop serves BZPOPMIN and BZPOPMAX.
func cmdBZPop(c *conn, args [][]byte) {
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		c.w.errorText(msg)
		return
	}
	c.zpopBlocking(args[1:len(args)-1], eqFold(args[0], "bzpopmax"), 1, timeout, false)
}

// cmdZMPop serves ZMPOP and BZMPOP.
func cmdZMPop(c *conn, args [][]byte) {
	block := eqFold(args[0], "bzmpop")
	at := 1
	if block {
		at = 2
	}
	n, ok := parseInt(args[at])
	if !ok || n < 1 {
		c.w.errorText("ERR numkeys should be greater than 0")
		return
	}
	if n > int64(len(args)-at-2) { // no room for MIN or MAX after the keys
		c.w.errorText(msgSyntax)
		return
	}
	where := at + int(n) + 1
	keys := args[at+1 : where]
	var high bool
	switch {
	case eqFold(args[where], "min"):
	case eqFold(args[where], "max"):
		high = true
	default:
		c.w.errorText(msgSyntax)
		return
	}
	count := int64(-1)
	for j := where + 1; j < len(args); j++ {
		if count == -1 && eqFold(args[j], "count") && j+1 < len(args) {
			j++
			v, ok := parseInt(args[j])
			if !ok || v < 1 {
				c.w.errorText("ERR count should be greater than 0")
				return
			}
			count = v
			continue
		}
		c.w.errorText(msgSyntax)
		return
	}
	count = min(max(count, 1), math.MaxInt32)
	if !block {
		unlock := c.d.store.lockKeys(keys)
		defer unlock()
		if !c.zpopLocked(keys, high, int(count), true) {
			c.w.nullArray()
		}
		return
	}
	timeout, msg := parseTimeout(args[1])
	if msg != "" {
		c.w.errorText(msg)
		return
	}
	c.zpopBlocking(keys, high, int(count), timeout, true)
}

// zpopLocked pops from the first of keys that holds a sorted set and
// replies (nested: ZMPOP's shape, else BZPOPMIN's), or answers WRONGTYPE
// for a key of another type before it; it reports whether it replied. The
// caller holds the keys' locks.
func (c *conn) zpopLocked(keys [][]byte, high bool, count int, nested bool) bool {
	st := c.d.store
	now := c.now()
	for _, k := range keys {
		slot := SlotBytes(k)
		e := st.lookup(slot, k, now)
		if e == nil {
			continue
		}
		if e.kind != kindZSet {
			c.w.errorText(msgWrongType)
			return true
		}
		c.writeZPopped(k, st.popZSet(slot, k, e, high, count), nested)
		return true
	}
	return false
}

// writeZPopped replies with the members popped from key: [key, member,
// score] (BZPOPMIN) or, nested, [key, [[member, score]...]] (ZMPOP).
func (c *conn) writeZPopped(key []byte, zs []zmember, nested bool) {
	if nested {
		c.w.array(2)
		c.w.bulk(key)
		c.w.array(len(zs))
		for _, m := range zs {
			c.w.array(2)
			c.w.bulkString(m.member)
			c.w.score(m.score)
		}
		return
	}
	c.w.array(1 + 2*len(zs))
	c.w.bulk(key)
	for _, m := range zs {
		c.w.bulkString(m.member)
		c.w.score(m.score)
	}
}

// zpopBlocking pops as zpopLocked does, or blocks until a sorted set
// appears at one of keys (served in arrival order), the timeout (ms, 0:
// none) passes (a null array), or the client leaves (nothing is taken).
func (c *conn) zpopBlocking(keys [][]byte, high bool, count int, timeout int64, nested bool) {
	st := c.d.store
	unlock := st.lockKeys(keys)
	if c.zpopLocked(keys, high, count, nested) {
		unlock()
		return
	}
	w := &waiter{zpop: true, max: high, count: count, ch: make(chan popped, 1)}
	for _, k := range keys {
		w.keys = append(w.keys, cloneBytes(k))
	}
	st.addWaiter(w)
	unlock()
	p, ok := c.blockPop(w, time.Duration(timeout)*time.Millisecond)
	switch {
	case !ok:
		c.w.nullArray()
	case p.err != "":
		c.w.errorText(p.err)
	default:
		c.writeZPopped(p.key, p.zs, nested)
	}
}

// Aggregations of ZUNION and ZINTER.
const (
	aggSum = iota
	aggMin
	aggMax
)

// aggregate folds v into t.
func aggregate(t *float64, v float64, agg int) {
	switch agg {
	case aggSum:
		*t += v
		if math.IsNaN(*t) { // inf + -inf: Redis's convention is 0
			*t = 0
		}
	case aggMin: // C's comparisons: a NaN never wins
		if v < *t {
			*t = v
		}
	case aggMax:
		if v > *t {
			*t = v
		}
	}
}

// zsource is one input of ZUNION, ZINTER or ZDIFF: a sorted set or a set
// (every member scored 1), nil when the key is missing.
type zsource struct {
	z      *zset
	s      *setValue
	weight float64
}

func (src *zsource) len() int {
	switch {
	case src.z != nil:
		return src.z.len()
	case src.s != nil:
		return src.s.len()
	}
	return 0
}

// each calls fn on every member with its score.
func (src *zsource) each(fn func(m string, score float64)) {
	switch {
	case src.z != nil:
		src.z.each(0, src.z.len(), false, func(n *znode) bool { fn(n.member, n.score); return true })
	case src.s != nil:
		for _, m := range src.s.members {
			fn(m, 1)
		}
	}
}

// find returns the score of m in the source.
func (src *zsource) find(m string) (float64, bool) {
	switch {
	case src.z != nil:
		return src.z.score([]byte(m))
	case src.s != nil && src.s.has([]byte(m)):
		return 1, true
	}
	return 0, false
}

// same reports whether two sources are the same key.
func (src *zsource) same(o *zsource) bool {
	return src.z != nil && src.z == o.z || src.s != nil && src.s == o.s
}

// cmdZSetOp serves ZUNION, ZUNIONSTORE, ZINTER, ZINTERSTORE, ZINTERCARD,
// ZDIFF and ZDIFFSTORE.
func cmdZSetOp(c *conn, args [][]byte) {
	name := lowerName(args[0])
	store := strings.HasSuffix(name, "store")
	card := name == "zintercard"
	op := name[1] // 'u', 'i' or 'd'
	at := 1
	if store {
		at = 2
	}
	n, ok := parseInt(args[at])
	switch {
	case !ok:
		c.w.errorText(msgNotInteger)
		return
	case n < 1:
		c.w.errorText("ERR at least 1 input key is needed for '" + name + "' command")
		return
	case n > int64(len(args)-at-1):
		c.w.errorText(msgSyntax)
		return
	}
	keys := args[at+1 : at+1+int(n)]
	st := c.d.store
	lockKeys := keys
	if store {
		lockKeys = append([][]byte{args[1]}, keys...)
	}
	unlock := st.lockKeys(lockKeys)
	defer unlock()
	now := c.now()
	srcs := make([]zsource, len(keys))
	for i, k := range keys {
		srcs[i].weight = 1
		e := st.lookup(SlotBytes(k), k, now)
		switch {
		case e == nil:
		case e.kind == kindZSet:
			srcs[i].z = e.zset()
		case e.kind == kindSet:
			srcs[i].s = e.set()
		default:
			c.w.errorText(msgWrongType)
			return
		}
	}
	agg, withScores, limit := aggSum, false, int64(0)
	opts := args[at+1+int(n):]
	for j := 0; j < len(opts); j++ {
		left := len(opts) - j
		switch o := opts[j]; {
		case op != 'd' && !card && left >= len(srcs)+1 && eqFold(o, "weights"):
			for i := range srcs {
				j++
				w, ok := parseFloat(opts[j])
				if !ok {
					c.w.errorText("ERR weight value is not a float")
					return
				}
				srcs[i].weight = w
			}
		case op != 'd' && !card && left >= 2 && eqFold(o, "aggregate"):
			j++
			switch {
			case eqFold(opts[j], "sum"):
				agg = aggSum
			case eqFold(opts[j], "min"):
				agg = aggMin
			case eqFold(opts[j], "max"):
				agg = aggMax
			default:
				c.w.errorText(msgSyntax)
				return
			}
		case !store && !card && eqFold(o, "withscores"):
			withScores = true
		case card && left >= 2 && eqFold(o, "limit"):
			j++
			v, ok := parseInt(opts[j])
			if !ok || v < 0 {
				c.w.errorText("ERR LIMIT can't be negative")
				return
			}
			limit = v
		default:
			c.w.errorText(msgSyntax)
			return
		}
	}
	var res []zmember
	switch op {
	case 'u':
		res = zunion(srcs, agg)
	case 'i':
		res = zinter(srcs, agg, card, limit)
	default:
		res = zdiff(srcs)
	}
	switch {
	case card:
		c.w.int(int64(len(res)))
	case store:
		c.storeZSet(args[1], res)
	default:
		slices.SortFunc(res, zmemberCmp)
		c.writeMembers(res, withScores)
	}
}

// weighted returns w*s, 0 where that is NaN (0 * inf), as Redis does.
func weighted(w, s float64) float64 {
	if v := w * s; !math.IsNaN(v) {
		return v
	}
	return 0
}

// bySize returns the sources from the smallest, as Redis orders them.
func bySize(srcs []zsource) []zsource {
	out := slices.Clone(srcs)
	slices.SortStableFunc(out, func(a, b zsource) int { return a.len() - b.len() })
	return out
}

func zunion(srcs []zsource, agg int) []zmember {
	acc := map[string]int{}
	var out []zmember
	for _, src := range bySize(srcs) {
		src.each(func(m string, s float64) {
			v := weighted(src.weight, s)
			if i, ok := acc[m]; ok {
				aggregate(&out[i].score, v, agg)
				return
			}
			acc[m] = len(out)
			out = append(out, zmember{m, v})
		})
	}
	return out
}

func zinter(srcs []zsource, agg int, card bool, limit int64) []zmember {
	sorted := bySize(srcs)
	var out []zmember
	sorted[0].each(func(m string, s float64) {
		if card && limit > 0 && int64(len(out)) >= limit {
			return
		}
		score := weighted(sorted[0].weight, s)
		for _, o := range sorted[1:] {
			v := s
			if !o.same(&sorted[0]) {
				var ok bool
				if v, ok = o.find(m); !ok {
					return
				}
			}
			aggregate(&score, v*o.weight, agg)
		}
		out = append(out, zmember{m, score})
	})
	return out
}

func zdiff(srcs []zsource) []zmember {
	var out []zmember
	srcs[0].each(func(m string, s float64) {
		for i := range srcs[1:] {
			o := &srcs[1+i]
			if o.same(&srcs[0]) {
				return
			}
			if _, ok := o.find(m); ok {
				return
			}
		}
		out = append(out, zmember{m, s})
	})
	return out
}
