// Connection and server commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, CLIENT, COMMAND, INFO, DBSIZE, FLUSH*, TIME, CONFIG.

package chkv

import (
	"crypto/subtle"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// redisVersion is the Redis version whose behaviour chkv reproduces; clients
// read it from HELLO and INFO to pick features.
const redisVersion = "7.0.15"

// Version is chkv's own version.
const Version = "0.1.0"

func cmdPing(c *conn, args [][]byte) {
	switch len(args) {
	case 1:
		c.w.simple("PONG")
	case 2:
		c.w.bulk(args[1])
	default:
		c.w.errorText("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *conn, args [][]byte) { c.w.bulk(args[1]) }

func cmdQuit(c *conn, args [][]byte) {
	c.w.ok()
	c.quit = true
}

func cmdSelect(c *conn, args [][]byte) {
	n, ok := parseInt(args[1])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		c.w.errorText("ERR value is out of range, value must between -2147483648 and 2147483647")
		return
	}
	if n != 0 {
		c.w.errorText("ERR DB index is out of range")
		return
	}
	c.w.ok()
}

func cmdAuth(c *conn, args [][]byte) {
	if len(args) > 3 {
		c.w.errorText(msgSyntax)
		return
	}
	user, pass := []byte("default"), args[1]
	if len(args) == 3 {
		user, pass = args[1], args[2]
	}
	if len(args) == 2 && c.d.requirePass() == "" {
		c.w.errorText("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	if !c.login(user, pass) {
		c.w.errorText("WRONGPASS invalid username-password pair or user is disabled.")
		return
	}
	c.w.ok()
}

// checkPassword reports whether user/pass may log in.
func (d *DataNode) checkPassword(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	rp := d.requirePass()
	if rp == "" {
		return true
	}
	return subtle.ConstantTimeCompare(pass, []byte(rp)) == 1
}

func cmdHello(c *conn, args [][]byte) {
	if len(args) >= 2 {
		ver, ok := parseInt(args[1])
		if !ok {
			c.w.errorText("ERR Protocol version is not an integer or out of range")
			return
		}
		if ver != 2 {
			c.w.errorText("NOPROTO unsupported protocol version")
			return
		}
	}
	var name []byte
	for i := 2; i < len(args); i++ {
		more := len(args) - i - 1
		switch {
		case eqFold(args[i], "auth") && more >= 2:
			if !c.login(args[i+1], args[i+2]) {
				c.w.errorText("WRONGPASS invalid username-password pair or user is disabled.")
				return
			}
			i += 2
		case eqFold(args[i], "setname") && more >= 1:
			name = args[i+1]
			i++
		default:
			c.w.errorText("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
			return
		}
	}
	if !c.authed {
		c.w.errorText("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if name != nil {
		if !validClientName(name) {
			c.w.errorText("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.mu.Lock()
		c.name = string(name)
		c.mu.Unlock()
	}
	c.w.array(14)
	c.w.bulkString("server")
	c.w.bulkString("redis")
	c.w.bulkString("version")
	c.w.bulkString(redisVersion)
	c.w.bulkString("proto")
	c.w.int(2)
	c.w.bulkString("id")
	c.w.int(c.id)
	c.w.bulkString("mode")
	c.w.bulkString(c.d.mode())
	c.w.bulkString("role")
	c.w.bulkString("master")
	c.w.bulkString("modules")
	c.w.array(0)
}

// validClientName reports whether name only has printable non-space ASCII, as Redis requires.
func validClientName(name []byte) bool {
	for _, ch := range name {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func cmdClient(c *conn, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	arityErr := func() { c.w.errorText("ERR wrong number of arguments for 'client|" + sub + "' command") }
	switch sub {
	case "setname":
		if len(args) != 3 {
			arityErr()
			return
		}
		if !validClientName(args[2]) {
			c.w.errorText("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.mu.Lock()
		c.name = string(args[2])
		c.mu.Unlock()
		c.w.ok()
	case "getname":
		if len(args) != 2 {
			arityErr()
			return
		}
		c.mu.Lock()
		name := c.name
		c.mu.Unlock()
		if name == "" {
			c.w.null()
		} else {
			c.w.bulkString(name)
		}
	case "id":
		if len(args) != 2 {
			arityErr()
			return
		}
		c.w.int(c.id)
	case "setinfo":
		if len(args) != 4 {
			arityErr()
			return
		}
		attr := strings.ToLower(string(args[2]))
		if attr != "lib-name" && attr != "lib-ver" {
			c.w.errorText("ERR Unrecognized option '" + string(args[2]) + "'")
			return
		}
		for _, ch := range args[3] {
			if ch < '!' || ch > '~' {
				c.w.errorText("ERR " + attr + " cannot contain spaces, newlines or special characters.")
				return
			}
		}
		c.mu.Lock()
		if attr == "lib-name" {
			c.libName = string(args[3])
		} else {
			c.libVer = string(args[3])
		}
		c.mu.Unlock()
		c.w.ok()
	case "list":
		var b strings.Builder
		for _, o := range sortedConns(c.d.clients()) {
			b.WriteString(o.describe(c.d.cfg.Now()))
			b.WriteByte('\n')
		}
		c.w.bulkString(b.String())
	case "info":
		c.w.bulkString(c.describe(c.d.cfg.Now()) + "\n")
	default:
		c.w.errorText("ERR unknown subcommand '" + string(truncate(args[1], 128)) + "'. Try CLIENT HELP.")
	}
}

func sortedConns(cs []*conn) []*conn {
	sort.Slice(cs, func(i, j int) bool { return cs[i].id < cs[j].id })
	return cs
}

// describe formats c as one line of CLIENT LIST.
func (c *conn) describe(now time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd := c.lastCmd
	if cmd == "" {
		cmd = "NULL"
	}
	age := int64(now.Sub(c.created) / time.Second)
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=0 name=%s age=%d idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=2 lib-name=%s lib-ver=%s",
		c.id, c.nc.RemoteAddr(), c.nc.LocalAddr(), c.name, age, cmd, c.libName, c.libVer)
}

func cmdDBSize(c *conn, args [][]byte) { c.w.int(c.d.store.Keys()) }

func cmdFlush(c *conn, args [][]byte) {
	if len(args) > 2 || len(args) == 2 && !eqFold(args[1], "async") && !eqFold(args[1], "sync") {
		c.w.errorText(msgSyntax)
		return
	}
	c.d.store.Flush()
	c.w.ok()
}

func cmdTime(c *conn, args [][]byte) {
	now := c.d.cfg.Now()
	c.w.array(2)
	c.w.bulkString(strconv.FormatInt(now.Unix(), 10))
	c.w.bulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdInfo(c *conn, args [][]byte) {
	sections := map[string]bool{}
	for _, a := range args[1:] {
		sections[strings.ToLower(string(a))] = true
	}
	all := len(sections) == 0 || sections["all"] || sections["everything"] || sections["default"]
	want := func(s string) bool { return all || sections[s] }
	d := c.d
	var b strings.Builder
	section := func(name string, kv ...any) {
		if !want(strings.ToLower(name)) {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
		for i := 0; i+1 < len(kv); i += 2 {
			fmt.Fprintf(&b, "%v:%v\r\n", kv[i], kv[i+1])
		}
	}
	now := d.cfg.Now()
	up := now.Sub(d.started)
	section("Server",
		"redis_version", redisVersion,
		"chkv_version", Version,
		"redis_mode", d.mode(),
		"os", runtime.GOOS+" "+runtime.GOARCH,
		"arch_bits", strconv.IntSize,
		"go_version", runtime.Version(),
		"process_id", os.Getpid(),
		"tcp_port", portOf(d.Addr()),
		"uptime_in_seconds", int64(up/time.Second),
		"uptime_in_days", int64(up/(24*time.Hour)),
	)
	section("Clients",
		"connected_clients", len(d.clients()),
		"maxclients", d.maxClients(),
		"blocked_clients", d.store.blockedClients(),
	)
	var ms runtime.MemStats
	if want("memory") {
		runtime.ReadMemStats(&ms)
	}
	section("Memory",
		"used_memory", d.store.UsedMemory(),
		"used_memory_human", humanBytes(d.store.UsedMemory()),
		"used_memory_heap", ms.HeapAlloc,
		"used_memory_sys", ms.Sys,
		"go_heap_goal", ms.NextGC,
		"go_heap_allocated_total", ms.TotalAlloc,
		"go_gc_cycles", ms.NumGC,
		"used_memory_rss", processRSS(),
		"maxmemory", d.store.MaxMemory(),
		"maxmemory_human", humanBytes(d.store.MaxMemory()),
		"maxmemory_policy", d.store.MaxMemoryPolicy(),
		"maxmemory_data", d.store.DataCap(),
	)
	if want("persistence") {
		section("Persistence", d.persistenceInfo()...)
	}
	cmds, netIn, netOut := d.connTotals()
	section("Stats",
		"total_connections_received", d.stats.connsReceived.Load(),
		"total_commands_processed", cmds,
		"total_net_input_bytes", netIn,
		"total_net_output_bytes", netOut,
		"rejected_connections", d.stats.connsRejected.Load(),
		"expired_keys", d.store.ExpiredKeys(),
		"evicted_keys", d.store.EvictedKeys(),
		"command_panics", d.stats.panics.Load(),
	)
	if d.cluster != nil {
		section("Replication", d.cluster.infoReplication()...)
	} else {
		section("Replication", "role", "master", "connected_slaves", 0)
	}
	section("Cluster", "cluster_enabled", map[bool]int{false: 0, true: 1}[d.cluster != nil])
	mig := &migrationStats{} // a standalone node moves nothing
	if d.cluster != nil {
		mig = &d.cluster.stats
	}
	section("Migration",
		"migrating_slots_out", mig.slotsOut.Load(),
		"importing_slots_in", mig.slotsIn.Load(),
		"migrate_keys_sent", mig.keysSent.Load(),
		"migrate_bytes_sent", mig.bytesSent.Load(),
		"migrate_slots_sent", mig.slotsSent.Load(),
		"migrate_keys_received", mig.keysReceived.Load(),
		"migrate_bytes_received", mig.bytesReceived.Load(),
		"migrate_slots_received", mig.slotsRecv.Load(),
	)
	if want("keyspace") {
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# Keyspace\r\n")
		if n := d.store.Keys(); n > 0 {
			fmt.Fprintf(&b, "db0:keys=%d,expires=%d,avg_ttl=0\r\n", n, d.store.keysWithTTL())
		}
	}
	c.w.bulkString(b.String())
}

// mode is the server mode HELLO and INFO report: "cluster" or "standalone".
func (d *DataNode) mode() string {
	if d.cluster != nil {
		return "cluster"
	}
	return "standalone"
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return "0"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func cmdCommand(c *conn, args [][]byte) {
	all := func() []*command {
		cs := make([]*command, 0, len(c.d.cmds))
		for _, cmd := range c.d.cmds {
			cs = append(cs, cmd)
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
		return cs
	}
	if len(args) == 1 {
		cs := all()
		c.w.array(len(cs))
		for _, cmd := range cs {
			writeCommandInfo(&c.w, cmd)
		}
		return
	}
	switch strings.ToLower(string(args[1])) {
	case "count":
		c.w.int(int64(len(c.d.cmds)))
	case "info":
		if len(args) == 2 {
			cs := all()
			c.w.array(len(cs))
			for _, cmd := range cs {
				writeCommandInfo(&c.w, cmd)
			}
			return
		}
		c.w.array(len(args) - 2)
		for _, name := range args[2:] {
			if cmd := c.d.lookupCommand(name); cmd != nil {
				writeCommandInfo(&c.w, cmd)
			} else {
				c.w.nullArray()
			}
		}
	case "docs":
		// Documentation is not served; an empty map tells clients so.
		c.w.array(0)
	case "list":
		cs := all()
		c.w.array(len(cs))
		for _, cmd := range cs {
			c.w.bulkString(cmd.name)
		}
	default:
		c.w.errorText("ERR unknown subcommand '" + string(truncate(args[1], 128)) + "'. Try COMMAND HELP.")
	}
}

// writeCommandInfo writes one COMMAND INFO entry in Redis 7's shape.
func writeCommandInfo(w *replyWriter, cmd *command) {
	w.array(10)
	w.bulkString(cmd.name)
	w.int(int64(cmd.arity))
	var flags []string
	for _, f := range []struct {
		f    cmdFlags
		name string
	}{
		{flagWrite, "write"}, {flagReadonly, "readonly"}, {flagDenyOOM, "denyoom"}, {flagAdmin, "admin"},
		{flagNoAuth, "no_auth"}, {flagBlocking, "blocking"}, {flagLoading, "loading"}, {flagStale, "stale"},
		{flagFast, "fast"}, {flagNumKeys, "movablekeys"},
	} {
		if cmd.flags&f.f != 0 {
			flags = append(flags, f.name)
		}
	}
	w.array(len(flags))
	for _, f := range flags {
		w.simple(f)
	}
	w.int(int64(cmd.firstKey))
	w.int(int64(cmd.lastKey))
	w.int(int64(cmd.step))
	w.array(0) // ACL categories
	w.array(0) // tips
	w.array(0) // key specs
	w.array(0) // subcommands
}

// connTotals sums the commands and the bytes in and out of closed and
// open connections.
func (d *DataNode) connTotals() (cmds, in, out int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cmds, in, out = d.stats.commands.Load(), d.stats.netIn.Load(), d.stats.netOut.Load()
	for c := range d.conns {
		cmds += c.cmds.Load()
		in += c.bytesIn.Load()
		out += c.bytesOut.Load()
	}
	return cmds, in, out
}
