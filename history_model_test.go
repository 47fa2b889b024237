// History check models: porcupine models of a register, a counter, a list and a versioned register, the checks of a key's final state, and their self-tests.

package chkv

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// hKind is the kind of value a key of a history holds; it picks the key's
// model and final check.
type hKind uint8

const (
	hRegister    hKind = iota + 1 // SET and GET
	hCounter                      // INCR and GET
	hList                         // RPUSH and LRANGE 0 -1
	hVersioned                    // CHKV.SETV and CHKV.GETV
	hHashCounter                  // HINCRBY key f 1 and HGET key f: a counter in a hash field
	hZCounter                     // ZINCRBY key 1 m and ZSCORE key m: a counter in a member's score
)

func (k hKind) String() string {
	switch k {
	case hRegister:
		return "register"
	case hCounter:
		return "counter"
	case hList:
		return "list"
	case hVersioned:
		return "versioned"
	case hHashCounter:
		return "hash counter"
	case hZCounter:
		return "zset counter"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// isCounter reports whether keys of kind are counters (INCR, HINCRBY,
// ZINCRBY), all checked by the counter model.
func (k hKind) isCounter() bool { return k == hCounter || k == hHashCounter || k == hZCounter }

// hOp is the command of one operation of a history.
type hOp uint8

const (
	hOpSet    hOp = iota + 1 // SET key value
	hOpGet                   // GET key (a register or a counter)
	hOpIncr                  // INCR key
	hOpRPush                 // RPUSH key value
	hOpLRange                // LRANGE key 0 -1
	hOpSetV                  // CHKV.SETV key value version
	hOpGetV                  // CHKV.GETV key
)

func (o hOp) String() string {
	names := [...]string{"", "SET", "GET", "INCR", "RPUSH", "LRANGE", "SETV", "GETV"}
	if int(o) < len(names) && o != 0 {
		return names[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// isWrite reports whether the operation changes its key.
func (o hOp) isWrite() bool { return o == hOpSet || o == hOpIncr || o == hOpRPush || o == hOpSetV }

// hInput is the input of one operation.
type hInput struct {
	Op      hOp
	Key     string
	Value   string // SET, RPUSH, SETV: the value written
	Version uint64 // SETV: the version expected, 0 for an unconditional write
}

// hOutput is the output of one operation.
type hOutput struct {
	// Unknown marks a write whose outcome is unknown (a timeout, a lost
	// connection): it may or may not have happened. Its operation returns
	// at hUnknownReturn, so it may take effect any time after its call.
	Unknown bool
	// Exists: GET and GETV found the key.
	Exists bool
	// Value is what GET and GETV read; for LRANGE the elements joined by
	// hListSep.
	Value string
	// N is the value INCR returned or GET read on a counter (0 when
	// absent), the length RPUSH returned or LRANGE read.
	N int64
	// Version is the new version SETV returned, the current version a
	// refused SETV reported, or the version GETV read.
	Version uint64
	// Mismatch marks a SETV refused with -VERSION: a definite refusal.
	Mismatch bool
}

// hUnknownReturn is the return time of an operation whose outcome is
// unknown: it never returned, so it is concurrent with everything after
// its call (porcupine's way to model a lost reply).
const hUnknownReturn = math.MaxInt64

// hListSep joins list elements in states and LRANGE outputs; no element
// holds it.
const hListSep = "\x1f"

// hJoinList returns elems as a list model value.
func hJoinList(elems []string) string { return strings.Join(elems, hListSep) }

// hSplitList returns the elements of a list model value.
func hSplitList(s string, n int64) []string {
	if n == 0 {
		return nil
	}
	return strings.Split(s, hListSep)
}

// hPartitionByKey splits a history into one history per key.
func hPartitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	var keys []string
	by := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := op.Input.(hInput).Key
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], op)
	}
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, by[k])
	}
	return out
}

