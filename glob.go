// Glob pattern matching as Redis's stringmatchlen answers it (KEYS, SCAN MATCH, CONFIG GET), in O(len(pattern)×len(str)) time.

package chkv

// globStopEvery is how many steps the matcher takes between two looks at
// its stop channel.
const globStopEvery = 1 << 16

// globMatch reports whether str matches pattern as Redis 7.0's
// stringmatchlen does: `*` any run of bytes, `?` one byte, `[abc]` `[^a]`
// `[a-z]` classes, `\` escapes, ASCII case folded when nocase.
//
// Redis matches recursively and backtracks through every `*` (a pattern
// of many `*` against a long key ran for hours: CVE-2022-36021). Here the
// pattern is read in place, one element at a time, and a mismatch only
// goes back to the last `*` met, taking one more byte into it: each `*`
// covers what the elements before it could not, so the leftmost match of
// every run between two `*` is as good as any later one, and the work is
// at most len(pattern) steps per byte of str, without recursion or
// allocation. The answers are Redis's, quirks included (glob_test.go checks
// them against a transcription of stringmatchlen and against redis-server):
//   - a pattern never matches the empty string, unless the pattern is
//     empty too (Redis's loop stops at once; KEYS and SCAN take a lone `*`
//     as "everything" before matching);
//   - in a class, `\x` is x compared without case folding, a range's ends
//     may come in either order and compare as signed chars (bytes from
//     0x80 sort below 0), `a-]` is a range up to `]`, and a class left
//     open at the end of the pattern ends there;
//   - a `\` at the very end of the pattern is a literal backslash.
func globMatch[S ~string | ~[]byte](pattern []byte, str S, nocase bool) bool {
	m, _ := globMatchStop(pattern, str, nocase, nil)
	return m
}

// globMatchStop is globMatch that gives up, reporting stopped, once stop
// is closed (the node shutting down): a long pattern against a long key
// still takes len(pattern)×len(str) steps.
func globMatchStop[S ~string | ~[]byte](p []byte, s S, nocase bool, stop <-chan struct{}) (match, stopped bool) {
	if len(s) == 0 {
		return len(p) == 0, false
	}
	pi, si := 0, 0
	starP, starS := -1, 0 // after the last `*` met, and where in s its match ends
	steps := 0
	for si < len(s) {
		if steps++; steps == globStopEvery {
			steps = 0
			if stop != nil {
				select {
				case <-stop:
					return false, true
				default:
				}
			}
		}
		if pi < len(p) && p[pi] == '*' {
			for pi < len(p) && p[pi] == '*' {
				pi++
			}
			if pi == len(p) {
				return true, false
			}
			starP, starS = pi, si
			continue
		}
		if pi < len(p) {
			if next, ok := globElem(p, pi, s[si], nocase); ok {
				pi, si = next, si+1
				continue
			}
		}
		if starP < 0 {
			return false, false
		}
		starS++ // the last `*` takes one more byte
		pi, si = starP, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p), false
}

// globElem matches byte c against the pattern element (not `*`) that
// starts at p[i]; it returns where the next element starts and whether c
// matched.
func globElem(p []byte, i int, c byte, nocase bool) (next int, ok bool) {
	switch p[i] {
	case '?':
		return i + 1, true
	case '[':
		return globClass(p, i+1, c, nocase)
	case '\\':
		if len(p)-i >= 2 {
			i++
		}
	}
	return i + 1, foldByte(p[i], nocase) == foldByte(c, nocase)
}

// globClass matches c against the class whose body starts at p[j] (after
// the `[`), and returns where the element after the class starts.
func globClass(p []byte, j int, c byte, nocase bool) (next int, ok bool) {
	not := j < len(p) && p[j] == '^'
	if not {
		j++
	}
	match := false
	for {
		if j == len(p) { // no `]`: the class ends with the pattern
			return j, match != not
		}
		if p[j] == '\\' && len(p)-j >= 2 {
			j++
			if p[j] == c { // escaped: compared as is, even with nocase
				match = true
			}
		} else if p[j] == ']' {
			break
		} else if len(p)-j >= 3 && p[j+1] == '-' {
			// C's char is signed on the platforms Redis runs on.
			start, end, ch := int(int8(p[j])), int(int8(p[j+2])), int(int8(c))
			if start > end {
				start, end = end, start
			}
			if nocase {
				start, end, ch = foldInt(start), foldInt(end), foldInt(ch)
			}
			j += 2
			if ch >= start && ch <= end {
				match = true
			}
		} else if foldByte(p[j], nocase) == foldByte(c, nocase) {
			match = true
		}
		j++
	}
	return j + 1, match != not
}

// foldByte lower-cases an ASCII letter when nocase.
func foldByte(b byte, nocase bool) byte {
	if nocase && 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// foldInt is C's tolower on a (signed) char value.
func foldInt(c int) int {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
