// Tests of the RESP request reader: valid requests, every protocol error, limits, memory bounds and speed.

package chkv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// readerMode is one way a test feeds its input to a reader.
type readerMode struct {
	name string
	make func(in string, lim RequestLimits) *requestReader
}

// readerModes are the ways a test feeds its input to a reader: each must
// give the same requests and the same error.
var readerModes = [...]readerMode{
	{"whole", func(in string, lim RequestLimits) *requestReader {
		return newRequestReader(strings.NewReader(in), lim)
	}},
	{"one-byte", func(in string, lim RequestLimits) *requestReader {
		return newRequestReader(iotest.OneByteReader(strings.NewReader(in)), lim)
	}},
	{"data-with-eof", func(in string, lim RequestLimits) *requestReader {
		return newRequestReader(iotest.DataErrReader(strings.NewReader(in)), lim)
	}},
	{"tiny-buffer", func(in string, lim RequestLimits) *requestReader {
		return newRequestReaderSize(iotest.HalfReader(strings.NewReader(in)), lim, 8, 4)
	}},
}

// drain reads requests until the first error and returns them, as strings,
// with that error.
func drain(rr *requestReader) ([][]string, error) {
	var reqs [][]string
	for {
		args, err := rr.next()
		if err != nil {
			return reqs, err
		}
		req := make([]string, len(args))
		for i, a := range args {
			req[i] = string(a)
		}
		reqs = append(reqs, req)
	}
}

// pipeline encodes requests as RESP multibulk arrays.
func pipeline(reqs ...[]string) string {
	var b strings.Builder
	for _, req := range reqs {
		fmt.Fprintf(&b, "*%d\r\n", len(req))
		for _, a := range req {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	return b.String()
}

func TestRequestReaderValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]string
	}{
		{"set", "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", [][]string{{"SET", "key", "value"}}},
		{"pipeline", pipeline([]string{"SET", "k", "v"}, []string{"GET", "k"}, []string{"PING"}),
			[][]string{{"SET", "k", "v"}, {"GET", "k"}, {"PING"}}},
		{"empty bulk", "*2\r\n$4\r\necho\r\n$0\r\n\r\n", [][]string{{"echo", ""}}},
		{"binary bulk", "*2\r\n$4\r\necho\r\n$6\r\na\r\n\x00\xffb\r\n", [][]string{{"echo", "a\r\n\x00\xffb"}}},
		{"zero count skipped", "*0\r\n*1\r\n$4\r\nPING\r\n", [][]string{{"PING"}}},
		{"null array skipped", "*-1\r\n*1\r\n$4\r\nPING\r\n", [][]string{{"PING"}}},
		{"negative count skipped", "*-5\r\nPING\r\n", [][]string{{"PING"}}},
		{"only empty requests", "*0\r\n\r\n\n   \r\n*-1\r\n", nil},
		{"inline", "PING\r\n", [][]string{{"PING"}}},
		{"inline bare newline", "SET a b\nGET a\n", [][]string{{"SET", "a", "b"}, {"GET", "a"}}},
		{"inline blanks", "  SET\ta   b \r\n", [][]string{{"SET", "a", "b"}}},
		{"inline blank lines skipped", "\r\n\n  \t \nPING\n", [][]string{{"PING"}}},
		{"inline double quotes", `SET "my key" "a\"b\\c"` + "\n", [][]string{{"SET", "my key", `a"b\c`}}},
		{"inline escapes", `ECHO "\n\r\t\b\a\q\x41\x7a\xff"` + "\n", [][]string{{"ECHO", "\n\r\t\b\aqAz\xff"}}},
		{"inline bad hex escape", `ECHO "\x4g"` + "\n", [][]string{{"ECHO", "x4g"}}},
		{"inline single quotes", `ECHO 'it\'s "x" \n'` + "\n", [][]string{{"ECHO", `it's "x" \n`}}},
		{"inline empty quotes", `ECHO "" ''` + "\n", [][]string{{"ECHO", "", ""}}},
		{"inline quote inside token", `ECHO foo"bar baz"` + "\n", [][]string{{"ECHO", "foobar baz"}}},
		{"inline vertical tab after quote", "ECHO 'x'\vy\n", [][]string{{"ECHO", "x", "y"}}},
		{"inline vertical tab inside token", "ECHO a\vb\n", [][]string{{"ECHO", "a\vb"}}},
		{"inline stops at NUL", "ECHO a\x00b c\nPING\n", [][]string{{"ECHO", "a"}, {"PING"}}},
		{"inline binary", "ECHO \xff\xfe\n", [][]string{{"ECHO", "\xff\xfe"}}},
		{"inline and multibulk mixed", "PING\n*1\r\n$4\r\nPING\r\nPING\r\n", [][]string{{"PING"}, {"PING"}, {"PING"}}},
		// Redis skips the byte after a count line's '\r' and the two bytes
		// after a bulk without looking at them; so does chkv.
		{"count line ends at CR", "*1\rX$4\r\nPING\r\n", [][]string{{"PING"}}},
		{"bulk trailer unchecked", "*1\r\n$4\rXPINGxx", [][]string{{"PING"}}},
		{"bulk larger than buffer", pipeline([]string{"SET", "k", strings.Repeat("v", 40000)}, []string{"GET", "k"}),
			[][]string{{"SET", "k", strings.Repeat("v", 40000)}, {"GET", "k"}}},
	}
	for _, tt := range tests {
		for _, m := range readerModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				got, err := drain(m.make(tt.in, RequestLimits{}))
				if err != io.EOF {
					t.Fatalf("error = %v, want io.EOF", err)
				}
				if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
					t.Errorf("requests = %q, want %q", got, tt.want)
				}
			})
		}
	}
}

