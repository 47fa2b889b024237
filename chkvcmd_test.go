// Tests of chkv's own versioned commands, CHKV.GETV, CHKV.SETV and CHKV.VERSION, over the wire.

package chkv

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// versionConn is a connection to a fresh chkv DataNode with helpers for the versioned commands.
type versionConn struct {
	t *testing.T
	c *respConn
}

func newVersionConn(t *testing.T) *versionConn {
	t.Helper()
	return &versionConn{t: t, c: dialResp(t, "tcp", RunT(t).Addr())}
}

// do sends a command given as a redis-cli line and returns the reply.
func (v *versionConn) do(cmd string) *reply {
	v.t.Helper()
	rep, err := v.c.do(splitCommand(cmd)...)
	if err != nil {
		v.t.Fatalf("%s: %v", cmd, err)
	}
	return rep
}

// ok sends a command that must not answer an error.
func (v *versionConn) ok(cmd string) *reply {
	v.t.Helper()
	rep := v.do(cmd)
	if rep.kind() == '-' {
		v.t.Fatalf("%s: %q", cmd, rep.raw)
	}
	return rep
}

// integer sends a command that must answer an integer and returns it.
func (v *versionConn) integer(cmd string) int64 {
	v.t.Helper()
	rep := v.do(cmd)
	n, ok := integerReply(rep.raw)
	if !ok {
		v.t.Fatalf("%s: %q, want an integer", cmd, rep.raw)
	}
	return n
}

// version returns CHKV.VERSION key.
func (v *versionConn) version(key string) int64 {
	v.t.Helper()
	return v.integer("CHKV.VERSION " + key)
}

// setv runs CHKV.SETV, which must succeed, and returns the new version.
func (v *versionConn) setv(key, value string, version int64, extra ...string) int64 {
	v.t.Helper()
	cmd := strings.Join(append([]string{"CHKV.SETV", key, value, strconv.FormatInt(version, 10)}, extra...), " ")
	return v.integer(cmd)
}

// setvRefused runs a CHKV.SETV that must be refused with a -VERSION error
// naming current, the key's current version.
func (v *versionConn) setvRefused(key, value string, version, current int64) {
	v.t.Helper()
	cmd := "CHKV.SETV " + key + " " + value + " " + strconv.FormatInt(version, 10)
	rep := v.do(cmd)
	msg := string(rep.raw)
	if !strings.HasPrefix(msg, "-VERSION") {
		v.t.Fatalf("%s: %q, want an error starting -VERSION", cmd, msg)
	}
	if !regexp.MustCompile(`\b` + strconv.FormatInt(current, 10) + `\b`).MatchString(msg) {
		v.t.Errorf("%s: %q does not carry the current version %d", cmd, msg, current)
	}
}

// getv returns CHKV.GETV key as value, version and whether the key exists.
func (v *versionConn) getv(key string) (string, int64, bool) {
	v.t.Helper()
	rep := v.do("CHKV.GETV " + key)
	switch string(rep.raw) {
	case "*-1\r\n", "$-1\r\n":
		return "", 0, false
	}
	if rep.kind() != '*' || len(rep.elems) != 2 || rep.elems[0].kind() != '$' {
		v.t.Fatalf("CHKV.GETV %s: %q, want [value, version]", key, rep.raw)
	}
	n, ok := integerReply(rep.elems[1].raw)
	if !ok {
		v.t.Fatalf("CHKV.GETV %s: %q, version is not an integer", key, rep.raw)
	}
	return rep.elems[0].bulk(), n, true
}

// mustBump runs each write command and checks that it raises key's version.
func (v *versionConn) mustBump(key string, cmds ...string) {
	v.t.Helper()
	for _, cmd := range cmds {
		before := v.version(key)
		v.ok(cmd)
		if after := v.version(key); after <= before {
			v.t.Errorf("%s: version of %s went %d -> %d, want it to grow", cmd, key, before, after)
		}
	}
}

// mustKeep runs each command and checks that key's version does not change.
func (v *versionConn) mustKeep(key string, cmds ...string) {
	v.t.Helper()
	for _, cmd := range cmds {
		before := v.version(key)
		v.do(cmd)
		if after := v.version(key); after != before {
			v.t.Errorf("%s: version of %s went %d -> %d, want it unchanged", cmd, key, before, after)
		}
	}
}

