// Client connections: one RESP connection (request writer, bounded reply reader) and the bounded pool of them for one node.

package chkv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits the reply reader puts on what a server may send. A server is not
// trusted blindly: a declared length is checked against these before anything
// is read, and memory is only taken as bytes arrive.
const (
	// clientMaxBulk caps one bulk string (as the server's proto-max-bulk-len).
	clientMaxBulk = 512 << 20
	// clientMaxElems caps the declared element count of one array.
	clientMaxElems = 1 << 28
	// clientMaxDepth caps how deeply arrays may nest in one reply.
	clientMaxDepth = 32
	// clientPrealloc caps what a declared length may allocate up front:
	// bytes of a bulk string, elements of an array.
	clientPrealloc = 64 << 10
	// clientReadBuf is the reader's buffer size, which is also the longest
	// simple-string, error or length line a reply may hold.
	clientReadBuf = 16 << 10
	// clientKeepBuf is the largest request buffer kept between commands.
	clientKeepBuf = 64 << 10
)

// clientConn is one connection to a node. The pool hands it to one caller at
// a time, so it needs no lock.
type clientConn struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte // request buffer, reused between commands
	// reused is set when the conn came from the idle list rather than a fresh
	// dial; only such a conn may be found dead by surprise and retried.
	reused bool
	// broken is set when the conn's stream may be out of step or its
	// deadlines poisoned: it must be closed, not reused.
	broken bool
}

// newClientConn wraps nc.
func newClientConn(nc net.Conn) *clientConn {
	return &clientConn{nc: nc, br: bufio.NewReaderSize(nc, clientReadBuf)}
}

// clientPool is the bounded pool of connections to one node, known by its
// address. Today a Client has one; the cluster client keeps one per node.
type clientPool struct {
	addr   string
	cfg    *ClientConfig   // dial, handshake and timeouts; read-only
	closed <-chan struct{} // the owning client's closed channel
	slots  chan struct{}   // a token per conn handed out or being dialed

	mu       sync.Mutex
	idle     []*clientConn            // most recently used last
	all      map[*clientConn]struct{} // every open conn, idle or handed out
	isClosed bool
}

// newClientPool returns an empty pool for addr.
func newClientPool(addr string, cfg *ClientConfig, closed <-chan struct{}) *clientPool {
	return &clientPool{
		addr:   addr,
		cfg:    cfg,
		closed: closed,
		slots:  make(chan struct{}, cfg.PoolSize),
		all:    make(map[*clientConn]struct{}),
	}
}

// get hands out a conn: an idle one, or a new one when none is idle or
// fresh is set. It waits for a free slot while PoolSize conns are out,
// until ctx is done or the client closes.
func (p *clientPool) get(ctx context.Context, fresh bool) (*clientConn, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.closed:
			return nil, ErrClosed
		}
	}
	p.mu.Lock()
	if p.isClosed {
		p.mu.Unlock()
		<-p.slots
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 && !fresh {
		cn := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		cn.reused = true
		return cn, nil
	}
	p.mu.Unlock()
	cn, err := p.dial(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	p.mu.Lock()
	if p.isClosed {
		p.mu.Unlock()
		cn.nc.Close()
		<-p.slots
		return nil, ErrClosed
	}
	p.all[cn] = struct{}{}
	p.mu.Unlock()
	return cn, nil
}

// put gives cn back: to the idle list when healthy, closed when broken (its
// stream may be out of step) or when the pool has closed.
func (p *clientPool) put(cn *clientConn, broken bool) {
	if len(cn.buf) > clientKeepBuf {
		cn.buf = nil
	}
	p.mu.Lock()
	if broken || p.isClosed {
		delete(p.all, cn)
		p.mu.Unlock()
		cn.nc.Close()
	} else {
		p.idle = append(p.idle, cn)
		p.mu.Unlock()
	}
	<-p.slots
}

// retire closes the pool gently, for a node gone from the table: idle conns
// close now, conns in use when they come back, and get fails with ErrClosed.
func (p *clientPool) retire() {
	p.mu.Lock()
	p.isClosed = true
	idle := p.idle
	p.idle = nil
	for _, cn := range idle {
		delete(p.all, cn)
	}
	p.mu.Unlock()
	for _, cn := range idle {
		cn.nc.Close()
	}
}

// clientDialError is a failure to connect to a node: nothing was sent.
type clientDialError struct {
	addr string
	err  error
}

func (e *clientDialError) Error() string { return "chkv: dial " + e.addr + ": " + e.err.Error() }
func (e *clientDialError) Unwrap() error { return e.err }

// close closes every conn, idle or in use; a call in flight fails at once.
func (p *clientPool) close() {
	p.mu.Lock()
	p.isClosed = true
	all := p.all
	p.all = map[*clientConn]struct{}{}
	p.idle = nil
	p.mu.Unlock()
	for cn := range all {
		cn.nc.Close()
	}
}

// stats reports the conns open and idle, for tests.
func (p *clientPool) stats() (open, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all), len(p.idle)
}