func TestRequestReaderProtocolErrors(t *testing.T) {
	small := RequestLimits{MaxBulk: 10, MaxArgs: 3, MaxInline: 32, MaxQuery: 15}
	ping := "*1\r\n$4\r\nPING\r\n"
	tests := []struct {
		name   string
		in     string
		lim    RequestLimits
		before int // requests read before the error
		want   string
	}{
		{"nested array", "*1\r\n*1\r\n$4\r\nPING\r\n", RequestLimits{}, 0, "Protocol error: expected '$', got '*'"},
		{"integer in array", ping + "*2\r\n$3\r\nGET\r\n:1\r\n", RequestLimits{}, 1, "Protocol error: expected '$', got ':'"},
		{"garbage in array", "*1\r\nhello\r\n", RequestLimits{}, 0, "Protocol error: expected '$', got 'h'"},
		{"CR in array shown as space", "*1\r\n\r\n\r\n", RequestLimits{}, 0, "Protocol error: expected '$', got ' '"},
		{"LF in array shown as space", "*1\r\n\n\r\n", RequestLimits{}, 0, "Protocol error: expected '$', got ' '"},
		{"high byte in array", "*1\r\n\xff\r\n", RequestLimits{}, 0, "Protocol error: expected '$', got '\xff'"},
		{"count not a number", "*x\r\n", RequestLimits{}, 0, "Protocol error: invalid multibulk length"},
		{"count empty", "*\r\n", RequestLimits{}, 0, "Protocol error: invalid multibulk length"},
		{"count leading zero", "*01\r\n", RequestLimits{}, 0, "Protocol error: invalid multibulk length"},
		{"count plus sign", "*+1\r\n", RequestLimits{}, 0, "Protocol error: invalid multibulk length"},
		{"count minus zero", "*-0\r\n", RequestLimits{}, 0, "Protocol error: invalid multibulk length"},
		{"count trailing space", "*1 \r\n", RequestLimits{}, 0, "Protocol error: invalid multibulk length"},
		{"count overflows", "*99999999999999999999\r\n", RequestLimits{}, 0, "Protocol error: invalid multibulk length"},
		{"count over MaxArgs", "*4\r\n", small, 0, "Protocol error: invalid multibulk length"},
		{"count over default MaxArgs", "*1048577\r\n", RequestLimits{}, 0, "Protocol error: invalid multibulk length"},
		{"bulk length negative", "*1\r\n$-1\r\n", RequestLimits{}, 0, "Protocol error: invalid bulk length"},
		{"bulk length leading zero", "*1\r\n$01\r\n", RequestLimits{}, 0, "Protocol error: invalid bulk length"},
		{"bulk length not a number", "*1\r\n$abc\r\n", RequestLimits{}, 0, "Protocol error: invalid bulk length"},
		{"bulk length empty", "*1\r\n$\r\n", RequestLimits{}, 0, "Protocol error: invalid bulk length"},
		{"bulk over MaxBulk", "*1\r\n$11\r\n", small, 0, "Protocol error: invalid bulk length"},
		{"bulk over default MaxBulk", "*1\r\n$67108865\r\n", RequestLimits{}, 0, "Protocol error: invalid bulk length"},
		{"second bulk invalid", "*2\r\n$4\r\nPING\r\n$x\r\n", RequestLimits{}, 0, "Protocol error: invalid bulk length"},
		{"request over MaxQuery", "*2\r\n$8\r\nabcdefgh\r\n$8\r\n", small, 0, "Protocol error: too big request"},
		{"inline too big", strings.Repeat("a", 33), small, 0, "Protocol error: too big inline request"},
		{"inline too big with newline late", strings.Repeat("a", 33) + "\n", small, 0, "Protocol error: too big inline request"},
		{"inline over MaxArgs", "a b c d\n", small, 0, "Protocol error: too big inline request"},
		{"inline too big default", strings.Repeat("a", 64<<10+1), RequestLimits{}, 0, "Protocol error: too big inline request"},
		{"unbalanced double quote", `SET "a b` + "\n", RequestLimits{}, 0, "Protocol error: unbalanced quotes in request"},
		{"unbalanced single quote", "SET 'a b\n", RequestLimits{}, 0, "Protocol error: unbalanced quotes in request"},
		{"text after closing quote", `SET a "b"c` + "\r\n", RequestLimits{}, 0, "Protocol error: unbalanced quotes in request"},
		{"text after closing single quote", "SET a 'b'c\r\n", RequestLimits{}, 0, "Protocol error: unbalanced quotes in request"},
		{"escaped closing quote", `SET a "b\"` + "\n", RequestLimits{}, 0, "Protocol error: unbalanced quotes in request"},
		{"NUL inside quotes", "SET a \"b\x00\"\n", RequestLimits{}, 0, "Protocol error: unbalanced quotes in request"},
		{"too big mbulk count string", "*" + strings.Repeat("1", 32), small, 0, "Protocol error: too big mbulk count string"},
		{"too big mbulk count default", "*" + strings.Repeat("1", 64<<10), RequestLimits{}, 0, "Protocol error: too big mbulk count string"},
		{"too big bulk count string", "*1\r\n$" + strings.Repeat("1", 32), small, 0, "Protocol error: too big bulk count string"},
		{"too big bulk count default", "*1\r\n$" + strings.Repeat("1", 64<<10), RequestLimits{}, 0, "Protocol error: too big bulk count string"},
		{"error after pipeline", ping + ping + "*1\r\n$-5\r\n" + ping, RequestLimits{}, 2, "Protocol error: invalid bulk length"},
	}
	for _, tt := range tests {
		for _, m := range readerModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				rr := m.make(tt.in, tt.lim)
				got, err := drain(rr)
				if len(got) != tt.before {
					t.Errorf("read %d requests before the error, want %d", len(got), tt.before)
				}
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("error = %v, want a *ProtocolError", err)
				}
				if pe.Error() != tt.want {
					t.Errorf("error = %q, want %q", pe.Error(), tt.want)
				}
				if !errors.Is(err, ErrProtocol) {
					t.Errorf("errors.Is(%v, ErrProtocol) = false", err)
				}
				if _, again := rr.next(); again != err {
					t.Errorf("next after the error = %v, want the same error again", again)
				}
			})
		}
	}
}