func TestChkvVersionAbsentKey(t *testing.T) {
	v := newVersionConn(t)
	if n := v.version("k"); n != 0 {
		t.Errorf("CHKV.VERSION of an absent key = %d, want 0", n)
	}
	if _, _, ok := v.getv("k"); ok {
		t.Errorf("CHKV.GETV of an absent key answered a value, want nil")
	}
}

func TestChkvGetVReturnsValueAndVersion(t *testing.T) {
	v := newVersionConn(t)
	v.ok(`SET k "a\r\nb\x00"`)
	val, ver, ok := v.getv("k")
	if !ok || val != "a\r\nb\x00" {
		t.Fatalf("CHKV.GETV k = %q, %v, want the value set", val, ok)
	}
	if ver <= 0 || ver != v.version("k") {
		t.Errorf("CHKV.GETV version %d, CHKV.VERSION %d: want the same positive version", ver, v.version("k"))
	}
}

func TestChkvSetVZeroWritesUnconditionally(t *testing.T) {
	v := newVersionConn(t)
	n1 := v.setv("k", "v1", 0)
	if n1 <= 0 {
		t.Fatalf("CHKV.SETV on an absent key returned version %d, want > 0", n1)
	}
	if val, ver, _ := v.getv("k"); val != "v1" || ver != n1 {
		t.Errorf("after CHKV.SETV: GETV = %q, %d; want v1, %d", val, ver, n1)
	}
	v.ok("SET k other")
	cur := v.version("k")
	n2 := v.setv("k", "v2", 0)
	if n2 <= cur {
		t.Errorf("CHKV.SETV with version 0 returned %d, want more than the current %d", n2, cur)
	}
	if val, ver, _ := v.getv("k"); val != "v2" || ver != n2 {
		t.Errorf("after CHKV.SETV 0: GETV = %q, %d; want v2, %d", val, ver, n2)
	}
}

func TestChkvSetVCompareAndSet(t *testing.T) {
	v := newVersionConn(t)
	other := &versionConn{t: t, c: dialResp(t, "tcp", v.c.c.RemoteAddr().String())}
	n1 := v.setv("k", "a", 0)

	// Both clients read version n1; the first write wins, the second is refused.
	n2 := v.setv("k", "b", n1)
	if n2 <= n1 {
		t.Fatalf("CHKV.SETV with the current version returned %d, want more than %d", n2, n1)
	}
	other.setvRefused("k", "c", n1, n2)
	if val, ver, _ := v.getv("k"); val != "b" || ver != n2 {
		t.Errorf("after the refused write: GETV = %q, %d; want b, %d", val, ver, n2)
	}

	// A version from the future is refused too.
	other.setvRefused("k", "d", n2+100, n2)
	if n := v.version("k"); n != n2 {
		t.Errorf("CHKV.VERSION after refused writes = %d, want %d", n, n2)
	}
}

func TestChkvSetVNonZeroOnAbsentKey(t *testing.T) {
	v := newVersionConn(t)
	v.setvRefused("k", "a", 5, 0)
	if n := v.integer("EXISTS k"); n != 0 {
		t.Errorf("a refused CHKV.SETV created the key")
	}
}

func TestChkvSetVExpire(t *testing.T) {
	v := newVersionConn(t)
	n := v.setv("k", "a", 0, "EX", "100")
	if ttl := v.integer("TTL k"); ttl < 99 || ttl > 100 {
		t.Errorf("TTL after CHKV.SETV ... EX 100 = %d, want 99..100", ttl)
	}
	if val, ver, _ := v.getv("k"); val != "a" || ver != n {
		t.Errorf("GETV = %q, %d; want a, %d", val, ver, n)
	}
}

func TestChkvSetVBadArguments(t *testing.T) {
	v := newVersionConn(t)
	for _, cmd := range []string{"CHKV.SETV k v x", "CHKV.SETV k v", "CHKV.SETV k v 1.5", "CHKV.GETV", "CHKV.VERSION"} {
		if rep := v.do(cmd); rep.kind() != '-' {
			t.Errorf("%s: %q, want an error", cmd, rep.raw)
		}
	}
	if n := v.integer("EXISTS k"); n != 0 {
		t.Errorf("a refused CHKV.SETV created the key")
	}
}

