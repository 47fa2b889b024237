// RESP reader: the iterative, bounded parser of client requests that every chkv server runs on untrusted input.

package chkv

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Protocol error texts, exactly as Redis 7.0 writes them after "-ERR ".
const (
	msgInvalidMultibulk = "Protocol error: invalid multibulk length"
	msgInvalidBulk      = "Protocol error: invalid bulk length"
	msgTooBigInline     = "Protocol error: too big inline request"
	msgUnbalancedQuotes = "Protocol error: unbalanced quotes in request"
	msgTooBigMbulkCount = "Protocol error: too big mbulk count string"
	msgTooBigBulkCount  = "Protocol error: too big bulk count string"
	msgExpectedDollar   = "Protocol error: expected '$', got '"
	// msgTooBigRequest is chkv's own: Redis closes such a client without a reply.
	msgTooBigRequest = "Protocol error: too big request"
)

const (
	// readBufSize is the size of a reader's read buffer; a bulk argument whose
	// bytes and trailing CRLF fit in it is referenced in place.
	readBufSize = 16 << 10
	// maxIdleArgs is the most argument slots a reader keeps between requests.
	maxIdleArgs = 1024
	// bulkSlack is how far a large bulk's buffer may run ahead of the bytes
	// received for it: its capacity stays within min(declared length,
	// 2*received+bulkSlack).
	bulkSlack = 64 << 10
	// minRead is the least free space worth a read; with less, a reader moves
	// the unparsed bytes to the front of its buffer first.
	minRead = 512
	// maxEmptyReads is how many (0, nil) reads in a row a reader tolerates.
	maxEmptyReads = 100
)

// Large bulks of up to 1 MiB are read into buffers of a few sizes
// (pooledBulkMin, doubling, pooledBulkClasses of them) that go back to a pool once the request
// has run: a stream of big requests (a migration's DATA, big values)
// reuses a handful of buffers instead of allocating each. A pooled buffer
// is memory received before; one that has to be made grows with the bytes
// received, as any other.
const (
	pooledBulkMin     = 64 << 10
	pooledBulkClasses = 5 // 64 KiB ... 1 MiB
)

var bulkPools [pooledBulkClasses]sync.Pool // of *[]byte with cap in [pooledBulkMin<<class, 2*that)

// bulkClass returns the pool class of a bulk of n bytes: the smallest
// whose buffers hold n, or -1 when n is too small to be worth a pooled
// buffer (at most half the smallest) or too large to pool.
func bulkClass(n int) int {
	if n <= pooledBulkMin/2 {
		return -1
	}
	for c := range pooledBulkClasses {
		if n <= pooledBulkMin<<c {
			return c
		}
	}
	return -1
}

// poolBulk keeps b for a later bulk: in the largest class whose size its
// capacity reaches, if any.
func poolBulk(b []byte) {
	for c := pooledBulkClasses - 1; c >= 0; c-- {
		if size := pooledBulkMin << c; cap(b) >= size {
			if cap(b) < 2*size {
				bulkPools[c].Put(&b)
			}
			return
		}
	}
}

// pooledBulk returns a pooled buffer that holds n bytes, or nil: one of
// n's class (at least its size), else one of the class below that happens
// to be large enough (buffers grow to sizes between classes).
func pooledBulk(n int) []byte {
	c := bulkClass(n)
	if c < 0 {
		return nil
	}
	if b, _ := bulkPools[c].Get().(*[]byte); b != nil {
		return *b
	}
	if c == 0 {
		return nil
	}
	if b, _ := bulkPools[c-1].Get().(*[]byte); b != nil {
		if cap(*b) >= n {
			return *b
		}
		bulkPools[c-1].Put(b)
	}
	return nil
}

// bulkBufSize is the size of the buffer a bulk of n bytes is read into: n,
// or its pool class's buffer size (less than 2n).
func bulkBufSize(n int) int {
	if c := bulkClass(n); c >= 0 {
		return pooledBulkMin << c
	}
	return n
}

// RequestLimits bounds what one client may make a server hold.
type RequestLimits struct {
	MaxBulk   int // largest bulk string argument, default 64 MiB
	MaxArgs   int // most arguments per command, default 1,048,576
	MaxInline int // longest inline (telnet) command line, and longest count line, default 64 KiB
	MaxQuery  int // most argument bytes one request may carry in total, default 1 GiB
}