func TestRequestReaderBoundaries(t *testing.T) {
	lim := RequestLimits{MaxBulk: 100000, MaxArgs: 5, MaxInline: 1000}
	args := func(n int) []string { return strings.Fields(strings.Repeat("x ", n)) }
	tests := []struct {
		name string
		in   string
		want string // the error text, "" for none
	}{
		{"bulk at MaxBulk", pipeline([]string{"SET", "k", strings.Repeat("v", 100000)}), ""},
		{"bulk over MaxBulk", pipeline([]string{"SET", "k", strings.Repeat("v", 100001)}), "Protocol error: invalid bulk length"},
		{"args at MaxArgs", pipeline(args(5)), ""},
		{"args over MaxArgs", pipeline(args(6)), "Protocol error: invalid multibulk length"},
		{"inline args at MaxArgs", "a b c d e\n", ""},
		{"inline args over MaxArgs", "a b c d e f\n", "Protocol error: too big inline request"},
		{"inline at MaxInline", strings.Repeat("a", 1000) + "\n", ""},
		{"inline at MaxInline with CR", strings.Repeat("a", 999) + "\r\n", ""},
		{"inline over MaxInline", strings.Repeat("a", 1001) + "\n", "Protocol error: too big inline request"},
		{"count line at MaxInline", "*" + strings.Repeat("0", 999) + "\r\n", "Protocol error: invalid multibulk length"},
		{"count line over MaxInline", "*" + strings.Repeat("0", 1000) + "\r\n", "Protocol error: too big mbulk count string"},
		{"bulk count line at MaxInline", "*1\r\n$" + strings.Repeat("0", 999) + "\r\n", "Protocol error: invalid bulk length"},
		{"bulk count line over MaxInline", "*1\r\n$" + strings.Repeat("0", 1000) + "\r\n", "Protocol error: too big bulk count string"},
	}
	for _, tt := range tests {
		for _, m := range readerModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				reqs, err := drain(m.make(tt.in, lim))
				if tt.want == "" {
					if err != io.EOF || len(reqs) != 1 {
						t.Fatalf("got %d requests and error %v, want 1 request and io.EOF", len(reqs), err)
					}
					return
				}
				var pe *ProtocolError
				if !errors.As(err, &pe) || pe.Msg != tt.want {
					t.Fatalf("error = %v, want %q", err, tt.want)
				}
			})
		}
	}
}

