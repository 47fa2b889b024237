// Differential test cases: command sequences whose replies must match redis-server 7.0 byte for byte.

package chkv

import (
	"slices"
	"strings"
	"time"
)

// Intentional differences between chkv and Redis, left out of the cases:
//   - SELECT with an index other than 0 that Redis accepts (1..15): chkv has database 0 only.
//   - HELLO 3: chkv speaks RESP2 only and answers HELLO 3 with Redis's reply to an
//     unsupported version (-NOPROTO unsupported protocol version).
//   - Exact values of CLIENT ID, TIME, INFO and the HELLO map: compared by type or shape only.
//   - AUTH inside HELLO: Redis's default user accepts any password when none is set.

// diffCases returns every differential case.
func diffCases() []diffCase {
	return slices.Concat(
		connectionCases(),
		serverCases(),
		keyCases(),
		expireCases(),
		scanCases(),
		renameCases(),
		setCases(),
		stringCases(),
		rangeCases(),
		counterCases(),
		floatCases(),
		listPushPopCases(),
		listReadCases(),
		listEditCases(),
		listMoveCases(),
		blockingCases(),
		wrongTypeCases(),
		binaryCases(),
		strictNumberCases(),
		globCases(),
		protocolCases(),
		moreEdgeCases(),
		wakeUpCases(),
		expiredKeyCases(),
		farFutureCases(),
		extraCases(),
		collectionCases(),
		bitmapCases(),
		keyspaceCases(),
	)
}

func connectionCases() []diffCase {
	long := strings.Repeat("x", 100)
	return []diffCase{
		dc("ping/plain", "PING"),
		dc("ping/arg", "PING hello"),
		dc("ping/empty-arg", `PING ""`),
		dc("ping/binary-arg", `PING "a\r\nb\x00c"`),
		dc("ping/too-many-args", "PING a b"),
		dc("ping/lowercase", "ping", "pInG x"),
		dc("echo/basic", "ECHO hello"),
		dc("echo/empty", `ECHO ""`),
		dc("echo/binary", `ECHO "\x00\r\n\xff"`),
		dc("echo/unicode", "ECHO héllo✓世界"),
		dc("echo/no-arg", "ECHO"),
		dc("echo/too-many-args", "ECHO a b"),
		dc("select/0", "SELECT 0", "SET k v", "GET k"),
		dc("select/not-integer", "SELECT x"),
		dc("select/float", "SELECT 1.5"),
		dc("select/negative", "SELECT -1"),
		dc("select/too-large", "SELECT 16"),
		dc("select/huge", "SELECT 99999999999999999999"),
		dc("select/arity", "SELECT", "SELECT 0 1"),
		dc("unknown/plain", "FOO"),
		dc("unknown/with-args", "FOO a b"),
		dc("unknown/empty-arg", `FOO ""`),
		dc("unknown/empty-name", `""`),
		dc("unknown/args-with-crlf", `FOO "a\r\nb" c`),
		dc("unknown/args-with-quote", `FOO "it's" "x\"y"`),
		dc("unknown/long-args", argv("FOO", long, long, "c")),
		dc("unknown/long-name", argv(strings.Repeat("Z", 200), "a")),
		dc("unknown/name-with-space", `"GET X" k`),
		dc("unknown/case-kept", "FoO Bar"),
		dc("unknown/subcommand-client", "CLIENT FOO"),
		dc("unknown/subcommand-config", "CONFIG FOO"),
		dc("arity/get", "GET", "GET a b"),
		dc("arity/lowercase-name", "get", "gEt a b"),
		dc("arity/set", "SET k"),
		dc("arity/del", "DEL"),
		dc("arity/mget", "MGET"),
		dc("arity/lpush", "LPUSH l"),
		dc("arity/client-setname", "CLIENT SETNAME"),
		dc("arity/client", "CLIENT"),
		dc("hello/2", sameShape("HELLO 2")),
		dc("hello/no-args", sameShape("HELLO")),
		dc("hello/4", "HELLO 4"),
		dc("hello/0", "HELLO 0"),
		dc("hello/1", "HELLO 1"),
		dc("hello/negative", "HELLO -1"),
		dc("hello/not-integer", "HELLO x"),
		dc("hello/float", "HELLO 2.0"),
		dc("hello/bad-option", "HELLO 2 FOO"),
		dc("hello/auth-missing-args", "HELLO 2 AUTH", "HELLO 2 AUTH user"),
		dc("hello/setname-missing-arg", "HELLO 2 SETNAME"),
		dc("hello/setname", sameShape("HELLO 2 SETNAME conn1"), "CLIENT GETNAME"),
		dc("hello/setname-invalid", "HELLO 2 SETNAME \"a b\"", "CLIENT GETNAME"),
		dc("hello/4-with-setname", "HELLO 4 SETNAME n", "CLIENT GETNAME"),
		dc("client/getname-unset", "CLIENT GETNAME"),
		dc("client/setname", "CLIENT SETNAME myconn", "CLIENT GETNAME"),
		dc("client/setname-lowercase", "client setname myconn", "client getname"),
		dc("client/setname-space", `CLIENT SETNAME "my conn"`, "CLIENT GETNAME"),
		dc("client/setname-newline", `CLIENT SETNAME "a\nb"`),
		dc("client/setname-unicode", "CLIENT SETNAME é"),
		dc("client/setname-empty-clears", "CLIENT SETNAME a", `CLIENT SETNAME ""`, "CLIENT GETNAME"),
		dc("client/setname-symbols", "CLIENT SETNAME a!~#_-", "CLIENT GETNAME"),
		dc("client/setname-too-many", "CLIENT SETNAME a b"),
		dc("client/getname-too-many", "CLIENT GETNAME x"),
		dc("client/id", sameType("CLIENT ID"), "CLIENT ID x"),
	}
}

func serverCases() []diffCase {
	return []diffCase{
		dc("dbsize/empty", "DBSIZE"),
		dc("dbsize/counts", "SET a 1", "SET b 2", "RPUSH l x", "DBSIZE", "DEL a", "DBSIZE"),
		dc("dbsize/arity", "DBSIZE x"),
		dc("dbsize/expired-key", "SET a 1", "SET b 2", "PEXPIREAT a 1", "DBSIZE"),
		dc("flushdb/basic", "SET a 1", "RPUSH l x", "FLUSHDB", "DBSIZE", "GET a"),
		dc("flushdb/async", "SET a 1", "FLUSHDB ASYNC", "DBSIZE"),
		dc("flushdb/sync", "SET a 1", "flushdb sync", "DBSIZE"),
		dc("flushdb/bad-option", "SET a 1", "FLUSHDB FOO", "DBSIZE"),
		dc("flushdb/too-many", "FLUSHDB ASYNC SYNC"),
		dc("flushall/basic", "SET a 1", "RPUSH l x", "FLUSHALL", "DBSIZE"),
		dc("flushall/async", "SET a 1", "FLUSHALL ASYNC", "DBSIZE"),
		dc("flushall/sync", "SET a 1", "FLUSHALL SYNC", "DBSIZE"),
		dc("flushall/bad-option", "SET a 1", "FLUSHALL NOW", "DBSIZE"),
		dc("flushall/too-many", "FLUSHALL SYNC ASYNC"),
		dc("config/get-maxmemory", "CONFIG GET maxmemory"),
		dc("config/get-appendonly", "CONFIG GET appendonly"),
		dc("config/get-save", "CONFIG GET save"),
		dc("config/get-unknown", "CONFIG GET nosuchparameter"),
		dc("config/get-arity", "CONFIG GET"),
		dc("time/type", sameType("TIME"), "TIME x"),
		dc("info/type", sameType("INFO"), sameType("INFO server")),
	}
}

func keyCases() []diffCase {
	return []diffCase{
		dc("del/single", "SET a 1", "DEL a", "GET a"),
		dc("del/missing", "DEL a"),
		dc("del/multiple", "SET a 1", "SET b 2", "RPUSH l x", "DEL a b l c", "DBSIZE"),
		dc("del/repeated-key", "SET a 1", "DEL a a"),
		dc("del/arity", "DEL"),
		dc("del/removes-ttl", "SET a 1 EX 100", "DEL a", "SET a 2", "TTL a"),
		dc("unlink/multiple", "SET a 1", "RPUSH l x", "UNLINK a l b", "EXISTS a l"),
		dc("unlink/repeated-key", "SET a 1", "UNLINK a a"),
		dc("unlink/arity", "UNLINK"),
		dc("exists/missing", "EXISTS a"),
		dc("exists/repeated-key", "SET a 1", "EXISTS a a a"),
		dc("exists/mixed", "SET a 1", "RPUSH l x", "EXISTS a b l"),
		dc("exists/arity", "EXISTS"),
		dc("type/string", "SET a 1", "TYPE a"),
		dc("type/list", "RPUSH l a", "TYPE l"),
		dc("type/none", "TYPE a"),
		dc("type/arity", "TYPE", "TYPE a b"),
		dc("type/integer-string", "INCR n", "TYPE n"),
		dc("keys/all", "SET a 1", "SET b 2", "RPUSH l x", unordered("KEYS *")),
		dc("keys/empty-db", "KEYS *"),
		dc("keys/question", "SET a1 1", "SET a22 1", "SET b1 1", unordered("KEYS a?")),
		dc("keys/range", "SET a 1", "SET b 1", "SET c 1", "SET d 1", unordered("KEYS [a-c]")),
		dc("keys/reversed-range", "SET a 1", "SET b 1", "SET d 1", unordered("KEYS [c-a]")),
		dc("keys/negated-class", "SET a 1", "SET b 1", "SET c 1", unordered("KEYS [^a]")),
		dc("keys/class-list", "SET ax 1", "SET bx 1", "SET cx 1", unordered("KEYS [ac]x")),
		dc("keys/escape", "SET a*b 1", "SET ab 1", "SET axb 1", unordered(`KEYS 'a\*b'`)),
		dc("keys/escaped-question", "SET a? 1", "SET ab 1", unordered(`KEYS 'a\?'`)),
		dc("keys/no-match", "SET a 1", "KEYS z*"),
		dc("keys/exact", "SET hello 1", "SET hellO 1", unordered("KEYS hello")),
		dc("keys/prefix-suffix", "SET user:1:name 1", "SET user:2:name 1", "SET user:1:age 1",
			unordered("KEYS user:*:name")),
		dc("keys/unicode-question", "SET é 1", "SET e 1", unordered("KEYS ?"), unordered("KEYS ??")),
		dc("keys/arity", "KEYS", "KEYS a b"),
		dc("keys/skips-expired", "SET a 1", "SET b 1", "PEXPIREAT a 1", unordered("KEYS *")),
	}
}