// hDescribeOp renders an operation on a key of kind for porcupine's
// visualization.
func hDescribeOp(kind hKind, in, out any) string {
	i, o := in.(hInput), out.(hOutput)
	call := i.Op.String() + " " + i.Key
	switch i.Op {
	case hOpSet, hOpRPush:
		call += " " + i.Value
	case hOpSetV:
		call += fmt.Sprintf(" %s @%d", i.Value, i.Version)
	}
	var res string
	switch {
	case o.Unknown:
		res = "unknown"
	case o.Mismatch:
		res = fmt.Sprintf("-VERSION %d", o.Version)
	case i.Op == hOpSet:
		res = "OK"
	case i.Op == hOpIncr || i.Op == hOpRPush:
		res = strconv.FormatInt(o.N, 10)
	case i.Op == hOpSetV:
		res = strconv.FormatUint(o.Version, 10)
	case i.Op == hOpLRange:
		res = "[" + strings.Join(hSplitList(o.Value, o.N), " ") + "]"
	case !o.Exists:
		res = "nil"
	case i.Op == hOpGetV:
		res = fmt.Sprintf("%s @%d", o.Value, o.Version)
	case kind.isCounter():
		res = strconv.FormatInt(o.N, 10)
	default:
		res = o.Value
	}
	return call + " -> " + res
}

// hRegState is the register model's state.
type hRegState struct {
	exists bool
	value  string
}

// hRegisterModel models a string key written with SET and read with GET.
// A SET of unknown outcome takes effect when porcupine linearizes it; left
// last, it is as if it never happened.
func hRegisterModel() porcupine.Model {
	return porcupine.Model{
		Partition: hPartitionByKey,
		Init:      func() any { return hRegState{} },
		Step: func(state, in, out any) (bool, any) {
			s, i, o := state.(hRegState), in.(hInput), out.(hOutput)
			switch i.Op {
			case hOpSet:
				return true, hRegState{exists: true, value: i.Value}
			case hOpGet:
				return o.Exists == s.exists && o.Value == s.value, s
			}
			return false, s
		},
		DescribeOperation: func(in, out any) string { return hDescribeOp(hRegister, in, out) },
		DescribeState: func(state any) string {
			if s := state.(hRegState); s.exists {
				return s.value
			}
			return "nil"
		},
	}
}

// hCounterModel models a key incremented with INCR (which returns the new
// value) and read with GET (an absent key reads 0).
func hCounterModel() porcupine.Model {
	return porcupine.Model{
		Partition: hPartitionByKey,
		Init:      func() any { return int64(0) },
		Step: func(state, in, out any) (bool, any) {
			s, i, o := state.(int64), in.(hInput), out.(hOutput)
			switch i.Op {
			case hOpIncr:
				return o.Unknown || o.N == s+1, s + 1
			case hOpGet:
				return o.N == s && o.Exists == (s != 0), s
			}
			return false, s
		},
		DescribeOperation: func(in, out any) string { return hDescribeOp(hCounter, in, out) },
		DescribeState:     func(state any) string { return strconv.FormatInt(state.(int64), 10) },
	}
}

// hListState is the list model's state: the elements joined by hListSep.
type hListState struct {
	n     int64
	elems string
}

// hListModel models a list appended to with RPUSH (which returns the new
// length) and read whole with LRANGE 0 -1.
func hListModel() porcupine.Model {
	return porcupine.Model{
		Partition: hPartitionByKey,
		Init:      func() any { return hListState{} },
		Step: func(state, in, out any) (bool, any) {
			s, i, o := state.(hListState), in.(hInput), out.(hOutput)
			switch i.Op {
			case hOpRPush:
				next := hListState{n: s.n + 1, elems: i.Value}
				if s.n > 0 {
					next.elems = s.elems + hListSep + i.Value
				}
				return o.Unknown || o.N == next.n, next
			case hOpLRange:
				return o.N == s.n && o.Value == s.elems, s
			}
			return false, s
		},
		DescribeOperation: func(in, out any) string { return hDescribeOp(hList, in, out) },
		DescribeState: func(state any) string {
			s := state.(hListState)
			return "[" + strings.Join(hSplitList(s.elems, s.n), " ") + "]"
		},
	}
}

// hVerState is a state of the versioned register model. An absent key has
// version 0. After a write of unknown outcome the new version is not known,
// only that it is greater than version; the next read or refusal that shows
// it pins it down.
type hVerState struct {
	exists  bool
	value   string
	version uint64 // the version when known; else its exclusive lower bound
	known   bool
}

// mayBe returns s with its version pinned to v, and whether the version
// can be v.
func (s hVerState) mayBe(v uint64) (hVerState, bool) {
	if !s.exists {
		return s, v == 0
	}
	if s.known {
		return s, s.version == v
	}
	if v <= s.version {
		return s, false
	}
	s.version, s.known = v, true
	return s, true
}

