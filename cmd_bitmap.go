// Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO.

package chkv

import (
	"math"
	"math/bits"
)

// Error texts of the bitmap commands, as redis-server 7.0 writes them.
const (
	msgBitOffset     = "ERR bit offset is not an integer or out of range"
	msgBitValue      = "ERR bit is not an integer or out of range"
	msgBitArg        = "ERR The bit argument must be 1 or 0."
	msgBitopNot      = "ERR BITOP NOT must be called with a single source key."
	msgBitfieldType  = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
	msgBitfieldOver  = "ERR Invalid OVERFLOW type specified"
	msgBitfieldROGet = "ERR BITFIELD_RO only supports the GET subcommand"
)

// bitmapCommands returns the table entries of the bitmap commands.
func bitmapCommands() []*command {
	const (
		w = flagWrite | flagTrackName | flagDenyOOM
		r = flagReadonly | flagTrackName
	)
	return []*command{
		{"setbit", 4, w, 1, 1, 1, cmdSetBit},
		{"getbit", 3, r | flagFast, 1, 1, 1, cmdGetBit},
		{"bitcount", -2, r, 1, 1, 1, cmdBitCount},
		{"bitpos", -3, r, 1, 1, 1, cmdBitPos},
		{"bitop", -4, w, 2, -1, 1, cmdBitOp},
		{"bitfield", -2, w, 1, 1, 1, cmdBitField},
		{"bitfield_ro", -2, r | flagFast, 1, 1, 1, cmdBitField},
		{"lcs", -3, r, 1, 2, 1, cmdLCS},
	}
}

// bitOffset parses a bit offset as Redis's getBitOffsetFromArgument does:
// with hash and bits > 0, "#n" means n*bits; the offset's byte must lie
// below maxBulk (proto-max-bulk-len), so one command never grows a string
// past the largest value a client could have sent.
func bitOffset(arg []byte, hash bool, bits, maxBulk int) (uint64, bool) {
	usehash := hash && bits > 0 && len(arg) > 0 && arg[0] == '#'
	if usehash {
		arg = arg[1:]
	}
	off, ok := parseInt(arg)
	if !ok {
		return 0, false
	}
	if usehash {
		off *= int64(bits) // wraps as in Redis, and is caught below
	}
	if off < 0 || off>>3 >= int64(maxBulk) {
		return 0, false
	}
	return uint64(off), true
}

// bitWrite is a write in progress to a string by a bit command: begin
// makes room for the bits, done records the write once the bits are set.
type bitWrite struct {
	e      *entry
	isNew  bool
	grown  bool
	before int64
	hadTTL bool
}

// beginBits makes e (a live string entry, or nil for a new key) at least
// bytes long, padding it with zeros. A new entry is not in the store until
// done, so the write observer sees the finished value.
func beginBits(key []byte, e *entry, bytes int) bitWrite {
	if e == nil {
		return bitWrite{e: &entry{kind: kindString, str: make([]byte, bytes)}, isNew: true}
	}
	w := bitWrite{e: e, before: e.size(string(key)), hadTTL: e.expireAt != 0}
	if len(e.str) < bytes {
		// The key's allocation ends at the value's: this moves the value out.
		e.str = append(e.str, make([]byte, bytes-len(e.str))...)
		w.grown = true
	}
	return w
}

// done inserts a new key, or records a change of an existing one (a new
// version) when the string grew or a bit changed. The caller holds the slot lock.
func (w *bitWrite) done(s *Store, slot int, key []byte, changed bool) {
	switch {
	case w.isNew:
		s.insert(slot, string(key), w.e)
	case w.grown || changed:
		s.update(slot, string(key), w.e, w.before, w.hadTTL)
	}
}

func cmdSetBit(c *conn, args [][]byte) {
	off, ok := bitOffset(args[2], false, 0, c.d.maxBulk())
	if !ok {
		c.w.errorText(msgBitOffset)
		return
	}
	on, ok := parseInt(args[3])
	if !ok || on&^1 != 0 {
		c.w.errorText(msgBitValue)
		return
	}
	slot, e, unlock, ok := c.lockKind(args[1], kindString)
	if !ok {
		return
	}
	defer unlock()
	w := beginBits(args[1], e, int(off>>3)+1)
	mask := byte(1) << (7 - off&7)
	old := int64(w.e.str[off>>3]&mask) >> (7 - off&7)
	if old != on {
		w.e.str[off>>3] ^= mask
	}
	w.done(c.d.store, slot, args[1], old != on)
	c.w.int(old)
}

