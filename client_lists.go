// Client list commands: push, pop (counted and blocking), ranges, edits and moves between lists.

package chkv

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// ListEnd names an end of a list for LMove and BLMove.
type ListEnd string

// The two ends of a list.
const (
	ListLeft  ListEnd = "LEFT"
	ListRight ListEnd = "RIGHT"
)

// pushArgs returns cmd, key and values.
func pushArgs(cmd, key string, values []string) []any {
	args := make([]any, 0, 2+len(values))
	args = append(args, cmd, key)
	for _, v := range values {
		args = append(args, v)
	}
	return args
}

// LPush inserts values at the head of the list at key (creating it), one
// after the other, and returns the new length.
func (c *Client) LPush(ctx context.Context, key string, values ...string) (int64, error) {
	return replyInt(c.do(ctx, key, pushArgs("LPUSH", key, values)...))
}

// RPush appends values to the tail of the list at key (creating it) and
// returns the new length.
func (c *Client) RPush(ctx context.Context, key string, values ...string) (int64, error) {
	return replyInt(c.do(ctx, key, pushArgs("RPUSH", key, values)...))
}

// LPushX is LPush only when the list exists; it returns 0 when it does not.
func (c *Client) LPushX(ctx context.Context, key string, values ...string) (int64, error) {
	return replyInt(c.do(ctx, key, pushArgs("LPUSHX", key, values)...))
}

// RPushX is RPush only when the list exists; it returns 0 when it does not.
func (c *Client) RPushX(ctx context.Context, key string, values ...string) (int64, error) {
	return replyInt(c.do(ctx, key, pushArgs("RPUSHX", key, values)...))
}

// LPop removes and returns the head of the list at key; ErrNil when the
// list is empty or absent.
func (c *Client) LPop(ctx context.Context, key string) (string, error) {
	return replyString(c.do(ctx, key, "LPOP", key))
}

// RPop removes and returns the tail of the list at key; ErrNil when the
// list is empty or absent.
func (c *Client) RPop(ctx context.Context, key string) (string, error) {
	return replyString(c.do(ctx, key, "RPOP", key))
}

// LPopCount removes and returns up to n elements from the head of the list
// at key; ErrNil when the list is absent.
func (c *Client) LPopCount(ctx context.Context, key string, n int) ([]string, error) {
	return replyStrings(c.do(ctx, key, "LPOP", key, n))
}

// RPopCount removes and returns up to n elements from the tail of the list
// at key, tail first; ErrNil when the list is absent.
func (c *Client) RPopCount(ctx context.Context, key string, n int) ([]string, error) {
	return replyStrings(c.do(ctx, key, "RPOP", key, n))
}

// LRange returns the elements of the list at key from start to stop, both
// inclusive; negative indexes count from the tail (-1 is the last).
func (c *Client) LRange(ctx context.Context, key string, start, stop int64) ([]string, error) {
	return replyStrings(c.do(ctx, key, "LRANGE", key, start, stop))
}

// LLen returns the length of the list at key, 0 when absent.
func (c *Client) LLen(ctx context.Context, key string) (int64, error) {
	return replyInt(c.do(ctx, key, "LLEN", key))
}

// LIndex returns the element at index of the list at key (negative counts
// from the tail); ErrNil when out of range.
func (c *Client) LIndex(ctx context.Context, key string, index int64) (string, error) {
	return replyString(c.do(ctx, key, "LINDEX", key, index))
}

// LSet sets the element at index of the list at key; an error when the
// key does not exist or the index is out of range.
func (c *Client) LSet(ctx context.Context, key string, index int64, value string) error {
	_, err := c.do(ctx, key, "LSET", key, index, value)
	return err
}

// LRem removes elements equal to value from the list at key and returns
// how many: count > 0 removes the first count from the head, count < 0 the
// first -count from the tail, 0 all of them.
func (c *Client) LRem(ctx context.Context, key string, count int64, value string) (int64, error) {
	return replyInt(c.do(ctx, key, "LREM", key, count, value))
}

