// Versioned commands (Tair's versions): CHKV.GETV, CHKV.SETV and CHKV.VERSION.

package chkv

import "strconv"

// cmdGetV answers CHKV.GETV key with [value, version], or a nil array when the key is absent.
func cmdGetV(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e, ok := c.getString(slot, args[1], c.now())
	if !ok {
		return
	}
	if e == nil {
		c.w.nullArray()
		return
	}
	c.w.array(2)
	c.w.bulk(e.str)
	c.w.int(int64(e.version))
}

// cmdSetV serves CHKV.SETV key value version [EX seconds]: a compare-and-set
// on the key's version, where version 0 writes unconditionally. It answers
// the new version, or "-VERSION mismatch: current version is N".
func cmdSetV(c *conn, args [][]byte) {
	want, ok := parseInt(args[3])
	if !ok || want < 0 {
		c.w.errorText("ERR version is not an integer or out of range")
		return
	}
	flags := 0
	var expire []byte
	switch {
	case len(args) == 4:
	case len(args) == 6 && eqFold(args[4], "ex"):
		flags, expire = setEX, args[5]
	case len(args) == 6 && eqFold(args[4], "px"):
		flags, expire = setPX, args[5]
	default:
		c.w.errorText(msgSyntax)
		return
	}
	if len(args[2]) > c.d.maxBulk() {
		c.w.errorText(msgTooLarge)
		return
	}
	st := c.d.store
	now := c.now()
	var expireAt int64
	if expire != nil {
		var msg string
		if expireAt, msg = expireMillis(expire, flags, now, "chkv.setv"); msg != "" {
			c.w.errorText(msg)
			return
		}
	}
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e := st.lookup(slot, args[1], now)
	var cur uint64
	if e != nil {
		cur = e.version
	}
	if want != 0 && uint64(want) != cur {
		c.w.errorText("VERSION mismatch: current version is " + strconv.FormatUint(cur, 10))
		return
	}
	e = st.setString(slot, args[1], e, args[2], expireAt, false)
	c.w.int(int64(e.version))
}

// cmdVersion answers CHKV.VERSION key with the key's version, 0 when absent.
func cmdVersion(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	if e := st.lookup(slot, args[1], c.now()); e != nil {
		c.w.int(int64(e.version))
		return
	}
	c.w.int(0)
}
