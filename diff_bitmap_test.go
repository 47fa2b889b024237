// Differential cases of the bitmap commands and LCS against redis-server 7.0.

package chkv

import (
	"slices"
	"strings"
)

// bitmapCases returns the differential cases of SETBIT, GETBIT, BITCOUNT,
// BITPOS, BITOP, BITFIELD, BITFIELD_RO and LCS.
func bitmapCases() []diffCase {
	return slices.Concat(setbitCases(), bitcountCases(), bitposCases(), bitopCases(), bitfieldCases(),
		lcsCases(), bitWrongTypeCases())
}

func setbitCases() []diffCase {
	return []diffCase{
		dc("setbit/new-key", "SETBIT k 7 1", "GET k", "STRLEN k", "GETBIT k 7", "GETBIT k 6"),
		dc("setbit/returns-old", "SETBIT k 0 1", "SETBIT k 0 1", "SETBIT k 0 0", "SETBIT k 0 0", "GET k"),
		dc("setbit/grows-with-zeros", "SET k a", "SETBIT k 100 1", "GET k", "STRLEN k"),
		dc("setbit/clear-grows", "SETBIT k 31 0", "GET k", "STRLEN k", "EXISTS k"),
		dc("setbit/on-integer-string", "SET k 1", "SETBIT k 6 0", "GET k", "SETBIT k 1 1", "GET k"),
		dc("setbit/keeps-ttl", "SET k a EX 100", "SETBIT k 1 0", "TTL k"),
		dc("setbit/bad-offset", "SETBIT k -1 1", "SETBIT k x 1", "SETBIT k 1.5 1", "SETBIT k +1 1", "SETBIT k 01 1",
			"SETBIT k 4294967296 1", "SETBIT k 9223372036854775807 1", "SETBIT k 99999999999999999999 1", "EXISTS k"),
		dc("setbit/bad-value", "SETBIT k 0 2", "SETBIT k 0 -1", "SETBIT k 0 x", `SETBIT k 0 ""`, "SETBIT k 0 01",
			"SETBIT k 0 +1", "EXISTS k"),
		dc("setbit/offset-before-value", "SETBIT k x 2", "SETBIT k -1 x"),
		dc("setbit/arity", "SETBIT k 1", "SETBIT k", "SETBIT k 1 1 1"),
		dc("setbit/hash-offset-not-allowed", "SETBIT k #1 1"),
		dc("setbit/many", "SETBIT k 0 1", "SETBIT k 3 1", "SETBIT k 9 1", "SETBIT k 15 1", "GET k", "BITCOUNT k"),
		dc("getbit/missing", "GETBIT k 0", "GETBIT k 100000"),
		dc("getbit/past-end", "SET k a", "GETBIT k 8", "GETBIT k 1000", "GETBIT k 1", "GETBIT k 2"),
		dc("getbit/bad-offset", "GETBIT k -1", "GETBIT k x", "GETBIT k 4294967296", "SET k a", "GETBIT k -5"),
		dc("getbit/arity", "GETBIT k", "GETBIT k 1 2"),
		dc("getbit/integer-encoded", "SET k 12345", "GETBIT k 2", "GETBIT k 3", "GETBIT k 10", "GETBIT k 39", "GETBIT k 40"),
	}
}

