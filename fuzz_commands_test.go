package chkv

import (
	"flag"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chooser picks numbers: from fuzz input bytes or from a random source.
type chooser interface{ intn(n int) int }

// byteChooser draws from fuzz input bytes; once they run out it answers 0.
type byteChooser struct{ b []byte }

func (c *byteChooser) intn(n int) int {
	if n <= 1 || len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0])
	if n > 256 && len(c.b) > 1 {
		v = v<<8 | int(c.b[1])
		c.b = c.b[1:]
	}
	c.b = c.b[1:]
	return v % n
}

// randChooser draws from a seeded random source.
type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return c.r.IntN(n)
}

// genKeys are the keys generated commands use: few, so types collide.
var genKeys = []string{"k", "l", "h", "s", "k2", "{k}x"}

// genWords are the option words and patterns generated commands use.
var genWords = []string{
	"a", "b", "v", "LEFT", "RIGHT", "EX", "PX", "EXAT", "PXAT", "NX", "XX", "GT", "LT", "KEEPTTL", "GET",
	"PERSIST", "COUNT", "MATCH", "TYPE", "RANK", "MAXLEN", "WITHVALUES", "LIMIT", "BEFORE", "AFTER", "*",
	"a*", "[a-", "\\", "string", "list", "hash", "set", "ASYNC", "stats", "0",
}

// genArg returns one argument: a key, an extreme number, a small number,
// a word, or a few random bytes.
func genArg(c chooser) string {
	switch c.intn(5) {
	case 0:
		return genKeys[c.intn(len(genKeys))]
	case 1:
		return numericExtremes[c.intn(len(numericExtremes))]
	case 2:
		return strconv.Itoa(c.intn(12) - 4)
	case 3:
		return genWords[c.intn(len(genWords))]
	}
	b := make([]byte, c.intn(6))
	for i := range b {
		b[i] = byte(c.intn(256))
	}
	return string(b)
}

// genCommand returns one command of the table (names sorted) with
// arguments: mostly as many as its arity asks, sometimes a few more or
// fewer. A blocking command's timeout is made short, so it never waits
// long.
func genCommand(c chooser, names []string, cmds map[string]*command) []string {
	cmd := cmds[names[c.intn(len(names))]]
	n := cmd.arity - 1
	if n < 0 {
		n = -cmd.arity - 1 + c.intn(5)
	}
	switch c.intn(10) {
	case 0:
		n = max(0, n-1)
	case 1:
		n++
	}
	args := []string{cmd.name}
	for range n {
		args = append(args, genArg(c))
	}
	if first, last, ok := cmd.keyBounds(make([][]byte, len(args))); ok { // key positions: mostly keys
		for i := first; i <= last; i += cmd.step {
			if c.intn(5) != 0 {
				args[i] = genKeys[c.intn(len(genKeys))]
			}
		}
	}
	if cmd.flags&flagBlocking != 0 && len(args) > 2 {
		args[len(args)-1] = []string{"0.001", "-1", "nan", "x", "1e309", "0.01"}[c.intn(6)]
	}
	return args
}

// discardConn is a client socket for a conn driven in-process: writes
// vanish, reads report the client gone (a blocking command returns at once).
type discardConn struct{}

