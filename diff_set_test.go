// Differential cases of the set commands against redis-server 7.0.

package chkv

import (
	"strconv"
	"strings"
)

// setTypeCases covers the set commands; sets of integers (Redis's intset)
// answer in numeric order and are compared exactly, other sets as multisets.
func setTypeCases() []diffCase {
	ints := func(i int) []string { return []string{strconv.Itoa(i*7%600 - 50)} }
	return []diffCase{
		dc("sadd/basic", "SADD s a b c", "SADD s a d", unordered("SMEMBERS s"), "SCARD s", "TYPE s"),
		dc("sadd/intset-order", "SADD s 5 -3 10 0 2", "SMEMBERS s", "SADD s 7", "SMEMBERS s"),
		dc("sadd/intset-strict-ints", "SADD s 1 01 +2 -0 1.0 \" 3\"", unordered("SMEMBERS s"), "SCARD s"),
		dc("sadd/repeated", "SADD s a a a", "SCARD s"),
		dc("sadd/arity", "SADD s", "SADD"),
		dc("sadd/int-then-string", "SADD s 3 1 2", "SMEMBERS s", "SADD s x", unordered("SMEMBERS s"), "SREM s x",
			unordered("SMEMBERS s")),
		dc("sadd/intset-512", manyArgs(512, ints, "SADD", "s"), "SCARD s", "SMEMBERS s"),
		dc("sadd/intset-513", manyArgs(513, ints, "SADD", "s"), "SCARD s", unordered("SMEMBERS s")),
		dc("sadd/int-extremes", "SADD s 9223372036854775807 -9223372036854775808 9223372036854775808", unordered("SMEMBERS s")),
		// Members of 15 bytes or less and longer ones are kept apart (set.go's short).
		dc("sadd/member-lengths", "SADD s x \"\" a aaaaaaaaaaaaaa aaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaaa", "SCARD s", "SISMEMBER s \"\"",
			"SMISMEMBER s a aaaaaaaaaaaaaa aaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaaa aa aaaaaaaaaaaaaaaaaa", "SREM s a aaaaaaaaaaaaaaa x", unordered("SMEMBERS s"),
			"SMISMEMBER s \"\" a aaaaaaaaaaaaaa aaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaaa x", "SADD s aaaaaaaaaaaaaaa aaaaaaaaaaaaaaaa", "SCARD s", unordered("SPOP s 10"), "EXISTS s"),
		dc("srem/basic", "SADD s a b c", "SREM s a x", unordered("SMEMBERS s"), "SREM s b c", "EXISTS s"),
		dc("srem/missing", "SREM s a", "SREM"),
		dc("srem/past-empty", "SADD s 1", "SREM s 1 1 2", "EXISTS s"),
		dc("srem/intset", "SADD s 1 2 3", "SREM s 2 x 01", "SMEMBERS s"),
		dc("sismember/basic", "SADD s a 1", "SISMEMBER s a", "SISMEMBER s 1", "SISMEMBER s b", "SISMEMBER x a",
			"SISMEMBER s 01", "SISMEMBER s", "SISMEMBER s a b"),
		dc("smismember/basic", "SADD s a 1", "SMISMEMBER s a b 1", "SMISMEMBER x a b", "SMISMEMBER s"),
		dc("scard/basic", "SCARD s", "SADD s a", "SCARD s", "SCARD s x"),
		dc("smembers/missing", "SMEMBERS s", "SMEMBERS", "SMEMBERS s t"),
		dc("spop/single", "SADD s a", "SPOP s", "EXISTS s", "SPOP s", "SPOP s 1"),
		dc("spop/count-whole", "SADD s 3 1 2", "SPOP s 3", "EXISTS s", "SADD s a b", unordered("SPOP s 10"), "EXISTS s"),
		dc("spop/count", "SADD s a b c d e", sameShape("SPOP s 2"), "SCARD s", sameShape("SPOP s"), "SCARD s",
			"SPOP s 0", "SCARD s"),
		dc("spop/errors", "SADD s a", "SPOP s -1", "SPOP s x", "SPOP s 1 2", "SPOP s 1.5", "SPOP", "SPOP x -1", "SPOP x 0"),
		dc("spop/ttl-and-empty", "SADD s a b", "EXPIRE s 100", sameShape("SPOP s"), "TTL s", sameShape("SPOP s"), "TTL s"),
		dc("srandmember/basic", "SADD s a", "SRANDMEMBER s", "SRANDMEMBER s 1", "SRANDMEMBER s -3", "SRANDMEMBER s 0",
			"SRANDMEMBER s 5", "SCARD s"),
		dc("srandmember/missing", "SRANDMEMBER s", "SRANDMEMBER s 5", "SRANDMEMBER s -5"),
		dc("srandmember/whole-intset", "SADD s 3 1 2", "SRANDMEMBER s 3", "SRANDMEMBER s 100"),
		dc("srandmember/counts", "SADD s a b c d e f", sameShape("SRANDMEMBER s 3"), sameShape("SRANDMEMBER s -10"),
			sameShape("SRANDMEMBER s"), unordered("SRANDMEMBER s 6")),
		dc("srandmember/errors", "SADD s a", "SRANDMEMBER s x", "SRANDMEMBER s 1 2", "SRANDMEMBER s -9223372036854775808",
			"SRANDMEMBER"),
		dc("smove/basic", "SADD s a b", "SADD d c", "SMOVE s d a", unordered("SMEMBERS s"), unordered("SMEMBERS d"),
			"SMOVE s d x", "SMOVE s d b", "EXISTS s", "SCARD d"),
		dc("smove/new-dest", "SADD s 1", "SMOVE s d 1", "SMEMBERS d", "EXISTS s", "TYPE d"),
		dc("smove/already-in-dest", "SADD s a", "SADD d a", "SMOVE s d a", "EXISTS s", "SMEMBERS d"),
		dc("smove/same-key", "SADD s a", "SMOVE s s a", "SMOVE s s b", "SMEMBERS s"),
		dc("smove/missing-source", "SMOVE s d a", "SET d x", "SMOVE s d a", "EXISTS s"),
		dc("smove/wrongtype", "SADD s a", "SET d x", "SMOVE s d a", "SMEMBERS s", "SET s2 x", "SMOVE s2 s a"),
		dc("smove/arity", "SMOVE s d", "SMOVE s d a b"),
		dc("sinter/ints", "SADD a 1 2 3 4", "SADD b 3 4 5 2", "SINTER a b", "SINTER a", "SINTER b a", "SINTER a a"),
		dc("sinter/strings", "SADD a x y z", "SADD b y z w", "SADD c z y q", unordered("SINTER a b c"), "SINTER a b missing",
			"SINTER missing a"),
		dc("sinter/wrongtype", "SADD a 1", "SET s x", "SINTER a s", "SINTER missing s", "SINTER s missing"),
		dc("sinter/arity", "SINTER"),
		dc("sinterstore/basic", "SADD a 1 2 3", "SADD b 2 3 4", "SINTERSTORE d a b", "SMEMBERS d", "TYPE d"),
		dc("sinterstore/empty-deletes", "SADD a 1", "SADD b 2", "SET d x", "SINTERSTORE d a b", "EXISTS d",
			"SINTERSTORE d a missing", "EXISTS d"),
		dc("sinterstore/overwrites-other-type", "SADD a 1", "RPUSH d x", "SINTERSTORE d a", "TYPE d", "SMEMBERS d"),
		dc("sinterstore/dest-is-source", "SADD a 1 2", "SADD b 2", "SINTERSTORE a a b", "SMEMBERS a"),
		dc("sinterstore/ttl-dropped", "SADD a 1", "SADD d 5", "EXPIRE d 100", "SINTERSTORE d a", "TTL d"),
		dc("sinterstore/arity", "SINTERSTORE d", "SINTERSTORE"),
		dc("sintercard/basic", "SADD a 1 2 3 4", "SADD b 2 3 4 5", "SINTERCARD 2 a b", "SINTERCARD 1 a",
			"SINTERCARD 2 a b LIMIT 2", "SINTERCARD 2 a b LIMIT 0", "SINTERCARD 2 a b LIMIT 10", "SINTERCARD 2 a missing"),
		dc("sintercard/errors", "SADD a 1", "SINTERCARD 0 a", "SINTERCARD -1 a", "SINTERCARD x a", "SINTERCARD 3 a b",
			"SINTERCARD 1 a LIMIT -1", "SINTERCARD 1 a LIMIT x", "SINTERCARD 1 a LIMIT", "SINTERCARD 1 a FOO 1",
			"SINTERCARD 2 a b c", "SINTERCARD 1", "SET s x", "SINTERCARD 2 a s"),
		dc("sunion/ints", "SADD a 3 1", "SADD b 2 1 5", "SUNION a b", "SUNION a missing", "SUNION missing", "SUNION a a"),
		dc("sunion/strings", "SADD a x y", "SADD b y z 1", unordered("SUNION a b")),
		dc("sunion/wrongtype", "SADD a 1", "SET s x", "SUNION a s", "SUNION missing s"),
		dc("sunionstore/basic", "SADD a 3 1", "SADD b 2", "SUNIONSTORE d a b", "SMEMBERS d", "SUNIONSTORE d m1 m2",
			"EXISTS d", "SUNIONSTORE a a b", "SMEMBERS a"),
		dc("sdiff/ints", "SADD a 1 2 3 4 5", "SADD b 2 4", "SADD c 5", "SDIFF a b c", "SDIFF a", "SDIFF a a",
			"SDIFF missing a", "SDIFF a missing"),
		dc("sdiff/strings", "SADD a x y z", "SADD b y", unordered("SDIFF a b"), "SDIFF b a"),
		dc("sdiff/wrongtype", "SADD a 1", "SET s x", "SDIFF a s", "SDIFF s a", "SDIFF missing s"),
		dc("sdiffstore/basic", "SADD a 1 2 3", "SADD b 2", "SDIFFSTORE d a b", "SMEMBERS d", "SDIFFSTORE d b a",
			"EXISTS d", "SDIFFSTORE d"),
		dc("sscan/basic", "SADD s 3 1 2", "SSCAN s 0", "SSCAN s 0 MATCH 1*", "SSCAN s 0 COUNT 100", "SSCAN missing 0"),
		dc("sscan/strings", "SADD s alpha beta", "SADD t a", "SSCAN t 0 MATCH a", "SSCAN t 0 MATCH b*"),
		dc("sscan/errors", "SADD s a", "SSCAN s x", "SSCAN s 0 COUNT 0", "SSCAN s 0 MATCH", "SSCAN s 0 TYPE set", "SSCAN s"),
		dc("set/binary", `SADD s "\x00" "" "\r\n"`, "SCARD s", `SISMEMBER s ""`, `SREM s "\x00"`, unordered("SMEMBERS s")),
		dc("set/type-and-scan", "SADD s a", "HSET h a 1", "SET k v", scanAll("SCAN 0 TYPE set"), scanAll("SCAN 0 TYPE hash"),
			"TYPE s"),
		dc("set/rename-and-del", "SADD s 1 2", "RENAME s t", "SMEMBERS t", "DEL t", "SCARD t"),
		dc("set/long-member", argv("SADD", "s", strings.Repeat("m", 100), "1"), "SCARD s",
			argv("SISMEMBER", "s", strings.Repeat("m", 100))),
	}
}