func expireCases() []diffCase {
	return []diffCase{
		dc("ttl/missing", "TTL a", "PTTL a"),
		dc("ttl/no-ttl", "SET a 1", "TTL a", "PTTL a"),
		dc("ttl/arity", "TTL", "PTTL a b"),
		dc("expire/basic", "SET a 1", "EXPIRE a 100", near(1, "TTL a"), near(1500, "PTTL a")),
		dc("expire/missing-key", "EXPIRE a 100"),
		dc("expire/zero-deletes", "SET a 1", "EXPIRE a 0", "GET a", "EXISTS a"),
		dc("expire/negative-deletes", "SET a 1", "EXPIRE a -1", "GET a", "TTL a"),
		dc("expire/not-integer", "SET a 1", "EXPIRE a abc", "EXPIRE a 1.5", `EXPIRE a ""`, "TTL a"),
		dc("expire/overflow", "SET a 1", "EXPIRE a 9223372036854775807", "TTL a"),
		dc("expire/overflow-with-now", "SET a 1", "EXPIRE a 9223372036854775", "TTL a"),
		dc("expire/overflow-negative", "SET a 1", "EXPIRE a -9223372036854775808", "TTL a"),
		dc("expire/beyond-int64", "SET a 1", "EXPIRE a 9223372036854775808"),
		dc("expire/nx", "SET a 1", "EXPIRE a 100 NX", "EXPIRE a 200 NX", near(1, "TTL a")),
		dc("expire/xx", "SET a 1", "EXPIRE a 100 XX", "TTL a", "EXPIRE a 100", "EXPIRE a 200 XX", near(1, "TTL a")),
		dc("expire/gt", "SET a 1", "EXPIRE a 100 GT", "TTL a", "EXPIRE a 100", "EXPIRE a 50 GT",
			"EXPIRE a 200 GT", near(1, "TTL a")),
		dc("expire/lt", "SET a 1", "EXPIRE a 100 LT", near(1, "TTL a"), "EXPIRE a 200 LT", "EXPIRE a 50 LT",
			near(1, "TTL a")),
		dc("expire/gt-equal", "SET a 1", "PEXPIREAT a 4102444800000", "PEXPIREAT a 4102444800000 GT",
			"PEXPIREAT a 4102444800000 LT"),
		dc("expire/gt-negative-no-ttl", "SET a 1", "EXPIRE a -1 GT", "EXISTS a"),
		dc("expire/lt-negative-deletes", "SET a 1", "EXPIRE a -1 LT", "EXISTS a"),
		dc("expire/nx-xx", "SET a 1", "EXPIRE a 100 NX XX"),
		dc("expire/gt-lt", "SET a 1", "EXPIRE a 100 GT LT"),
		dc("expire/nx-gt", "SET a 1", "EXPIRE a 100 NX GT"),
		dc("expire/nx-lt", "SET a 1", "EXPIRE a 100 LT NX"),
		dc("expire/xx-gt", "SET a 1", "EXPIRE a 100", "EXPIRE a 200 XX GT", near(1, "TTL a")),
		dc("expire/repeated-option", "SET a 1", "EXPIRE a 100 NX NX"),
		dc("expire/lowercase-option", "SET a 1", "EXPIRE a 100 nx", "EXPIRE a 100 xx"),
		dc("expire/unknown-option", "SET a 1", "EXPIRE a 100 FOO", "EXPIRE a 100 NX FOO"),
		dc("expire/arity", "EXPIRE a", "EXPIRE"),
		dc("expire/list", "RPUSH l x", "EXPIRE l 100", near(1, "TTL l"), "EXPIRE l -5", "LLEN l"),
		dc("expire/set-clears-ttl", "SET a 1 EX 100", "SET a 2", "TTL a"),
		dc("expire/append-keeps-ttl", "SET a 1 EX 100", "APPEND a 2", near(1, "TTL a")),
		dc("expire/setrange-keeps-ttl", "SET a abc EX 100", "SETRANGE a 1 X", near(1, "TTL a")),
		dc("expire/lpush-keeps-ttl", "RPUSH l a", "EXPIRE l 100", "LPUSH l b", near(1, "TTL l")),
		dc("expire/pop-recreate-clears", "RPUSH l a", "EXPIRE l 100", "LPOP l", "RPUSH l b", "TTL l"),
		dc("pexpire/basic", "SET a 1", "PEXPIRE a 100000", near(1, "TTL a"), near(1500, "PTTL a")),
		dc("pexpire/negative-deletes", "SET a 1", "PEXPIRE a -1", "EXISTS a"),
		dc("pexpire/overflow", "SET a 1", "PEXPIRE a 9223372036854775807", "PEXPIRE a -9223372036854775808", "TTL a"),
		dc("pexpire/not-integer", "SET a 1", "PEXPIRE a 1e3"),
		dc("pexpire/missing", "PEXPIRE a 1000"),
		dc("pexpire/options", "SET a 1", "PEXPIRE a 100000 XX", "PEXPIRE a 100000 NX", "PEXPIRE a 200000 GT",
			"PEXPIRE a 300000 LT", near(2, "TTL a"), "PEXPIRE a 1 XX NX"),
		dc("expireat/past-deletes", "SET a 1", "EXPIREAT a 1", "GET a", "EXISTS a"),
		dc("expireat/zero-deletes", "SET a 1", "EXPIREAT a 0", "EXISTS a"),
		dc("expireat/future", "SET a 1", "EXPIREAT a 4102444800", near(2, "TTL a")),
		dc("expireat/overflow", "SET a 1", "EXPIREAT a 9223372036854775807", "TTL a"),
		dc("expireat/missing", "EXPIREAT a 4102444800"),
		dc("expireat/not-integer", "SET a 1", "EXPIREAT a soon"),
		dc("expireat/options", "SET a 1", "EXPIREAT a 4102444800 XX", "EXPIREAT a 4102444800 NX",
			"EXPIREAT a 4102444700 GT", "EXPIREAT a 4102444700 LT", near(2, "TTL a"), "EXPIREAT a 1 GT LT"),
		dc("pexpireat/past-deletes", "SET a 1", "PEXPIREAT a 1000", "GET a"),
		dc("pexpireat/future", "SET a 1", "PEXPIREAT a 4102444800000", near(2, "TTL a")),
		dc("pexpireat/overflow", "SET a 1", "PEXPIREAT a 9223372036854775807", near(2, "TTL a")),
		dc("pexpireat/negative", "SET a 1", "PEXPIREAT a -1", "EXISTS a"),
		dc("pexpireat/arity", "PEXPIREAT a", "PEXPIREAT a 1 NX extra"),
		dc("persist/with-ttl", "SET a 1 EX 100", "PERSIST a", "TTL a"),
		dc("persist/without-ttl", "SET a 1", "PERSIST a"),
		dc("persist/missing", "PERSIST a"),
		dc("persist/list", "RPUSH l x", "PEXPIRE l 100000", "PERSIST l", "TTL l"),
		dc("persist/arity", "PERSIST", "PERSIST a b"),
		dc("expiry/px-elapses", "SET a 1 PX 30", "RPUSH l x", "PEXPIRE l 30", pause(80*time.Millisecond),
			"GET a", "LLEN l", "TTL a", "DBSIZE"),
	}
}

func scanCases() []diffCase {
	five := []any{"SET a 1", "SET b 2", "SET c 3", "RPUSH l1 x", "RPUSH l2 y"}
	withFive := func(name string, steps ...any) diffCase {
		return dc(name, append(slices.Clone(five), steps...)...)
	}
	return []diffCase{
		dc("scan/empty-db", "SCAN 0"),
		withFive("scan/all", scanAll("SCAN 0")),
		withFive("scan/match", scanAll("SCAN 0 MATCH l*")),
		withFive("scan/match-no-hit", scanAll("SCAN 0 MATCH zz*")),
		withFive("scan/count", scanAll("SCAN 0 COUNT 2")),
		withFive("scan/count-large", scanAll("SCAN 0 COUNT 1000")),
		withFive("scan/type-string", scanAll("SCAN 0 TYPE string")),
		withFive("scan/type-list", scanAll("SCAN 0 TYPE list")),
		withFive("scan/type-uppercase", scanAll("SCAN 0 TYPE LIST")),
		withFive("scan/type-unknown", scanAll("SCAN 0 TYPE hash")),
		withFive("scan/match-count-type", scanAll("SCAN 0 MATCH * COUNT 3 TYPE string")),
		withFive("scan/lowercase-options", scanAll("scan 0 match [ab] count 5")),
		dc("scan/invalid-cursor", "SCAN abc", "SCAN 1.5", `SCAN ""`, `SCAN " 0"`),
		dc("scan/count-zero", "SCAN 0 COUNT 0"),
		dc("scan/count-negative", "SCAN 0 COUNT -1"),
		dc("scan/count-not-integer", "SCAN 0 COUNT x"),
		dc("scan/match-missing-pattern", "SCAN 0 MATCH"),
		dc("scan/count-missing-value", "SCAN 0 COUNT"),
		dc("scan/unknown-option", "SCAN 0 FOO bar"),
		dc("scan/arity", "SCAN"),
		dc("scan/skips-expired", "SET a 1", "SET b 1", "PEXPIREAT b 1", scanAll("SCAN 0")),
	}
}

func renameCases() []diffCase {
	return []diffCase{
		dc("rename/basic", "SET a 1", "RENAME a b", "GET a", "GET b"),
		dc("rename/missing", "RENAME a b"),
		dc("rename/same-name", "SET a 1", "RENAME a a", "GET a"),
		dc("rename/same-name-missing", "RENAME a a"),
		dc("rename/overwrite", "SET a 1", "SET b 2", "RENAME a b", "GET b", "EXISTS a"),
		dc("rename/overwrite-other-type", "RPUSH l x y", "SET s v", "RENAME l s", "TYPE s", "LRANGE s 0 -1"),
		dc("rename/carries-ttl", "SET a 1 EX 100", "RENAME a b", near(1, "TTL b"), "TTL a"),
		dc("rename/drops-dest-ttl", "SET a 1", "SET b 2 EX 100", "RENAME a b", "TTL b"),
		dc("rename/list", "RPUSH l a b", "RENAME l m", "LRANGE m 0 -1"),
		dc("rename/arity", "RENAME a", "RENAME a b c"),
		dc("renamenx/basic", "SET a 1", "RENAMENX a b", "GET b", "EXISTS a"),
		dc("renamenx/dest-exists", "SET a 1", "SET b 2", "RENAMENX a b", "GET a", "GET b"),
		dc("renamenx/missing", "RENAMENX a b"),
		dc("renamenx/same-name", "SET a 1", "RENAMENX a a"),
		dc("renamenx/same-name-missing", "RENAMENX a a"),
		dc("renamenx/carries-ttl", "SET a 1 PX 100000", "RENAMENX a b", near(1, "TTL b")),
		dc("renamenx/arity", "RENAMENX a"),
	}
}

