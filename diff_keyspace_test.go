// Differential cases of COPY, RANDOMKEY, TOUCH, EXPIRETIME, PEXPIRETIME, OBJECT, DUMP, RESTORE and the memory settings against redis-server 7.0.

package chkv

import (
	"slices"
	"strings"
)

// Intentional differences, left out of the cases (see dump_test.go and memory_test.go):
//   - DUMP payloads are chkv's own format; RESTORE refuses Redis's payloads and Redis chkv's.
//   - COPY ... DB n with n other than 0 that Redis accepts (1..15): chkv has database 0 only.
//   - -OOM: Redis's used_memory counts its own overhead (about 1 MB empty), chkv's only the data.

// keyspaceCases returns the differential cases of the commands above.
func keyspaceCases() []diffCase {
	return slices.Concat(copyCases(), randomTouchCases(), expireTimeCases(), objectCases(), dumpRestoreCases(),
		memoryConfigCases())
}

func copyCases() []diffCase {
	return []diffCase{
		dc("copy/string", "SET a hello", "COPY a b", "GET b", "GET a", "SET b x", "GET a"),
		dc("copy/keeps-ttl", "SET a v EX 100", "COPY a b", near(1, "TTL b"), "COPY a c", near(1, "TTL c")),
		dc("copy/no-ttl-after-copy-of-persisted", "SET a v", "COPY a b", "TTL b"),
		dc("copy/list", "RPUSH a x y z", "COPY a b", "LRANGE b 0 -1", "RPUSH b w", "LRANGE a 0 -1", "LRANGE b 0 -1"),
		dc("copy/hash", "HSET a f 1 g 2", "COPY a b", "HGETALL b", "HSET b f 9", "HGET a f", "TYPE b"),
		dc("copy/set", "SADD a 1 2 3", "COPY a b", "SMEMBERS b", "SADD b x", "SCARD a", "OBJECT ENCODING b"),
		dc("copy/zset", "ZADD a 1 x 2.5 y -inf z", "COPY a b", "ZRANGE b 0 -1 WITHSCORES", "ZADD b 9 x", "ZSCORE a x",
			"OBJECT ENCODING b"),
		dc("copy/dest-exists", "SET a 1", "SET b 2", "COPY a b", "GET b", "COPY a b REPLACE", "GET b"),
		dc("copy/replace-other-type", "SET a 1", "RPUSH b x", "COPY a b", "TYPE b", "COPY a b replace", "TYPE b", "GET b"),
		dc("copy/replace-drops-ttl", "SET a 1", "SET b 2 EX 100", "COPY a b REPLACE", "TTL b"),
		dc("copy/missing-source", "COPY a b", "EXISTS b", "SET b x", "COPY a b REPLACE", "GET b"),
		dc("copy/same-key", "SET a 1", "COPY a a", "COPY a a REPLACE", "COPY nope nope"),
		dc("copy/db-0", "SET a 1", "COPY a b DB 0", "GET b", "COPY a c db 0 REPLACE", "GET c"),
		dc("copy/db-errors", "SET a 1", "COPY a b DB 16", "COPY a b DB -1", "COPY a b DB x", "COPY a b DB 99999999999",
			"COPY a b DB", "EXISTS b"),
		dc("copy/syntax", "SET a 1", "COPY a b FOO", "COPY a b REPLACE FOO", "COPY a b REPLACE REPLACE", "GET b"),
		dc("copy/arity", "COPY a", "COPY"),
		dc("copy/empty-and-binary", `SET "" "\x00\r\n"`, `COPY "" "\xff"`, `GET "\xff"`),
	}
}

func randomTouchCases() []diffCase {
	return []diffCase{
		dc("randomkey/empty", "RANDOMKEY"),
		dc("randomkey/one", "SET k v", "RANDOMKEY", "DEL k", "RANDOMKEY"),
		dc("randomkey/one-list", "RPUSH l a", "RANDOMKEY"),
		dc("randomkey/arity", "RANDOMKEY x"),
		dc("touch/basic", "SET a 1", "RPUSH b x", "TOUCH a b c", "TOUCH c", "TOUCH a a a"),
		dc("touch/arity", "TOUCH"),
	}
}

