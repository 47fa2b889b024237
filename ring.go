// Ring holds the partition table (which DataNodes own each slot), its wire encoding, and NextTable, which derives the next table from a membership change.

package chkv

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Partition table errors. They live beside the table while errors.go is owned elsewhere.
var (
	// ErrBadTable is returned when a partition table is malformed: bad wire
	// bytes, unsorted or duplicate members, or impossible owner lists.
	ErrBadTable = errors.New("chkv: malformed partition table")
	// ErrBadChange is returned by NextTable for a membership change that does
	// not apply to the table (a duplicate join, an unknown node, ...).
	ErrBadChange = errors.New("chkv: invalid membership change")
	// ErrBadRingConfig is returned for an impossible RingConfig.
	ErrBadRingConfig = errors.New("chkv: invalid ring configuration")
)

const (
	// MaxReplicas is the largest replica count R (copies besides the primary).
	MaxReplicas = 4
	// MaxWeight is the largest node weight.
	MaxWeight = 64
	// MaxMembers is the largest number of members (in any state) a table holds.
	MaxMembers = 4096
	// DefaultVirtualPoints is the number of ring points per unit of node weight.
	DefaultVirtualPoints = 8

	maxCopies        = MaxReplicas + 1
	maxVirtualPoints = 1024
	maxStringLen     = 1024 // member id, address and rack
	walkLimit        = 512  // ring points visited before a fill falls back to a scan
)

// NodeID names a DataNode. It is unique in a table and never empty.
type NodeID string

// NodeState is a member's state in a table.
type NodeState uint8

// Member states. Joining and up members are live: they own slots. Leaving
// and down members own nothing in a table NextTable computes; leaving ones
// still hold data being copied off, down ones are gone.
const (
	// NodeJoining is a node that owns slots whose data is still being copied
	// in (used by migration's intermediate tables; it counts as live).
	NodeJoining NodeState = iota + 1
	// NodeUp is a live node serving its slots.
	NodeUp
	// NodeLeaving is a node leaving gracefully: its copies move off it.
	NodeLeaving
	// NodeDown is a node declared dead.
	NodeDown
)

// String returns the state's name: joining, up, leaving or down.
func (s NodeState) String() string {
	switch s {
	case NodeJoining:
		return "joining"
	case NodeUp:
		return "up"
	case NodeLeaving:
		return "leaving"
	case NodeDown:
		return "down"
	}
	return "NodeState(" + strconv.Itoa(int(s)) + ")"
}

// Live reports whether a member in this state owns slots.
func (s NodeState) Live() bool { return s == NodeJoining || s == NodeUp }

// Member is one DataNode in a table.
type Member struct {
	ID    NodeID
	Addr  string // host:port clients dial
	Rack  string // failure domain; "" means the node shares none with others
	State NodeState
	// Weight scales the node's share: a node of weight 2 takes twice the
	// slots of a node of weight 1. Zero means 1 in a Change.
	Weight int
}

func (m Member) check() error {
	switch {
	case m.ID == "":
		return errors.New("empty node id")
	case len(m.ID) > maxStringLen || len(m.Addr) > maxStringLen || len(m.Rack) > maxStringLen:
		return fmt.Errorf("node %q: id, address or rack longer than %d bytes", m.ID, maxStringLen)
	case m.State < NodeJoining || m.State > NodeDown:
		return fmt.Errorf("node %q: bad state %d", m.ID, m.State)
	case m.Weight < 1 || m.Weight > MaxWeight:
		return fmt.Errorf("node %q: weight %d outside 1..%d", m.ID, m.Weight, MaxWeight)
	}
	return nil
}

// Role is a copy's role in its slot.
type Role uint8

// Roles of a slot copy.
const (
	// RolePrimary is the copy that leads the slot (first owner).
	RolePrimary Role = iota + 1
	// RoleReplica is any other copy.
	RoleReplica
)

// String returns "primary" or "replica".
func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleReplica:
		return "replica"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Table is the partition table: a version, the members, and for each slot
// an ordered owner list, primary first, then replicas. A slot with no owner
// is either lost (its last copy died in database mode: Lost reports it, and
// the cluster answers CLUSTERDOWN for it) or unassigned (no live node to
// take it yet). The zero Table is empty: version 0, no members, all slots
// unassigned.
//
// A table is a value computed by NextTable or decoded; treat it as read-only.
type Table struct {
	// Version only grows: NextTable returns prev.Version+1.
	Version uint64
	// Replicas is R, the replica count the table was computed with. A slot
	// has min(R+1, live nodes) owners.
	Replicas int
	// Members is every member in any state, sorted by ID.
	Members []Member

	own  []uint16 // NumSlots rows of Replicas+1 indices into Members (nil: no slot has owners)
	cnt  [NumSlots]uint8
	lost [NumSlots]bool
}

var (
	_ encoding.BinaryMarshaler   = (*Table)(nil)
	_ encoding.BinaryUnmarshaler = (*Table)(nil)
)

// newTable returns a table with room for the owners of every slot.
func newTable(version uint64, replicas int, members []Member) *Table {
	return &Table{Version: version, Replicas: replicas, Members: members, own: make([]uint16, NumSlots*(replicas+1))}
}

// ownRow returns the row of slot s's owner indices: its first cnt[s] are
// the owners, primary first; the rest are zero.
func (t *Table) ownRow(s int) []uint16 {
	if t.own == nil {
		return nil
	}
	w := t.Replicas + 1
	return t.own[s*w : s*w+w : s*w+w]
}

// Owners returns slot's owners, primary first; nil when the slot is lost,
// unassigned or out of range.
func (t *Table) Owners(slot int) []NodeID {
	if t == nil || slot < 0 || slot >= NumSlots || t.cnt[slot] == 0 {
		return nil
	}
	ids := make([]NodeID, t.cnt[slot])
	for i := range ids {
		ids[i] = t.Members[t.ownRow(slot)[i]].ID
	}
	return ids
}

// Primary returns the member leading slot; false when the slot has no owner.
func (t *Table) Primary(slot int) (Member, bool) {
	if t == nil || slot < 0 || slot >= NumSlots || t.cnt[slot] == 0 {
		return Member{}, false
	}
	return t.Members[t.ownRow(slot)[0]], true
}

// Lost reports whether slot lost its last copy (database mode): it has no
// owner and must not be served until ChangeReassignLost gives it new ones.
func (t *Table) Lost(slot int) bool {
	return t != nil && slot >= 0 && slot < NumSlots && t.lost[slot]
}

// holds reports whether id is one of slot's owners (primary or replica).
func (t *Table) holds(slot int, id NodeID) bool {
	if t == nil || slot < 0 || slot >= NumSlots {
		return false
	}
	for _, o := range t.ownRow(slot)[:t.cnt[slot]] {
		if t.Members[o].ID == id {
			return true
		}
	}
	return false
}

// Member returns the member with the given id.
func (t *Table) Member(id NodeID) (Member, bool) {
	if t == nil {
		return Member{}, false
	}
	i, ok := findMember(t.Members, id)
	if !ok {
		return Member{}, false
	}
	return t.Members[i], true
}