func setCases() []diffCase {
	return []diffCase{
		dc("get/missing", "GET a"),
		dc("get/basic", "SET a hello", "GET a"),
		dc("get/empty-value", `SET a ""`, "GET a", "STRLEN a"),
		dc("set/overwrite", "SET a 1", "SET a 2", "GET a"),
		dc("set/overwrites-list", "RPUSH a x", "SET a v", "TYPE a", "GET a"),
		dc("set/nx", "SET a 1 NX", "SET a 2 NX", "GET a"),
		dc("set/xx", "SET a 1 XX", "GET a", "SET a 1", "SET a 2 XX", "GET a"),
		dc("set/nx-xx", "SET a 1 NX XX", "SET a 1 XX NX", "EXISTS a"),
		dc("set/ex", "SET a 1 EX 100", near(1, "TTL a")),
		dc("set/px", "SET a 1 PX 100000", near(1, "TTL a"), near(1500, "PTTL a")),
		dc("set/ex-zero", "SET a 1 EX 0", "EXISTS a"),
		dc("set/ex-negative", "SET a 1 EX -1", "EXISTS a"),
		dc("set/px-zero", "SET a 1 PX 0"),
		dc("set/ex-not-integer", "SET a 1 EX x", "SET a 1 EX 1.5", `SET a 1 EX ""`),
		dc("set/ex-missing-value", "SET a 1 EX"),
		dc("set/ex-overflow", "SET a 1 EX 9223372036854775807", "SET a 1 EX 9223372036854775", "EXISTS a"),
		dc("set/px-overflow", "SET a 1 PX 9223372036854775807", "EXISTS a"),
		dc("set/ex-px", "SET a 1 EX 10 PX 10000"),
		dc("set/ex-ex", "SET a 1 EX 10 EX 100", near(1, "TTL a")),
		dc("set/nx-nx", "SET a 1 NX NX", "GET a"),
		dc("set/keepttl", "SET a 1 EX 100", "SET a 2 KEEPTTL", near(1, "TTL a"), "GET a"),
		dc("set/keepttl-no-ttl", "SET a 1", "SET a 2 KEEPTTL", "TTL a"),
		dc("set/keepttl-ex", "SET a 1 KEEPTTL EX 10", "SET a 1 EX 10 KEEPTTL"),
		dc("set/exat", "SET a 1 EXAT 4102444800", near(2, "TTL a")),
		dc("set/pxat", "SET a 1 PXAT 4102444800000", near(2, "TTL a")),
		dc("set/exat-past", "SET a 1 EXAT 1", "GET a", "EXISTS a"),
		dc("set/pxat-past", "SET a 1", "SET a 2 PXAT 1", "GET a"),
		dc("set/exat-zero", "SET a 1 EXAT 0"),
		dc("set/exat-px", "SET a 1 EXAT 4102444800 PX 100"),
		dc("set/get-old", "SET a 1", "SET a 2 GET", "GET a"),
		dc("set/get-missing", "SET a 2 GET", "GET a"),
		dc("set/get-wrongtype", "RPUSH a x", "SET a 2 GET", "TYPE a"),
		dc("set/nx-get", "SET a 1", "SET a 2 NX GET", "SET b 3 NX GET", "GET a", "GET b"),
		dc("set/xx-get", "SET a 2 XX GET", "SET a 1", "SET a 3 XX GET", "GET a"),
		dc("set/get-ex", "SET a 1", "SET a 2 GET EX 100", near(1, "TTL a")),
		dc("set/lowercase-options", "set a 1 nx ex 100", near(1, "TTL a"), "set a 2 xx keepttl get"),
		dc("set/unknown-option", "SET a 1 FOO", "SET a 1 EX 10 FOO"),
		dc("set/arity", "SET", "SET a"),
		dc("set/unicode", "SET ключ значение✓", "GET ключ"),
		dc("set/large-value", argv("SET", "a", strings.Repeat("v", 10000)), "STRLEN a", "GETRANGE a 9995 -1"),
		dc("setnx/basic", "SETNX a 1", "SETNX a 2", "GET a"),
		dc("setnx/on-list", "RPUSH a x", "SETNX a 1", "TYPE a"),
		dc("setnx/arity", "SETNX a", "SETNX a b c"),
		dc("setex/basic", "SETEX a 100 v", "GET a", near(1, "TTL a")),
		dc("setex/zero", "SETEX a 0 v", "EXISTS a"),
		dc("setex/negative", "SETEX a -5 v"),
		dc("setex/not-integer", "SETEX a x v", "SETEX a 1.5 v"),
		dc("setex/overflow", "SETEX a 9223372036854775807 v"),
		dc("setex/overwrites-list", "RPUSH a x", "SETEX a 100 v", "TYPE a"),
		dc("setex/arity", "SETEX a 100", "SETEX a 100 v extra"),
		dc("psetex/basic", "PSETEX a 100000 v", "GET a", near(1, "TTL a")),
		dc("psetex/zero", "PSETEX a 0 v"),
		dc("psetex/negative", "PSETEX a -1 v"),
		dc("psetex/not-integer", "PSETEX a 1e5 v"),
		dc("psetex/overflow", "PSETEX a 9223372036854775807 v"),
		dc("psetex/arity", "PSETEX a 100"),
		dc("getset/basic", "SET a 1", "GETSET a 2", "GET a"),
		dc("getset/missing", "GETSET a 1", "GET a"),
		dc("getset/clears-ttl", "SET a 1 EX 100", "GETSET a 2", "TTL a"),
		dc("getset/wrongtype", "RPUSH a x", "GETSET a 1", "TYPE a"),
		dc("getset/arity", "GETSET a"),
		dc("getdel/basic", "SET a 1", "GETDEL a", "EXISTS a"),
		dc("getdel/missing", "GETDEL a"),
		dc("getdel/wrongtype", "RPUSH a x", "GETDEL a", "EXISTS a"),
		dc("getdel/arity", "GETDEL", "GETDEL a b"),
		dc("getex/plain", "SET a 1 EX 100", "GETEX a", near(1, "TTL a")),
		dc("getex/ex", "SET a 1", "GETEX a EX 100", near(1, "TTL a")),
		dc("getex/px", "SET a 1", "GETEX a PX 100000", near(1, "TTL a")),
		dc("getex/exat", "SET a 1", "GETEX a EXAT 4102444800", near(2, "TTL a")),
		dc("getex/pxat", "SET a 1", "GETEX a PXAT 4102444800000", near(2, "TTL a")),
		dc("getex/exat-past", "SET a 1", "GETEX a EXAT 1", "GET a"),
		dc("getex/persist", "SET a 1 EX 100", "GETEX a PERSIST", "TTL a"),
		dc("getex/ex-zero", "SET a 1", "GETEX a EX 0", "GETEX a PX 0", "GETEX a EX -1", "TTL a"),
		dc("getex/ex-not-integer", "SET a 1", "GETEX a EX x"),
		dc("getex/ex-overflow", "SET a 1", "GETEX a EX 9223372036854775807", "GETEX a PX 9223372036854775807"),
		dc("getex/ex-missing-value", "SET a 1", "GETEX a EX"),
		dc("getex/persist-ex", "SET a 1", "GETEX a PERSIST EX 10", "GETEX a EX 10 PERSIST", "GETEX a EX 10 PX 100"),
		dc("getex/unknown-option", "SET a 1", "GETEX a FOO", "GETEX a KEEPTTL"),
		dc("getex/missing", "GETEX a", "GETEX a EX 10", "GETEX a EX x"),
		dc("getex/wrongtype", "RPUSH a x", "GETEX a", "GETEX a EX 10", "TTL a"),
		dc("getex/arity", "GETEX"),
		dc("getex/lowercase", "SET a 1", "getex a ex 100", near(1, "TTL a"), "getex a persist", "TTL a"),
	}
}

func stringCases() []diffCase {
	return []diffCase{
		dc("mget/basic", "SET a 1", "SET b 2", "MGET a b c"),
		dc("mget/wrongtype-is-nil", "SET a 1", "RPUSH l x", "MGET a l b"),
		dc("mget/repeated", "SET a 1", "MGET a a"),
		dc("mget/arity", "MGET"),
		dc("mset/basic", "MSET a 1 b 2", "MGET a b"),
		dc("mset/odd-args", "MSET a 1 b", "EXISTS a"),
		dc("mset/arity", "MSET", "MSET a"),
		dc("mset/overwrites-list", "RPUSH a x", "MSET a 1", "TYPE a"),
		dc("mset/repeated-key", "MSET a 1 a 2", "GET a"),
		dc("mset/clears-ttl", "SET a 1 EX 100", "MSET a 2", "TTL a"),
		dc("msetnx/all-new", "MSETNX a 1 b 2", "MGET a b"),
		dc("msetnx/one-exists", "SET b x", "MSETNX a 1 b 2", "MGET a b"),
		dc("msetnx/list-exists", "RPUSH b x", "MSETNX a 1 b 2", "EXISTS a"),
		dc("msetnx/repeated-key", "MSETNX a 1 a 2", "GET a"),
		dc("msetnx/odd-args", "MSETNX a 1 b"),
		dc("msetnx/arity", "MSETNX", "MSETNX a"),
		dc("append/missing", "APPEND a hello", "GET a"),
		dc("append/existing", "SET a hello", "APPEND a \" world\"", "GET a"),
		dc("append/empty", "SET a x", `APPEND a ""`, `APPEND b ""`, "EXISTS b", "GET a"),
		dc("append/binary", `APPEND a "\x00\r\n"`, `APPEND a "\xff"`, "GET a", "STRLEN a"),
		dc("append/to-integer", "SET a 10", "APPEND a 5", "INCR a", "GET a"),
		dc("append/arity", "APPEND a", "APPEND a b c"),
		dc("strlen/missing", "STRLEN a"),
		dc("strlen/basic", "SET a hello", "STRLEN a"),
		dc("strlen/unicode-bytes", "SET a é✓", "STRLEN a"),
		dc("strlen/integer", "SET a 12345", "STRLEN a", "SET b -1", "STRLEN b"),
		dc("strlen/arity", "STRLEN", "STRLEN a b"),
	}
}

func rangeCases() []diffCase {
	return []diffCase{
		dc("getrange/basic", "SET a hello", "GETRANGE a 0 -1", "GETRANGE a 1 3", "GETRANGE a 0 0"),
		dc("getrange/negative", "SET a hello", "GETRANGE a -3 -1", "GETRANGE a -100 -1", "GETRANGE a -1 -1"),
		dc("getrange/end-too-negative", "SET a hello", "GETRANGE a 0 -100", "GETRANGE a 2 -100"),
		dc("getrange/out-of-range", "SET a hello", "GETRANGE a 5 10", "GETRANGE a 3 1000", "GETRANGE a 100 200"),
		dc("getrange/start-after-end", "SET a hello", "GETRANGE a 3 1", "GETRANGE a -1 -3"),
		dc("getrange/huge", "SET a hello", "GETRANGE a 0 9223372036854775807",
			"GETRANGE a -9223372036854775808 9223372036854775807"),
		dc("getrange/missing", "GETRANGE a 0 -1"),
		dc("getrange/empty-value", `SET a ""`, "GETRANGE a 0 -1", "GETRANGE a 0 0"),
		dc("getrange/integer", "SET a 12345", "GETRANGE a 1 2", "GETRANGE a -2 -1"),
		dc("getrange/not-integer", "SET a hello", "GETRANGE a x 1", "GETRANGE a 0 1.5", "GETRANGE b x 1"),
		dc("getrange/arity", "GETRANGE a 0", "GETRANGE a 0 1 2"),
		dc("setrange/basic", "SET a hello", "SETRANGE a 1 EY", "GET a"),
		dc("setrange/beyond-end", "SET a hi", "SETRANGE a 5 x", "GET a"),
		dc("setrange/missing", "SETRANGE a 3 x", "GET a"),
		dc("setrange/missing-empty", `SETRANGE a 3 ""`, "EXISTS a"),
		dc("setrange/existing-empty", "SET a hello", `SETRANGE a 100 ""`, "GET a"),
		dc("setrange/negative-offset", "SET a hello", "SETRANGE a -1 x", `SETRANGE b -1 ""`),
		dc("setrange/too-large", "SETRANGE a 536870912 x", "SET b v", "SETRANGE b 536870912 x", "EXISTS a"),
		dc("setrange/too-large-empty", `SETRANGE a 536870912 ""`, "SET b v", `SETRANGE b 536870912 ""`),
		dc("setrange/not-integer", "SETRANGE a x v", "SETRANGE a 1.5 v"),
		dc("setrange/integer", "SET a 12345", "SETRANGE a 1 x", "GET a"),
		dc("setrange/binary", "SET a hello", `SETRANGE a 2 "\x00\r\n"`, "GET a"),
		dc("setrange/arity", "SETRANGE a 0", "SETRANGE a 0 v x"),
	}
}

