// Recovery: loading a data directory's snapshot and logs, cutting torn tails, refusing damage, and chkv check-aof.

package chkv

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// fileScan is what scanning one file found.
type fileScan struct {
	name   string
	size   int64
	frames int
	good   int64  // bytes up to the end of the last good frame
	torn   bool   // the file ends in an incomplete record (a crash while appending)
	damage string // why the frame at good is refused; "" when the file is whole
}

// problem describes the scan's finding for a log line or an error.
func (f *fileScan) problem() string {
	switch {
	case f.torn:
		return fmt.Sprintf("%s ends in an incomplete record at offset %d: the last %d bytes of %d", f.name, f.good, f.size-f.good, f.size)
	case f.damage != "":
		return fmt.Sprintf("%s is damaged at offset %d of %d bytes: %s", f.name, f.good, f.size, f.damage)
	}
	return fmt.Sprintf("%s: %d records, %d bytes, intact", f.name, f.frames, f.size)
}

// scanFile reads the frames of the file at path, whose first bytes are
// magic, passing each payload to apply (nil: only check them). A record
// that cannot be read is a torn tail when nothing whole follows it (the
// file ends inside it, it is the last one, or zeros follow), else damage.
func scanFile(path, magic string, apply func(payload []byte) error) (fileScan, error) {
	fs := fileScan{name: filepath.Base(path)}
	f, err := os.Open(path)
	if err != nil {
		return fs, fmt.Errorf("chkv: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fs, fmt.Errorf("chkv: %w", err)
	}
	fs.size = st.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(r, head); err != nil {
		fs.torn = true // a crash right after creating the file
		return fs, nil
	}
	if string(head) != magic {
		fs.damage = "not a chkv " + map[bool]string{true: "log", false: "snapshot"}[magic == logMagic] + " file"
		return fs, nil
	}
	fs.good = int64(len(magic))
	var hdr [frameHeader]byte
	var payload []byte
	for fs.good < fs.size {
		left := fs.size - fs.good
		if left < frameHeader {
			fs.torn = true
			return fs, nil
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fs, fmt.Errorf("chkv: read %s: %w", fs.name, err)
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:4]))
		if crc32.Checksum(hdr[:4], crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) || n == 0 || n > maxFrame {
			if zerosFollow(hdr[:], r) {
				fs.torn = true
			} else {
				fs.damage = "bad record header"
			}
			return fs, nil
		}
		if frameHeader+n > left {
			fs.torn = true
			return fs, nil
		}
		if int64(cap(payload)) < n {
			payload = make([]byte, n) // n is within the file's size: bytes that exist
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return fs, fmt.Errorf("chkv: read %s: %w", fs.name, err)
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[8:]) {
			if frameHeader+n == left {
				fs.torn = true
			} else {
				fs.damage = "checksum mismatch"
			}
			return fs, nil
		}
		if err := checkPayload(payload); err != nil {
			fs.damage = err.Error()
			return fs, nil
		}
		if apply != nil {
			if err := apply(payload); err != nil {
				fs.damage = err.Error()
				return fs, nil
			}
		}
		fs.frames++
		fs.good += frameHeader + n
	}
	return fs, nil
}

// zerosFollow reports whether b and the rest of r are all zero bytes (a
// file extended by a crash before its data reached the disk).
func zerosFollow(b []byte, r *bufio.Reader) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	for {
		c, err := r.ReadByte()
		if err != nil {
			return true
		}
		if c != 0 {
			return false
		}
	}
}

// checkPayload checks a payload's head: a record whose checksum holds but
// whose head does not decode is damage too.
func checkPayload(b []byte) error {
	_, _, _, _, err := decodeHead(b)
	return err
}

// decodeHead reads a payload's type, slot and sequence, and returns a
// decoder over the rest.
func decodeHead(b []byte) (typ byte, slot int, seq uint64, d recordDecoder, err error) {
	if len(b) == 0 {
		return 0, 0, 0, d, errBadRecord
	}
	typ = b[0]
	d.b = b[1:]
	s := d.uvarint()
	seq = d.uvarint()
	if d.err != nil || s >= NumSlots {
		return 0, 0, 0, d, fmt.Errorf("%w: slot", errBadRecord)
	}
	slot = int(s)
	switch typ {
	case frameRecords, frameDelta, frameList, frameDrop, frameSeq:
	default:
		return 0, 0, 0, d, fmt.Errorf("%w: frame type %d", errBadRecord, typ)
	}
	return typ, slot, seq, d, nil
}

