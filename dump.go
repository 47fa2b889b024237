// DUMP and RESTORE in chkv's own payload format: a value's migration records, a format version byte and an xxhash64 checksum.

package chkv

import (
	"encoding/binary"
	"errors"

	"github.com/cespare/xxhash/v2"
)

// The DUMP payload (README "DUMP and RESTORE"):
//
//	records  the value as the migration stream encodes it (migrate_store.go,
//	         recordEncoder.entry): one set record and, for a big value,
//	         append records; slot 0, an empty key, version 0, no expiry
//	version  one byte, dumpVersion
//	checksum 8 bytes, xxhash64 of records and version, little endian
//
// RESTORE refuses a payload whose version or checksum does not match, as
// Redis refuses a foreign one (a Redis payload ends in an RDB version and a
// CRC64 instead), with Redis's error.
const dumpVersion = 1

// Error texts of RESTORE, as redis-server 7.0 writes them.
const (
	msgDumpPayload  = "ERR DUMP payload version or checksum are wrong"
	msgBadData      = "ERR Bad data format"
	msgBadTTL       = "ERR Invalid TTL value, must be >= 0"
	msgBadIdleTime  = "ERR Invalid IDLETIME value, must be >= 0"
	msgBadFrequency = "ERR Invalid FREQ value, must be >= 0 and <= 255"
)

// errBadDump reports a payload whose checksum matched but whose records do not make a value.
var errBadDump = errors.New("chkv: bad DUMP payload records")

// dumpValue returns the payload of e's value. The caller holds the slot lock.
func dumpValue(e *entry) []byte {
	v := *e // a copy: the payload carries no version or expiry
	v.version, v.expireAt, v.vh = 0, 0, 0
	var enc recordEncoder
	enc.entry(0, "", &v)
	b := append(enc.buf, dumpVersion)
	return binary.LittleEndian.AppendUint64(b, xxhash.Sum64(b))
}

// checkDump returns the records of payload p, or false when its version or
// checksum is wrong.
func checkDump(p []byte) ([]byte, bool) {
	if len(p) < 9 {
		return nil, false
	}
	body, sum := p[:len(p)-8], binary.LittleEndian.Uint64(p[len(p)-8:])
	if body[len(body)-1] != dumpVersion || xxhash.Sum64(body) != sum {
		return nil, false
	}
	return body[:len(body)-1], true
}

// decodeValue builds a new entry (not in any store) from the records of
// one value: a set record, then append records of the same kind. It
// allocates no more than the records hold.
func decodeValue(b []byte) (*entry, error) {
	d := recordDecoder{b: b}
	var rec record
	var e *entry
	for d.next(&rec) {
		switch {
		case e == nil && !isAppend(rec.op):
			if e = entryForRecord(&rec); e == nil {
				return nil, errBadDump
			}
		case e != nil && isAppend(rec.op) && recordKind(rec.op) == e.kind:
			appendRecord(e, &rec)
		default:
			return nil, errBadDump
		}
	}
	if d.err != nil || e == nil || e.kind != kindString && e.collLen() == 0 {
		return nil, errBadDump
	}
	return e, nil
}

// cloneValue returns a deep copy of e's value (no version, no expiry)
// through its records, so any kind the migration stream carries copies.
func cloneValue(e *entry) (*entry, error) {
	b, _ := checkDump(dumpValue(e))
	return decodeValue(b)
}

func cmdDump(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e := st.lookup(slot, args[1], c.now())
	if e == nil {
		c.w.null()
		return
	}
	c.w.bulk(dumpValue(e))
}

// cmdRestore serves RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f].
func cmdRestore(c *conn, args [][]byte) {
	var replace, absTTL bool
	idle, freq := int64(-1), int64(-1)
	for j := 4; j < len(args); j++ {
		more := j+1 < len(args)
		switch {
		case eqFold(args[j], "replace"):
			replace = true
		case eqFold(args[j], "absttl"):
			absTTL = true
		case eqFold(args[j], "idletime") && more && freq == -1:
			n, ok := parseInt(args[j+1])
			if !ok {
				c.w.errorText(msgNotInteger)
				return
			}
			if n < 0 {
				c.w.errorText(msgBadIdleTime)
				return
			}
			idle = n
			j++
		case eqFold(args[j], "freq") && more && idle == -1:
			n, ok := parseInt(args[j+1])
			if !ok {
				c.w.errorText(msgNotInteger)
				return
			}
			if n < 0 || n > 255 {
				c.w.errorText(msgBadFrequency)
				return
			}
			freq = n
			j++
		default:
			c.w.errorText(msgSyntax)
			return
		}
	}
	st := c.d.store
	key := args[1]
	slot, sd := st.lockKey(key)
	defer sd.mu.Unlock()
	now := c.now()
	old := st.lookup(slot, key, now)
	if old != nil && !replace {
		c.w.errorText(msgBusyKey)
		return
	}
	ttl, ok := parseInt(args[2])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	if ttl < 0 {
		c.w.errorText(msgBadTTL)
		return
	}
	body, ok := checkDump(args[3])
	if !ok {
		c.w.errorText(msgDumpPayload)
		return
	}
	e, err := decodeValue(body)
	if err != nil {
		c.w.errorText(msgBadData)
		return
	}
	if old != nil {
		st.remove(slot, string(key), old)
	}
	if ttl != 0 && !absTTL {
		ttl += now
	}
	if ttl != 0 && ttl <= now { // expired already: the old key is gone, nothing is added
		c.w.ok()
		return
	}
	e.expireAt = ttl
	if p := st.MaxMemoryPolicy(); p.lfu() && freq >= 0 {
		e.setAccess(lfuMinutes(now)<<8 | uint32(freq))
	} else if !p.lfu() && idle >= 0 {
		// As Redis's objectSetLRUOrLFU, wrapping included (idle is in seconds).
		const m = lruClockMax + 1
		abs := (int64(lruClock(now)) - idle%m*(1000/lruTickMs)%m) % m
		if abs < 0 {
			abs += m
		}
		e.setAccess(uint32(abs)<<1 | 1) // used: its idle time is the one given
	}
	st.insert(slot, string(key), e)
	c.w.ok()
	if e.kind == kindList {
		st.serveWaiters(slot, key)
	}
}