// dial opens a conn and authenticates it, within DialTimeout.
func (p *clientPool) dial(ctx context.Context) (*clientConn, error) {
	if p.cfg.DialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.DialTimeout)
		defer cancel()
	}
	nc, err := p.cfg.Transport.Dial(ctx, p.addr)
	if err != nil {
		return nil, &clientDialError{addr: p.addr, err: err}
	}
	cn := newClientConn(nc)
	if p.cfg.Password == "" {
		return cn, nil
	}
	auth := []any{"AUTH", p.cfg.Password}
	if p.cfg.Username != "" {
		auth = []any{"AUTH", p.cfg.Username, p.cfg.Password}
	}
	v, err := p.roundTrip(ctx, cn, [][]any{auth}, 0, nil)
	if err == nil && len(v) == 1 {
		err, _ = v[0].(error)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("chkv: auth %s: %w", p.addr, err)
	}
	return cn, nil
}

// exec sends cmds on one conn in a single write and reads their replies in
// order into out. An error reply is an error value in its slot, not a
// failure; a failure (I/O, protocol, timeout) discards the conn. block is
// extra read time for blocking commands: 0 none, negative forever.
//
// A failure after the request was sent wraps ErrUnknownOutcome and is not
// retried: the server may have run it. A conn from the idle list whose
// write fails before any byte went out (the server closed it meanwhile) is
// replaced and the request retried on a new conn, MaxRetries times.
func (p *clientPool) exec(ctx context.Context, cmds [][]any, block time.Duration, out []any) ([]any, error) {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cn, err := p.get(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		reused := cn.reused
		if reused && connGone(cn.nc) {
			// Closed by the server while idle: nothing was sent, so the
			// request goes on a fresh conn.
			cn.broken = true
			p.put(cn, true)
			if attempt < p.cfg.MaxRetries {
				continue
			}
			return nil, fmt.Errorf("chkv: %w", net.ErrClosed)
		}
		res, err := p.roundTrip(ctx, cn, cmds, block, out[:0])
		p.put(cn, cn.broken)
		var ce *clientConnError
		if !errors.As(err, &ce) {
			return res, err // replies, or refused before anything was sent
		}
		if reused && ce.peerClosed && attempt < p.cfg.MaxRetries {
			continue
		}
		return nil, p.failure(ctx, ce)
	}
}

// clientConnError is a failure of a conn's stream, which breaks the conn.
type clientConnError struct {
	err        error
	sent       bool // the request (or part of it) went out
	peerClosed bool // the peer had closed the conn before any request byte went out
}

func (e *clientConnError) Error() string { return e.err.Error() }
func (e *clientConnError) Unwrap() error { return e.err }