// mayDiffer reports whether the version of s can differ from v.
func (s hVerState) mayDiffer(v uint64) bool {
	if !s.exists {
		return v != 0
	}
	return !s.known || s.version != v
}

// hVersionedModel models a string key written with CHKV.SETV (a
// compare-and-set on the key's version, 0 writing unconditionally, which
// returns the new version, always greater than the old, or refuses with
// -VERSION and the current version) and read with CHKV.GETV. It is
// nondeterministic: a SETV of unknown outcome that expects a version may or
// may not match a version that is not known either.
func hVersionedModel() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: hPartitionByKey,
		Init:      func() []any { return []any{hVerState{known: true}} },
		Step: func(state, in, out any) []any {
			s, i, o := state.(hVerState), in.(hInput), out.(hOutput)
			switch i.Op {
			case hOpGetV:
				if !o.Exists || !s.exists {
					if o.Exists == s.exists {
						return []any{s}
					}
					return nil
				}
				if p, ok := s.mayBe(o.Version); ok && o.Value == s.value {
					return []any{p}
				}
				return nil
			case hOpSetV:
				want := i.Version
				switch {
				case o.Unknown:
					var next []any
					if want != 0 && s.mayDiffer(want) {
						next = append(next, s) // refused at this point
					}
					floor := s.version // the new version is greater than the old
					ok := want == 0
					if want != 0 {
						_, ok = s.mayBe(want)
						floor = want
					}
					if ok {
						next = append(next, hVerState{exists: true, value: i.Value, version: floor})
					}
					return next
				case o.Mismatch:
					if p, ok := s.mayBe(o.Version); ok && want != 0 && o.Version != want {
						return []any{p}
					}
					return nil
				}
				floor := s.version
				if want != 0 {
					if _, ok := s.mayBe(want); !ok {
						return nil
					}
					floor = want
				}
				if o.Version <= floor {
					return nil
				}
				return []any{hVerState{exists: true, value: i.Value, version: o.Version, known: true}}
			}
			return nil
		},
		DescribeOperation: func(in, out any) string { return hDescribeOp(hVersioned, in, out) },
		DescribeState: func(state any) string {
			s := state.(hVerState)
			switch {
			case !s.exists:
				return "nil"
			case s.known:
				return fmt.Sprintf("%s @%d", s.value, s.version)
			}
			return fmt.Sprintf("%s @>%d", s.value, s.version)
		},
	}
	return nm.ToModel()
}

// hModelFor returns the model of kind.
func hModelFor(kind hKind) porcupine.Model {
	switch kind {
	case hRegister:
		return hRegisterModel()
	case hCounter, hHashCounter, hZCounter:
		return hCounterModel()
	case hList:
		return hListModel()
	case hVersioned:
		return hVersionedModel()
	}
	panic("chkv: no model for " + kind.String())
}

// hCheckFinal checks the final state of one key, read after the load
// stopped and the cluster settled, against the key's history.
func hCheckFinal(kind hKind, ops []porcupine.Operation, final hOutput) error {
	switch kind {
	case hRegister:
		return hCheckFinalRegister(ops, final)
	case hCounter, hHashCounter, hZCounter:
		return hCheckFinalCounter(ops, final)
	case hList:
		return hCheckFinalList(ops, final)
	case hVersioned:
		return hCheckFinalVersioned(ops, final)
	}
	return fmt.Errorf("no final check for %s", kind)
}

// hLastWrites returns the writes of ops (those keep says took effect when
// acknowledged) that may be the last: every write of unknown outcome, and
// every acknowledged one that no other acknowledged write started after.
func hLastWrites(ops []porcupine.Operation, keep func(porcupine.Operation) bool) (last []porcupine.Operation, acked int) {
	var latestCall int64 = math.MinInt64
	for _, op := range ops {
		if in := op.Input.(hInput); in.Op.isWrite() && !op.Output.(hOutput).Unknown && keep(op) {
			latestCall = max(latestCall, op.Call)
			acked++
		}
	}
	for _, op := range ops {
		if in := op.Input.(hInput); !in.Op.isWrite() || !keep(op) {
			continue
		}
		if op.Output.(hOutput).Unknown || op.Return >= latestCall {
			last = append(last, op)
		}
	}
	return last, acked
}

