// Ring unit tests: hand-checked small tables under a readable hash, changes that must fail, the wire encoding, Diff and a golden determinism check.

package chkv

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"
)

// readableHash places point 0 of each named node at the given slot's ring
// position, so a test can say "b sits just after slot 8192". Other keys
// hash normally.
func readableHash(at map[NodeID]int) func([]byte) uint64 {
	return func(key []byte) uint64 {
		for id, slot := range at {
			if string(key) == string(id)+"#0" {
				return slotPos(slot)
			}
		}
		return xxhash.Sum64(key)
	}
}

// readableConfig is a ring with one point per node at the given slots.
func readableConfig(replicas int, at map[NodeID]int) RingConfig {
	return RingConfig{Replicas: replicas, VirtualPoints: 1, Hash: readableHash(at)}
}

func mustNext(t *testing.T, prev *Table, ch Change, cfg RingConfig) *Table {
	t.Helper()
	next, err := NextTable(prev, ch, cfg)
	if err != nil {
		t.Fatalf("NextTable(%s %s): %v", ch.Kind, ch.Member.ID, err)
	}
	return next
}

func members(ids ...NodeID) []Member {
	ms := make([]Member, len(ids))
	for i, id := range ids {
		ms[i] = Member{ID: id, Addr: "host-" + string(id) + ":7000"}
	}
	return ms
}

// rangesOf renders a table's ranges as "start-end:owner,owner" strings.
func rangesOf(t *Table) []string {
	var out []string
	for _, r := range t.Ranges() {
		s := fmt.Sprintf("%d-%d:", r.Start, r.End)
		if r.Lost {
			s += "LOST"
		}
		for i, o := range r.Owners {
			if i > 0 {
				s += ","
			}
			s += string(o)
		}
		out = append(out, s)
	}
	return out
}

