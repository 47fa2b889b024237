// Fuzzing of the RESP request reader against a plain one-shot reference parser, over random read chunks.

package chkv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// fuzzLimits returns small limits, so that fuzzed inputs reach every one:
// fixed ones for even seeds, and ones drawn from the seed for odd seeds.
func fuzzLimits(seed uint64) RequestLimits {
	if seed%2 == 0 {
		return RequestLimits{MaxBulk: 40, MaxArgs: 6, MaxInline: 48, MaxQuery: 100}
	}
	return RequestLimits{
		MaxBulk:   1 + int(seed>>8%64),
		MaxArgs:   1 + int(seed>>16%8),
		MaxInline: 1 + int(seed>>24%64),
		MaxQuery:  1 + int(seed>>32%128),
	}
}

// refResult is what a reader yields for one input: the requests in order,
// then the error that ended the stream (its text).
type refResult struct {
	reqs [][]string
	err  string
}

func (r refResult) String() string { return fmt.Sprintf("%q then %s", r.reqs, r.err) }

// refParse parses a whole input the simple way, with all of it in memory:
// the reference the streaming reader must agree with.
func refParse(in []byte, lim RequestLimits) refResult {
	var res refResult
	// line returns the index of the first c within MaxInline bytes of pos,
	// or the error when there is none; a '\r' must be followed by a byte.
	line := func(pos int, c byte, tooBig string) (int, string) {
		after := 0
		if c == '\r' {
			after = 1
		}
		rest := in[pos:]
		if len(rest) > lim.MaxInline+1 {
			rest = rest[:lim.MaxInline+1]
		}
		i := bytes.IndexByte(rest, c)
		switch {
		case i >= 0 && pos+i+after < len(in):
			return pos + i, ""
		case i < 0 && len(rest) > lim.MaxInline:
			return 0, tooBig
		}
		return 0, io.ErrUnexpectedEOF.Error()
	}
	pos := 0
	for pos < len(in) {
		if in[pos] != '*' {
			nl, err := line(pos, '\n', msgTooBigInline)
			if err != "" {
				res.err = err
				return res
			}
			text := in[pos:nl]
			text = bytes.TrimSuffix(text, []byte("\r"))
			args, ok := refSplitArgs(text)
			if !ok {
				res.err = msgUnbalancedQuotes
				return res
			}
			if len(args) > lim.MaxArgs {
				res.err = msgTooBigInline
				return res
			}
			if len(args) > 0 {
				res.reqs = append(res.reqs, args)
			}
			pos = nl + 1
			continue
		}
		cr, err := line(pos, '\r', msgTooBigMbulkCount)
		if err != "" {
			res.err = err
			return res
		}
		n, ok := parseInt(in[pos+1 : cr])
		if !ok || n > int64(lim.MaxArgs) {
			res.err = msgInvalidMultibulk
			return res
		}
		pos = cr + 2
		var args []string
		total := 0
		for range max(n, 0) {
			cr, err := line(pos, '\r', msgTooBigBulkCount)
			if err != "" {
				res.err = err
				return res
			}
			if in[pos] != '$' {
				res.err = expectedDollar(in[pos])
				return res
			}
			n, ok := parseInt(in[pos+1 : cr])
			if !ok || n < 0 || n > int64(lim.MaxBulk) {
				res.err = msgInvalidBulk
				return res
			}
			if total += int(n); total > lim.MaxQuery {
				res.err = msgTooBigRequest
				return res
			}
			pos = cr + 2
			if len(in)-pos < int(n)+2 {
				res.err = io.ErrUnexpectedEOF.Error()
				return res
			}
			args = append(args, string(in[pos:pos+int(n)]))
			pos += int(n) + 2
		}
		if len(args) > 0 {
			res.reqs = append(res.reqs, args)
		}
	}
	res.err = io.EOF.Error()
	return res
}

// refSplitArgs is sdssplitargs from Redis, transcribed over a string that
// ends at its first NUL as a C string does; ok is false for unbalanced quotes.
func refSplitArgs(line []byte) (args []string, ok bool) {
	s, _, _ := strings.Cut(string(line), "\x00")
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	p := 0
	for {
		for at(p) != 0 && strings.IndexByte(" \t\n\v\f\r", at(p)) >= 0 {
			p++
		}
		if at(p) == 0 {
			return args, true
		}
		var cur []byte
		inq, insq, done := false, false, false
		// closes reports whether a closing quote at p may end the argument.
		closes := func(p int) bool { return at(p+1) == 0 || strings.IndexByte(" \t\n\v\f\r", at(p+1)) >= 0 }
		for !done {
			c := at(p)
			switch {
			case inq && c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
				v, _ := strconv.ParseUint(s[p+2:p+4], 16, 8)
				cur = append(cur, byte(v))
				p += 3
			case inq && c == '\\' && at(p+1) != 0:
				p++
				e := at(p)
				if i := strings.IndexByte("nrtba", e); i >= 0 {
					e = "\n\r\t\b\a"[i]
				}
				cur = append(cur, e)
			case insq && c == '\\' && at(p+1) == '\'':
				p++
				cur = append(cur, '\'')
			case inq && c == '"', insq && c == '\'':
				if !closes(p) {
					return nil, false
				}
				done = true
			case (inq || insq) && c == 0:
				return nil, false
			case inq || insq:
				cur = append(cur, c)
			case strings.IndexByte(" \n\r\t\x00", c) >= 0:
				done = true
			case c == '"':
				inq = true
			case c == '\'':
				insq = true
			default:
				cur = append(cur, c)
			}
			if at(p) != 0 {
				p++
			}
		}
		args = append(args, string(cur))
	}
}