// Load returns how many slots id leads and how many replica copies it holds.
func (t *Table) Load(id NodeID) (primaries, replicas int) {
	if t == nil {
		return 0, 0
	}
	i, ok := findMember(t.Members, id)
	if !ok {
		return 0, 0
	}
	for s := range NumSlots {
		for c := range int(t.cnt[s]) {
			if int(t.ownRow(s)[c]) != i {
				continue
			}
			if c == 0 {
				primaries++
			} else {
				replicas++
			}
		}
	}
	return primaries, replicas
}

// loads returns, per member index, how many slots it leads and how many
// replica copies it holds: Load for every member in one pass.
func (t *Table) loads() (primaries, replicas []int) {
	primaries, replicas = make([]int, len(t.Members)), make([]int, len(t.Members))
	for s := range NumSlots {
		for c, o := range t.ownRow(s)[:t.cnt[s]] {
			if c == 0 {
				primaries[o]++
			} else {
				replicas[o]++
			}
		}
	}
	return primaries, replicas
}

// SlotRange is a run of consecutive slots with the same owners, as CLUSTER
// SLOTS groups them.
type SlotRange struct {
	Start, End int      // first and last slot, inclusive
	Owners     []NodeID // primary first; empty when Lost
	Lost       bool
}

// Ranges returns the table's slots grouped in maximal runs of identical
// owner lists, in slot order. Unassigned slots appear in no range.
func (t *Table) Ranges() []SlotRange {
	var rs []SlotRange
	if t == nil {
		return nil
	}
	for s := 0; s < NumSlots; {
		e := t.runEnd(s)
		if t.cnt[s] > 0 || t.lost[s] {
			rs = append(rs, SlotRange{Start: s, End: e, Owners: t.Owners(s), Lost: t.lost[s]})
		}
		s = e + 1
	}
	return rs
}

// runEnd returns the last slot of the run of slots identical to s.
func (t *Table) runEnd(s int) int {
	e := s
	for e+1 < NumSlots && t.cnt[e+1] == t.cnt[s] && t.lost[e+1] == t.lost[s] && slices.Equal(t.ownRow(e+1), t.ownRow(s)) {
		e++
	}
	return e
}

func findMember(ms []Member, id NodeID) (int, bool) {
	return slices.BinarySearchFunc(ms, id, func(m Member, id NodeID) int {
		return strings.Compare(string(m.ID), string(id))
	})
}

// check validates the table's invariants.
func (t *Table) check() error {
	if t.Replicas < 0 || t.Replicas > MaxReplicas {
		return fmt.Errorf("%w: replicas %d outside 0..%d", ErrBadTable, t.Replicas, MaxReplicas)
	}
	if len(t.Members) > MaxMembers {
		return fmt.Errorf("%w: %d members, more than %d", ErrBadTable, len(t.Members), MaxMembers)
	}
	for i, m := range t.Members {
		if err := m.check(); err != nil {
			return fmt.Errorf("%w: %v", ErrBadTable, err)
		}
		if i > 0 && t.Members[i-1].ID >= m.ID {
			return fmt.Errorf("%w: members not sorted by id or duplicate at %q", ErrBadTable, m.ID)
		}
	}
	for s := range NumSlots {
		n := int(t.cnt[s])
		if n > t.Replicas+1 || (n > 0 && t.lost[s]) {
			return fmt.Errorf("%w: slot %d has %d owners (lost %v) with %d replicas", ErrBadTable, s, n, t.lost[s], t.Replicas)
		}
		for i := range n {
			o := t.ownRow(s)[i]
			if int(o) >= len(t.Members) || slices.Contains(t.ownRow(s)[:i], o) {
				return fmt.Errorf("%w: slot %d has a bad or repeated owner", ErrBadTable, s)
			}
		}
	}
	return nil
}

// Wire encoding, all integers unsigned varints unless noted:
//
//	"CHKT" format(byte=1) version replicas(byte)
//	members: count, then per member id addr rack (length-prefixed) state(byte) weight
//	ranges: count, then per range gap(slots skipped since the previous range)
//	        length-1 owners(count, 0 = lost) owner-index...
//
// Unassigned slots are the gaps between ranges.
const (
	tableMagic  = "CHKT"
	tableFormat = 1
)

// MarshalBinary encodes the table compactly: members, then slot ranges.
func (t *Table) MarshalBinary() ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(t.Members)*32)
	b = append(b, tableMagic...)
	b = append(b, tableFormat)
	b = binary.AppendUvarint(b, t.Version)
	b = append(b, byte(t.Replicas))
	b = binary.AppendUvarint(b, uint64(len(t.Members)))
	for _, m := range t.Members {
		for _, s := range []string{string(m.ID), m.Addr, m.Rack} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = append(b, byte(m.State))
		b = binary.AppendUvarint(b, uint64(m.Weight))
	}
	type run struct{ start, end int }
	var runs []run
	for s := 0; s < NumSlots; {
		e := t.runEnd(s)
		if t.cnt[s] > 0 || t.lost[s] {
			runs = append(runs, run{s, e})
		}
		s = e + 1
	}
	b = binary.AppendUvarint(b, uint64(len(runs)))
	next := 0
	for _, r := range runs {
		b = binary.AppendUvarint(b, uint64(r.start-next))
		b = binary.AppendUvarint(b, uint64(r.end-r.start))
		b = binary.AppendUvarint(b, uint64(t.cnt[r.start]))
		for _, o := range t.ownRow(r.start)[:t.cnt[r.start]] {
			b = binary.AppendUvarint(b, uint64(o))
		}
		next = r.end + 1
	}
	return b, nil
}

// UnmarshalBinary decodes a table written by MarshalBinary. Malformed input
// yields an error wrapping ErrBadTable, never a panic; t is left unchanged
// on error.
func (t *Table) UnmarshalBinary(data []byte) error {
	nt, err := decodeTable(data)
	if err != nil {
		return err
	}
	*t = *nt
	return nil
}

// decodeTable is UnmarshalBinary into a new table: a table is large, and
// a node decodes one for every change.
func decodeTable(data []byte) (*Table, error) {
	d := decoder{b: data}
	if len(data) < len(tableMagic)+1 || string(data[:len(tableMagic)]) != tableMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrBadTable)
	}
	d.b = d.b[len(tableMagic):]
	if f := d.byte(); f != tableFormat {
		return nil, fmt.Errorf("%w: unknown format %d", ErrBadTable, f)
	}
	version := d.uvarint()
	replicas := int(d.byte())
	if replicas > MaxReplicas {
		d.fail("replicas %d", replicas)
	}
	if d.err != nil {
		return nil, d.err
	}
	nt := newTable(version, replicas, nil)
	nm := d.count(MaxMembers, 5)
	nt.Members = make([]Member, 0, nm)
	for range nm {
		var m Member
		m.ID = NodeID(d.str())
		m.Addr = d.str()
		m.Rack = d.str()
		m.State = NodeState(d.byte())
		m.Weight = int(d.count(MaxWeight, 0))
		nt.Members = append(nt.Members, m)
	}
	nr := d.count(NumSlots, 3)
	next := 0
	for range nr {
		start := next + d.count(NumSlots-next, 0)
		end := start + d.count(NumSlots-1-start, 0)
		n := d.count(nt.Replicas+1, 0)
		if d.err != nil {
			break
		}
		var owners [maxCopies]uint16
		for i := range n {
			owners[i] = uint16(d.count(len(nt.Members)-1, 0))
		}
		for s := start; s <= end; s++ {
			copy(nt.ownRow(s), owners[:])
			nt.cnt[s] = uint8(n)
			nt.lost[s] = n == 0
		}
		next = end + 1
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := nt.check(); err != nil {
		return nil, err
	}
	return nt, nil
}