func counterCases() []diffCase {
	return []diffCase{
		dc("incr/missing", "INCR a", "GET a"),
		dc("incr/existing", "SET a 41", "INCR a", "INCR a"),
		dc("incr/negative", "SET a -5", "INCR a"),
		dc("incr/not-integer", "SET a abc", "INCR a", "GET a"),
		dc("incr/float-value", "SET a 1.5", "INCR a"),
		dc("incr/leading-space", `SET a " 1"`, "INCR a"),
		dc("incr/trailing-space", `SET a "1 "`, "INCR a"),
		dc("incr/plus-sign", "SET a +1", "INCR a"),
		dc("incr/leading-zero", "SET a 01", "INCR a", "SET b 0", "INCR b"),
		dc("incr/minus-zero", "SET a -0", "INCR a"),
		dc("incr/empty", `SET a ""`, "INCR a"),
		dc("incr/nul-byte", `SET a "1\x00"`, "INCR a"),
		dc("incr/max", "SET a 9223372036854775806", "INCR a", "INCR a", "GET a"),
		dc("incr/beyond-int64", "SET a 9223372036854775808", "INCR a"),
		dc("incr/keeps-ttl", "SET a 1 EX 100", "INCR a", near(1, "TTL a")),
		dc("incr/arity", "INCR", "INCR a b"),
		dc("decr/missing", "DECR a", "DECR a"),
		dc("decr/min", "SET a -9223372036854775807", "DECR a", "DECR a", "GET a"),
		dc("decr/not-integer", "SET a 1e3", "DECR a"),
		dc("decr/arity", "DECR"),
		dc("incrby/basic", "INCRBY a 10", "INCRBY a -3", "INCRBY a 0"),
		dc("incrby/overflow", "SET a 1", "INCRBY a 9223372036854775807", "GET a"),
		dc("incrby/underflow", "SET a -2", "INCRBY a -9223372036854775807", "GET a"),
		dc("incrby/min-increment", "INCRBY a -9223372036854775808", "INCRBY a -1"),
		dc("incrby/increment-not-integer", "SET a 1", "INCRBY a x", "INCRBY a 1.5", `INCRBY a ""`, "INCRBY a +1"),
		dc("incrby/increment-beyond-int64", "INCRBY a 9223372036854775808", "EXISTS a"),
		dc("incrby/value-not-integer", "SET a x", "INCRBY a 1"),
		dc("incrby/arity", "INCRBY a", "INCRBY a 1 2"),
		dc("decrby/basic", "DECRBY a 10", "DECRBY a -30"),
		dc("decrby/min-increment", "SET a 0", "DECRBY a -9223372036854775808", "GET a"),
		dc("decrby/max-increment", "SET a 0", "DECRBY a 9223372036854775807", "DECRBY a 1", "DECRBY a 1"),
		dc("decrby/overflow", "SET a 9223372036854775807", "DECRBY a -1"),
		dc("decrby/not-integer", "DECRBY a x", "SET a x", "DECRBY a 1"),
		dc("decrby/arity", "DECRBY a"),
		dc("counter/large-numbers", "SET a 123456789012345678", "INCRBY a 1000000000000000000", "GET a"),
		dc("counter/result-type", "SET a 10", "INCR a", "GET a", "TYPE a", "APPEND a 0", "GET a"),
	}
}

func floatCases() []diffCase {
	return []diffCase{
		dc("incrbyfloat/basic", "SET a 10.5", "INCRBYFLOAT a 0.1", "GET a"),
		dc("incrbyfloat/missing", "INCRBYFLOAT a 3.5", "GET a"),
		dc("incrbyfloat/exponent", "SET a 10.5", "INCRBYFLOAT a 5.0e3", "INCRBYFLOAT a 1e3", "INCRBYFLOAT a 1E-2"),
		dc("incrbyfloat/long-fraction", "SET a 0", "INCRBYFLOAT a 3.0000000000000000001"),
		dc("incrbyfloat/point-sum", "INCRBYFLOAT a 0.1", "INCRBYFLOAT a 0.2", "GET a"),
		dc("incrbyfloat/trailing-zeros", "SET a 10.50", "INCRBYFLOAT a 0", "GET a"),
		dc("incrbyfloat/integer-result", "SET a 1.5", "INCRBYFLOAT a 1.5", "INCRBYFLOAT a 2"),
		dc("incrbyfloat/on-integer", "SET a 5", "INCRBYFLOAT a 1.5", "INCR a"),
		dc("incrbyfloat/negative", "SET a 1", "INCRBYFLOAT a -5.25"),
		dc("incrbyfloat/negative-zero", "INCRBYFLOAT a -0", "INCRBYFLOAT b -0.0", "SET c -1", "INCRBYFLOAT c 1"),
		dc("incrbyfloat/inf", "SET a 1", "INCRBYFLOAT a inf", "INCRBYFLOAT a -inf", "INCRBYFLOAT a +inf", "GET a"),
		dc("incrbyfloat/nan", "SET a 1", "INCRBYFLOAT a nan", "INCRBYFLOAT a NaN"),
		dc("incrbyfloat/inf-value", "SET a inf", "INCRBYFLOAT a 1"),
		dc("incrbyfloat/overflow-to-inf", "INCRBYFLOAT a 1e308", "INCRBYFLOAT a 1e308", "GET a"),
		dc("incrbyfloat/huge-exponent", "INCRBYFLOAT a 1e400", "INCRBYFLOAT a 1e4000"),
		dc("incrbyfloat/large", "INCRBYFLOAT a 1e20", "INCRBYFLOAT b 1e30", "INCRBYFLOAT c 123456789012345678"),
		dc("incrbyfloat/small", "INCRBYFLOAT a 1e-5", "INCRBYFLOAT b 0.000000000000000001", "INCRBYFLOAT c 1e-20"),
		dc("incrbyfloat/many-digits", "INCRBYFLOAT a 1.23456789012345678901234567890", "INCRBYFLOAT b 3.14159265358979"),
		dc("incrbyfloat/thirds", "INCRBYFLOAT a 1", "INCRBYFLOAT a 0.3333333333333333", "INCRBYFLOAT a -0.3333333333333333"),
		dc("incrbyfloat/sign-and-dot", "INCRBYFLOAT a +1.5", "INCRBYFLOAT a .5", "INCRBYFLOAT a 5.", "INCRBYFLOAT a -.25"),
		dc("incrbyfloat/hex", "INCRBYFLOAT a 0x10", "INCRBYFLOAT a 0x1p3"),
		dc("incrbyfloat/increment-not-float", "SET a 1", "INCRBYFLOAT a x", `INCRBYFLOAT a ""`, "INCRBYFLOAT a 1e",
			`INCRBYFLOAT a " 1"`, `INCRBYFLOAT a "1 "`, "INCRBYFLOAT a 1,5", "GET a"),
		dc("incrbyfloat/value-not-float", "SET a x", "INCRBYFLOAT a 1", `SET b " 1.5"`, "INCRBYFLOAT b 1",
			`SET c ""`, "INCRBYFLOAT c 1", "SET d nan", "INCRBYFLOAT d 1"),
		dc("incrbyfloat/value-exponent", "SET a 1e2", "INCRBYFLOAT a 1", "SET b 0x10", "INCRBYFLOAT b 1"),
		dc("incrbyfloat/keeps-ttl", "SET a 1 EX 100", "INCRBYFLOAT a 1.5", near(1, "TTL a")),
		dc("incrbyfloat/arity", "INCRBYFLOAT a", "INCRBYFLOAT a 1 2"),
	}
}

func listPushPopCases() []diffCase {
	return []diffCase{
		dc("lpush/basic", "LPUSH l a", "LPUSH l b c", "LRANGE l 0 -1"),
		dc("lpush/empty-value", `LPUSH l ""`, "LLEN l", "LINDEX l 0"),
		dc("lpush/arity", "LPUSH l", "LPUSH"),
		dc("rpush/basic", "RPUSH l a", "RPUSH l b c", "LRANGE l 0 -1"),
		dc("rpush/duplicates", "RPUSH l a a a", "LLEN l"),
		dc("rpush/arity", "RPUSH l"),
		dc("lpushx/missing", "LPUSHX l a", "EXISTS l"),
		dc("lpushx/existing", "RPUSH l a", "LPUSHX l b c", "LRANGE l 0 -1"),
		dc("lpushx/arity", "LPUSHX l"),
		dc("rpushx/missing", "RPUSHX l a b", "EXISTS l"),
		dc("rpushx/existing", "RPUSH l a", "RPUSHX l b c", "LRANGE l 0 -1"),
		dc("rpushx/arity", "RPUSHX l"),
		dc("lpop/basic", "RPUSH l a b c", "LPOP l", "LRANGE l 0 -1"),
		dc("lpop/missing", "LPOP l"),
		dc("lpop/last-deletes-key", "RPUSH l a", "LPOP l", "EXISTS l", "LPOP l"),
		dc("lpop/count", "RPUSH l a b c d", "LPOP l 2", "LRANGE l 0 -1"),
		dc("lpop/count-one", "RPUSH l a b", "LPOP l 1"),
		dc("lpop/count-exceeds", "RPUSH l a b", "LPOP l 10", "EXISTS l"),
		dc("lpop/count-zero", "RPUSH l a", "LPOP l 0", "LLEN l"),
		dc("lpop/count-negative", "RPUSH l a", "LPOP l -1"),
		dc("lpop/count-not-integer", "RPUSH l a", "LPOP l x", "LPOP l 1.5"),
		dc("lpop/count-missing-key", "LPOP l 2", "LPOP l 0"),
		dc("lpop/count-negative-missing-key", "LPOP l -1"),
		dc("lpop/count-zero-wrongtype", "SET s v", "LPOP s 0", "LPOP s 1"),
		dc("lpop/arity", "LPOP", "LPOP l 1 2"),
		dc("rpop/basic", "RPUSH l a b c", "RPOP l", "LRANGE l 0 -1"),
		dc("rpop/missing", "RPOP l", "RPOP l 3"),
		dc("rpop/count", "RPUSH l a b c d", "RPOP l 3", "RPOP l 3", "EXISTS l"),
		dc("rpop/count-zero", "RPUSH l a", "RPOP l 0"),
		dc("rpop/count-negative", "RPUSH l a", "RPOP l -5", "RPOP l -9223372036854775808"),
		dc("rpop/count-huge", "RPUSH l a", "RPOP l 9223372036854775807"),
		dc("rpop/arity", "RPOP", "RPOP l 1 2"),
		dc("list/fifo-queue", "RPUSH q 1 2 3", "LPOP q", "RPUSH q 4", "LPOP q 2", "LPOP q", "LPOP q"),
	}
}