// LTrim keeps only the elements from start to stop (inclusive) of the list
// at key.
func (c *Client) LTrim(ctx context.Context, key string, start, stop int64) error {
	_, err := c.do(ctx, key, "LTRIM", key, start, stop)
	return err
}

// LInsertBefore inserts value before the first element equal to pivot and
// returns the new length, -1 when pivot is not found, 0 when key is absent.
func (c *Client) LInsertBefore(ctx context.Context, key, pivot, value string) (int64, error) {
	return replyInt(c.do(ctx, key, "LINSERT", key, "BEFORE", pivot, value))
}

// LInsertAfter inserts value after the first element equal to pivot and
// returns the new length, -1 when pivot is not found, 0 when key is absent.
func (c *Client) LInsertAfter(ctx context.Context, key, pivot, value string) (int64, error) {
	return replyInt(c.do(ctx, key, "LINSERT", key, "AFTER", pivot, value))
}

// LPos returns the index of the first element equal to value in the list
// at key; ErrNil when there is none.
func (c *Client) LPos(ctx context.Context, key, value string) (int64, error) {
	return replyInt(c.do(ctx, key, "LPOS", key, value))
}

// LMove pops an element from the from end of the list src, pushes it to
// the to end of dst, and returns it; ErrNil when src is empty.
func (c *Client) LMove(ctx context.Context, src, dst string, from, to ListEnd) (string, error) {
	return replyString(c.do(ctx, src, "LMOVE", src, dst, string(from), string(to)))
}

// RPopLPush is LMove(ctx, src, dst, ListRight, ListLeft).
func (c *Client) RPopLPush(ctx context.Context, src, dst string) (string, error) {
	return replyString(c.do(ctx, src, "RPOPLPUSH", src, dst))
}

// blockArg returns the server-side timeout of a blocking command, in
// seconds, and the extra read time it needs (negative: no limit for 0).
func blockArg(timeout time.Duration) (string, time.Duration, error) {
	switch {
	case timeout < 0:
		return "", 0, fmt.Errorf("chkv: negative timeout %v", timeout)
	case timeout == 0:
		return "0", -1, nil
	}
	return strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64), timeout, nil
}

// bpop runs BLPOP or BRPOP.
func (c *Client) bpop(ctx context.Context, cmd string, timeout time.Duration, keys []string) (string, string, error) {
	secs, block, err := blockArg(timeout)
	if err != nil {
		return "", "", err
	}
	args := append(keysArgs(cmd, keys), secs)
	return replyPair(c.doBlocking(ctx, firstKey(keys), block, args...))
}

// BLPop pops the head of the first non-empty list of keys, waiting up to
// timeout (0: until ctx is done) for one to get an element, and returns the
// list's key and the element. It returns ErrNil when timeout passes first.
// When ctx ends the wait instead, the error wraps ErrUnknownOutcome: an
// element may have been popped as the wait was abandoned.
func (c *Client) BLPop(ctx context.Context, timeout time.Duration, keys ...string) (key, value string, err error) {
	return c.bpop(ctx, "BLPOP", timeout, keys)
}

// BRPop is BLPop popping from the tail.
func (c *Client) BRPop(ctx context.Context, timeout time.Duration, keys ...string) (key, value string, err error) {
	return c.bpop(ctx, "BRPOP", timeout, keys)
}

// BLMove is LMove that waits up to timeout (0: until ctx is done) for src
// to get an element; ErrNil when timeout passes first.
func (c *Client) BLMove(ctx context.Context, src, dst string, from, to ListEnd, timeout time.Duration) (string, error) {
	secs, block, err := blockArg(timeout)
	if err != nil {
		return "", err
	}
	return replyString(c.doBlocking(ctx, src, block, "BLMOVE", src, dst, string(from), string(to), secs))
}
