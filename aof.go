// File storage: the append-only log of a DataNode with a data directory, written before replies leave and compacted into snapshots.

package chkv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// AppendFsync says when the log reaches the disk, as Redis's appendfsync.
type AppendFsync string

const (
	// FsyncAlways fsyncs the writes of each event-loop turn before the
	// turn's replies leave (one fsync for all of them: group commit).
	FsyncAlways AppendFsync = "always"
	// FsyncEverySec writes the log before replies leave and fsyncs it once
	// a second in the background: a crash of the process loses nothing, a
	// crash of the machine up to a second of writes.
	FsyncEverySec AppendFsync = "everysec"
	// FsyncNo writes the log before replies leave and lets the operating
	// system decide when it reaches the disk.
	FsyncNo AppendFsync = "no"
)

// Defaults of log compaction, Redis's auto-aof-rewrite-percentage and
// auto-aof-rewrite-min-size.
const (
	DefaultAutoAOFRewritePercentage = 100
	DefaultAutoAOFRewriteMinSize    = 64 << 20
)

// The files of a data directory: snapshot and log of each generation, the
// node's identity, and the temporary file a snapshot is written to.
const (
	logMagic   = "CHKVAOF1"
	snapMagic  = "CHKVSNP1"
	nodeIDFile = "node.id"
)

func logName(gen uint64) string  { return fmt.Sprintf("chkv-%d.aof", gen) }
func snapName(gen uint64) string { return fmt.Sprintf("chkv-%d.snap", gen) }

// Frames. Every record of a file is framed as
//
//	len u32 | crc32c(len) u32 | crc32c(payload) u32 | payload (len bytes)
//
// and a payload is
//
//	type u8 | slot uvarint | seq uvarint | body
//
// where seq is the slot's version sequence after the write, so versions
// are never handed out twice across restarts.
const (
	frameHeader = 12
	maxFrame    = 1 << 31 // a longer length is damage, not a record

	frameRecords = 1 // migration records (migrate_store.go): a whole value, or a deletion
	frameDelta   = 2 // version uvarint, one migration append record: a chunk of a copied value
	frameList    = 3 // version uvarint, op u8 (deltaPush/deltaPop | left<<1), key, count, elements (push)
	frameDrop    = 4 // the slot left the node: all its keys go
	frameSeq     = 5 // the slot's sequence only (a snapshot of a slot without keys)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Kinds of writeDelta.
const (
	deltaPush   = 1 // n elements pushed (elems, or one)
	deltaPop    = 2 // n elements popped
	deltaRecord = 3 // a migration append record applied (rec)
)

// writeDelta describes a write smaller than the value it changes, so the
// log records the change instead of the value: pushing to and popping from
// a 100,000-element list used as a queue logs the elements moved, not the
// list.
type writeDelta struct {
	op    uint8
	left  bool
	keep  bool // the entry keeps its version (a chunk of a copied value)
	n     int
	elems [][]byte
	one   []byte  // the element of a one-element push when elems is nil
	rec   *record // deltaRecord
}

// beginFrame appends a frame header (filled by endFrame) and the payload's
// type, slot and sequence to b, and returns b and where the frame starts.
func beginFrame(b []byte, typ byte, slot int, seq uint64) ([]byte, int) {
	start := len(b)
	b = append(b, make([]byte, frameHeader)...)
	b = append(b, typ)
	b = binary.AppendUvarint(b, uint64(slot))
	b = binary.AppendUvarint(b, seq)
	return b, start
}

// endFrame fills the header of the frame that starts at start.
func endFrame(b []byte, start int) {
	payload := b[start+frameHeader:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[start:start+4], crcTable))
	binary.LittleEndian.PutUint32(b[start+8:], crc32.Checksum(payload, crcTable))
}