// decoder reads the wire encoding, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrBadTable}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a varint that must be at most max; when each item it counts
// takes at least minBytes, it must also fit the bytes left.
func (d *decoder) count(max, minBytes int) int {
	v := d.uvarint()
	if d.err == nil && (max < 0 || v > uint64(max) || (minBytes > 0 && v > uint64(len(d.b)/minBytes))) {
		d.fail("count %d out of range", v)
	}
	if d.err != nil {
		return 0
	}
	return int(v)
}

func (d *decoder) str() string {
	n := d.count(maxStringLen, 1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// RingConfig configures NextTable.
type RingConfig struct {
	// Replicas is R, the number of replicas of each slot besides its
	// primary, 0 to MaxReplicas.
	Replicas int
	// VirtualPoints is the number of ring points per unit of node weight;
	// zero means DefaultVirtualPoints.
	VirtualPoints int
	// CacheMode reassigns, empty, a slot whose every copy died; in database
	// mode (false) such a slot is marked lost.
	CacheMode bool
	// Hash places virtual points on the ring; nil means xxhash. Point j of
	// node id hashes the bytes id + "#" + decimal j, so a test can inject a
	// hash that makes placement readable.
	Hash func([]byte) uint64
}

// DefaultRingConfig returns the default: one replica, database mode,
// DefaultVirtualPoints points per weight, xxhash.
func DefaultRingConfig() RingConfig {
	return RingConfig{Replicas: 1, VirtualPoints: DefaultVirtualPoints, Hash: xxhash.Sum64}
}

// validate fills zero fields and rejects impossible settings.
func (c RingConfig) validate() (RingConfig, error) {
	if c.Replicas < 0 || c.Replicas > MaxReplicas {
		return c, fmt.Errorf("%w: replicas %d outside 0..%d", ErrBadRingConfig, c.Replicas, MaxReplicas)
	}
	if c.VirtualPoints < 0 || c.VirtualPoints > maxVirtualPoints {
		return c, fmt.Errorf("%w: virtual points %d outside 0..%d", ErrBadRingConfig, c.VirtualPoints, maxVirtualPoints)
	}
	if c.VirtualPoints == 0 {
		c.VirtualPoints = DefaultVirtualPoints
	}
	if c.Hash == nil {
		c.Hash = xxhash.Sum64
	}
	return c, nil
}

// ChangeKind says what a Change does.
type ChangeKind uint8

// Membership changes.
const (
	// ChangeJoin adds Change.Member as an up node and gives it its share of
	// copies, taken from the others. A down or leaving member with the same
	// id rejoins (its address, rack and weight are replaced).
	ChangeJoin ChangeKind = iota + 1
	// ChangeLeave starts a graceful leave: the member becomes leaving and
	// owns nothing in the next table; its copies are copied off it to the
	// others. The last live node cannot leave.
	ChangeLeave
	// ChangeFail marks the member down: each slot it led is led by one of
	// the slot's surviving replicas, and new replicas restore the copy
	// count. A slot with no surviving copy is lost (database mode) or
	// reassigned empty (cache mode).
	ChangeFail
	// ChangeRemove forgets a leaving or down member that owns nothing.
	ChangeRemove
	// ChangeSetWeight sets a live member's weight to Change.Member.Weight.
	ChangeSetWeight
	// ChangeRebalance changes no membership: it applies the config (such
	// as a new replica count) and assigns unassigned slots.
	ChangeRebalance
	// ChangeReassignLost gives every lost slot new, empty owners: the
	// operator accepts that their data is gone.
	ChangeReassignLost
)

// String returns the kind's name.
func (k ChangeKind) String() string {
	names := [...]string{"", "join", "leave", "fail", "remove", "set-weight", "rebalance", "reassign-lost"}
	if int(k) < len(names) && k != 0 {
		return names[k]
	}
	return "ChangeKind(" + strconv.Itoa(int(k)) + ")"
}

// Change is one membership change. Join uses the whole Member (its State is
// ignored); SetWeight uses ID and Weight; the others use only ID.
type Change struct {
	Kind   ChangeKind
	Member Member
}

// applyChange returns the member list after ch.
func applyChange(old []Member, ch Change) ([]Member, error) {
	ms := slices.Clone(old)
	id := ch.Member.ID
	i, found := findMember(ms, id)
	bad := func(format string, args ...any) ([]Member, error) {
		return nil, fmt.Errorf("%w: %s %q: "+format, append([]any{ErrBadChange, ch.Kind, id}, args...)...)
	}
	switch ch.Kind {
	case ChangeJoin:
		m := ch.Member
		m.State = NodeUp
		if m.Weight == 0 {
			m.Weight = 1
		}
		if err := m.check(); err != nil {
			return bad("%v", err)
		}
		switch {
		case found && ms[i].State.Live():
			return bad("already a live member")
		case found:
			ms[i] = m
		case len(ms) >= MaxMembers:
			return bad("table full (%d members)", MaxMembers)
		default:
			ms = slices.Insert(ms, i, m)
		}
	case ChangeLeave:
		if !found || !ms[i].State.Live() {
			return bad("not a live member")
		}
		others := 0
		for _, m := range ms {
			if m.State.Live() {
				others++
			}
		}
		if others < 2 {
			return bad("the last live node cannot leave")
		}
		ms[i].State = NodeLeaving
	case ChangeFail:
		if !found || ms[i].State == NodeDown {
			return bad("not a member that is alive")
		}
		ms[i].State = NodeDown
	case ChangeRemove:
		if !found || ms[i].State.Live() {
			return bad("not a leaving or down member")
		}
		ms = slices.Delete(ms, i, i+1)
	case ChangeSetWeight:
		if !found || !ms[i].State.Live() {
			return bad("not a live member")
		}
		if ch.Member.Weight < 1 || ch.Member.Weight > MaxWeight {
			return bad("weight %d outside 1..%d", ch.Member.Weight, MaxWeight)
		}
		ms[i].Weight = ch.Member.Weight
	case ChangeRebalance, ChangeReassignLost:
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrBadChange, ch.Kind)
	}
	return ms, nil
}

// NextTable returns the table that follows prev (nil means the empty table)
// after ch, with version prev.Version+1. It is a pure, deterministic
// function of its arguments.
//
// Placement starts from prev's assignment, never from scratch, so that:
//   - live nodes hold between floor and ceil of their share of copies, and
//     lead between floor and ceil of their share of slots (S*weight/total);
//     a rack holds at most one copy of a slot when there are at least R+1
//     racks, so a small rack's share is capped at S and the rest spread;
//   - copies only leave nodes that hold too many and only go to nodes that
//     hold too few: a join takes copies to the new node, a leave or failure
//     re-homes exactly the departed node's copies, nothing moves between
//     two nodes that both stay (unless the live racks' count crosses R+1,
//     which changes where copies may sit, or unequal weights make the
//     floor/ceil bounds of a few nodes shift against each other);
//   - when a node fails, each slot it led is led by a surviving replica;
//     roles are then rebalanced by swapping primary and replica among a
//     slot's owners, which moves no data.
//
// Where there is a choice, consistent hashing decides: every live node has
// VirtualPoints*weight points on a ring (Hash of its id), slot s sits at
// s<<50, a node prefers the slots closest before its points, and a homeless
// copy goes to the first node with room clockwise from its slot (bounded
// loads). Runs of slots keep one owner list where the rules allow it: a
// homeless replica copy goes to the node that took the previous slot's, a
// joining node takes neighbouring slots from one donor, and surplus copies
// dropped are replicas; so a table has about ten runs per node (CLUSTER
// SLOTS stays short, as Redis Cluster's), not the scattered arcs of a
// plain ring.
func NextTable(prev *Table, ch Change, cfg RingConfig) (*Table, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if prev == nil {
		prev = new(Table)
	}
	if err := prev.check(); err != nil {
		return nil, err
	}
	if prev.Version == ^uint64(0) {
		return nil, fmt.Errorf("%w: version exhausted", ErrBadTable)
	}
	ms, err := applyChange(prev.Members, ch)
	if err != nil {
		return nil, err
	}
	if ch.Kind == ChangeRemove {
		i, _ := findMember(prev.Members, ch.Member.ID)
		for s := range NumSlots {
			if slices.Contains(prev.ownRow(s)[:prev.cnt[s]], uint16(i)) {
				return nil, fmt.Errorf("%w: remove %q: it still owns slot %d", ErrBadChange, ch.Member.ID, s)
			}
		}
	}
	p := newPlanner(cfg, ms)
	p.load(prev, cfg.CacheMode || ch.Kind == ChangeReassignLost)
	p.targets()
	p.trim()
	p.fillAll()
	p.fixFills()
	p.balance()
	p.roles()
	return p.table(prev.Version + 1), nil
}

// NewTable returns the first table of a cluster: version 1, members (in any
// order; weight 0 means 1) all up, every slot given min(R+1, N) owners by
// the ring with bounded loads.
func NewTable(members []Member, cfg RingConfig) (*Table, error) {
	if _, err := cfg.validate(); err != nil {
		return nil, err
	}
	ms := slices.Clone(members)
	for i := range ms {
		ms[i].State = NodeUp
		if ms[i].Weight == 0 {
			ms[i].Weight = 1
		}
	}
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
	t := &Table{Replicas: cfg.Replicas, Members: ms}
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadChange, err)
	}
	return NextTable(t, Change{Kind: ChangeRebalance}, cfg)
}