func TestRingHandChecked(t *testing.T) {
	// Four nodes a quarter of the ring apart; each owns the slots up to its point.
	at := map[NodeID]int{"a": 4096, "b": 8192, "c": 12288, "d": 0, "e": 2048}
	cfg := readableConfig(0, at)
	first, err := NewTable(members("a", "b", "c", "d"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0-0:d", "1-4096:a", "4097-8192:b", "8193-12288:c", "12289-16383:d"}
	if got := rangesOf(first); !reflect.DeepEqual(got, want) {
		t.Fatalf("first table ranges\n got %v\nwant %v", got, want)
	}
	if first.Version != 1 {
		t.Fatalf("first version %d, want 1", first.Version)
	}

	// e joins at slot 2048: it needs floor(16384/5) = 3276 slots and every
	// other node sheds 819 down to 3277, each from the end of its arc
	// nearest before e's point: a from 2048 down, then d (slot 0, then
	// from 16383 down), c and b.
	next := mustNext(t, first, Change{Kind: ChangeJoin, Member: Member{ID: "e"}}, cfg)
	want = []string{"0-0:e", "1-1229:a", "1230-2048:e", "2049-4096:a", "4097-7373:b", "7374-8192:e",
		"8193-11469:c", "11470-12288:e", "12289-15565:d", "15566-16383:e"}
	if got := rangesOf(next); !reflect.DeepEqual(got, want) {
		t.Fatalf("after e joins\n got %v\nwant %v", got, want)
	}
	moves, sum := Diff(first, next)
	if sum.Moves != 3276 || sum.Slots != 3276 || len(moves) != 3276 {
		t.Fatalf("join moved %d copies in %d slots, want 3276", sum.Moves, sum.Slots)
	}
	wantFlows := []NodeFlow{{"a", 0, 819}, {"b", 0, 819}, {"c", 0, 819}, {"d", 0, 819}, {"e", 3276, 0}}
	if !reflect.DeepEqual(sum.Nodes, wantFlows) {
		t.Fatalf("flows %v, want %v", sum.Nodes, wantFlows)
	}
	if m := moves[0]; m != (Move{Slot: 0, From: "d", To: "e", Role: RolePrimary}) {
		t.Fatalf("first move %+v", m)
	}

	// e leaves again: its slots go back to the nodes below their share,
	// each to the first such node clockwise.
	back := mustNext(t, next, Change{Kind: ChangeLeave, Member: Member{ID: "e"}}, cfg)
	if p, r := back.Load("e"); p+r != 0 {
		t.Fatalf("leaving e still owns %d+%d", p, r)
	}
	if m, _ := back.Member("e"); m.State != NodeLeaving {
		t.Fatalf("e is %s, want leaving", m.State)
	}
	for _, id := range []NodeID{"a", "b", "c", "d"} {
		if p, _ := back.Load(id); p != 4096 {
			t.Errorf("%s leads %d after e left, want 4096", id, p)
		}
	}
	if _, sum := Diff(next, back); sum.Moves != 3276 {
		t.Fatalf("leave moved %d, want e's 3276", sum.Moves)
	}
	gone := mustNext(t, back, Change{Kind: ChangeRemove, Member: Member{ID: "e"}}, cfg)
	if _, ok := gone.Member("e"); ok || gone.Version != back.Version+1 {
		t.Fatalf("e still a member after remove (version %d)", gone.Version)
	}
}

func TestRingFailure(t *testing.T) {
	at := map[NodeID]int{"a": 4096, "b": 8192, "c": 12288, "d": 0}
	ids := []NodeID{"a", "b", "c", "d"}

	t.Run("replicas promote", func(t *testing.T) {
		cfg := readableConfig(1, at)
		prev, err := NewTable(members(ids...), cfg)
		if err != nil {
			t.Fatal(err)
		}
		next := mustNext(t, prev, Change{Kind: ChangeFail, Member: Member{ID: "b"}}, cfg)
		moves, _ := Diff(prev, next)
		for s := range NumSlots {
			was, now := prev.Owners(s), next.Owners(s)
			if len(now) != 2 || slices.Contains(now, "b") {
				t.Fatalf("slot %d owners %v after b failed", s, now)
			}
			if was[0] == "b" && now[0] != was[1] {
				t.Fatalf("slot %d: b led, replica %s should lead, got %v", s, was[1], now)
			}
		}
		for _, m := range moves {
			if m.From != "b" || m.Role != RoleReplica {
				t.Fatalf("move %+v: only b's copies move, as new replicas", m)
			}
		}
		if p, _ := prev.Load("b"); p == 0 {
			t.Fatal("b led nothing; the test proves nothing")
		}
	})

	t.Run("R=0 database mode loses b's slots", func(t *testing.T) {
		cfg := readableConfig(0, at)
		prev, _ := NewTable(members(ids...), cfg)
		next := mustNext(t, prev, Change{Kind: ChangeFail, Member: Member{ID: "b"}}, cfg)
		lost := 0
		for s := range NumSlots {
			if next.Lost(s) != (prev.Owners(s)[0] == "b") {
				t.Fatalf("slot %d lost=%v, was led by %v", s, next.Lost(s), prev.Owners(s))
			}
			if next.Lost(s) {
				lost++
				if next.Owners(s) != nil {
					t.Fatalf("lost slot %d has owners %v", s, next.Owners(s))
				}
			}
		}
		if lost != 4096 {
			t.Fatalf("%d slots lost, want b's 4096", lost)
		}
		// They stay lost through other changes, until the operator reassigns them.
		later := mustNext(t, next, Change{Kind: ChangeJoin, Member: Member{ID: "e"}}, cfg)
		if !later.Lost(5000) {
			t.Fatal("lost slot 5000 came back by itself")
		}
		for _, id := range []NodeID{"a", "c", "d", "e"} {
			if p, _ := later.Load(id); p != 3072 {
				t.Errorf("%s leads %d of the 12288 live slots, want 3072", id, p)
			}
		}
		fixed := mustNext(t, later, Change{Kind: ChangeReassignLost}, cfg)
		if fixed.Lost(5000) || len(fixed.Owners(5000)) != 1 {
			t.Fatalf("slot 5000 after reassign: lost=%v owners=%v", fixed.Lost(5000), fixed.Owners(5000))
		}
	})

	t.Run("R=0 cache mode reassigns b's slots empty", func(t *testing.T) {
		cfg := readableConfig(0, at)
		cfg.CacheMode = true
		prev, _ := NewTable(members(ids...), cfg)
		next := mustNext(t, prev, Change{Kind: ChangeFail, Member: Member{ID: "b"}}, cfg)
		for s := range NumSlots {
			if next.Lost(s) || len(next.Owners(s)) != 1 {
				t.Fatalf("slot %d: lost=%v owners=%v", s, next.Lost(s), next.Owners(s))
			}
		}
		_, sum := Diff(prev, next)
		if sum.Moves != 4096 {
			t.Fatalf("%d copies reassigned, want b's 4096", sum.Moves)
		}
	})
}

func TestRingRacksAndWeights(t *testing.T) {
	t.Run("one copy per rack", func(t *testing.T) {
		ms := members("a1", "a2", "b1", "b2", "b3")
		for i := range ms {
			ms[i].Rack = string(ms[i].ID[:1])
		}
		tb, err := NewTable(ms, RingConfig{Replicas: 1})
		if err != nil {
			t.Fatal(err)
		}
		for s := range NumSlots {
			o := tb.Owners(s)
			if len(o) != 2 || o[0][0] == o[1][0] {
				t.Fatalf("slot %d owners %v share a rack", s, o)
			}
		}
		// Two racks and two copies: each rack holds every slot once.
		for _, c := range []struct {
			id   NodeID
			want int
		}{{"a1", 8192}, {"a2", 8192}, {"b1", 5461}, {"b2", 5461}, {"b3", 5461}} {
			p, r := tb.Load(c.id)
			if p+r < c.want || p+r > c.want+1 {
				t.Errorf("%s holds %d copies, want %d or one more", c.id, p+r, c.want)
			}
		}
	})
	t.Run("weight 3 takes three shares", func(t *testing.T) {
		ms := members("light", "heavy")
		ms[1].Weight = 3
		tb, err := NewTable(ms, RingConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := tb.Load("heavy"); p != 12288 {
			t.Fatalf("heavy leads %d, want 12288", p)
		}
		lighter := mustNext(t, tb, Change{Kind: ChangeSetWeight, Member: Member{ID: "heavy", Weight: 1}}, RingConfig{})
		if p, _ := lighter.Load("heavy"); p != 8192 {
			t.Fatalf("heavy at weight 1 leads %d, want 8192", p)
		}
	})
}

func TestRingBadChanges(t *testing.T) {
	cfg := RingConfig{Replicas: 1}
	base, err := NewTable(members("a", "b"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	down := mustNext(t, base, Change{Kind: ChangeFail, Member: Member{ID: "b"}}, cfg)
	owning := *down // a hand-made table where down b still owns slot 0
	owning.own = slices.Clone(down.own)
	owning.ownRow(0)[1], owning.cnt[0] = 1, 2
	cases := []struct {
		name string
		prev *Table
		ch   Change
	}{
		{"join a live id", base, Change{Kind: ChangeJoin, Member: Member{ID: "a"}}},
		{"join empty id", base, Change{Kind: ChangeJoin}},
		{"join heavy", base, Change{Kind: ChangeJoin, Member: Member{ID: "c", Weight: MaxWeight + 1}}},
		{"leave unknown", base, Change{Kind: ChangeLeave, Member: Member{ID: "x"}}},
		{"leave down", down, Change{Kind: ChangeLeave, Member: Member{ID: "b"}}},
		{"last leaves", down, Change{Kind: ChangeLeave, Member: Member{ID: "a"}}},
		{"fail twice", down, Change{Kind: ChangeFail, Member: Member{ID: "b"}}},
		{"remove live", base, Change{Kind: ChangeRemove, Member: Member{ID: "a"}}},
		{"remove owner", &owning, Change{Kind: ChangeRemove, Member: Member{ID: "b"}}},
		{"weight zero", base, Change{Kind: ChangeSetWeight, Member: Member{ID: "a"}}},
		{"weight of down", down, Change{Kind: ChangeSetWeight, Member: Member{ID: "b", Weight: 2}}},
		{"unknown kind", base, Change{Kind: 99}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NextTable(c.prev, c.ch, cfg); !errors.Is(err, ErrBadChange) {
				t.Fatalf("err %v, want ErrBadChange", err)
			}
		})
	}
	for _, bad := range []RingConfig{{Replicas: -1}, {Replicas: MaxReplicas + 1}, {VirtualPoints: -1}} {
		if _, err := NextTable(base, Change{Kind: ChangeRebalance}, bad); !errors.Is(err, ErrBadRingConfig) {
			t.Errorf("config %+v: err %v, want ErrBadRingConfig", bad, err)
		}
	}
	if _, err := NextTable(base, Change{Kind: ChangeRebalance}, cfg); err != nil {
		t.Fatalf("rebalance: %v", err)
	}
}

func TestRingReplicaCountChange(t *testing.T) {
	tb, err := NewTable(members("a", "b", "c", "d"), RingConfig{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	up := mustNext(t, tb, Change{Kind: ChangeRebalance}, RingConfig{Replicas: 2})
	_, sum := Diff(tb, up)
	if up.Replicas != 2 || sum.Moves != NumSlots || sum.Dropped != 0 {
		t.Fatalf("R 1->2: replicas %d, %d moves, %d dropped; want one new copy per slot", up.Replicas, sum.Moves, sum.Dropped)
	}
	down := mustNext(t, up, Change{Kind: ChangeRebalance}, RingConfig{Replicas: 0})
	_, sum = Diff(up, down)
	if sum.Moves != 0 || sum.Dropped != 2*NumSlots {
		t.Fatalf("R 2->0: %d moves, %d dropped; want only drops", sum.Moves, sum.Dropped)
	}
	for _, id := range []NodeID{"a", "b", "c", "d"} {
		if p, r := down.Load(id); p != 4096 || r != 0 {
			t.Errorf("%s: %d primaries %d replicas, want 4096 and 0", id, p, r)
		}
	}
}

func TestTableEncoding(t *testing.T) {
	cfg := RingConfig{Replicas: 2}
	ms := members("a", "b", "c", "d", "e")
	ms[0].Rack, ms[1].Weight = "r1", 3
	full, err := NewTable(ms, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lossy, _ := NewTable(members("x", "y"), RingConfig{})
	lossy = mustNext(t, lossy, Change{Kind: ChangeFail, Member: Member{ID: "x"}}, RingConfig{})
	for name, tb := range map[string]*Table{"empty": {}, "full": full, "lost slots": lossy} {
		t.Run(name, func(t *testing.T) {
			b, err := tb.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got Table
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&got, tb) && !(len(tb.Members) == 0 && len(got.Members) == 0) {
				t.Fatal("round trip changed the table")
			}
			for n := 0; n < len(b); n += 1 + n/64 { // every prefix near the head, then sparser
				if err := new(Table).UnmarshalBinary(b[:n]); !errors.Is(err, ErrBadTable) {
					t.Fatalf("prefix of %d/%d bytes: err %v", n, len(b), err)
				}
			}
			if err := new(Table).UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrBadTable) {
				t.Fatalf("trailing byte: err %v", err)
			}
		})
	}
	b, _ := full.MarshalBinary()
	t.Logf("table of 5 nodes, R=2: %d bytes in %d ranges", len(b), len(full.Ranges()))
	corrupt := map[string]func([]byte) []byte{
		"magic":  func(b []byte) []byte { b[0] = 'X'; return b },
		"format": func(b []byte) []byte { b[4] = 9; return b },
		"replicas": func(b []byte) []byte {
			b[6] = MaxReplicas + 1
			return b
		},
		"unsorted members": func(b []byte) []byte { return bytes.Replace(b, []byte("\x01b"), []byte("\x01A"), 1) },
		"duplicate member": func(b []byte) []byte { return bytes.Replace(b, []byte("\x01b"), []byte("\x01a"), 1) },
	}
	for name, f := range corrupt {
		if err := new(Table).UnmarshalBinary(f(slices.Clone(b))); !errors.Is(err, ErrBadTable) {
			t.Errorf("%s: err %v, want ErrBadTable", name, err)
		}
	}
	// Hand-built encodings of five members and one bad range.
	for name, tail := range map[string][]byte{
		"owner out of range": {1, 0, 0, 1, 7},
		"owner twice":        {1, 0, 0, 2, 1, 1},
		"too many owners":    {1, 0, 0, 4, 0, 1, 2, 3},
		"range past the end": {1, 0, 0xff, 0xff, 0x03, 1, 0},
	} {
		var enc []byte
		enc = append(enc, tableMagic...)
		enc = append(enc, tableFormat, 1, 2, 5)
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			enc = append(enc, 1, id[0], 0, 0, byte(NodeUp), 1)
		}
		enc = append(enc, tail...)
		if err := new(Table).UnmarshalBinary(enc); !errors.Is(err, ErrBadTable) {
			t.Errorf("%s: err %v, want ErrBadTable", name, err)
		}
	}
}

func FuzzDecodeTable(f *testing.F) {
	full, _ := NewTable(members("a", "b", "c"), RingConfig{Replicas: 1})
	lossy := mustNextF(f, full, Change{Kind: ChangeFail, Member: Member{ID: "b"}}, RingConfig{})
	for _, tb := range []*Table{{}, full, lossy} {
		b, _ := tb.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tb Table
		if err := tb.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrBadTable) {
				t.Fatalf("error %v does not wrap ErrBadTable", err)
			}
			return
		}
		enc, err := tb.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded table does not encode: %v", err)
		}
		var again Table
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if enc2, _ := again.MarshalBinary(); !bytes.Equal(enc, enc2) {
			t.Fatal("encode(decode(encode(t))) differs")
		}
	})
}

