// Tests of the bounds of the bitmap commands and LCS that a differential case cannot reach (chkv's own limits).

package chkv

import (
	"strings"
	"testing"
)

// rawDo sends args on c and returns the raw reply.
func rawDo(t *testing.T, c *respConn, args ...string) string {
	t.Helper()
	r, err := c.do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return string(r.raw)
}

// TestBitOffsetBound: SETBIT and BITFIELD grow a string up to the node's
// proto-max-bulk-len and no further, with Redis's error past it.
func TestBitOffsetBound(t *testing.T) {
	d := RunT(t, func(c *DataNodeConfig) { c.Limits.MaxBulk = 1024 })
	c := dialResp(t, "tcp", d.Addr())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"SETBIT", "k", "8191", "1"}, ":0\r\n"},
		{[]string{"STRLEN", "k"}, ":1024\r\n"},
		{[]string{"SETBIT", "k", "8192", "1"}, "-" + msgBitOffset + "\r\n"},
		{[]string{"GETBIT", "k", "8192"}, "-" + msgBitOffset + "\r\n"},
		{[]string{"BITFIELD", "b", "SET", "u8", "#1023", "7"}, "*1\r\n:0\r\n"},
		{[]string{"STRLEN", "b"}, ":1024\r\n"},
		{[]string{"BITFIELD", "b", "SET", "u8", "#1024", "7"}, "-" + msgBitOffset + "\r\n"},
		{[]string{"BITFIELD", "c", "SET", "i64", "8190", "-1"}, "*1\r\n:0\r\n"}, // the last byte may reach past the bound, as in Redis
		{[]string{"STRLEN", "c"}, ":1032\r\n"},
		{[]string{"CONFIG", "GET", "proto-max-bulk-len"}, "*2\r\n$18\r\nproto-max-bulk-len\r\n$4\r\n1024\r\n"},
	} {
		if got := rawDo(t, c, tc.args...); got != tc.want {
			t.Errorf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestLCSBound: one LCS table may not pass proto-max-bulk-len, nor may the
// tables of all LCS calls running at once; LEN alone needs no table.
func TestLCSBound(t *testing.T) {
	d := RunT(t, func(c *DataNodeConfig) { c.Limits.MaxBulk = 4096 })
	c := dialResp(t, "tcp", d.Addr())
	rawDo(t, c, "SET", "a", strings.Repeat("ab", 20))
	rawDo(t, c, "SET", "b", strings.Repeat("ba", 20))
	rawDo(t, c, "SET", "big", strings.Repeat("x", 40))
	if got, want := rawDo(t, c, "LCS", "a", "big"), "-"+msgLCSTooBig+"\r\n"; got != want { // 41*41*4 bytes
		t.Errorf("LCS of 40 and 40 bytes = %q, want %q", got, want)
	}
	if got, want := rawDo(t, c, "LCS", "a", "big", "LEN"), "-"+msgLCSTooBig+"\r\n"; got != want {
		t.Errorf("LCS LEN of 40 and 40 bytes = %q, want %q", got, want)
	}
	rawDo(t, c, "SET", "a", strings.Repeat("ab", 10))
	rawDo(t, c, "SET", "b", strings.Repeat("ba", 10))
	if got, want := rawDo(t, c, "LCS", "a", "b", "LEN"), ":19\r\n"; got != want {
		t.Errorf("LCS LEN = %q, want %q", got, want)
	}
	d.lcsBytes.Add(4096 - 100) // other calls hold nearly the whole budget
	if got, want := rawDo(t, c, "LCS", "a", "b"), "-"+msgLCSNoMemory+"\r\n"; got != want {
		t.Errorf("LCS over the node's budget = %q, want %q", got, want)
	}
	if got, want := rawDo(t, c, "LCS", "a", "b", "LEN"), ":19\r\n"; got != want {
		t.Errorf("LCS LEN over the node's budget = %q, want %q", got, want)
	}
	d.lcsBytes.Add(-(4096 - 100))
	if got := rawDo(t, c, "LCS", "a", "b"); !strings.HasPrefix(got, "$19\r\n") {
		t.Errorf("LCS within the budget = %q, want 19 bytes", got)
	}
	if n := d.lcsBytes.Load(); n != 0 {
		t.Errorf("LCS budget after the calls = %d, want 0", n)
	}
}
