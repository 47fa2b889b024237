// Client keyspace and server commands: delete, exist, expire, rename, type, scan, and the database size.

package chkv

import (
	"context"
	"iter"
	"time"
)

// TTL results that are not durations.
const (
	// TTLNoExpiry is what TTL returns for a key that exists without expiry.
	TTLNoExpiry time.Duration = -1
	// TTLNoKey is what TTL returns for a key that does not exist.
	TTLNoKey time.Duration = -2
)

// keysArgs returns cmd followed by keys.
func keysArgs(cmd string, keys []string) []any {
	args := make([]any, 0, 1+len(keys))
	args = append(args, cmd)
	for _, k := range keys {
		args = append(args, k)
	}
	return args
}

// firstKey returns the first of keys, or "".
func firstKey(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// Del deletes keys and returns how many existed. In cluster mode the keys
// are deleted per slot on their nodes in parallel (atomic per slot only).
func (c *Client) Del(ctx context.Context, keys ...string) (int64, error) {
	if c.cluster != nil && len(keys) > 0 {
		return c.clusterCount(ctx, "DEL", keys)
	}
	return replyInt(c.do(ctx, firstKey(keys), keysArgs("DEL", keys)...))
}

// Unlink is Del with the memory reclaimed in the background.
func (c *Client) Unlink(ctx context.Context, keys ...string) (int64, error) {
	if c.cluster != nil && len(keys) > 0 {
		return c.clusterCount(ctx, "UNLINK", keys)
	}
	return replyInt(c.do(ctx, firstKey(keys), keysArgs("UNLINK", keys)...))
}

// Exists returns how many of keys exist (a key named twice counts twice).
func (c *Client) Exists(ctx context.Context, keys ...string) (int64, error) {
	if c.cluster != nil && len(keys) > 0 {
		return c.clusterCount(ctx, "EXISTS", keys)
	}
	return replyInt(c.do(ctx, firstKey(keys), keysArgs("EXISTS", keys)...))
}

// Type returns the kind of value at key: "string", "list", or "none" when
// the key does not exist.
func (c *Client) Type(ctx context.Context, key string) (string, error) {
	return replyString(c.do(ctx, key, "TYPE", key))
}

// Expire makes key expire after d (millisecond precision, rounded up; zero
// or negative deletes it) and reports whether the key exists.
func (c *Client) Expire(ctx context.Context, key string, d time.Duration) (bool, error) {
	return replyBool(c.do(ctx, key, "PEXPIRE", key, ceilMillis(max(d, 0))))
}

// ExpireAt makes key expire at t (millisecond precision) and reports
// whether the key exists.
func (c *Client) ExpireAt(ctx context.Context, key string, t time.Time) (bool, error) {
	return replyBool(c.do(ctx, key, "PEXPIREAT", key, t.UnixMilli()))
}

// TTL returns the time key has left to live, in milliseconds, TTLNoExpiry
// when the key has no expiry and TTLNoKey when it does not exist.
func (c *Client) TTL(ctx context.Context, key string) (time.Duration, error) {
	n, err := replyInt(c.do(ctx, key, "PTTL", key))
	if err != nil {
		return 0, err
	}
	switch n {
	case -1:
		return TTLNoExpiry, nil
	case -2:
		return TTLNoKey, nil
	}
	return time.Duration(n) * time.Millisecond, nil
}

// Persist removes the expiry of key and reports whether it had one.
func (c *Client) Persist(ctx context.Context, key string) (bool, error) {
	return replyBool(c.do(ctx, key, "PERSIST", key))
}

// Rename renames key to newKey, replacing newKey; an error when key does
// not exist.
func (c *Client) Rename(ctx context.Context, key, newKey string) error {
	_, err := c.do(ctx, key, "RENAME", key, newKey)
	return err
}

// RenameNX renames key to newKey only if newKey does not exist, and reports
// whether it did.
func (c *Client) RenameNX(ctx context.Context, key, newKey string) (bool, error) {
	return replyBool(c.do(ctx, key, "RENAMENX", key, newKey))
}

// Keys returns every key matching the glob pattern. It walks the whole
// keyspace in one command; prefer Scan on a large database.
func (c *Client) Keys(ctx context.Context, pattern string) ([]string, error) {
	return replyStrings(c.do(ctx, "", "KEYS", pattern))
}

// Scan iterates over the keys matching the glob pattern (all keys when
// empty), count at a time as a hint (0: the server's default). As with
// SCAN, a key may be seen more than once, and keys added or removed
// meanwhile may or may not be seen. An error ends the iteration.
func (c *Client) Scan(ctx context.Context, pattern string, count int64) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		cursor := "0"
		for {
			args := []any{"SCAN", cursor}
			if pattern != "" {
				args = append(args, "MATCH", pattern)
			}
			if count > 0 {
				args = append(args, "COUNT", count)
			}
			v, err := c.do(ctx, "", args...)
			arr, ok := v.([]any)
			if err == nil && (!ok || len(arr) != 2) {
				err = unexpectedReply(v)
			}
			var keys []string
			if err == nil {
				cursor, ok = arr[0].(string)
				if !ok {
					err = unexpectedReply(arr[0])
				}
			}
			if err == nil {
				keys, err = replyStrings(arr[1], nil)
			}
			if err != nil {
				yield("", err)
				return
			}
			for _, k := range keys {
				if !yield(k, nil) {
					return
				}
			}
			if cursor == "0" {
				return
			}
		}
	}
}

// DBSize returns the number of keys on the node.
func (c *Client) DBSize(ctx context.Context) (int64, error) {
	return replyInt(c.do(ctx, "", "DBSIZE"))
}

// FlushDB deletes every key on the node.
func (c *Client) FlushDB(ctx context.Context) error {
	_, err := c.do(ctx, "", "FLUSHDB")
	return err
}
