// Containment of a command that panics: the node logs it, counts it, answers an error and closes only that connection.

package chkv

import (
	"fmt"
	"runtime/debug"
)

// msgPanic is the reply to a command whose handler panicked; the server
// closes the connection after it.
const msgPanic = "ERR internal error running the command: the connection is closed (see the server log)"

// contain is called by call when cmd's handler panicked with r: it logs the
// panic with its stack, counts it for INFO (command_panics), drops the part
// of the reply the command had written (bytes after mark), answers msgPanic
// and makes the connection close once that is flushed. The node and every
// other connection keep being served.
//
// Why no half-written state survives (the rules every handler follows):
//   - A handler parses and checks every argument before it locks a slot or
//     changes a key, so a bad argument never reaches a mutation; the
//     numbers it then uses are bounded (integer safety, args.go).
//   - Every slot lock a handler takes is released by defer (or by a deferred
//     unlock function from lockKeys), so a panic unwinds through the unlock
//     and no slot stays locked; the in-flight count of cluster mode is
//     released here (release).
//   - A store mutation (insert, remove, update, setExpire, the list ops) is
//     a few assignments on values the handler has validated; it changes the
//     key and then the counters, with nothing that can fail in between.
//
// A panic is a bug: the stack in the log says where.
func (c *conn) contain(cmd *command, r any, mark int) {
	c.release()
	c.d.stats.panics.Add(1)
	c.d.cfg.Logger.Error("command panicked: connection closed, node goes on",
		"cmd", cmd.name, "client", c.id, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	if mark <= len(c.w.buf) {
		c.w.buf = c.w.buf[:mark]
	} else { // flushed while it ran (a blocking command): all that is left is its own
		c.w.buf = c.w.buf[:0]
	}
	c.w.errorText(msgPanic)
	c.quit = true
}

// execContained runs one NameNode command as exec does, containing a panic
// of its handler as contain does for a DataNode: the panic is logged, the
// reply is msgPanic, and it reports false, after which the connection is
// closed. Every NameNode handler takes n.mu with defer or around a call
// that cannot fail.
func (n *NameNode) execContained(w *replyWriter, args [][]byte) (ok bool) {
	mark := len(w.buf)
	defer func() {
		if r := recover(); r != nil {
			n.cfg.Logger.Error("namenode command panicked: connection closed, node goes on",
				"cmd", string(truncate(args[0], 32)), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			w.buf = w.buf[:min(mark, len(w.buf))]
			w.errorText(msgPanic)
			ok = false
		}
	}()
	n.exec(w, args)
	return true
}