// applyPayload applies one frame to the store. The store is loading: the
// expiry cycle waits, so a key expiring meanwhile still takes the changes
// logged for it.
func (s *Store) applyPayload(b []byte, rec *record, h *loadHints) error {
	dg := runningDigest{off: true}
	typ, slot, seq, dec, err := decodeHead(b)
	if err != nil {
		return err
	}
	d := &dec
	sd := &s.slots[slot]
	sd.mu.Lock()
	defer sd.mu.Unlock()
	switch typ {
	case frameRecords:
		if len(sd.keys) == 0 && !bytes.HasPrefix(d.b, []byte{recHint}) {
			if n := h.take(slot); n > 0 { // a slot the logs alone fill
				s.presize(slot, min(n, h.max))
			}
		}
		for d.next(rec) {
			if rec.slot != slot {
				return fmt.Errorf("%w: record of slot %d in a frame of slot %d", errBadRecord, rec.slot, slot)
			}
			if rec.op == recHint { // a snapshot's key count of the slot, and what the logs add
				s.presize(slot, int(min(rec.version+uint64(h.take(slot)), uint64(h.max))))
				continue
			}
			if err := s.applyRecord(rec, &dg); err != nil {
				return err
			}
		}
	case frameDelta:
		version := d.uvarint()
		if !d.next(rec) || !isAppend(rec.op) || rec.slot != slot {
			return fmt.Errorf("%w: delta", errBadRecord)
		}
		if err := s.applyRecord(rec, &dg); err != nil {
			return err
		}
		sd.keys[string(rec.key)].version = version
	case frameList:
		if err := s.applyListDelta(slot, d); err != nil {
			return err
		}
	case frameDrop:
		s.clearSlot(slot, msgClusterDown)
	}
	if d.err != nil {
		return d.err
	}
	sd.seq = max(sd.seq, seq)
	return nil
}

// applyListDelta applies a logged push or pop to a list. The caller holds
// the slot's lock.
func (s *Store) applyListDelta(slot int, d *recordDecoder) error {
	version := d.uvarint()
	if len(d.b) == 0 {
		return errBadRecord
	}
	code := d.b[0]
	d.b = d.b[1:]
	key := d.bytes()
	n := d.uvarint()
	if d.err != nil {
		return d.err
	}
	e := s.slots[slot].keys[string(key)]
	if e == nil || e.kind != kindList {
		return fmt.Errorf("%w: list change of a missing list", errBadRecord)
	}
	left := code&1 != 0
	before, hadTTL := e.size(string(key)), e.expireAt != 0
	switch code >> 1 {
	case deltaPush:
		if n > uint64(len(d.b)) { // an element takes at least a byte
			return errBadRecord
		}
		for range n {
			v := d.bytes()
			if d.err != nil {
				return d.err
			}
			e.list().push(left, cloneBytes(v))
		}
	case deltaPop:
		if n >= uint64(e.list().len()) {
			return fmt.Errorf("%w: pop of more elements than the list holds", errBadRecord)
		}
		for range n {
			e.list().pop(left)
		}
	default:
		return fmt.Errorf("%w: list change %d", errBadRecord, code)
	}
	s.update(slot, string(key), e, before, hadTTL)
	e.version = version
	return nil
}

// dirFiles lists the generations of the snapshots and logs in dir.
func dirFiles(dir string) (snaps, logs []uint64, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("chkv: data dir: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "chkv-") {
			continue
		}
		base, ext, _ := strings.Cut(strings.TrimPrefix(name, "chkv-"), ".")
		gen, err := strconv.ParseUint(base, 10, 64)
		if err != nil || gen == 0 {
			continue
		}
		switch ext {
		case "snap":
			snaps = append(snaps, gen)
		case "aof":
			logs = append(logs, gen)
		}
	}
	slices.Sort(snaps)
	slices.Sort(logs)
	return snaps, logs, nil
}