func bitcountCases() []diffCase {
	return []diffCase{
		dc("bitcount/missing", "BITCOUNT k", "BITCOUNT k 0 -1", "BITCOUNT k 0 -1 BIT"),
		dc("bitcount/whole", "SET k foobar", "BITCOUNT k"),
		dc("bitcount/byte-ranges", "SET k foobar", "BITCOUNT k 0 0", "BITCOUNT k 1 1", "BITCOUNT k 1 -2", "BITCOUNT k -2 -1",
			"BITCOUNT k 0 100", "BITCOUNT k 5 2", "BITCOUNT k -100 100", "BITCOUNT k 6 10"),
		dc("bitcount/bit-ranges", "SET k foobar", "BITCOUNT k 5 30 BIT", "BITCOUNT k 0 0 BIT", "BITCOUNT k 1 1 bit",
			"BITCOUNT k 7 8 BIT", "BITCOUNT k -7 -1 BIT", "BITCOUNT k 0 47 BIT", "BITCOUNT k 0 1000 BIT", "BITCOUNT k 3 3 BYTE"),
		dc("bitcount/neg-start-after-end", "SET k foobar", "BITCOUNT k -1 -2", "BITCOUNT k -1 -2 BIT", "BITCOUNT k -1 -2 xyz",
			"BITCOUNT k -1 -2 BIT extra"),
		dc("bitcount/syntax", "SET k foobar", "BITCOUNT k 0", "BITCOUNT k 0 1 bits", "BITCOUNT k 0 1 BIT x"),
		dc("bitcount/not-integer", "SET k foobar", "BITCOUNT k x 1", "BITCOUNT k 0 x", "BITCOUNT k 0 1.0", "BITCOUNT k x 1 BIT"),
		dc("bitcount/missing-key-ignores-args", "BITCOUNT k x y", "BITCOUNT k 0", "BITCOUNT k 0 1 nope"),
		dc("bitcount/binary", `SET k "\xff\x00\xf0\x0f\x01"`, "BITCOUNT k", "BITCOUNT k 2 3", "BITCOUNT k 4 35 BIT"),
		dc("bitcount/long", argv("SET", "k", strings.Repeat("\xaa", 1000)+strings.Repeat("\xff", 37)), "BITCOUNT k",
			"BITCOUNT k 990 1010", "BITCOUNT k 7000 8000 BIT", "BITCOUNT k -300 -1"),
		dc("bitcount/empty-string", `SET k ""`, "BITCOUNT k", "BITCOUNT k 0 -1", "BITCOUNT k 0 -1 BIT"),
		dc("bitcount/arity", "BITCOUNT"),
	}
}

func bitposCases() []diffCase {
	return []diffCase{
		dc("bitpos/missing", "BITPOS k 0", "BITPOS k 1", "BITPOS k 1 0 -1", "BITPOS k 0 5 10 BIT"),
		dc("bitpos/basic", `SET k "\xff\xf0\x00"`, "BITPOS k 0", "BITPOS k 1", `SET k "\x00\xff\xf0"`, "BITPOS k 1 0",
			"BITPOS k 1 2", "BITPOS k 1 2 -1 BYTE", "BITPOS k 1 7 15 BIT", "BITPOS k 1 7 -3 BIT"),
		dc("bitpos/all-ones", `SET k "\xff\xff\xff"`, "BITPOS k 0", "BITPOS k 0 1", "BITPOS k 0 0 -1", "BITPOS k 0 0 2",
			"BITPOS k 0 8 BIT", "BITPOS k 0 8 23 BIT", "BITPOS k 1"),
		dc("bitpos/all-zeros", `SET k "\x00\x00\x00"`, "BITPOS k 1", "BITPOS k 0", "BITPOS k 1 1 2", "BITPOS k 0 3 9 BIT",
			"BITPOS k 1 0 -1 BIT"),
		dc("bitpos/bit-ranges", `SET k "\x00\x0f\xf0\x81"`, "BITPOS k 1 0 -1 BIT", "BITPOS k 1 13 BIT", "BITPOS k 1 9 11 BIT",
			"BITPOS k 0 12 19 BIT", "BITPOS k 0 20 23 BIT", "BITPOS k 1 25 30 BIT", "BITPOS k 1 24 24 BIT",
			"BITPOS k 0 24 24 BIT", "BITPOS k 1 31 31 BIT", "BITPOS k 1 -1 -1 BIT", "BITPOS k 0 1 2 BIT"),
		dc("bitpos/empty-range", `SET k "\xff"`, "BITPOS k 0 2 1", "BITPOS k 1 -1 -2", "BITPOS k 1 5 100", "BITPOS k 0 5 3 BIT"),
		dc("bitpos/bad-bit", "SET k a", "BITPOS k 2", "BITPOS k -1", "BITPOS k x", "BITPOS missing 2", "BITPOS missing x"),
		dc("bitpos/syntax", "SET k a", "BITPOS k 1 0 1 bits", "BITPOS k 1 0 1 BIT x", "BITPOS k 1 x", "BITPOS k 1 0 x",
			"BITPOS k 1 x 1 nope", "BITPOS k 1 0 x nope"),
		dc("bitpos/empty-string", `SET k ""`, "BITPOS k 0", "BITPOS k 1", "BITPOS k 0 0 -1", "BITPOS k 0 0 -1 BIT"),
		dc("bitpos/long", argv("SET", "k", strings.Repeat("\x00", 100)+"\x01"+strings.Repeat("\xff", 50)), "BITPOS k 1",
			"BITPOS k 0 100", "BITPOS k 1 101", "BITPOS k 0 101", "BITPOS k 0 101 -1"),
		dc("bitpos/arity", "BITPOS k", "BITPOS"),
	}
}