// setWrongTypeCases run the set commands against a string, a list and a
// hash, and other families' commands against a set.
func setWrongTypeCases() []diffCase {
	onOther := []string{"SADD k m", "SREM k m", "SISMEMBER k m", "SMISMEMBER k m", "SCARD k", "SMEMBERS k", "SPOP k",
		"SPOP k 2", "SRANDMEMBER k", "SRANDMEMBER k 2", "SMOVE k d m", "SINTER k", "SINTERCARD 1 k", "SINTERSTORE d k",
		"SUNION k", "SUNIONSTORE d k", "SDIFF k", "SDIFFSTORE d k", "SSCAN k 0"}
	setups := map[string]string{"string": "SET k s", "list": "RPUSH k a", "hash": "HSET k f v"}
	var cases []diffCase
	for _, typ := range []string{"string", "list", "hash"} {
		for _, cmd := range onOther {
			f := strings.Fields(strings.ToLower(cmd))
			name := "wrongtype/" + typ + "/" + f[0]
			if len(f) > 2 && (f[0] == "spop" || f[0] == "srandmember") {
				name += "-count"
			}
			cases = append(cases, dc(name, setups[typ], cmd, "TYPE k", "EXISTS d"))
		}
	}
	for _, cmd := range []string{"GET k", "INCR k", "LPUSH k v", "LRANGE k 0 -1", "HSET k f v", "HGET k f", "HGETALL k"} {
		cases = append(cases, dc("wrongtype/set/"+strings.ToLower(strings.Fields(cmd)[0]), "SADD k m", cmd, "SMEMBERS k"))
	}
	return cases
}