func TestRequestReaderEOF(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty input", "", io.EOF},
		{"after a request", "*1\r\n$4\r\nPING\r\n", io.EOF},
		{"after blank lines", "PING\n\n\r\n", io.EOF},
		{"in the count line", "*1", io.ErrUnexpectedEOF},
		{"after the count CR", "*1\r", io.ErrUnexpectedEOF},
		{"after the count", "*1\r\n", io.ErrUnexpectedEOF},
		{"in a bulk header", "*1\r\n$4", io.ErrUnexpectedEOF},
		{"in a bulk", "*1\r\n$4\r\nPI", io.ErrUnexpectedEOF},
		{"before the bulk trailer", "*1\r\n$4\r\nPING", io.ErrUnexpectedEOF},
		{"in a large bulk", "*1\r\n$100000\r\nabc", io.ErrUnexpectedEOF},
		{"in an inline line", "PING", io.ErrUnexpectedEOF},
		{"in a blank inline line", "  ", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, m := range readerModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				if _, err := drain(m.make(tt.in, RequestLimits{})); err != tt.want {
					t.Errorf("error = %v, want %v", err, tt.want)
				}
			})
		}
	}
}

func TestRequestReaderReadErrors(t *testing.T) {
	boom := errors.New("boom")
	t.Run("error after data", func(t *testing.T) {
		rd := io.MultiReader(strings.NewReader("PING\n*1\r\n$4\r\nPI"), iotest.ErrReader(boom))
		reqs, err := drain(newRequestReader(rd, RequestLimits{}))
		if len(reqs) != 1 || err != boom {
			t.Errorf("got %q and %v, want [[PING]] and boom", reqs, err)
		}
	})
	t.Run("error with data", func(t *testing.T) {
		rd := &errWithData{data: []byte("PING\nPING\n"), err: boom}
		reqs, err := drain(newRequestReader(rd, RequestLimits{}))
		if len(reqs) != 2 || err != boom {
			t.Errorf("got %q and %v, want two PINGs and boom", reqs, err)
		}
	})
	t.Run("reader without progress", func(t *testing.T) {
		_, err := newRequestReader(emptyReader{}, RequestLimits{}).next()
		if err != io.ErrNoProgress {
			t.Errorf("error = %v, want io.ErrNoProgress", err)
		}
	})
}

// errWithData returns all its data and err in the same Read.
type errWithData struct {
	data []byte
	err  error
}

func (r *errWithData) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

// emptyReader returns (0, nil) forever.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestRequestReaderArgsAreOwnSlices(t *testing.T) {
	rr := newRequestReader(strings.NewReader(pipeline([]string{"SET", "k", "v"}, []string{"GET", "k"})), RequestLimits{})
	args, err := rr.next()
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		if cap(a) != len(a) {
			t.Errorf("arg %d: cap %d, len %d; appending to it would overwrite the buffer", i, cap(a), len(a))
		}
	}
	_ = append(args[1], "XXXX"...)
	if args, _ := rr.next(); string(args[0]) != "GET" || string(args[1]) != "k" {
		t.Errorf("next request = %q after appending to an argument, want [GET k]", args)
	}
}

