// Differential cases of the sorted-set commands against redis-server 7.0.

package chkv

import (
	"strconv"
	"strings"
)

func zaddCases() []diffCase {
	return []diffCase{
		dc("zadd/basic", "ZADD z 1 a 2 b 3 c", "ZADD z 4 a 5 d", "ZRANGE z 0 -1 WITHSCORES", "ZCARD z", "TYPE z"),
		dc("zadd/same-score-lex-order", "ZADD z 0 c 0 a 0 b 0 aa", "ZRANGE z 0 -1"),
		dc("zadd/floats", "ZADD z 1.1 a 0.1 b -2.5e-3 c 1e20 d 3.0 e 1e-5 f 123456789.123 g",
			"ZRANGE z 0 -1 WITHSCORES", "ZSCORE z a", "ZSCORE z g"),
		dc("zadd/inf", "ZADD z inf a -inf b +inf c", "ZRANGE z 0 -1 WITHSCORES", "ZADD z Infinity d -INF e", "ZSCORE z d",
			"ZSCORE z e"),
		dc("zadd/bad-score", "ZADD z x a", "ZADD z nan a", `ZADD z "" a`, "ZADD z 1.5.5 a", `ZADD z " 1" a`, "ZADD z 1e400 a",
			"ZADD z 0x10 a", "EXISTS z"),
		dc("zadd/bad-score-second-pair", "ZADD z 1 a x b", "EXISTS z"),
		dc("zadd/syntax", "ZADD z 1", "ZADD z 1 a 2", "ZADD z NX", "ZADD z NX XX 1 a", "ZADD z FOO 1 a", "ZADD z"),
		dc("zadd/nx", "ZADD z 1 a", "ZADD z NX 2 a 3 b", "ZRANGE z 0 -1 WITHSCORES"),
		dc("zadd/xx", "ZADD z XX 1 a", "EXISTS z", "ZADD z 1 a", "ZADD z XX 2 a 3 b", "ZRANGE z 0 -1 WITHSCORES"),
		dc("zadd/gt-lt", "ZADD z 5 a", "ZADD z GT 3 a", "ZSCORE z a", "ZADD z GT CH 7 a", "ZADD z LT 9 a", "ZADD z LT CH 1 a",
			"ZSCORE z a", "ZADD z GT 2 new", "ZSCORE z new"),
		dc("zadd/ch", "ZADD z 1 a 2 b", "ZADD z CH 1 a 3 b 4 c", "ZADD z ch 1 a"),
		dc("zadd/incompatible", "ZADD z NX XX 1 a", "ZADD z GT LT 1 a", "ZADD z NX GT 1 a", "ZADD z NX LT 1 a",
			"ZADD z XX GT 1 a", "EXISTS z"),
		dc("zadd/incr", "ZADD z INCR 1 a", "ZADD z INCR 2.5 a", "ZADD z INCR 1 a 2 b", "ZADD z NX INCR 1 a",
			"ZADD z XX INCR 1 b", "ZADD z GT INCR -1 a", "ZADD z LT INCR -1 a", "ZSCORE z a"),
		dc("zadd/incr-nan", "ZADD z inf a", "ZADD z INCR -inf a", "ZSCORE z a", "ZINCRBY z -inf a"),
		dc("zadd/options-case-and-order", "ZADD z ch nx 1 a", "ZADD z Xx Ch 2 a", "ZSCORE z a"),
		dc("zadd/negative-zero", "ZADD z -0 a 0 b", "ZRANGE z 0 -1 WITHSCORES", "ZSCORE z a"),
		dc("zadd/arity", "ZADD z 1", "ZADD"),
		dc("zincrby/basic", "ZINCRBY z 1 a", "ZINCRBY z 2.5 a", "ZINCRBY z -10 a", "ZRANGE z 0 -1 WITHSCORES"),
		dc("zincrby/errors", "ZINCRBY z x a", "ZINCRBY z nx a", "ZINCRBY z 1", "ZINCRBY z 1 a b", "EXISTS z"),
		dc("zincrby/precision", "ZINCRBY z 0.1 a", "ZINCRBY z 0.2 a", "ZSCORE z a"),
		dc("zrem/basic", "ZADD z 1 a 2 b 3 c", "ZREM z a x", "ZRANGE z 0 -1", "ZREM z b c", "EXISTS z", "ZREM z a",
			"ZREM z"),
		dc("zcard/basic", "ZCARD z", "ZADD z 1 a", "ZCARD z", "ZCARD z x"),
		dc("zscore/basic", "ZADD z 1.5 a", "ZSCORE z a", "ZSCORE z b", "ZSCORE x a", "ZSCORE z"),
		dc("zmscore/basic", "ZADD z 1 a 2 b", "ZMSCORE z a x b", "ZMSCORE x a b", "ZMSCORE z"),
		dc("zrank/basic", "ZADD z 1 a 2 b 3 c", "ZRANK z a", "ZRANK z c", "ZRANK z x", "ZREVRANK z a", "ZREVRANK z c",
			"ZRANK x a", "ZREVRANK x a", "ZRANK z", "ZRANK z a WITHSCORE"),
	}
}

