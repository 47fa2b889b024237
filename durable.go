// The wait before a connection's replies leave: its writes are in the log (on the disk with appendfsync always) and applied by the replicas.

package chkv

// noteDurable records, after a command ran, the log offset its reply waits
// for: the whole log so far, so that no reply (not even a read's) shows a
// write the log might still lose, as Redis writes its log before any reply
// of the turn.
func (c *conn) noteDurable(cmd *command) {
	p := c.d.aof
	if p == nil {
		return
	}
	c.durNeed = p.appended.Load()
	if cmd.flags&flagWrite != 0 {
		c.durWrote = true
	}
}

// persistRefuses answers a write command with -MISCONF while the log
// cannot be written, as Redis does, and reports whether it did.
func (c *conn) persistRefuses(cmd *command) bool {
	p := c.d.aof
	if p == nil || cmd.flags&flagWrite == 0 {
		return false
	}
	if msg := p.refusal(); msg != "" {
		c.w.errorText(msg)
		return true
	}
	return false
}

// durSettled reports whether c's replies may be flushed without waiting
// for the disk: their writes are fsynced, or the log failed (flushReplies
// then withholds the replies of writes).
func (c *conn) durSettled() bool {
	p := c.d.aof
	return p == nil || c.durNeed == 0 || p.synced.Load() >= c.durNeed || p.writeErr.Load() != nil || p.fsync() != FsyncAlways
}

// awaitDurable waits until the writes c's replies report are durable: in
// the log (group commit: the first connection of a turn writes, and with
// appendfsync always fsyncs, what every connection appended; the others
// find their offset covered; an event loop has fsynced its turn's writes
// before it flushes, syncOwed, so this finds them covered), then, in a cluster, applied by the in-sync
// replicas (awaitReplicas). Every path that writes replies to a socket
// (flushReplies) calls it. An error means the outcome of a write is
// unknown: the caller withholds the replies and closes the connection.
// Replies of reads only still leave when the disk fails, as Redis serves
// reads then.
func (c *conn) awaitDurable() error {
	if c.durNeed > 0 {
		need, wrote := c.durNeed, c.durWrote
		c.durNeed, c.durWrote = 0, false
		if err := c.d.aof.await(need); err != nil && wrote {
			return err
		}
	}
	if len(c.replNeed) > 0 && !c.awaitReplicas() {
		return errReplication
	}
	return nil
}
