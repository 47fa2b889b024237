// Differential test of every numeric argument of every command at its extremes, against redis-server 7.0.

package chkv

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// numericExtremes are the values every numeric argument is tried with: 0,
// ±1, the 32- and 64-bit limits and one past them, TTLs whose milliseconds
// or whose sum with the clock overflow, infinities, NaN, huge and tiny
// floats, and strings that are not quite numbers.
var numericExtremes = []string{
	"0", "1", "-1", "2", "-2", "100", "-100", "2147483647", "2147483648", "-2147483648", "-2147483649",
	"4294967296", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
	"-9223372036854775809", "18446744073709551615", "18446744073709551616", "99999999999999999999999",
	"9223372036854775", "-9223372036854775", "9223372036000000000",
	"inf", "-inf", "+inf", "nan", "-nan", "1e308", "1e309", "-1e309", "1.5", "-1.5", "1e-400", "1e3",
	"", " 1", "1 ", "0x1f", "+1", "01", "-0", "9223372036854775807.5",
}

// numericCase is a command with N where the value goes, the commands that
// set its keys up before, and the commands whose replies show the effect.
type numericCase struct {
	setup []string
	cmd   string
	check []string
	// values, when set, replaces numericExtremes for this case.
	values []string
	// shape compares the structure of the reply, not its values (SPOP picks at random).
	shape bool
	// typeOnly compares only the reply type unless one is an error: the
	// values differ by design (SCAN's cursor is a slot number in chkv).
	typeOnly bool
}

// numericCases lists every numeric argument of chkv's commands.
func numericCases() []numericCase {
	str := []string{"SET k hello"}
	list := []string{"RPUSH l a b c a b c a"}
	full := []string{"RPUSH l a b", "RPUSH l2 x"}
	expiry := []string{"EXISTS k", "TYPE k"}
	var cs []numericCase
	add := func(setup []string, check []string, cmds ...string) {
		for _, c := range cmds {
			cs = append(cs, numericCase{setup: setup, cmd: c, check: check})
		}
	}
	// TTLs in every unit, on every command taking one.
	add(nil, expiry, "SET k v EX N", "SET k v PX N", "SET k v EXAT N", "SET k v PXAT N",
		"SETEX k N v", "PSETEX k N v", "SET k v KEEPTTL EX N", "SET k v NX GET PX N")
	add(str, expiry, "GETEX k EX N", "GETEX k PX N", "GETEX k EXAT N", "GETEX k PXAT N",
		"EXPIRE k N", "PEXPIRE k N", "EXPIREAT k N", "PEXPIREAT k N",
		"EXPIRE k N NX", "EXPIRE k N GT", "PEXPIRE k N LT", "EXPIRE k N XX")
	// Counters.
	add([]string{"SET k 5"}, []string{"GET k"}, "INCRBY k N", "DECRBY k N", "INCRBYFLOAT k N")
	add([]string{"SET k 9223372036854775807"}, []string{"GET k"}, "INCRBY k N", "DECRBY k N", "INCRBYFLOAT k N")
	add([]string{"SET k -9223372036854775808"}, []string{"GET k"}, "INCRBY k N", "DECRBY k N", "INCRBYFLOAT k N")
	add([]string{"SET k 1.5"}, []string{"GET k"}, "INCRBYFLOAT k N")
	add([]string{"SET k N"}, []string{"GET k"}, "INCR k", "DECR k", "INCRBY k 1", "DECRBY k -1", "INCRBYFLOAT k 1")
	// Offsets and lengths.
	add(str, []string{"GET k", "STRLEN k"}, "SETRANGE k N v", "SETRANGE k N \"\"",
		"GETRANGE k N 3", "GETRANGE k 0 N", "GETRANGE k N N", "GETRANGE k N -1", "SUBSTR k N 2")
	add(nil, []string{"EXISTS k", "STRLEN k"}, "SETRANGE k N v", "SETRANGE k N \"\"", "GETRANGE k N N")
	// List indexes, ranges, counts, ranks.
	add(list, []string{"LRANGE l 0 -1"}, "LRANGE l N 2", "LRANGE l 0 N", "LRANGE l N N", "LINDEX l N",
		"LSET l N x", "LREM l N a", "LTRIM l N 2", "LTRIM l 0 N", "LPOP l N", "RPOP l N",
		"LPOS l a RANK N", "LPOS l a COUNT N", "LPOS l a MAXLEN N", "LPOS l a RANK N COUNT 0",
		"LPOS l a RANK -1 COUNT N MAXLEN N", "LINSERT l BEFORE N x")
	// Timeouts of blocking commands (lists hold elements: a valid timeout returns at once).
	add(full, []string{"LRANGE l 0 -1", "LRANGE l2 0 -1"}, "BLPOP l N", "BRPOP l2 l N",
		"BLMOVE l l2 LEFT RIGHT N", "BRPOPLPUSH l l2 N")
	// Cursors, counts, indexes of server commands.
	cs = append(cs, numericCase{cmd: "HELLO N", typeOnly: true}) // the client id differs
	// Hashes and sets.
	add([]string{"HSET h f 5 g 9223372036854775807"}, []string{"HGET h f", "HGET h g", "HGET h n", "HLEN h"},
		"HINCRBY h f N", "HINCRBY h g N", "HINCRBYFLOAT h f N", "HINCRBY h n N", "HINCRBYFLOAT h n N")
	add([]string{"SADD s a b c d"}, []string{"SCARD s"}, "SINTERCARD N s", "SINTERCARD 1 s LIMIT N")
	cs = append(cs, numericCase{setup: []string{"SADD s a b c d"}, cmd: "SPOP s N", check: []string{"SCARD s"}, shape: true})
	// A negative count asks for that many picks with repeats: Redis streams
	// them (gigabytes for the big ones); chkv refuses more than
	// maxRandRepeats with "value is out of range" (cmd_coll.go).
	var small []string
	for _, v := range numericExtremes {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n >= -100 || n == math.MinInt64 {
			small = append(small, v)
		}
	}
	for _, c := range []string{"HRANDFIELD h N", "HRANDFIELD h N WITHVALUES", "SRANDMEMBER s N"} {
		cs = append(cs, numericCase{setup: []string{"HSET h f 1", "SADD s a"}, cmd: c, values: small})
	}
	// chkv has database 0 only: SELECT's other answers are compared where Redis refuses too.
	for _, v := range []string{"16", "-1", "2147483647", "2147483648", "-2147483649", "nan", "", "1.5"} {
		add(nil, nil, "SELECT "+v)
	}
	for _, c := range []string{"SCAN N COUNT 100", "SCAN 0 COUNT N", "SCAN 0 COUNT N MATCH a*"} {
		cs = append(cs, numericCase{setup: []string{"SET a 1", "SET b 2"}, cmd: c, typeOnly: true})
	}
	return cs
}