func listReadCases() []diffCase {
	abc := "RPUSH l a b c d e"
	return []diffCase{
		dc("lrange/all", abc, "LRANGE l 0 -1"),
		dc("lrange/negative", abc, "LRANGE l -2 -1", "LRANGE l -100 1", "LRANGE l -3 -4"),
		dc("lrange/out-of-range", abc, "LRANGE l 5 10", "LRANGE l 2 100", "LRANGE l 100 -1"),
		dc("lrange/start-after-end", abc, "LRANGE l 3 1"),
		dc("lrange/huge", abc, "LRANGE l -9223372036854775808 9223372036854775807"),
		dc("lrange/missing", "LRANGE l 0 -1"),
		dc("lrange/not-integer", abc, "LRANGE l a 1", "LRANGE l 0 1.0", "LRANGE m x 1"),
		dc("lrange/arity", "LRANGE l 0", "LRANGE l 0 1 2"),
		dc("llen/basic", abc, "LLEN l"),
		dc("llen/missing", "LLEN l"),
		dc("llen/arity", "LLEN", "LLEN l m"),
		dc("lindex/basic", abc, "LINDEX l 0", "LINDEX l 4", "LINDEX l -1", "LINDEX l -5"),
		dc("lindex/out-of-range", abc, "LINDEX l 5", "LINDEX l -6", "LINDEX l 9223372036854775807"),
		dc("lindex/missing", "LINDEX l 0"),
		dc("lindex/not-integer", abc, "LINDEX l x", "LINDEX m x"),
		dc("lindex/arity", "LINDEX l", "LINDEX l 0 1"),
		dc("lpos/basic", "RPUSH l a b c b a", "LPOS l b", "LPOS l a", "LPOS l z"),
		dc("lpos/missing-key", "LPOS l a", "LPOS l a COUNT 0", "LPOS l a RANK 2"),
		dc("lpos/rank", "RPUSH l a b a b a", "LPOS l a RANK 2", "LPOS l a RANK 3", "LPOS l a RANK 4"),
		dc("lpos/negative-rank", "RPUSH l a b a b a", "LPOS l a RANK -1", "LPOS l a RANK -2", "LPOS l b RANK -3"),
		dc("lpos/rank-zero", "RPUSH l a", "LPOS l a RANK 0"),
		dc("lpos/rank-min", "RPUSH l a", "LPOS l a RANK -9223372036854775808"),
		dc("lpos/rank-not-integer", "RPUSH l a", "LPOS l a RANK x"),
		dc("lpos/count", "RPUSH l a b a b a", "LPOS l a COUNT 2", "LPOS l a COUNT 0", "LPOS l z COUNT 0"),
		dc("lpos/count-exceeds", "RPUSH l a b a", "LPOS l a COUNT 10"),
		dc("lpos/count-negative", "RPUSH l a", "LPOS l a COUNT -1"),
		dc("lpos/count-rank", "RPUSH l a b a b a", "LPOS l a RANK 2 COUNT 0", "LPOS l a RANK -1 COUNT 2",
			"LPOS l a COUNT 2 RANK -2"),
		dc("lpos/maxlen", "RPUSH l a b c d a", "LPOS l a MAXLEN 2 COUNT 0", "LPOS l d MAXLEN 3", "LPOS l d MAXLEN 0",
			"LPOS l a RANK -1 MAXLEN 1"),
		dc("lpos/maxlen-negative", "RPUSH l a", "LPOS l a MAXLEN -1"),
		dc("lpos/option-missing-value", "RPUSH l a", "LPOS l a RANK", "LPOS l a COUNT", "LPOS l a MAXLEN"),
		dc("lpos/unknown-option", "RPUSH l a", "LPOS l a FOO 1", "LPOS l a RANK 1 FOO"),
		dc("lpos/repeated-option", "RPUSH l a b a", "LPOS l a RANK 1 RANK 2"),
		dc("lpos/lowercase", "RPUSH l a b a", "lpos l a rank 2 count 1 maxlen 0"),
		dc("lpos/arity", "LPOS l"),
	}
}

func listEditCases() []diffCase {
	return []diffCase{
		dc("lset/basic", "RPUSH l a b c", "LSET l 1 X", "LSET l -1 Y", "LRANGE l 0 -1"),
		dc("lset/out-of-range", "RPUSH l a", "LSET l 1 x", "LSET l -2 x"),
		dc("lset/missing", "LSET l 0 x", "EXISTS l"),
		dc("lset/not-integer", "RPUSH l a", "LSET l x v", "LSET m x v"),
		dc("lset/binary", "RPUSH l a", `LSET l 0 "\r\n\x00"`, "LINDEX l 0"),
		dc("lset/arity", "LSET l 0", "LSET l 0 a b"),
		dc("lrem/all", "RPUSH l a b a c a", "LREM l 0 a", "LRANGE l 0 -1"),
		dc("lrem/from-head", "RPUSH l a b a c a", "LREM l 2 a", "LRANGE l 0 -1"),
		dc("lrem/from-tail", "RPUSH l a b a c a", "LREM l -2 a", "LRANGE l 0 -1"),
		dc("lrem/no-match", "RPUSH l a", "LREM l 0 z"),
		dc("lrem/missing", "LREM l 0 a"),
		dc("lrem/deletes-key", "RPUSH l a a", "LREM l 0 a", "EXISTS l"),
		dc("lrem/not-integer", "RPUSH l a", "LREM l x a"),
		dc("lrem/arity", "LREM l 0"),
		dc("ltrim/basic", "RPUSH l a b c d e", "LTRIM l 1 3", "LRANGE l 0 -1"),
		dc("ltrim/negative", "RPUSH l a b c d e", "LTRIM l -2 -1", "LRANGE l 0 -1"),
		dc("ltrim/empties-deletes", "RPUSH l a b", "LTRIM l 5 10", "EXISTS l"),
		dc("ltrim/start-after-end", "RPUSH l a b", "LTRIM l 1 0", "EXISTS l"),
		dc("ltrim/out-of-range-end", "RPUSH l a b c", "LTRIM l 1 100", "LRANGE l 0 -1"),
		dc("ltrim/missing", "LTRIM l 0 1", "EXISTS l"),
		dc("ltrim/not-integer", "RPUSH l a", "LTRIM l x 1", "LTRIM l 0 y"),
		dc("ltrim/arity", "LTRIM l 0"),
		dc("linsert/before", "RPUSH l a b c", "LINSERT l BEFORE b X", "LRANGE l 0 -1"),
		dc("linsert/after", "RPUSH l a b c", "LINSERT l AFTER c X", "LRANGE l 0 -1"),
		dc("linsert/first-pivot", "RPUSH l a b a", "LINSERT l after a X", "LRANGE l 0 -1"),
		dc("linsert/pivot-missing", "RPUSH l a", "LINSERT l BEFORE z X", "LLEN l"),
		dc("linsert/key-missing", "LINSERT l BEFORE a X", "EXISTS l"),
		dc("linsert/syntax", "RPUSH l a", "LINSERT l MIDDLE a X", "LINSERT m MIDDLE a X"),
		dc("linsert/arity", "LINSERT l BEFORE a"),
	}
}

func listMoveCases() []diffCase {
	return []diffCase{
		dc("lmove/left-right", "RPUSH s a b c", "LMOVE s d LEFT RIGHT", "LMOVE s d LEFT RIGHT", "LRANGE s 0 -1", "LRANGE d 0 -1"),
		dc("lmove/left-left", "RPUSH s a b c", "RPUSH d x", "LMOVE s d LEFT LEFT", "LRANGE d 0 -1"),
		dc("lmove/right-left", "RPUSH s a b c", "RPUSH d x", "LMOVE s d RIGHT LEFT", "LRANGE d 0 -1"),
		dc("lmove/right-right", "RPUSH s a b c", "RPUSH d x", "LMOVE s d RIGHT RIGHT", "LRANGE d 0 -1"),
		dc("lmove/same-list-rotate", "RPUSH l a b c", "LMOVE l l LEFT RIGHT", "LRANGE l 0 -1", "LMOVE l l RIGHT LEFT",
			"LRANGE l 0 -1"),
		dc("lmove/same-list-single", "RPUSH l a", "LMOVE l l LEFT LEFT", "LRANGE l 0 -1"),
		dc("lmove/last-element", "RPUSH s a", "LMOVE s d LEFT LEFT", "EXISTS s", "LRANGE d 0 -1"),
		dc("lmove/missing-source", "LMOVE s d LEFT RIGHT", "EXISTS d"),
		dc("lmove/missing-source-wrongtype-dest", "SET d x", "LMOVE s d LEFT RIGHT"),
		dc("lmove/wrongtype-dest", "RPUSH s a", "SET d x", "LMOVE s d LEFT RIGHT", "LRANGE s 0 -1", "GET d"),
		dc("lmove/wrongtype-source", "SET s x", "LMOVE s d LEFT RIGHT"),
		dc("lmove/syntax", "RPUSH s a", "LMOVE s d UP DOWN", "LMOVE s d LEFT DOWN", "LLEN s"),
		dc("lmove/lowercase", "RPUSH s a b", "lmove s d right left", "LRANGE d 0 -1"),
		dc("lmove/arity", "LMOVE s d LEFT"),
		dc("rpoplpush/basic", "RPUSH s a b c", "RPOPLPUSH s d", "LRANGE s 0 -1", "LRANGE d 0 -1"),
		dc("rpoplpush/same-list", "RPUSH l a b c", "RPOPLPUSH l l", "LRANGE l 0 -1"),
		dc("rpoplpush/missing", "RPOPLPUSH s d"),
		dc("rpoplpush/wrongtype-dest", "RPUSH s a", "SET d x", "RPOPLPUSH s d", "LLEN s"),
		dc("rpoplpush/arity", "RPOPLPUSH s"),
	}
}

func blockingCases() []diffCase {
	return []diffCase{
		dc("blpop/non-empty", "RPUSH l a b", "BLPOP l 0", "LRANGE l 0 -1"),
		dc("blpop/first-non-empty-key", "RPUSH l2 x", "RPUSH l3 y", "BLPOP l1 l2 l3 1"),
		dc("blpop/last-element", "RPUSH l a", "BLPOP l 1", "EXISTS l"),
		dc("blpop/timeout", "BLPOP l 0.01"),
		dc("blpop/timeout-integer-string", "RPUSH l a", "BLPOP l 1.5"),
		dc("blpop/negative-timeout", "RPUSH l a", "BLPOP l -1", "BLPOP l -0.5", "LLEN l"),
		dc("blpop/timeout-not-float", "RPUSH l a", "BLPOP l x", `BLPOP l ""`, "BLPOP l 1s"),
		dc("blpop/timeout-out-of-range", "RPUSH l a", "BLPOP l 1e20", "BLPOP l inf", "LLEN l"),
		dc("blpop/wrongtype", "SET s v", "BLPOP s 0.01", "RPUSH l a", "BLPOP s l 0.01"),
		dc("blpop/arity", "BLPOP l", "BLPOP"),
		dc("brpop/non-empty", "RPUSH l a b", "BRPOP l 0", "LRANGE l 0 -1"),
		dc("brpop/first-non-empty-key", "RPUSH l3 y z", "BRPOP l1 l2 l3 1"),
		dc("brpop/timeout", "BRPOP l1 l2 0.01"),
		dc("brpop/negative-timeout", "BRPOP l -1"),
		dc("brpop/timeout-not-float", "BRPOP l abc"),
		dc("brpop/arity", "BRPOP l"),
		dc("blmove/non-empty", "RPUSH s a b", "BLMOVE s d RIGHT LEFT 0", "LRANGE s 0 -1", "LRANGE d 0 -1"),
		dc("blmove/timeout", "BLMOVE s d LEFT LEFT 0.01", "EXISTS d"),
		dc("blmove/negative-timeout", "RPUSH s a", "BLMOVE s d LEFT LEFT -1"),
		dc("blmove/timeout-not-float", "RPUSH s a", "BLMOVE s d LEFT LEFT x"),
		dc("blmove/syntax", "RPUSH s a", "BLMOVE s d UP LEFT 0"),
		dc("blmove/wrongtype-dest", "RPUSH s a", "SET d x", "BLMOVE s d LEFT LEFT 0", "LLEN s"),
		dc("blmove/same-list", "RPUSH l a b", "BLMOVE l l LEFT RIGHT 0", "LRANGE l 0 -1"),
		dc("blmove/arity", "BLMOVE s d LEFT LEFT"),
	}
}

// wrongTypeCases runs every command against a key of the other type.
func wrongTypeCases() []diffCase {
	onList := []string{
		"GET k", "GETSET k v", "GETDEL k", "GETEX k PERSIST", "APPEND k v", "STRLEN k", "GETRANGE k 0 -1",
		"SETRANGE k 0 v", "INCR k", "DECR k", "INCRBY k 1", "DECRBY k 1", "INCRBYFLOAT k 1.5",
		"SET k v GET",
	}
	onString := []string{
		"LPUSH k v", "RPUSH k v", "LPUSHX k v", "RPUSHX k v", "LPOP k", "RPOP k", "LPOP k 2", "LRANGE k 0 -1",
		"LLEN k", "LINDEX k 0", "LSET k 0 v", "LREM k 0 v", "LTRIM k 0 1", "LINSERT k BEFORE a b", "LPOS k v",
		"LMOVE k d LEFT LEFT", "RPOPLPUSH k d", "BLPOP k 0.01", "BRPOP k 0.01", "BLMOVE k d LEFT LEFT 0.01",
	}
	var cases []diffCase
	for _, cmd := range onList {
		cases = append(cases, dc(wrongTypeName(cmd), "RPUSH k a", cmd, "LRANGE k 0 -1"))
	}
	for _, cmd := range onString {
		cases = append(cases, dc(wrongTypeName(cmd), "SET k s", cmd, "GET k"))
	}
	return append(cases,
		dc("wrongtype/error-before-syntax", "SET k s", "LINSERT k MIDDLE a b", "LPOS k v RANK 0"),
		dc("wrongtype/generic-on-list", "RPUSH k a", "TYPE k", "EXISTS k", "EXPIRE k 100", "PERSIST k", "DEL k"),
	)
}