// failure turns a stream failure into the error a caller sees: the cause
// (closed client, ctx done, timeout, or the I/O or protocol error), wrapped
// in ErrUnknownOutcome once the request was sent.
func (p *clientPool) failure(ctx context.Context, ce *clientConnError) error {
	cause := ce.err
	deadline, hasDeadline := ctx.Deadline()
	select {
	case <-p.closed:
		cause = ErrClosed
	default:
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			cause = context.Canceled
		case ctx.Err() != nil || hasDeadline && !time.Now().Before(deadline) && errors.Is(cause, os.ErrDeadlineExceeded):
			cause = fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
		case errors.Is(cause, os.ErrDeadlineExceeded):
			cause = fmt.Errorf("%w: %w", ErrTimeout, cause)
		}
	}
	if ce.sent {
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, cause)
	}
	return cause
}

// roundTrip writes cmds to cn and reads one reply each. Deadlines come from
// ctx and the configured timeouts; cancelling ctx interrupts the I/O. An
// argument that cannot be encoded fails before anything is sent, as a plain
// error; every other failure is a *clientConnError and marks cn broken.
func (p *clientPool) roundTrip(ctx context.Context, cn *clientConn, cmds [][]any, block time.Duration, out []any) ([]any, error) {
	out, err := p.roundTripRaw(ctx, cn, cmds, block, out)
	if _, ok := err.(*clientConnError); ok {
		cn.broken = true
	}
	return out, err
}

// roundTripRaw is roundTrip without marking cn broken on failure.
func (p *clientPool) roundTripRaw(ctx context.Context, cn *clientConn, cmds [][]any, block time.Duration, out []any) (_ []any, err error) {
	buf := cn.buf[:0]
	for _, args := range cmds {
		if buf, err = appendClientCommand(buf, args); err != nil {
			cn.buf = buf
			return nil, err
		}
	}
	cn.buf = buf

	ctxDeadline, hasDeadline := ctx.Deadline()
	within := func(now time.Time, d time.Duration) time.Time {
		var t time.Time
		if d > 0 {
			t = now.Add(d)
		}
		if hasDeadline && (t.IsZero() || ctxDeadline.Before(t)) {
			t = ctxDeadline
		}
		return t
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				// The interrupt ran, or is running, and may poison a
				// later use of the conn's deadlines: drop the conn.
				cn.broken = true
			}
		}()
	}

	now := time.Now()
	if err := cn.nc.SetWriteDeadline(within(now, p.cfg.WriteTimeout)); err != nil {
		return nil, &clientConnError{err: err}
	}
	if n, err := cn.nc.Write(buf); err != nil {
		return nil, &clientConnError{err: err, sent: n > 0, peerClosed: n == 0 && isPeerClosed(err)}
	}
	rd := within(now, 0)
	if block >= 0 && p.cfg.ReadTimeout > 0 {
		rd = within(now, p.cfg.ReadTimeout+block)
	}
	if err := cn.nc.SetReadDeadline(rd); err != nil {
		return nil, &clientConnError{err: err, sent: true}
	}
	if _, err := cn.br.Peek(1); err != nil {
		// The request went out: the server may have run it before the
		// conn broke, so this is never retried.
		return nil, &clientConnError{err: err, sent: true}
	}
	for range cmds {
		v, err := readClientReply(cn.br, 0)
		if err != nil {
			return nil, &clientConnError{err: err, sent: true}
		}
		out = append(out, v)
	}
	return out, nil
}