// hCheckFinalRegister: the final value is that of the last acknowledged SET,
// or of a SET concurrent with it or of unknown outcome; absent only when
// no SET was acknowledged.
func hCheckFinalRegister(ops []porcupine.Operation, final hOutput) error {
	last, acked := hLastWrites(ops, func(porcupine.Operation) bool { return true })
	if !final.Exists {
		if acked > 0 {
			return fmt.Errorf("the key is gone after %d acknowledged SETs", acked)
		}
		return nil
	}
	for _, op := range last {
		if op.Input.(hInput).Value == final.Value {
			return nil
		}
	}
	return fmt.Errorf("final value %q is not the last acknowledged SET (candidates %s)", final.Value, hWriteValues(last))
}

// hWriteValues lists the values ops write, for messages.
func hWriteValues(ops []porcupine.Operation) string {
	vs := make([]string, len(ops))
	for i, op := range ops {
		vs[i] = op.Input.(hInput).Value
		if op.Output.(hOutput).Unknown {
			vs[i] += "(unknown)"
		}
	}
	return "[" + strings.Join(vs, " ") + "]"
}

// hCheckFinalCounter: the counter holds every acknowledged increment and at
// most the increments of unknown outcome besides, and no less than the
// largest value an INCR returned.
func hCheckFinalCounter(ops []porcupine.Operation, final hOutput) error {
	var acked, unknown, top int64
	for _, op := range ops {
		if op.Input.(hInput).Op != hOpIncr {
			continue
		}
		o := op.Output.(hOutput)
		if o.Unknown {
			unknown++
			continue
		}
		acked++
		top = max(top, o.N)
	}
	switch {
	case final.N < acked:
		return fmt.Errorf("counter is %d after %d acknowledged increments: increments lost", final.N, acked)
	case final.N > acked+unknown:
		return fmt.Errorf("counter is %d after %d acknowledged and %d unknown increments: increments applied twice or invented", final.N, acked, unknown)
	case final.N < top:
		return fmt.Errorf("counter is %d but an INCR returned %d", final.N, top)
	}
	return nil
}

// hCheckFinalList: the list holds every acknowledged push exactly once, each
// producer's in the order it pushed them, and besides only pushes of
// unknown outcome, each at most once.
func hCheckFinalList(ops []porcupine.Operation, final hOutput) error {
	type push struct {
		producer int
		call     int64
		acked    bool
	}
	pushes := map[string]push{}
	var longest int64
	for _, op := range ops {
		in, o := op.Input.(hInput), op.Output.(hOutput)
		if in.Op != hOpRPush {
			continue
		}
		pushes[in.Value] = push{producer: op.ClientId, call: op.Call, acked: !o.Unknown}
		if !o.Unknown {
			longest = max(longest, o.N)
		}
	}
	elems := hSplitList(final.Value, final.N)
	seen := map[string]bool{}
	lastCall := map[int]int64{} // per producer, the call of its last acknowledged push seen
	var errs []error
	for i, e := range elems {
		p, ok := pushes[e]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("element %d %q was never pushed", i, e))
			continue
		case seen[e]:
			errs = append(errs, fmt.Errorf("element %d %q appears twice", i, e))
			continue
		}
		seen[e] = true
		if !p.acked {
			continue
		}
		if c, ok := lastCall[p.producer]; ok && c > p.call {
			errs = append(errs, fmt.Errorf("element %d %q comes after a push its producer made later", i, e))
		}
		lastCall[p.producer] = p.call
	}
	var missing []string
	for v, p := range pushes {
		if p.acked && !seen[v] {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		errs = append(errs, fmt.Errorf("%d acknowledged pushes missing: %q", len(missing), missing))
	}
	if int64(len(elems)) < longest {
		errs = append(errs, fmt.Errorf("list has %d elements but an RPUSH returned length %d", len(elems), longest))
	}
	return errors.Join(errs...)
}

