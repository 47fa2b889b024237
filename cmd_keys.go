// Key commands: DEL, UNLINK, EXISTS, TYPE, EXPIRE and friends, TTL, PTTL, PERSIST, SCAN, KEYS, RENAME, RENAMENX.

package chkv

import (
	"math"
	"strconv"
	"strings"
)

// lockKey locks the slot of key and returns it with the slot number.
func (s *Store) lockKey(key []byte) (int, *slotData) {
	slot := SlotBytes(key)
	sd := &s.slots[slot]
	sd.mu.Lock()
	return slot, sd
}

func cmdDel(c *conn, args [][]byte) {
	st := c.d.store
	keys := args[1:]
	unlock := st.lockKeys(keys)
	defer unlock()
	now := c.now()
	var n int64
	for _, k := range keys {
		slot := SlotBytes(k)
		if e := st.lookup(slot, k, now); e != nil {
			st.remove(slot, string(k), e)
			n++
		}
	}
	c.w.int(n)
}

func cmdExists(c *conn, args [][]byte) {
	st := c.d.store
	keys := args[1:]
	unlock := st.lockKeys(keys)
	defer unlock()
	now := c.now()
	var n int64
	for _, k := range keys {
		if st.lookup(SlotBytes(k), k, now) != nil {
			n++
		}
	}
	c.w.int(n)
}

func cmdType(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	if e := st.lookup(slot, args[1], c.now()); e == nil {
		c.w.simple("none")
	} else {
		c.w.simple(typeName(e))
	}
}

// Expire option flags.
const (
	expireNX = 1 << iota
	expireXX
	expireGT
	expireLT
)

// parseExpireFlags parses EXPIRE's NX/XX/GT/LT options, or returns the error text.
func parseExpireFlags(opts [][]byte) (int, string) {
	flags := 0
	for _, o := range opts {
		switch {
		case eqFold(o, "nx"):
			flags |= expireNX
		case eqFold(o, "xx"):
			flags |= expireXX
		case eqFold(o, "gt"):
			flags |= expireGT
		case eqFold(o, "lt"):
			flags |= expireLT
		default:
			return 0, "ERR Unsupported option " + cString(o)
		}
	}
	if flags&expireNX != 0 && flags&(expireXX|expireGT|expireLT) != 0 {
		return 0, "ERR NX and XX, GT or LT options at the same time are not compatible"
	}
	if flags&expireGT != 0 && flags&expireLT != 0 {
		return 0, "ERR GT and LT options at the same time are not compatible"
	}
	return flags, ""
}

// cmdExpire serves EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
func cmdExpire(c *conn, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	flags, msg := parseExpireFlags(args[3:])
	if msg != "" {
		c.w.errorText(msg)
		return
	}
	when, ok := parseInt(args[2])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	st := c.d.store
	now := c.now()
	if name == "expire" || name == "expireat" {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.w.errorText("ERR invalid expire time in '" + name + "' command")
			return
		}
		when *= 1000
	}
	var base int64
	if name == "expire" || name == "pexpire" {
		base = now
	}
	if when > math.MaxInt64-base {
		c.w.errorText("ERR invalid expire time in '" + name + "' command")
		return
	}
	when += base
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e := st.lookup(slot, args[1], now)
	if e == nil {
		c.w.int(0)
		return
	}
	cur := e.expireAt
	switch {
	case flags&expireNX != 0 && cur != 0,
		flags&expireXX != 0 && cur == 0,
		flags&expireGT != 0 && (cur == 0 || when <= cur),
		flags&expireLT != 0 && cur != 0 && when >= cur:
		c.w.int(0)
		return
	}
	if when <= now {
		st.remove(slot, string(args[1]), e)
	} else {
		st.setExpire(slot, args[1], e, when)
	}
	c.w.int(1)
}

func cmdTTL(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	now := c.now()
	e := st.lookup(slot, args[1], now)
	switch {
	case e == nil:
		c.w.int(-2)
	case e.expireAt == 0:
		c.w.int(-1)
	default:
		ttl := max(e.expireAt-now, 0)
		if eqFold(args[0], "ttl") {
			ttl = (ttl + 500) / 1000
		}
		c.w.int(ttl)
	}
}

func cmdPersist(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e := st.lookup(slot, args[1], c.now())
	if e == nil || e.expireAt == 0 {
		c.w.int(0)
		return
	}
	st.setExpire(slot, args[1], e, 0)
	c.w.int(1)
}

// scanOptions are the MATCH, COUNT and TYPE options of SCAN.
type scanOptions struct {
	match []byte
	count int64
	kind  string
}

