// Client is the Go API to a chkv node: configuration, lifecycle, the routing seam every command goes through, and Do.

package chkv

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Client errors. They belong with the sentinels in errors.go; they live here
// until the client lands.
var (
	// ErrUnknownOutcome marks a call that failed after its request was sent
	// (a timeout, a cancelled ctx, a lost connection): the server may or may
	// not have applied it. It is never returned for a refusal (an error reply).
	ErrUnknownOutcome = errors.New("chkv: outcome unknown")
	// ErrTimeout is returned when a deadline (ctx's, or a configured
	// ReadTimeout or WriteTimeout) passed while waiting on the server.
	ErrTimeout = errors.New("chkv: timeout")
)

// ClientConfig configures a Client. Start from DefaultClientConfig; zero
// fields take their defaults when the Client is made.
type ClientConfig struct {
	// Addr is the node's address, "host:port" for TCP. It is used when
	// neither NameNode nor Seeds is set (single-node mode, no routing) and
	// ignored otherwise.
	Addr string
	// NameNode, when set, is the address of a chkv cluster's NameNode: the
	// Client fetches the partition table from it, watches it for changes,
	// and routes each key to the node leading its slot (see client_cluster.go).
	// A comma-separated list names the NameNodes of a Raft group: any of
	// them serves the table, and one unreachable is skipped.
	NameNode string
	// Seeds are addresses of cluster DataNodes. The Client fetches the table
	// from one of them when the NameNode is unset or unreachable. Setting
	// NameNode or Seeds puts the Client in cluster mode.
	Seeds []string
	// MaxRedirects bounds how often a call in cluster mode is retried after
	// a redirect (MOVED, ASK), a CLUSTERDOWN or TRYAGAIN reply, or a node
	// that refused the connection. Default 5; negative means no retries.
	MaxRedirects int
	// Transport dials Addr; nil dials plain TCP.
	Transport Transport
	// Username and Password are sent with AUTH on every new connection when
	// Password is set. Username may stay empty ("default" user).
	Username, Password string
	// ClusterSecret, when the cluster has one, is presented on the
	// connection that watches the NameNode for new tables (CHKV.WATCH is an
	// internal command). Without it the client refreshes its table on
	// redirects only.
	ClusterSecret string
	// PoolSize caps the connections open to a node; a call waits for a free
	// one while all are busy. Default 10 per GOMAXPROCS.
	PoolSize int
	// DialTimeout caps connecting and authenticating. Default 5s; negative
	// means only ctx bounds it.
	DialTimeout time.Duration
	// ReadTimeout caps the wait for a reply, from the time the request is
	// sent: for a pipeline, for all its replies; a blocking command adds its
	// own timeout. Default 3s; negative means only ctx bounds it.
	ReadTimeout time.Duration
	// WriteTimeout caps writing a request. Default 3s; negative means only
	// ctx bounds it.
	WriteTimeout time.Duration
	// MaxRetries is how often a call is retried on a fresh connection when
	// the pooled one it got turns out closed by the server before any reply
	// byte arrived (a server restart, an idle timeout). Such a request almost
	// certainly never ran; a server that crashed right after running it is
	// the rare exception. Timeouts and cancellations are never retried.
	// Default 1; negative disables retries.
	MaxRetries int
}

// DefaultClientConfig returns the defaults: a node on 127.0.0.1:6379 over
// TCP, 10 connections per GOMAXPROCS, 5s to dial, 3s to read or write, one
// retry on a dead pooled connection.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Addr:         "127.0.0.1:6379",
		PoolSize:     10 * runtime.GOMAXPROCS(0),
		DialTimeout:  5 * time.Second,
		ReadTimeout:  3 * time.Second,
		WriteTimeout: 3 * time.Second,
		MaxRetries:   1,
		MaxRedirects: 5,
	}
}

// validate fills zero fields with their defaults and rejects impossible ones.
func (cfg *ClientConfig) validate() error {
	def := DefaultClientConfig()
	if cfg.Addr == "" && !cfg.clusterMode() {
		return errors.New("chkv: client config: Addr is empty (and neither NameNode nor Seeds is set)")
	}
	if cfg.PoolSize < 0 {
		return fmt.Errorf("chkv: client config: PoolSize %d is negative", cfg.PoolSize)
	}
	if cfg.Transport == nil {
		cfg.Transport = &TCPTransport{}
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = def.PoolSize
	}
	for _, f := range []struct{ v, def *time.Duration }{
		{&cfg.DialTimeout, &def.DialTimeout},
		{&cfg.ReadTimeout, &def.ReadTimeout},
		{&cfg.WriteTimeout, &def.WriteTimeout},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = def.MaxRetries
	}
	switch {
	case cfg.MaxRedirects == 0:
		cfg.MaxRedirects = def.MaxRedirects
	case cfg.MaxRedirects < 0:
		cfg.MaxRedirects = 0
	}
	cfg.Seeds = slices.Clone(cfg.Seeds)
	return nil
}