// DefaultRequestLimits returns chkv's default limits: Redis 7.0's inline
// limit and query buffer limit (client-query-buffer-limit), with tighter
// bulk and argument count limits than Redis's 512 MiB and 2^31-1.
func DefaultRequestLimits() RequestLimits {
	return RequestLimits{
		MaxBulk:   64 << 20,
		MaxArgs:   1 << 20,
		MaxInline: 64 << 10,
		MaxQuery:  1 << 30,
	}
}

// withDefaults returns l with every zero (or negative) field set to its default.
func (l RequestLimits) withDefaults() RequestLimits {
	d := DefaultRequestLimits()
	if l.MaxBulk <= 0 {
		l.MaxBulk = d.MaxBulk
	}
	if l.MaxArgs <= 0 {
		l.MaxArgs = d.MaxArgs
	}
	if l.MaxInline <= 0 {
		l.MaxInline = d.MaxInline
	}
	if l.MaxQuery <= 0 {
		l.MaxQuery = d.MaxQuery
	}
	return l
}

// ProtocolError is a violation of the request protocol. Error returns the
// text Redis puts after "-ERR ", e.g. "Protocol error: invalid bulk length";
// the server writes "-ERR "+Error() and closes the connection.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, ErrProtocol) true for every protocol error.
func (e *ProtocolError) Unwrap() error { return ErrProtocol }

// span locates one argument of the request being parsed: bytes [off, end)
// counted from the request's first byte in the read buffer, or, when off is
// negative, the next large bulk in requestReader.bigs.
type span struct{ off, end int }

// requestReader reads client requests (RESP multibulk arrays of bulk strings,
// or inline command lines) from one connection. It reads straight into its
// own buffer, keeps a request's arguments in that buffer where they fit, and
// never holds much more memory than the bytes a client has actually sent.
// It is not safe for concurrent use.
// maxBulk returns the largest bulk string a request may carry.
func (r *requestReader) maxBulk() int {
	if r.bulkLimit != nil {
		return int(r.bulkLimit.Load())
	}
	return r.lim.MaxBulk
}

type requestReader struct {
	rd  io.Reader
	lim RequestLimits
	// bulkLimit, when set, is the live MaxBulk (a DataNode's
	// proto-max-bulk-len, which CONFIG SET changes); lim.MaxBulk otherwise.
	bulkLimit *atomic.Int64
	size      int // initial read buffer size: bulks of up to size-2 bytes are kept in place
	slack     int // how far a large bulk's buffer may run ahead of its bytes

	buf  []byte // read buffer; buf[r:w] is read but not yet consumed
	r, w int
	rerr error // the error of the last read, reported once the bytes before it are parsed
	fail error // sticky: the error next returned, ending the stream

	// State of the request being parsed; it begins at buf[r].
	pos   int      // parse position in buf
	seen  int      // bytes from pos already searched for the end of the line
	multi bool     // the multibulk header is parsed
	left  int      // bulk arguments still to come
	bulk  int      // length of the bulk being read, -1 while its header is awaited
	total int      // argument bytes of the request so far (MaxQuery)
	cur   []byte   // the large bulk being read, nil if none
	spans []span   // arguments so far
	bigs  [][]byte // large bulks of the request, in order
	args  [][]byte // the last request's arguments, returned by next
	held  bool     // next returned args: release them on the next call
}

// errWouldBlock is what a non-blocking source (the event loop's loopConn)
// returns when no bytes are ready; next then returns it too, keeping the
// request parsed so far, and resumes when called again.
var errWouldBlock = errors.New("chkv: no bytes ready")

// newRequestReader returns a reader of requests from rd within lim (zero
// fields take their defaults).
func newRequestReader(rd io.Reader, lim RequestLimits) *requestReader {
	return newRequestReaderSize(rd, lim, readBufSize, bulkSlack)
}

// newRequestReaderSize is newRequestReader with a read buffer of size bytes
// and large bulk buffers that run at most slack bytes ahead; tests make
// both small to reach every path with small inputs.
func newRequestReaderSize(rd io.Reader, lim RequestLimits, size, slack int) *requestReader {
	return &requestReader{
		rd:    rd,
		lim:   lim.withDefaults(),
		size:  size,
		slack: slack,
		buf:   make([]byte, size),
		bulk:  -1,
	}
}

// buffered reports how many bytes of further requests are already buffered;
// the server flushes its replies when this is 0 (one flush per pipelined batch).
func (r *requestReader) buffered() int { return r.w - r.r }