func (discardConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzMaxBulk is the node's proto-max-bulk-len in the fuzz: the largest
// value one command may make (SETRANGE's offset, APPEND), which bounds
// what a short request may legitimately allocate.
const fuzzMaxBulk = 1 << 20

// fuzzAllocSlack is the allocation one input may cause beyond 64 times its
// bytes: a few values of fuzzMaxBulk, and the reply to a random pick of
// up to maxRandRepeats elements (cmd_coll.go).
const fuzzAllocSlack = 8*fuzzMaxBulk + 64*maxRandRepeats

// FuzzCommandTable drives the command table itself: every input is a
// sequence of commands picked from the table with extreme and random
// arguments, run on one in-process node from a clean keyspace. A command
// must not panic (a contained panic is counted in INFO: the fuzz fails on
// it), and one input must not make the node allocate far beyond its bytes.
func FuzzCommandTable(f *testing.F) {
	d := RunT(f, func(c *DataNodeConfig) { c.Limits.MaxBulk = fuzzMaxBulk; c.EventLoops = -1 })
	names := make([]string, 0, len(d.cmds))
	for n := range d.cmds {
		if n != "quit" && n != "flushall" && n != "flushdb" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for i := range 40 {
		seed := make([]byte, 64)
		r := rand.New(rand.NewPCG(uint64(i), 17))
		for j := range seed {
			seed[j] = byte(r.IntN(256))
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := d.newConn(discardConn{})
		d.store.Flush()
		ch := &byteChooser{b: in}
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		var done [][]string
		for len(ch.b) > 0 && len(done) < 64 {
			args := genCommand(ch, names, d.cmds)
			done = append(done, args)
			bargs := make([][]byte, len(args))
			for i, a := range args {
				bargs[i] = []byte(a)
			}
			c.exec(bargs)
			c.quit, c.w.buf = false, c.w.buf[:0]
			if n := d.stats.panics.Load(); n > 0 {
				t.Fatalf("command %q panicked (see the log); commands so far: %q", args, done)
			}
		}
		runtime.ReadMemStats(&ms1)
		if grew := ms1.TotalAlloc - ms0.TotalAlloc; grew > uint64(64*len(in)+fuzzAllocSlack) {
			t.Fatalf("%d input bytes made the node allocate %d bytes: %q", len(in), grew, done)
		}
	})
}

// genDiffCommands is how many generated commands TestDiffGenerated runs;
// -gen-commands sets more for a long run.
var genDiffCommands = flag.Int("gen-commands", 2000, "commands TestDiffGenerated sends to redis-server and chkv")

// genDiffSkip are the commands whose replies legitimately differ from
// Redis's, so the generated differential run does not send them: random
// picks (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER: a huge negative
// count makes Redis stream billions), cursors (SCAN, HSCAN, SSCAN, ZSCAN:
// chkv's cursor is a slot), ids, clocks and server facts (CLIENT, HELLO, INFO,
// TIME, COMMAND, CONFIG, DBSIZE after random commands is compared anyway),
// databases (SELECT: chkv has one), chkv's own (CHKV.*) and cluster mode
// (CLUSTER, READONLY, READWRITE, ASKING: the node under test is
// standalone), persistence (SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE: the node
// under test has no data dir, and Redis's answers depend on its background
// jobs' timing), and commands that end or wait (QUIT, the blocking pops:
// timing).
var genDiffSkip = map[string]bool{
	"spop": true, "srandmember": true, "hrandfield": true, "zrandmember": true,
	"scan": true, "hscan": true, "sscan": true, "zscan": true,
	"client": true, "hello": true, "info": true, "time": true, "command": true, "config": true,
	"select": true, "quit": true, "blpop": true, "brpop": true, "blmove": true, "brpoplpush": true,
	"cluster": true, "readonly": true, "readwrite": true, "asking": true, "auth": true,
	"save": true, "bgsave": true, "bgrewriteaof": true, "lastsave": true,
	"pexpire": true, "psetex": true, // TTLs of milliseconds: a key expiring between the two servers' commands is a race
	"randomkey": true, "dump": true, "object": true, // a random key; chkv's own payload; idle times a clock tick apart
	"wait": true, // WAIT n 0 waits for replicas forever on a redis-server without any
}

// genDiffUnordered are commands whose array replies are compared as
// multisets: Redis's order depends on its hash tables' layout.
var genDiffUnordered = map[string]bool{
	"keys": true, "smembers": true, "sinter": true, "sunion": true, "sdiff": true,
	"hkeys": true, "hvals": true, "hgetall": true,
}

// TestDiffGenerated sends the same generated commands (genCommand, a fixed
// seed; CHKV_GEN_SEED picks another) to redis-server and chkv and compares
// every reply.
func TestDiffGenerated(t *testing.T) {
	redisNet, redisAddr := startRedis(t)
	chkvNet, chkvAddr := startChkv(t)
	rc := &caseSide{t: t, name: "redis", network: redisNet, addr: redisAddr}
	cc := &caseSide{t: t, name: "chkv", network: chkvNet, addr: chkvAddr}
	var names []string
	cmds := commandTable()
	for n := range cmds {
		if !genDiffSkip[n] && !strings.HasPrefix(n, "chkv.") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	seed := uint64(36021)
	if s := os.Getenv("CHKV_GEN_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	ch := randChooser{rand.New(rand.NewPCG(seed, 17))}
	for _, side := range []*caseSide{rc, cc} {
		mustOK(t, side.conn(0), "FLUSHALL")
		// chkv's default: the limits that follow from it (bit offsets) then agree.
		mustOK(t, side.conn(0), "CONFIG", "SET", "proto-max-bulk-len", "64mb")
	}
	failed := 0
	kinds := map[byte]int{} // replies by type, for the log
	for i := range *genDiffCommands {
		args := genCommand(ch, names, cmds)
		for j, a := range args { // TTLs in seconds: a key expiring between two servers' commands is a race
			switch a {
			case "PX":
				args[j] = "EX"
			case "PXAT":
				args[j] = "EXAT"
			}
		}
		s := step{args: args}
		switch {
		case genDiffUnordered[args[0]]:
			s.mode = cmpSorted
		case args[0] == "pttl" || args[0] == "ttl": // read a moment apart
			s.mode, s.tol = cmpNear, 10
		}
		want, got := s.run(t, rc), s.run(t, cc)
		kinds[want[0]]++
		if os.Getenv("CHKV_DIFF_TRACE") != "" {
			t.Logf("%s\n\tredis: %s\n\tchkv:  %s", s, clip(want), clip(got))
		}
		if !s.same(want, got) {
			failed++
			t.Errorf("command %d: %s\n\tredis: %s\n\tchkv:  %s", i, s, clip(want), clip(got))
			if failed > 20 {
				t.Fatal("too many differences")
			}
		}
		// The key count after every command: a command that creates or
		// deletes a key the other does not is caught where it happens.
		size := step{args: []string{"DBSIZE"}}
		if want, got := size.run(t, rc), size.run(t, cc); !s.same(want, got) {
			if pastExpiry(args) {
				// Redis 7.0 keeps a key set with an expiry in the past
				// until something touches it, and DBSIZE counts it; chkv
				// drops it at once. Every read agrees: start over.
				t.Logf("after command %d: %s: DBSIZE %s (redis) and %s (chkv): an expiry in the past", i, s, clip(want), clip(got))
			} else {
				failed++
				t.Errorf("after command %d: %s: DBSIZE\n\tredis: %s\n\tchkv:  %s", i, s, clip(want), clip(got))
			}
			for _, side := range []*caseSide{rc, cc} {
				mustOK(t, side.conn(0), "FLUSHALL")
			}
		}
		if i%500 == 499 { // start over now and then: keys stay small
			for _, side := range []*caseSide{rc, cc} {
				mustOK(t, side.conn(0), "FLUSHALL")
			}
		}
	}
	t.Logf("%d generated commands compared (seed %d); replies by type: %d errors, %d integers, %d bulk, %d arrays, %d simple",
		*genDiffCommands, seed, kinds['-'], kinds[':'], kinds['$'], kinds['*'], kinds['+'])
}

// pastExpiry reports a command that may set an absolute expiry in the past.
func pastExpiry(args []string) bool {
	for _, a := range args {
		switch strings.ToLower(a) {
		case "exat", "pxat", "expireat", "pexpireat":
			return true
		}
	}
	return false
}