// isPeerClosed reports whether err says the other side closed the conn.
func isPeerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// appendClientCommand appends args to b as a RESP array of bulk strings.
// Arguments may be strings, byte slices, integers, floats or bools (1 or 0).
func appendClientCommand(b []byte, args []any) ([]byte, error) {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	var num [32]byte
	for _, a := range args {
		var s []byte
		switch v := a.(type) {
		case string:
			b = appendClientBulk(b, len(v))
			b = append(b, v...)
			b = append(b, '\r', '\n')
			continue
		case []byte:
			s = v
		case int:
			s = strconv.AppendInt(num[:0], int64(v), 10)
		case int64:
			s = strconv.AppendInt(num[:0], v, 10)
		case int32:
			s = strconv.AppendInt(num[:0], int64(v), 10)
		case int16:
			s = strconv.AppendInt(num[:0], int64(v), 10)
		case int8:
			s = strconv.AppendInt(num[:0], int64(v), 10)
		case uint:
			s = strconv.AppendUint(num[:0], uint64(v), 10)
		case uint64:
			s = strconv.AppendUint(num[:0], v, 10)
		case uint32:
			s = strconv.AppendUint(num[:0], uint64(v), 10)
		case uint16:
			s = strconv.AppendUint(num[:0], uint64(v), 10)
		case uint8:
			s = strconv.AppendUint(num[:0], uint64(v), 10)
		case float64:
			s = appendClientFloat(num[:0], v, 64)
		case float32:
			s = appendClientFloat(num[:0], float64(v), 32)
		case bool:
			s = append(num[:0], '0')
			if v {
				s[0] = '1'
			}
		default:
			return b, fmt.Errorf("chkv: cannot send argument of type %T", a)
		}
		b = appendClientBulk(b, len(s))
		b = append(b, s...)
		b = append(b, '\r', '\n')
	}
	return b, nil
}

// appendClientBulk appends a bulk string header for n bytes.
func appendClientBulk(b []byte, n int) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// appendClientFloat formats f the way Redis reads it back ("inf", "-inf").
func appendClientFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, bits)
}

// clientProtoError reports a malformed reply.
func clientProtoError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// readClientReply reads one RESP2 reply: a string (simple or bulk), an
// int64, nil (nil bulk or nil array), a []any, or an error value for an
// error reply (*RESPError, or *VersionError for a version refusal). Arrays
// nest at most clientMaxDepth deep, so recursion stays shallow; lengths are
// checked before use and large values are read as their bytes arrive.
func readClientReply(br *bufio.Reader, depth int) (any, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		switch {
		case err == bufio.ErrBufferFull:
			return nil, clientProtoError("reply line longer than %d bytes", clientReadBuf)
		case err == io.EOF && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, clientProtoError("reply line not ended by CRLF")
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return string(body), nil
	case '-':
		return clientReplyError(string(body)), nil
	case ':':
		n, ok := parseClientInt(body)
		if !ok {
			return nil, clientProtoError("bad integer %q", body)
		}
		return n, nil
	case '$':
		n, ok := parseClientInt(body)
		switch {
		case !ok || n < -1:
			return nil, clientProtoError("bad bulk length %q", body)
		case n == -1:
			return nil, nil
		case n > clientMaxBulk:
			return nil, clientProtoError("bulk length %d over the limit of %d", n, clientMaxBulk)
		}
		return readClientBulk(br, int(n))
	case '*':
		n, ok := parseClientInt(body)
		switch {
		case !ok || n < -1:
			return nil, clientProtoError("bad array length %q", body)
		case n == -1:
			return nil, nil
		case n > clientMaxElems:
			return nil, clientProtoError("array length %d over the limit of %d", n, clientMaxElems)
		case depth >= clientMaxDepth:
			return nil, clientProtoError("arrays nested deeper than %d", clientMaxDepth)
		}
		arr := make([]any, 0, min(int(n), clientPrealloc/16))
		for range n {
			v, err := readClientReply(br, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	}
	return nil, clientProtoError("unexpected reply type %q", line[0])
}

// readClientBulk reads a bulk string of n bytes and its CRLF. Memory grows
// with the bytes that arrive, not with the declared length.
func readClientBulk(br *bufio.Reader, n int) (string, error) {
	var sb strings.Builder
	sb.Grow(min(n, clientPrealloc))
	for rest := n; rest > 0; {
		chunk, err := br.Peek(min(rest, br.Size()))
		sb.Write(chunk)
		br.Discard(len(chunk))
		rest -= len(chunk)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	crlf, err := br.Peek(2)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	if crlf[0] != '\r' || crlf[1] != '\n' {
		return "", clientProtoError("bulk string not ended by CRLF")
	}
	br.Discard(2)
	return sb.String(), nil
}

// parseClientInt parses a decimal int64 without allocating.
func parseClientInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return int64(-n), true
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}