// next reads the next request and returns its arguments, never empty: empty
// inline lines and "*0\r\n" or "*-1\r\n" are skipped as Redis does. The
// returned slices are valid only until the next call to next. On a protocol
// violation next returns a *ProtocolError; on a read error that error, with
// io.EOF only at a request boundary (io.ErrUnexpectedEOF inside a request).
// After any error, every later call returns the same error.
func (r *requestReader) next() ([][]byte, error) {
	if r.fail != nil {
		return nil, r.fail
	}
	if r.held {
		r.release()
		r.held = false
	}
	empty := 0
	for {
		done, err := r.parse()
		if err != nil {
			r.fail = err
			return nil, err
		}
		if done {
			if len(r.args) > 0 {
				r.held = true
				return r.args, nil
			}
			continue // an empty request: skip it
		}
		n, err := r.fill()
		if err != nil {
			if err == errWouldBlock {
				return nil, err // not sticky: the parse resumes on the next call
			}
			if err == io.EOF && (r.r != r.w || r.multi) {
				err = io.ErrUnexpectedEOF
			}
			r.fail = err
			return nil, err
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			r.fail = io.ErrNoProgress
			return nil, r.fail
		}
	}
}

// release drops what the previous request held: its large bulks, an
// argument list grown long, and a read buffer grown beyond four times its
// initial size unless at least half of it holds bytes still to parse.
func (r *requestReader) release() {
	for i, b := range r.bigs {
		poolBulk(b)
		r.bigs[i] = nil
	}
	r.bigs = r.bigs[:0]
	if cap(r.spans) > maxIdleArgs {
		r.spans, r.args = nil, nil
	}
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
	if pending := r.w - r.r; len(r.buf) > 4*r.size && 2*pending < len(r.buf) {
		nb := make([]byte, max(r.size, pending))
		r.w = copy(nb, r.buf[r.r:r.w])
		r.r = 0
		r.buf = nb
	}
	r.pos = r.r
}