// aofFile is what the log needs of a file; tests inject failing ones.
type aofFile interface {
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

// logFile is one log being appended to.
type logFile struct {
	gen    uint64
	f      aofFile
	buf    []byte // framed writes not yet handed to the OS; under aof.mu
	spare  []byte // the other buffer, swapped with buf by the writer
	out    []byte // what the writer is writing; under aof.ioMu
	size   int64  // bytes in the file; under ioMu
	synced int64  // bytes known on the disk; under syncMu
	dirty  bool   // a failed write may have left bytes past size; under ioMu
}

// aofConfig is the part of DataNodeConfig file storage uses.
type aofConfig struct {
	dir           string
	fsync         AppendFsync
	loadTruncated bool
	rewritePct    int
	rewriteMin    int64
	logger        *slog.Logger
	now           func() time.Time
	// open opens a file for appending; tests inject failures through it.
	open func(name string) (aofFile, error)
}

// aof is a node's file storage: the log the store's writes go to (its
// persistence hook, Store.persist) and its compaction into snapshots.
type aof struct {
	cfg aofConfig
	s   *Store

	mu  sync.Mutex
	cur *logFile // the log writes go to
	// old is, while a rewrite runs, the log of the slots its snapshot has
	// not reached yet (cut false); nil otherwise.
	old *logFile
	cut [NumSlots]bool // under the slot's lock: the rewrite's snapshot holds the slot
	enc recordEncoder  // encodes whole values into a log's buffer; under mu
	// appended counts the bytes framed into either log since start: the
	// watermark connections wait for (durable.go).
	appended atomic.Uint64

	ioMu    sync.Mutex    // one writer at a time
	written atomic.Uint64 // appended bytes handed to the OS
	syncMu  sync.Mutex    // one fsync at a time
	synced  atomic.Uint64 // appended bytes on the disk

	// Settings CONFIG SET changes while the node runs.
	policy     atomic.Pointer[AppendFsync]
	rewritePct atomic.Int64
	rewriteMin atomic.Int64

	writeErr  atomic.Pointer[string] // the last disk error, while writes are refused
	rewriting atomic.Bool
	stats     aofStats

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// aofStats is what INFO persistence reports.
type aofStats struct {
	lastSave        atomic.Int64 // unix seconds of the last complete snapshot (or the start)
	lastRewriteOK   atomic.Bool
	lastRewriteMs   atomic.Int64
	rewrites        atomic.Int64
	rewriteStarted  atomic.Int64 // unix ms of the running rewrite's start
	baseSize        atomic.Int64 // snapshot + log bytes after the last compaction
	snapSize        atomic.Int64 // bytes of the current snapshot
	logSize         atomic.Int64 // bytes of the current logs
	changesSince    atomic.Int64 // frames since the last snapshot
	loadedKeys      atomic.Int64
	loadMs          atomic.Int64
	truncatedOnLoad atomic.Int64 // bytes cut off torn tails at the start
	writeErrors     atomic.Int64
}

// errDiskWrite is wrapped by the errors of a log that cannot be written.
var errDiskWrite = errors.New("chkv: cannot write the append-only log")

// msgMisconf is Redis's reply prefix to a write refused while the log
// cannot be written.
const msgMisconf = "MISCONF Errors writing to the AOF file: "

// openAOF loads the data directory into s (recovery: the newest snapshot,
// then the logs after it), opens the log for appending and installs the
// persistence hook. The background loop (fsync every second, compaction,
// retries after a disk error) runs until close.
func openAOF(cfg aofConfig, s *Store) (*aof, error) {
	if cfg.open == nil {
		cfg.open = openFileDefault
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return nil, fmt.Errorf("chkv: data dir: %w", err)
	}
	p := &aof{cfg: cfg, s: s, stop: make(chan struct{})}
	p.policy.Store(&cfg.fsync)
	p.rewritePct.Store(int64(cfg.rewritePct))
	p.rewriteMin.Store(cfg.rewriteMin)
	gen, err := p.load()
	if err != nil {
		return nil, err
	}
	if p.cur, err = p.openLog(gen); err != nil {
		return nil, err
	}
	p.stats.lastSave.Store(cfg.now().Unix())
	p.stats.lastRewriteOK.Store(true)
	p.stats.lastRewriteMs.Store(-1)
	p.stats.baseSize.Store(p.stats.snapSize.Load() + p.stats.logSize.Load())
	s.persist.Store(p)
	p.wg.Add(1)
	go p.loop()
	return p, nil
}

// openLog opens the log of generation gen for appending after its last
// byte, writing its header when it is new.
func (p *aof) openLog(gen uint64) (*logFile, error) {
	name := filepath.Join(p.cfg.dir, logName(gen))
	st, err := os.Stat(name)
	size := int64(0)
	if err == nil {
		size = st.Size()
	}
	f, err := p.cfg.open(name)
	if err != nil {
		return nil, fmt.Errorf("chkv: open %s: %w", name, err)
	}
	lf := &logFile{gen: gen, f: f, size: size, synced: size}
	if size == 0 {
		if _, err := f.WriteAt([]byte(logMagic), 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("chkv: write %s: %w", name, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("chkv: sync %s: %w", name, err)
		}
		if err := syncDir(p.cfg.dir); err != nil {
			f.Close()
			return nil, err
		}
		lf.size, lf.synced = int64(len(logMagic)), int64(len(logMagic))
	}
	p.stats.logSize.Add(lf.size)
	return lf, nil
}

// fsync returns the appendfsync policy in force.
func (p *aof) fsync() AppendFsync { return *p.policy.Load() }

// syncDir fsyncs a directory, so created, renamed and removed files last.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("chkv: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("chkv: sync %s: %w", dir, err)
	}
	return nil
}

// target returns the log a write to slot goes to. The caller holds p.mu
// and the slot's lock.
func (p *aof) target(slot int) *logFile {
	if p.old != nil && !p.cut[slot] {
		return p.old
	}
	return p.cur
}

// logWrite is the store's persistence hook: it frames a write into the
// log's buffer. The caller holds the slot's lock, so frames of a slot are
// in the order of its writes.
func (p *aof) logWrite(slot int, op WriteOp, key string, e *entry, d *writeDelta) {
	seq := p.s.slots[slot].seq
	p.mu.Lock()
	lf := p.target(slot)
	b := lf.buf
	n0 := len(b)
	var start int
	switch {
	case op == WriteDel:
		b, start = beginFrame(b, frameRecords, slot, seq)
		b = appendRecordHead(b, recDel, slot, key)
	case d != nil && d.op == deltaRecord:
		b, start = beginFrame(b, frameDelta, slot, seq)
		b = binary.AppendUvarint(b, e.version)
		b = encodeAppendRecord(b, d.rec)
	case d != nil:
		b, start = beginFrame(b, frameList, slot, seq)
		b = binary.AppendUvarint(b, e.version)
		code := d.op << 1
		if d.left {
			code |= 1
		}
		b = append(b, code)
		b = appendBytes(b, []byte(key))
		b = binary.AppendUvarint(b, uint64(d.n))
		if d.op == deltaPush {
			if d.elems == nil {
				b = appendBytes(b, d.one)
			}
			for _, v := range d.elems {
				b = appendBytes(b, v)
			}
		}
	default:
		b, start = beginFrame(b, frameRecords, slot, seq)
		p.enc.buf = b
		p.enc.entry(slot, key, e)
		b = p.enc.buf
		p.enc.buf, p.enc.marks = nil, p.enc.marks[:0]
	}
	endFrame(b, start)
	lf.buf = b
	p.appended.Add(uint64(len(b) - n0))
	p.mu.Unlock()
	p.stats.changesSince.Add(1)
}

// logDrop logs that slot left the node with all its keys (clearSlot).
func (p *aof) logDrop(slot int) {
	seq := p.s.slots[slot].seq
	p.mu.Lock()
	lf := p.target(slot)
	n0 := len(lf.buf)
	b, start := beginFrame(lf.buf, frameDrop, slot, seq)
	endFrame(b, start)
	lf.buf = b
	p.appended.Add(uint64(len(b) - n0))
	p.mu.Unlock()
}

// appendRecordHead appends the head of a migration record (as recordEncoder.head).
func appendRecordHead(b []byte, op byte, slot int, key string) []byte {
	b = append(b, op)
	b = binary.AppendUvarint(b, uint64(slot))
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(b, key...)
}

// appendBytes appends a length-prefixed byte string.
func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// encodeAppendRecord encodes a decoded migration append record again.
func encodeAppendRecord(b []byte, rec *record) []byte {
	b = appendRecordHead(b, rec.op, rec.slot, string(rec.key))
	if rec.op == recAppendString {
		return appendBytes(b, rec.str)
	}
	b = binary.AppendUvarint(b, uint64(len(rec.elems)))
	for _, v := range rec.elems {
		b = appendBytes(b, v)
	}
	return b
}

// await returns once the log holds everything up to need (and, with
// appendfsync always, the disk does): the first connection of a turn
// writes and fsyncs what every connection appended, the others find their
// watermark covered.
func (p *aof) await(need uint64) error {
	if p.written.Load() < need {
		if err := p.write(need); err != nil {
			return err
		}
	}
	if p.fsync() == FsyncAlways && p.synced.Load() < need {
		return p.sync(need)
	}
	return nil
}

// write hands the buffered frames to the OS, unless another writer
// already covered need.
func (p *aof) write(need uint64) error {
	p.ioMu.Lock()
	defer p.ioMu.Unlock()
	if p.written.Load() >= need {
		return nil
	}
	return p.writeLocked()
}

// writeLocked writes every buffered frame. The caller holds ioMu. On an
// error the frames stay buffered, to be written again, and the file is cut
// back to its last whole frame first.
func (p *aof) writeLocked() error {
	p.mu.Lock()
	end := p.appended.Load()
	logs := [2]*logFile{p.cur, p.old}
	for _, lf := range logs {
		if lf != nil {
			lf.out, lf.buf, lf.spare = lf.buf, lf.spare[:0], nil
		}
	}
	p.mu.Unlock()
	var err error
	for _, lf := range logs {
		if lf == nil || err != nil {
			continue
		}
		err = lf.writeOut()
		if err == nil {
			p.stats.logSize.Add(int64(len(lf.out)))
			lf.spare, lf.out = lf.out[:0], nil
		}
	}
	if err != nil {
		p.mu.Lock()
		for _, lf := range logs {
			if lf != nil && lf.out != nil {
				lf.buf = append(lf.out, lf.buf...)
				lf.out = nil
			}
		}
		p.mu.Unlock()
		return p.fail(err)
	}
	p.written.Store(end)
	p.healed()
	return nil
}

// writeOut writes lf.out after the file's last whole frame.
func (lf *logFile) writeOut() error {
	if lf.dirty {
		if err := lf.f.Truncate(lf.size); err != nil {
			return err
		}
		lf.dirty = false
	}
	if len(lf.out) == 0 {
		return nil
	}
	n, err := lf.f.WriteAt(lf.out, lf.size)
	if err != nil {
		lf.dirty = n > 0
		return err
	}
	lf.size += int64(n)
	return nil
}

// sync fsyncs the logs, unless another fsync already covered need.
func (p *aof) sync(need uint64) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	if p.synced.Load() >= need {
		return nil
	}
	return p.syncLocked()
}

