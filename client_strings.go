// Client string commands: get and set with per-call options, counters, ranges, batches and chkv's versioned reads and writes.

package chkv

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SetOption is a per-call option of Set, SetNX and SetVersion.
type SetOption func(*setOptions)

// setOptions collects SetOptions.
type setOptions struct {
	ttl     time.Duration
	at      time.Time
	nx, xx  bool
	keepTTL bool
}

// WithTTL makes the key expire after d (millisecond precision, at least
// 1ms). Zero means no expiry; a negative d is refused. Of WithTTL,
// WithExpireAt and WithKeepTTL the last one given applies.
func WithTTL(d time.Duration) SetOption {
	return func(o *setOptions) { *o = setOptions{ttl: d, nx: o.nx, xx: o.xx} }
}

// WithExpireAt makes the key expire at t (millisecond precision).
func WithExpireAt(t time.Time) SetOption {
	return func(o *setOptions) { *o = setOptions{at: t, nx: o.nx, xx: o.xx} }
}

// WithKeepTTL keeps the key's current expiry instead of clearing it.
func WithKeepTTL() SetOption {
	return func(o *setOptions) { *o = setOptions{keepTTL: true, nx: o.nx, xx: o.xx} }
}

// WithNX writes only when the key does not exist. Of WithNX and WithXX the
// last one given applies.
func WithNX() SetOption { return func(o *setOptions) { o.nx, o.xx = true, false } }

// WithXX writes only when the key exists.
func WithXX() SetOption { return func(o *setOptions) { o.nx, o.xx = false, true } }

// collectSetOptions applies opts and checks the TTL.
func collectSetOptions(opts []SetOption) (setOptions, error) {
	var o setOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.ttl < 0 {
		return o, fmt.Errorf("chkv: negative TTL %v", o.ttl)
	}
	return o, nil
}

// ceilMillis returns d in whole milliseconds, rounded up.
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// setArgs returns the SET command for key, value and opts.
func setArgs(key, value string, opts []SetOption) ([]any, error) {
	o, err := collectSetOptions(opts)
	if err != nil {
		return nil, err
	}
	args := append(make([]any, 0, 7), "SET", key, value)
	switch {
	case o.ttl > 0:
		args = append(args, "PX", ceilMillis(o.ttl))
	case !o.at.IsZero():
		args = append(args, "PXAT", o.at.UnixMilli())
	case o.keepTTL:
		args = append(args, "KEEPTTL")
	}
	switch {
	case o.nx:
		args = append(args, "NX")
	case o.xx:
		args = append(args, "XX")
	}
	return args, nil
}

// Get returns the value of key, or ErrNil when the key does not exist.
func (c *Client) Get(ctx context.Context, key string) (string, error) {
	return replyString(c.do(ctx, key, "GET", key))
}

// Set sets key to value, by default without expiry (use WithTTL,
// WithExpireAt or WithKeepTTL). With WithNX or WithXX, a write skipped
// because of the condition returns ErrNil.
func (c *Client) Set(ctx context.Context, key, value string, opts ...SetOption) error {
	args, err := setArgs(key, value, opts)
	if err != nil {
		return err
	}
	return replyOK(c.do(ctx, key, args...))
}

// SetNX sets key to value only if key does not exist, and reports whether it
// did. opts may add an expiry.
func (c *Client) SetNX(ctx context.Context, key, value string, opts ...SetOption) (bool, error) {
	err := c.Set(ctx, key, value, append(opts[:len(opts):len(opts)], WithNX())...)
	if errors.Is(err, ErrNil) {
		return false, nil
	}
	return err == nil, err
}

// GetSet sets key to value and returns the old value (ErrNil when there was
// none; the write happens anyway).
func (c *Client) GetSet(ctx context.Context, key, value string) (string, error) {
	return replyString(c.do(ctx, key, "GETSET", key, value))
}

// GetDel returns the value of key and deletes it; ErrNil when absent.
func (c *Client) GetDel(ctx context.Context, key string) (string, error) {
	return replyString(c.do(ctx, key, "GETDEL", key))
}

// GetEx returns the value of key and sets its expiry to ttl from now, or
// removes its expiry when ttl is 0; ErrNil when absent.
func (c *Client) GetEx(ctx context.Context, key string, ttl time.Duration) (string, error) {
	switch {
	case ttl < 0:
		return "", fmt.Errorf("chkv: negative TTL %v", ttl)
	case ttl == 0:
		return replyString(c.do(ctx, key, "GETEX", key, "PERSIST"))
	}
	return replyString(c.do(ctx, key, "GETEX", key, "PX", ceilMillis(ttl)))
}

// MGet returns the values of keys; a key that does not exist (or does not
// hold a string) is left out of the map. In cluster mode the keys are read
// per slot from their nodes in parallel.
func (c *Client) MGet(ctx context.Context, keys ...string) (map[string]string, error) {
	if len(keys) == 0 {
		return map[string]string{}, nil
	}
	if c.cluster != nil {
		return c.clusterMGet(ctx, keys)
	}
	args := make([]any, 0, 1+len(keys))
	args = append(args, "MGET")
	for _, k := range keys {
		args = append(args, k)
	}
	v, err := c.do(ctx, keys[0], args...)
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != len(keys) {
		return nil, unexpectedReply(v)
	}
	out := make(map[string]string, len(keys))
	for i, e := range arr {
		switch e := e.(type) {
		case string:
			out[keys[i]] = e
		case nil:
		default:
			return nil, unexpectedReply(e)
		}
	}
	return out, nil
}

// pairArgs returns cmd followed by the keys and values of kv, and one key.
func pairArgs(cmd string, kv map[string]string) (args []any, key string) {
	args = make([]any, 0, 1+2*len(kv))
	args = append(args, cmd)
	for k, v := range kv {
		args = append(args, k, v)
		key = k
	}
	return args, key
}

