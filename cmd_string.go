// String and counter commands: GET, SET and its variants, MGET, MSET, APPEND, ranges, INCR and friends.

package chkv

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// getString returns the live string entry of key, or nil, or writes a
// WRONGTYPE error and reports false. The caller holds the slot lock.
func (c *conn) getString(slot int, key []byte, now int64) (*entry, bool) {
	e := c.d.store.lookup(slot, key, now)
	if e != nil && e.kind != kindString {
		c.w.errorText(msgWrongType)
		return nil, false
	}
	return e, true
}

func cmdGet(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], c.now())
	if ok {
		if e == nil {
			c.w.null()
		} else {
			c.w.bulk(e.str)
		}
	}
}

// Flags of SET and GETEX options.
const (
	setNX = 1 << iota
	setXX
	setGet
	setKeepTTL
	setPersist
	setEX
	setPX
	setEXAT
	setPXAT
	setAnyExpire = setEX | setPX | setEXAT | setPXAT
)

// parseSetOptions parses the options of SET (isSet) or GETEX as Redis 7.0
// does, returning the flags, the expiry argument and an error text.
func parseSetOptions(opts [][]byte, isSet bool) (int, []byte, string) {
	flags := 0
	var expire []byte
	for j := 0; j < len(opts); j++ {
		o := opts[j]
		hasNext := j+1 < len(opts)
		switch {
		case eqFold(o, "nx") && flags&setXX == 0 && isSet:
			flags |= setNX
		case eqFold(o, "xx") && flags&setNX == 0 && isSet:
			flags |= setXX
		case eqFold(o, "get") && isSet:
			flags |= setGet
		case eqFold(o, "keepttl") && flags&(setPersist|setAnyExpire) == 0 && isSet:
			flags |= setKeepTTL
		case eqFold(o, "persist") && !isSet && flags&(setAnyExpire|setKeepTTL) == 0:
			flags |= setPersist
		case expireOption(o) != 0 && hasNext &&
			flags&(setKeepTTL|setPersist|setAnyExpire&^expireOption(o)) == 0:
			// One expiry option at most; repeating the same one is allowed, as in Redis.
			flags |= expireOption(o)
			expire = opts[j+1]
			j++
		default:
			return 0, nil, msgSyntax
		}
	}
	return flags, expire, ""
}

// expireOption returns the flag of an EX, PX, EXAT or PXAT option, or 0.
func expireOption(o []byte) int {
	switch {
	case eqFold(o, "ex"):
		return setEX
	case eqFold(o, "px"):
		return setPX
	case eqFold(o, "exat"):
		return setEXAT
	case eqFold(o, "pxat"):
		return setPXAT
	}
	return 0
}

// expireMillis turns an EX/PX/EXAT/PXAT argument into an absolute unix time
// in milliseconds, or returns Redis's error text for the command name.
func expireMillis(arg []byte, flags int, now int64, name string) (int64, string) {
	ms, ok := parseInt(arg)
	if !ok {
		return 0, msgNotInteger
	}
	seconds := flags&(setEX|setEXAT) != 0
	if ms <= 0 || seconds && ms > math.MaxInt64/1000 {
		return 0, "ERR invalid expire time in '" + name + "' command"
	}
	if seconds {
		ms *= 1000
	}
	if flags&(setEX|setPX) != 0 {
		ms += now // wraps on overflow, as in Redis, and is caught below
	}
	if ms <= 0 {
		return 0, "ERR invalid expire time in '" + name + "' command"
	}
	return ms, ""
}

func cmdSet(c *conn, args [][]byte) {
	flags, expire, msg := parseSetOptions(args[3:], true)
	if msg != "" {
		c.w.errorText(msg)
		return
	}
	c.setGeneric(args[1], args[2], flags, expire, "set")
}

