// scanHomes is the cursor of HSCAN and ZSCAN over a big collection's hash table: Redis's reverse-binary walk of home slots.

package chkv

import "math/bits"

// scanHomes visits home slots of a table of mask+1 slots (a power of two)
// from cursor on, calling visit with each (visit passes every entry whose
// home is that slot and returns how many it passed), until visit passed
// count entries, 10*count slots were visited, or the walk came back to 0,
// and returns the next cursor (0: done).
//
// The cursor is Redis's dictScan: it counts up in the bits of the mask
// reversed, so the slots still to visit at size 2^k are exactly the
// descendants of those still to visit at any other size. An entry present
// from the first call to the last is passed at least once however the
// table grows or shrinks in between (entries are found by their home, not
// by where probing put them, so deletions that shift runs move nothing
// across the cursor), and a full walk ends after mask+1 slots of the
// largest size it saw. Entries may come out twice after a shrink.
func scanHomes(cursor, mask uint64, count int, visit func(home int) int) uint64 {
	n := 0
	for iter := 10 * count; ; iter-- {
		n += visit(int(cursor & mask))
		cursor |= ^mask
		cursor = bits.Reverse64(bits.Reverse64(cursor) + 1)
		if cursor == 0 || iter <= 1 || n >= count {
			return cursor
		}
	}
}
