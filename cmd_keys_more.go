// More key commands: COPY, RANDOMKEY, TOUCH, EXPIRETIME, PEXPIRETIME (OBJECT, DUMP and RESTORE have their own files).

package chkv

import "sync/atomic"

// keyspaceCommands returns the table entries of COPY, RANDOMKEY, TOUCH,
// EXPIRETIME, PEXPIRETIME, OBJECT, DUMP and RESTORE.
func keyspaceCommands() []*command {
	const (
		w = flagWrite | flagTrackName
		r = flagReadonly | flagTrackName
	)
	return []*command{
		{"copy", -3, w | flagDenyOOM, 1, 2, 1, cmdCopy},
		{"randomkey", 1, r, 0, 0, 0, cmdRandomKey},
		{"touch", -2, r | flagFast, 1, -1, 1, cmdExists}, // counts and touches, as EXISTS does here
		{"expiretime", 2, r | flagFast, 1, 1, 1, cmdExpireTime},
		{"pexpiretime", 2, r | flagFast, 1, 1, 1, cmdExpireTime},
		{"object", -2, r, 2, 2, 1, cmdObject},
		{"dump", 2, r, 1, 1, 1, cmdDump},
		{"restore", -4, w | flagDenyOOM, 1, 1, 1, cmdRestore},
	}
}

// Error texts of the key commands here, as redis-server 7.0 writes them.
const (
	msgSameObject = "ERR source and destination objects are the same"
	msgDBRange    = "ERR DB index is out of range"
	msgBusyKey    = "BUSYKEY Target key name already exists."
)

// cmdCopy serves COPY source destination [DB 0] [REPLACE]: a deep copy of
// any type, its TTL with it, built through the value's record encoding
// (dump.go), so every kind the migration stream carries copies.
func cmdCopy(c *conn, args [][]byte) {
	replace := false
	for j := 3; j < len(args); j++ {
		switch {
		case eqFold(args[j], "replace"):
			replace = true
		case eqFold(args[j], "db") && j+1 < len(args):
			db, ok := parseInt(args[j+1])
			if !ok {
				c.w.errorText(msgNotInteger)
				return
			}
			if db < -1<<31 || db >= 1<<31 {
				c.w.errorText("ERR value is out of range, value must between -2147483648 and 2147483647")
				return
			}
			if db != 0 { // database 0 only
				c.w.errorText(msgDBRange)
				return
			}
			j++
		default:
			c.w.errorText(msgSyntax)
			return
		}
	}
	src, dst := args[1], args[2]
	if string(src) == string(dst) {
		c.w.errorText(msgSameObject)
		return
	}
	st := c.d.store
	unlock := st.lockKeys(args[1:3])
	defer unlock()
	now := c.now()
	ss, ds := SlotBytes(src), SlotBytes(dst)
	e := st.lookup(ss, src, now)
	if e == nil {
		c.w.int(0)
		return
	}
	old := st.lookup(ds, dst, now)
	if old != nil && !replace {
		c.w.int(0)
		return
	}
	ne, err := cloneValue(e)
	if err != nil { // the encoder and decoder disagree: a bug, not the client's fault
		c.w.errorText("ERR " + err.Error())
		return
	}
	if old != nil {
		st.remove(ds, string(dst), old)
	}
	ne.expireAt = e.expireAt
	st.insert(ds, string(dst), ne)
	c.w.int(1)
	if ne.kind == kindList {
		st.serveWaiters(ds, dst)
	}
}

// cmdRandomKey serves RANDOMKEY: a key picked uniformly (expired keys it
// meets are reclaimed, as Redis's dbRandomKey does).
func cmdRandomKey(c *conn, args [][]byte) {
	key, ok := c.d.store.randomKey(c.now())
	if !ok {
		c.w.null()
		return
	}
	c.w.bulkString(key)
}

// keyGroupSlots is how many consecutive slots share a count of keys.
const keyGroupSlots = 128

// keyGroup counts the keys of keyGroupSlots slots, on a cache line of its own.
type keyGroup struct {
	n atomic.Int64
	_ [56]byte
}

// randomKey returns a key picked uniformly, or false when there is none:
// a random rank among all keys, found through the group counts (128 of
// them) and then the slots of one group, and in its slot as the rank-th
// key of a map walk (any order will do for a uniform rank). An expired key
// picked is reclaimed and the pick starts again, up to 100 times, as Redis
// gives up on a keyspace of expired keys after a while.
func (s *Store) randomKey(now int64) (string, bool) {
	var counts [len(s.groups)]int64
	for range 100 {
		total := int64(0)
		for g := range s.groups {
			counts[g] = s.groups[g].n.Load()
			total += counts[g]
		}
		if total == 0 {
			return "", false
		}
		r := int64(s.cfg.Rand() % uint64(total))
		g := 0
		for ; g < len(counts)-1 && r >= counts[g]; g++ {
			r -= counts[g]
		}
		for slot := g * keyGroupSlots; slot < (g+1)*keyGroupSlots; slot++ {
			sd := &s.slots[slot]
			sd.mu.Lock()
			if n := int64(len(sd.keys)); r >= n {
				r -= n
				sd.mu.Unlock()
				continue
			}
			for k, e := range sd.keys {
				if r--; r >= 0 {
					continue
				}
				if e.expireAt != 0 && e.expireAt <= now {
					s.remove(slot, k, e)
					s.expired.Add(1)
					break
				}
				sd.mu.Unlock()
				return k, true
			}
			sd.mu.Unlock()
			break
		}
		// An expired key, or keys that went meanwhile: pick again.
	}
	return "", false
}

// cmdExpireTime serves EXPIRETIME and PEXPIRETIME: the absolute unix time
// of the expiry, -1 without one, -2 for a missing key.
func cmdExpireTime(c *conn, args [][]byte) {
	st := c.d.store
	slot, sd := st.lockKey(args[1])
	defer sd.mu.Unlock()
	e := st.peek(slot, args[1], c.now())
	switch {
	case e == nil:
		c.w.int(-2)
	case e.expireAt == 0:
		c.w.int(-1)
	case eqFold(args[0], "pexpiretime"):
		c.w.int(e.expireAt)
	default:
		c.w.int((e.expireAt + 500) / 1000)
	}
}
