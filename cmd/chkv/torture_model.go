// Torture history models: porcupine models of the keys chkv torture writes
// (a register, a counter, a queue and a versioned register) and the simple
// final-state checks (acknowledged writes present, counters within the
// acknowledged and unknown increments, queue items delivered at most once and
// never invented).

package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// tKind is the kind of a torture key.
type tKind uint8

const (
	tRegister  tKind = iota + 1 // SET and GET
	tCounter                    // INCR and GET
	tQueue                      // RPUSH and LPOP, read at the end with LRANGE
	tVersioned                  // CHKV.SETV key value 0 and CHKV.GETV
)

func (k tKind) String() string {
	return [...]string{"?", "register", "counter", "queue", "versioned"}[k]
}

// tOp is the command of one torture operation.
type tOp uint8

const (
	tSet tOp = iota + 1
	tGet
	tIncr
	tPush
	tPop
	tRange // the final LRANGE 0 -1 of a queue
	tSetV
	tGetV
)

func (o tOp) String() string {
	return [...]string{"?", "SET", "GET", "INCR", "RPUSH", "LPOP", "LRANGE", "CHKV.SETV", "CHKV.GETV"}[o]
}

func (o tOp) isWrite() bool { return o == tSet || o == tIncr || o == tPush || o == tPop || o == tSetV }

// tIn is the input of one operation.
type tIn struct {
	Op    tOp
	Value string // SET, RPUSH, SETV
}

// tOut is the output of one operation.
type tOut struct {
	Unknown bool   // a write whose outcome is unknown (timeout, lost connection)
	Exists  bool   // GET, GETV, LPOP found something
	Value   string // GET, GETV, LPOP: what was read; LRANGE: the items joined by tSep
	N       int64  // INCR's result, GET of a counter, SETV's and GETV's version
}

// tSep joins queue items in states and LRANGE outputs.
const tSep = "\x1f"

func tSplit(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, tSep)
}

// tVer is a state of the versioned register: after a SETV of unknown
// outcome the version is only known to exceed ver.
type tVer struct {
	exists bool
	value  string
	ver    int64
	known  bool
}

// tModel returns the porcupine model of kind. Every model is
// nondeterministic: a write of unknown outcome may or may not have happened.
func tModel(kind tKind) porcupine.Model {
	var nm porcupine.NondeterministicModel
	switch kind {
	case tRegister:
		type st struct {
			exists bool
			v      string
		}
		nm.Init = func() []any { return []any{st{}} }
		nm.Step = func(s, in, out any) []any {
			c, i, o := s.(st), in.(tIn), out.(tOut)
			switch i.Op {
			case tSet:
				n := st{true, i.Value}
				if o.Unknown {
					return []any{n, c}
				}
				return []any{n}
			case tGet:
				if o.Exists == c.exists && (!o.Exists || o.Value == c.v) {
					return []any{c}
				}
			}
			return nil
		}
	case tCounter:
		nm.Init = func() []any { return []any{int64(0)} }
		nm.Step = func(s, in, out any) []any {
			c, i, o := s.(int64), in.(tIn), out.(tOut)
			switch i.Op {
			case tIncr:
				if o.Unknown {
					return []any{c + 1, c}
				}
				if o.N == c+1 {
					return []any{c + 1}
				}
			case tGet:
				if o.N == c {
					return []any{c}
				}
			}
			return nil
		}
	case tQueue:
		nm.Init = func() []any { return []any{""} }
		nm.Step = func(s, in, out any) []any {
			c, i, o := s.(string), in.(tIn), out.(tOut)
			switch i.Op {
			case tPush:
				n := i.Value
				if c != "" {
					n = c + tSep + i.Value
				}
				if o.Unknown {
					return []any{n, c}
				}
				return []any{n}
			case tPop:
				head, rest, _ := strings.Cut(c, tSep)
				if o.Unknown {
					if c == "" {
						return []any{c}
					}
					return []any{rest, c}
				}
				if !o.Exists {
					if c == "" {
						return []any{c}
					}
					return nil
				}
				if c != "" && head == o.Value {
					return []any{rest}
				}
			case tRange:
				if o.Value == c {
					return []any{c}
				}
			}
			return nil
		}
	case tVersioned:
		nm.Init = func() []any { return []any{tVer{known: true}} }
		nm.Step = func(s, in, out any) []any {
			c, i, o := s.(tVer), in.(tIn), out.(tOut)
			switch i.Op {
			case tSetV:
				if o.Unknown {
					return []any{tVer{true, i.Value, c.ver, false}, c}
				}
				if o.N > c.ver {
					return []any{tVer{true, i.Value, o.N, true}}
				}
			case tGetV:
				if !o.Exists || !c.exists {
					if o.Exists == c.exists {
						return []any{c}
					}
					return nil
				}
				if o.Value != c.value {
					return nil
				}
				if c.known && o.N == c.ver {
					return []any{c}
				}
				if !c.known && o.N > c.ver {
					return []any{tVer{true, c.value, o.N, true}}
				}
			}
			return nil
		}
	}
	m := nm.ToModel()
	m.DescribeOperation = func(in, out any) string {
		i, o := in.(tIn), out.(tOut)
		res := "ok"
		switch {
		case o.Unknown:
			res = "unknown"
		case i.Op == tGet || i.Op == tGetV || i.Op == tPop:
			if !o.Exists {
				res = "nil"
			} else {
				res = fmt.Sprintf("%q", o.Value)
			}
			if i.Op == tGetV && o.Exists || kind == tCounter {
				res += fmt.Sprintf(" v%d", o.N)
			}
		case i.Op == tIncr || i.Op == tSetV:
			res = fmt.Sprint(o.N)
		case i.Op == tRange:
			res = "[" + strings.Join(tSplit(o.Value), " ") + "]"
		}
		arg := ""
		if i.Value != "" {
			arg = " " + i.Value
		}
		return fmt.Sprintf("%s%s -> %s", i.Op, arg, res)
	}
	m.DescribeState = func(s any) string { return fmt.Sprintf("%+v", s) }
	return m
}