func zrangeCases() []diffCase {
	setup := "ZADD z 1 a 2 b 3 c 4 d 5 e 5 f 7 g"
	lex := "ZADD l 0 a 0 b 0 c 0 d 0 e 0 f 0 g"
	return []diffCase{
		dc("zrange/rank", setup, "ZRANGE z 0 -1", "ZRANGE z 1 3 WITHSCORES", "ZRANGE z -2 -1", "ZRANGE z 5 2",
			"ZRANGE z 10 20", "ZRANGE z -100 100", "ZRANGE z 0 0 withscores"),
		dc("zrange/rank-rev", setup, "ZRANGE z 0 1 REV", "ZRANGE z 0 -1 REV WITHSCORES", "ZREVRANGE z 0 2",
			"ZREVRANGE z -2 -1 WITHSCORES", "ZREVRANGE z 3 1"),
		dc("zrange/byscore", setup, "ZRANGE z 2 5 BYSCORE", "ZRANGE z (2 (5 BYSCORE", "ZRANGE z -inf +inf BYSCORE WITHSCORES",
			"ZRANGE z 5 2 BYSCORE", "ZRANGE z 5 2 BYSCORE REV", "ZRANGE z (5 -inf BYSCORE REV WITHSCORES"),
		dc("zrange/byscore-limit", setup, "ZRANGE z -inf +inf BYSCORE LIMIT 1 2", "ZRANGE z -inf +inf BYSCORE LIMIT 2 -1",
			"ZRANGE z -inf +inf BYSCORE LIMIT -1 2", "ZRANGE z -inf +inf BYSCORE LIMIT 0 0", "ZRANGE z -inf +inf BYSCORE LIMIT 7 1",
			"ZRANGE z +inf -inf BYSCORE REV LIMIT 1 3 WITHSCORES", "ZRANGE z -inf +inf BYSCORE LIMIT 6 10"),
		dc("zrangebyscore/basic", setup, "ZRANGEBYSCORE z 2 4", "ZRANGEBYSCORE z (1 5 WITHSCORES", "ZRANGEBYSCORE z -inf (3",
			"ZRANGEBYSCORE z 5 5", "ZRANGEBYSCORE z (5 5", "ZRANGEBYSCORE z 1 7 LIMIT 2 2", "ZRANGEBYSCORE z 1 7 WITHSCORES LIMIT 5 10"),
		dc("zrevrangebyscore/basic", setup, "ZREVRANGEBYSCORE z 4 2", "ZREVRANGEBYSCORE z +inf -inf WITHSCORES",
			"ZREVRANGEBYSCORE z (5 (1", "ZREVRANGEBYSCORE z 7 1 LIMIT 1 2", "ZREVRANGEBYSCORE z 2 4"),
		dc("zrangebyscore/odd-bounds", setup, `ZRANGEBYSCORE z "" 3`, `ZRANGEBYSCORE z " 2" 3`, "ZRANGEBYSCORE z ( 3",
			"ZRANGEBYSCORE z 1e400 -1e400", "ZRANGEBYSCORE z -1e400 1e400", `ZRANGEBYSCORE z "2 " 3`, "ZRANGEBYSCORE z 0x2 3",
			"ZRANGEBYSCORE z nan 3", "ZRANGEBYSCORE z a 3", "ZRANGEBYSCORE z [1 3", "ZRANGEBYSCORE z ((1 3"),
		dc("zrange/bylex", lex, "ZRANGE l [b [d BYLEX", "ZRANGE l (b (d BYLEX", "ZRANGE l - + BYLEX", "ZRANGE l + - BYLEX",
			"ZRANGE l + - BYLEX REV", "ZRANGE l [d - BYLEX REV LIMIT 1 2", "ZRANGE l - + BYLEX LIMIT 2 3"),
		dc("zrangebylex/basic", lex, "ZRANGEBYLEX l - [c", "ZRANGEBYLEX l (a [c", "ZRANGEBYLEX l [aa (c", "ZRANGEBYLEX l [c [a",
			"ZRANGEBYLEX l - + LIMIT 1 1", "ZREVRANGEBYLEX l + -", "ZREVRANGEBYLEX l [e (b", "ZREVRANGEBYLEX l + - LIMIT 2 2"),
		dc("zrangebylex/bad-bounds", lex, "ZRANGEBYLEX l a c", "ZRANGEBYLEX l [a c", `ZRANGEBYLEX l "" +`, "ZRANGEBYLEX l -a +",
			"ZRANGEBYLEX l - ++", "ZRANGEBYLEX l [ [", "ZRANGEBYLEX l ( +"),
		dc("zrange/errors", setup, "ZRANGE z 0 -1 LIMIT 0 1", "ZRANGE z 0 -1 BYLEX WITHSCORES", "ZRANGE z a b",
			"ZRANGE z 0 1 FOO", "ZRANGE z 0 1 BYSCORE BYLEX", "ZRANGE z 0 1 REV REV", "ZRANGE z 0 1 LIMIT 1",
			"ZRANGE z 0 1 BYSCORE LIMIT x 1", "ZRANGE z a b BYSCORE", "ZRANGE z a b BYLEX", "ZRANGE z 0", "ZRANGE z 0 1 LIMIT 0 -1"),
		dc("zrange/legacy-errors", setup, "ZREVRANGE z 0 1 REV", "ZREVRANGE z 0 1 BYSCORE", "ZRANGEBYSCORE z 0 1 BYLEX",
			"ZRANGEBYLEX z - + WITHSCORES", "ZREVRANGE z 0 1 LIMIT 0 1", "ZRANGEBYSCORE z 0 1 LIMIT 0"),
		dc("zrange/missing", "ZRANGE z 0 -1", "ZRANGEBYSCORE z 0 1", "ZRANGEBYLEX z - +", "ZREVRANGE z 0 -1 WITHSCORES"),
		dc("zrange/missing-bad-args", "ZRANGE z a b", "ZRANGEBYSCORE z a 1", "ZRANGEBYLEX z a b"),
		dc("zrangestore/basic", setup, "ZRANGESTORE d z 0 2", "ZRANGE d 0 -1 WITHSCORES", "ZRANGESTORE d z 2 5 BYSCORE LIMIT 1 2",
			"ZRANGE d 0 -1 WITHSCORES", "ZRANGESTORE d z +inf 4 BYSCORE REV", "ZRANGE d 0 -1", "TYPE d"),
		dc("zrangestore/empty-deletes", setup, "SET d x", "ZRANGESTORE d z 10 20", "EXISTS d", "ZADD d 1 a",
			"ZRANGESTORE d missing 0 -1", "EXISTS d"),
		dc("zrangestore/errors", setup, "ZRANGESTORE d z 0 -1 WITHSCORES", "ZRANGESTORE d z 0", "SET s x",
			"ZRANGESTORE d s 0 -1", "ZRANGESTORE d z 0 -1 BYLEX"),
		dc("zrangestore/same-key", setup, "ZRANGESTORE z z 0 1", "ZRANGE z 0 -1 WITHSCORES"),
		dc("zcount/basic", setup, "ZCOUNT z 2 5", "ZCOUNT z (2 (5", "ZCOUNT z -inf +inf", "ZCOUNT z 5 2", "ZCOUNT x 0 1",
			"ZCOUNT z a 1", "ZCOUNT x a 1", "ZCOUNT z"),
		dc("zlexcount/basic", lex, "ZLEXCOUNT l - +", "ZLEXCOUNT l [b (e", "ZLEXCOUNT l + -", "ZLEXCOUNT x - +",
			"ZLEXCOUNT l a b", "ZLEXCOUNT x a b"),
		dc("zremrangebyrank/basic", setup, "ZREMRANGEBYRANK z 0 1", "ZRANGE z 0 -1", "ZREMRANGEBYRANK z -2 -1",
			"ZRANGE z 0 -1", "ZREMRANGEBYRANK z 5 10", "ZREMRANGEBYRANK z 0 -1", "EXISTS z", "ZREMRANGEBYRANK z 0 1",
			"ZREMRANGEBYRANK z a 1"),
		dc("zremrangebyscore/basic", setup, "ZREMRANGEBYSCORE z (1 3", "ZRANGE z 0 -1", "ZREMRANGEBYSCORE z -inf +inf",
			"EXISTS z", "ZREMRANGEBYSCORE z a b", "ZREMRANGEBYSCORE x 1 2"),
		dc("zremrangebylex/basic", lex, "ZREMRANGEBYLEX l [b (d", "ZRANGE l 0 -1", "ZREMRANGEBYLEX l - +", "EXISTS l",
			"ZREMRANGEBYLEX l a b", "ZREMRANGEBYLEX x - +"),
		dc("zremrange/ttl-kept", setup, "EXPIRE z 100", "ZREMRANGEBYRANK z 0 0", "TTL z"),
	}
}