// syncLocked fsyncs the logs up to what has been written. The caller holds syncMu.
func (p *aof) syncLocked() error {
	p.ioMu.Lock()
	end := p.written.Load()
	logs := [2]*logFile{p.cur, p.old}
	sizes := [2]int64{}
	for i, lf := range logs {
		if lf != nil {
			sizes[i] = lf.size
		}
	}
	p.ioMu.Unlock()
	for i, lf := range logs {
		if lf == nil || lf.synced >= sizes[i] {
			continue
		}
		if err := lf.f.Sync(); err != nil {
			return p.fail(err)
		}
		lf.synced = sizes[i]
	}
	p.synced.Store(end)
	return nil
}

// fail records a disk error: writes are refused (-MISCONF) until a write
// and fsync succeed again.
func (p *aof) fail(err error) error {
	p.stats.writeErrors.Add(1)
	msg := err.Error()
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg = errno.Error()
	}
	if old := p.writeErr.Swap(&msg); old == nil {
		p.cfg.logger.Error("append-only log: write failed: refusing writes until the disk recovers", "dir", p.cfg.dir, "err", err)
	}
	return fmt.Errorf("%w: %v", errDiskWrite, err)
}

// healed clears a disk error after a successful write.
func (p *aof) healed() {
	if p.writeErr.Load() != nil && p.writeErr.Swap(nil) != nil {
		p.cfg.logger.Warn("append-only log: writes succeed again", "dir", p.cfg.dir)
	}
}

