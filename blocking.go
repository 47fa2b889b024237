// Blocking pops: clients waiting in BLPOP, BRPOP, BLMOVE, BZPOPMIN, BZPOPMAX and BZMPOP are queued per key and served in arrival order.

package chkv

import (
	"slices"
	"sync/atomic"
	"time"
)

// waiter is one client blocked on one or more list or sorted-set keys.
type waiter struct {
	keys     [][]byte
	left     bool // pop from the head
	move     bool // BLMOVE: push the element to dest
	dest     []byte
	destLeft bool
	zpop     bool        // waits for a sorted set (BZPOPMIN, BZPOPMAX, BZMPOP), not a list
	max      bool        // pop the highest scores
	count    int         // members to pop from a sorted set
	claimed  atomic.Bool // set by whoever serves or cancels the waiter first
	ch       chan popped // buffered(1): the element handed over
}

// popped is what a served waiter receives.
type popped struct {
	key   []byte
	val   []byte
	moved bool      // the element has already been pushed to dest
	zs    []zmember // the members popped from a sorted set
	err   string    // an error reply instead of the element
}

// waitQueue holds the waiters of one key in arrival order.
type waitQueue struct {
	ws []*waiter
}

// addWaiter queues w on every key it waits for. The caller holds the locks
// of all of w's slots.
func (s *Store) addWaiter(w *waiter) {
	for _, k := range w.keys {
		sd := &s.slots[SlotBytes(k)]
		if sd.waiters == nil {
			sd.waiters = make(map[string]*waitQueue)
		}
		q := sd.waiters[string(k)]
		if q == nil {
			q = &waitQueue{}
			sd.waiters[string(k)] = q
		}
		q.ws = append(q.ws, w)
	}
	s.blocked.Add(1)
}

// dropWaiter removes w from the queues of its keys. The caller holds the
// locks of all of w's slots.
func (s *Store) dropWaiter(w *waiter) {
	for _, k := range w.keys {
		sd := &s.slots[SlotBytes(k)]
		q := sd.waiters[string(k)]
		if q == nil {
			continue
		}
		for i, o := range q.ws {
			if o == w {
				q.ws = append(q.ws[:i], q.ws[i+1:]...)
				break
			}
		}
		if len(q.ws) == 0 {
			delete(sd.waiters, string(k))
		}
	}
}

// blockedClients returns how many clients wait in blocking pops.
func (s *Store) blockedClients() int64 { return s.blocked.Load() }

// keysWithTTL counts the keys with an expiry.
func (s *Store) keysWithTTL() int64 {
	var n int64
	for i := range s.slots {
		sd := &s.slots[i]
		sd.mu.Lock()
		n += int64(sd.ttlKeys)
		sd.mu.Unlock()
	}
	return n
}

// serveWaiters hands elements of the list at key to the clients waiting on
// it, one element each, oldest waiter first, while the list has elements.
// The caller holds the slot lock and has already written its own reply.
func (s *Store) serveWaiters(slot int, key []byte) {
	sd := &s.slots[slot]
	q := sd.waiters[string(key)]
	if q == nil {
		return
	}
	now := s.nowMs()
	for len(q.ws) > 0 {
		e := s.lookup(slot, key, now)
		if e == nil || e.kind != kindList && e.kind != kindZSet {
			break
		}
		// The oldest waiter for this kind of value: a list wakes BLPOP and
		// friends, a sorted set the BZ pops; the others keep waiting.
		i := slices.IndexFunc(q.ws, func(w *waiter) bool { return w.zpop == (e.kind == kindZSet) })
		if i < 0 {
			break
		}
		w := q.ws[i]
		q.ws = slices.Delete(q.ws, i, i+1)
		if !w.claimed.CompareAndSwap(false, true) {
			continue // timed out or served through another key
		}
		s.blocked.Add(-1)
		var p popped
		for _, k := range w.keys { // the waiter's own copy: key may alias the pusher's request buffer
			if string(k) == string(key) {
				p.key = k
			}
		}
		if w.zpop {
			p.zs = s.popZSet(slot, key, e, w.max, w.count)
			w.ch <- p
			continue
		}
		if w.move && SlotBytes(w.dest) == slot {
			// Source and destination share the lock: move atomically, or,
			// as Redis does, answer WRONGTYPE and leave the element.
			d := s.lookup(slot, w.dest, now)
			if d != nil && d.kind != kindList {
				p.err = msgWrongType
				w.ch <- p
				continue
			}
			p.val = s.popList(slot, key, e, w.left)
			s.pushList(slot, w.dest, d, w.destLeft, p.val)
			p.moved = true
		} else {
			p.val = s.popList(slot, key, e, w.left)
		}
		w.ch <- p
		if p.moved && string(w.dest) != string(key) {
			s.serveWaiters(slot, w.dest)
		}
	}
	if len(q.ws) == 0 {
		delete(sd.waiters, string(key))
	}
}

// popList pops one element of the list e at key, deleting the key when it
// empties. The caller holds the slot lock.
func (s *Store) popList(slot int, key []byte, e *entry, left bool) []byte {
	before, hadTTL := e.size(string(key)), e.expireAt != 0
	v := e.list().pop(left)
	if e.list().len() == 0 {
		e.list().bytes = 0
		s.removeSized(slot, string(key), e, before)
	} else {
		s.updateDelta(slot, string(key), e, before, hadTTL, &writeDelta{op: deltaPop, left: left, n: 1})
	}
	return v
}

// pushList pushes v onto the list at key (e, or a new list when e is nil).
// The caller holds the slot lock and has checked e's type.
func (s *Store) pushList(slot int, key []byte, e *entry, left bool, v []byte) *entry {
	if e == nil {
		e = newListEntry(&list{})
		e.list().push(left, v)
		s.insert(slot, string(key), e)
		return e
	}
	before, hadTTL := e.size(string(key)), e.expireAt != 0
	e.list().push(left, v)
	s.updateDelta(slot, string(key), e, before, hadTTL, &writeDelta{op: deltaPush, left: left, n: 1, one: v})
	return e
}

// blockPop waits for w to be served, for at most timeout (0: no limit), until
// the client disconnects or the node closes. It returns the element and
// whether one arrived.
func (c *conn) blockPop(w *waiter, timeout time.Duration) (popped, bool) {
	c.release()      // a blocked client writes nothing: it must not hold up a migration's freeze
	c.flushReplies() // the replies to the requests before this one, as Redis sends them before blocking
	st := c.d.store
	gone := make(chan struct{})
	stopWatch := c.in.watch(gone)
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	var p popped
	got := false
	select {
	case p = <-w.ch:
		got = true
	case <-timer:
	case <-gone:
	case <-c.d.closed:
	}
	stopWatch()
	c.nowMs = 0 // time has passed while blocked
	if got {
		return p, true
	}
	if st.giveUp(w) {
		return popped{}, false
	}
	// Served while we gave up: the element is ours (it was sent under the lock).
	return <-w.ch, true
}

// giveUp withdraws w unless it has been served meanwhile, and reports
// whether it did. The slot locks are released by defer.
func (s *Store) giveUp(w *waiter) bool {
	unlock := s.lockKeys(w.keys)
	defer unlock()
	if !w.claimed.CompareAndSwap(false, true) {
		return false
	}
	s.dropWaiter(w)
	s.blocked.Add(-1)
	return true
}