// setGeneric is the body of SET, SETNX, SETEX and PSETEX.
func (c *conn) setGeneric(key, val []byte, flags int, expire []byte, name string) bool {
	if len(val) > c.d.maxBulk() {
		c.w.errorText(msgTooLarge)
		return false
	}
	st := c.d.store
	now := c.now()
	var expireAt int64
	if expire != nil {
		var msg string
		if expireAt, msg = expireMillis(expire, flags, now, name); msg != "" {
			c.w.errorText(msg)
			return false
		}
	}
	slot, sd := st.lockKey(key)
	defer sd.mu.Unlock()
	e := st.lookup(slot, key, now)
	if flags&setGet != 0 {
		switch {
		case e == nil:
			c.w.null()
		case e.kind != kindString:
			c.w.errorText(msgWrongType)
			return false
		default:
			c.w.bulk(e.str)
		}
	}
	if flags&setNX != 0 && e != nil || flags&setXX != 0 && e == nil {
		if flags&setGet == 0 {
			c.w.null()
		}
		return false
	}
	if expireAt != 0 && expireAt <= now { // EXAT/PXAT in the past: the key is gone at once
		if e != nil {
			st.remove(slot, string(key), e)
		}
	} else {
		st.setString(slot, key, e, val, expireAt, flags&setKeepTTL != 0)
	}
	if flags&setGet == 0 {
		c.w.ok()
	}
	return true
}

func cmdSetNX(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	if st.lookup(slot, args[1], c.now()) != nil {
		c.w.int(0)
		return
	}
	if len(args[2]) > c.d.maxBulk() {
		c.w.errorText(msgTooLarge)
		return
	}
	st.setString(slot, args[1], nil, args[2], 0, false)
	c.w.int(1)
}

// cmdSetEX serves SETEX and PSETEX.
func cmdSetEX(c *conn, args [][]byte) {
	flags, name := setEX, "setex"
	if eqFold(args[0], "psetex") {
		flags, name = setPX, "psetex"
	}
	c.setGeneric(args[1], args[3], flags, args[2], name)
}

func cmdGetSet(c *conn, args [][]byte) {
	c.setGeneric(args[1], args[2], setGet, nil, "getset")
}

func cmdGetDel(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], c.now())
	if !ok {
		return
	}
	if e == nil {
		c.w.null()
		return
	}
	c.w.bulk(e.str)
	st.remove(slot, string(args[1]), e)
}

func cmdGetEx(c *conn, args [][]byte) {
	flags, expire, msg := parseSetOptions(args[2:], false)
	if msg != "" {
		c.w.errorText(msg)
		return
	}
	st := c.d.store
	now := c.now()
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], now)
	if !ok {
		return
	}
	if e == nil {
		c.w.null()
		return
	}
	var expireAt int64
	if expire != nil {
		if expireAt, msg = expireMillis(expire, flags, now, "getex"); msg != "" {
			c.w.errorText(msg)
			return
		}
	}
	c.w.bulk(e.str)
	switch {
	case expire != nil && expireAt <= now:
		st.remove(slot, string(args[1]), e)
	case expire != nil:
		st.setExpire(slot, args[1], e, expireAt)
	case flags&setPersist != 0 && e.expireAt != 0:
		st.setExpire(slot, args[1], e, 0)
	}
}

func cmdMGet(c *conn, args [][]byte) {
	st := c.d.store
	keys := args[1:]
	unlock := st.lockKeys(keys)
	defer unlock()
	now := c.now()
	c.w.array(len(keys))
	for _, k := range keys {
		e := st.lookup(SlotBytes(k), k, now)
		if e == nil || e.kind != kindString {
			c.w.null()
		} else {
			c.w.bulk(e.str)
		}
	}
}

// cmdMSet serves MSET and MSETNX; both set every key atomically.
func cmdMSet(c *conn, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	if len(args)%2 == 0 {
		c.w.errorText("ERR wrong number of arguments for '" + name + "' command")
		return
	}
	for i := 2; i < len(args); i += 2 {
		if len(args[i]) > c.d.maxBulk() {
			c.w.errorText(msgTooLarge)
			return
		}
	}
	st := c.d.store
	keys := make([][]byte, 0, len(args)/2)
	for i := 1; i < len(args); i += 2 {
		keys = append(keys, args[i])
	}
	unlock := st.lockKeys(keys)
	defer unlock()
	now := c.now()
	nx := name == "msetnx"
	if nx {
		for _, k := range keys {
			if st.lookup(SlotBytes(k), k, now) != nil {
				c.w.int(0)
				return
			}
		}
	}
	for i := 1; i < len(args); i += 2 {
		slot := SlotBytes(args[i])
		st.setString(slot, args[i], st.lookup(slot, args[i], now), args[i+1], 0, false)
	}
	if nx {
		c.w.int(1)
	} else {
		c.w.ok()
	}
}