func cmdGetBit(c *conn, args [][]byte) {
	off, ok := bitOffset(args[2], false, 0, c.d.maxBulk())
	if !ok {
		c.w.errorText(msgBitOffset)
		return
	}
	e, unlock, ok := c.readKind(args[1], kindString)
	if !ok {
		return
	}
	defer unlock()
	if e == nil || off>>3 >= uint64(len(e.str)) || e.str[off>>3]&(1<<(7-off&7)) == 0 {
		c.w.int(0)
		return
	}
	c.w.int(1)
}

// bitRange turns the start and end arguments of BITCOUNT and BITPOS into a
// byte range of a string of n bytes, with masks of the bits of the first
// and last byte that lie outside a BIT range, as Redis does. empty reports
// start > end.
func bitRange(start, end, n int64, isBit bool) (s, e int64, firstMask, lastMask byte, empty bool) {
	total := n
	if isBit {
		total <<= 3
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	if isBit && start <= end {
		firstMask = ^byte((1 << (8 - start&7)) - 1)
		lastMask = byte((1 << (7 - end&7)) - 1)
		start >>= 3
		end >>= 3
	}
	return start, end, firstMask, lastMask, start > end
}

// parseBitUnit parses BITCOUNT's and BITPOS's BIT|BYTE option.
func parseBitUnit(b []byte) (isBit, ok bool) {
	switch {
	case eqFold(b, "bit"):
		return true, true
	case eqFold(b, "byte"):
		return false, true
	}
	return false, false
}

func cmdBitCount(c *conn, args [][]byte) {
	e, unlock, ok := c.readKind(args[1], kindString)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.int(0)
		return
	}
	p := e.str
	var start, end int64
	var firstMask, lastMask byte
	switch len(args) {
	case 2:
		start, end = 0, int64(len(p))-1
	case 4, 5:
		s, ok1 := parseInt(args[2])
		if !ok1 {
			c.w.errorText(msgNotInteger)
			return
		}
		en, ok2 := parseInt(args[3])
		if !ok2 {
			c.w.errorText(msgNotInteger)
			return
		}
		if s < 0 && en < 0 && s > en {
			c.w.int(0)
			return
		}
		isBit := false
		if len(args) == 5 {
			if isBit, ok = parseBitUnit(args[4]); !ok {
				c.w.errorText(msgSyntax)
				return
			}
		}
		var empty bool
		if start, end, firstMask, lastMask, empty = bitRange(s, en, int64(len(p)), isBit); empty {
			c.w.int(0)
			return
		}
	default:
		c.w.errorText(msgSyntax)
		return
	}
	if start > end {
		c.w.int(0)
		return
	}
	n := popcount(p[start : end+1])
	n -= int64(bits.OnesCount8(p[start]&firstMask) + bits.OnesCount8(p[end]&lastMask))
	c.w.int(n)
}

// popcount counts the set bits of p.
func popcount(p []byte) int64 {
	var n int
	for len(p) >= 8 {
		n += bits.OnesCount64(uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56)
		p = p[8:]
	}
	for _, b := range p {
		n += bits.OnesCount8(b)
	}
	return int64(n)
}

// bitpos returns the position of the first bit equal to bit in p, as
// Redis's redisBitpos: for a clear bit the string counts as padded with
// zeros on the right (len*8 when every bit is set), for a set bit -1 when
// there is none.
func bitpos(p []byte, bit int) int64 {
	for i, b := range p {
		if bit == 1 && b != 0 {
			return int64(i)*8 + int64(bits.LeadingZeros8(b))
		}
		if bit == 0 && b != 0xff {
			return int64(i)*8 + int64(bits.LeadingZeros8(^b))
		}
	}
	if bit == 1 {
		return -1
	}
	return int64(len(p)) * 8
}

