// Pipeline: commands queued on a Client and sent together in one write, their replies read back in order.

package chkv

import (
	"context"
	"errors"
)

// Pipeline queues commands and sends them in one round trip. It is not safe
// for concurrent use; make one per goroutine with Client.Pipeline. A
// pipeline may be reused after Exec.
//
// The commands run one after the other on one connection, so a MULTI ...
// EXEC block inside a pipeline is a transaction. A blocking command in a
// pipeline gets no extra read time beyond ReadTimeout. In cluster mode the
// pipeline goes to the node of its first command's key, without following
// redirects: its keys should share a slot.
type Pipeline struct {
	c    *Client
	cmds [][]any
	keys []string // routing key of each command
}

// Pipeline returns an empty pipeline on c.
func (c *Client) Pipeline() *Pipeline {
	return &Pipeline{c: c}
}

// Do queues a command (arguments as for Client.Do). It is sent by Exec.
func (p *Pipeline) Do(args ...any) {
	p.cmds = append(p.cmds, args)
	p.keys = append(p.keys, routeKey(args))
}

// Len returns the number of commands queued.
func (p *Pipeline) Len() int { return len(p.cmds) }

// Exec sends the queued commands in one write, reads their replies, and
// empties the queue.
//
// When the round trip succeeds, results holds one reply per command, in
// order, shaped as Client.Do's (with nil for a nil reply), and an error
// reply is an error value in its slot; err is then the first such error, or
// nil. When the round trip fails, results is nil and err says why; once the
// request was sent it wraps ErrUnknownOutcome, as any command may have run.
func (p *Pipeline) Exec(ctx context.Context) (results []any, err error) {
	cmds := p.cmds
	key := ""
	if len(p.keys) > 0 {
		key = p.keys[0]
	}
	p.cmds, p.keys = nil, p.keys[:0]
	if len(cmds) == 0 {
		return nil, nil
	}
	for _, args := range cmds {
		if len(args) == 0 {
			return nil, errors.New("chkv: Pipeline: empty command")
		}
	}
	node, err := p.c.nodeFor(key)
	if err != nil {
		return nil, err
	}
	results, err = node.exec(ctx, cmds, 0, make([]any, 0, len(cmds)))
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		if e, ok := r.(error); ok {
			return results, e
		}
	}
	return results, nil
}