// frac is the exact rational n/d, d > 0. Targets have n < 2^24 and
// d <= MaxMembers*MaxWeight = 2^18, so the products compared stay far below 2^63.
type frac struct{ n, d int64 }

func (f frac) floor() int {
	q := f.n / f.d
	if f.n%f.d != 0 && f.n < 0 {
		q--
	}
	return int(q)
}

func (f frac) ceil() int { return -frac{-f.n, f.d}.floor() }

func (f frac) sub(g frac) frac { return frac{f.n*g.d - g.n*f.d, f.d * g.d} }

// waterFill splits total among items in proportion to weight, no item over
// limit: items that would exceed it get exactly limit and the rest, rem, is
// split among the others, remW being their total weight.
func waterFill(weights []int64, total, limit int64) (capped []bool, rem, remW int64) {
	order := make([]int, len(weights))
	for i, w := range weights {
		order[i] = i
		remW += w
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(weights[b] - weights[a]) })
	capped = make([]bool, len(weights))
	rem = total
	for _, i := range order {
		if remW == 0 || rem*weights[i] <= limit*remW {
			break
		}
		capped[i] = true
		rem -= limit
		remW -= weights[i]
	}
	return capped, rem, remW
}

// A ring point packs a virtual point's position (high bits) with its node
// index (low pointNodeBits), so the ring sorts as plain integers; points
// that collide in the high bits are ordered by node index.
const pointNodeBits = 12 // MaxMembers = 1<<12

func ringPoint(pos uint64, node int) uint64 { return pos&^(1<<pointNodeBits-1) | uint64(node) }

// slotPos is slot s's position on the ring: slots are spread evenly, so a
// node's arc is a run of consecutive slots.
func slotPos(s int) uint64 { return uint64(s) << 50 }

// planner computes one next table. Node indices are positions in ms.
type planner struct {
	cfg    RingConfig
	ms     []Member
	live   []int // live node indices, ascending
	rack   []int // failure-domain class of each live node
	k      int   // copies per slot
	active bool  // at least k racks: a slot's copies sit on distinct racks
	seff   int   // slots that are not lost

	own     [NumSlots][maxCopies]int32
	cnt     [NumSlots]int
	flags   [NumSlots][maxCopies]uint8 // copyPinned, copyFilled
	promote [NumSlots]bool             // the slot's primary died and it has survivors
	lost    [NumSlots]bool
	fills   []int32 // slots holding a fill, ascending

	copies      []int
	gain        []int  // copies received in this round
	T           []frac // target copies
	lo, hi      []int  // floor and ceil of T
	under, over int    // nodes below lo, above hi

	gave   []int32    // take: the donor of each slot taken, -1 for none
	points [][]uint64 // per node sorted ring points, built lazily
	ring   []uint64   // every live node's ring points (see ringPoint), sorted, built lazily
}

func newPlanner(cfg RingConfig, ms []Member) *planner {
	p := &planner{cfg: cfg, ms: ms}
	n := len(ms)
	p.rack = make([]int, n)
	p.copies = make([]int, n)
	p.gain = make([]int, n)
	p.T = make([]frac, n)
	p.lo = make([]int, n)
	p.hi = make([]int, n)
	p.points = make([][]uint64, n)
	for i, m := range ms {
		if m.State.Live() {
			p.live = append(p.live, i)
		}
	}
	return p
}

// Copy flags.
const (
	copyPinned = 1 << iota // may not lead: the slot's primary died and a survivor must lead
	copyFilled             // created in this round (no data yet), so free to re-home
)

func (p *planner) owners(s int) []int32 { return p.own[s][:p.cnt[s]] }

func (p *planner) pinned(s, c int) bool { return p.flags[s][c]&copyPinned != 0 }

// load copies prev's owner lists, keeping live owners and deciding what
// happens to slots whose owners all left.
func (p *planner) load(prev *Table, reassignLost bool) {
	newIdx := make([]int32, len(prev.Members))
	j := 0
	for i, m := range prev.Members {
		for j < len(p.ms) && p.ms[j].ID < m.ID {
			j++
		}
		newIdx[i] = -1
		if j < len(p.ms) && p.ms[j].ID == m.ID {
			newIdx[i] = int32(j)
		}
	}
	canFill := len(p.live) > 0
	for s := range NumSlots {
		n, liveSource, primaryDied := 0, false, false
		for c := range int(prev.cnt[s]) {
			o := newIdx[prev.ownRow(s)[c]]
			switch {
			case o >= 0 && p.ms[o].State.Live():
				p.own[s][n] = o
				n++
				p.copies[o]++
			case o >= 0 && p.ms[o].State == NodeLeaving:
				liveSource = true
			case c == 0:
				primaryDied = true
			}
		}
		p.cnt[s] = n
		switch {
		case n > 0:
			p.promote[s] = primaryDied
		case prev.lost[s]:
			p.lost[s] = !reassignLost || !canFill
		case prev.cnt[s] > 0 && (!liveSource || !canFill):
			p.lost[s] = !p.cfg.CacheMode
		}
	}
}