func mustNextF(f *testing.F, prev *Table, ch Change, cfg RingConfig) *Table {
	next, err := NextTable(prev, ch, cfg)
	if err != nil {
		f.Fatal(err)
	}
	return next
}

func TestTableDiff(t *testing.T) {
	// Hand-made tables: slot 0 a,b -> c,a (c replaces b as primary, a
	// demoted); slot 1 a,b -> b (a dropped, b promoted); slot 2 lost -> a.
	ms := members("a", "b", "c")
	for i := range ms {
		ms[i].State, ms[i].Weight = NodeUp, 1
	}
	a := newTable(0, 1, ms)
	copy(a.ownRow(0), []uint16{0, 1})
	copy(a.ownRow(1), []uint16{0, 1})
	a.cnt[0], a.cnt[1] = 2, 2
	a.lost[2] = true
	b := newTable(1, 1, ms)
	copy(b.ownRow(0), []uint16{2, 0})
	copy(b.ownRow(1), []uint16{1})
	copy(b.ownRow(2), []uint16{0})
	b.cnt[0], b.cnt[1], b.cnt[2] = 2, 1, 1
	moves, sum := Diff(a, b)
	wantMoves := []Move{{Slot: 0, From: "b", To: "c", Role: RolePrimary}, {Slot: 2, To: "a", Role: RolePrimary}}
	if !reflect.DeepEqual(moves, wantMoves) {
		t.Fatalf("moves %+v, want %+v", moves, wantMoves)
	}
	wantSum := DiffSummary{Moves: 2, Slots: 2, Dropped: 1, Promotions: 1,
		Nodes: []NodeFlow{{"a", 1, 0}, {"b", 0, 1}, {"c", 1, 0}}}
	if !reflect.DeepEqual(sum, wantSum) {
		t.Fatalf("summary %+v, want %+v", sum, wantSum)
	}
	if moves, _ := Diff(b, b); len(moves) != 0 {
		t.Fatalf("diff of a table with itself: %v", moves)
	}
}