func bitopCases() []diffCase {
	return []diffCase{
		dc("bitop/and-or-xor", "SET a foobar", "SET b abcdef", "BITOP AND d a b", "GET d", "BITOP OR d a b", "GET d",
			"BITOP XOR d a b", "GET d"),
		dc("bitop/not", `SET a "\x00\xff\x0f"`, "BITOP NOT d a", "GET d", "BITOP not d d", "GET d"),
		dc("bitop/unequal-lengths", "SET a abc", "SET b x", "BITOP AND d a b", "GET d", "BITOP OR d a b", "GET d",
			"BITOP XOR d b a", "GET d"),
		dc("bitop/missing-sources", "SET a abc", "BITOP AND d a nope", "GET d", "BITOP OR d nope a", "GET d"),
		dc("bitop/all-missing-deletes", "SET d old", "BITOP OR d x y", "EXISTS d", "BITOP NOT d x", "EXISTS d"),
		dc("bitop/empty-strings-delete", `SET a ""`, "SET d v", "BITOP AND d a", "EXISTS d"),
		dc("bitop/dest-other-type", "RPUSH d x", "SET a z", "BITOP OR d a", "TYPE d", "GET d"),
		dc("bitop/dest-ttl-cleared", "SET d v EX 100", "SET a z", "BITOP OR d a", "TTL d"),
		dc("bitop/many-sources", "SET a 1", "SET b 2", "SET c 4", "SET e 8", "BITOP OR d a b c e", "GET d",
			"BITOP AND d a b c e", "GET d", "BITOP XOR d a b c e a", "GET d"),
		dc("bitop/long", argv("SET", "a", strings.Repeat("\xf0", 100)), argv("SET", "b", strings.Repeat("\x3c", 70)),
			"BITOP AND d a b", "GET d", "BITOP XOR d a b", "GET d"),
		dc("bitop/bad-op", "BITOP NAND d a", "BITOP d a b", `BITOP "" d a`),
		dc("bitop/not-arity", "BITOP NOT d a b", "BITOP NOT d"),
		dc("bitop/arity", "BITOP AND d", "BITOP"),
		dc("bitop/case", "SET a x", "BITOP aNd d a", "BITOP Xor d a", "GET d"),
		dc("bitop/wrongtype-source", "SET a x", "RPUSH l y", "BITOP AND d a l", "EXISTS d", "BITOP OR d l a"),
		dc("bitop/wrongtype-before-op-check", "RPUSH l y", "BITOP NOT d l", "BITOP NOT d l x"),
		dc("bitop/self", "SET a abc", "BITOP XOR a a a", "GET a", "STRLEN a"),
	}
}