// recoveryFiles returns the files recovery reads, in order: the newest
// snapshot (if any), then every log of its generation or later.
func recoveryFiles(dir string) (snap uint64, logs []uint64, err error) {
	snaps, all, err := dirFiles(dir)
	if err != nil {
		return 0, nil, err
	}
	if len(snaps) > 0 {
		snap = snaps[len(snaps)-1]
	}
	for _, g := range all {
		if g >= snap {
			logs = append(logs, g)
		}
	}
	return snap, logs, nil
}

// load recovers the data directory into the store and returns the
// generation of the log to append to.
func (p *aof) load() (uint64, error) {
	start := time.Now()
	s := p.s
	s.loading.Store(true)
	defer s.loading.Store(false)
	if s.clock.Load() == 0 { // new keys take their access time from it, not from a clock read each
		s.clock.Store(s.nowMs())
	}
	snap, logs, err := recoveryFiles(p.cfg.dir)
	if err != nil {
		return 0, err
	}
	// A snapshot's key count of a slot and the keys the logs create in it
	// size its map at once, within what the files' bytes can fill.
	maxHint := 0
	for _, name := range append([]string{snapName(snap)}, mapSlice(logs, logName)...) {
		if st, err := os.Stat(filepath.Join(p.cfg.dir, name)); err == nil {
			maxHint += int(st.Size() / presizeBytesPerKey)
		}
	}
	logKeys := make([]int32, NumSlots)
	for _, g := range logs {
		countLogKeys(filepath.Join(p.cfg.dir, logName(g)), logKeys)
	}
	gcOff()
	err = p.loadFiles(snap, logs, &loadHints{max: maxHint, log: slices.Clone(logKeys)}, loadWorkers())
	if err == errParallelApply {
		// A record that does not apply: load again in one goroutine, which
		// stops at that record exactly (the parallel load applied records
		// of other slots after it).
		s.clearForReload()
		err = p.loadFiles(snap, logs, &loadHints{max: maxHint, log: logKeys}, 1)
	}
	gcOn()
	if err != nil {
		return 0, err
	}
	if err := p.removeBefore(snap); err != nil {
		return 0, err
	}
	s.dropExpired()
	if s.Keys() > 0 {
		// The load's garbage (decoded frames, buffers, the collector's
		// room while the heap grew) goes back to the OS now, not at the
		// collector's leisure: the RSS after a restart is the data's.
		debug.FreeOSMemory()
	}
	p.stats.loadedKeys.Store(s.Keys())
	p.stats.loadMs.Store(time.Since(start).Milliseconds())
	p.cfg.logger.Info("loaded the data directory", "dir", p.cfg.dir, "keys", s.Keys(), "ms", time.Since(start).Milliseconds())
	gen := max(snap, 1)
	if len(logs) > 0 {
		gen = logs[len(logs)-1]
	}
	return gen, nil
}

// loadHints size the slots' maps during a load.
type loadHints struct {
	max int     // no map is sized for more keys than the files' bytes can fill
	log []int32 // per slot, about how many keys the logs create; taken once
}

// take returns the keys the logs create in slot, once: the map is sized
// then. A slot is loaded by one goroutine only.
func (h *loadHints) take(slot int) int {
	n := int(h.log[slot])
	h.log[slot] = 0
	return n
}