func cmdAppend(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], c.now())
	if !ok {
		return
	}
	if e == nil {
		if len(args[2]) > c.d.maxBulk() {
			c.w.errorText(msgTooLarge)
			return
		}
		st.setString(slot, args[1], nil, args[2], 0, false)
		c.w.int(int64(len(args[2])))
		return
	}
	if len(e.str)+len(args[2]) > c.d.maxBulk() {
		c.w.errorText(msgTooLarge)
		return
	}
	before, hadTTL := e.size(string(args[1])), e.expireAt != 0
	e.str = append(e.str, args[2]...)
	st.update(slot, string(args[1]), e, before, hadTTL)
	c.w.int(int64(len(e.str)))
}

func cmdStrlen(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	if e, ok := c.getString(slot, args[1], c.now()); ok {
		if e == nil {
			c.w.int(0)
		} else {
			c.w.int(int64(len(e.str)))
		}
	}
}

func cmdGetRange(c *conn, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.w.errorText(msgNotInteger)
		return
	}
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], c.now())
	if !ok {
		return
	}
	if e == nil {
		c.w.bulkString("")
		return
	}
	n := int64(len(e.str))
	if start < 0 && end < 0 && start > end {
		c.w.bulkString("")
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.w.bulkString("")
		return
	}
	c.w.bulk(e.str[start : end+1])
}

func cmdSetRange(c *conn, args [][]byte) {
	off, ok := parseInt(args[2])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	if off < 0 {
		c.w.errorText("ERR offset is out of range")
		return
	}
	val := args[3]
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], c.now())
	if !ok {
		return
	}
	if e != nil && len(val) == 0 {
		c.w.int(int64(len(e.str)))
		return
	}
	if e == nil && len(val) == 0 {
		c.w.int(0)
		return
	}
	if off > int64(c.d.maxBulk())-int64(len(val)) { // off+len(val) could overflow
		c.w.errorText(msgTooLarge)
		return
	}
	end := int(off) + len(val)
	if e == nil {
		buf := make([]byte, end)
		copy(buf[off:], val)
		e = &entry{kind: kindString, str: buf}
		st.insert(slot, string(args[1]), e)
		c.w.int(int64(end))
		return
	}
	before, hadTTL := e.size(string(args[1])), e.expireAt != 0
	if end > len(e.str) {
		e.str = append(e.str, make([]byte, end-len(e.str))...)
	}
	copy(e.str[off:], val)
	st.update(slot, string(args[1]), e, before, hadTTL)
	c.w.int(int64(len(e.str)))
}

// cmdIncr serves INCR, DECR, INCRBY and DECRBY.
func cmdIncr(c *conn, args [][]byte) {
	var by int64 = 1
	switch {
	case eqFold(args[0], "decr"):
		by = -1
	case len(args) == 3:
		n, ok := parseInt(args[2])
		if !ok {
			c.w.errorText(msgNotInteger)
			return
		}
		by = n
		if eqFold(args[0], "decrby") {
			if n == math.MinInt64 {
				c.w.errorText("ERR decrement would overflow")
				return
			}
			by = -n
		}
	}
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], c.now())
	if !ok {
		return
	}
	var cur int64
	if e != nil {
		if cur, ok = parseInt(e.str); !ok {
			c.w.errorText(msgNotInteger)
			return
		}
	}
	if addOverflows(cur, by) {
		c.w.errorText(msgOverflow)
		return
	}
	cur += by
	var buf [24]byte
	st.setString(slot, args[1], e, strconv.AppendInt(buf[:0], cur, 10), 0, true)
	c.w.int(cur)
}

func cmdIncrByFloat(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], c.now())
	if !ok {
		return
	}
	cur := new(big.Float).SetPrec(longDoublePrec)
	if e != nil {
		if cur, ok = parseLongDouble(e.str); !ok {
			c.w.errorText(msgNotFloat)
			return
		}
	}
	by, ok := parseLongDouble(args[2])
	if !ok {
		c.w.errorText(msgNotFloat)
		return
	}
	if cur.IsInf() || by.IsInf() {
		c.w.errorText(msgNaN)
		return
	}
	sum := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven).Add(cur, by)
	if longDoubleOverflows(sum) {
		c.w.errorText(msgNaN)
		return
	}
	s := formatLongDouble(sum)
	st.setString(slot, args[1], e, []byte(s), 0, true)
	c.w.bulkString(s)
}
