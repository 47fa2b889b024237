// Compaction: a snapshot of the store written slot by slot in the background, after which the log starts afresh.

package chkv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// errRewriteRunning answers a compaction asked for while one runs.
var errRewriteRunning = errors.New("chkv: a rewrite is already in progress")

// errClosing ends a rewrite cut short by the node closing.
var errClosing = errors.New("chkv: the node is closing")

// startRewrite starts a compaction in the background; false when one is
// running already.
func (p *aof) startRewrite() bool {
	if !p.rewriting.CompareAndSwap(false, true) {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.rewriteRun(p.stop)
	}()
	return true
}

// rewriteNow compacts in the caller (SAVE).
func (p *aof) rewriteNow() error {
	if !p.rewriting.CompareAndSwap(false, true) {
		return errRewriteRunning
	}
	return p.rewriteRun(p.stop)
}

// rewriteRun runs a compaction the caller marked as running, and records
// how it went. Closing stop cuts it short (nil: it runs to the end).
func (p *aof) rewriteRun(stop <-chan struct{}) error {
	defer p.rewriting.Store(false)
	start := p.cfg.now()
	p.stats.rewriteStarted.Store(start.UnixMilli())
	err := p.rewrite(stop)
	p.stats.rewriteStarted.Store(0)
	p.stats.lastRewriteMs.Store(p.cfg.now().Sub(start).Milliseconds())
	p.stats.lastRewriteOK.Store(err == nil)
	if err != nil {
		if !errors.Is(err, errClosing) {
			p.cfg.logger.Error("append-only log: rewrite failed", "dir", p.cfg.dir, "err", err)
		}
		return err
	}
	p.stats.rewrites.Add(1)
	p.stats.lastSave.Store(p.cfg.now().Unix())
	p.cfg.logger.Info("append-only log: rewrite done", "dir", p.cfg.dir, "snapshot_bytes", p.stats.snapSize.Load(), "ms", p.cfg.now().Sub(start).Milliseconds())
	return nil
}

