// list is the value of a list key (Tair's items): a ring-buffer deque of byte strings, a FIFO queue at heart.

package chkv

// list is a double-ended queue of elements.
type list struct {
	buf   [][]byte
	head  int
	n     int
	bytes int64 // sum of element lengths
}

func (l *list) len() int { return l.n }

// at returns the i-th element (0 <= i < n).
func (l *list) at(i int) []byte { return l.buf[(l.head+i)%len(l.buf)] }

func (l *list) set(i int, v []byte) {
	j := (l.head + i) % len(l.buf)
	l.bytes += int64(len(v) - len(l.buf[j]))
	l.buf[j] = v
}

func (l *list) grow() {
	if l.n < len(l.buf) {
		return
	}
	nb := make([][]byte, max(4, 2*len(l.buf)))
	for i := range l.n {
		nb[i] = l.at(i)
	}
	l.buf, l.head = nb, 0
}

func (l *list) pushBack(v []byte) {
	l.grow()
	l.buf[(l.head+l.n)%len(l.buf)] = v
	l.n++
	l.bytes += int64(len(v))
}

func (l *list) pushFront(v []byte) {
	l.grow()
	l.head = (l.head - 1 + len(l.buf)) % len(l.buf)
	l.buf[l.head] = v
	l.n++
	l.bytes += int64(len(v))
}

func (l *list) popFront() []byte {
	v := l.buf[l.head]
	l.buf[l.head] = nil
	l.head = (l.head + 1) % len(l.buf)
	l.n--
	l.bytes -= int64(len(v))
	l.shrink()
	return v
}

func (l *list) popBack() []byte {
	j := (l.head + l.n - 1) % len(l.buf)
	v := l.buf[j]
	l.buf[j] = nil
	l.n--
	l.bytes -= int64(len(v))
	l.shrink()
	return v
}

// shrink gives memory back when a list has drained to a quarter of its buffer.
func (l *list) shrink() {
	if len(l.buf) > 64 && l.n < len(l.buf)/4 {
		nb := make([][]byte, len(l.buf)/2)
		for i := range l.n {
			nb[i] = l.at(i)
		}
		l.buf, l.head = nb, 0
	}
}

// pop removes an element from the front (left) or back.
func (l *list) pop(left bool) []byte {
	if left {
		return l.popFront()
	}
	return l.popBack()
}

// push adds an element at the front (left) or back.
func (l *list) push(left bool, v []byte) {
	if left {
		l.pushFront(v)
	} else {
		l.pushBack(v)
	}
}

// elems returns the elements in order as a new slice.
func (l *list) elems() [][]byte {
	out := make([][]byte, l.n)
	for i := range l.n {
		out[i] = l.at(i)
	}
	return out
}

// replace makes the list hold exactly elems.
func (l *list) replace(elems [][]byte) {
	l.buf, l.head, l.n, l.bytes = elems, 0, len(elems), 0
	for _, e := range elems {
		l.bytes += int64(len(e))
	}
	if len(l.buf) == 0 {
		l.buf = nil
	}
}
