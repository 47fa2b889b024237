// Parsing of command arguments with Redis's exact rules for integers, floats and options.

package chkv

import (
	"bytes"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// parseInt parses b as Redis's string2ll does: optional '-', no '+', no
// spaces, no leading zeros, within int64.
func parseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n > 20 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
		if n == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// parseFloat parses b as Redis's string2d does: strtod over the whole
// string, no leading space, not NaN, neither overflowing nor underflowing
// to zero.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return 0, false
	}
	f, rangeErr, ok := strtod(string(b))
	return f, ok && !rangeErr
}

// strtod parses all of s as C's strtod reads a number (decimal or hex,
// inf, infinity; no NaN): the value, and rangeErr when strtod reports
// ERANGE (an overflow, read as an infinity, or an underflow to zero).
func strtod(s string) (f float64, rangeErr, ok bool) {
	if s == "" || strings.ContainsAny(s, "_") || hasBasePrefix(s) {
		return 0, false, false
	}
	hex := isHexFloat(s)
	if hex && !strings.ContainsAny(s, "pP") {
		s += "p0" // strtod reads hex without an exponent; Go's parser wants one
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, isNum := err.(*strconv.NumError); !isNum || ne.Err != strconv.ErrRange {
			return 0, false, false
		}
		rangeErr = true
	}
	if math.IsNaN(f) {
		return 0, false, false
	}
	if f == 0 && nonZeroMantissa(s, hex) {
		rangeErr = true // underflow: Go reads it as 0 without an error
	}
	return f, rangeErr, true
}

// nonZeroMantissa reports whether the number s has a digit other than 0
// before its exponent.
func nonZeroMantissa(s string, hex bool) bool {
	s = strings.TrimLeft(s, "+-")
	end := "eE"
	if hex {
		s, end = s[2:], "pP"
	}
	if i := strings.IndexAny(s, end); i >= 0 {
		s = s[:i]
	}
	return strings.ContainsFunc(s, func(r rune) bool { return r != '0' && r != '.' })
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// hasBasePrefix reports a Go-only prefix (0b, 0o) that strtod does not accept.
func hasBasePrefix(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return len(s) > 1 && s[0] == '0' && strings.ContainsRune("bBoO", rune(s[1]))
}

func isHexFloat(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
}

// longDoublePrec is the mantissa precision of the x87 long double Redis uses
// for INCRBYFLOAT; computing with it makes results match Redis digit for digit.
const longDoublePrec = 64

// parseLongDouble parses b as Redis's string2ld does (strtold).
func parseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= 5*1024 || isSpace(b[0]) {
		return nil, false
	}
	s := string(b)
	if strings.ContainsAny(s, "_") || hasBasePrefix(s) {
		return nil, false
	}
	base := 10
	if isHexFloat(s) {
		base = 0
	}
	lower := strings.ToLower(strings.TrimLeft(s, "+-"))
	if lower == "inf" || lower == "infinity" {
		f := new(big.Float).SetInf(strings.HasPrefix(s, "-"))
		return f, true
	}
	f, _, err := big.ParseFloat(s, base, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	if f.IsInf() || longDoubleOverflows(f) {
		return nil, false
	}
	return f, true
}

// longDoubleOverflows reports whether f is beyond the range of an x87 long double.
func longDoubleOverflows(f *big.Float) bool {
	return f.MantExp(nil) > 16384
}

// formatLongDouble formats f as Redis's ld2string in human mode: %.17Lf with
// trailing zeros (and a trailing dot) removed.
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.ContainsRune(s, '.') {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// eqFold reports whether b equals the lowercase ASCII word s, ignoring case.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// parseTimeout parses a blocking command's timeout in seconds (a float) as
// Redis does, returning it in milliseconds (0 blocks forever) or the error text.
func parseTimeout(b []byte) (int64, string) {
	f, ok := parseLongDouble(b)
	if !ok {
		return 0, msgBadTimeout
	}
	ms, _ := new(big.Float).Mul(f, big.NewFloat(1000)).Float64()
	// Redis 7.0 casts the product to a long long; beyond its range the cast
	// yields LLONG_MIN on x86-64, which it then reports as negative.
	if ms < 0 || ms >= math.MaxInt64 || math.IsInf(ms, 0) {
		return 0, msgNegTimeout
	}
	return int64(math.Ceil(ms)), ""
}

// cString returns b up to its first NUL byte: an argument as Redis's
// printf-style error formatting (%s of a C string) writes it.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