func zpopCases() []diffCase {
	setup := "ZADD z 1 a 2 b 3 c"
	return []diffCase{
		dc("zpopmin/basic", setup, "ZPOPMIN z", "ZPOPMIN z 1", "ZRANGE z 0 -1", "ZPOPMIN z 10", "EXISTS z", "ZPOPMIN z"),
		dc("zpopmax/basic", setup, "ZPOPMAX z", "ZPOPMAX z 5", "EXISTS z", "ZPOPMAX z 2"),
		dc("zpop/count-zero", setup, "ZPOPMIN z 0", "ZPOPMAX x 0", "ZCARD z"),
		dc("zpop/errors", setup, "ZPOPMIN z -1", "ZPOPMIN z x", "ZPOPMIN z 1 2", "ZPOPMAX z 1.5", "ZPOPMIN", "ZPOPMIN x -1"),
		dc("zmpop/basic", setup, "ZMPOP 1 z MIN", "ZMPOP 1 z MAX COUNT 5", "EXISTS z", "ZMPOP 2 x z MIN"),
		dc("zmpop/second-key", "ZADD z2 1 x 2 y", "ZMPOP 3 z1 z2 z3 MAX COUNT 1", "ZRANGE z2 0 -1"),
		dc("zmpop/errors", setup, "ZMPOP 0 z MIN", "ZMPOP -1 z MIN", "ZMPOP x z MIN", "ZMPOP 1 z", "ZMPOP 2 z MIN",
			"ZMPOP 1 z FOO", "ZMPOP 1 z MIN COUNT 0", "ZMPOP 1 z MIN COUNT -1", "ZMPOP 1 z MIN COUNT x", "ZMPOP 1 z MIN COUNT",
			"ZMPOP 1 z MIN COUNT 1 COUNT 1", "ZMPOP 1 z MIN FOO", "ZMPOP 5 z MIN", "ZMPOP 9223372036854775807 z MIN", "ZMPOP 1"),
		dc("zmpop/wrongtype", "SET s x", "ZADD z 1 a", "ZMPOP 2 s z MIN", "ZMPOP 2 missing s MIN", "ZMPOP 2 z s MIN"),
		dc("bzpopmin/non-empty", setup, "BZPOPMIN z 0", "BZPOPMAX z 0", "BZPOPMIN x z 1", "ZRANGE z 0 -1"),
		dc("bzpopmin/timeout", "BZPOPMIN z 0.01", "BZPOPMAX a b 0.01"),
		dc("bzpopmin/errors", setup, "BZPOPMIN z -1", "BZPOPMIN z x", "BZPOPMIN z", "SET s x", "BZPOPMIN s 0.01",
			"BZPOPMIN missing s z 0.01"),
		dc("bzmpop/non-empty", setup, "BZMPOP 0 1 z MIN", "BZMPOP 1 2 x z MAX COUNT 2", "EXISTS z"),
		dc("bzmpop/timeout", "BZMPOP 0.01 1 z MIN", "BZMPOP 0.01 2 a b MAX COUNT 3"),
		dc("bzmpop/errors", setup, "BZMPOP -1 1 z MIN", "BZMPOP x 1 z MIN", "BZMPOP 0 0 z MIN", "BZMPOP 0 1 z",
			"BZMPOP 0 1 z MIN COUNT 0", "BZMPOP 0 1 z BAD", "BZMPOP 0 1"),
		dc("wake/bzpopmin-zadd", sendOn(1, "BZPOPMIN z 10"), blockedClients(1), "ZADD z 2 b 1 a", recvOn(1), "ZRANGE z 0 -1"),
		dc("wake/bzpopmax-order", sendOn(1, "BZPOPMAX z 10"), blockedClients(1), sendOn(2, "BZPOPMAX z 10"), blockedClients(2),
			"ZADD z 1 a 2 b 3 c", recvOn(1), recvOn(2), "ZRANGE z 0 -1"),
		dc("wake/bzpopmin-one-member-two-clients", sendOn(1, "BZPOPMIN z 10"), blockedClients(1), sendOn(2, "BZPOPMIN z 0.2"),
			blockedClients(2), "ZADD z 1 a", recvOn(1), recvOn(2), "EXISTS z"),
		dc("wake/bzpopmin-second-key", sendOn(1, "BZPOPMIN z1 z2 10"), blockedClients(1), "ZADD z2 5 x", recvOn(1), "EXISTS z2"),
		dc("wake/bzmpop", sendOn(1, "BZMPOP 10 1 z MAX COUNT 2"), blockedClients(1), "ZADD z 1 a 2 b 3 c", recvOn(1),
			"ZRANGE z 0 -1"),
		dc("wake/bzpopmin-zincrby", sendOn(1, "BZPOPMIN z 10"), blockedClients(1), "ZINCRBY z 3 m", recvOn(1)),
		dc("wake/bzpopmin-zunionstore", "ZADD a 1 x", sendOn(1, "BZPOPMIN z 10"), blockedClients(1), "ZUNIONSTORE z 1 a",
			recvOn(1), "EXISTS z"),
		dc("wake/bzpopmin-rename", "ZADD tmp 1 x", sendOn(1, "BZPOPMIN z 10"), blockedClients(1), "RENAME tmp z", recvOn(1)),
		dc("wake/bzpopmin-not-by-list", sendOn(1, "BZPOPMIN z 0.2"), blockedClients(1), "RPUSH z a", recvOn(1), "LLEN z"),
		dc("wake/blpop-not-by-zadd", sendOn(1, "BLPOP z 0.2"), blockedClients(1), "ZADD z 1 a", recvOn(1), "ZCARD z"),
		dc("wake/mixed-list-and-zset", sendOn(1, "BLPOP k 10"), blockedClients(1), sendOn(2, "BZPOPMIN k 10"),
			blockedClients(2), "ZADD k 1 a", recvOn(2), "DEL k", "RPUSH k x", recvOn(1)),
		dc("wake/bzpopmin-timeout-then-add", sendOn(1, "BZPOPMIN z 0.05"), recvOn(1), "ZADD z 1 a", "ZCARD z"),
	}
}