func TestRequestReaderBuffered(t *testing.T) {
	rr := newRequestReader(strings.NewReader(pipeline([]string{"PING"}, []string{"PING"}, []string{"PING"})), RequestLimits{})
	var got []int
	for range 3 {
		if _, err := rr.next(); err != nil {
			t.Fatal(err)
		}
		got = append(got, rr.buffered())
	}
	if want := []int{28, 14, 0}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("buffered after each request = %v, want %v", got, want)
	}
}

// probeReader hands out its data in chunks of at most max bytes and, before
// each read, checks the reader it feeds against the memory bound.
type probeReader struct {
	t       *testing.T
	data    []byte
	max     int
	sent    int
	rr      *requestReader
	maxHeld int
}

func (p *probeReader) Read(b []byte) (int, error) {
	p.check()
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), p.max)], p.data)
	p.data = p.data[n:]
	p.sent += n
	return n, nil
}

// check fails the test if the reader's large bulk buffer runs further ahead
// of its bytes than allowed, and records the most memory the reader held.
func (p *probeReader) check() {
	p.t.Helper()
	if cur := p.rr.cur; cur != nil && cap(cur) > min(p.rr.bulk, 2*len(cur)+p.rr.slack) {
		p.t.Fatalf("large bulk buffer: cap %d with %d of %d bytes received", cap(cur), len(cur), p.rr.bulk)
	}
	p.maxHeld = max(p.maxHeld, heldBytes(p.rr))
}

// heldBytes is the memory a reader holds in buffers and argument lists.
func heldBytes(rr *requestReader) int {
	n := cap(rr.buf) + cap(rr.cur) + 16*cap(rr.spans) + 24*(cap(rr.args)+cap(rr.bigs))
	for _, b := range rr.bigs {
		n += cap(b)
	}
	return n
}

func TestRequestReaderHugeDeclarations(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		maxHeld int
	}{
		{"huge bulk, few bytes", "*1\r\n$67108864\r\n" + strings.Repeat("x", 100), readBufSize + bulkSlack + 1000},
		{"huge bulk, 1 MiB sent", "*2\r\n$3\r\nSET\r\n$67108864\r\n" + strings.Repeat("x", 1<<20), 2<<20 + readBufSize + bulkSlack + 1000},
		{"huge count, nothing sent", "*1048576\r\n", readBufSize + 1000},
		{"huge count, few args sent", "*1048576\r\n" + strings.Repeat("$1\r\nx\r\n", 10), readBufSize + 1000},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 1000, 1 << 20} {
			t.Run(fmt.Sprintf("%s/chunk %d", tt.name, chunk), func(t *testing.T) {
				p := &probeReader{t: t, data: []byte(tt.in), max: chunk}
				p.rr = newRequestReader(p, RequestLimits{})
				if _, err := p.rr.next(); err != io.ErrUnexpectedEOF {
					t.Fatalf("error = %v, want io.ErrUnexpectedEOF", err)
				}
				if p.maxHeld > tt.maxHeld {
					t.Errorf("reader held %d bytes after %d sent, want at most %d", p.maxHeld, p.sent, tt.maxHeld)
				}
			})
		}
	}
	t.Run("allocated bytes", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 5 {
			for _, in := range []string{"*1048576\r\n$1\r\nx\r\n", "*1\r\n$1000000000\r\nabc"} {
				if _, err := newRequestReader(strings.NewReader(in), RequestLimits{MaxBulk: 1 << 30}).next(); err != io.ErrUnexpectedEOF {
					t.Fatalf("error = %v, want io.ErrUnexpectedEOF", err)
				}
			}
		}
		runtime.ReadMemStats(&after)
		// Each reader has its read buffer; a bulk reader adds one buffer of
		// bulkSlack bytes and a few, which the allocator rounds up to its
		// next size class (72 KiB).
		if d := after.TotalAlloc - before.TotalAlloc; d > 10*readBufSize+5*bulkSlack*5/4+10<<10 {
			t.Errorf("10 readers allocated %d bytes: more than their read buffers and one bulk slack each for unsent data", d)
		}
	})
}