// binaryCases checks keys and values holding CR, LF, NUL, non-UTF-8 bytes and unicode.
func binaryCases() []diffCase {
	return []diffCase{
		dc("binary/value", `SET k "a\r\nb\x00c"`, "GET k", "STRLEN k"),
		dc("binary/key", `SET "k\r\n\x00" v`, `GET "k\r\n\x00"`, "GET k", unordered("KEYS *")),
		dc("binary/empty-key", `SET "" v`, `GET ""`, `EXISTS ""`, `TYPE ""`, "DBSIZE"),
		dc("binary/non-utf8", `SET k "\xff\xfe\x80"`, "GET k", `APPEND k "\xc3"`, "GET k"),
		dc("binary/resp-lookalike", `SET k "$3\r\nfoo\r\n*1\r\n"`, "GET k", `RPUSH l "+OK\r\n" "-ERR x\r\n"`, "LRANGE l 0 -1"),
		dc("binary/list-values", `RPUSH l "\x00" "" "\r\n"`, "LRANGE l 0 -1", `LREM l 0 ""`, `LPOS l "\r\n"`),
		dc("binary/unicode-key", "SET 键 值", "GET 键", "EXISTS 键", unordered("KEYS 键*")),
		dc("binary/mset-mget", `MSET "a\x00" 1 "a\x00b" 2`, `MGET "a\x00" "a\x00b" a`),
		dc("binary/counter-key", `INCR "\x00"`, `INCRBY "\x00" 5`, `GET "\x00"`),
		dc("binary/rename", `SET "a\nb" v`, `RENAME "a\nb" "c\x00d"`, `GET "c\x00d"`),
		dc("binary/long-key", argv("SET", strings.Repeat("k", 5000), "v"), argv("GET", strings.Repeat("k", 5000)), "DBSIZE"),
	}
}

// wrongTypeName names a wrongtype case after its command, and after its
// last argument too where that is an option (SET ... GET, LPOP k 2).
func wrongTypeName(cmd string) string {
	f := strings.Fields(strings.ToLower(cmd))
	switch {
	case f[0] == "set":
		return "wrongtype/set-get"
	case f[0] == "lpop" && len(f) == 3:
		return "wrongtype/lpop-count"
	}
	return "wrongtype/" + f[0]
}

// strictNumberCases feeds integer arguments that strconv.ParseInt accepts but
// Redis's string2ll refuses (a sign "+", leading zeros, "-0", spaces), and
// float arguments at the edges of strtold, to every family that parses numbers.
func strictNumberCases() []diffCase {
	return []diffCase{
		dc("number/expire-plus", "SET k v", "EXPIRE k +10", "TTL k"),
		dc("number/expire-leading-zero", "SET k v", "EXPIRE k 010", "EXPIRE k 00", "TTL k"),
		dc("number/expire-minus-zero", "SET k v", "EXPIRE k -0", "EXISTS k"),
		dc("number/expire-spaces", "SET k v", `EXPIRE k " 10"`, `EXPIRE k "10 "`, "TTL k"),
		dc("number/expire-hex", "SET k v", "EXPIRE k 0x10", "TTL k"),
		dc("number/set-ex-plus", "SET k v EX +10", "SET k v EX 010", "EXISTS k"),
		dc("number/setex-plus", "SETEX k +10 v", "PSETEX k 0100 v", "EXISTS k"),
		dc("number/incrby-plus", "INCRBY k +5", "INCRBY k 05", "INCRBY k -0", "INCRBY k 1e3", "INCRBY k 0x10", "EXISTS k"),
		dc("number/incrby-min-string", "SET k -9223372036854775808", "INCRBY k 0", "SET k -9223372036854775809", "INCRBY k 0"),
		dc("number/incrby-long-digits", "SET k 00000000000000000001", "INCR k", "INCRBY j 000000000000000000000"),
		dc("number/lindex-plus", "RPUSH l a b", "LINDEX l +1", "LINDEX l 01", "LINDEX l -0"),
		dc("number/lrange-plus", "RPUSH l a b", "LRANGE l +0 -1", "LRANGE l 0 +1", "LRANGE l 00 -1"),
		dc("number/lset-plus", "RPUSH l a b", "LSET l +1 x", "LSET l -0 x", "LRANGE l 0 -1"),
		dc("number/lrem-plus", "RPUSH l a b", "LREM l +1 a", "LREM l -0 a", "LLEN l"),
		dc("number/ltrim-plus", "RPUSH l a b", "LTRIM l +0 -1", "LTRIM l 0 01", "LLEN l"),
		dc("number/lpop-count-plus", "RPUSH l a b", "LPOP l +1", "LPOP l 01", "RPOP l -0", "LLEN l"),
		dc("number/lpos-plus", "RPUSH l a b a", "LPOS l a RANK +2", "LPOS l a COUNT 01", "LPOS l a MAXLEN +1"),
		dc("number/getrange-plus", "SET k hello", "GETRANGE k +1 2", "GETRANGE k 1 02", "GETRANGE k -0 1"),
		dc("number/setrange-plus", "SET k hello", "SETRANGE k +1 x", "SETRANGE k 01 x", "GET k"),
		dc("number/select-plus", "SELECT +0", "SELECT 00", "SELECT -0"),
		dc("number/scan-count-plus", "SET a 1", "SCAN 0 COUNT +10", "SCAN 0 COUNT 010"),
		dc("number/scan-cursor-forms", "SET a 1", scanAll("SCAN 00"), scanAll("SCAN +0"), scanAll("SCAN -0"),
			"SCAN 18446744073709551616", "SCAN 0x0"),
		dc("number/hello-plus", sameShape("HELLO +2"), sameShape("HELLO 02"), "HELLO +3"),
		dc("number/timeout-forms", "RPUSH l a b c d e", "BLPOP l +1", "BLPOP l 0x1", "BLPOP l 1e-3", "BRPOP l .5",
			`BLPOP l " 1"`, `BLPOP l "1 "`, "BLPOP l nan", "LLEN l"),
		dc("number/timeout-tiny", "BLPOP l 0.0001", "BRPOP l 1e-9"),
		dc("number/timeout-zero-forms", "RPUSH l a b c", "BLPOP l 0.0", "BLPOP l -0", "BLPOP l 0e5", "LLEN l"),
		dc("incrbyfloat/infinity-words", "SET k 1", "INCRBYFLOAT k infinity", "INCRBYFLOAT k INF", "INCRBYFLOAT k -Infinity",
			"INCRBYFLOAT k -nan", "GET k"),
		dc("incrbyfloat/exponent-forms", "INCRBYFLOAT k 1e+3", "INCRBYFLOAT k 1.e3", "INCRBYFLOAT k 0e0", "INCRBYFLOAT k 00012.5",
			"INCRBYFLOAT k 0x", "INCRBYFLOAT k 1e-400", "GET k"),
		dc("incrbyfloat/value-leading-zeros", "SET k 007", "INCRBYFLOAT k 1", "SET j +5", "INCRBYFLOAT j 1", "SET i .5", "INCRBYFLOAT i 1"),
		dc("incrbyfloat/cancel", "INCRBYFLOAT k 0.1", "INCRBYFLOAT k -0.1", "INCRBYFLOAT j 1e400", "INCRBYFLOAT j -1e400"),
		dc("incrbyfloat/then-incr", "SET k 1.5", "INCRBYFLOAT k 1.5", "INCR k", "INCRBYFLOAT j 1e2", "INCR j"),
		dc("incrbyfloat/precision", "INCRBYFLOAT k 0.1", "INCRBYFLOAT k 0.1", "INCRBYFLOAT k 0.1", "INCRBYFLOAT j 1.1",
			"INCRBYFLOAT j 2.2", "INCRBYFLOAT i 123456.789", "INCRBYFLOAT i 0.001"),
		dc("incrbyfloat/big-integers", "SET k 9223372036854775807", "INCRBYFLOAT k 1", "INCRBYFLOAT j 18446744073709551616",
			"INCRBYFLOAT i 12345678901234567890123"),
		dc("incrbyfloat/denormal", "INCRBYFLOAT k 5e-324", "INCRBYFLOAT j 2.2250738585072014e-308", "INCRBYFLOAT i 1e-17",
			"INCRBYFLOAT h 1.5e-17"),
		dc("incrbyfloat/negative-small", "INCRBYFLOAT k -0.00000000000000001", "INCRBYFLOAT j -1e-18", "INCRBYFLOAT i -0.000001"),
	}
}