// countLogKeys adds to keys, per slot, about how many keys the log at path
// creates: its records that set a whole value, scaled by the share of them
// whose key is distinct in the log (a HyperLogLog of the keys), so a log of
// one key written a million times sizes no map for a million. A log's
// records come slot after random slot: a map sized at once does not grow
// (rehashing every key it holds) as they arrive. It reads the file only
// where it is intact; what it cannot read it leaves out.
func countLogKeys(path string, keys []int32) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	if _, err := r.Discard(len(logMagic)); err != nil {
		return
	}
	counts := make([]int32, NumSlots)
	var hll [1 << hllBits]uint8
	sets := 0
	var hdr [frameHeader]byte
	var payload []byte
	var rec record
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if crc32.Checksum(hdr[:4], crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) || n == 0 || n > maxFrame {
			break
		}
		if uint32(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil || crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[8:]) {
			break
		}
		typ, slot, _, d, err := decodeHead(payload)
		if err != nil || typ != frameRecords {
			continue // the other frames change keys that exist
		}
		for d.next(&rec) {
			if rec.op == recHint || rec.op == recDel || isAppend(rec.op) {
				continue
			}
			counts[slot]++
			sets++
			h := xxhash.Sum64(rec.key)
			i, rank := h>>(64-hllBits), uint8(bits.LeadingZeros64(h<<hllBits|1<<(hllBits-1))+1)
			hll[i] = max(hll[i], rank)
		}
	}
	if sets == 0 {
		return
	}
	share := min(hllEstimate(&hll)/float64(sets), 1)
	for s, c := range counts {
		keys[s] += int32(math.Round(float64(c) * share))
	}
}

// hllBits is the log2 of a HyperLogLog's registers: 4,096, about 1.6%
// standard error.
const hllBits = 12

// hllEstimate returns the count of distinct items registers saw.
func hllEstimate(reg *[1 << hllBits]uint8) float64 {
	const m = 1 << hllBits
	sum, zeros := 0.0, 0
	for _, r := range reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(float64(m)/float64(zeros)) // few items: linear counting
	}
	return e
}

// The collector is off while data directories load: nearly everything a
// load allocates stays (a key and its value, the entry), so collecting as
// the heap grows only marks the same live data again and again (a quarter
// of the load's CPU). A memory limit (debug.SetMemoryLimit) still makes it
// run. The last load to end turns it back on, to what it was.
var gcLoads struct {
	sync.Mutex
	n       int
	percent int
}

func gcOff() {
	gcLoads.Lock()
	defer gcLoads.Unlock()
	if gcLoads.n++; gcLoads.n == 1 {
		gcLoads.percent = debug.SetGCPercent(-1)
	}
}

func gcOn() {
	gcLoads.Lock()
	defer gcLoads.Unlock()
	if gcLoads.n--; gcLoads.n == 0 {
		debug.SetGCPercent(gcLoads.percent)
	}
}

// errParallelApply says a record did not apply in a parallel load.
var errParallelApply = errors.New("chkv: a record did not apply")

// loadWorkers is how many goroutines apply the records of a load: one per
// core, up to 4 (the file is read and checked on another).
func loadWorkers() int { return min(runtime.GOMAXPROCS(0), 4) }

// loadFiles applies the snapshot of generation snap (0: none) and the logs
// to the store, with workers goroutines applying the records (1: the
// reading one). A parallel load returns errParallelApply when a record
// did not apply, leaving the files as they were.
func (p *aof) loadFiles(snap uint64, logs []uint64, h *loadHints, workers int) error {
	s := p.s
	var rec record
	apply := func(b []byte) error { return s.applyPayload(b, &rec, h) }
	settle := func() error { return nil }
	if workers > 1 {
		pl := newParallelLoad(s, workers, h)
		defer pl.close()
		apply, settle = pl.apply, pl.settle
	}
	hint := " (start with --aof-load-truncated to load the records before it and lose the rest, or repair with chkv check-aof --fix " + p.cfg.dir + ")"
	if snap > 0 {
		fs, err := scanFile(filepath.Join(p.cfg.dir, snapName(snap)), snapMagic, apply)
		if err := cmp.Or(settle(), err); err != nil {
			return err
		}
		if fs.torn || fs.damage != "" {
			if !p.cfg.loadTruncated {
				return errors.New("chkv: " + fs.problem() + hint)
			}
			p.cfg.logger.Warn("loading the intact prefix of a damaged snapshot: " + fs.problem())
		}
		p.stats.snapSize.Store(fs.size)
	}
	for _, g := range logs {
		path := filepath.Join(p.cfg.dir, logName(g))
		fs, err := scanFile(path, logMagic, apply)
		if err := cmp.Or(settle(), err); err != nil {
			return err
		}
		switch {
		case fs.torn:
			p.cfg.logger.Warn(fmt.Sprintf("append-only log: cut off %d bytes of a torn tail: %s", fs.size-fs.good, fs.problem()))
			p.stats.truncatedOnLoad.Add(fs.size - fs.good)
		case fs.damage != "" && !p.cfg.loadTruncated:
			return errors.New("chkv: " + fs.problem() + hint)
		case fs.damage != "":
			p.cfg.logger.Warn("append-only log: loading the intact prefix of a damaged log (--aof-load-truncated): " + fs.problem())
			p.stats.truncatedOnLoad.Add(fs.size - fs.good)
		}
		if fs.good < fs.size {
			if err := os.Truncate(path, fs.good); err != nil {
				return fmt.Errorf("chkv: cut %s: %w", path, err)
			}
		}
	}
	return nil
}

