// LCS: the longest common subsequence of two strings, with LEN, IDX, MINMATCHLEN and WITHMATCHLEN.

package chkv

// Error texts of LCS, as redis-server 7.0 writes them.
const (
	msgLCSWrongType = "ERR The specified keys must contain string values"
	msgLCSBoth      = "ERR If you want both the length and indexes, please just use IDX."
	msgLCSTooLong   = "ERR String too long for LCS"
	msgLCSTooBig    = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
	msgLCSNoMemory  = "ERR Insufficient memory, failed allocating transient memory for LCS"
)

// lcsRange is one match of LCS IDX: a range of each string.
type lcsRange struct{ aStart, aEnd, bStart, bEnd uint32 }

// cmdLCS serves LCS as Redis 7.0 does: a dynamic-programming table of
// (len(a)+1)*(len(b)+1) uint32 cells, O(n*m) in CPU and memory. Memory is
// bounded twice: one table may not exceed proto-max-bulk-len (Redis's own
// check and error), and the tables of all LCS calls running at once on the
// node together may not exceed it either (a call that would pass the sum
// gets Redis's allocation-failure error), so hostile pairs of big strings
// sent from many connections cannot take more than one bulk's worth of
// memory. LEN alone needs two rows of the table, not the table.
func cmdLCS(c *conn, args [][]byte) {
	st := c.d.store
	unlock := st.lockKeys(args[1:3])
	defer unlock()
	now := c.now()
	var ab [2][]byte
	for i, k := range args[1:3] {
		e := st.lookup(SlotBytes(k), k, now)
		if e != nil && e.kind != kindString {
			c.w.errorText(msgLCSWrongType)
			return
		}
		if e != nil {
			ab[i] = e.str
		}
	}
	a, b := ab[0], ab[1]
	var getLen, getIdx, withLen bool
	var minLen int64
	for j := 3; j < len(args); j++ {
		switch o := args[j]; {
		case eqFold(o, "idx"):
			getIdx = true
		case eqFold(o, "len"):
			getLen = true
		case eqFold(o, "withmatchlen"):
			withLen = true
		case eqFold(o, "minmatchlen") && j+1 < len(args):
			n, ok := parseInt(args[j+1])
			if !ok {
				c.w.errorText(msgNotInteger)
				return
			}
			minLen = max(n, 0)
			j++
		default:
			c.w.errorText(msgSyntax)
			return
		}
	}
	if getLen && getIdx {
		c.w.errorText(msgLCSBoth)
		return
	}
	if uint64(len(a)) >= 1<<32-2 || uint64(len(b)) >= 1<<32-2 {
		c.w.errorText(msgLCSTooLong)
		return
	}
	cells := uint64(len(a)+1) * uint64(len(b)+1)
	if cells*4 > uint64(c.d.maxBulk()) {
		c.w.errorText(msgLCSTooBig)
		return
	}
	if getLen {
		c.w.int(int64(lcsLength(a, b)))
		return
	}
	budget := int64(cells * 4)
	if c.d.lcsBytes.Add(budget) > int64(c.d.maxBulk()) {
		c.d.lcsBytes.Add(-budget)
		c.w.errorText(msgLCSNoMemory)
		return
	}
	defer c.d.lcsBytes.Add(-budget)
	table := lcsTable(a, b)
	result, ranges := lcsWalk(a, b, table, minLen, getIdx)
	total := int64(table[len(table)-1])
	if !getIdx {
		c.w.bulk(result)
		return
	}
	c.w.array(4)
	c.w.bulkString("matches")
	c.w.array(len(ranges))
	for _, r := range ranges {
		if withLen {
			c.w.array(3)
		} else {
			c.w.array(2)
		}
		c.w.array(2)
		c.w.int(int64(r.aStart))
		c.w.int(int64(r.aEnd))
		c.w.array(2)
		c.w.int(int64(r.bStart))
		c.w.int(int64(r.bEnd))
		if withLen {
			c.w.int(int64(r.aEnd - r.aStart + 1))
		}
	}
	c.w.bulkString("len")
	c.w.int(total)
}

// lcsLength returns the length of the LCS of a and b with two rows of the table.
func lcsLength(a, b []byte) uint32 {
	prev, cur := make([]uint32, len(b)+1), make([]uint32, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lcsTable fills the table whose cell [i*(len(b)+1)+j] is the LCS length of
// a[:i] and b[:j].
func lcsTable(a, b []byte) []uint32 {
	w := len(b) + 1
	t := make([]uint32, (len(a)+1)*w)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				t[i*w+j] = t[(i-1)*w+j-1] + 1
			} else {
				t[i*w+j] = max(t[(i-1)*w+j], t[i*w+j-1])
			}
		}
	}
	return t
}

// lcsWalk walks the table back from its last cell as Redis's lcsCommand
// does, collecting the LCS and (idx) the ranges of at least minLen bytes,
// in Redis's order (from the ends of the strings backwards).
func lcsWalk(a, b []byte, t []uint32, minLen int64, idx bool) ([]byte, []lcsRange) {
	w := uint32(len(b) + 1)
	alen, blen := uint32(len(a)), uint32(len(b))
	n := t[len(t)-1]
	result := make([]byte, n)
	var ranges []lcsRange
	r := lcsRange{aStart: alen} // aStart == alen: no range open
	i, j := alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[n-1] = a[i-1]
			switch {
			case r.aStart == alen:
				r = lcsRange{aStart: i - 1, aEnd: i - 1, bStart: j - 1, bEnd: j - 1}
			case r.aStart == i && r.bStart == j:
				r.aStart--
				r.bStart--
			default:
				emit = true
			}
			if r.aStart == 0 || r.bStart == 0 {
				emit = true
			}
			n--
			i--
			j--
		} else {
			if t[(i-1)*w+j] > t[i*w+j-1] {
				i--
			} else {
				j--
			}
			if r.aStart != alen {
				emit = true
			}
		}
		if emit {
			if idx && (minLen == 0 || int64(r.aEnd-r.aStart+1) >= minLen) {
				ranges = append(ranges, r)
			}
			r.aStart = alen
		}
	}
	return result, ranges
}
