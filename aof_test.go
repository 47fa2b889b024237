// Tests of file storage: restarts keep every acknowledged write, torn tails are cut, damage is refused, compaction and disk errors.

package chkv

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// runDisk starts a DataNode keeping its data in dir.
func runDisk(t *testing.T, dir string, opts ...func(*DataNodeConfig)) *DataNode {
	t.Helper()
	return RunT(t, append([]func(*DataNodeConfig){func(c *DataNodeConfig) {
		c.DataDir = dir
		c.AppendFsync = FsyncAlways
	}}, opts...)...)
}

// crashCopy copies the files of dir as they are now, while the node runs:
// what a kill -9 of the process leaves on the disk.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// dump returns every key of d with its type, value, version and whether it
// has a TTL, as a sorted text, so two nodes compare in one assertion.
func dump(t *testing.T, rc *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, k := range keys {
		typ := rc.Type(ctx, k).Val()
		var v any
		switch typ {
		case "string":
			v = rc.Get(ctx, k).Val()
		case "list":
			v = rc.LRange(ctx, k, 0, -1).Val()
		case "hash":
			v = rc.HGetAll(ctx, k).Val()
		case "set":
			v = rc.SMembers(ctx, k).Val()
		case "zset":
			v = rc.ZRangeWithScores(ctx, k, 0, -1).Val()
		}
		ver := rc.Do(ctx, "CHKV.VERSION", k).Val()
		ttl := rc.PTTL(ctx, k).Val() > 0
		lines = append(lines, fmt.Sprintf("%s %s %v v%v ttl=%v", k, typ, v, ver, ttl))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// writeAllKinds makes writes of every kind the store has.
func writeAllKinds(t *testing.T, rc *redis.Client) {
	t.Helper()
	ctx := context.Background()
	cmds := [][]any{
		{"SET", "s", "v1"}, {"SET", "s", "v2"}, {"APPEND", "s", "+"}, {"INCR", "n"}, {"INCRBY", "n", "41"},
		{"SET", "ttl", "x", "EX", "1000"}, {"SET", "gone", "x"}, {"DEL", "gone"},
		{"RPUSH", "q", "a", "b", "c", "d"}, {"LPUSH", "q", "z"}, {"LPOP", "q"}, {"RPOP", "q", "2"}, {"RPUSH", "q", "e"},
		{"LSET", "q", "0", "A"}, {"RPUSH", "q2", "x"}, {"LMOVE", "q", "q2", "LEFT", "RIGHT"},
		{"HSET", "h", "f1", "1", "f2", "2"}, {"HDEL", "h", "f1"}, {"HINCRBY", "h", "f3", "7"},
		{"SADD", "set", "a", "b", "c"}, {"SREM", "set", "b"},
		{"ZADD", "z", "1", "a", "2.5", "b"}, {"ZINCRBY", "z", "3", "a"}, {"SETBIT", "bits", "7", "1"},
		{"CHKV.SETV", "ver", "one", "0"}, {"EXPIRE", "n", "5000"}, {"PERSIST", "n"}, {"EXPIRE", "h", "9000"},
		{"SET", "{t}a", "1"}, {"RENAME", "{t}a", "{t}b"},
	}
	for _, c := range cmds {
		if err := rc.Do(ctx, c...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
}

func TestAOFRestartKeepsEveryKind(t *testing.T) {
	for _, fsync := range []AppendFsync{FsyncAlways, FsyncEverySec, FsyncNo} {
		t.Run(string(fsync), func(t *testing.T) {
			dir := t.TempDir()
			d := runDisk(t, dir, func(c *DataNodeConfig) { c.AppendFsync = fsync })
			rc := newGoRedis(t, d)
			writeAllKinds(t, rc)
			want := dump(t, rc)
			// Without Close: the files as a kill -9 leaves them.
			d2 := runDisk(t, crashCopy(t, dir))
			if got := dump(t, newGoRedis(t, d2)); got != want {
				t.Fatalf("after restart:\n%s\nwant:\n%s", got, want)
			}
			d.Close()
			d3 := runDisk(t, dir)
			if got := dump(t, newGoRedis(t, d3)); got != want {
				t.Fatalf("after close and restart:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestAOFVersionsNeverReused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := runDisk(t, dir)
	rc := newGoRedis(t, d)
	var last int64
	for i := range 5 {
		rc.Set(ctx, "k", i, 0)
		last = rc.Do(ctx, "CHKV.VERSION", "k").Val().(int64)
	}
	rc.Del(ctx, "k") // the key is gone, but its versions were handed out
	d2 := runDisk(t, crashCopy(t, dir))
	rc2 := newGoRedis(t, d2)
	rc2.Set(ctx, "k", "again", 0)
	if v := rc2.Do(ctx, "CHKV.VERSION", "k").Val().(int64); v <= last {
		t.Fatalf("version after restart %d, want > %d (handed out before the crash)", v, last)
	}
}

func TestAOFExpiredKeysNotLoaded(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	clock.Advance(time.Hour)
	dir := t.TempDir()
	d := runDisk(t, dir, func(c *DataNodeConfig) { c.Now = clock.Now })
	rc := newGoRedis(t, d)
	rc.Set(ctx, "short", "x", 10*time.Second)
	rc.RPush(ctx, "shortlist", "a", "b")
	rc.Expire(ctx, "shortlist", 10*time.Second)
	rc.RPush(ctx, "shortlist", "c") // a delta logged for a key that will have expired
	rc.Set(ctx, "long", "y", time.Hour)
	copyDir := crashCopy(t, dir)
	clock.Advance(time.Minute)
	d2 := runDisk(t, copyDir, func(c *DataNodeConfig) { c.Now = clock.Now })
	rc2 := newGoRedis(t, d2)
	if n := rc2.DBSize(ctx).Val(); n != 1 {
		t.Fatalf("DBSIZE after restart %d, want 1 (expired keys are not loaded)", n)
	}
	if ttl := rc2.TTL(ctx, "long").Val(); ttl <= 58*time.Minute || ttl > time.Hour-time.Minute {
		t.Fatalf("TTL of long %v, want about 59m: the expiry is absolute", ttl)
	}
}

// frameEnds returns the offset after each frame of the log at path.
func frameEnds(t *testing.T, path string) []int64 {
	t.Helper()
	var ends []int64
	off := int64(len(logMagic))
	fs, err := scanFile(path, logMagic, func(b []byte) error {
		off += frameHeader + int64(len(b))
		ends = append(ends, off)
		return nil
	})
	if err != nil || fs.torn || fs.damage != "" {
		t.Fatalf("scan %s: %v %s", path, err, fs.problem())
	}
	return ends
}

// logWith writes n SETs k0..k(n-1) through a node and returns the log's path after closing it.
func logWith(t *testing.T, n int) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	d := runDisk(t, dir)
	rc := newGoRedis(t, d)
	for i := range n {
		rc.Set(context.Background(), "k"+strconv.Itoa(i), strings.Repeat("v", i), 0)
	}
	d.Close()
	return dir, filepath.Join(dir, logName(1))
}

// loadKeys loads dir into a fresh store and returns how many keys it holds, or the error.
func loadKeys(t *testing.T, dir string, truncated bool, logw io.Writer) (int64, error) {
	t.Helper()
	s := NewStore(StoreConfig{})
	defer s.Close() // at once: each store's expiry cycle walks all slots
	p, err := openAOF(aofConfig{dir: dir, fsync: FsyncNo, loadTruncated: truncated, now: time.Now,
		logger: slog.New(slog.NewTextHandler(logw, nil))}, s)
	if err != nil {
		return 0, err
	}
	p.close()
	return s.Keys(), nil
}

func TestAOFTornTailCutAtEveryOffset(t *testing.T) {
	const n = 6
	dir, path := logWith(t, n)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ends := frameEnds(t, path)
	if len(ends) != n {
		t.Fatalf("%d frames, want %d", len(ends), n)
	}
	for cut := ends[n-4]; cut < int64(len(full)); cut++ {
		intact := 0
		for intact < n && ends[intact] <= cut {
			intact++
		}
		if err := os.WriteFile(path, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		var logw strings.Builder
		got, err := loadKeys(t, dir, false, &logw)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if got != int64(intact) {
			t.Fatalf("cut at %d: %d keys loaded, want the %d intact records", cut, got, intact)
		}
		if cut != ends[intact-1] && !strings.Contains(logw.String(), fmt.Sprintf("cut off %d bytes", cut-ends[intact-1])) {
			t.Fatalf("cut at %d: log lines %q do not say how many bytes went", cut, logw.String())
		}
		if st, _ := os.Stat(path); st.Size() != ends[intact-1] {
			t.Fatalf("cut at %d: file is %d bytes after the load, want %d", cut, st.Size(), ends[intact-1])
		}
	}
}

func TestAOFDamageRefusedThenFixed(t *testing.T) {
	const n = 8
	dir, path := logWith(t, n)
	ends := frameEnds(t, path)
	full, _ := os.ReadFile(path)
	for _, at := range []int64{ends[2] + 1, ends[2] + 5, ends[2] + 10, ends[3] - 1} { // length, its check, the payload's checksum, the payload
		b := append([]byte(nil), full...)
		b[at] ^= 0x40
		os.WriteFile(path, b, 0o644)
		_, err := loadKeys(t, dir, false, io.Discard)
		want := fmt.Sprintf("chkv-1.aof is damaged at offset %d", ends[2])
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--aof-load-truncated") {
			t.Fatalf("flip at %d: error %v, want one containing %q and the way out", at, err, want)
		}
		var out strings.Builder
		if err := CheckAOF(dir, false, &out); err == nil || !strings.Contains(out.String(), want) {
			t.Fatalf("check-aof: %v, report %q", err, out.String())
		}
		if n, err := loadKeys(t, dir, true, io.Discard); err != nil || n != 3 {
			t.Fatalf("--aof-load-truncated: %v, want the 3 records before the damage", err)
		}
	}
	b := append([]byte(nil), full...)
	b[ends[4]+13] ^= 1
	os.WriteFile(path, b, 0o644)
	var out strings.Builder
	if err := CheckAOF(dir, true, &out); err != nil || !strings.Contains(out.String(), "fixed chkv-1.aof") {
		t.Fatalf("check-aof --fix: %v %q", err, out.String())
	}
	if err := CheckAOF(dir, false, io.Discard); err != nil {
		t.Fatalf("check-aof after --fix: %v", err)
	}
	if n, err := loadKeys(t, dir, false, io.Discard); err != nil || n != 5 {
		t.Fatalf("load after --fix: %v, want the 5 records before the damage", err)
	}
}

func TestAOFRewriteUnderWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := runDisk(t, dir, func(c *DataNodeConfig) { c.AppendFsync = FsyncEverySec })
	rc := newGoRedis(t, d)
	for i := range 2000 {
		rc.Set(ctx, "pre"+strconv.Itoa(i), i, 0)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var acked [4]atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if rc.Set(ctx, fmt.Sprintf("w%d:%d", w, i), i, 0).Err() != nil || rc.RPush(ctx, fmt.Sprintf("wl%d", w), i).Err() != nil {
					return
				}
				acked[w].Store(int64(i))
			}
		}()
	}
	for range 3 {
		if err := rc.Do(ctx, "BGREWRITEAOF").Err(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return !strings.Contains(rc.Info(ctx, "persistence").Val(), "aof_rewrite_in_progress:1") })
	}
	close(stop)
	wg.Wait()
	info := rc.Info(ctx, "persistence").Val()
	if !strings.Contains(info, "aof_rewrites:3") || !strings.Contains(info, "aof_last_bgrewrite_status:ok") {
		t.Fatalf("INFO persistence after three rewrites:\n%s", info)
	}
	want := dump(t, rc)
	d2 := runDisk(t, crashCopy(t, dir))
	if got := dump(t, newGoRedis(t, d2)); got != want {
		t.Fatal("after rewrites and a restart the data differs")
	}
	for w := range 4 {
		if n := newGoRedis(t, d2).LLen(ctx, fmt.Sprintf("wl%d", w)).Val(); n < acked[w].Load() {
			t.Fatalf("writer %d: list of %d, %d pushes acknowledged", w, n, acked[w].Load())
		}
	}
	snaps, logs, _ := dirFiles(dir)
	if len(snaps) != 1 || len(logs) != 1 || snaps[0] != 4 || logs[0] != 4 {
		t.Fatalf("files after three rewrites: snapshots %v logs %v, want generation 4 only", snaps, logs)
	}
}

func TestAOFQueueLogsDeltas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := runDisk(t, dir, func(c *DataNodeConfig) { c.AppendFsync = FsyncNo })
	rc := newGoRedis(t, d)
	const n = 20000
	args := make([]any, 0, n)
	for i := range n {
		args = append(args, "item-"+strconv.Itoa(i))
	}
	rc.RPush(ctx, "queue", args...)
	size := func() int64 {
		rc.Ping(ctx)
		st, _ := os.Stat(filepath.Join(dir, logName(1)))
		return st.Size()
	}
	before := size()
	for i := range 1000 {
		rc.RPush(ctx, "queue", "new-"+strconv.Itoa(i))
		rc.LPop(ctx, "queue")
	}
	// 2000 operations on a 20,000-element list: logging the list each
	// time would add 2000 x ~200 KB; deltas add well under 100 bytes each.
	if grew := size() - before; grew > 2000*100 {
		t.Fatalf("the log grew %d bytes for 2000 pushes and pops", grew)
	}
	want := dump(t, rc)
	if got := dump(t, newGoRedis(t, runDisk(t, crashCopy(t, dir)))); got != want {
		t.Fatal("queue differs after restart")
	}
}

// failingFile is a log file whose writes and fsyncs fail while fail is set.
type failingFile struct {
	*os.File
	fail *atomic.Bool
}

var errNoSpace = fmt.Errorf("write: %w", errors.New("no space left on device"))

func (f failingFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fail.Load() {
		n, _ := f.File.WriteAt(p[:len(p)/2], off) // half of it made it, as on a full disk
		return n, errNoSpace
	}
	return f.File.WriteAt(p, off)
}

func (f failingFile) Sync() error {
	if f.fail.Load() {
		return errNoSpace
	}
	return f.File.Sync()
}

func TestAOFDiskErrorRefusesWritesThenRecovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var fail atomic.Bool
	d := runDisk(t, dir, func(c *DataNodeConfig) {
		c.openAOFFile = func(name string) (aofFile, error) {
			f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
			return failingFile{f, &fail}, err
		}
	})
	rc := newGoRedis(t, d, func(o *redis.Options) { o.MaxRetries = -1 })
	rc.Set(ctx, "before", "1", 0)
	fail.Store(true)
	if err := rc.Set(ctx, "during", "1", 0).Err(); err == nil {
		t.Fatal("a write the disk refused was acknowledged")
	}
	err := rc.Set(ctx, "during2", "1", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "MISCONF Errors writing to the AOF file: ") {
		t.Fatalf("write while the disk fails: %v, want -MISCONF", err)
	}
	if v := rc.Get(ctx, "before").Val(); v != "1" {
		t.Fatalf("read while the disk fails: %q", v)
	}
	if info := rc.Info(ctx, "persistence").Val(); !strings.Contains(info, "aof_last_write_status:err") {
		t.Fatalf("INFO persistence while the disk fails:\n%s", info)
	}
	fail.Store(false)
	d.aof.tick() // the background retry, without waiting a second
	if err := rc.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Fatalf("write after the disk recovered: %v", err)
	}
	rc2 := newGoRedis(t, runDisk(t, crashCopy(t, dir)))
	for _, k := range []string{"before", "after"} {
		if rc2.Get(ctx, k).Val() != "1" {
			t.Fatalf("%s lost after the disk error", k)
		}
	}
	if rc2.Exists(ctx, "during2").Val() != 0 {
		t.Fatal("a refused write is in the files")
	}
}

func TestAOFPersistenceCommandsWithoutDataDir(t *testing.T) {
	rc := newGoRedis(t, RunT(t))
	ctx := context.Background()
	for _, c := range []string{"SAVE", "BGSAVE", "BGREWRITEAOF"} {
		if err := rc.Do(ctx, c).Err(); err == nil || !strings.Contains(err.Error(), "--data-dir") {
			t.Fatalf("%s without a data dir: %v", c, err)
		}
	}
	if v, err := rc.LastSave(ctx).Result(); err != nil || v <= 0 {
		t.Fatalf("LASTSAVE: %d %v", v, err)
	}
	if info := rc.Info(ctx, "persistence").Val(); !strings.Contains(info, "aof_enabled:0") {
		t.Fatalf("INFO persistence:\n%s", info)
	}
}

func TestAOFSaveAndLastSave(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	clock.Advance(1000 * time.Hour)
	dir := t.TempDir()
	rc := newGoRedis(t, runDisk(t, dir, func(c *DataNodeConfig) { c.Now = clock.Now }))
	rc.Set(ctx, "a", "1", 0)
	clock.Advance(time.Minute)
	if err := rc.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if v := rc.LastSave(ctx).Val(); v != clock.Now().Unix() {
		t.Fatalf("LASTSAVE %d, want %d", v, clock.Now().Unix())
	}
	if snaps, _, _ := dirFiles(dir); len(snaps) != 1 {
		t.Fatalf("snapshots after SAVE: %v", snaps)
	}
	if got := newGoRedis(t, runDisk(t, crashCopy(t, dir))).Get(ctx, "a").Val(); got != "1" {
		t.Fatalf("after SAVE and restart: %q", got)
	}
}

// A clean close compacts a log that is long beside the snapshot, so the
// next start loads a snapshot; a short one, or with automatic compaction
// off, it leaves as it is.
func TestAOFCloseCompactsALongLog(t *testing.T) {
	ctx := context.Background()
	small := func(c *DataNodeConfig) { c.AutoAOFRewriteMinSize = 4 << 10 }
	logBytes := func(dir string) (snaps []uint64, logs int64) {
		snaps, gens, err := dirFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gens {
			st, err := os.Stat(filepath.Join(dir, logName(g)))
			if err != nil {
				t.Fatal(err)
			}
			logs += st.Size()
		}
		return snaps, logs
	}
	writeMany := func(rc *redis.Client, n int) {
		for i := range n {
			if err := rc.Set(ctx, fmt.Sprintf("key:%d", i), strings.Repeat("v", 100), 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}

	dir := t.TempDir()
	d := runDisk(t, dir, small, func(c *DataNodeConfig) { c.AppendFsync = FsyncEverySec })
	rc := newGoRedis(t, d)
	writeAllKinds(t, rc)
	writeMany(rc, 300)
	want := dump(t, rc)
	d.Close()
	snaps, logs := logBytes(dir)
	if len(snaps) != 1 || logs != int64(len(logMagic)) {
		t.Fatalf("after close: snapshots %v, log bytes %d; want one snapshot and an empty log", snaps, logs)
	}
	d2 := runDisk(t, dir, small)
	rc2 := newGoRedis(t, d2)
	if got := dump(t, rc2); got != want {
		t.Fatalf("after close and restart:\n%s\nwant:\n%s", got, want)
	}

	// A few writes after the snapshot: the log stays.
	rc2.Set(ctx, "after", "1", 0)
	d2.Close()
	if snaps2, logs := logBytes(dir); !slices.Equal(snaps2, snaps) || logs <= int64(len(logMagic)) {
		t.Fatalf("after a short log: snapshots %v (before %v), log bytes %d; want the same snapshot and the log", snaps2, snaps, logs)
	}

	// Automatic compaction off: nothing compacts at close either.
	dir = t.TempDir()
	d = runDisk(t, dir, small, func(c *DataNodeConfig) { c.AutoAOFRewritePercentage = -1 })
	writeMany(newGoRedis(t, d), 300)
	d.Close()
	if snaps, _ := logBytes(dir); len(snaps) != 0 {
		t.Fatalf("with auto-aof-rewrite-percentage -1: snapshots %v after close", snaps)
	}
	if n := newGoRedis(t, runDisk(t, dir)).DBSize(ctx).Val(); n != 300 {
		t.Fatalf("restart without compaction: %d keys, want 300", n)
	}
}

// heldFile is a log file whose fsyncs, while hold is set, report on
// entered and wait for release.
type heldFile struct {
	*os.File
	hold    *atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (f heldFile) Sync() error {
	if f.hold.Load() {
		f.entered <- struct{}{}
		<-f.release
	}
	return f.File.Sync()
}

// With appendfsync always, no reply leaves before the fsync of its write,
// and the writes that arrive while one fsync runs share the next one (group
// commit): the event loop fsyncs once per turn, before the turn's replies,
// as Redis does.
func TestAOFAlwaysGroupCommit(t *testing.T) {
	dir := t.TempDir()
	var hold atomic.Bool
	entered, release := make(chan struct{}, 16), make(chan struct{})
	d := runDisk(t, dir, func(c *DataNodeConfig) {
		c.EventLoops = 1
		c.openAOFFile = func(name string) (aofFile, error) {
			f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
			return heldFile{f, &hold, entered, release}, err
		}
	})
	var once sync.Once
	free := func() { hold.Store(false); once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the node closes, should the test stop early
	type client struct {
		nc net.Conn
		r  *bufio.Reader
	}
	dial := func() client {
		nc, err := net.Dial("tcp", d.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		r := bufio.NewReader(nc)
		fmt.Fprint(nc, "PING\r\n")
		r.ReadString('\n')
		return client{nc, r}
	}
	noReply := func(c client, who string) {
		c.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if line, err := c.r.ReadString('\n'); err == nil {
			t.Fatalf("%s answered %q before its write was fsynced", who, line)
		}
		c.nc.SetReadDeadline(time.Time{})
	}
	reply := func(c client, who string) {
		c.nc.SetReadDeadline(time.Now().Add(20 * time.Second)) // a liveness bound, not a speed check
		if line, err := c.r.ReadString('\n'); err != nil || line != "+OK\r\n" {
			t.Fatalf("%s: %q %v", who, line, err)
		}
	}
	a := dial()
	others := []client{dial(), dial(), dial()}

	hold.Store(true)
	fmt.Fprint(a.nc, "SET a 1\r\n")
	<-entered // the fsync of a's write runs
	for i, c := range others {
		fmt.Fprintf(c.nc, "SET k%d 1\r\n", i)
	}
	noReply(a, "SET a")
	release <- struct{}{}
	reply(a, "SET a")
	<-entered // one fsync for the three writes sent during the first
	for i, c := range others {
		noReply(c, fmt.Sprintf("SET k%d", i))
	}
	release <- struct{}{}
	for i, c := range others {
		reply(c, fmt.Sprintf("SET k%d", i))
	}
	select {
	case <-entered:
		t.Fatal("a third fsync: the writes sent during the first did not share one")
	default:
	}
	free()
	rc := newGoRedis(t, runDisk(t, crashCopy(t, dir)))
	for _, k := range []string{"a", "k0", "k1", "k2"} {
		if rc.Get(context.Background(), k).Val() != "1" {
			t.Fatalf("%s lost", k)
		}
	}
}

// A record whose checksum holds but which does not apply (a pop from a
// list that is not there) is damage at its offset as well, though the
// load applies records on several goroutines: the keys of other slots
// after it are not loaded with --aof-load-truncated.
func TestAOFRecordThatDoesNotApply(t *testing.T) {
	const n = 8
	dir, path := logWith(t, n)
	ends := frameEnds(t, path)
	full, _ := os.ReadFile(path)
	bad, start := beginFrame(nil, frameList, 7, 1)
	bad = binary.AppendUvarint(bad, 1)
	bad = append(bad, deltaPop<<1)
	bad = appendBytes(bad, []byte("nosuch"))
	bad = binary.AppendUvarint(bad, 1)
	endFrame(bad, start)
	b := slices.Concat(full[:ends[2]], bad, full[ends[2]:])
	os.WriteFile(path, b, 0o644)
	_, err := loadKeys(t, dir, false, io.Discard)
	want := fmt.Sprintf("chkv-1.aof is damaged at offset %d", ends[2])
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
	if got, err := loadKeys(t, dir, true, io.Discard); err != nil || got != 3 {
		t.Fatalf("--aof-load-truncated: %d keys, %v; want the 3 before the bad record", got, err)
	}
}

// TestAOFLogKeyCount checks the count of keys a log creates, which sizes
// the slots' maps before a log is replayed after a kill -9: distinct keys,
// not records (a key written again and again is one key).
func TestAOFLogKeyCount(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := runDisk(t, dir, func(c *DataNodeConfig) { c.AppendFsync = FsyncNo })
	rc := newGoRedis(t, d)
	count := func() (n int) {
		keys := make([]int32, NumSlots)
		countLogKeys(filepath.Join(crashCopy(t, dir), logName(1)), keys)
		for _, k := range keys {
			n += int(k)
		}
		return n
	}
	write := func(n int, key func(i int) string) {
		t.Helper()
		for i := 0; i < n; i += 1000 {
			if _, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j := i; j < min(i+1000, n); j++ {
					p.Set(ctx, key(j), j, 0)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(20000, func(i int) string { return "k" + strconv.Itoa(i) })
	within := func(got, want int) bool { return got >= want*95/100 && got <= want*105/100+NumSlots/64 }
	if got := count(); !within(got, 20000) {
		t.Fatalf("a log of 20,000 distinct keys counts %d", got)
	}
	// 60,000 more writes of 300 keys: the log holds 80,000 records of 20,300 keys.
	write(60000, func(i int) string { return "hot" + strconv.Itoa(i%300) })
	if got := count(); !within(got, 20300) {
		t.Fatalf("a log of 80,000 writes of 20,300 keys counts %d", got)
	}
	if n := int(d.Store().Keys()); n != 20300 {
		t.Fatalf("the node holds %d keys", n)
	}
}
