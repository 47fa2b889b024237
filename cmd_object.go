// OBJECT: ENCODING, FREQ, IDLETIME, REFCOUNT and HELP, with Redis 7.0's encodings by type and size.

package chkv

import "strings"

// Error texts of OBJECT, as redis-server 7.0 writes them.
const (
	msgObjectNoLRU = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
	msgObjectNoLFU = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)

// objectHelp is OBJECT HELP's reply, Redis 7.0's lines.
func objectHelp() []string {
	return []string{
		"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"ENCODING <key>",
		"    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated with the specified",
		"    <key>.",
		"HELP",
		"    Prints this help.",
	}
}

// sharedRefcount is the refcount Redis reports for its shared integers.
const sharedRefcount = 2147483647

func cmdObject(c *conn, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	want := 3
	switch sub {
	case "help":
		want = 2
	case "encoding", "freq", "idletime", "refcount":
	default:
		c.w.errorText("ERR unknown subcommand '" + string(truncate(args[1], 128)) + "'. Try OBJECT HELP.")
		return
	}
	if len(args) != want {
		c.w.errorText("ERR wrong number of arguments for 'object|" + sub + "' command")
		return
	}
	if sub == "help" {
		c.w.array(len(objectHelp()))
		for _, l := range objectHelp() {
			c.w.simple(l)
		}
		return
	}
	st := c.d.store
	slot, sd := st.lockKey(args[2])
	defer sd.mu.Unlock()
	now := c.now()
	e := st.peek(slot, args[2], now) // OBJECT does not count as an access
	if e == nil {
		c.w.null()
		return
	}
	lfu := st.MaxMemoryPolicy().lfu()
	switch sub {
	case "encoding":
		c.w.bulkString(objectEncoding(e))
	case "refcount":
		if st.sharesIntegers() && e.kind == kindString && len(e.str) <= 4 {
			if n, ok := parseInt(e.str); ok && n >= 0 && n < 10000 {
				c.w.int(sharedRefcount)
				return
			}
		}
		c.w.int(1)
	case "idletime":
		if lfu {
			c.w.errorText(msgObjectNoLRU)
			return
		}
		c.w.int(idleMillis(e, now) / 1000)
	case "freq":
		if !lfu {
			c.w.errorText(msgObjectNoLFU)
			return
		}
		c.w.int(int64(lfuDecr(e.getAccess(), now)))
	}
}

// sharesIntegers reports whether Redis would store the integers 0..9999 as
// shared objects under the store's memory settings: not with a cap and an
// LRU or LFU policy, which need an access field per key.
func (s *Store) sharesIntegers() bool {
	p := s.MaxMemoryPolicy()
	return s.MaxMemory() == 0 || !(p == AllKeysLRU || p == VolatileLRU || p.lfu())
}

// objectEncoding names the encoding Redis 7.0 would use for e's value: by
// type and by the size limits of its compact encodings (listpack up to 128
// entries of 64 bytes, intset up to 512 integers, embstr up to 44 bytes).
func objectEncoding(e *entry) string {
	switch e.kind {
	case kindList:
		return "quicklist"
	case kindHash:
		return e.hash().encoding()
	case kindSet:
		return e.set().encoding()
	case kindZSet:
		return e.zset().encoding()
	}
	if len(e.str) <= 20 {
		if _, ok := parseInt(e.str); ok {
			return "int"
		}
	}
	if len(e.str) <= 44 {
		return "embstr"
	}
	return "raw"
}