// refusal returns the error a write command gets while the log cannot be
// written ("" when writes are accepted).
func (p *aof) refusal() string {
	if m := p.writeErr.Load(); m != nil {
		return msgMisconf + *m
	}
	return ""
}

// loop fsyncs every second (everysec), writes what no reply waited for
// (expiries), retries after a disk error and starts compactions, until close.
func (p *aof) loop() {
	defer p.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.tick()
	}
}

// tick is one round of the background loop.
func (p *aof) tick() {
	if err := p.write(p.appended.Load()); err == nil && p.fsync() != FsyncNo {
		p.sync(p.written.Load())
	}
	if p.writeErr.Load() == nil && p.needsRewrite() {
		p.startRewrite()
	}
}

// needsRewrite reports whether the files grew past the last compaction's
// size by the configured percentage (and past the minimum size).
func (p *aof) needsRewrite() bool {
	pct := p.rewritePct.Load()
	if pct <= 0 || p.rewriting.Load() {
		return false
	}
	cur := p.stats.snapSize.Load() + p.stats.logSize.Load()
	base := max(p.stats.baseSize.Load(), 1)
	return cur >= p.rewriteMin.Load() && (cur-base)*100/base >= pct
}

// close writes and fsyncs what is buffered, stops a running rewrite,
// compacts when the logs after the snapshot are long (compactOnClose: the
// node's writers are gone by now) and closes the files. It is safe to call
// twice.
func (p *aof) close() error {
	var err error
	p.stopOnce.Do(func() {
		close(p.stop)
		p.wg.Wait()
		p.s.persist.Store(nil)
		if err = p.write(p.appended.Load()); err == nil {
			err = p.sync(p.written.Load())
		}
		if err == nil && p.compactOnClose() && p.rewriting.CompareAndSwap(false, true) {
			p.cfg.logger.Info("append-only log: compacting before exit, so the next start loads a snapshot", "dir", p.cfg.dir)
			p.rewriteRun(nil) // a failure leaves the files as they were: they hold every write
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, lf := range []*logFile{p.cur, p.old} {
			if lf != nil {
				lf.f.Close()
			}
		}
	})
	return err
}

// openDataDir loads the node's data directory and starts logging to it. A
// cluster node takes the id kept there (a restarted node is the same
// member, serving its slots with their data again), or keeps its id there.
func (d *DataNode) openDataDir() error {
	cfg := d.cfg
	if cc := cfg.Cluster; cc != nil {
		id, err := keepNodeID(cfg.DataDir, cc.ID, NodeID(d.Addr()))
		if err != nil {
			return err
		}
		cc.ID = id
	}
	p, err := openAOF(aofConfig{
		dir:           cfg.DataDir,
		fsync:         cfg.AppendFsync,
		loadTruncated: cfg.AOFLoadTruncated,
		rewritePct:    cfg.AutoAOFRewritePercentage,
		rewriteMin:    cfg.AutoAOFRewriteMinSize,
		logger:        cfg.Logger,
		now:           cfg.Now,
		open:          cfg.openAOFFile,
	}, d.store)
	if err != nil {
		return err
	}
	d.aof = p
	return nil
}

// keepNodeID returns the id of the node whose data is in dir: the one kept
// there, which a configured id must match, else the configured one (def
// when none), which is kept there from now on.
func keepNodeID(dir string, configured, def NodeID) (NodeID, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("chkv: data dir: %w", err)
	}
	path := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		kept := NodeID(strings.TrimSpace(string(b)))
		if configured != "" && configured != kept {
			return "", fmt.Errorf("chkv: data dir %s belongs to node %q, not %q", dir, kept, configured)
		}
		return kept, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("chkv: data dir: %w", err)
	}
	id := configured
	if id == "" {
		id = def
	}
	if err := os.WriteFile(path, []byte(string(id)+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("chkv: data dir: %w", err)
	}
	return id, syncDir(dir)
}