// tFinalCheck checks a key's final state (the last operation of ops, a read
// made after the cluster healed) against the writes of its history: it
// returns the problems found, each one line.
func tFinalCheck(kind tKind, ops []porcupine.Operation) []string {
	if len(ops) == 0 {
		return nil
	}
	final := ops[len(ops)-1].Output.(tOut)
	var acked, unknown []tIn
	for _, op := range ops[:len(ops)-1] {
		in, out := op.Input.(tIn), op.Output.(tOut)
		if !in.Op.isWrite() {
			continue
		}
		if out.Unknown {
			unknown = append(unknown, in)
		} else {
			acked = append(acked, in)
		}
	}
	var bad []string
	switch kind {
	case tRegister, tVersioned:
		if len(acked) > 0 && !final.Exists {
			bad = append(bad, fmt.Sprintf("lost: %d acknowledged writes, the key is gone", len(acked)))
		}
		if kind == tRegister && final.Exists {
			bad = append(bad, tRegisterFinal(ops[:len(ops)-1], final.Value)...)
		}
		if kind == tVersioned {
			var maxVer int64
			for _, op := range ops[:len(ops)-1] {
				if in, out := op.Input.(tIn), op.Output.(tOut); in.Op == tSetV && !out.Unknown && out.N > maxVer {
					maxVer = out.N
				}
			}
			if final.Exists && final.N < maxVer {
				bad = append(bad, fmt.Sprintf("lost: final version %d below the acknowledged version %d", final.N, maxVer))
			}
		}
	case tCounter:
		lo, hi := int64(len(acked)), int64(len(acked)+len(unknown))
		if final.N < lo {
			bad = append(bad, fmt.Sprintf("lost: counter %d, %d increments acknowledged", final.N, lo))
		}
		if final.N > hi {
			bad = append(bad, fmt.Sprintf("invented: counter %d, at most %d increments sent", final.N, hi))
		}
	case tQueue:
		pushed := map[string]bool{} // value -> acknowledged
		for _, in := range acked {
			if in.Op == tPush {
				pushed[in.Value] = true
			}
		}
		for _, in := range unknown {
			if in.Op == tPush {
				if _, ok := pushed[in.Value]; !ok {
					pushed[in.Value] = false
				}
			}
		}
		seen := map[string]int{}
		unknownPops := 0
		for _, op := range ops[:len(ops)-1] {
			in, out := op.Input.(tIn), op.Output.(tOut)
			if in.Op == tPop && out.Unknown {
				unknownPops++
			}
			if in.Op == tPop && !out.Unknown && out.Exists {
				seen[out.Value]++
			}
		}
		for _, v := range tSplit(final.Value) {
			seen[v]++
		}
		var dup, invented, lost []string
		for v, n := range seen {
			if _, ok := pushed[v]; !ok {
				invented = append(invented, v)
			} else if n > 1 {
				dup = append(dup, v)
			}
		}
		for v, ack := range pushed {
			if ack && seen[v] == 0 {
				lost = append(lost, v)
			}
		}
		sort.Strings(dup)
		sort.Strings(invented)
		sort.Strings(lost)
		if len(dup) > 0 {
			bad = append(bad, fmt.Sprintf("delivered more than once: %v", dup))
		}
		if len(invented) > 0 {
			bad = append(bad, fmt.Sprintf("invented: %v", invented))
		}
		// An LPOP of unknown outcome may have taken an item nobody saw.
		if len(lost) > unknownPops {
			bad = append(bad, fmt.Sprintf("lost: %d acknowledged items never delivered nor left (%d LPOPs of unknown outcome): %v", len(lost), unknownPops, lost))
		}
	}
	return bad
}

// tRegisterFinal checks a register's final value (values are unique per
// SET): it must come from a SET that no acknowledged SET certainly
// followed, one that began after it had returned.
func tRegisterFinal(ops []porcupine.Operation, final string) []string {
	var from *porcupine.Operation
	var lastAckCall int64 = -1
	var lastAck string
	for i, op := range ops {
		in, out := op.Input.(tIn), op.Output.(tOut)
		if in.Op != tSet {
			continue
		}
		if in.Value == final {
			from = &ops[i]
		}
		if !out.Unknown && op.Call > lastAckCall {
			lastAckCall, lastAck = op.Call, in.Value
		}
	}
	if from == nil {
		return []string{fmt.Sprintf("invented: final value %q was never written", final)}
	}
	if !from.Output.(tOut).Unknown && from.Return < lastAckCall {
		return []string{fmt.Sprintf("lost: final value %q was overwritten by the acknowledged SET of %q, which began after it returned", final, lastAck)}
	}
	return nil
}
