// Differential cases of the hash commands against redis-server 7.0.

package chkv

import (
	"slices"
	"strconv"
	"strings"
)

// collectionCases returns the differential cases of hashes, sets and sorted sets.
func collectionCases() []diffCase {
	return slices.Concat(hashCases(), hashEdgeCases(), collWrongTypeCases(), setTypeCases(), setWrongTypeCases(),
		zaddCases(), zrangeCases(), zpopCases(), zsetOpCases(), zsetEdgeCases(), zsetWrongTypeCases())
}

// manyArgs returns cmd followed by n generated words made by word(i).
func manyArgs(n int, word func(i int) []string, cmd ...string) step {
	args := slices.Clone(cmd)
	for i := range n {
		args = append(args, word(i)...)
	}
	return argv(args...)
}

func hashCases() []diffCase {
	return []diffCase{
		dc("hset/new-and-update", "HSET h a 1 b 2", "HSET h a 3 c 4", "HGETALL h", "HLEN h"),
		dc("hset/odd-args", "HSET h a 1 b", "HSET h a", "EXISTS h"),
		dc("hset/arity", "HSET h", "HSET"),
		dc("hset/same-field-twice", "HSET h a 1 a 2", "HGETALL h"),
		dc("hset/empty-field-and-value", `HSET h "" ""`, `HGET h ""`, "HGETALL h", `HSTRLEN h ""`),
		dc("hmset/basic", "HMSET h a 1 b 2", "HMGET h a b c", "HMSET h a", "HMSET h"),
		dc("hsetnx/basic", "HSETNX h a 1", "HSETNX h a 2", "HGET h a", "HSETNX h b 3", "HGETALL h"),
		dc("hsetnx/arity", "HSETNX h a", "HSETNX h a b c"),
		dc("hget/missing", "HGET h a", "HSET h a 1", "HGET h b", "HGET h a"),
		dc("hget/arity", "HGET h", "HGET h a b"),
		dc("hmget/missing-key", "HMGET h a b"),
		dc("hmget/mixed", "HSET h a 1 c 3", "HMGET h a b c a"),
		dc("hmget/arity", "HMGET h"),
		dc("hdel/basic", "HSET h a 1 b 2 c 3", "HDEL h a x", "HGETALL h", "HDEL h b c", "EXISTS h", "TYPE h"),
		dc("hdel/missing-key", "HDEL h a"),
		dc("hdel/repeated-field", "HSET h a 1 b 2", "HDEL h a a", "HLEN h"),
		dc("hdel/past-empty", "HSET h a 1", "HDEL h a b a", "EXISTS h"),
		dc("hdel/arity", "HDEL h"),
		dc("hexists/basic", "HSET h a 1", "HEXISTS h a", "HEXISTS h b", "HEXISTS x a", "HEXISTS h"),
		dc("hlen/basic", "HLEN h", "HSET h a 1 b 2", "HLEN h", "HLEN h x"),
		dc("hstrlen/basic", "HSET h a hello b 12345 c -1", "HSTRLEN h a", "HSTRLEN h b", "HSTRLEN h c", "HSTRLEN h x",
			"HSTRLEN x a", "HSTRLEN h"),
		dc("hkeys-hvals/basic", "HSET h z 1 a 2 m 3", "HKEYS h", "HVALS h", "HKEYS x", "HVALS x", "HKEYS h x"),
		dc("hgetall/order-after-delete", "HSET h a 1 b 2 c 3 d 4", "HDEL h b", "HSET h b 5", "HGETALL h"),
		dc("hgetall/missing", "HGETALL h", "HGETALL"),
		dc("hincrby/basic", "HINCRBY h a 5", "HINCRBY h a -7", "HGET h a", "HINCRBY h b 0", "HGETALL h"),
		dc("hincrby/not-integer-arg", "HINCRBY h a x", "HINCRBY h a 1.5", "HINCRBY h a +1", "HINCRBY h a 01", "EXISTS h"),
		dc("hincrby/not-integer-value", "HSET h a x b 1.5 c \" 1\" d 99999999999999999999", "HINCRBY h a 1",
			"HINCRBY h b 1", "HINCRBY h c 1", "HINCRBY h d 1"),
		dc("hincrby/overflow", "HSET h a 9223372036854775807 b -9223372036854775808", "HINCRBY h a 1", "HINCRBY h b -1",
			"HINCRBY h a -9223372036854775808", "HINCRBY h c 9223372036854775807", "HINCRBY h c 1"),
		dc("hincrby/arity", "HINCRBY h a", "HINCRBY h a 1 2"),
		dc("hincrbyfloat/basic", "HINCRBYFLOAT h a 1.5", "HINCRBYFLOAT h a 0.1", "HINCRBYFLOAT h a -1.6",
			"HINCRBYFLOAT h b 3", "HINCRBYFLOAT h c 1e3", "HINCRBYFLOAT h d 5.0e-3", "HGETALL h"),
		dc("hincrbyfloat/precision", "HINCRBYFLOAT h a 10.50", "HINCRBYFLOAT h a 0.1", "HINCRBYFLOAT h b 3.0e3",
			"HINCRBYFLOAT h c 1.23456789012345678901"),
		dc("hincrbyfloat/integer-value", "HSET h a 10", "HINCRBYFLOAT h a 0.5", "HINCRBY h a 1", "HGET h a"),
		dc("hincrbyfloat/bad-arg", "HINCRBYFLOAT h a x", `HINCRBYFLOAT h a ""`, "HINCRBYFLOAT h a nan", "EXISTS h"),
		dc("hincrbyfloat/inf", "HINCRBYFLOAT h a inf", "HINCRBYFLOAT h a -inf", "HSET h b inf", "HINCRBYFLOAT h b 1",
			"HINCRBYFLOAT h a 1e400"),
		dc("hincrbyfloat/not-float-value", "HSET h a abc b \" 1\"", "HINCRBYFLOAT h a 1", "HINCRBYFLOAT h b 1"),
		dc("hincrbyfloat/huge", "HINCRBYFLOAT h a 1e308", "HINCRBYFLOAT h a 1e308", "HGET h a"),
		dc("hincrbyfloat/arity", "HINCRBYFLOAT h a", "HINCRBYFLOAT"),
		dc("hrandfield/missing", "HRANDFIELD h", "HRANDFIELD h 3", "HRANDFIELD h -3", "HRANDFIELD h 3 WITHVALUES"),
		dc("hrandfield/single-field", "HSET h a 1", "HRANDFIELD h", "HRANDFIELD h 1", "HRANDFIELD h -3",
			"HRANDFIELD h -2 WITHVALUES", "HRANDFIELD h 5 WITHVALUES"),
		dc("hrandfield/whole-hash", "HSET h a 1 b 2 c 3", "HRANDFIELD h 3", "HRANDFIELD h 10 WITHVALUES", "HRANDFIELD h 0",
			"HRANDFIELD h 0 WITHVALUES"),
		dc("hrandfield/counts", "HSET h a 1 b 2 c 3 d 4 e 5", sameShape("HRANDFIELD h 2"), sameShape("HRANDFIELD h -7"),
			sameShape("HRANDFIELD h -3 WITHVALUES"), sameShape("HRANDFIELD h 4 WITHVALUES"), sameShape("HRANDFIELD h")),
		dc("hrandfield/errors", "HSET h a 1", "HRANDFIELD h x", "HRANDFIELD h 1 WITHSCORES", "HRANDFIELD h 1 WITHVALUES x",
			"HRANDFIELD h -9223372036854775808", "HRANDFIELD h -9223372036854775807 WITHVALUES",
			"HRANDFIELD h 9223372036854775807 WITHVALUES", "HRANDFIELD h 1.5", "HRANDFIELD"),
		dc("hscan/basic", "HSET h a 1 b 2 c 3", "HSCAN h 0", "HSCAN h 0 COUNT 1", "HSCAN h 0 MATCH a*", "HSCAN h 0 MATCH *"),
		dc("hscan/missing", "HSCAN h 0", "HSCAN h 0 COUNT 0", "HSCAN h x"),
		dc("hscan/errors", "HSET h a 1", "HSCAN h x", "HSCAN h 0 COUNT 0", "HSCAN h 0 COUNT x", "HSCAN h 0 MATCH",
			"HSCAN h 0 TYPE string", "HSCAN h 0 FOO bar", "HSCAN h", "HSCAN h -1", "HSCAN h 18446744073709551615"),
		dc("hscan/novalues-is-7.2", "HSET h a 1", "HSCAN h 0 NOVALUES"),
	}
}

