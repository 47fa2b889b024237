// CONFIG GET, CONFIG SET and CONFIG RESETSTAT over a table of parameters, each with its reader and its writer.

package chkv

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// configParam is one parameter CONFIG GET and CONFIG SET know. To add one,
// append an entry to configTable: a name (lower case), get (the value as
// CONFIG GET shows it) and set (nil: immutable). set parses and checks the
// value and applies it; it returns "" or Redis's reason for refusing
// (CONFIG SET answers "ERR CONFIG SET failed (possibly related to argument
// '<name>') - <reason>"). The numeric helpers below give Redis's parsing
// and reasons for integers and memory sizes.
type configParam struct {
	name string
	get  func(d *DataNode) string
	set  func(d *DataNode, v []byte) string
	// alias is an older name (hash-max-ziplist-entries); CONFIG GET
	// patterns list it too, as Redis 7.0 does.
	alias string
}

// settings are the parameters CONFIG SET changes while the node runs; the
// node reads them through its accessors (maxClients, idleTimeout,
// requirePass, maxBulk), never from cfg after start.
type settings struct {
	maxClients  atomic.Int64
	idleTimeout atomic.Int64 // nanoseconds; 0: never
	requirePass atomic.Pointer[string]
	maxBulk     atomic.Int64

	mu     sync.Mutex
	tuning map[string]string // parameters accepted with no effect on chkv (encodings)
}

// initSettings copies the configuration's settable values into d.settings.
func (d *DataNode) initSettings() {
	d.settings.maxClients.Store(int64(d.cfg.MaxClients))
	d.settings.idleTimeout.Store(int64(d.cfg.IdleTimeout))
	pass := d.cfg.RequirePass
	d.settings.requirePass.Store(&pass)
	d.settings.maxBulk.Store(int64(d.cfg.Limits.MaxBulk))
	d.settings.tuning = map[string]string{}
	for _, p := range tuningParams {
		d.settings.tuning[p.name] = p.def
	}
}

func (d *DataNode) maxClients() int            { return int(d.settings.maxClients.Load()) }
func (d *DataNode) idleTimeout() time.Duration { return time.Duration(d.settings.idleTimeout.Load()) }
func (d *DataNode) requirePass() string        { return *d.settings.requirePass.Load() }

// maxBulk is proto-max-bulk-len: the largest argument a request may carry
// and the largest string a command may make.
func (d *DataNode) maxBulk() int { return int(d.settings.maxBulk.Load()) }

// tuningParams tune Redis's internal encodings: chkv accepts them, checks
// them as Redis does and reports them back, and they change nothing.
var tuningParams = []struct {
	name, alias string
	min, max    int64
	def         string
	memory      bool
}{
	{"hash-max-listpack-entries", "hash-max-ziplist-entries", 0, math.MaxInt64, "512", false},
	{"hash-max-listpack-value", "hash-max-ziplist-value", 0, math.MaxInt64, "64", true},
	{"set-max-intset-entries", "", 0, math.MaxInt64, "512", false},
	{"zset-max-listpack-entries", "zset-max-ziplist-entries", 0, math.MaxInt64, "128", false},
	{"zset-max-listpack-value", "zset-max-ziplist-value", 0, math.MaxInt64, "64", true},
	{"list-max-listpack-size", "list-max-ziplist-size", math.MinInt32, math.MaxInt32, "-2", false},
	{"list-compress-depth", "", 0, math.MaxInt32, "0", false},
}