// hCheckFinalVersioned: the final value is that of the last acknowledged
// successful SETV with the version it returned, or of a SETV concurrent
// with it; or of a SETV of unknown outcome, with a version greater than
// every acknowledged one. Refused SETVs never show.
func hCheckFinalVersioned(ops []porcupine.Operation, final hOutput) error {
	succeeded := func(op porcupine.Operation) bool { return !op.Output.(hOutput).Mismatch }
	last, acked := hLastWrites(ops, succeeded)
	var top uint64
	for _, op := range ops {
		if o := op.Output.(hOutput); op.Input.(hInput).Op == hOpSetV && !o.Unknown && !o.Mismatch {
			top = max(top, o.Version)
		}
	}
	if !final.Exists {
		if acked > 0 {
			return fmt.Errorf("the key is gone after %d acknowledged SETVs", acked)
		}
		return nil
	}
	for _, op := range last {
		if op.Input.(hInput).Value != final.Value {
			continue
		}
		o := op.Output.(hOutput)
		switch {
		case o.Unknown && final.Version <= top:
			return fmt.Errorf("final value %q (of a SETV of unknown outcome) has version %d, not above the acknowledged %d", final.Value, final.Version, top)
		case !o.Unknown && final.Version != o.Version:
			return fmt.Errorf("final value %q has version %d, but its SETV returned %d", final.Value, final.Version, o.Version)
		case !o.Unknown && final.Version != top:
			return fmt.Errorf("final value %q has version %d, below the acknowledged %d", final.Value, final.Version, top)
		}
		return nil
	}
	return fmt.Errorf("final value %q @%d is not the last acknowledged SETV (candidates %s)", final.Value, final.Version, hWriteValues(last))
}

// hCheckKey checks one key's history (final read included) for
// linearizability.
func hCheckKey(kind hKind, ops []porcupine.Operation, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(hModelFor(kind), ops, timeout)
}

// Builders of hand-written histories for the self-tests. Times are small
// integers; ret hUnknownReturn marks an unknown outcome.

func hSet(client int, key, v string, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpSet, Key: key, Value: v}, hOutput{}, call, ret)
}

func hGet(client int, key, v string, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpGet, Key: key}, hOutput{Exists: v != "", Value: v}, call, ret)
}

func hIncr(client int, key string, n, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpIncr, Key: key}, hOutput{N: n}, call, ret)
}

func hCount(client int, key string, n, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpGet, Key: key}, hOutput{Exists: n != 0, N: n}, call, ret)
}

func hPush(client int, key, v string, n, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpRPush, Key: key, Value: v}, hOutput{N: n}, call, ret)
}

func hRange(client int, key string, elems []string, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpLRange, Key: key}, hOutput{N: int64(len(elems)), Value: hJoinList(elems)}, call, ret)
}

func hSetV(client int, key, v string, want, got uint64, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpSetV, Key: key, Value: v, Version: want}, hOutput{Version: got}, call, ret)
}

func hSetVRefused(client int, key, v string, want, cur uint64, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpSetV, Key: key, Value: v, Version: want}, hOutput{Mismatch: true, Version: cur}, call, ret)
}

func hGetV(client int, key, v string, ver uint64, call, ret int64) porcupine.Operation {
	return hOperation(client, hInput{Op: hOpGetV, Key: key}, hOutput{Exists: v != "", Value: v, Version: ver}, call, ret)
}

// hOperation makes an operation; a return at hUnknownReturn makes its
// output unknown.
func hOperation(client int, in hInput, out hOutput, call, ret int64) porcupine.Operation {
	if ret == hUnknownReturn {
		out = hOutput{Unknown: true}
	}
	return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
}

// hInf is the return time of an operation of unknown outcome in the self-tests.
const hInf = hUnknownReturn