// fill reads more bytes: into the large bulk being read if there is one,
// else into the read buffer, making room first by moving the current request
// to the front or, when it fills the whole buffer, by doubling the buffer.
func (r *requestReader) fill() (int, error) {
	if r.rerr != nil {
		return 0, r.rerr
	}
	if r.cur != nil && len(r.cur) < r.bulk {
		return r.fillBulk()
	}
	if r.r > 0 && len(r.buf)-r.w < minRead {
		n := copy(r.buf, r.buf[r.r:r.w])
		r.pos -= r.r
		r.r, r.w = 0, n
	}
	if r.w == len(r.buf) {
		nb := make([]byte, 2*len(r.buf))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.w += n
	if err == errWouldBlock {
		return n, err
	}
	if err != nil {
		r.rerr = err
		if n > 0 {
			err = nil // parse what arrived first
		}
	}
	return n, err
}

// fillBulk reads into the large bulk being read, growing its buffer to at
// most min(declared length, 2*received+bulkSlack) when it is full.
func (r *requestReader) fillBulk() (int, error) {
	if len(r.cur) == cap(r.cur) {
		nb := make([]byte, len(r.cur), r.bulkCap(len(r.cur)))
		copy(nb, r.cur)
		r.cur = nb
	}
	n, err := r.rd.Read(r.cur[len(r.cur):min(cap(r.cur), r.bulk)])
	r.cur = r.cur[:len(r.cur)+n]
	if err == errWouldBlock {
		return n, err
	}
	if err != nil {
		r.rerr = err
		if n > 0 {
			err = nil
		}
	}
	return n, err
}

// bulkCap is the capacity of a new buffer for the large bulk being read
// when have bytes of it arrived: its bulkBufSize, but at most 2*have+slack.
func (r *requestReader) bulkCap(have int) int {
	return min(bulkBufSize(r.bulk), 2*have+r.slack)
}

// parse advances the request being parsed over the buffered bytes. It
// reports done when the request is complete (r.args then holds its
// arguments, possibly none), false when it needs more bytes.
func (r *requestReader) parse() (done bool, err error) {
	if !r.multi {
		if r.pos == r.w {
			return false, nil
		}
		if r.buf[r.pos] != '*' {
			return r.parseInline()
		}
		cr, n, ok, err := r.countLine('*', msgTooBigMbulkCount)
		if cr < 0 || err != nil {
			return false, err
		}
		if !ok || n > int64(r.lim.MaxArgs) {
			return false, &ProtocolError{msgInvalidMultibulk}
		}
		r.pos = cr + 2 // Redis skips the byte after '\r' unread
		if n <= 0 {
			return r.finish(), nil
		}
		r.multi, r.left, r.bulk, r.total = true, int(n), -1, 0
	}
	for r.left > 0 {
		if r.bulk < 0 {
			if r.smallBulks(); r.left == 0 {
				break
			}
			cr, n, ok, err := r.countLine('$', msgTooBigBulkCount)
			if cr < 0 || err != nil {
				return false, err
			}
			if c := r.buf[r.pos]; c != '$' {
				return false, &ProtocolError{expectedDollar(c)}
			}
			if !ok || n < 0 || n > int64(r.maxBulk()) {
				return false, &ProtocolError{msgInvalidBulk}
			}
			if int64(r.total)+n > int64(r.lim.MaxQuery) {
				return false, &ProtocolError{msgTooBigRequest}
			}
			r.pos = cr + 2
			r.bulk = int(n)
			r.total += r.bulk
			if avail := r.w - r.pos; r.bulk+2 > r.size && avail < r.bulk+2 {
				// Too large to wait for in place: collect it in its own
				// buffer, sized by what has arrived, not by what is declared.
				have := min(avail, r.bulk)
				if b := pooledBulk(r.bulk); b != nil {
					r.cur = b[:have]
				} else {
					r.cur = make([]byte, have, r.bulkCap(have))
				}
				copy(r.cur, r.buf[r.pos:])
				r.pos += have
			}
		}
		if r.cur != nil {
			if len(r.cur) < r.bulk || r.w-r.pos < 2 {
				return false, nil
			}
			r.bigs = append(r.bigs, r.cur)
			r.spans = append(r.spans, span{-1, -1})
			r.cur = nil
			r.pos += 2
		} else {
			if r.w-r.pos < r.bulk+2 {
				return false, nil
			}
			off := r.pos - r.r
			r.spans = append(r.spans, span{off, off + r.bulk})
			r.pos += r.bulk + 2 // Redis skips the two bytes after a bulk unread
		}
		r.bulk = -1
		r.left--
	}
	return r.finish(), nil
}

// smallBulks is the fast path of parse: it takes the bulk arguments that
// lie whole in the buffer in their plain form ('$', at most 18 digits, '\r',
// any byte, the data, any two bytes) and within limits, and stops at
// anything else, which the general path then parses or reports.
func (r *requestReader) smallBulks() {
	buf, pos, w, left, total := r.buf, r.pos, r.w, r.left, r.total
	for left > 0 && pos < w && buf[pos] == '$' {
		i, n := pos+1, 0
		for end := min(w, pos+19); i < end; i++ {
			d := buf[i] - '0'
			if d > 9 {
				break
			}
			n = n*10 + int(d)
		}
		if i == pos+1 || i >= w || buf[i] != '\r' || buf[pos+1] == '0' && i > pos+2 ||
			i-pos > r.lim.MaxInline || n > r.maxBulk() || total+n > r.lim.MaxQuery {
			break
		}
		data := i + 2
		if w-data < n+2 {
			break
		}
		r.spans = append(r.spans, span{data - r.r, data - r.r + n})
		pos = data + n + 2
		total += n
		left--
	}
	if pos != r.pos {
		r.pos, r.left, r.total, r.seen = pos, left, total, 0
	}
}

// finish ends the request parsed up to r.pos: it builds r.args from the
// spans and consumes the request's bytes. It always reports true.
func (r *requestReader) finish() bool {
	r.args = r.args[:0]
	bi := 0
	for _, s := range r.spans {
		if s.off < 0 {
			b := r.bigs[bi]
			r.args = append(r.args, b[:len(b):len(b)])
			bi++
			continue
		}
		r.args = append(r.args, r.buf[r.r+s.off:r.r+s.end:r.r+s.end])
	}
	r.spans = r.spans[:0]
	r.multi, r.left, r.bulk, r.seen = false, 0, -1, 0
	r.r = r.pos
	return true
}

// countLine finds the count line at pos, which should start with prefix,
// and parses the number after its first byte. It returns the index of the
// line's '\r' (-1 if more bytes are needed) and the number, ok false if it
// is not one. Short lines of plain digits take a fast path.
func (r *requestReader) countLine(prefix byte, tooBig string) (cr int, n int64, ok bool, err error) {
	buf, pos, w := r.buf, r.pos, r.w
	if pos < w && buf[pos] == prefix {
		// At most 18 digits, so no overflow; then '\r' and one more byte.
		i, end := pos+1, min(w-1, pos+19)
		for ; i < end; i++ {
			d := buf[i] - '0'
			if d > 9 {
				break
			}
			n = n*10 + int64(d)
		}
		if i < w-1 && buf[i] == '\r' && i > pos+1 && (buf[pos+1] != '0' || i == pos+2) && i-pos <= r.lim.MaxInline {
			r.seen = 0
			return i, n, true, nil
		}
	}
	if cr, err = r.lineEnd('\r', tooBig); cr < 0 || err != nil {
		return -1, 0, false, err
	}
	if cr > pos { // else the line is empty, and the caller reports its first byte
		n, ok = parseInt(buf[pos+1 : cr])
	}
	return cr, n, ok, nil
}

// lineEnd returns the index in buf of the first c at or after pos, which
// must lie within lim.MaxInline bytes of pos and be followed by one more
// byte, or -1 if more bytes are needed. A line longer than the limit is the
// protocol error tooBig.
func (r *requestReader) lineEnd(c byte, tooBig string) (int, error) {
	end := min(r.w, r.pos+r.lim.MaxInline+1)
	from := r.pos + r.seen
	if i := bytes.IndexByte(r.buf[from:end], c); i >= 0 {
		if from+i+1 >= r.w {
			r.seen = from + i - r.pos // found; the byte after it is to come
			return -1, nil
		}
		r.seen = 0
		return from + i, nil
	}
	if end-r.pos > r.lim.MaxInline {
		return -1, &ProtocolError{tooBig}
	}
	r.seen = end - r.pos
	return -1, nil
}

// parseInline parses an inline command line at pos: it ends at '\n' (a
// '\r' before it is dropped) and is split as Redis's sdssplitargs does.
func (r *requestReader) parseInline() (bool, error) {
	end := min(r.w, r.pos+r.lim.MaxInline+1)
	from := r.pos + r.seen
	i := bytes.IndexByte(r.buf[from:end], '\n')
	if i < 0 {
		if end-r.pos > r.lim.MaxInline {
			return false, &ProtocolError{msgTooBigInline}
		}
		r.seen = end - r.pos
		return false, nil
	}
	nl := from + i
	line := r.buf[r.pos:nl]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if err := r.splitArgs(line); err != nil {
		return false, err
	}
	if len(r.spans) > r.lim.MaxArgs {
		// Redis bounds inline requests by length alone; chkv holds them
		// to MaxArgs too, which by default is never the tighter bound.
		return false, &ProtocolError{msgTooBigInline}
	}
	r.pos = nl + 1
	return r.finish(), nil
}

// splitArgs splits an inline line into arguments as Redis's sdssplitargs
// does (which stops at a NUL byte): blanks separate; "double quotes" take
// \n \r \t \b \a \xHH and \<any> escapes; 'single quotes' take \'; a
// closing quote must be followed by a blank or the end. Unquoted and
// unescaped, each argument is written over the line in place, which is
// safe because an argument is never longer than the text it came from.
func (r *requestReader) splitArgs(line []byte) error {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	at := func(i int) byte { // the byte at i, or NUL past the end, as in C
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	base := r.r
	o := 0 // write position in line
	p := 0 // read position in line
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p == len(line) {
			return nil
		}
		start := o
		var q byte // the open quote, 0 outside quotes
		for done := false; !done; {
			c := at(p)
			switch {
			case q == '"' && c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
				line[o] = unhex(at(p+2))<<4 | unhex(at(p+3))
				o++
				p += 3
			case q == '"' && c == '\\' && at(p+1) != 0:
				p++
				line[o] = unescape(line[p])
				o++
			case q == '\'' && c == '\\' && at(p+1) == '\'':
				p++
				line[o] = '\''
				o++
			case q != 0 && c == q:
				if n := at(p + 1); n != 0 && !isSpace(n) {
					return &ProtocolError{msgUnbalancedQuotes}
				}
				done = true
			case q != 0 && c == 0:
				return &ProtocolError{msgUnbalancedQuotes}
			case q == 0 && (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == 0):
				done = true
			case q == 0 && (c == '"' || c == '\''):
				q = c
			default:
				line[o] = c
				o++
			}
			if p < len(line) {
				p++
			}
		}
		off := r.pos - base + start
		r.spans = append(r.spans, span{off, off + o - start})
	}
}

// expectedDollar is the error text for a bulk header starting with c; like
// Redis it shows '\r' and '\n' as spaces, keeping the reply on one line.
func expectedDollar(c byte) string {
	if c == '\r' || c == '\n' {
		c = ' '
	}
	return msgExpectedDollar + string([]byte{c}) + "'"
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unhex returns the value of the hexadecimal digit c.
func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// unescape returns the byte a backslash escape stands for inside double quotes.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