// chunkReader hands out its data in random chunks and, before each read,
// checks the memory bounds of the reader it feeds.
type chunkReader struct {
	t    *testing.T
	data []byte
	rng  *rand.Rand
	rr   *requestReader
	sent int // bytes handed out
	base int // bytes handed out before the current request began
	// nonBlocking makes the reads that return nothing return errWouldBlock,
	// as an event loop's socket does; the caller then calls next again.
	nonBlocking bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.check()
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	if c.rng.IntN(8) == 0 {
		if c.nonBlocking {
			return 0, errWouldBlock
		}
		return 0, nil // readers may return nothing; the reader must retry
	}
	n := min(len(p), len(c.data), 1+c.rng.IntN(1+c.rng.IntN(64)))
	n = copy(p, c.data[:n])
	c.data = c.data[n:]
	c.sent += n
	return n, nil
}

// check fails the test if the reader holds more than the bytes it has been
// sent justify: a large bulk's buffer runs at most slack bytes ahead of
// twice its data, and all buffers together stay within a small multiple of
// the bytes not yet consumed when the current request began.
func (c *chunkReader) check() {
	c.t.Helper()
	rr := c.rr
	// (A buffer taken from the pool of big bulks is memory received
	// before, not allocated; these inputs are too small to use it.)
	if rr.cur != nil && cap(rr.cur) > min(bulkBufSize(rr.bulk), 2*len(rr.cur)+rr.slack) {
		c.t.Fatalf("large bulk buffer: cap %d with %d of %d bytes received", cap(rr.cur), len(rr.cur), rr.bulk)
	}
	unconsumed := c.sent - c.base
	bound := max(4*rr.size, 2*unconsumed) + 2*unconsumed + rr.slack
	if held := cap(rr.buf) + cap(rr.cur) + sumCap(rr.bigs); held > bound {
		c.t.Fatalf("reader holds %d bytes with %d unconsumed bytes sent, bound %d", held, unconsumed, bound)
	}
}

// sumCap is the total capacity of bs.
func sumCap(bs [][]byte) int {
	n := 0
	for _, b := range bs {
		n += cap(b)
	}
	return n
}

// readChunked reads every request from in, split into random chunks drawn
// from seed, through a reader with a buffer of size bytes.
func readChunked(t *testing.T, in []byte, seed uint64, lim RequestLimits, size, slack int, nonBlocking bool) refResult {
	c := &chunkReader{t: t, data: in, rng: rand.New(rand.NewPCG(seed, seed>>7)), nonBlocking: nonBlocking}
	c.rr = newRequestReaderSize(c, lim, size, slack)
	var res refResult
	resumed := false // the last next returned errWouldBlock: the request goes on
	for {
		if !resumed {
			c.base = c.sent - c.rr.buffered()
		}
		args, err := c.rr.next()
		if resumed = err == errWouldBlock; resumed {
			continue
		}
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error %v", err)
			}
			res.err = err.Error()
			return res
		}
		if len(args) == 0 || len(args) > lim.MaxArgs {
			t.Fatalf("request with %d arguments", len(args))
		}
		req := make([]string, len(args))
		for i, a := range args {
			if len(a) > max(lim.MaxBulk, lim.MaxInline) {
				t.Fatalf("argument of %d bytes", len(a))
			}
			if cap(a) != len(a) {
				t.Fatalf("argument with cap %d, len %d", cap(a), len(a))
			}
			req[i] = string(a)
		}
		res.reqs = append(res.reqs, req)
	}
}

func FuzzRequestReader(f *testing.F) {
	seeds := []string{
		"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
		"*1\r\n$4\r\nPING\r\nPING\r\n\r\n*0\r\n*-1\r\n",
		"*2\r\n$4\r\necho\r\n$30\r\n0123456789abcdefghijklmnopqrst\r\n",
		"*2\r\n$4\r\necho\r\n$41\r\n",
		"*7\r\n",
		"*1\r\n*1\r\n$4\r\nPING\r\n",
		"*1\r\n$-1\r\n",
		"*01\r\n",
		"*1\rX$4\r\nPING\r\n",
		"SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\nGET a\n",
		"SET a \"b\"c\r\n",
		"ECHO 'x'\vy\nECHO a\x00b\n",
		"*" + strings.Repeat("1", 60) + "\r\n",
		"*1\r\n$" + strings.Repeat("1", 60) + "\r\n",
		strings.Repeat("a", 60) + "\n",
		"*3\r\n$40\r\n" + strings.Repeat("x", 40) + "\r\n$40\r\n" + strings.Repeat("y", 40) + "\r\n$40\r\n",
		"\xff\xfe\x00*$\r\n\r",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint64(2*i))
		f.Add([]byte(s), uint64(0x1f2e3d4c5b6a7988+i))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		lim := fuzzLimits(seed)
		want := refParse(in, lim).String()
		if got := readChunked(t, in, seed, lim, readBufSize, bulkSlack, false).String(); got != want {
			t.Fatalf("default buffer:\n got %s\nwant %s", got, want)
		}
		size := 4 + int(seed%40)
		if got := readChunked(t, in, seed, lim, size, 1+int(seed%7), false).String(); got != want {
			t.Fatalf("%d-byte buffer:\n got %s\nwant %s", size, got, want)
		}
		if got := readChunked(t, in, seed, lim, size, 1+int(seed%7), true).String(); got != want {
			t.Fatalf("%d-byte buffer, non-blocking reads:\n got %s\nwant %s", size, got, want)
		}
	})
}