func TestRequestReaderLargeBulkGrowsWithData(t *testing.T) {
	value := make([]byte, 5<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = byte(rng.Uint32())
	}
	in := pipeline([]string{"SET", "k", string(value)}, []string{"GET", "k"})
	for _, chunk := range []int{4096, 100000, len(in)} {
		t.Run(fmt.Sprintf("chunk %d", chunk), func(t *testing.T) {
			p := &probeReader{t: t, data: []byte(in), max: chunk}
			p.rr = newRequestReader(p, RequestLimits{})
			args, err := p.rr.next()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(args[2], value) {
				t.Fatal("the value read differs from the value sent")
			}
			if cap(args[2]) != len(value) {
				t.Errorf("value cap %d, want %d", cap(args[2]), len(value))
			}
			if args, err := p.rr.next(); err != nil || string(args[0]) != "GET" {
				t.Fatalf("next request = %q, %v; want [GET k]", args, err)
			}
			if held := heldBytes(p.rr); held > 4*readBufSize+1000 {
				t.Errorf("reader holds %d bytes after the large request was consumed", held)
			}
		})
	}
}

func TestRequestReaderShrinksAfterLargeRequest(t *testing.T) {
	// 100,000 small arguments do not fit the read buffer, which must grow
	// to hold them all, and shrink again once they are consumed.
	many := pipeline(strings.Fields(strings.Repeat("ab ", 100000)))
	rr := newRequestReader(strings.NewReader(many+pipeline([]string{"PING"})), RequestLimits{})
	args, err := rr.next()
	if err != nil || len(args) != 100000 {
		t.Fatalf("got %d args, %v; want 100000", len(args), err)
	}
	if cap(rr.buf) < len(many) {
		t.Fatalf("read buffer %d bytes, smaller than the request (%d) it holds in place", cap(rr.buf), len(many))
	}
	if args, err := rr.next(); err != nil || string(args[0]) != "PING" {
		t.Fatalf("next request = %q, %v; want [PING]", args, err)
	}
	if held := heldBytes(rr); held > 4*readBufSize+1024*40 {
		t.Errorf("reader holds %d bytes after the large request was consumed", held)
	}
}

// loopReader returns its data over and over, as a client pipelining the
// same batch forever would.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// setPipeline is 100 pipelined "SET key:NNN value-NNN" requests.
func setPipeline() []byte {
	var reqs [][]string
	for i := range 100 {
		reqs = append(reqs, []string{"SET", fmt.Sprintf("key:%03d", i), fmt.Sprintf("value-%03d", i)})
	}
	return []byte(pipeline(reqs...))
}

func TestRequestReaderAllocs(t *testing.T) {
	for _, in := range []struct{ name, data string }{
		{"multibulk", string(setPipeline())},
		{"inline", strings.Repeat("SET \"key 1\" 'value'\r\nGET key\r\n", 50)},
	} {
		t.Run(in.name, func(t *testing.T) {
			rr := newRequestReader(&loopReader{data: []byte(in.data)}, RequestLimits{})
			for range 1000 { // warm up: the argument lists reach their size
				if _, err := rr.next(); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(10000, func() {
				if _, err := rr.next(); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per request, want 0", allocs)
			}
		})
	}
}

// BenchmarkRequestReader reads pipelined SET requests of three arguments;
// one op is one request.
func BenchmarkRequestReader(b *testing.B) {
	data := setPipeline()
	rr := newRequestReader(&loopReader{data: data}, RequestLimits{})
	b.SetBytes(int64(len(data) / 100))
	b.ReportAllocs()
	for b.Loop() {
		args, err := rr.next()
		if err != nil || len(args) != 3 {
			b.Fatal(args, err)
		}
	}
}

// TestRequestReaderPoolsBigBulks: a stream of big requests (a migration's
// DATA) reuses a few pooled buffers instead of allocating one per request;
// each argument reads back exactly, with no spare capacity to write into.
func TestRequestReaderPoolsBigBulks(t *testing.T) {
	const n, size = 40, 200 << 10
	var in bytes.Buffer
	for i := range n {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size-i)
		fmt.Fprintf(&in, "*2\r\n$4\r\nDATA\r\n$%d\r\n%s\r\n", len(v), v)
	}
	r := newRequestReader(&in, RequestLimits{})
	buffers := map[*byte]bool{}
	for i := range n {
		args, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		v := args[1]
		if len(v) != size-i || cap(v) != len(v) || v[0] != byte('a'+i%26) || v[len(v)-1] != byte('a'+i%26) {
			t.Fatalf("request %d: len %d cap %d, want %d bytes of %q", i, len(v), cap(v), size-i, rune('a'+i%26))
		}
		buffers[&v[0]] = true
	}
	// sync.Pool may drop an item now and then (always under -race, one in four).
	if len(buffers) > n/2 {
		t.Fatalf("%d requests of %d KiB read into %d different buffers: the pool is not reused", n, size>>10, len(buffers))
	}
}