func cmdBitPos(c *conn, args [][]byte) {
	bit, ok := parseInt(args[2])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	if bit != 0 && bit != 1 {
		c.w.errorText(msgBitArg)
		return
	}
	e, unlock, ok := c.readKind(args[1], kindString)
	if !ok {
		return
	}
	defer unlock()
	if e == nil {
		c.w.int(map[int64]int64{0: 0, 1: -1}[bit])
		return
	}
	p := e.str
	var start, end int64
	var firstMask, lastMask byte
	endGiven := false
	switch len(args) {
	case 3:
		start, end = 0, int64(len(p))-1
	case 4, 5, 6:
		s, ok := parseInt(args[3])
		if !ok {
			c.w.errorText(msgNotInteger)
			return
		}
		isBit := false
		if len(args) == 6 {
			if isBit, ok = parseBitUnit(args[5]); !ok {
				c.w.errorText(msgSyntax)
				return
			}
		}
		en := int64(len(p)) - 1
		if isBit {
			en = int64(len(p))<<3 + 7
		}
		if len(args) >= 5 {
			if en, ok = parseInt(args[4]); !ok {
				c.w.errorText(msgNotInteger)
				return
			}
			endGiven = true
		}
		start, end, firstMask, lastMask, _ = bitRange(s, en, int64(len(p)), isBit)
	default:
		c.w.errorText(msgSyntax)
		return
	}
	if start > end {
		c.w.int(-1)
		return
	}
	c.w.int(bitposRange(p, int(bit), start, end, firstMask, lastMask, endGiven))
}

// bitposRange is the body of BITPOS over the bytes start..end of p, whose
// first and last bytes have the bits of firstMask and lastMask outside the
// range, step by step as Redis's bitposCommand computes it.
func bitposRange(p []byte, bit int, start, end int64, firstMask, lastMask byte, endGiven bool) int64 {
	bytes := end - start + 1
	var pos int64
	masked := func(b, mask byte) byte {
		if bit == 1 {
			return b &^ mask
		}
		return b | mask
	}
	done := false
	if firstMask != 0 {
		t := masked(p[start], firstMask)
		if lastMask != 0 && bytes == 1 {
			t = masked(t, lastMask)
		}
		pos = bitpos([]byte{t}, bit)
		if bytes == 1 || pos != -1 && pos != 8 {
			done = true
		} else {
			start++
			bytes--
		}
	}
	if !done {
		cur := bytes
		if lastMask != 0 {
			cur--
		}
		if cur > 0 {
			pos = bitpos(p[start:start+cur], bit)
			if bytes == cur || pos != -1 && pos != cur<<3 {
				done = true
			} else {
				start += cur
				bytes -= cur
			}
		}
	}
	if !done {
		pos = bitpos([]byte{masked(p[end], lastMask)}, bit)
	}
	if endGiven && bit == 0 && pos == bytes<<3 {
		return -1
	}
	if pos != -1 {
		pos += start << 3
	}
	return pos
}

func cmdBitOp(c *conn, args [][]byte) {
	const (
		opAnd = iota
		opOr
		opXor
		opNot
	)
	var op int
	switch {
	case eqFold(args[1], "and"):
		op = opAnd
	case eqFold(args[1], "or"):
		op = opOr
	case eqFold(args[1], "xor"):
		op = opXor
	case eqFold(args[1], "not"):
		op = opNot
	default:
		c.w.errorText(msgSyntax)
		return
	}
	if op == opNot && len(args) != 4 {
		c.w.errorText(msgBitopNot)
		return
	}
	st := c.d.store
	unlock := st.lockKeys(args[2:])
	defer unlock()
	now := c.now()
	srcs := make([][]byte, 0, len(args)-3)
	maxLen := 0
	for _, k := range args[3:] {
		e, ok := c.getString(SlotBytes(k), k, now)
		if !ok {
			return
		}
		var v []byte
		if e != nil {
			v = e.str
		}
		srcs = append(srcs, v)
		maxLen = max(maxLen, len(v))
	}
	dst := args[2]
	ds := SlotBytes(dst)
	old := st.lookup(ds, dst, now)
	if maxLen == 0 {
		if old != nil {
			st.remove(ds, string(dst), old)
		}
		c.w.int(0)
		return
	}
	res := make([]byte, maxLen)
	at := func(v []byte, i int) byte {
		if i < len(v) {
			return v[i]
		}
		return 0
	}
	for i := range res {
		out := at(srcs[0], i)
		if op == opNot {
			out = ^out
		}
		for _, v := range srcs[1:] {
			switch b := at(v, i); op {
			case opAnd:
				out &= b
			case opOr:
				out |= b
			case opXor:
				out ^= b
			}
		}
		res[i] = out
	}
	st.setString(ds, dst, old, res, 0, false)
	c.w.int(int64(maxLen))
}