// configTable returns every parameter CONFIG knows.
func configTable() []configParam {
	fixed := func(v string) func(*DataNode) string { return func(*DataNode) string { return v } }
	ps := []configParam{
		{name: "maxclients", get: func(d *DataNode) string { return strconv.Itoa(d.maxClients()) },
			set: func(d *DataNode, v []byte) string {
				n, msg := parseConfigInt(v, false, 1, math.MaxUint32, true)
				if msg == "" {
					d.settings.maxClients.Store(n)
				}
				return msg
			}},
		{name: "timeout", get: func(d *DataNode) string { return strconv.FormatInt(int64(d.idleTimeout()/time.Second), 10) },
			set: func(d *DataNode, v []byte) string {
				n, msg := parseConfigInt(v, false, 0, math.MaxInt32, false)
				if msg == "" {
					d.settings.idleTimeout.Store(int64(time.Duration(n) * time.Second))
					if d.loops != nil {
						d.loops.noteIdle(time.Duration(n) * time.Second)
					}
				}
				return msg
			}},
		{name: "requirepass", get: (*DataNode).requirePass,
			set: func(d *DataNode, v []byte) string {
				pass := string(v)
				d.settings.requirePass.Store(&pass)
				return ""
			}},
		{name: "proto-max-bulk-len", get: func(d *DataNode) string { return strconv.Itoa(d.maxBulk()) },
			set: func(d *DataNode, v []byte) string {
				n, msg := parseConfigInt(v, true, 1<<20, math.MaxInt64, false)
				if msg == "" {
					d.settings.maxBulk.Store(n)
				}
				return msg
			}},
		{name: "save", get: fixed("")},
		{name: "databases", get: fixed("1")},
		{name: "cluster-enabled", get: func(d *DataNode) string { return map[bool]string{false: "no", true: "yes"}[d.cluster != nil] }},
		{name: "bind", get: func(d *DataNode) string { return d.Addr() }},
	}
	ps = append(ps, memoryConfigParams()...)
	ps = append(ps, persistParams()...)
	for _, t := range tuningParams {
		ps = append(ps, configParam{name: t.name, alias: t.alias,
			get: func(d *DataNode) string {
				d.settings.mu.Lock()
				defer d.settings.mu.Unlock()
				return d.settings.tuning[t.name]
			},
			set: func(d *DataNode, v []byte) string {
				n, msg := parseConfigInt(v, t.memory, t.min, t.max, t.min >= 0)
				if msg == "" {
					d.settings.mu.Lock()
					d.settings.tuning[t.name] = strconv.FormatInt(n, 10)
					d.settings.mu.Unlock()
				}
				return msg
			}})
	}
	return ps
}

// lookupConfig finds a parameter by its name or alias, ignoring case.
func lookupConfig(ps []configParam, name []byte) *configParam {
	for i := range ps {
		if eqFold(name, ps[i].name) || ps[i].alias != "" && eqFold(name, ps[i].alias) {
			return &ps[i]
		}
	}
	return nil
}

// parseConfigInt parses a numeric parameter as Redis's CONFIG SET does: a
// memory value (digits and an optional unit b, k, kb, m, mb, g, gb) when
// memory, else an integer; then checks it against [min, max], comparing
// as unsigned when unsigned (so -1 is out of range, not below min). It
// returns the value or Redis's reason.
func parseConfigInt(v []byte, memory bool, min, max int64, unsigned bool) (int64, string) {
	var n int64
	if memory {
		u, ok := memToUint(v)
		if !ok {
			return 0, "argument must be a memory value"
		}
		n = int64(u)
	} else {
		var ok bool
		if n, ok = parseInt(v); !ok {
			return 0, "argument couldn't be parsed into an integer"
		}
	}
	if unsigned {
		if uint64(n) > uint64(max) || uint64(n) < uint64(min) {
			return 0, "argument must be between " + strconv.FormatUint(uint64(min), 10) + " and " + strconv.FormatUint(uint64(max), 10) + " inclusive"
		}
	} else if n > max || n < min {
		return 0, "argument must be between " + strconv.FormatInt(min, 10) + " and " + strconv.FormatInt(max, 10) + " inclusive"
	}
	return n, ""
}

// memToUint parses a memory value as Redis's memtoull: digits (none is
// 0; too many saturate) and an optional unit, the product wrapping as
// C's unsigned arithmetic does.
func memToUint(v []byte) (uint64, bool) {
	i := 0
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	mul, ok := map[string]uint64{"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000 * 1000, "mb": 1 << 20,
		"g": 1000 * 1000 * 1000, "gb": 1 << 30}[strings.ToLower(string(v[i:]))]
	if !ok || i >= 128 {
		return 0, false
	}
	var n uint64
	for _, ch := range v[:i] {
		if n > (math.MaxUint64-9)/10 {
			n = math.MaxUint64 // strtoull saturates on overflow
			break
		}
		n = n*10 + uint64(ch-'0')
	}
	return n * mul, true
}