// TestHistoryModels checks that each model accepts linearizable
// hand-written histories and rejects the others, so the history check can
// fail.
func TestHistoryModels(t *testing.T) {
	cases := []struct {
		name string
		kind hKind
		ops  []porcupine.Operation
		ok   bool
	}{
		{"register/read-own-write", hRegister, []porcupine.Operation{
			hSet(0, "r", "a", 0, 10), hGet(1, "r", "a", 5, 15), hGet(1, "r", "a", 20, 30),
		}, true},
		{"register/concurrent-reads-either", hRegister, []porcupine.Operation{
			hSet(0, "r", "a", 0, 10), hSet(0, "r", "b", 20, 40), hGet(1, "r", "b", 21, 25), hGet(2, "r", "b", 26, 27), hGet(1, "r", "b", 41, 42),
		}, true},
		{"register/unknown-write-may-apply-late", hRegister, []porcupine.Operation{
			hSet(0, "r", "a", 0, 10), hSet(1, "r", "b", 5, hInf), hGet(2, "r", "a", 20, 30), hGet(2, "r", "b", 40, 50),
		}, true},
		{"register/unknown-write-may-never-apply", hRegister, []porcupine.Operation{
			hSet(1, "r", "b", 0, hInf), hGet(2, "r", "", 20, 30),
		}, true},
		{"register/two-keys-partitioned", hRegister, []porcupine.Operation{
			hSet(0, "r1", "a", 0, 10), hSet(1, "r2", "b", 0, 10), hGet(2, "r1", "a", 20, 30), hGet(2, "r2", "b", 20, 30),
		}, true},
		{"register/stale-read", hRegister, []porcupine.Operation{
			hSet(0, "r", "a", 0, 10), hSet(0, "r", "b", 20, 30), hGet(1, "r", "a", 40, 50),
		}, false},
		{"register/read-flips-back", hRegister, []porcupine.Operation{
			hSet(0, "r", "a", 0, 10), hSet(1, "r", "b", 0, 100), hGet(2, "r", "b", 20, 30), hGet(2, "r", "a", 40, 50),
		}, false},
		{"register/lost-write", hRegister, []porcupine.Operation{
			hSet(0, "r", "a", 0, 10), hGet(1, "r", "", 20, 30),
		}, false},
		{"register/write-reported-failed-shows", hRegister, []porcupine.Operation{
			hGet(1, "r", "x", 20, 30), // a refused SET x is not in the history
		}, false},
		{"register/other-key-value", hRegister, []porcupine.Operation{
			hSet(0, "r1", "a", 0, 10), hGet(2, "r2", "a", 20, 30),
		}, false},

		{"counter/sequential", hCounter, []porcupine.Operation{
			hIncr(0, "c", 1, 0, 10), hIncr(1, "c", 2, 20, 30), hCount(2, "c", 2, 40, 50),
		}, true},
		{"counter/concurrent-swap", hCounter, []porcupine.Operation{
			hIncr(0, "c", 2, 0, 10), hIncr(1, "c", 1, 0, 10), hCount(2, "c", 0, 0, 1),
		}, true},
		{"counter/unknown-counts-or-not", hCounter, []porcupine.Operation{
			hIncr(0, "c", 1, 0, 10), hIncr(1, "c", 0, 5, hInf), hCount(2, "c", 1, 20, 30), hIncr(0, "c", 3, 40, 50), hCount(2, "c", 3, 60, 70),
		}, true},
		{"counter/applied-twice", hCounter, []porcupine.Operation{
			hIncr(0, "c", 1, 0, 10), hIncr(0, "c", 3, 20, 30),
		}, false},
		{"counter/duplicate-value", hCounter, []porcupine.Operation{
			hIncr(0, "c", 1, 0, 10), hIncr(1, "c", 1, 20, 30),
		}, false},
		{"counter/read-goes-back", hCounter, []porcupine.Operation{
			hIncr(0, "c", 1, 0, 10), hIncr(0, "c", 2, 20, 30), hCount(1, "c", 1, 40, 50),
		}, false},

		{"list/sequential", hList, []porcupine.Operation{
			hPush(0, "l", "a", 1, 0, 10), hPush(1, "l", "b", 2, 20, 30), hRange(2, "l", []string{"a", "b"}, 40, 50),
		}, true},
		{"list/unknown-push-late", hList, []porcupine.Operation{
			hPush(0, "l", "a", 1, 0, 10), hPush(1, "l", "b", 0, 5, hInf), hPush(0, "l", "c", 2, 20, 30),
			hRange(2, "l", []string{"a", "c"}, 40, 50), hRange(2, "l", []string{"a", "c", "b"}, 60, 70),
		}, true},
		{"list/concurrent-pushes-either-order", hList, []porcupine.Operation{
			hPush(0, "l", "a", 2, 0, 10), hPush(1, "l", "b", 1, 0, 10), hRange(2, "l", []string{"b", "a"}, 20, 30),
		}, true},
		{"list/reordered", hList, []porcupine.Operation{
			hPush(0, "l", "a", 1, 0, 10), hPush(1, "l", "b", 2, 20, 30), hRange(2, "l", []string{"b", "a"}, 40, 50),
		}, false},
		{"list/lost-push", hList, []porcupine.Operation{
			hPush(0, "l", "a", 1, 0, 10), hPush(1, "l", "b", 2, 20, 30), hRange(2, "l", []string{"b"}, 40, 50),
		}, false},
		{"list/duplicated-push", hList, []porcupine.Operation{
			hPush(0, "l", "a", 1, 0, 10), hRange(2, "l", []string{"a", "a"}, 40, 50),
		}, false},
		{"list/wrong-length", hList, []porcupine.Operation{
			hPush(0, "l", "a", 1, 0, 10), hPush(1, "l", "b", 3, 20, 30),
		}, false},

		{"versioned/cas", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hGetV(1, "v", "x", 5, 20, 30), hSetV(1, "v", "y", 5, 9, 40, 50),
			hSetVRefused(0, "v", "z", 5, 9, 60, 70), hGetV(2, "v", "y", 9, 80, 90),
		}, true},
		{"versioned/refused-on-absent", hVersioned, []porcupine.Operation{
			hSetVRefused(0, "v", "x", 3, 0, 0, 10), hGetV(1, "v", "", 0, 20, 30),
		}, true},
		{"versioned/unknown-write-then-pinned", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetV(1, "v", "y", 5, 0, 20, hInf), hGetV(2, "v", "y", 7, 30, 40),
			hSetV(2, "v", "z", 7, 8, 50, 60), hGetV(0, "v", "z", 8, 70, 80),
		}, true},
		{"versioned/unknown-cas-may-fail", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetV(1, "v", "y", 0, 0, 20, hInf), hSetV(2, "v", "z", 3, 0, 30, hInf),
			hGetV(2, "v", "y", 7, 40, 50),
		}, true},
		{"versioned/unknown-refusal-pins", hVersioned, []porcupine.Operation{
			hSetV(1, "v", "y", 0, 0, 0, hInf), hSetVRefused(2, "v", "z", 1, 4, 10, 20), hGetV(2, "v", "y", 4, 30, 40),
		}, true},
		{"versioned/version-goes-down", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetV(1, "v", "y", 5, 3, 20, 30),
		}, false},
		{"versioned/cas-on-wrong-version", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetV(1, "v", "y", 4, 6, 20, 30),
		}, false},
		{"versioned/refusal-reports-wrong-version", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetVRefused(1, "v", "y", 4, 6, 20, 30),
		}, false},
		{"versioned/refusal-of-matching-version", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetVRefused(1, "v", "y", 5, 5, 20, 30),
		}, false},
		{"versioned/read-wrong-version", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hGetV(1, "v", "x", 6, 20, 30),
		}, false},
		{"versioned/unknown-write-version-not-above", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetV(1, "v", "y", 5, 0, 20, hInf), hGetV(2, "v", "y", 5, 30, 40),
		}, false},
		{"versioned/unknown-cas-on-mismatch-applied", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetV(1, "v", "y", 4, 0, 20, hInf), hGetV(2, "v", "y", 9, 30, 40),
		}, false},
		{"versioned/refused-write-shows", hVersioned, []porcupine.Operation{
			hSetV(0, "v", "x", 0, 5, 0, 10), hSetVRefused(1, "v", "y", 4, 5, 20, 30), hGetV(2, "v", "y", 9, 30, 40),
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := hCheckKey(tc.kind, tc.ops, 10*time.Second)
			want := porcupine.Illegal
			if tc.ok {
				want = porcupine.Ok
			}
			if res != want {
				t.Fatalf("porcupine says %s, want %s", res, want)
			}
		})
	}
}

