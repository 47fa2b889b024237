// Tests of DUMP, RESTORE and COPY that need chkv's own payloads: round trips of every kind, TTL and access options, refusal of Redis's and damaged payloads.

package chkv

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// bulkOf returns the bytes of a bulk reply.
func bulkOf(t *testing.T, raw string) string {
	t.Helper()
	i := strings.Index(raw, "\r\n")
	n, err := strconv.Atoi(raw[1:max(i, 1)])
	if raw[0] != '$' || err != nil || len(raw) < i+2+n {
		t.Fatalf("not a bulk reply: %q", raw)
	}
	return raw[i+2 : i+2+n]
}

// TestDumpRestoreRoundTrip: a value of every type, small and chunked, comes
// back equal under another key, with RESTORE's TTL, and DUMP carries no TTL.
func TestDumpRestoreRoundTrip(t *testing.T) {
	d, clock, c := memNode(t, 0, NoEviction)
	big := strings.Repeat("0123456789", 250_000) // 2.5 MB: three records
	setup := [][]string{
		{"SET", "s", "hello", "EX", "100"},
		{"SET", "big", big},
		{"RPUSH", "l", "a", "", "c\r\n"},
		{"HSET", "h", "f", "1", "g", "2"},
		{"SADD", "i", "1", "2", "3"},
		{"SADD", "t", "x", "y"},
	}
	for _, a := range setup {
		rawDo(t, c, a...)
	}
	reads := map[string][]string{
		"s": {"GET"}, "big": {"GET"}, "l": {"LRANGE", "", "0", "-1"}, "h": {"HGETALL"}, "i": {"SMEMBERS"}, "t": {"SMEMBERS"},
	}
	read := func(cmd []string, key string) string {
		args := append([]string{cmd[0], key}, cmd[min(2, len(cmd)):]...)
		return rawDo(t, c, args...)
	}
	for key, cmd := range reads {
		p := bulkOf(t, rawDo(t, c, "DUMP", key))
		if got := rawDo(t, c, "RESTORE", key+"2", "0", p); got != "+OK\r\n" {
			t.Fatalf("RESTORE %s = %q", key, got)
		}
		if got, want := read(cmd, key+"2"), read(cmd, key); got != want {
			t.Errorf("%s after RESTORE = %.80q, want %.80q", key, got, want)
		}
		if got, want := rawDo(t, c, "OBJECT", "ENCODING", key+"2"), rawDo(t, c, "OBJECT", "ENCODING", key); got != want {
			t.Errorf("encoding of %s after RESTORE = %q, want %q", key, got, want)
		}
		if got := rawDo(t, c, "TTL", key+"2"); got != ":-1\r\n" {
			t.Errorf("TTL of %s restored with ttl 0 = %q", key, got)
		}
		if got := rawDo(t, c, "RESTORE", key+"3", "5000", p); got != "+OK\r\n" {
			t.Fatalf("RESTORE with TTL = %q", got)
		}
		if got := rawDo(t, c, "PTTL", key+"3"); got != ":5000\r\n" { // the clock stands still
			t.Errorf("PTTL after RESTORE with ttl 5000 = %q", got)
		}
	}
	now := clock.Now().UnixMilli()
	p := bulkOf(t, rawDo(t, c, "DUMP", "s"))
	if got := rawDo(t, c, "RESTORE", "abs", strconv.FormatInt(now+7000, 10), p, "ABSTTL"); got != "+OK\r\n" {
		t.Fatalf("RESTORE ABSTTL = %q", got)
	}
	if got := rawDo(t, c, "PEXPIRETIME", "abs"); got != ":"+strconv.FormatInt(now+7000, 10)+"\r\n" {
		t.Errorf("PEXPIRETIME after ABSTTL = %q", got)
	}
	// A TTL in the past: REPLACE deletes the old key and adds nothing.
	if got := rawDo(t, c, "RESTORE", "abs", strconv.FormatInt(now-1, 10), p, "ABSTTL", "REPLACE"); got != "+OK\r\n" {
		t.Fatalf("RESTORE with a past TTL = %q", got)
	}
	if got := rawDo(t, c, "EXISTS", "abs"); got != ":0\r\n" {
		t.Errorf("key after RESTORE REPLACE with a past TTL: EXISTS = %q", got)
	}
	// IDLETIME sets the LRU clock back.
	clock.Advance(time.Hour)
	if got := rawDo(t, c, "RESTORE", "idle", "0", p, "IDLETIME", "1000"); got != "+OK\r\n" {
		t.Fatalf("RESTORE IDLETIME = %q", got)
	}
	if got := rawDo(t, c, "OBJECT", "IDLETIME", "idle"); got != ":1000\r\n" {
		t.Errorf("OBJECT IDLETIME after RESTORE IDLETIME 1000 = %q", got)
	}
	d.Store().SetMaxMemoryPolicy(AllKeysLFU)
	if got := rawDo(t, c, "RESTORE", "freq", "0", p, "FREQ", "77"); got != "+OK\r\n" {
		t.Fatalf("RESTORE FREQ = %q", got)
	}
	if got := rawDo(t, c, "OBJECT", "FREQ", "freq"); got != ":77\r\n" {
		t.Errorf("OBJECT FREQ after RESTORE FREQ 77 = %q", got)
	}
}