// targets computes each live node's target copy count.
func (p *planner) targets() {
	p.seff = NumSlots
	for s := range NumSlots {
		if p.lost[s] {
			p.seff--
		}
	}
	if len(p.live) == 0 {
		return
	}
	p.k = min(p.cfg.Replicas+1, len(p.live))
	// Racks: named racks group nodes; a node without a rack is its own.
	byRack := slices.Clone(p.live)
	slices.SortStableFunc(byRack, func(a, b int) int { return strings.Compare(p.ms[a].Rack, p.ms[b].Rack) })
	var rackW []int64
	for x, i := range byRack {
		if x == 0 || p.ms[i].Rack == "" || p.ms[i].Rack != p.ms[byRack[x-1]].Rack {
			rackW = append(rackW, 0)
		}
		p.rack[i] = len(rackW) - 1
		rackW[len(rackW)-1] += int64(p.ms[i].Weight)
	}
	p.active = len(rackW) >= p.k
	total, limit := int64(p.seff)*int64(p.k), int64(p.seff)
	// Each rack (when active) or node (otherwise) holds at most one copy of
	// a slot; a node's target is its weight's part of what its group gets.
	if p.active {
		capped, rem, remW := waterFill(rackW, total, limit)
		for _, i := range p.live {
			w, r := int64(p.ms[i].Weight), p.rack[i]
			if capped[r] {
				p.T[i] = frac{limit * w, rackW[r]}
			} else {
				p.T[i] = frac{rem * w, remW}
			}
		}
	} else {
		ws := make([]int64, len(p.live))
		for x, i := range p.live {
			ws[x] = int64(p.ms[i].Weight)
		}
		capped, rem, remW := waterFill(ws, total, limit)
		for x, i := range p.live {
			if capped[x] {
				p.T[i] = frac{limit, 1}
			} else {
				p.T[i] = frac{rem * ws[x], remW}
			}
		}
	}
	for _, i := range p.live {
		p.lo[i], p.hi[i] = p.T[i].floor(), p.T[i].ceil()
		if p.copies[i] < p.lo[i] {
			p.under++
		}
		if p.copies[i] > p.hi[i] {
			p.over++
		}
	}
}