func hashEdgeCases() []diffCase {
	long := strings.Repeat("v", 65)
	field := func(i int) []string { return []string{"f" + strconv.Itoa(i), strconv.Itoa(i)} }
	return []diffCase{
		dc("hash/long-value-converts", "HSET h a 1 b 2", argv("HSET", "h", "c", long), unordered("HGETALL h"), "HLEN h",
			"HGET h c", "HSTRLEN h c"),
		dc("hash/129-fields", manyArgs(129, field, "HSET", "h"), "HLEN h", unordered("HKEYS h"), unordered("HVALS h"),
			"HGET h f128", "HDEL h f0 f1 f2", "HLEN h", "HEXISTS h f0", "HEXISTS h f3"),
		dc("hash/128-fields-order", manyArgs(128, field, "HSET", "h"), "HGETALL h", "HDEL h f5", "HKEYS h"),
		dc("hash/big-random-whole", manyArgs(200, field, "HSET", "h"), unordered("HRANDFIELD h 300"),
			sameShape("HRANDFIELD h 50"), sameShape("HRANDFIELD h -50 WITHVALUES")),
		dc("hash/binary", `HSET h "\x00a" "\r\n" "\xff" ""`, `HGET h "\x00a"`, `HGET h "\xff"`, "HGETALL h",
			`HSCAN h 0 MATCH "\x00*"`),
		dc("hash/ttl-kept", "HSET h a 1", "EXPIRE h 100", "HSET h b 2", "TTL h", "HDEL h a", "TTL h", "HINCRBY h c 1",
			"TTL h"),
		dc("hash/delete-all-drops-ttl", "HSET h a 1", "EXPIRE h 100", "HDEL h a", "TTL h", "HSET h a 1", "TTL h"),
		dc("hash/type-and-scan", "HSET h a 1", "SET s v", "TYPE h", scanAll("SCAN 0 TYPE hash"), scanAll("SCAN 0 TYPE string"),
			unordered("KEYS *")),
		dc("hash/rename", "HSET h a 1", "RENAME h g", "HGETALL g", "EXISTS h"),
		dc("hash/del-and-recreate", "HSET h a 1", "DEL h", "HGET h a", "HSET h b 2", "HGETALL h"),
		dc("hash/set-overwrites", "HSET h a 1", "SET h v", "GET h", "TYPE h"),
		dc("hash/numbers-as-fields", "HSET h 1 a 2 b -1 c", "HGETALL h", "HINCRBY h 1 1"),
	}
}