// Overflow behaviours of BITFIELD.
const (
	bfWrap = iota
	bfSat
	bfFail
)

// bitfieldOp is one GET, SET or INCRBY of a BITFIELD call.
type bitfieldOp struct {
	offset uint64
	value  int64 // SET's value or INCRBY's increment
	op     byte  // 'g', 's' or 'i'
	over   int
	bits   int
	signed bool
}

// bitfieldType parses a type like i16 or u8: i1..i64, u1..u63.
func bitfieldType(b []byte) (signed bool, n int, ok bool) {
	if len(b) == 0 || b[0] != 'i' && b[0] != 'u' {
		return false, 0, false
	}
	signed = b[0] == 'i'
	v, ok := parseInt(b[1:])
	if !ok || v < 1 || signed && v > 64 || !signed && v > 63 {
		return false, 0, false
	}
	return signed, int(v), true
}

// cmdBitField serves BITFIELD and BITFIELD_RO.
func cmdBitField(c *conn, args [][]byte) {
	var ops []bitfieldOp
	over := bfWrap
	readonly := true
	var highest uint64
	for j := 2; j < len(args); j++ {
		more := len(args) - j - 1
		var op byte
		switch {
		case eqFold(args[j], "get") && more >= 2:
			op = 'g'
		case eqFold(args[j], "set") && more >= 3:
			op = 's'
		case eqFold(args[j], "incrby") && more >= 3:
			op = 'i'
		case eqFold(args[j], "overflow") && more >= 1:
			j++
			switch {
			case eqFold(args[j], "wrap"):
				over = bfWrap
			case eqFold(args[j], "sat"):
				over = bfSat
			case eqFold(args[j], "fail"):
				over = bfFail
			default:
				c.w.errorText(msgBitfieldOver)
				return
			}
			continue
		default:
			c.w.errorText(msgSyntax)
			return
		}
		signed, n, ok := bitfieldType(args[j+1])
		if !ok {
			c.w.errorText(msgBitfieldType)
			return
		}
		off, ok := bitOffset(args[j+2], true, n, c.d.maxBulk())
		if !ok {
			c.w.errorText(msgBitOffset)
			return
		}
		var v int64
		if op != 'g' {
			readonly = false
			highest = max(highest, off+uint64(n)-1)
			if v, ok = parseInt(args[j+3]); !ok {
				c.w.errorText(msgNotInteger)
				return
			}
			j++
		}
		ops = append(ops, bitfieldOp{offset: off, value: v, op: op, over: over, bits: n, signed: signed})
		j += 2
	}
	if !readonly && eqFold(args[0], "bitfield_ro") {
		c.w.errorText(msgBitfieldROGet)
		return
	}
	slot, e, unlock, ok := c.lockKind(args[1], kindString)
	if !ok {
		return
	}
	defer unlock()
	var w bitWrite
	if !readonly {
		w = beginBits(args[1], e, int(highest>>3)+1)
		e = w.e
	}
	changed := false
	c.w.array(len(ops))
	for _, o := range ops {
		if o.op == 'g' {
			var buf [9]byte
			if e != nil {
				if b := o.offset >> 3; b < uint64(len(e.str)) {
					copy(buf[:], e.str[b:])
				}
			}
			off := o.offset & 7
			if o.signed {
				c.w.int(getSignedBits(buf[:], off, o.bits))
			} else {
				c.w.int(int64(getUnsignedBits(buf[:], off, o.bits)))
			}
			continue
		}
		var oldBits, newBits uint64
		var reply int64
		var overflow bool
		if o.signed {
			oldv := getSignedBits(e.str, o.offset, o.bits)
			var newv, wrapped int64
			if o.op == 'i' {
				overflow, wrapped = signedOverflow(oldv, o.value, o.bits, o.over)
				newv = oldv + o.value
				if overflow {
					newv = wrapped
				}
				reply = newv
			} else {
				newv = o.value
				if overflow, wrapped = signedOverflow(newv, 0, o.bits, o.over); overflow {
					newv = wrapped
				}
				reply = oldv
			}
			oldBits, newBits = uint64(oldv), uint64(newv)
		} else {
			oldv := getUnsignedBits(e.str, o.offset, o.bits)
			var newv, wrapped uint64
			if o.op == 'i' {
				newv = oldv + uint64(o.value)
				if overflow, wrapped = unsignedOverflow(oldv, o.value, o.bits, o.over); overflow {
					newv = wrapped
				}
				reply = int64(newv)
			} else {
				newv = uint64(o.value)
				if overflow, wrapped = unsignedOverflow(newv, 0, o.bits, o.over); overflow {
					newv = wrapped
				}
				reply = int64(oldv)
			}
			oldBits, newBits = oldv, newv
		}
		if overflow && o.over == bfFail {
			c.w.null()
			continue
		}
		c.w.int(reply)
		setUnsignedBits(e.str, o.offset, o.bits, newBits)
		if oldBits != newBits {
			changed = true
		}
	}
	if !readonly {
		w.done(c.d.store, slot, args[1], changed)
	}
}