func bitfieldCases() []diffCase {
	return []diffCase{
		dc("bitfield/get-missing", "BITFIELD k GET u8 0", "BITFIELD k GET i8 0", "EXISTS k"),
		dc("bitfield/set-get", "BITFIELD k SET u8 0 255", "GET k", "BITFIELD k GET u8 0 GET i8 0 GET u4 4 GET i4 0",
			"BITFIELD k SET i8 8 -1", "GET k"),
		dc("bitfield/incrby", "BITFIELD k INCRBY u8 0 10", "BITFIELD k INCRBY u8 0 250", "BITFIELD k INCRBY i8 8 -100",
			"BITFIELD k INCRBY i8 8 -100", "GET k"),
		dc("bitfield/overflow-sat", "BITFIELD k OVERFLOW SAT INCRBY u8 0 300", "BITFIELD k OVERFLOW SAT INCRBY i8 8 200",
			"BITFIELD k OVERFLOW SAT INCRBY i8 8 -500", "BITFIELD k OVERFLOW SAT INCRBY u8 0 -999", "GET k"),
		dc("bitfield/overflow-fail", "BITFIELD k OVERFLOW FAIL INCRBY u2 100 1", "BITFIELD k OVERFLOW FAIL INCRBY u2 100 5",
			"BITFIELD k OVERFLOW FAIL INCRBY u2 100 2", "BITFIELD k OVERFLOW FAIL INCRBY u2 100 1", "GET k", "STRLEN k"),
		dc("bitfield/fail-creates-key", "BITFIELD k OVERFLOW FAIL SET u2 10 100", "EXISTS k", "GET k"),
		dc("bitfield/overflow-wrap", "BITFIELD k INCRBY u4 0 20", "BITFIELD k OVERFLOW WRAP INCRBY i4 0 9",
			"BITFIELD k SET i4 4 100", "BITFIELD k SET u4 8 -1", "GET k"),
		dc("bitfield/overflow-per-op", "BITFIELD k INCRBY u2 0 5 OVERFLOW SAT INCRBY u2 2 5 OVERFLOW FAIL INCRBY u2 4 5 INCRBY u2 6 1",
			"GET k"),
		dc("bitfield/set-overflow", "BITFIELD k OVERFLOW SAT SET u4 0 100 SET i4 4 -100 SET u4 8 -1",
			"BITFIELD k OVERFLOW FAIL SET i3 0 4 SET i3 0 -4 SET u3 0 8", "GET k"),
		dc("bitfield/i64-u63", "BITFIELD k SET i64 0 -9223372036854775808", "BITFIELD k GET i64 0 GET u63 0 GET u63 1",
			"BITFIELD k INCRBY i64 0 -1", "BITFIELD k OVERFLOW SAT INCRBY i64 0 -1", "BITFIELD k OVERFLOW SAT INCRBY i64 0 1",
			"BITFIELD k SET u63 64 9223372036854775807", "BITFIELD k INCRBY u63 64 1", "GET k"),
		dc("bitfield/i64-extremes", "BITFIELD k SET i64 0 9223372036854775807",
			"BITFIELD k OVERFLOW SAT INCRBY i64 0 9223372036854775807", "BITFIELD k OVERFLOW WRAP INCRBY i64 0 1",
			"BITFIELD k OVERFLOW FAIL INCRBY i64 0 -1", "BITFIELD k OVERFLOW SAT INCRBY i64 0 -9223372036854775808",
			"BITFIELD k GET i64 0"),
		dc("bitfield/u63-sat", "BITFIELD k OVERFLOW SAT SET u63 0 -5", "BITFIELD k GET u63 0",
			"BITFIELD k OVERFLOW SAT INCRBY u63 0 -9223372036854775808", "BITFIELD k OVERFLOW WRAP INCRBY u63 0 -1"),
		dc("bitfield/i1-u1", "BITFIELD k SET i1 0 1 SET u1 1 1 GET i1 0 GET u1 1 INCRBY i1 2 1 INCRBY u1 3 3", "GET k"),
		dc("bitfield/hash-offset", "BITFIELD k SET u8 #1 200 SET u8 #0 100 GET u8 #1 GET u16 #0 GET u4 #3", "GET k",
			"BITFIELD k SET i5 #3 -3", "GET k", "BITFIELD k GET u8 #-1", "BITFIELD k GET u8 #x", "BITFIELD k GET u8 #"),
		dc("bitfield/unaligned", "SET k foobar", "BITFIELD k GET u5 3 GET i13 11 GET u17 29 GET i33 7",
			"BITFIELD k SET u7 9 99", "GET k", "BITFIELD k GET i64 5 GET u63 40"),
		dc("bitfield/get-past-end", "SET k ab", "BITFIELD k GET u16 8 GET i64 0 GET u8 100"),
		dc("bitfield/bad-type", "BITFIELD k GET u64 0", "BITFIELD k GET i65 0", "BITFIELD k GET x8 0", "BITFIELD k GET U8 0",
			"BITFIELD k GET u0 0", "BITFIELD k GET i 0", `BITFIELD k GET "" 0`, "BITFIELD k GET u-1 0", "BITFIELD k GET u08 0"),
		dc("bitfield/bad-offset", "BITFIELD k GET u8 -1", "BITFIELD k GET u8 x", "BITFIELD k SET u8 4294967296 1",
			"BITFIELD k GET u8 #536870912", "BITFIELD k SET u8 #-1 1", "EXISTS k"),
		dc("bitfield/bad-value", "BITFIELD k SET u8 0 x", "BITFIELD k INCRBY u8 0 1.5", "BITFIELD k SET u8 0 99999999999999999999",
			"EXISTS k"),
		dc("bitfield/syntax", "BITFIELD k GET u8", "BITFIELD k SET u8 0", "BITFIELD k INCRBY u8 0", "BITFIELD k FOO",
			"BITFIELD k OVERFLOW", "BITFIELD k OVERFLOW NOPE GET u8 0", "BITFIELD k GET u8 0 x"),
		dc("bitfield/error-order", "BITFIELD k GET u8 0 SET x8 0 1", "BITFIELD k OVERFLOW x SET x8 0 1",
			"BITFIELD k SET u8 0 1 GET u8", "EXISTS k"),
		dc("bitfield/no-ops", "BITFIELD k", "EXISTS k", "SET k v", "BITFIELD k", "BITFIELD k OVERFLOW SAT"),
		dc("bitfield/case", "BITFIELD k set u8 0 65 Get u8 0 incrBY u8 0 1 overflow sat", "GET k"),
		dc("bitfield/grows-string", "SET k a", "BITFIELD k SET u8 64 1", "STRLEN k", "GET k", "BITFIELD k SET u4 100 0",
			"STRLEN k"),
		dc("bitfield/keeps-ttl", "SET k a EX 100", "BITFIELD k INCRBY u8 0 1", "TTL k", "GET k"),
		dc("bitfield_ro/get", "SET k foobar", "BITFIELD_RO k GET u8 0 GET i16 8", "BITFIELD_RO missing GET u8 0"),
		dc("bitfield_ro/write-refused", "BITFIELD_RO k SET u8 0 1", "BITFIELD_RO k INCRBY u8 0 1", "EXISTS k",
			"RPUSH l a", "BITFIELD_RO l SET u8 0 1", "BITFIELD_RO l GET u8 0", "BITFIELD_RO k OVERFLOW SAT"),
		dc("bitfield_ro/errors", "BITFIELD_RO k GET u64 0", "BITFIELD_RO k GET u8", "BITFIELD_RO"),
		dc("bitfield/arity", "BITFIELD"),
	}
}