// roomCmp compares the room (target minus copies) of nodes a and b.
func (p *planner) roomCmp(a, b int) int {
	ra := p.T[a].n - int64(p.copies[a])*p.T[a].d
	rb := p.T[b].n - int64(p.copies[b])*p.T[b].d
	x, y := ra*p.T[b].d, rb*p.T[a].d
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// adjust changes node i's copy count by d, keeping under and over current.
func (p *planner) adjust(i, d int) {
	c := p.copies[i]
	if c < p.lo[i] {
		p.under--
	}
	if c > p.hi[i] {
		p.over--
	}
	c += d
	p.copies[i] = c
	if d > 0 {
		p.gain[i] += d
	}
	if c < p.lo[i] {
		p.under++
	}
	if c > p.hi[i] {
		p.over++
	}
}

// canPlace reports whether node r may hold a copy of slot s in place of
// owner j (-1: in addition to the owners).
func (p *planner) canPlace(s, r, j int) bool {
	for _, o := range p.owners(s) {
		if int(o) == j {
			continue
		}
		if int(o) == r || (p.active && p.rack[o] == p.rack[r]) {
			return false
		}
	}
	return true
}

// movable reports whether j's copy of slot s may move to another node. In
// a slot whose primary died, the last surviving copy stays: it must lead.
func (p *planner) movable(s, j int) bool {
	if !p.promote[s] || p.pinned(s, slices.Index(p.owners(s), int32(j))) {
		return true
	}
	survivors := 0
	for c := range p.cnt[s] {
		if !p.pinned(s, c) {
			survivors++
		}
	}
	return survivors > 1
}

func (p *planner) dropAt(s, c int) {
	p.adjust(int(p.own[s][c]), -1)
	n := p.cnt[s]
	copy(p.own[s][c:n], p.own[s][c+1:n])
	copy(p.flags[s][c:n], p.flags[s][c+1:n])
	p.flags[s][n-1] = 0
	p.cnt[s] = n - 1
}

// add gives r a new copy of slot s, a fill.
func (p *planner) add(s, r int, pinned bool) {
	n := p.cnt[s]
	p.own[s][n] = int32(r)
	p.flags[s][n] = copyFilled
	if pinned {
		p.flags[s][n] |= copyPinned
	}
	if n == 0 || p.flags[s][n-1]&copyFilled == 0 {
		p.fills = append(p.fills, int32(s))
	}
	p.cnt[s] = n + 1
	p.adjust(r, 1)
}

// replace gives j's copy of slot s, with its role, to r.
func (p *planner) replace(s, j, r int) {
	c := slices.Index(p.owners(s), int32(j))
	p.own[s][c] = int32(r)
	if p.promote[s] {
		p.flags[s][c] |= copyPinned // not a survivor: it may not lead
	}
	p.adjust(j, -1)
	p.adjust(r, 1)
}

// trim drops surplus copies (fewer live nodes or a smaller R) and, when
// racks are distinct, a copy sharing a rack with another of its slot.
func (p *planner) trim() {
	for s := range NumSlots {
		for p.cnt[s] > p.k {
			best := -1
			for c := range p.cnt[s] {
				if best < 0 || p.dropBefore(s, c, best) {
					best = c
				}
			}
			p.dropAt(s, best)
		}
		for p.active {
			dup := -1
			for c := range p.cnt[s] {
				if p.sharesRack(s, c) && (dup < 0 || p.dropBefore(s, c, dup)) {
					dup = c
				}
			}
			if dup < 0 {
				break
			}
			p.dropAt(s, dup)
		}
	}
}

// dropBefore reports whether copy c of slot s is a better copy to drop than
// copy d: one sharing a rack first, then a replica before the primary, then
// the node with the least room.
func (p *planner) dropBefore(s, c, d int) bool {
	if dc, dd := p.sharesRack(s, c), p.sharesRack(s, d); dc != dd {
		return dc
	}
	if c == 0 || d == 0 { // keep the primary: the leads stay balanced
		return d == 0
	}
	return p.roomCmp(int(p.own[s][c]), int(p.own[s][d])) <= 0
}

func (p *planner) sharesRack(s, c int) bool {
	if !p.active {
		return false
	}
	for x, o := range p.owners(s) {
		if x != c && p.rack[o] == p.rack[p.own[s][c]] {
			return true
		}
	}
	return false
}

// nodePoints returns node i's ring points, sorted.
func (p *planner) nodePoints(i int) []uint64 {
	if p.points[i] == nil {
		n := p.cfg.VirtualPoints * p.ms[i].Weight
		pts := make([]uint64, n)
		key := make([]byte, 0, len(p.ms[i].ID)+8)
		for j := range n {
			key = append(key[:0], p.ms[i].ID...)
			key = append(key, '#')
			key = strconv.AppendInt(key, int64(j), 10)
			pts[j] = p.cfg.Hash(key)
		}
		slices.Sort(pts)
		p.points[i] = pts
	}
	return p.points[i]
}

// globalRing returns every live node's points, sorted.
func (p *planner) globalRing() []uint64 {
	if p.ring == nil {
		for _, i := range p.live {
			for _, pos := range p.nodePoints(i) {
				p.ring = append(p.ring, ringPoint(pos, i))
			}
		}
		slices.Sort(p.ring)
	}
	return p.ring
}

// walk returns the first node clockwise from slot s that may take a copy of
// it and satisfies ok; after walkLimit points it takes the qualifying node
// with the most room instead. -1 when there is none.
func (p *planner) walk(s int, ok func(i int) bool) int {
	ring := p.globalRing()
	start, _ := slices.BinarySearch(ring, slotPos(s))
	steps := min(len(ring), walkLimit)
	for x := range steps {
		i := int(ring[(start+x)%len(ring)] & (1<<pointNodeBits - 1))
		if ok(i) && p.canPlace(s, i, -1) {
			return i
		}
	}
	if steps == len(ring) {
		return -1
	}
	best := -1
	for _, i := range p.live {
		if ok(i) && p.canPlace(s, i, -1) && (best < 0 || p.roomCmp(i, best) > 0) {
			best = i
		}
	}
	return best
}

// fillAll gives every slot that is not lost its k copies: a homeless copy
// goes to a node below its share first, then to one with room.
func (p *planner) fillAll() {
	if len(p.live) == 0 {
		return
	}
	underLo := func(i int) bool { return p.copies[i] < p.lo[i] }
	belowHi := func(i int) bool { return p.copies[i] < p.hi[i] }
	anyNode := func(int) bool { return true }
	// A node that took a copy of the previous slot takes this slot's too
	// where the same rule allows it, so a run of homeless slots lands on
	// few runs of one owner set instead of alternating at every ring point
	// and every change of room (CLUSTER SLOTS stays short).
	// Stickiness must not paint the fill into a corner: a node that needs
	// a copy of every slot still to fill where it may hold one, to reach
	// its floor, takes this one first.
	var prev, cur []int
	sticky := func(s int, ok func(i int) bool) int {
		if p.cnt[s] == 0 {
			return p.walk(s, ok) // a slot's first copy follows the ring
		}
		for _, i := range prev {
			if ok(i) && p.canPlace(s, i, -1) {
				return i
			}
		}
		return p.walk(s, ok)
	}
	needs := func(s int) bool { return !p.lost[s] && p.cnt[s] < p.k }
	// placeable appends to dst the nodes that may take a copy of slot s.
	placeable := func(s int, dst []int) []int {
		for _, i := range p.live {
			if p.canPlace(s, i, -1) {
				dst = append(dst, i)
			}
		}
		return dst
	}
	var here []int                  // nodes that may take a copy of the slot being filled
	avail := make([]int, len(p.ms)) // slots still to fill, this one included, where i may go
	for s := range NumSlots {
		if needs(s) {
			here = placeable(s, here[:0])
			for _, i := range here {
				avail[i]++
			}
		}
	}
	urgent := func(s int) int {
		must := func(i int) bool { return p.lo[i]-p.copies[i] >= avail[i] && p.canPlace(s, i, -1) }
		for _, i := range prev {
			if must(i) {
				return i
			}
		}
		best := -1
		for _, i := range p.live {
			if must(i) && (best < 0 || p.roomCmp(i, best) > 0) {
				best = i
			}
		}
		return best
	}
	for s := range NumSlots {
		cur, here = cur[:0], here[:0]
		if needs(s) {
			here = placeable(s, here)
		}
		for needs(s) {
			r := -1
			if p.under > 0 {
				if r = urgent(s); r < 0 {
					r = sticky(s, underLo)
				}
			}
			if r < 0 {
				r = sticky(s, belowHi)
			}
			if r < 0 && p.cnt[s] > 0 {
				r = sticky(s, anyNode) // every node that may is full: balance moves the excess
			}
			if r < 0 {
				r = p.mostRoom(s)
			}
			if r < 0 {
				r = p.walk(s, anyNode) // unreachable: k <= live nodes and racks
			}
			if r < 0 {
				break
			}
			p.add(s, r, p.promote[s])
			cur = append(cur, r)
		}
		prev, cur = cur, prev
		for _, i := range here {
			avail[i]--
		}
	}
}

// fixFills re-homes this round's new copies so that no node stays below
// its floor or above its ceiling while another placement of the new copies
// avoids it. A new copy holds no data yet, so re-homing it moves nothing;
// the greedy fill alone can paint itself into a corner when racks or
// existing owners rule nodes out.
func (p *planner) fixFills() {
	if len(p.fills) == 0 {
		return
	}
	seen := make([]bool, len(p.ms))
	via := make([]int32, len(p.ms))
	from := make([]int32, len(p.ms))
	for _, u := range p.live {
		for p.copies[u] < p.lo[u] && p.fillPath(u, true, seen, via, from) {
		}
	}
	for _, u := range p.live {
		for p.copies[u] > p.hi[u] && p.fillPath(u, false, seen, via, from) {
		}
	}
}

// fillPath finds a shortest chain of new-copy hand-overs that gives node u
// one more copy (take) or one fewer, ending at a node that stays within
// its bounds, and applies it. Node x was reached through slot via[x], whose
// new copy passes between x and from[x].
func (p *planner) fillPath(u int, take bool, seen []bool, via, from []int32) bool {
	clear(seen)
	seen[u] = true
	queue := []int{u}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		for _, s32 := range p.fills {
			s := int(s32)
			for c := range p.cnt[s] {
				if p.flags[s][c]&copyFilled == 0 {
					continue
				}
				v := int(p.own[s][c])
				if take {
					// a takes s's new copy from v.
					if seen[v] || !p.canPlace(s, a, v) {
						continue
					}
					seen[v], via[v], from[v] = true, s32, int32(a)
					if p.copies[v] > p.lo[v] {
						return p.applyPath(u, v, via, from, true)
					}
					queue = append(queue, v)
					continue
				}
				// a gives its new copy of s to some w.
				if v != a {
					continue
				}
				for _, w := range p.live {
					if seen[w] || !p.canPlace(s, w, a) {
						continue
					}
					seen[w], via[w], from[w] = true, s32, int32(a)
					if p.copies[w] < p.hi[w] {
						return p.applyPath(u, w, via, from, false)
					}
					queue = append(queue, w)
				}
			}
		}
	}
	return false
}

// applyPath hands copies over along a chain from end back to u (x passes
// slot via[x] to or from from[x]), checking each step against the owners
// as they are by then; a step that became invalid (two steps in one slot)
// undoes the chain.
func (p *planner) applyPath(u, end int, via, from []int32, take bool) bool {
	type step struct {
		s, giver, taker int
		flags           uint8 // of the copy before the step
	}
	var done []step
	for x := end; x != u; x = int(from[x]) {
		st := step{s: int(via[x]), giver: x, taker: int(from[x])} // take: from[x] takes from x
		if !take {
			st.giver, st.taker = st.taker, st.giver
		}
		c := slices.Index(p.owners(st.s), int32(st.giver))
		if c < 0 || !p.movable(st.s, st.giver) || !p.canPlace(st.s, st.taker, st.giver) {
			for i := len(done) - 1; i >= 0; i-- {
				d := done[i]
				p.replace(d.s, d.taker, d.giver)
				p.flags[d.s][slices.Index(p.owners(d.s), int32(d.giver))] = d.flags
			}
			return false
		}
		st.flags = p.flags[st.s][c]
		p.replace(st.s, st.giver, st.taker)
		done = append(done, st)
	}
	return true
}

func (p *planner) mostRoom(s int) int {
	best := -1
	for _, i := range p.live {
		if p.canPlace(s, i, -1) && (best < 0 || p.roomCmp(i, best) > 0) {
			best = i
		}
	}
	return best
}