func zsetOpCases() []diffCase {
	setup := []any{"ZADD a 1 x 2 y 3 z", "ZADD b 4 y 5 z 6 w", "SADD s x w q"}
	with := func(name string, steps ...any) diffCase { return dc(name, append(setup[:3:3], steps...)...) }
	return []diffCase{
		with("zunion/basic", "ZUNION 2 a b", "ZUNION 2 a b WITHSCORES", "ZUNION 1 a", "ZUNION 2 a missing WITHSCORES"),
		with("zunion/weights-aggregate", "ZUNION 2 a b WEIGHTS 2 3 WITHSCORES", "ZUNION 2 a b AGGREGATE MIN WITHSCORES",
			"ZUNION 2 a b AGGREGATE MAX WITHSCORES", "ZUNION 2 a b WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES",
			"ZUNION 2 a b weights 0.5 0 aggregate max withscores"),
		with("zunion/with-set", "ZUNION 2 a s WITHSCORES", "ZUNION 2 s s WITHSCORES", "ZINTER 2 a s WITHSCORES"),
		with("zunion/errors", "ZUNION 0 a", "ZUNION -1 a", "ZUNION x a", "ZUNION 3 a b", "ZUNION 2 a b WEIGHTS 1",
			"ZUNION 2 a b WEIGHTS 1 x", "ZUNION 2 a b AGGREGATE AVG", "ZUNION 2 a b AGGREGATE", "ZUNION 2 a b FOO",
			"ZUNION 2 a b WITHSCORES WITHSCORES", "ZUNION 1 a LIMIT 1"),
		with("zunion/wrongtype", "SET str v", "ZUNION 2 a str", "ZUNION 2 missing str", "ZUNION 2 str a FOO"),
		with("zunionstore/basic", "ZUNIONSTORE d 2 a b", "ZRANGE d 0 -1 WITHSCORES", "ZUNIONSTORE d 2 m1 m2", "EXISTS d",
			"ZUNIONSTORE a 2 a b WEIGHTS 1 2", "ZRANGE a 0 -1 WITHSCORES", "ZUNIONSTORE d 1 a WITHSCORES"),
		with("zunionstore/errors", "ZUNIONSTORE d 0 a", "ZUNIONSTORE d x a", "ZUNIONSTORE d 5 a", "ZUNIONSTORE d"),
		with("zinter/basic", "ZINTER 2 a b", "ZINTER 2 a b WITHSCORES", "ZINTER 2 a b AGGREGATE MAX WITHSCORES",
			"ZINTER 2 a b WEIGHTS 2 0.5 WITHSCORES", "ZINTER 2 a missing", "ZINTER 2 a a WITHSCORES", "ZINTER 3 a b s"),
		with("zinterstore/basic", "ZINTERSTORE d 2 a b", "ZRANGE d 0 -1 WITHSCORES", "SET d2 x", "ZINTERSTORE d2 2 a missing",
			"EXISTS d2", "ZINTERSTORE d 2 a b AGGREGATE MIN", "ZRANGE d 0 -1 WITHSCORES"),
		with("zintercard/basic", "ZINTERCARD 2 a b", "ZINTERCARD 1 a", "ZINTERCARD 2 a b LIMIT 1", "ZINTERCARD 2 a b LIMIT 0",
			"ZINTERCARD 2 a s", "ZINTERCARD 2 a missing"),
		with("zintercard/errors", "ZINTERCARD 0 a", "ZINTERCARD x a", "ZINTERCARD 3 a b", "ZINTERCARD 1 a LIMIT -1",
			"ZINTERCARD 1 a LIMIT x", "ZINTERCARD 1 a WITHSCORES", "ZINTERCARD 1 a WEIGHTS 1", "ZINTERCARD 1 a LIMIT"),
		with("zdiff/basic", "ZDIFF 2 a b", "ZDIFF 2 a b WITHSCORES", "ZDIFF 1 a WITHSCORES", "ZDIFF 2 a a", "ZDIFF 2 missing a",
			"ZDIFF 2 a s WITHSCORES", "ZDIFF 3 a b s"),
		with("zdiff/errors", "ZDIFF 0 a", "ZDIFF 2 a b WEIGHTS 1 1", "ZDIFF 2 a b AGGREGATE SUM", "ZDIFF 3 a b"),
		with("zdiffstore/basic", "ZDIFFSTORE d 2 a b", "ZRANGE d 0 -1 WITHSCORES", "ZDIFFSTORE d 2 a a", "EXISTS d",
			"ZDIFFSTORE d 2 a b WITHSCORES"),
		dc("zunion/inf-sum-is-zero", "ZADD a inf x", "ZADD b -inf x", "ZUNION 2 a b WITHSCORES", "ZINTER 2 a b WITHSCORES",
			"ZUNION 2 a b WEIGHTS 0 1 WITHSCORES"),
		dc("zrandmember/basic", "ZADD z 1 a", "ZRANDMEMBER z", "ZRANDMEMBER z 1 WITHSCORES", "ZRANDMEMBER z -3 WITHSCORES",
			"ZRANDMEMBER z 5"),
		dc("zrandmember/whole", "ZADD z 1 a 2 b 3 c", "ZRANDMEMBER z 3 WITHSCORES", "ZRANDMEMBER z 10",
			sameShape("ZRANDMEMBER z 2"), sameShape("ZRANDMEMBER z -5 WITHSCORES"), sameShape("ZRANDMEMBER z")),
		dc("zrandmember/missing-and-errors", "ZRANDMEMBER z", "ZRANDMEMBER z 3", "ZADD z 1 a", "ZRANDMEMBER z x",
			"ZRANDMEMBER z 1 WITHVALUES", "ZRANDMEMBER z 1 WITHSCORES x", "ZRANDMEMBER z -9223372036854775807 WITHSCORES",
			"ZRANDMEMBER z -9223372036854775808"),
		dc("zscan/basic", "ZADD z 1 a 2.5 b 3 c", "ZSCAN z 0", "ZSCAN z 0 MATCH b*", "ZSCAN z 0 COUNT 1", "ZSCAN x 0",
			"ZSCAN z x", "ZSCAN z 0 COUNT 0"),
	}
}

