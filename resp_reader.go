// Temporary request reader; replaced by the bounded parser from the parser branch.

package chkv

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
)

// RequestLimits bounds what one client may make a server hold.
type RequestLimits struct {
	MaxBulk   int
	MaxArgs   int
	MaxInline int
}

// DefaultRequestLimits returns the default limits.
func DefaultRequestLimits() RequestLimits {
	return RequestLimits{MaxBulk: 64 << 20, MaxArgs: 1 << 20, MaxInline: 64 << 10}
}

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
	return l
}

// ProtocolError is a violation of the request protocol.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return e.Msg }

type requestReader struct {
	br   *bufio.Reader
	lim  RequestLimits
	args [][]byte
}

func newRequestReader(rd io.Reader, lim RequestLimits) *requestReader {
	return &requestReader{br: bufio.NewReaderSize(rd, 16<<10), lim: lim.withDefaults()}
}

func (r *requestReader) buffered() int { return r.br.Buffered() }

func (r *requestReader) line() ([]byte, error) {
	l, err := r.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(l, "\r\n"), nil
}

func (r *requestReader) next() ([][]byte, error) {
	for {
		l, err := r.line()
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			continue
		}
		if l[0] != '*' {
			r.args = r.args[:0]
			for _, f := range bytes.Fields(l) {
				r.args = append(r.args, append([]byte(nil), f...))
			}
			if len(r.args) == 0 {
				continue
			}
			return r.args, nil
		}
		n, err := strconv.Atoi(string(l[1:]))
		if err != nil || n > r.lim.MaxArgs {
			return nil, &ProtocolError{"Protocol error: invalid multibulk length"}
		}
		if n <= 0 {
			continue
		}
		r.args = r.args[:0]
		for range n {
			l, err := r.line()
			if err != nil {
				return nil, err
			}
			if len(l) == 0 || l[0] != '$' {
				return nil, &ProtocolError{"Protocol error: expected '$', got '" + string(l[:1]) + "'"}
			}
			m, err := strconv.Atoi(string(l[1:]))
			if err != nil || m < 0 || m > r.lim.MaxBulk {
				return nil, &ProtocolError{"Protocol error: invalid bulk length"}
			}
			b := make([]byte, m+2)
			if _, err := io.ReadFull(r.br, b); err != nil {
				return nil, err
			}
			r.args = append(r.args, b[:m])
		}
		return r.args, nil
	}
}