// pref returns the slots in node r's order of preference: by distance to
// r's next ring point clockwise, then by slot.
func (p *planner) pref(r int) []uint64 {
	pts := p.nodePoints(r)
	keys := make([]uint64, NumSlots)
	x := 0
	for s := range NumSlots {
		pos := slotPos(s)
		for x < len(pts) && pts[x] < pos {
			x++
		}
		next := pts[0]
		if x < len(pts) {
			next = pts[x]
		}
		keys[s] = (next-pos)>>14<<14 | uint64(s)
	}
	slices.Sort(keys)
	return keys
}

// take moves copies to r in r's order of preference, each from the owner
// with the least room among those donor accepts, while more reports true.
func (p *planner) take(r int, donor func(j int) bool, more func() bool) int {
	moved := 0
	if p.gave == nil {
		p.gave = make([]int32, NumSlots)
	}
	for s := range p.gave {
		p.gave[s] = -1
	}
	for _, key := range p.pref(r) {
		if !more() {
			break
		}
		s := int(key & (NumSlots - 1))
		// The donor of a neighbouring slot r took in this call gives
		// again where it can, so r's arcs stay runs of one owner set.
		last := p.gave[(s+1)%NumSlots]
		if last < 0 {
			last = p.gave[(s+NumSlots-1)%NumSlots]
		}
		best := -1
		for _, o := range p.owners(s) {
			j := int(o)
			if j == r {
				best = -1
				break
			}
			if donor(j) && p.movable(s, j) && p.canPlace(s, r, j) && (best < 0 || best != int(last) && (j == int(last) || p.roomCmp(j, best) < 0)) {
				best = j
			}
		}
		if best >= 0 {
			p.replace(s, best, r)
			p.gave[s] = int32(best)
			moved++
		}
	}
	return moved
}

// balance is the bounded-load pass: it moves copies from nodes above their
// share to nodes below it until every node holds between lo and hi. Nodes
// below lo take from nodes above hi while both exist (each move fixes a
// shortfall and an excess), then from nodes above lo; leftover excess goes
// to nodes with room, those that gained copies in this round first (a
// joining node, not a bystander). So the count of moves is the minimum the
// bounds force. When no direct move fits (owners or racks rule it out), a
// chain of moves through other nodes does.
func (p *planner) balance() {
	if len(p.live) == 0 {
		return
	}
	stuck := make([]bool, len(p.ms)) // cannot reach lo
	full := make([]bool, len(p.ms))  // cannot take from any node above hi
	aboveHi := func(j int) bool { return p.copies[j] > p.hi[j] }
	aboveLo := func(j int) bool { return p.copies[j] > p.lo[j] }
	underLo := func(i int) bool { return p.copies[i] < p.lo[i] && !stuck[i] }
	belowHi := func(i int) bool { return p.copies[i] < p.hi[i] && !full[i] }
	// best returns the node ok accepts with the most room; with gainFirst,
	// nodes that gained copies in this round come first.
	best := func(ok func(i int) bool, gainFirst bool) int {
		r := -1
		for _, i := range p.live {
			if !ok(i) {
				continue
			}
			if r < 0 {
				r = i
			} else if gi, gr := p.gain[i] > 0, p.gain[r] > 0; gainFirst && gi != gr {
				if gi {
					r = i
				}
			} else if p.roomCmp(i, r) > 0 {
				r = i
			}
		}
		return r
	}
	for guard := 0; guard < 8*len(p.live)+8 && (p.under > 0 || p.over > 0); guard++ {
		if p.under > 0 && p.over > 0 {
			progress := false
			for _, r := range p.live {
				if underLo(r) && p.over > 0 &&
					p.take(r, aboveHi, func() bool { return p.copies[r] < p.lo[r] && p.over > 0 }) > 0 {
					progress = true
				}
			}
			if progress {
				continue
			}
		}
		if r := best(underLo, false); r >= 0 {
			p.take(r, aboveLo, func() bool { return p.copies[r] < p.lo[r] })
			for p.copies[r] < p.lo[r] && p.chain(r, true) {
			}
			stuck[r] = p.copies[r] < p.lo[r]
			continue
		}
		if p.over == 0 {
			return
		}
		if r := best(belowHi, true); r >= 0 {
			full[r] = p.take(r, aboveHi, func() bool { return p.copies[r] < p.hi[r] && p.over > 0 }) == 0
			continue
		}
		progress := false
		for _, u := range p.live {
			for p.copies[u] > p.hi[u] && p.chain(u, false) {
				progress = true
			}
		}
		if !progress {
			return
		}
	}
}

// chain finds a shortest chain of moves that gives node u one more copy
// (take) or one fewer, ending at a node that stays within its bounds, and
// applies it: u takes a copy from b1, b1 from b2, ... (or gives).
func (p *planner) chain(u int, take bool) bool {
	n := len(p.ms)
	slotsOf := make([][]int32, n)
	for s := range NumSlots {
		for _, o := range p.owners(s) {
			slotsOf[o] = append(slotsOf[o], int32(s))
		}
	}
	seen := make([]bool, n)
	via, from := make([]int32, n), make([]int32, n)
	seen[u] = true
	queue := []int{u}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		for _, b := range p.live {
			if seen[b] {
				continue
			}
			giver, taker, src := b, a, slotsOf[b]
			if !take {
				giver, taker, src = a, b, slotsOf[a]
			}
			s := slices.IndexFunc(src, func(s int32) bool { return p.movable(int(s), giver) && p.canPlace(int(s), taker, giver) })
			if s < 0 {
				continue
			}
			seen[b], via[b], from[b] = true, src[s], int32(a)
			if (take && p.copies[b] > p.lo[b]) || (!take && p.copies[b] < p.hi[b]) {
				return p.applyPath(u, b, via, from, take)
			}
			queue = append(queue, b)
		}
	}
	return false
}

// roles picks each slot's primary among its owners so that every node leads
// floor or ceil of its share of slots and, where the copy counts allow,
// holds floor or ceil of its share of replicas. Swapping roles within a
// slot moves no data. A pinned copy (no data, in a slot whose primary died)
// never leads while a survivor can.
func (p *planner) roles() {
	n := len(p.ms)
	prim := make([]int, n)
	slotsOf := make([][]int32, n)
	for s := range NumSlots {
		if p.cnt[s] == 0 {
			continue
		}
		if p.pinned(s, 0) {
			for c := 1; c < p.cnt[s]; c++ {
				if !p.pinned(s, c) {
					p.swap(s, 0, c)
					break
				}
			}
		}
		prim[p.own[s][0]]++
		for _, o := range p.owners(s) {
			slotsOf[o] = append(slotsOf[o], int32(s))
		}
	}
	var W int64
	for _, i := range p.live {
		W += int64(p.ms[i].Weight)
	}
	if W == 0 {
		return
	}
	plo, phi := make([]int, n), make([]int, n)
	slo, shi := make([]int, n), make([]int, n)
	for _, i := range p.live {
		share := frac{int64(p.seff) * int64(p.ms[i].Weight), W}
		plo[i], phi[i] = share.floor(), share.ceil()
		rt := p.T[i].sub(share) // replica share
		slo[i] = max(plo[i], p.copies[i]-rt.ceil())
		shi[i] = min(phi[i], p.copies[i]-rt.floor())
		if slo[i] > shi[i] {
			slo[i], shi[i] = plo[i], phi[i]
		}
	}
	p.balanceRoles(prim, slotsOf, slo, shi)
	p.balanceRoles(prim, slotsOf, plo, phi)
}