// TestRestoreRefusesForeignPayloads: Redis's own DUMP payloads, damaged
// ones and ones whose records make no value are refused with Redis's errors.
func TestRestoreRefusesForeignPayloads(t *testing.T) {
	_, _, c := memNode(t, 0, NoEviction)
	rawDo(t, c, "RPUSH", "l", "a", "b")
	good := bulkOf(t, rawDo(t, c, "DUMP", "l"))
	withSum := func(body string) string {
		b := append([]byte(body), dumpVersion)
		return string(binary.LittleEndian.AppendUint64(b, xxhash.Sum64(b)))
	}
	for name, tc := range map[string]struct{ payload, want string }{
		"redis 7.0 string":   {"\x00\x05hello\n\x00cr\xdfve4 \n", msgDumpPayload},
		"redis 7.0 list":     {"\x12\x01\x02\r\r\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff\n\x00h\xeb\n\x89\x13A\xbb\xb1", msgDumpPayload},
		"flipped byte":       {good[:3] + string(good[3]^1) + good[4:], msgDumpPayload},
		"cut":                {good[:len(good)-1], msgDumpPayload},
		"other version":      {good[:len(good)-9] + "\x02" + good[len(good)-8:], msgDumpPayload},
		"garbage records":    {withSum("\xff\x00\x00"), msgBadData},
		"append record only": {withSum("\x03\x00\x00\x01x"), msgBadData},
		"empty list":         {withSum("\x02\x00\x00\x00\x00\x00"), msgBadData},
		"two values":         {withSum(good[:len(good)-9] + good[:len(good)-9]), msgBadData},
		"no records":         {withSum(""), msgBadData},
		"huge count":         {withSum("\x02\x00\x00\x00\x00\xff\xff\xff\xff\x0f"), msgBadData},
	} {
		if got := rawDo(t, c, "RESTORE", "k", "0", tc.payload); got != "-"+tc.want+"\r\n" {
			t.Errorf("%s: RESTORE = %q, want %q", name, got, tc.want)
		}
	}
	if got := rawDo(t, c, "EXISTS", "k"); got != ":0\r\n" {
		t.Errorf("a refused RESTORE left the key: EXISTS = %q", got)
	}
	if got := rawDo(t, c, "RESTORE", "k", "0", good); got != "+OK\r\n" {
		t.Errorf("RESTORE of the good payload = %q", got)
	}
}

// TestCloneValueEveryKind: the record round trip that COPY and RESTORE use
// keeps every kind's value, sorted sets included.
func TestCloneValueEveryKind(t *testing.T) {
	l := &list{}
	l.pushBack([]byte("a"))
	l.pushBack([]byte("b"))
	h := &hashValue{}
	h.set([]byte("f"), []byte("v"))
	s := newSetValue()
	s.add([]byte("7"))
	s.add([]byte("m"))
	z := newZSet()
	z.add([]byte("x"), 1.5)
	z.add([]byte("y"), -2)
	for _, e := range []*entry{{kind: kindString, str: []byte("str")}, newListEntry(l), newHashEntry(h), newSetEntry(s), newZSetEntry(z)} {
		c, err := cloneValue(e)
		if err != nil {
			t.Fatalf("kind %d: %v", e.kind, err)
		}
		if c.kind != e.kind || valueHash(c) != valueHash(e) || c == e || c.obj == e.obj && e.obj != nil {
			t.Errorf("kind %d: clone differs or shares the value", e.kind)
		}
	}
}