func expireTimeCases() []diffCase {
	return []diffCase{
		dc("expiretime/missing-and-none", "EXPIRETIME k", "PEXPIRETIME k", "SET k v", "EXPIRETIME k", "PEXPIRETIME k"),
		dc("expiretime/absolute", "SET k v PXAT 33177117420000", "EXPIRETIME k", "PEXPIRETIME k"),
		dc("expiretime/rounding", "SET a v PXAT 33177117420499", "SET b v PXAT 33177117420500", "EXPIRETIME a",
			"EXPIRETIME b", "PEXPIRETIME a", "PEXPIRETIME b"),
		dc("expiretime/after-persist", "SET k v EXAT 33177117420", "EXPIRETIME k", "PERSIST k", "EXPIRETIME k"),
		dc("expiretime/list", "RPUSH l a", "EXPIREAT l 33177117420", "EXPIRETIME l", "PEXPIRETIME l"),
		dc("expiretime/arity", "EXPIRETIME", "EXPIRETIME a b", "PEXPIRETIME"),
	}
}

func objectCases() []diffCase {
	return []diffCase{
		dc("object/encoding-strings", "SET a 12345", "SET b -1", "SET c hello", argv("SET", "d", strings.Repeat("x", 44)),
			argv("SET", "e", strings.Repeat("x", 45)), "SET f 01", "SET g 12345678901234567890", "SET h 9223372036854775807",
			"OBJECT ENCODING a", "OBJECT ENCODING b", "OBJECT ENCODING c", "OBJECT ENCODING d", "OBJECT ENCODING e",
			"OBJECT ENCODING f", "OBJECT ENCODING g", "OBJECT ENCODING h"),
		dc("object/encoding-counter", "INCR n", "OBJECT ENCODING n", "INCRBY n 99999999999", "OBJECT ENCODING n"),
		dc("object/encoding-list", "RPUSH l a b", "OBJECT ENCODING l"),
		dc("object/encoding-hash", "HSET h a 1", "OBJECT ENCODING h", argv("HSET", "g", "a", strings.Repeat("v", 65)),
			"OBJECT ENCODING g"),
		dc("object/encoding-set", "SADD s 1 2 3", "OBJECT encoding s", "SADD t a", "OBJECT ENCODING t"),
		dc("object/encoding-zset", "ZADD z 1 a", "OBJECT ENCODING z", argv("ZADD", "y", "1", strings.Repeat("m", 65)),
			"OBJECT ENCODING y", manyArgs(129, func(i int) []string {
				return []string{"1", "m" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)}
			}, "ZADD", "w"),
			"ZCARD w", "OBJECT ENCODING w"),
		dc("object/encoding-big-hash-set", manyArgs(129, func(i int) []string { return []string{"f" + strings.Repeat("x", i), "v"} }, "HSET", "h"),
			"OBJECT ENCODING h", manyArgs(513, func(i int) []string { return []string{strings.Repeat("1", 1+i%9) + strings.Repeat("0", i/9)} }, "SADD", "s"),
			"SCARD s", "OBJECT ENCODING s"),
		dc("object/missing-key", "OBJECT ENCODING k", "OBJECT REFCOUNT k", "OBJECT IDLETIME k", "OBJECT FREQ k"),
		dc("object/refcount", "SET a 100", "SET b 10000", "SET c hello", "SET d 0", "SET e -1", "RPUSH l x",
			"OBJECT REFCOUNT a", "OBJECT REFCOUNT b", "OBJECT REFCOUNT c", "OBJECT REFCOUNT d", "OBJECT REFCOUNT e",
			"OBJECT REFCOUNT l"),
		dc("object/idletime", "SET k v", "OBJECT IDLETIME k", "GET k", "OBJECT idletime k"),
		dc("object/freq-not-lfu", "SET k v", "OBJECT FREQ k"),
		dc("object/help", "OBJECT HELP", "OBJECT help"),
		dc("object/unknown-subcommand", "OBJECT FOO k", "OBJECT foo", `OBJECT ""`),
		dc("object/arity", "OBJECT", "OBJECT ENCODING", "OBJECT ENCODING a b", "OBJECT HELP x", "OBJECT FREQ",
			"OBJECT REFCOUNT a b"),
		dc("object/lfu-policy", "CONFIG SET maxmemory-policy allkeys-lfu", "SET k v", "OBJECT FREQ k",
			"OBJECT IDLETIME k", "OBJECT IDLETIME nope", "SET a 100", "OBJECT REFCOUNT a",
			"CONFIG SET maxmemory-policy noeviction", "OBJECT FREQ k"),
	}
}