// TestRingGolden pins the output of a fixed sequence of changes: the
// placement must not depend on the machine, the Go version or map order. A
// deliberate change of the algorithm updates the digest.
func TestRingGolden(t *testing.T) {
	cfg := RingConfig{Replicas: 2}
	var ms []Member
	for i := range 40 {
		ms = append(ms, Member{ID: NodeID(fmt.Sprintf("node-%02d", i)), Rack: fmt.Sprintf("rack-%d", i%3)})
	}
	tb, err := NewTable(ms, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 30 {
		id := NodeID(fmt.Sprintf("node-%02d", rng.IntN(40)))
		ch := Change{Kind: ChangeFail, Member: Member{ID: id}}
		if m, _ := tb.Member(id); !m.State.Live() {
			ch = Change{Kind: ChangeJoin, Member: Member{ID: id, Rack: fmt.Sprintf("rack-%d", i%4)}}
		}
		tb = mustNext(t, tb, ch, cfg)
	}
	b, _ := tb.MarshalBinary()
	const want = uint64(0x67bc4bbddb829169)
	if got := xxhash.Sum64(b); got != want {
		t.Fatalf("golden digest %#x, want %#x", got, want)
	}
}

// reportSteps is 1,000 when TestRingReport is asked for by name, else 100.
func reportSteps() int {
	if f := flag.Lookup("test.run"); f != nil && strings.Contains(f.Value.String(), "TestRingReport") && !testing.Short() {
		return 1000
	}
	return 100
}

func TestRingStrings(t *testing.T) {
	for v, want := range map[fmt.Stringer]string{
		NodeJoining: "joining", NodeUp: "up", NodeLeaving: "leaving", NodeDown: "down", NodeState(9): "NodeState(9)",
		RolePrimary: "primary", RoleReplica: "replica", ChangeJoin: "join", ChangeReassignLost: "reassign-lost", ChangeKind(0): "ChangeKind(0)",
	} {
		if got := v.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", v, got, want)
		}
	}
}