func zsetEdgeCases() []diffCase {
	member := func(i int) []string { return []string{strconv.Itoa(i % 17), "m" + strconv.Itoa(i)} }
	return []diffCase{
		dc("zset/200-members", manyArgs(200, member, "ZADD", "z"), "ZCARD z", "ZRANGE z 0 9 WITHSCORES", "ZRANGE z -5 -1",
			"ZRANK z m100", "ZREVRANK z m100", "ZCOUNT z 3 (5", "ZRANGEBYSCORE z 16 16", "ZREMRANGEBYSCORE z 0 10",
			"ZRANGE z 0 -1 WITHSCORES"),
		dc("zset/long-member", argv("ZADD", "z", "1", strings.Repeat("m", 100), "2", "b"), "ZRANGE z 0 -1", "ZCARD z"),
		dc("zset/binary", `ZADD z 1 "\x00" 1 "" 1 "\xff"`, "ZRANGE z 0 -1", `ZRANGEBYLEX z "[" "(\xff"`, `ZSCORE z ""`),
		dc("zset/type-scan-rename", "ZADD z 1 a", "TYPE z", scanAll("SCAN 0 TYPE zset"), "RENAME z y", "ZRANGE y 0 -1 WITHSCORES"),
		dc("zset/ttl-kept", "ZADD z 1 a", "EXPIRE z 100", "ZADD z 2 b", "ZINCRBY z 1 a", "ZREM z b", "TTL z"),
		dc("zset/score-formatting", "ZADD z 0.1 a 1e-7 b 1e21 c 123456789012345678 d 2.5 e -0.000001 f 1.7976931348623157e308 g",
			"ZRANGE z 0 -1 WITHSCORES", "ZSCORE z d", "ZINCRBY z 0.2 a"),
		dc("zset/update-moves", "ZADD z 1 a 2 b 3 c", "ZADD z 10 a", "ZRANGE z 0 -1", "ZADD z 0 c", "ZRANGE z 0 -1 WITHSCORES"),
	}
}