func dumpRestoreCases() []diffCase {
	return []diffCase{
		dc("dump/missing", "DUMP k"),
		dc("dump/arity", "DUMP", "DUMP a b"),
		dc("dump/types", "SET k v", sameType("DUMP k"), "RPUSH l a", sameType("DUMP l"), "HSET h f v", sameType("DUMP h"),
			"SADD s m", sameType("DUMP s"), "ZADD z 1 m", sameType("DUMP z")),
		dc("restore/bad-payload", "RESTORE k 0 bogus", `RESTORE k 0 ""`, `RESTORE k 0 "\x00\x05hello"`,
			`RESTORE k 0 "0123456789012345"`, "EXISTS k"),
		dc("restore/busykey-first", "SET k v", "RESTORE k 0 bogus", "RESTORE k x bogus", "RESTORE k -1 bogus",
			"RESTORE k 0 bogus REPLACE", "GET k"),
		dc("restore/bad-ttl", "RESTORE k x bogus", "RESTORE k -1 bogus", "RESTORE k 1.5 bogus", "RESTORE k 0 bogus"),
		dc("restore/options", "RESTORE k 0 bogus IDLETIME -1", "RESTORE k 0 bogus IDLETIME x", "RESTORE k 0 bogus FREQ 256",
			"RESTORE k 0 bogus FREQ -1", "RESTORE k 0 bogus FREQ x", "RESTORE k 0 bogus IDLETIME 1 FREQ 1",
			"RESTORE k 0 bogus FREQ 1 IDLETIME 1", "RESTORE k 0 bogus FOO", "RESTORE k 0 bogus IDLETIME",
			"RESTORE k 0 bogus ABSTTL REPLACE IDLETIME 5", "RESTORE k 0 bogus FREQ 255"),
		dc("restore/options-before-busykey", "SET k v", "RESTORE k 0 bogus FOO", "RESTORE k 0 bogus FREQ 999",
			"RESTORE k x bogus IDLETIME -1"),
		dc("restore/arity", "RESTORE k 0", "RESTORE"),
	}
}

func memoryConfigCases() []diffCase {
	return []diffCase{
		dc("config/maxmemory-errors", "CONFIG SET maxmemory foo", "CONFIG SET maxmemory -1", "CONFIG SET maxmemory 1.5mb",
			`CONFIG SET maxmemory ""`, "CONFIG GET maxmemory"),
		dc("config/maxmemory-policy-errors", "CONFIG SET maxmemory-policy foo", "CONFIG SET maxmemory-policy lru",
			"CONFIG GET maxmemory-policy"),
		dc("config/maxmemory-samples-errors", "CONFIG SET maxmemory-samples 0", "CONFIG SET maxmemory-samples x",
			"CONFIG SET maxmemory-samples -5", "CONFIG GET maxmemory-samples"),
		dc("config/maxmemory-set-get", "CONFIG SET maxmemory 64mb", "CONFIG GET maxmemory", "CONFIG SET maxmemory 1gb",
			"CONFIG GET maxmemory", "CONFIG SET maxmemory 1k", "CONFIG GET maxmemory", "CONFIG SET maxmemory 0",
			"CONFIG GET maxmemory"),
		dc("config/policy-set-get", "CONFIG SET maxmemory-policy VOLATILE-TTL", "CONFIG GET maxmemory-policy",
			"CONFIG SET maxmemory-policy allkeys-random", "CONFIG GET maxmemory-policy",
			"CONFIG SET maxmemory-policy noeviction", "CONFIG GET maxmemory-policy"),
		dc("config/set-atomic", "CONFIG SET maxmemory 5mb maxmemory-policy nope", "CONFIG GET maxmemory",
			"CONFIG SET maxmemory 5mb maxmemory-policy allkeys-lru", "CONFIG GET maxmemory", "CONFIG GET maxmemory-policy",
			"CONFIG SET maxmemory 0 maxmemory-policy noeviction", "CONFIG GET maxmemory"),
		dc("config/set-arity", "CONFIG SET maxmemory", "CONFIG SET", "CONFIG SET maxmemory 1 maxmemory-policy"),
		dc("config/set-unknown", "CONFIG SET nope 1"),
	}
}