// TestHistoryFinalChecks checks that the final-state checks accept the
// states a correct store may end in and reject corrupt ones.
func TestHistoryFinalChecks(t *testing.T) {
	reg := []porcupine.Operation{
		hSet(0, "r", "a", 0, 10), hSet(1, "r", "b", 20, 40), hSet(2, "r", "c", 30, 50), hSet(0, "r", "d", 60, hInf),
	}
	ctr := []porcupine.Operation{
		hIncr(0, "c", 1, 0, 10), hIncr(1, "c", 2, 20, 30), hIncr(2, "c", 0, 25, hInf), hIncr(0, "c", 4, 40, 50),
	}
	list := []porcupine.Operation{
		hPush(0, "l", "a1", 1, 0, 10), hPush(1, "l", "b1", 2, 5, 15), hPush(0, "l", "a2", 0, 20, hInf),
		hPush(0, "l", "a3", 3, 30, 40), hPush(1, "l", "b2", 4, 30, 40),
	}
	ver := []porcupine.Operation{
		hSetV(0, "v", "x", 0, 5, 0, 10), hSetV(1, "v", "y", 5, 9, 20, 30), hSetVRefused(2, "v", "z", 5, 9, 40, 50),
		hSetV(0, "v", "w", 9, 0, 60, hInf),
	}
	regOut := func(v string) hOutput { return hOutput{Exists: v != "", Value: v} }
	listOut := func(elems ...string) hOutput { return hOutput{N: int64(len(elems)), Value: hJoinList(elems)} }
	cases := []struct {
		name  string
		kind  hKind
		ops   []porcupine.Operation
		final hOutput
		ok    bool
	}{
		{"register/last-acked", hRegister, reg, regOut("c"), true},
		{"register/concurrent-with-last", hRegister, reg, regOut("b"), true},
		{"register/unknown-applied", hRegister, reg, regOut("d"), true},
		{"register/overwritten-value", hRegister, reg, regOut("a"), false},
		{"register/gone", hRegister, reg, regOut(""), false},
		{"register/never-written", hRegister, reg, regOut("e"), false},
		{"register/absent-without-acked-writes", hRegister, reg[3:], regOut(""), true},

		{"counter/acked-only", hCounter, ctr[:2], hOutput{Exists: true, N: 2}, true},
		{"counter/unknown-applied", hCounter, ctr, hOutput{Exists: true, N: 4}, true},
		{"counter/unknown-not-applied", hCounter, ctr[:3], hOutput{Exists: true, N: 2}, true},
		{"counter/lost-increment", hCounter, ctr[:2], hOutput{Exists: true, N: 1}, false},
		{"counter/absent", hCounter, ctr[:2], hOutput{}, false},
		{"counter/applied-twice", hCounter, ctr, hOutput{Exists: true, N: 5}, false},
		{"counter/below-a-returned-value", hCounter, ctr, hOutput{Exists: true, N: 3}, false},

		{"list/acked-only", hList, list, listOut("a1", "b1", "a3", "b2"), true},
		{"list/unknown-anywhere", hList, list, listOut("a1", "b1", "a3", "a2", "b2"), true},
		{"list/producers-interleaved", hList, list, listOut("b1", "a1", "b2", "a3"), true},
		{"list/missing-acked", hList, list, listOut("a1", "b1", "a3"), false},
		{"list/producer-order-broken", hList, list, listOut("a3", "b1", "a1", "b2"), false},
		{"list/duplicate", hList, list, listOut("a1", "b1", "a3", "b2", "b2"), false},
		{"list/unknown-twice", hList, list, listOut("a1", "a2", "b1", "a3", "a2", "b2"), false},
		{"list/foreign-element", hList, list, listOut("a1", "b1", "a3", "b2", "zz"), false},

		{"versioned/last-acked", hVersioned, ver, hOutput{Exists: true, Value: "y", Version: 9}, true},
		{"versioned/unknown-applied", hVersioned, ver, hOutput{Exists: true, Value: "w", Version: 12}, true},
		{"versioned/unknown-version-not-above", hVersioned, ver, hOutput{Exists: true, Value: "w", Version: 9}, false},
		{"versioned/wrong-version", hVersioned, ver, hOutput{Exists: true, Value: "y", Version: 10}, false},
		{"versioned/refused-write-shows", hVersioned, ver, hOutput{Exists: true, Value: "z", Version: 11}, false},
		{"versioned/overwritten-value", hVersioned, ver, hOutput{Exists: true, Value: "x", Version: 5}, false},
		{"versioned/gone", hVersioned, ver, hOutput{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := hCheckFinal(tc.kind, tc.ops, tc.final)
			if tc.ok && err != nil {
				t.Fatalf("a correct final state was rejected: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("a corrupt final state was accepted")
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// hSortOps sorts a history by call time, for stable messages.
func hSortOps(ops []porcupine.Operation) {
	slices.SortStableFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
}