// TestRingReport drives 1,000 random changes (joins, graceful leaves,
// failures, rejoins, removals) through a cluster of about 100 equal nodes
// with R = 2, checks every property after each step, and reports the
// balance (most slots led by a node over the mean) and the movement
// (copies moved over the theoretical minimum). Run it with
// go test -run TestRingReport -v; as part of a wider run it takes 100
// changes per cluster, to keep the suite fast under -race.
func TestRingReport(t *testing.T) {
	for _, c := range []struct {
		name  string
		racks int
	}{{"no racks", 0}, {"4 racks", 4}} {
		t.Run(c.name, func(t *testing.T) {
			steps := reportSteps()
			cfg := RingConfig{Replicas: 2}
			m := newRingModel(cfg)
			rng := rand.New(rand.NewPCG(42, uint64(c.racks)))
			next := 0
			newMember := func() Member {
				mem := Member{ID: NodeID(fmt.Sprintf("n%04d", next)), Weight: 1}
				next++
				if c.racks > 0 { // the smallest rack, so racks stay even
					size := make([]int, c.racks)
					for _, id := range m.live() {
						size[int(m.nodes[id].rack[1]-'0')]++
					}
					mem.Rack = fmt.Sprintf("r%d", slices.Index(size, slices.Min(size)))
				}
				return mem
			}
			var ms []Member
			for range 100 {
				mem := newMember()
				ms = append(ms, mem)
				m.nodes[mem.ID] = newModelNode(mem.ID, mem.Rack, 1)
			}
			tb, err := NewTable(ms, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var worstLed, sumLed, worstMove, sumMove float64
			var moveSteps, strictSteps int
			kinds := map[ChangeKind]int{}
			for step := range steps {
				live, down := m.live(), m.ids(NodeDown, NodeLeaving)
				var ch Change
				switch x := rng.IntN(100); {
				case len(live) < 60 || x < 35:
					ch = Change{Kind: ChangeJoin, Member: newMember()}
				case len(down) > 0 && x < 45:
					id := down[rng.IntN(len(down))]
					ch = Change{Kind: ChangeJoin, Member: Member{ID: id, Rack: m.nodes[id].rack}}
				case len(down) > 0 && x < 55:
					ch = Change{Kind: ChangeRemove, Member: Member{ID: down[rng.IntN(len(down))]}}
				case x < 80:
					ch = Change{Kind: ChangeLeave, Member: Member{ID: live[rng.IntN(len(live))]}}
				default:
					ch = Change{Kind: ChangeFail, Member: Member{ID: live[rng.IntN(len(live))]}}
				}
				nt, err := NextTable(tb, ch, cfg)
				if err != nil {
					t.Fatalf("step %d %s %s: %v", step, ch.Kind, ch.Member.ID, err)
				}
				after := m.clone()
				pv := viewOf(tb)
				after.apply(ch, pv)
				st, err := checkStep(tb, nt, pv, ch, m, after)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				bal, err := checkTable(nt, after, survivorsOf(pv, ch))
				if err != nil {
					t.Fatalf("step %d %s %s: %v", step, ch.Kind, ch.Member.ID, err)
				}
				kinds[ch.Kind]++
				led := bal.maxLed / bal.meanLed
				worstLed, sumLed = max(worstLed, led), sumLed+led
				if (ch.Kind == ChangeJoin || ch.Kind == ChangeLeave) && st.minMoves > 0 {
					r := float64(st.moves) / float64(st.minMoves)
					worstMove, sumMove, moveSteps = max(worstMove, r), sumMove+r, moveSteps+1
					if after.racksEven() && m.racksEven() {
						strictSteps++
					}
				}
				tb, m = nt, after
			}
			t.Logf("%d changes (%d joins, %d leaves, %d failures, %d removals), %d live nodes at the end",
				steps, kinds[ChangeJoin], kinds[ChangeLeave], kinds[ChangeFail], kinds[ChangeRemove], len(m.live()))
			t.Logf("balance: slots led, max/mean: worst %.4f, average %.4f (bound: ceil(S/N)/(S/N))", worstLed, sumLed/float64(steps))
			t.Logf("movement: moved copies/minimum over %d joins and leaves (%d with even racks): worst %.4f, average %.4f (bound 1.05)",
				moveSteps, strictSteps, worstMove, sumMove/float64(max(moveSteps, 1)))
			if worstMove > 1.05 {
				t.Errorf("a join or leave moved %.4fx the minimum", worstMove)
			}
		})
	}
}

// TestRingFailLeadsPinned is a case TestRingRapid found: with one ring point
// per node, a node's copies share slots with its few ring neighbours, and
// after a failure the slots the failed node led may only be led by copies
// that hold their data. With the ring layout of before 2026-12-05 no choice
// of leaders met the lead bounds after n006 failed (n009 could lead at most
// 1154 slots, its floor was 1170); the table was accepted as it was and the
// next change restored the bounds. Replicas now fill runs of slots (see
// fillAll), which leaves the bounds reachable here: each table must be valid
// and, where the bounds are reachable, meet them (checkTable), and a failure
// must still hand n006's slots only to copies that hold their data.
func TestRingFailLeadsPinned(t *testing.T) {
	cfg := DefaultRingConfig()
	cfg.Replicas, cfg.CacheMode, cfg.VirtualPoints = 2, true, 1
	m := newRingModel(cfg)
	var ms []Member
	for i := range 14 {
		id := NodeID(fmt.Sprintf("n%03d", i))
		ms = append(ms, Member{ID: id, Weight: 1})
		m.nodes[id] = newModelNode(id, "", 1)
	}
	tb, err := NewTable(ms, cfg)
	require.NoError(t, err)
	steps := []Change{
		{Kind: ChangeJoin, Member: Member{ID: "n014", Weight: 1}},
		{Kind: ChangeFail, Member: Member{ID: "n006"}},
		{Kind: ChangeJoin, Member: Member{ID: "n015", Weight: 1}},
	}
	for i, ch := range steps {
		nt, err := NextTable(tb, ch, cfg)
		require.NoError(t, err)
		after := m.clone()
		pv := viewOf(tb)
		after.apply(ch, pv)
		survivors := survivorsOf(pv, ch)
		_, err = checkTable(nt, after, survivors)
		require.NoError(t, err, "step %d: %s %s", i, ch.Kind, ch.Member.ID)
		sh, _, _ := after.shares(NumSlots)
		feasible := leadsFeasible(nt, survivors, after.live(), sh)
		require.True(t, feasible, "step %d: %s %s: lead bounds reachable", i, ch.Kind, ch.Member.ID)
		for id := range sh {
			if !after.isLive(id) {
				continue
			}
			p, _ := nt.Load(id)
			require.GreaterOrEqual(t, p, ratFloor(sh[id].primaries), "step %d: %s leads", i, id)
		}
		if ch.Kind == ChangeFail {
			for s := range NumSlots {
				if was := pv.owners[s]; len(was) > 1 && was[0] == "n006" {
					require.Contains(t, was[1:], nt.Owners(s)[0], "slot %d led by failed n006", s)
				}
			}
		}
		tb, m = nt, after
	}
}