// collWrongTypeCases run every hash, set and sorted-set command against a
// key of each other type, and the string and list commands against them.
func collWrongTypeCases() []diffCase {
	onOther := []string{
		"HSET k f v", "HMSET k f v", "HSETNX k f v", "HGET k f", "HMGET k f", "HDEL k f", "HEXISTS k f", "HLEN k",
		"HSTRLEN k f", "HKEYS k", "HVALS k", "HGETALL k", "HINCRBY k f 1", "HINCRBYFLOAT k f 1", "HRANDFIELD k",
		"HRANDFIELD k 2", "HSCAN k 0",
	}
	setups := map[string]string{"string": "SET k s", "list": "RPUSH k a"}
	var cases []diffCase
	for _, typ := range []string{"string", "list"} {
		for _, cmd := range onOther {
			name := "wrongtype/" + typ + "/" + strings.ToLower(strings.Join(strings.Fields(cmd)[:1], ""))
			if f := strings.Fields(cmd); len(f) > 2 && f[0] == "HRANDFIELD" {
				name += "-count"
			}
			cases = append(cases, dc(name, setups[typ], cmd, "TYPE k"))
		}
	}
	onHash := []string{"GET k", "APPEND k v", "INCR k", "STRLEN k", "GETRANGE k 0 1", "SETRANGE k 0 v", "LPUSH k v",
		"LLEN k", "LRANGE k 0 -1", "LPOP k", "BLPOP k 0.01", "GETDEL k", "INCRBYFLOAT k 1"}
	for _, cmd := range onHash {
		cases = append(cases, dc("wrongtype/hash/"+strings.ToLower(strings.Fields(cmd)[0]), "HSET k f v", cmd, "HGETALL k"))
	}
	return cases
}