// clearForReload empties the store of a load that is to start again.
func (s *Store) clearForReload() {
	for slot := range s.slots {
		sd := &s.slots[slot]
		sd.mu.Lock()
		for k, e := range sd.keys {
			s.remove(slot, k, e)
		}
		sd.keys, sd.seq = nil, 0
		sd.mu.Unlock()
	}
}

// parallelLoad applies the records of a load on several goroutines, each
// the records of its own range of slots in the order they come: the
// records of a slot depend on each other only. The reading goroutine
// copies them into batches, one per worker.
type parallelLoad struct {
	s      *Store
	hints  *loadHints
	work   []chan *loadBatch
	cur    []*loadBatch
	free   chan *loadBatch
	wg     sync.WaitGroup // batches handed to workers and not applied yet
	failed atomic.Bool    // a record did not apply
}

// loadBatch is records for a worker: their payloads back to back in buf,
// each ending at its ends entry, of the slot in slots.
type loadBatch struct {
	buf   []byte
	ends  []int
	slots []uint16
}

// loadBatchBytes is the size of a batch handed to a worker. A worker
// applies a batch's records slot by slot (each slot's in the order they
// came): a log's records come slot after random slot, and a slot's map
// that takes several records in a row is in the cache for all but the
// first. 4 MiB is some 30,000 records of 100-byte values, a few per slot.
const loadBatchBytes = 4 << 20

// newLoadBatch returns an empty batch with room for loadBatchBytes of
// records: grown by appends, a batch would copy itself over and over.
func newLoadBatch() *loadBatch {
	return &loadBatch{buf: make([]byte, 0, loadBatchBytes+64<<10), ends: make([]int, 0, loadBatchBytes/64), slots: make([]uint16, 0, loadBatchBytes/64)}
}

func newParallelLoad(s *Store, workers int, h *loadHints) *parallelLoad {
	pl := &parallelLoad{s: s, hints: h, free: make(chan *loadBatch, 4*workers)}
	for range workers {
		ch := make(chan *loadBatch, 4)
		pl.work = append(pl.work, ch)
		pl.cur = append(pl.cur, newLoadBatch())
		go pl.worker(ch)
	}
	return pl
}

func (pl *parallelLoad) worker(ch chan *loadBatch) {
	var rec record
	first := make([]int32, NumSlots+1) // per slot, where its records start in order
	var order []int32
	for b := range ch {
		// A counting sort of the records by slot, stable.
		clear(first)
		for _, s := range b.slots {
			first[int(s)+1]++
		}
		for i := 1; i <= NumSlots; i++ {
			first[i] += first[i-1]
		}
		order = slices.Grow(order[:0], len(b.ends))[:len(b.ends)]
		for j, s := range b.slots {
			order[first[s]] = int32(j)
			first[s]++
		}
		for _, j := range order {
			start := 0
			if j > 0 {
				start = b.ends[j-1]
			}
			if !pl.failed.Load() && pl.s.applyPayload(b.buf[start:b.ends[j]], &rec, pl.hints) != nil {
				pl.failed.Store(true)
			}
		}
		b.buf, b.ends, b.slots = b.buf[:0], b.ends[:0], b.slots[:0]
		select {
		case pl.free <- b:
		default:
		}
		pl.wg.Done()
	}
}