// rewrite writes a snapshot of generation g+1 while writes go on: the
// writes to a slot go to the old log until the snapshot has taken the
// slot (under its lock), then to the new log of generation g+1. Recovery
// reads the newest snapshot and the logs of its generation and later, so
// at every moment the files hold every write: before the snapshot is
// complete, old snapshot + old log + new log (each slot's writes in
// order across the two logs); after, new snapshot + new log.
func (p *aof) rewrite(stop <-chan struct{}) error {
	if err := p.closeOld(); err != nil {
		return err
	}
	p.mu.Lock()
	gen := p.cur.gen + 1
	p.mu.Unlock()
	newLog, err := p.openLog(gen)
	if err != nil {
		return err
	}
	// Under ioMu too (ioMu before mu, as everywhere): sync (an fsync
	// on an event loop's thread or the background flush) reads which logs
	// there are under ioMu alone.
	p.ioMu.Lock()
	p.mu.Lock()
	for i := range p.cut {
		p.cut[i] = false
	}
	p.old, p.cur = p.cur, newLog
	p.mu.Unlock()
	p.ioMu.Unlock()

	tmp := filepath.Join(p.cfg.dir, snapName(gen)+".tmp")
	size, err := p.writeSnapshot(tmp, stop)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	// Every slot is cut: nothing new goes to the old log. Write and fsync
	// what it holds, then the snapshot replaces it.
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	p.ioMu.Lock()
	err = p.writeLocked()
	p.ioMu.Unlock()
	if err == nil {
		err = p.syncLocked()
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(p.cfg.dir, snapName(gen)))
	}
	if err == nil {
		err = syncDir(p.cfg.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	p.ioMu.Lock()
	p.mu.Lock()
	old := p.old
	p.old = nil
	p.mu.Unlock()
	p.stats.logSize.Add(-old.size)
	old.f.Close()
	p.ioMu.Unlock()
	p.stats.snapSize.Store(size)
	p.stats.baseSize.Store(size + p.stats.logSize.Load())
	p.stats.changesSince.Store(0)
	return p.removeBefore(gen)
}

// closeOld finishes the old log a failed or interrupted rewrite left open
// (every slot is cut over to the new log then): it is written, fsynced and
// closed, and stays in the directory, which no snapshot covers yet.
func (p *aof) closeOld() error {
	p.mu.Lock()
	old := p.old
	p.mu.Unlock()
	if old == nil {
		return nil
	}
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	p.ioMu.Lock()
	err := p.writeLocked()
	p.ioMu.Unlock()
	if err == nil {
		err = p.syncLocked()
	}
	if err != nil {
		return err
	}
	p.ioMu.Lock()
	p.mu.Lock()
	p.old = nil
	p.mu.Unlock()
	p.stats.logSize.Add(-old.size)
	old.f.Close()
	p.ioMu.Unlock()
	return nil
}

// writeSnapshot writes every slot's live keys and version sequence to
// path, one slot at a time under its lock, cutting each slot over to the
// new log as it goes, and fsyncs the file. It returns the file's size.
// Closing stop cuts it short with errClosing.
func (p *aof) writeSnapshot(path string, stop <-chan struct{}) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("chkv: snapshot: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(snapMagic)
	var enc recordEncoder
	size := int64(len(snapMagic))
	s := p.s
	for slot := range NumSlots {
		if slot%256 == 0 {
			select {
			case <-stop:
				return 0, errClosing
			default:
			}
		}
		sd := &s.slots[slot]
		sd.mu.Lock()
		now := s.nowMs()
		b := enc.buf[:0]
		wrote := false
		if len(sd.keys) > 0 { // the slot's key count: the load sizes its map at once
			var start int
			b, start = beginFrame(b, frameRecords, slot, sd.seq)
			enc.buf = b
			enc.hint(slot, len(sd.keys))
			b = enc.buf
			enc.marks = enc.marks[:0]
			endFrame(b, start)
		}
		for k, e := range sd.keys {
			if e.expireAt != 0 && e.expireAt <= now {
				continue
			}
			var start int
			b, start = beginFrame(b, frameRecords, slot, sd.seq)
			enc.buf = b
			enc.entry(slot, k, e)
			b = enc.buf
			enc.marks = enc.marks[:0]
			endFrame(b, start)
			wrote = true
		}
		if !wrote && sd.seq > 0 {
			var start int
			b, start = beginFrame(b, frameSeq, slot, sd.seq)
			endFrame(b, start)
		}
		p.mu.Lock()
		p.cut[slot] = true
		p.mu.Unlock()
		sd.mu.Unlock()
		enc.buf = b
		if _, err := w.Write(b); err != nil {
			return 0, fmt.Errorf("chkv: snapshot: %w", err)
		}
		size += int64(len(b))
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("chkv: snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("chkv: snapshot: %w", err)
	}
	return size, nil
}

// compactOnClose reports whether a clean close compacts the files first,
// so the next start loads one snapshot instead of replaying a long log:
// automatic compaction is on, and the logs after the snapshot hold at
// least a quarter of auto-aof-rewrite-min-size and half the snapshot's
// bytes. Loading a log costs about twice a snapshot of the same bytes (its
// records come slot after random slot, and carry no key counts to size
// the slots' maps with), and a log that size took long enough to write that
// one more snapshot at exit is cheap beside it.
func (p *aof) compactOnClose() bool {
	if p.rewritePct.Load() <= 0 || p.writeErr.Load() != nil {
		return false
	}
	snap, gens, err := recoveryFiles(p.cfg.dir)
	if err != nil {
		return false
	}
	var logs, snapBytes int64 // what the next start reads
	for _, g := range gens {
		if st, err := os.Stat(filepath.Join(p.cfg.dir, logName(g))); err == nil {
			logs += st.Size()
		}
	}
	if st, err := os.Stat(filepath.Join(p.cfg.dir, snapName(snap))); snap > 0 && err == nil {
		snapBytes = st.Size()
	}
	return logs >= p.rewriteMin.Load()/4 && logs >= snapBytes/2
}

// lastSave returns when the last snapshot was completed (or the data was loaded).
func (p *aof) lastSave() time.Time { return time.Unix(p.stats.lastSave.Load(), 0) }