// TestDiffNumericExtremes runs every numeric case with every extreme value
// on redis-server and chkv and requires identical replies, to the command
// and to the commands that show its effect.
func TestDiffNumericExtremes(t *testing.T) {
	redisNet, redisAddr := startRedis(t)
	chkvNet, chkvAddr := startChkv(t)
	rc := &caseSide{t: t, name: "redis", network: redisNet, addr: redisAddr}
	cc := &caseSide{t: t, name: "chkv", network: chkvNet, addr: chkvAddr}
	n := 0
	for _, nc := range numericCases() {
		values := numericExtremes
		if nc.values != nil {
			values = nc.values
		}
		for _, v := range values {
			if !slices.Contains(splitCommand(nc.cmd+" "+strings.Join(nc.setup, " ")), "N") && v != "0" {
				continue // no N: one run is enough
			}
			subst := func(line string) step {
				args := splitCommand(line)
				for i, a := range args {
					if a == "N" {
						args[i] = v
					}
				}
				return step{args: args}
			}
			for _, side := range []*caseSide{rc, cc} {
				if t.Failed() {
					side.conns = nil // a fresh connection: a failure does not spill into the next case
				}
				// The keys the cases use (cheaper than FLUSHALL, which visits every slot).
				if _, err := side.conn(0).do("DEL", "k", "l", "l2", "h", "s", "a", "b"); err != nil {
					t.Fatalf("%s: DEL: %v", side.name, err)
				}
				for _, s := range nc.setup {
					if _, err := side.conn(0).do(subst(s).args...); err != nil {
						t.Fatalf("%s: setup %s: %v", side.name, s, err)
					}
				}
			}
			lines := append([]string{nc.cmd}, nc.check...)
			if msRelative(nc.cmd) && (v == "1" || v == "2" || v == "100") {
				lines = lines[:1] // whether the key is still there is a race with the clock
			}
			for i, line := range lines {
				s := subst(line)
				if i == 0 && nc.shape {
					s.mode = cmpShape
				}
				want, got := s.run(t, rc), s.run(t, cc)
				n++
				if nc.typeOnly && want[0] != '-' && got[0] != '-' {
					want, got = want[:1], got[:1]
				}
				if !s.same(want, got) {
					t.Errorf("%s with N=%q: %s\n\tredis: %s\n\tchkv:  %s", nc.cmd, v, strings.Join(s.args, " "), clip(want), clip(got))
				}
			}
		}
	}
	t.Logf("%d commands compared", n)
}

// msRelative reports a command setting a TTL in milliseconds from now.
func msRelative(cmd string) bool {
	return strings.Contains(cmd, " PX ") || strings.HasPrefix(cmd, "PSETEX") || strings.HasPrefix(cmd, "PEXPIRE ")
}