// Client talks to a chkv node (or any Redis server) over a pool of
// connections. It is safe for concurrent use. Every method takes a ctx whose
// deadline and cancellation bound the call, including the wait for a free
// connection.
//
// A nil value (absent key, empty list, a timed-out blocking pop) is the
// error ErrNil; an error reply is a *RESPError (or *VersionError) that
// errors.Is matches against chkv's sentinels, such as ErrWrongType; a call
// that failed after its request was sent wraps ErrUnknownOutcome.
//
// In cluster mode (ClientConfig.NameNode or Seeds set) the Client routes
// each call by its key's slot to the slot's primary, follows redirects, and
// splits MGet, MSet, Del, Exists and Unlink per slot across the nodes (see
// client_cluster.go). Commands without a key (Ping, Keys, Scan, DBSize,
// FlushDB) go to one node, the primary of slot 0. A Pipeline is sent to the
// node of its first command's key and follows no redirects: queue commands
// of one slot ({hash tags}) in it.
type Client struct {
	cfg       ClientConfig
	closed    chan struct{}
	closeOnce sync.Once

	// cluster is the routing state in cluster mode, nil for a single node.
	cluster *clusterState
	wg      sync.WaitGroup // the table watcher

	mu    sync.Mutex
	pools map[string]*clientPool // by node address
}

// NewClient returns a Client for cfg.Addr. It connects once (and
// authenticates) to check that the node is there, and keeps that connection.
// In cluster mode (cfg.NameNode or cfg.Seeds set) it fetches the partition
// table instead, and starts watching the NameNode when one is configured.
func NewClient(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, closed: make(chan struct{}), pools: map[string]*clientPool{}}
	if cfg.clusterMode() {
		if err := c.startCluster(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	if err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes every connection; calls in flight fail, and later calls
// return ErrClosed. It is safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		if c.cluster != nil {
			c.cluster.stop()
		}
		c.wg.Wait()
		c.mu.Lock()
		pools := c.pools
		c.pools = nil
		c.mu.Unlock()
		for _, p := range pools {
			p.close()
		}
	})
	return nil
}

// poolFor returns the pool of the node at addr, making it on first use.
func (c *Client) poolFor(addr string) (*clientPool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pools == nil {
		return nil, ErrClosed
	}
	p := c.pools[addr]
	if p == nil {
		p = newClientPool(addr, &c.cfg, c.closed)
		c.pools[addr] = p
	}
	return p, nil
}

// nodeFor returns the pool of the node that serves key: the configured
// node, or in cluster mode the primary of Slot(key) in the table (an empty
// key routes as slot 0).
func (c *Client) nodeFor(key string) (*clientPool, error) {
	if c.cluster == nil {
		return c.poolFor(c.cfg.Addr)
	}
	m, err := c.cluster.primary(key)
	if err != nil {
		return nil, err
	}
	return c.poolFor(m.Addr)
}

// do runs one command on the node serving key and returns its reply; an
// error reply is returned as the error. Every typed method goes through do
// (or doBlocking), so routing and redirects have one place to live.
func (c *Client) do(ctx context.Context, key string, args ...any) (any, error) {
	return c.doBlocking(ctx, key, 0, args...)
}

// doBlocking is do for a command that may block on the server for up to
// block (negative: without limit), which the read deadline allows for.
func (c *Client) doBlocking(ctx context.Context, key string, block time.Duration, args ...any) (any, error) {
	if c.cluster != nil {
		return c.clusterDo(ctx, key, block, args)
	}
	p, err := c.nodeFor(key)
	if err != nil {
		return nil, err
	}
	var buf [1]any
	out, err := p.exec(ctx, [][]any{args}, block, buf[:0])
	if err != nil {
		return nil, err
	}
	if err, ok := out[0].(error); ok {
		return nil, err
	}
	return out[0], nil
}