// globCases checks KEYS patterns at the edges of Redis's stringmatchlen:
// unclosed classes, escapes, "-" and "^" placement, and byte-wise "?".
func globCases() []diffCase {
	keys := []any{argv("MSET", "a", "1", "b", "1", "c", "1", "ab", "1", "abc", "1", "[", "1", "]", "1", `\`, "1", "-", "1",
		"!", "1", "^", "1", "a[", "1", `a\`, "1", "*", "1", "?", "1", "", "1", "A", "1")}
	glob := func(name, pattern string) diffCase {
		return dc("glob/"+name, append(slices.Clone(keys), step{args: []string{"KEYS", pattern}, mode: cmpSorted})...)
	}
	return []diffCase{
		glob("star", "*"),
		glob("star-star", "***"),
		glob("question-star", "?*"),
		glob("star-a-star-b", "*a*b*"),
		glob("open-bracket", "["),
		glob("a-open-bracket", "a["),
		glob("unclosed-class", "[a"),
		glob("unclosed-range", "[a-"),
		glob("dash-first", "[-a]"),
		glob("dash-last", "[a-]"),
		glob("close-bracket-class", "[]]"),
		glob("caret-only", "[^]"),
		glob("caret-class", "[^a-b]"),
		glob("bang-not-negation", "[!a]"),
		glob("escaped-in-class", `[\]]`),
		glob("escaped-backslash", `\\`),
		glob("trailing-backslash", `a\`),
		glob("lone-backslash", `\`),
		glob("escaped-star", `\*`),
		glob("escaped-open-bracket", `\[`),
		glob("range-case", "[A-Z]"),
		glob("empty-pattern", ""),
		glob("escaped-letter", `\a`),
		glob("class-star", "[*]"),
		glob("nested-star-class", "*[bc]"),
		dc("glob/scan-match-escape", "MSET a*b 1 ab 1 axb 1", scanAll(`SCAN 0 MATCH 'a\*b'`)),
		dc("glob/scan-match-class", "MSET k1 1 k2 1 k3 1 kx 1", scanAll("SCAN 0 MATCH k[0-9] COUNT 100")),
	}
}

// protocolCases sends requests as raw bytes: inline commands, pipelines and
// malformed input, and whether the server closes the connection after an error.
func protocolCases() []diffCase {
	return []diffCase{
		dc("proto/inline-ping", rawReq("PING\r\n", 1)),
		dc("proto/inline-lf-only", rawReq("PING\n", 1)),
		dc("proto/inline-args", rawReq("SET k hello\r\nGET k\r\n", 2)),
		dc("proto/inline-double-quotes", rawReq(`SET k "a b\r\n\x41"`+"\r\n", 1), "GET k"),
		dc("proto/inline-single-quotes", rawReq(`SET k 'it\'s "q"'`+"\r\n", 1), "GET k"),
		dc("proto/inline-empty-quotes", rawReq(`SET k ""`+"\r\n", 1), "STRLEN k"),
		dc("proto/inline-extra-spaces", rawReq("  SET   k   v  \r\n", 1), "GET k"),
		dc("proto/inline-empty-line", rawReq("\r\n\r\nPING\r\n", 1)),
		dc("proto/inline-unbalanced-quotes", rawReq(`SET k "abc`+"\r\n", 1), connClosed()),
		dc("proto/inline-quote-then-char", rawReq(`SET k "a"b`+"\r\n", 1), connClosed()),
		dc("proto/inline-unknown", rawReq("FOO bar\r\n", 1)),
		dc("proto/inline-lowercase", rawReq("echo hi\r\n", 1)),
		dc("proto/pipeline", rawReq("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n", 3)),
		dc("proto/pipeline-errors", rawReq("*1\r\n$3\r\nGET\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 2)),
		dc("proto/multibulk-zero", rawReq("*0\r\n*1\r\n$4\r\nPING\r\n", 1)),
		dc("proto/multibulk-negative", rawReq("*-1\r\n*1\r\n$4\r\nPING\r\n", 1)),
		dc("proto/multibulk-not-number", rawReq("*abc\r\n", 1), connClosed()),
		dc("proto/expected-dollar", rawReq("*1\r\nPING\r\n", 1), connClosed()),
		dc("proto/bulk-not-number", rawReq("*1\r\n$abc\r\n", 1), connClosed()),
		dc("proto/bulk-negative", rawReq("*1\r\n$-1\r\n", 1), connClosed()),
		dc("proto/bulk-too-long-for-redis", rawReq("*1\r\n$536870913\r\n", 1), connClosed()),
		dc("proto/empty-bulk-command", rawReq("*1\r\n$0\r\n\r\n", 1)),
		dc("proto/connection-open-after-command-error", "GET", "FOO", "SET k", connClosed()),
	}
}

// moreEdgeCases covers the remaining corners: TTL rounding, clamping of
// ranges, option combinations and repeated keys.
func moreEdgeCases() []diffCase {
	return []diffCase{
		dc("ttl/rounding", "SET k v", "PEXPIRE k 1700", "TTL k", "PEXPIRE k 1200", "TTL k", "PEXPIRE k 600", "TTL k",
			"PEXPIRE k 400", "TTL k"),
		dc("getrange/both-too-negative", "SET k hello", "GETRANGE k -100 -100", "GETRANGE k -100 -6", "GETRANGE k -6 -100"),
		dc("lrange/both-too-negative", "RPUSH l a b c", "LRANGE l -100 -100", "LRANGE l -100 -4", "LRANGE l -4 -100"),
		dc("ltrim/both-too-negative", "RPUSH l a b c", "LTRIM l -100 -100", "EXISTS l"),
		dc("ltrim/start-negative-clamp", "RPUSH l a b c", "LTRIM l -100 0", "LRANGE l 0 -1"),
		dc("lindex/min", "RPUSH l a", "LINDEX l -9223372036854775808", "LSET l -9223372036854775808 x"),
		dc("lrem/huge-count", "RPUSH l a b a", "LREM l -9223372036854775808 a", "LRANGE l 0 -1"),
		dc("lpos/count-maxlen-rank", "RPUSH l a a a a a", "LPOS l a RANK -2 COUNT 2 MAXLEN 3", "LPOS l a RANK 2 COUNT 0 MAXLEN 2",
			"LPOS l a COUNT 9223372036854775807"),
		dc("lpos/empty-element", `RPUSH l a "" b`, `LPOS l ""`, `LPOS l "" COUNT 0`),
		dc("linsert/empty-pivot", `RPUSH l "" a`, `LINSERT l AFTER "" x`, "LRANGE l 0 -1"),
		dc("lpush/many", argv(append([]string{"RPUSH", "l"}, strings.Split(strings.Repeat("x,y,", 300), ",")...)...),
			"LLEN l", "LINDEX l 599", "LRANGE l 595 -1", "LREM l 100 y", "LLEN l", "LPOS l y"),
		dc("set/get-keepttl", "SET k v EX 100", "SET k w KEEPTTL GET", near(1, "TTL k")),
		dc("set/get-pxat-past", "SET k v", "SET k w PXAT 1 GET", "EXISTS k"),
		dc("set/nx-get-wrongtype", "RPUSH k a", "SET k v NX GET", "SET k v XX GET"),
		dc("set/ex-nx-existing", "SET k v", "SET k w EX 100 NX", "TTL k", "GET k"),
		dc("set/get-twice", "SET k v", "SET k w GET GET"),
		dc("set/keepttl-twice", "SET k v EX 100", "SET k w KEEPTTL KEEPTTL", near(1, "TTL k")),
		dc("set/exat-exat", "SET k v EXAT 4102444800 EXAT 1", "EXISTS k"),
		dc("set/px-then-ex", "SET k v PX 100 EX 100"),
		dc("set/persist-option", "SET k v PERSIST"),
		dc("getex/exat-zero", "SET k v", "GETEX k EXAT 0", "GETEX k PXAT 0", "GETEX k PXAT -1", "TTL k"),
		dc("getex/persist-twice", "SET k v EX 100", "GETEX k PERSIST PERSIST", "TTL k"),
		dc("getex/ex-ex", "SET k v", "GETEX k EX 10 EX 100", near(1, "TTL k")),
		dc("getex/pxat-past", "SET k v", "GETEX k PXAT 1", "EXISTS k"),
		dc("rename/both-ttl", "SET a 1 EX 100", "SET b 2 EX 500", "RENAME a b", near(1, "TTL b")),
		dc("rename/same-name-ttl", "SET a 1 EX 100", "RENAME a a", near(1, "TTL a")),
		dc("rename/empty-names", `SET "" v`, `RENAME "" x`, "GET x", `RENAMENX x ""`, `GET ""`),
		dc("renamenx/list-over-string", "RPUSH l a", "SET s v", "RENAMENX l s", "TYPE s"),
		dc("expire/pexpire-ms-precision", "SET k v", "PEXPIRE k 100999", near(1, "TTL k"), near(1500, "PTTL k")),
		dc("expire/expireat-gt-lt-no-ttl", "SET k v", "EXPIREAT k 4102444800 GT", "EXPIREAT k 4102444800 LT", near(2, "TTL k")),
		dc("expire/options-on-missing", "EXPIRE k 10 NX", "EXPIRE k 10 XX", "EXPIRE k 10 GT", "EXPIRE k 10 LT"),
		dc("expire/bad-option-on-missing", "EXPIRE k 10 FOO", "EXPIRE k x NX", "EXPIRE k 10 NX XX"),
		dc("hello/setname-twice", sameShape("HELLO 2 SETNAME a SETNAME b"), "CLIENT GETNAME"),
		dc("hello/setname-lowercase", sameShape("hello 2 setname x"), "client getname"),
		dc("hello/auth-extra", "HELLO 2 AUTH a"),
		dc("hello/protover-then-garbage", "HELLO 2 SETNAME a b"),
		dc("client/subcommand-case", "client GETNAME", "CLIENT setname n", "Client GetName"),
		dc("config/get-multiple", unordered("CONFIG GET maxmemory appendonly")),
		dc("config/get-case", "CONFIG GET MAXMEMORY", "config get Appendonly"),
		dc("config/arity", "CONFIG"),
		dc("ping/arity-three", "PING a b c"),
		dc("blpop/repeated-key", "RPUSH l a b", "BLPOP l l 0", "LLEN l"),
		dc("blpop/list-then-string", "RPUSH l a", "SET s v", "BLPOP l s 0", "BLPOP l s 0.01"),
		dc("blmove/empty-keeps-dest", "RPUSH d x", "BLMOVE s d LEFT LEFT 0.01", "LRANGE d 0 -1"),
		dc("blmove/timeout-negative-on-missing", "BLMOVE s d LEFT LEFT -1", "BLMOVE s d LEFT LEFT x", "BLMOVE s d UP LEFT x"),
		dc("lmove/missing-source-syntax", "LMOVE s d UP DOWN", "SET s v", "LMOVE s d UP DOWN"),
		dc("exists/empty-key", `EXISTS ""`, `SET "" v`, `EXISTS "" ""`),
		dc("del/many", "MSET a 1 b 2 c 3 d 4", "RPUSH e x", "DEL a b c d e f g", "DBSIZE"),
		dc("mget/many", "MSET a 1 b 2", "RPUSH l x", "MGET a l b c a l"),
		dc("msetnx/with-list-key-later", "RPUSH z x", "MSETNX a 1 z 2", "EXISTS a", "TYPE z"),
		dc("append/creates-with-ttl-none", "APPEND k v", "TTL k"),
		dc("strlen/after-setrange", "SETRANGE k 10 x", "STRLEN k", "GETRANGE k 0 -1"),
		dc("setrange/just-too-large", "SET k v", "SETRANGE k 536870911 xx", "SETRANGE k 536870910 xxx", "GET k"),
		dc("dbsize/after-flush-and-rename", "MSET a 1 b 2", "RENAME a c", "DBSIZE", "FLUSHDB", "DBSIZE"),
		dc("type/after-pop-empties", "RPUSH l a", "RPOP l", "TYPE l"),
		dc("list/lset-then-range", "RPUSH l a b c", "LSET l 0 z", "LSET l 2 y", "LRANGE l 0 -1", "LINDEX l 1"),
		dc("list/queue-interleaved", "LPUSH q 1", "RPUSH q 2", "LPUSH q 0", "RPOP q", "LPOP q", "LRANGE q 0 -1"),
	}
}

// wakeUpCases block clients on connections 1 and 2 and wake them from
// connection 0: who is served, with which element, in which order, and what
// the pushing client and the list see afterwards. A client that must be
// woken blocks for 10 s (the push comes at once, so passing runs do not
// wait): each step runs on redis-server and then on chkv, so one server's
// block lasts while the other's steps run, and with 2 s a -race run at load
// 18 saw redis-server's BLMOVE time out before its push came.
func wakeUpCases() []diffCase {
	return []diffCase{
		dc("wake/rpush", sendOn(1, "BLPOP l 10"), blockedClients(1), "RPUSH l a", recvOn(1), "LLEN l", "EXISTS l"),
		dc("wake/lpush-several", sendOn(1, "BLPOP l 10"), blockedClients(1), "LPUSH l a b c", recvOn(1), "LRANGE l 0 -1"),
		dc("wake/brpop-rpush-several", sendOn(1, "BRPOP l 10"), blockedClients(1), "RPUSH l a b c", recvOn(1), "LRANGE l 0 -1"),
		dc("wake/clients-in-order", sendOn(1, "BLPOP l 10"), blockedClients(1), sendOn(2, "BLPOP l 10"), blockedClients(2),
			"RPUSH l a b c", recvOn(1), recvOn(2), "LRANGE l 0 -1"),
		dc("wake/one-element-two-clients", sendOn(1, "BRPOP l 10"), blockedClients(1), sendOn(2, "BRPOP l 0.2"),
			blockedClients(2), "RPUSH l a", recvOn(1), recvOn(2), "EXISTS l"),
		dc("wake/second-key", sendOn(1, "BLPOP l1 l2 10"), blockedClients(1), "RPUSH l2 x", recvOn(1), "EXISTS l2"),
		dc("wake/repeated-key", sendOn(1, "BLPOP l l 10"), blockedClients(1), "RPUSH l x y", recvOn(1), "LRANGE l 0 -1"),
		dc("wake/blmove", sendOn(1, "BLMOVE s d LEFT RIGHT 10"), blockedClients(1), "RPUSH s a b", recvOn(1),
			"LRANGE s 0 -1", "LRANGE d 0 -1"),
		dc("wake/blmove-same-list", sendOn(1, "BLMOVE l l RIGHT LEFT 10"), blockedClients(1), "RPUSH l a b", recvOn(1),
			"LRANGE l 0 -1"),
		dc("wake/blmove-chain", sendOn(1, "BLMOVE s d LEFT LEFT 10"), blockedClients(1), sendOn(2, "BLPOP d 10"),
			blockedClients(2), "RPUSH s a", recvOn(1), recvOn(2), "EXISTS s d"),
		dc("wake/blmove-wrongtype-dest", "SET d x", sendOn(1, "BLMOVE s d LEFT LEFT 10"), blockedClients(1), "RPUSH s a",
			recvOn(1), "LRANGE s 0 -1"),
		dc("wake/lmove-into-watched", "RPUSH s a", sendOn(1, "BLPOP d 10"), blockedClients(1), "LMOVE s d LEFT LEFT",
			recvOn(1), "EXISTS s d"),
		dc("wake/rpoplpush-into-watched", "RPUSH s a b", sendOn(1, "BRPOP d 10"), blockedClients(1), "RPOPLPUSH s d",
			recvOn(1), "LRANGE s 0 -1"),
		dc("wake/rename-into-watched", "RPUSH tmp a b", sendOn(1, "BLPOP l 10"), blockedClients(1), "RENAME tmp l",
			recvOn(1), "LRANGE l 0 -1"),
		dc("wake/set-does-not-wake", sendOn(1, "BLPOP l 0.2"), blockedClients(1), "SET l v", recvOn(1), "GET l"),
		dc("wake/linsert-missing-does-not-wake", sendOn(1, "BLPOP l 0.1"), blockedClients(1), "LINSERT l BEFORE a b",
			"RPUSHX l a", recvOn(1), "EXISTS l"),
		dc("wake/timeout-then-push", sendOn(1, "BLPOP l 0.05"), recvOn(1), "RPUSH l a", "LLEN l"),
		dc("wake/pusher-sees-length", sendOn(1, "BLPOP l 10"), blockedClients(1), "RPUSH l a", "RPUSH l b", recvOn(1),
			"LRANGE l 0 -1"),
		dc("wake/connection-usable-after", sendOn(1, "BLPOP l 10"), blockedClients(1), "RPUSH l a", recvOn(1),
			on(1, "PING"), on(1, "LLEN l"), blockedClients(0)),
		dc("wake/timeout-reply-then-usable", sendOn(1, "BRPOP l 0.01"), recvOn(1), on(1, "ECHO ok")),
	}
}

// expiredKeyCases let keys expire for real (PX 10, then a pause) and then
// use them with every family: an expired key must behave as absent
// everywhere, whatever type it held.
func expiredKeyCases() []diffCase {
	expired := func(name string, steps ...any) diffCase {
		setup := []any{"SET s v PX 10", "RPUSH l a b", "PEXPIRE l 10", "SET keep k", pause(40 * time.Millisecond)}
		return dc("expired/"+name, append(setup, steps...)...)
	}
	return []diffCase{
		expired("set-nx", "SET s w NX", "GET s", "TTL s"),
		expired("set-keepttl", "SET s w KEEPTTL", "GET s", "TTL s", "SET l w KEEPTTL", "TTL l"),
		expired("set-get", "SET s w GET", "SET l w GET", "GET l"),
		expired("setnx-msetnx", "SETNX s 1", "MSETNX l 1 x 2", "MGET s l x"),
		expired("incr-append", "INCR s", "APPEND l x", "TYPE l", "GET l"),
		expired("getset-getdel-getex", "GETSET s n", "GETDEL l", "GETEX s", "GET s"),
		expired("list-reads", "LLEN l", "LRANGE l 0 -1", "LINDEX l 0", "LPOS l a", "LPOP l", "RPOP l 2"),
		expired("list-writes", "LPUSHX l a", "RPUSHX l a", "LINSERT l BEFORE a x", "LSET l 0 x", "LREM l 0 a",
			"LTRIM l 0 0", "RPUSH l z", "LRANGE l 0 -1", "TTL l"),
		expired("no-wrongtype", "GET l", "STRLEN l", "GETRANGE l 0 -1", "INCR l", "TYPE l", "LPUSH s x", "TYPE s"),
		expired("rename", "RENAME s x", "RENAMENX s x", "RENAME keep s", "TTL s", "GET s"),
		expired("ttl-commands", "TTL s", "PTTL l", "EXPIRE s 100", "PEXPIRE l 100", "PERSIST s", "EXISTS s l keep",
			"TYPE s"),
		expired("lmove", "RPUSH src a", "LMOVE src l LEFT LEFT", "LMOVE l d LEFT LEFT", "RPOPLPUSH s d", "LRANGE l 0 -1"),
		expired("lmove-dest-was-string", "RPUSH src a", "LMOVE src s LEFT LEFT", "TYPE s", "LRANGE s 0 -1"),
		expired("blocking", "BLPOP l 0.01", "BRPOP s l 0.01", "BLMOVE l d LEFT LEFT 0.01", "EXISTS d"),
		expired("setrange", "SETRANGE s 2 x", "GET s", `SETRANGE l 0 ""`, "EXISTS l"),
		expired("incrbyfloat", "INCRBYFLOAT s 1.5", "INCRBYFLOAT l 2"),
		expired("mget-strlen", "MGET s l keep", "STRLEN s"),
		expired("keys-scan-dbsize", unordered("KEYS *"), scanAll("SCAN 0"), "DBSIZE"),
		expired("del-unlink", "DEL s", "UNLINK l", "DEL keep"),
	}
}

// farFutureCases use expiry times beyond the 292 years a time.Duration holds
// but well within Redis's millisecond int64 range.
func farFutureCases() []diffCase {
	return []diffCase{
		dc("far/expire", "SET k v", "EXPIRE k 100000000000", near(2, "TTL k"), near(2000, "PTTL k")),
		dc("far/expire-max-without-overflow", "SET k v", "EXPIRE k 9000000000000000", near(2, "TTL k")),
		dc("far/pexpire", "SET k v", "PEXPIRE k 9000000000000000000", near(2, "TTL k")),
		dc("far/expireat", "SET k v", "EXPIREAT k 99999999999", near(2, "TTL k"), "EXPIREAT k 9223372036854775",
			near(2, "TTL k")),
		dc("far/set-ex", "SET k v EX 100000000000", near(2, "TTL k"), "SET j v PXAT 9223372036854775807", near(2, "TTL j")),
		dc("far/setex", "SETEX k 100000000000 v", near(2, "TTL k"), "PSETEX j 9000000000000000000 v", near(2, "TTL j")),
		dc("far/getex", "SET k v", "GETEX k EX 100000000000", near(2, "TTL k"), "GETEX k PXAT 9223372036854775807",
			near(2, "TTL k")),
		dc("far/gt-lt", "SET k v", "EXPIRE k 100000000000", "EXPIRE k 200000000000 GT", near(2, "TTL k"),
			"EXPIRE k 100 LT", near(1, "TTL k")),
		dc("far/rename-keeps", "SET k v EX 100000000000", "RENAME k j", near(2, "TTL j")),
	}
}

// extraCases: pipelines and inline details, byte-wise globbing, large
// values and a few more wake-ups.
func extraCases() []diffCase {
	big := strings.Repeat("0123456789abcdef", 1<<16)
	return []diffCase{
		dc("proto/pipeline-1000", rawReq(strings.Repeat("PING\r\n", 500)+strings.Repeat("*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", 500), 1000)),
		dc("proto/inline-tabs", rawReq("SET\tk\tv\r\n", 1), "GET k"),
		dc("proto/inline-too-big", rawReq(strings.Repeat("x", 70000), 1), connClosed()),
		dc("proto/inline-quoted-crlf-word", rawReq(`ECHO "a"`+"\r\n", 1), rawReq(`ECHO 'b'`+"\r\n", 1)),
		dc("proto/error-then-more", rawReq("*1\r\n$3\r\nFOO\r\n*1\r\n$4\r\nPING\r\n", 2)),
		dc("proto/split-writes", rawReq("*2\r\n$4\r\nEC", 0), rawReq("HO\r\n$2\r\nh", 0), rawReq("i\r\n", 1)),
		dc("proto/bulk-without-crlf", rawReq("*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n", 2)),
		dc("proto/multibulk-lf-only", rawReq("*1\n$4\r\nPING\r\n", 1), connClosed()),
		dc("proto/integer-instead-of-bulk", rawReq("*2\r\n$3\r\nGET\r\n:1\r\n", 1), connClosed()),
		dc("proto/inline-only-spaces", rawReq("   \r\nPING\r\n", 1)),
		dc("rpoplpush/missing-source-wrongtype-dest", "SET d x", "RPOPLPUSH s d", "GET d"),
		dc("glob/nul-byte", `MSET "a\x00b" 1 "a\x00c" 1 ab 1`, step{args: []string{"KEYS", "a\x00*"}, mode: cmpSorted}),
		dc("glob/class-multibyte", `MSET é 1 "\xc3" 1 "\xa9" 1 e 1`, unordered("KEYS [é]"), unordered("KEYS [^é]"),
			unordered("KEYS é"), unordered("KEYS ?")),
		dc("glob/range-bytes", `MSET "\x7f" 1 "\x80" 1 "\xff" 1 a 1`, step{args: []string{"KEYS", "[\x7f-\xff]"}, mode: cmpSorted}),
		dc("large/value-1mb", argv("SET", "k", big), "STRLEN k", "GETRANGE k -5 -1", "APPEND k x", "STRLEN k",
			"SETRANGE k 1048576 yz", "GETRANGE k 1048570 -1"),
		dc("large/get-1mb", argv("SET", "k", big), "GET k", argv("ECHO", big)),
		dc("large/list-10000", argv(append([]string{"RPUSH", "l"}, strings.Split(strings.Repeat("v,", 9999)+"w", ",")...)...),
			"LLEN l", "LINDEX l -1", "LPOS l w", "LRANGE l 9995 -1", "LTRIM l 5000 -1", "LLEN l"),
		dc("large/mget-1000", argv(append([]string{"MSET"}, strings.Split(strings.Repeat("k,v,", 999)+"k,w", ",")...)...),
			argv(append([]string{"MGET"}, strings.Split(strings.Repeat("k,x,", 499)+"k,x", ",")...)...)),
		dc("wake/flushall-while-blocked", sendOn(1, "BLPOP l 10"), blockedClients(1), "FLUSHALL", "RPUSH l a", recvOn(1)),
		dc("wake/set-del-push", sendOn(1, "BLPOP l 10"), blockedClients(1), "SET l v", "DEL l", "RPUSH l a", recvOn(1)),
		dc("wake/two-keys-two-clients", sendOn(1, "BLPOP a 10"), blockedClients(1), sendOn(2, "BRPOP b 10"), blockedClients(2),
			"RPUSH b 1 2", "RPUSH a 3", recvOn(2), recvOn(1), "LRANGE b 0 -1"),
		dc("wake/lpush-then-brpop-order", sendOn(1, "BRPOP l 10"), blockedClients(1), "LPUSH l a b c", recvOn(1),
			"LRANGE l 0 -1"),
		dc("wake/blocked-client-count", sendOn(1, "BLPOP l 10"), sendOn(2, "BLMOVE s d LEFT LEFT 10"), blockedClients(2),
			"RPUSH s x", recvOn(2), blockedClients(1), "RPUSH l y", recvOn(1), blockedClients(0)),
	}
}