// cmdConfig serves CONFIG GET, SET, RESETSTAT and REWRITE.
func cmdConfig(c *conn, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	arity := map[string]int{"get": -3, "set": -4, "resetstat": 2, "rewrite": 2}[sub]
	switch {
	case arity == 0:
		c.w.errorText("ERR unknown subcommand '" + string(truncate(args[1], 128)) + "'. Try CONFIG HELP.")
		return
	case arity > 0 && len(args) != arity || arity < 0 && len(args) < -arity:
		c.w.errorText("ERR wrong number of arguments for 'config|" + sub + "' command")
		return
	}
	switch sub {
	case "get":
		c.configGet(args[2:])
	case "set":
		c.configSet(args[2:])
	case "resetstat":
		c.d.resetStats()
		c.w.ok()
	case "rewrite":
		c.w.errorText("ERR The server is running without a config file")
	}
}

// configGet answers CONFIG GET: a name without `*`, `?` or `[` is looked
// up (and echoed as written), a pattern is matched against every name.
func (c *conn) configGet(pats [][]byte) {
	ps := configTable()
	var out []string
	seen := map[string]bool{}
	for _, pat := range pats {
		if !strings.ContainsAny(string(pat), "*?[") {
			if p := lookupConfig(ps, pat); p != nil && !seen[string(pat)] {
				seen[string(pat)] = true
				out = append(out, string(pat), p.get(c.d))
			}
			continue
		}
		for i := range ps {
			for _, name := range []string{ps[i].name, ps[i].alias} {
				if name != "" && !seen[name] && globMatch(pat, name, true) {
					seen[name] = true
					out = append(out, name, ps[i].get(c.d))
				}
			}
		}
	}
	c.w.bulkStrings(out)
}

// configSet answers CONFIG SET name value [name value ...]: every name is
// checked before any value is set, and a value refused leaves the ones set
// before it restored, as in Redis.
func (c *conn) configSet(kv [][]byte) {
	if len(kv)%2 != 0 {
		c.w.errorText(msgSyntax)
		return
	}
	ps := configTable()
	var todo []*configParam
	for i := 0; i < len(kv); i += 2 {
		p := lookupConfig(ps, kv[i])
		if p == nil {
			c.w.errorText("ERR Unknown option or number of arguments for CONFIG SET - '" + cString(kv[i]) + "'")
			return
		}
		todo = append(todo, p)
	}
	fail := func(name, reason string) {
		c.w.errorText("ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + reason)
	}
	for i, p := range todo {
		switch {
		case p.set == nil:
			fail(cString(kv[2*i]), "can't set immutable config")
			return
		case slices.Index(todo, p) < i:
			fail(cString(kv[2*i]), "duplicate parameter")
			return
		}
	}
	old := make([]string, len(todo))
	for i, p := range todo {
		old[i] = p.get(c.d)
	}
	for i, p := range todo {
		if reason := p.set(c.d, kv[2*i+1]); reason != "" {
			for j := range i {
				todo[j].set(c.d, []byte(old[j]))
			}
			fail(p.name, reason)
			return
		}
	}
	c.w.ok()
}

// resetStats zeroes the counters of INFO stats, as CONFIG RESETSTAT does.
func (d *DataNode) resetStats() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range []*atomic.Int64{&d.stats.connsReceived, &d.stats.connsRejected, &d.stats.commands,
		&d.stats.netIn, &d.stats.netOut, &d.stats.panics, &d.store.expired} {
		n.Store(0)
	}
	for c := range d.conns {
		c.cmds.Store(0)
		c.bytesIn.Store(0)
		c.bytesOut.Store(0)
	}
}
