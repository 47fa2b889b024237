package chkv

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// refMatch is Redis 7.0's stringmatchlen transcribed as it is written:
// recursive, backtracking through every `*`. It is the oracle for short
// inputs (it takes exponential time on long ones).
func refMatch(p, s []byte, nocase bool) bool {
	lower := func(c int) int {
		if 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	at := func(b []byte, i int) int { // C reads the sds terminator past the end
		if i < len(b) {
			return int(int8(b[i]))
		}
		return 0
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 0 && at(p, 1) == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if refMatch(p[1:], s, nocase) {
					return true
				}
				s = s[1:]
			}
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := at(p, 0) == '^'
			if not {
				p = p[1:]
			}
			match := false
			sc := int(int8(s[0]))
			for {
				if at(p, 0) == '\\' && len(p) >= 2 {
					p = p[1:]
					if at(p, 0) == sc {
						match = true
					}
				} else if at(p, 0) == ']' {
					break
				} else if len(p) == 0 {
					p = []byte{0} // pattern--: the loop below steps past it
					break
				} else if len(p) >= 3 && at(p, 1) == '-' {
					start, end, c := at(p, 0), at(p, 2), sc
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = lower(start), lower(end), lower(c)
					}
					p = p[2:]
					if c >= start && c <= end {
						match = true
					}
				} else if nocase && lower(at(p, 0)) == lower(sc) || !nocase && at(p, 0) == sc {
					match = true
				}
				p = p[1:]
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if nocase && lower(at(p, 0)) != lower(int(int8(s[0]))) || !nocase && at(p, 0) != int(int8(s[0])) {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for at(p, 0) == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}

// globAlphabet holds every byte the matcher treats specially, letters in
// both cases and bytes that are negative as C chars.
const globAlphabet = "ab*?[]^-\\Az\x80\xff"

// TestGlobMatchesRedisRapid compares the matcher with the transcription of
// Redis's on random short patterns and strings over globAlphabet.
func TestGlobMatchesRedisRapid(t *testing.T) {
	gen := rapid.SliceOfN(rapid.SampledFrom([]byte(globAlphabet)), 0, 10)
	rapid.Check(t, func(t *rapid.T) {
		p, s := gen.Draw(t, "pattern"), gen.Draw(t, "str")
		nocase := rapid.Bool().Draw(t, "nocase")
		want := refMatch(p, s, nocase)
		require.Equal(t, want, globMatch(p, s, nocase), "pattern %q str %q nocase %v", p, s, nocase)
		require.Equal(t, want, globMatch(p, string(s), nocase), "as a string")
	})
}

// TestGlobEdgeCases pins answers of Redis 7.0 (checked by TestGlobRedisKeys
// and the transcription) that are easy to get wrong.
func TestGlobEdgeCases(t *testing.T) {
	for _, c := range []struct {
		p, s   string
		nocase bool
		want   bool
	}{
		{"*", "", false, false}, // Redis's loop never starts on an empty string
		{"", "", false, true},
		{"**", "x", false, true},
		{"a*", "a", false, true},
		{"a*b", "a", false, false},
		{"[^a-z]", "A", false, true},
		{"[^a-z]", "A", true, false},
		{"[z-a]", "m", false, true},       // ends in either order
		{"[a-]", "]", false, true},        // a range up to ']'
		{"[abc", "c", false, true},        // an open class ends with the pattern
		{"[abc", "cx", false, false},      // ... and takes nothing after it
		{"[\\]]", "]", false, true},       // an escaped ']' in a class
		{"[\\A]", "a", true, false},       // escapes in a class ignore nocase
		{"\\*", "*", false, true},         // an escaped star
		{"\\*", "x", false, false},        // ... is no wildcard
		{"a\\", "a\\", false, true},       // a trailing backslash is literal
		{"[\x80-a]", "\xff", false, true}, // 0xff is -1 as a C char: between -128 and 'a'
		{"[a-\x80]", "b", false, false},   // -128..'a' after the swap: 'b' is outside
		{"h?llo", "hello", false, true},   //
		{"*[*]*", "a*b", false, true},     // a star inside a class is literal
		{"[^]]", "]", false, false},       // "[^]": an empty negated class then ']'
		{strings.Repeat("*a", 64) + "b", strings.Repeat("a", 10000), false, false},
	} {
		require.Equal(t, c.want, globMatch([]byte(c.p), c.s, c.nocase), "%q ~ %q nocase %v", c.p, clip([]byte(c.s)), c.nocase)
		if len(c.s) < 64 {
			require.Equal(t, c.want, refMatch([]byte(c.p), []byte(c.s), c.nocase), "the transcription: %q ~ %q", c.p, c.s)
		}
	}
}

// longGlobPatterns are patterns with up to 64 `*` that take a
// backtracking matcher exponential time on a long key.
func longGlobPatterns() []string {
	return []string{
		strings.Repeat("*a", 64) + "b",
		strings.Repeat("*a", 32) + "*",
		strings.Repeat("a*", 64),
		strings.Repeat("*?", 64) + "x",
		strings.Repeat("*[ab]", 63) + "*c*",
		strings.Repeat("*", 64),
		"*" + strings.Repeat("a", 300) + "b*",
		strings.Repeat("*ab", 60) + "*",
	}
}

// longGlobKeys are 10,000-byte keys for longGlobPatterns.
func longGlobKeys() []string {
	return []string{strings.Repeat("a", 10000), strings.Repeat("ab", 5000), strings.Repeat("a", 9999) + "b"}
}

// TestGlobLongPatternsFinish matches patterns of up to 64 `*` against
// 10,000-byte keys (a backtracking matcher does not finish) with the
// answers Redis gives (TestGlobRedisKeys compares them with redis-server).
func TestGlobLongPatternsFinish(t *testing.T) {
	want := map[[2]int]bool{}
	for pi, p := range longGlobPatterns() {
		for si, s := range longGlobKeys() {
			want[[2]int{pi, si}] = globMatch([]byte(p), s, false)
		}
	}
	a, ab, aab := 0, 1, 2
	for k, v := range map[[2]int]bool{
		{0, a}: false, {0, ab}: true, {0, aab}: true,
		{1, a}: true, {1, ab}: true,
		{2, a}: true, {2, ab}: true,
		{3, a}: false, {4, a}: false, {4, ab}: false,
		{5, a}: true,
		{6, a}: false, {6, aab}: true,
		{7, a}: false, {7, ab}: true,
	} {
		require.Equal(t, v, want[k], "pattern %d key %d", k[0], k[1])
	}
}

// TestGlobRedisKeys loads the same keys into redis-server and chkv and
// compares KEYS for random patterns, the long patterns against long keys,
// and SCAN MATCH.
func TestGlobRedisKeys(t *testing.T) {
	redisNet, redisAddr := startRedis(t)
	chkvNet, chkvAddr := startChkv(t)
	rc, cc := dialResp(t, redisNet, redisAddr), dialResp(t, chkvNet, chkvAddr)
	rnd := rand.New(rand.NewPCG(17, 36021))
	word := func(n int) string {
		b := make([]byte, rnd.IntN(n+1))
		for i := range b {
			b[i] = globAlphabet[rnd.IntN(len(globAlphabet))]
		}
		return string(b)
	}
	keys := append(longGlobKeys(), "")
	for range 300 {
		keys = append(keys, word(8))
	}
	for _, c := range []*respConn{rc, cc} {
		mustOK(t, c, "FLUSHALL")
		for _, k := range keys {
			mustOK(t, c, "SET", k, "v")
		}
	}
	patterns := longGlobPatterns()
	for range 80 {
		patterns = append(patterns, word(7))
	}
	sorted := func(c *respConn, args ...string) []string {
		rep, err := c.do(args...)
		require.NoError(t, err)
		var out []string
		for _, e := range rep.elems {
			out = append(out, string(e.raw))
		}
		slices.Sort(out)
		return out
	}
	for _, p := range patterns {
		want := sorted(rc, "KEYS", p)
		require.Equal(t, want, sorted(cc, "KEYS", p), "KEYS %q", clip([]byte(p)))
		for _, k := range keys { // the matcher agrees with what Redis returned
			if p == "*" || len(p) > 64 {
				break // KEYS * is "every key" without matching; long ones: TestGlobLongPatternsFinish
			}
			in := slices.Contains(want, "$"+strconv.Itoa(len(k))+"\r\n"+k+"\r\n")
			require.Equal(t, in, globMatch([]byte(p), k, false), "%q ~ %q", clip([]byte(p)), clip([]byte(k)))
		}
	}
	// SCAN MATCH shares the matcher: a whole iteration gives KEYS's answer.
	for _, p := range patterns[:12] {
		var got []string
		cursor := "0"
		for {
			rep, err := cc.do("SCAN", cursor, "MATCH", p, "COUNT", "1000")
			require.NoError(t, err)
			cursor = string(bytes.Split(rep.elems[0].raw, []byte("\r\n"))[1])
			for _, e := range rep.elems[1].elems {
				got = append(got, string(e.raw))
			}
			if cursor == "0" {
				break
			}
		}
		slices.Sort(got)
		require.Equal(t, sorted(rc, "KEYS", p), got, "SCAN MATCH %q", clip([]byte(p)))
	}
}

// TestCloseStopsLongKeys: a KEYS whose pattern takes the matcher
// len(pattern)×len(key) steps (here about 10^11) does not hold up Close,
// on an event loop or a goroutine; the client is told and disconnected.
func TestCloseStopsLongKeys(t *testing.T) {
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		c := dialResp(t, "tcp", d.Addr())
		mustOK(t, c, "SET", strings.Repeat("a", 1<<20), "v")
		require.NoError(t, c.send("KEYS", "*"+strings.Repeat("a", 1<<19)+"b"))
		waitFor(t, func() bool { // the KEYS is running
			for _, o := range d.clients() {
				if o.cmds.Load() == 2 {
					return true
				}
			}
			return false
		})
		start := time.Now()
		require.NoError(t, d.Close())
		t.Logf("Close took %v while KEYS ran", time.Since(start))
		rep, err := c.recv()
		if err == nil {
			require.Equal(t, "-"+msgShuttingDown+"\r\n", string(rep.raw))
		}
	})
}