func lcsCases() []diffCase {
	return []diffCase{
		dc("lcs/basic", "MSET a ohmytext b mynewtext", "LCS a b", "LCS a b LEN", "LCS b a", "LCS a a"),
		dc("lcs/idx", "MSET a ohmytext b mynewtext", "LCS a b IDX", "LCS a b IDX MINMATCHLEN 4",
			"LCS a b IDX WITHMATCHLEN", "LCS a b IDX MINMATCHLEN 2 WITHMATCHLEN", "LCS a b WITHMATCHLEN IDX MINMATCHLEN -5"),
		dc("lcs/missing", "SET a abc", "LCS a nope", "LCS nope a LEN", "LCS x y IDX", "LCS x y"),
		dc("lcs/no-common", "MSET a abc b xyz", "LCS a b", "LCS a b LEN", "LCS a b IDX WITHMATCHLEN"),
		dc("lcs/identical", "MSET a hello b hello", "LCS a b IDX WITHMATCHLEN", "LCS a b"),
		dc("lcs/many-ranges", "MSET a abcXdefYghiZjkl b abc1def2ghi3jkl", "LCS a b", "LCS a b IDX",
			"LCS a b IDX MINMATCHLEN 3 WITHMATCHLEN"),
		dc("lcs/prefix-suffix", "MSET a xxabcdyy b abcd", "LCS a b IDX WITHMATCHLEN", "LCS b a IDX WITHMATCHLEN"),
		dc("lcs/repeats", "MSET a aaaaabbbbb b ababababab", "LCS a b", "LCS a b IDX", "LCS b a IDX WITHMATCHLEN"),
		dc("lcs/binary", `MSET a "\x00\xff\r\n\x00" b "\xff\x00\n"`, "LCS a b", "LCS a b IDX"),
		dc("lcs/len-and-idx", "MSET a abc b abc", "LCS a b LEN IDX", "LCS a b IDX LEN"),
		dc("lcs/syntax", "MSET a abc b abc", "LCS a b FOO", "LCS a b MINMATCHLEN", "LCS a b MINMATCHLEN x",
			"LCS a b IDX MINMATCHLEN 1.5", "LCS a b LEN LEN", "LCS a b idx withmatchlen minmatchlen 99999999999999"),
		dc("lcs/wrongtype", "SET a abc", "RPUSH l x", "LCS a l", "LCS l a", "LCS l l LEN", "LCS a l FOO"),
		dc("lcs/arity", "LCS a", "LCS"),
		dc("lcs/longer", argv("SET", "a", strings.Repeat("abcde", 60)), argv("SET", "b", strings.Repeat("aXcYe", 50)),
			"LCS a b LEN", "LCS a b", "LCS a b IDX MINMATCHLEN 2"),
	}
}

// bitWrongTypeCases runs every bitmap command against a list.
func bitWrongTypeCases() []diffCase {
	var cases []diffCase
	for _, cmd := range []string{"SETBIT k 0 1", "GETBIT k 0", "BITCOUNT k", "BITCOUNT k 0 1", "BITPOS k 1",
		"BITPOS k 0 0 1 BIT", "BITFIELD k GET u8 0", "BITFIELD k SET u8 0 1", "BITFIELD_RO k GET u8 0"} {
		cases = append(cases, dc("wrongtype/bit-"+strings.ToLower(strings.ReplaceAll(cmd, " ", "-")), "RPUSH k a", cmd,
			"LRANGE k 0 -1"))
	}
	return cases
}