// zsetWrongTypeCases run the sorted-set commands against a string, a list,
// a hash and a set, and other families' commands against a sorted set.
func zsetWrongTypeCases() []diffCase {
	onOther := []string{"ZADD k 1 m", "ZINCRBY k 1 m", "ZREM k m", "ZCARD k", "ZCOUNT k 0 1", "ZLEXCOUNT k - +",
		"ZSCORE k m", "ZMSCORE k m", "ZRANK k m", "ZREVRANK k m", "ZRANGE k 0 -1", "ZRANGESTORE d k 0 -1", "ZREVRANGE k 0 -1",
		"ZRANGEBYSCORE k 0 1", "ZREVRANGEBYSCORE k 1 0", "ZRANGEBYLEX k - +", "ZREVRANGEBYLEX k + -",
		"ZREMRANGEBYRANK k 0 1", "ZREMRANGEBYSCORE k 0 1", "ZREMRANGEBYLEX k - +", "ZPOPMIN k", "ZPOPMAX k",
		"BZPOPMIN k 0.01", "BZPOPMAX k 0.01", "ZMPOP 1 k MIN", "BZMPOP 0.01 1 k MIN", "ZRANDMEMBER k", "ZSCAN k 0"}
	setups := map[string]string{"string": "SET k s", "list": "RPUSH k a", "hash": "HSET k f v", "set": "SADD k m"}
	var cases []diffCase
	for _, typ := range []string{"string", "list", "hash", "set"} {
		for _, cmd := range onOther {
			cases = append(cases, dc("wrongtype/"+typ+"/"+strings.ToLower(strings.Fields(cmd)[0]), setups[typ], cmd,
				"TYPE k", "EXISTS d"))
		}
	}
	for _, cmd := range []string{"ZUNION 1 k", "ZINTER 1 k", "ZDIFF 1 k", "ZINTERCARD 1 k", "ZUNIONSTORE d 1 k"} {
		for _, typ := range []string{"string", "list", "hash"} {
			cases = append(cases, dc("wrongtype/"+typ+"/"+strings.ToLower(strings.Fields(cmd)[0]), setups[typ], cmd))
		}
	}
	for _, cmd := range []string{"GET k", "LPUSH k v", "HGET k f", "SADD k m", "SMEMBERS k", "SINTER k", "INCR k"} {
		cases = append(cases, dc("wrongtype/zset/"+strings.ToLower(strings.Fields(cmd)[0]), "ZADD k 1 m", cmd,
			"ZRANGE k 0 -1"))
	}
	return cases
}