// MSet sets every key of kv to its value. An empty kv does nothing.
//
// In cluster mode the keys are split per slot, one MSET each, sent to the
// slots' nodes in parallel: MSet is then atomic per slot only, not across
// slots, and on an error some slots may have been written and others not.
// Keys sharing a {hash tag} share a slot.
func (c *Client) MSet(ctx context.Context, kv map[string]string) error {
	if len(kv) == 0 {
		return nil
	}
	if c.cluster != nil {
		return c.clusterMSet(ctx, kv)
	}
	args, key := pairArgs("MSET", kv)
	_, err := c.do(ctx, key, args...)
	return err
}

// MSetNX sets every key of kv to its value only if none of them exists, and
// reports whether it did.
func (c *Client) MSetNX(ctx context.Context, kv map[string]string) (bool, error) {
	if len(kv) == 0 {
		return true, nil
	}
	args, key := pairArgs("MSETNX", kv)
	return replyBool(c.do(ctx, key, args...))
}

// Append appends value to the string at key (creating it) and returns the
// new length.
func (c *Client) Append(ctx context.Context, key, value string) (int64, error) {
	return replyInt(c.do(ctx, key, "APPEND", key, value))
}

// StrLen returns the length of the string at key, 0 when absent.
func (c *Client) StrLen(ctx context.Context, key string) (int64, error) {
	return replyInt(c.do(ctx, key, "STRLEN", key))
}

// GetRange returns the bytes of the string at key from start to end, both
// inclusive; negative offsets count from the end.
func (c *Client) GetRange(ctx context.Context, key string, start, end int64) (string, error) {
	return replyString(c.do(ctx, key, "GETRANGE", key, start, end))
}

// SetRange overwrites the string at key from offset on with value (padding
// with zero bytes) and returns the new length.
func (c *Client) SetRange(ctx context.Context, key string, offset int64, value string) (int64, error) {
	return replyInt(c.do(ctx, key, "SETRANGE", key, offset, value))
}

// Incr adds 1 to the integer at key (absent counts as 0) and returns the
// result; ErrNotInteger when the value is not an integer.
func (c *Client) Incr(ctx context.Context, key string) (int64, error) {
	return replyInt(c.do(ctx, key, "INCR", key))
}

// IncrBy adds n to the integer at key and returns the result.
func (c *Client) IncrBy(ctx context.Context, key string, n int64) (int64, error) {
	return replyInt(c.do(ctx, key, "INCRBY", key, n))
}

// Decr subtracts 1 from the integer at key and returns the result.
func (c *Client) Decr(ctx context.Context, key string) (int64, error) {
	return replyInt(c.do(ctx, key, "DECR", key))
}

// DecrBy subtracts n from the integer at key and returns the result.
func (c *Client) DecrBy(ctx context.Context, key string, n int64) (int64, error) {
	return replyInt(c.do(ctx, key, "DECRBY", key, n))
}

// IncrByFloat adds f to the number at key and returns the result.
func (c *Client) IncrByFloat(ctx context.Context, key string, f float64) (float64, error) {
	return replyFloat(c.do(ctx, key, "INCRBYFLOAT", key, f))
}

// GetVersion returns the value of key and its version (chkv only); ErrNil
// when the key does not exist.
func (c *Client) GetVersion(ctx context.Context, key string) (value string, version uint64, err error) {
	v, err := c.do(ctx, key, "CHKV.GETV", key)
	if err != nil {
		return "", 0, err
	}
	arr, ok := v.([]any)
	if v == nil || ok && len(arr) == 0 {
		return "", 0, ErrNil
	}
	if !ok || len(arr) != 2 {
		return "", 0, unexpectedReply(v)
	}
	value, ok = arr[0].(string)
	if !ok {
		return "", 0, unexpectedReply(arr[0])
	}
	version, err = replyVersion(arr[1], nil)
	return value, version, err
}

// SetVersion sets key to value if the key's version is still version, and
// returns the new version (chkv only). Version 0 writes unconditionally. On
// a mismatch the error is a *VersionError carrying the current version, and
// errors.Is(err, ErrVersion) holds. Of the options only WithTTL applies (in
// whole seconds, rounded up).
func (c *Client) SetVersion(ctx context.Context, key, value string, version uint64, opts ...SetOption) (uint64, error) {
	o, err := collectSetOptions(opts)
	if err != nil {
		return 0, err
	}
	if o.nx || o.xx || o.keepTTL || !o.at.IsZero() {
		return 0, errors.New("chkv: SetVersion takes only WithTTL")
	}
	args := []any{"CHKV.SETV", key, value, version}
	if o.ttl > 0 {
		args = append(args, "EX", int64((o.ttl+time.Second-1)/time.Second))
	}
	return replyVersion(c.do(ctx, key, args...))
}

// Version returns the version of key, 0 when it does not exist (chkv only).
func (c *Client) Version(ctx context.Context, key string) (uint64, error) {
	return replyVersion(c.do(ctx, key, "CHKV.VERSION", key))
}

// replyVersion returns a version reply: a non-negative integer, or a string
// holding one.
func replyVersion(v any, err error) (uint64, error) {
	if s, ok := v.(string); ok && err == nil {
		n, ok := parseClientInt([]byte(s))
		if !ok {
			return 0, fmt.Errorf("%w: bad version %q", ErrProtocol, s)
		}
		v = n
	}
	n, err := replyInt(v, err)
	if err == nil && n < 0 {
		return 0, fmt.Errorf("%w: negative version %d", ErrProtocol, n)
	}
	return uint64(n), err
}