// Do runs any command and returns its reply: a string (simple or bulk), an
// int64, a []any of replies, or nil inside an array. A nil reply is ErrNil.
// Arguments may be strings, byte slices, integers, floats or bools (sent as
// 1 or 0). The command is routed by its second argument, the first key of
// most commands.
//
// Each call may run on a different pooled connection, so a command that
// changes connection state (SELECT, CLIENT SETNAME, MULTI) affects one
// connection only: send such sequences in a Pipeline, which uses one. The
// connections speak RESP2; switching one with HELLO 3 breaks it.
func (c *Client) Do(ctx context.Context, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("chkv: Do: no command")
	}
	v, err := c.do(ctx, routeKey(args), args...)
	if err == nil && v == nil {
		err = ErrNil
	}
	return v, err
}

// routeKey returns the argument a command is routed by: its second, when
// that is a string or bytes.
func routeKey(args []any) string {
	if len(args) > 1 {
		switch k := args[1].(type) {
		case string:
			return k
		case []byte:
			return string(k)
		}
	}
	return ""
}

// Ping checks that the node answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, "", "PING")
	return err
}

// VersionError is the refusal of a versioned write (SetVersion) whose
// expected version did not match. errors.Is(err, ErrVersion) holds.
type VersionError struct {
	// Current is the key's current version as the server reported it; 0
	// when the reply carried none.
	Current uint64
	// Err is the server's error reply.
	Err *RESPError
}

func (e *VersionError) Error() string {
	return "chkv: version mismatch, current version is " + strconv.FormatUint(e.Current, 10)
}

// Unwrap returns the server's reply, which unwraps to ErrVersion.
func (e *VersionError) Unwrap() error { return e.Err }

// clientReplyError turns an error reply into the error a caller sees: a
// *VersionError for a version refusal, else a *RESPError.
func clientReplyError(msg string) error {
	e := &RESPError{Msg: msg}
	if sentinelFor(msg) == ErrVersion {
		return &VersionError{Current: lastUint(msg), Err: e}
	}
	return e
}

// lastUint returns the last run of digits in s as a number, 0 if none or
// too large.
func lastUint(s string) uint64 {
	end := len(s)
	for end > 0 && (s[end-1] < '0' || s[end-1] > '9') {
		end--
	}
	start := end
	for start > 0 && s[start-1] >= '0' && s[start-1] <= '9' {
		start--
	}
	n, err := strconv.ParseUint(s[start:end], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Reply conversions. Each takes a call's (reply, error) and returns the typed
// value, so a method reads `return replyInt(c.do(...))`.

// unexpectedReply reports a reply of the wrong shape for its command.
func unexpectedReply(v any) error {
	return fmt.Errorf("%w: unexpected reply %T", ErrProtocol, v)
}

// replyString returns a bulk or simple string reply; nil is ErrNil.
func replyString(v any, err error) (string, error) {
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case nil:
		return "", ErrNil
	}
	return "", unexpectedReply(v)
}

// replyInt returns an integer reply.
func replyInt(v any, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	if n, ok := v.(int64); ok {
		return n, nil
	}
	if v == nil {
		return 0, ErrNil
	}
	return 0, unexpectedReply(v)
}

// replyBool returns an integer reply as a bool: 1 is true.
func replyBool(v any, err error) (bool, error) {
	n, err := replyInt(v, err)
	return n == 1, err
}

// replyOK returns the error of a status reply; nil (a condition that kept
// the command from running) is ErrNil.
func replyOK(v any, err error) error {
	if err == nil && v == nil {
		return ErrNil
	}
	return err
}

// replyFloat returns a bulk string reply holding a float.
func replyFloat(v any, err error) (float64, error) {
	s, err := replyString(v, err)
	if err != nil {
		return 0, err
	}
	f, perr := strconv.ParseFloat(s, 64)
	if perr != nil {
		return 0, fmt.Errorf("%w: bad float %q", ErrProtocol, s)
	}
	return f, nil
}

// replyStrings returns an array reply of strings; a nil array is ErrNil and
// a nil element becomes "".
func replyStrings(v any, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, ErrNil
		}
		return nil, unexpectedReply(v)
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		switch e := e.(type) {
		case string:
			out[i] = e
		case nil:
		default:
			return nil, unexpectedReply(e)
		}
	}
	return out, nil
}

// replyPair returns a two-string array reply, such as BLPOP's key and
// value; a nil array is ErrNil.
func replyPair(v any, err error) (string, string, error) {
	s, err := replyStrings(v, err)
	if err != nil {
		return "", "", err
	}
	if len(s) != 2 {
		return "", "", fmt.Errorf("%w: want 2 elements, got %d", ErrProtocol, len(s))
	}
	return s[0], s[1], nil
}