// swap exchanges copies c and d of slot s (roles and pins travel with them).
func (p *planner) swap(s, c, d int) {
	p.own[s][c], p.own[s][d] = p.own[s][d], p.own[s][c]
	p.flags[s][c], p.flags[s][d] = p.flags[s][d], p.flags[s][c]
}

// balanceRoles moves primary roles until every live node leads between lo
// and hi slots where possible: first direct swaps, then augmenting paths
// (a leads s1 where b is a replica, b leads s2 where c is a replica, ...).
func (p *planner) balanceRoles(prim []int, slotsOf [][]int32, lo, hi []int) {
	for s := range NumSlots {
		if p.cnt[s] < 2 {
			continue
		}
		a := p.own[s][0]
		if prim[a] <= lo[a] {
			continue
		}
		pick := -1
		for c := 1; c < p.cnt[s]; c++ {
			b := p.own[s][c]
			if p.pinned(s, c) {
				continue
			}
			if prim[b] < lo[b] {
				pick = c
				break
			}
			if pick < 0 && prim[a] > hi[a] && prim[b] < hi[b] {
				pick = c
			}
		}
		if pick > 0 {
			prim[a]--
			prim[p.own[s][pick]]++
			p.swap(s, 0, pick)
		}
	}
	n := len(p.ms)
	seen := make([]bool, n)
	via := make([]int32, n) // slot through which a node was reached
	from := make([]int32, n)
	for _, u := range p.live {
		for prim[u] > hi[u] || prim[u] < lo[u] {
			if !p.augment(u, prim[u] > hi[u], prim, slotsOf, lo, hi, seen, via, from) {
				break
			}
		}
	}
}

// augment finds a shortest chain of role swaps that takes one primary role
// off u (give) or gives one to u, ending at a node that stays within
// bounds, and applies it.
func (p *planner) augment(u int, give bool, prim []int, slotsOf [][]int32, lo, hi []int, seen []bool, via, from []int32) bool {
	clear(seen)
	seen[u] = true
	queue := []int{u}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		for _, s32 := range slotsOf[a] {
			s := int(s32)
			if give {
				if int(p.own[s][0]) != a {
					continue
				}
				for c := 1; c < p.cnt[s]; c++ {
					b := int(p.own[s][c])
					if p.pinned(s, c) || seen[b] {
						continue
					}
					seen[b], via[b], from[b] = true, s32, int32(a)
					if prim[b] < hi[b] {
						for x := b; x != u; x = int(from[x]) {
							sl := int(via[x])
							p.swap(sl, 0, slices.Index(p.owners(sl), int32(x)))
						}
						prim[u]--
						prim[b]++
						return true
					}
					queue = append(queue, b)
				}
				continue
			}
			c := slices.Index(p.owners(s), int32(a))
			if c == 0 || p.pinned(s, c) {
				continue
			}
			b := int(p.own[s][0])
			if seen[b] {
				continue
			}
			seen[b], via[b], from[b] = true, s32, int32(a)
			if prim[b] > lo[b] {
				for x := b; x != u; x = int(from[x]) {
					sl := int(via[x])
					p.swap(sl, 0, slices.Index(p.owners(sl), from[x]))
				}
				prim[b]--
				prim[u]++
				return true
			}
			queue = append(queue, b)
		}
	}
	return false
}

// table builds the result.
func (p *planner) table(version uint64) *Table {
	t := newTable(version, p.cfg.Replicas, p.ms)
	for s := range NumSlots {
		t.cnt[s] = uint8(p.cnt[s])
		t.lost[s] = p.lost[s]
		row := t.ownRow(s)
		for c, o := range p.owners(s) {
			row[c] = uint16(o)
		}
	}
	return t
}

// Move is one slot copy to create: To must receive a copy of Slot.
type Move struct {
	Slot int
	// From is the node whose copy To replaces; it may be leaving (copy from
	// it) or down (copy from a surviving owner instead). Empty when the slot
	// only gained a copy; migration then copies from a surviving owner.
	From NodeID
	To   NodeID
	Role Role // To's role in the new table
}

// NodeFlow counts the copies a node receives and gives away in a diff.
type NodeFlow struct {
	ID      NodeID
	In, Out int
}

// DiffSummary sums up a diff.
type DiffSummary struct {
	Moves      int        // copies created (len of the move list)
	Slots      int        // slots with at least one move
	Dropped    int        // copies removed without a replacement
	Promotions int        // slots led by a node that already held a copy, other than the old primary
	Nodes      []NodeFlow // nodes with copies in or out, sorted by ID
}

// Diff lists the copy moves that turn table a into table b (nil means the
// empty table), in slot order, with a summary. Role changes among a slot's
// existing owners are not moves; they are counted as promotions.
func Diff(a, b *Table) ([]Move, DiffSummary) {
	if a == nil {
		a = new(Table)
	}
	if b == nil {
		b = new(Table)
	}
	// Union of member ids, to count flows per node.
	var ids []NodeID
	ai, bi := make([]int, len(a.Members)), make([]int, len(b.Members))
	for x, y := 0, 0; x < len(a.Members) || y < len(b.Members); {
		switch {
		case y == len(b.Members) || (x < len(a.Members) && a.Members[x].ID < b.Members[y].ID):
			ai[x] = len(ids)
			ids = append(ids, a.Members[x].ID)
			x++
		case x == len(a.Members) || b.Members[y].ID < a.Members[x].ID:
			bi[y] = len(ids)
			ids = append(ids, b.Members[y].ID)
			y++
		default:
			ai[x], bi[y] = len(ids), len(ids)
			ids = append(ids, a.Members[x].ID)
			x, y = x+1, y+1
		}
	}
	in, out := make([]int, len(ids)), make([]int, len(ids))
	var moves []Move
	var sum DiffSummary
	var A, B, removed [maxCopies]int
	for s := range NumSlots {
		na, nb := int(a.cnt[s]), int(b.cnt[s])
		for c := range na {
			A[c] = ai[a.ownRow(s)[c]]
		}
		for c := range nb {
			B[c] = bi[b.ownRow(s)[c]]
		}
		nr := 0
		for _, o := range A[:na] {
			if !slices.Contains(B[:nb], o) {
				removed[nr] = o
				nr++
			}
		}
		added := 0
		for c, o := range B[:nb] {
			if slices.Contains(A[:na], o) {
				continue
			}
			m := Move{Slot: s, To: ids[o], Role: RoleReplica}
			if c == 0 {
				m.Role = RolePrimary
			}
			if added < nr {
				m.From = ids[removed[added]]
				out[removed[added]]++
			}
			in[o]++
			added++
			moves = append(moves, m)
		}
		if added > 0 {
			sum.Slots++
		}
		sum.Dropped += max(0, nr-added)
		if na > 0 && nb > 0 && A[0] != B[0] && slices.Contains(A[1:na], B[0]) {
			sum.Promotions++
		}
	}
	sum.Moves = len(moves)
	for x, id := range ids {
		if in[x] > 0 || out[x] > 0 {
			sum.Nodes = append(sum.Nodes, NodeFlow{ID: id, In: in[x], Out: out[x]})
		}
	}
	return moves, sum
}