func TestChkvVersionBumpsOnStringWrites(t *testing.T) {
	v := newVersionConn(t)
	v.mustBump("k",
		"SET k 1", "SET k 2 XX", "SET k 3 KEEPTTL", "SET k 4 GET", "APPEND k 5", "INCR k", "DECR k",
		"INCRBY k 5", "DECRBY k 2", "INCRBYFLOAT k 1.5", "SETRANGE k 0 9", "GETSET k 7", "SETEX k 100 x",
		"PSETEX k 100000 y", "MSET k m j n", "CHKV.SETV k w 0",
	)
	v.ok("DEL k")
	v.mustBump("k", "SETNX k 1")
	v.ok("DEL k")
	v.mustBump("k", "MSETNX k 1 j2 2")
	v.ok("DEL k")
	v.mustBump("k", "INCRBYFLOAT k 2.5")
}

func TestChkvVersionBumpsOnListWrites(t *testing.T) {
	v := newVersionConn(t)
	v.mustBump("l",
		"RPUSH l a b c", "LPUSH l d", "RPUSHX l e", "LPUSHX l f", "LSET l 0 g", "LINSERT l BEFORE g h",
		"LREM l 1 h", "LTRIM l 1 -1", "LPOP l", "RPOP l", "LPOP l 1", "LMOVE l l LEFT RIGHT", "RPOPLPUSH l l",
		"RPUSH l x y z", "BLPOP l 0", "BRPOP l 0", "BLMOVE l l RIGHT LEFT 0",
	)
	v.ok("RPUSH s a b")
	v.mustBump("d", "LMOVE s d LEFT LEFT", "RPOPLPUSH s d")
	v.ok("RPUSH s2 a b")
	v.mustBump("s2", "LMOVE s2 d2 LEFT LEFT")
}

func TestChkvVersionBumpsOnTTLChanges(t *testing.T) {
	v := newVersionConn(t)
	v.ok("SET k v")
	v.mustBump("k", "EXPIRE k 100", "PEXPIRE k 200000", "EXPIREAT k 4102444800", "PEXPIREAT k 4102444900000",
		"PERSIST k", "GETEX k EX 100", "GETEX k PERSIST")
}

func TestChkvVersionBumpsOnRename(t *testing.T) {
	v := newVersionConn(t)
	v.ok("SET a 1")
	v.ok("SET b 2")
	v.ok("SET b 3")
	v.mustBump("b", "RENAME a b")
	v.ok("SET a 1")
	v.mustBump("c", "RENAMENX a c")
	if n := v.version("a"); n != 0 {
		t.Errorf("CHKV.VERSION of a renamed-away key = %d, want 0", n)
	}
}

func TestChkvVersionKeptByReads(t *testing.T) {
	v := newVersionConn(t)
	v.ok("SET k hello")
	v.mustKeep("k", "GET k", "STRLEN k", "GETRANGE k 0 -1", "MGET k k", "EXISTS k", "TYPE k", "TTL k", "PTTL k",
		"CHKV.GETV k", "CHKV.VERSION k", "KEYS *", "SCAN 0", "DBSIZE", "GETEX k")
	v.ok("RPUSH l a b")
	v.mustKeep("l", "LRANGE l 0 -1", "LLEN l", "LINDEX l 0", "LPOS l a", "TYPE l")
}

func TestChkvVersionKeptByRefusedWrites(t *testing.T) {
	v := newVersionConn(t)
	v.ok("SET k hello")
	v.mustKeep("k", "SET k x NX", "SETNX k x", "MSETNX j 1 k 2", "INCR k", "INCRBYFLOAT k x", "LPUSH k a",
		"SET k v EX 0", "SETRANGE k -1 x", "RENAMENX j k")
	v.ok("RPUSH l a")
	v.mustKeep("l", "GET l", "APPEND l x", "LSET l 5 x", "LINSERT l BEFORE zz x", "LREM l 0 zz")
}

func TestChkvVersionGoneWithKey(t *testing.T) {
	v := newVersionConn(t)
	v.ok("SET k v")
	v.ok("DEL k")
	if n := v.version("k"); n != 0 {
		t.Errorf("CHKV.VERSION after DEL = %d, want 0", n)
	}
	v.ok("SET j v")
	v.ok("PEXPIREAT j 1")
	if n := v.version("j"); n != 0 {
		t.Errorf("CHKV.VERSION of an expired key = %d, want 0", n)
	}
	if _, _, ok := v.getv("j"); ok {
		t.Errorf("CHKV.GETV of an expired key answered a value, want nil")
	}
}