// getUnsignedBits reads the n-bit unsigned integer at bit offset off of p
// (bit 0 is the high bit of p[0]).
func getUnsignedBits(p []byte, off uint64, n int) uint64 {
	var v uint64
	for range n {
		v = v<<1 | uint64(p[off>>3]>>(7-off&7)&1)
		off++
	}
	return v
}

// getSignedBits reads the n-bit two's complement integer at bit offset off of p.
func getSignedBits(p []byte, off uint64, n int) int64 {
	v := getUnsignedBits(p, off, n)
	if n < 64 && v&(1<<(n-1)) != 0 {
		v |= math.MaxUint64 << n
	}
	return int64(v)
}

// setUnsignedBits writes the low n bits of v at bit offset off of p.
func setUnsignedBits(p []byte, off uint64, n int, v uint64) {
	for j := range n {
		bit := byte(v>>(n-1-j)) & 1
		shift := 7 - off&7
		p[off>>3] = p[off>>3]&^(1<<shift) | bit<<shift
		off++
	}
}

// unsignedOverflow reports whether value+incr overflows an n-bit unsigned
// integer, and the result the overflow behaviour gives then, as Redis's
// checkUnsignedBitfieldOverflow.
func unsignedOverflow(value uint64, incr int64, n, over int) (bool, uint64) {
	limit := uint64(1)<<n - 1
	maxIncr := int64(limit - value)
	minIncr := -int64(value)
	wrap := func() uint64 { return (value + uint64(incr)) & limit }
	switch {
	case value > limit || incr > 0 && incr > maxIncr:
		if over == bfSat {
			return true, limit
		}
		return true, wrap()
	case incr < 0 && incr < minIncr:
		if over == bfSat {
			return true, 0
		}
		return true, wrap()
	}
	return false, 0
}

// signedOverflow reports whether value+incr overflows an n-bit signed
// integer, and the result the overflow behaviour gives then, as Redis's
// checkSignedBitfieldOverflow.
func signedOverflow(value, incr int64, n, over int) (bool, int64) {
	hi := int64(math.MaxInt64)
	if n < 64 {
		hi = 1<<(n-1) - 1
	}
	lo := -hi - 1
	maxIncr := int64(uint64(hi) - uint64(value))
	minIncr := lo - value
	wrap := func() int64 {
		r := uint64(value) + uint64(incr)
		if n < 64 {
			mask := uint64(math.MaxUint64) << n
			if r&(1<<(n-1)) != 0 {
				r |= mask
			} else {
				r &^= mask
			}
		}
		return int64(r)
	}
	switch {
	case value > hi || n != 64 && incr > maxIncr || value >= 0 && incr > 0 && incr > maxIncr:
		if over == bfSat {
			return true, hi
		}
		return true, wrap()
	case value < lo || n != 64 && incr < minIncr || value < 0 && incr < 0 && incr < minIncr:
		if over == bfSat {
			return true, lo
		}
		return true, wrap()
	}
	return false, 0
}