// apply queues a checked payload for the worker of its slot; it reports
// errParallelApply once a record failed to apply.
func (pl *parallelLoad) apply(payload []byte) error {
	if pl.failed.Load() {
		return errParallelApply
	}
	slot, _ := binary.Uvarint(payload[1:]) // checked by scanFile
	i := int(slot) * len(pl.work) / NumSlots
	b := pl.cur[i]
	b.buf = append(b.buf, payload...)
	b.ends = append(b.ends, len(b.buf))
	b.slots = append(b.slots, uint16(slot))
	if len(b.buf) >= loadBatchBytes {
		pl.send(i)
	}
	return nil
}

// send hands worker i its batch and starts another.
func (pl *parallelLoad) send(i int) {
	pl.wg.Add(1)
	pl.work[i] <- pl.cur[i]
	select {
	case pl.cur[i] = <-pl.free:
	default:
		pl.cur[i] = newLoadBatch()
	}
}

// settle waits until every queued record is applied; errParallelApply if
// one did not apply.
func (pl *parallelLoad) settle() error {
	for i, b := range pl.cur {
		if len(b.ends) > 0 {
			pl.send(i)
		}
	}
	pl.wg.Wait()
	if pl.failed.Load() {
		return errParallelApply
	}
	return nil
}

// close stops the workers.
func (pl *parallelLoad) close() {
	pl.settle()
	for _, ch := range pl.work {
		close(ch)
	}
}

// mapSlice returns f of each element of v.
func mapSlice[T, U any](v []T, f func(T) U) []U {
	out := make([]U, len(v))
	for i, x := range v {
		out[i] = f(x)
	}
	return out
}

// removeBefore removes the snapshots and logs older than generation gen,
// which recovery no longer reads.
func (p *aof) removeBefore(gen uint64) error {
	snaps, logs, err := dirFiles(p.cfg.dir)
	if err != nil {
		return err
	}
	removed := false
	for _, g := range snaps {
		if g < gen {
			os.Remove(filepath.Join(p.cfg.dir, snapName(g)))
			removed = true
		}
	}
	for _, g := range logs {
		if g < gen {
			os.Remove(filepath.Join(p.cfg.dir, logName(g)))
			removed = true
		}
	}
	if removed {
		return syncDir(p.cfg.dir)
	}
	return nil
}

// dropExpired removes the keys whose expiry has passed (after a load).
func (s *Store) dropExpired() {
	now := s.nowMs()
	for i := range s.slots {
		sd := &s.slots[i]
		sd.mu.Lock()
		if sd.ttlKeys > 0 {
			for k, e := range sd.keys {
				if e.expireAt != 0 && e.expireAt <= now {
					s.remove(i, k, e)
				}
			}
		}
		sd.mu.Unlock()
	}
}

// CheckAOF checks the files recovery would read in the data directory dir
// and reports on w, as redis-check-aof: each file's records and the first
// torn or damaged record. With fix, it cuts each log at its first bad
// record (the records after it are lost). It returns an error when a file
// is bad and was not fixed.
func CheckAOF(dir string, fix bool, w io.Writer) error {
	snap, logs, err := recoveryFiles(dir)
	if err != nil {
		return err
	}
	if snap == 0 && len(logs) == 0 {
		return fmt.Errorf("chkv: no chkv snapshot or log in %s", dir)
	}
	type file struct{ name, magic string }
	var files []file
	if snap > 0 {
		files = append(files, file{snapName(snap), snapMagic})
	}
	for _, g := range logs {
		files = append(files, file{logName(g), logMagic})
	}
	bad := 0
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		fs, err := scanFile(path, f.magic, nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, fs.problem())
		if !fs.torn && fs.damage == "" {
			continue
		}
		if !fix {
			bad++
			continue
		}
		if err := os.Truncate(path, fs.good); err != nil {
			return fmt.Errorf("chkv: fix %s: %w", f.name, err)
		}
		fmt.Fprintf(w, "fixed %s: cut to %d bytes (%d bytes removed)\n", f.name, fs.good, fs.size-fs.good)
	}
	if bad > 0 {
		return fmt.Errorf("chkv: %d damaged file(s) in %s: run chkv check-aof --fix %s to cut them at the first bad record", bad, dir, dir)
	}
	return nil
}