// filter returns the key filter of the options, or nil for none. A match
// given up because the node is closing (a long pattern against long keys)
// counts as no match and sets *stopped.
func (o scanOptions) filter(c *conn, stopped *bool) func(string, *entry) bool {
	if o.match == nil && o.kind == "" {
		return nil
	}
	all := o.match != nil && len(o.match) == 1 && o.match[0] == '*'
	return func(k string, e *entry) bool {
		if o.kind != "" && typeName(e) != o.kind {
			return false
		}
		if o.match == nil || all {
			return true
		}
		m, stop := globMatchStop(o.match, k, false, c.d.closed)
		*stopped = *stopped || stop
		return m
	}
}

// scanStopped reports whether a key scan must end because the node is
// closing: it then answers so and closes the connection.
func (c *conn) scanStopped(stopped bool) bool {
	if !stopped && !c.nodeClosed() {
		return false
	}
	c.w.errorText(msgShuttingDown)
	c.quit = true
	return true
}

// typeName names the type of e's value as TYPE does.
func typeName(e *entry) string {
	switch e.kind {
	case kindList:
		return "list"
	case kindHash:
		return "hash"
	case kindSet:
		return "set"
	case kindZSet:
		return "zset"
	}
	return "string"
}

func cmdScan(c *conn, args [][]byte) {
	cursor, ok := parseCursor(args[1])
	if !ok {
		c.w.errorText("ERR invalid cursor")
		return
	}
	opts := scanOptions{count: 10}
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.w.errorText(msgSyntax)
			return
		}
		switch v := args[i+1]; {
		case eqFold(args[i], "count"):
			n, ok := parseInt(v)
			if !ok {
				c.w.errorText(msgNotInteger)
				return
			}
			if n < 1 {
				c.w.errorText(msgSyntax)
				return
			}
			opts.count = n
		case eqFold(args[i], "match"):
			opts.match = v
		case eqFold(args[i], "type"):
			opts.kind = strings.ToLower(string(v))
		default:
			c.w.errorText(msgSyntax)
			return
		}
	}
	// The cursor is the next slot to visit; whole slots are returned at once,
	// so every key present for the whole iteration is returned.
	var keys []string
	next := uint64(0)
	stopped := false
	filter := opts.filter(c, &stopped)
	for slot := cursor; slot < NumSlots; slot++ {
		if c.scanStopped(stopped) {
			return
		}
		keys = c.d.store.scanSlot(keys, int(slot), filter)
		if int64(len(keys)) >= opts.count {
			next = slot + 1
			if next >= NumSlots {
				next = 0
			}
			break
		}
	}
	if c.scanStopped(stopped) {
		return
	}
	c.w.array(2)
	c.w.bulkString(strconv.FormatUint(next, 10))
	c.w.bulkStrings(keys)
}

func cmdKeys(c *conn, args [][]byte) {
	opts := scanOptions{match: args[1]}
	stopped := false
	filter := opts.filter(c, &stopped)
	var keys []string
	for slot := range NumSlots {
		if c.scanStopped(stopped) {
			return
		}
		keys = c.d.store.scanSlot(keys, slot, filter)
	}
	if c.scanStopped(stopped) {
		return
	}
	c.w.bulkStrings(keys)
}

// parseCursor parses a SCAN cursor as Redis's strtoul call accepts it: an
// empty string is 0, a sign is allowed (a negative number wraps), no spaces.
func parseCursor(b []byte) (uint64, bool) {
	b = []byte(cString(b)) // strtoul reads a C string: a NUL ends it
	if len(b) == 0 {
		return 0, true
	}
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		b = b[1:]
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil || len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// cmdRename serves RENAME and RENAMENX.
func cmdRename(c *conn, args [][]byte) {
	nx := eqFold(args[0], "renamenx")
	src, dst := args[1], args[2]
	st := c.d.store
	unlock := st.lockKeys(args[1:3])
	defer unlock()
	now := c.now()
	ss, ds := SlotBytes(src), SlotBytes(dst)
	e := st.lookup(ss, src, now)
	if e == nil {
		c.w.errorText(msgNoSuchKey)
		return
	}
	if string(src) == string(dst) {
		if nx {
			c.w.int(0)
		} else {
			c.w.ok()
		}
		return
	}
	if old := st.lookup(ds, dst, now); old != nil {
		if nx {
			c.w.int(0)
			return
		}
		st.remove(ds, string(dst), old)
	}
	st.remove(ss, string(src), e)
	st.insert(ds, string(dst), e)
	if nx {
		c.w.int(1)
	} else {
		c.w.ok()
	}
	if e.kind == kindList || e.kind == kindZSet {
		st.serveWaiters(ds, dst)
	}
}
