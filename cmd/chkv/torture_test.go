package main

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// op is one operation of a test history; ret -1 marks an unknown outcome.
func op(client int, in tIn, out tOut, call, ret int64) porcupine.Operation {
	if ret < 0 {
		out.Unknown, ret = true, math.MaxInt64
	}
	return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
}

func TestTortureModels(t *testing.T) {
	cases := []struct {
		name string
		kind tKind
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"register read of an acknowledged write", tRegister, []porcupine.Operation{
			op(0, tIn{Op: tSet, Value: "a"}, tOut{}, 0, 10),
			op(1, tIn{Op: tGet}, tOut{Exists: true, Value: "a"}, 20, 30)}, porcupine.Ok},
		{"register stale read", tRegister, []porcupine.Operation{
			op(0, tIn{Op: tSet, Value: "a"}, tOut{}, 0, 10),
			op(0, tIn{Op: tSet, Value: "b"}, tOut{}, 20, 30),
			op(1, tIn{Op: tGet}, tOut{Exists: true, Value: "a"}, 40, 50)}, porcupine.Illegal},
		{"register write of unknown outcome may show", tRegister, []porcupine.Operation{
			op(0, tIn{Op: tSet, Value: "a"}, tOut{}, 0, -1),
			op(1, tIn{Op: tGet}, tOut{}, 20, 30),
			op(1, tIn{Op: tGet}, tOut{Exists: true, Value: "a"}, 40, 50)}, porcupine.Ok},
		{"counter lost increment", tCounter, []porcupine.Operation{
			op(0, tIn{Op: tIncr}, tOut{N: 1}, 0, 10),
			op(0, tIn{Op: tIncr}, tOut{N: 2}, 20, 30),
			op(1, tIn{Op: tGet}, tOut{N: 1}, 40, 50)}, porcupine.Illegal},
		{"counter unknown increment", tCounter, []porcupine.Operation{
			op(0, tIn{Op: tIncr}, tOut{}, 0, -1),
			op(1, tIn{Op: tIncr}, tOut{N: 2}, 20, 30)}, porcupine.Ok},
		{"queue in order", tQueue, []porcupine.Operation{
			op(0, tIn{Op: tPush, Value: "a"}, tOut{}, 0, 10),
			op(0, tIn{Op: tPush, Value: "b"}, tOut{}, 20, 30),
			op(1, tIn{Op: tPop}, tOut{Exists: true, Value: "a"}, 40, 50),
			op(1, tIn{Op: tRange}, tOut{Value: "b"}, 60, 70)}, porcupine.Ok},
		{"queue item delivered twice", tQueue, []porcupine.Operation{
			op(0, tIn{Op: tPush, Value: "a"}, tOut{}, 0, 10),
			op(1, tIn{Op: tPop}, tOut{Exists: true, Value: "a"}, 20, 30),
			op(1, tIn{Op: tPop}, tOut{Exists: true, Value: "a"}, 40, 50)}, porcupine.Illegal},
		{"versioned lost write", tVersioned, []porcupine.Operation{
			op(0, tIn{Op: tSetV, Value: "a"}, tOut{N: 1}, 0, 10),
			op(1, tIn{Op: tGetV}, tOut{}, 20, 30)}, porcupine.Illegal},
		{"versioned unknown write pinned by a read", tVersioned, []porcupine.Operation{
			op(0, tIn{Op: tSetV, Value: "a"}, tOut{N: 3}, 0, 10),
			op(0, tIn{Op: tSetV, Value: "b"}, tOut{}, 20, -1),
			op(1, tIn{Op: tGetV}, tOut{Exists: true, Value: "b", N: 7}, 40, 50),
			op(1, tIn{Op: tSetV, Value: "c"}, tOut{N: 8}, 60, 70)}, porcupine.Ok},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperationsTimeout(tModel(c.kind), c.ops, 5*time.Second); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTortureFinalChecks(t *testing.T) {
	incr := func(n int64, ret int64) porcupine.Operation { return op(0, tIn{Op: tIncr}, tOut{N: n}, 0, ret) }
	get := func(n int64) porcupine.Operation { return op(9, tIn{Op: tGet}, tOut{N: n, Exists: n > 0}, 100, 110) }
	if bad := tFinalCheck(tCounter, []porcupine.Operation{incr(1, 10), incr(0, -1), get(2)}); len(bad) != 0 {
		t.Errorf("counter within the unknowns: %v", bad)
	}
	if bad := tFinalCheck(tCounter, []porcupine.Operation{incr(1, 10), incr(2, 20), get(1)}); len(bad) != 1 || !strings.HasPrefix(bad[0], "lost") {
		t.Errorf("counter lost an increment: %v", bad)
	}
	if bad := tFinalCheck(tCounter, []porcupine.Operation{incr(1, 10), get(3)}); len(bad) != 1 || !strings.HasPrefix(bad[0], "invented") {
		t.Errorf("counter invented an increment: %v", bad)
	}
	push := func(v string, ret int64) porcupine.Operation { return op(0, tIn{Op: tPush, Value: v}, tOut{}, 0, ret) }
	pop := func(v string) porcupine.Operation { return op(1, tIn{Op: tPop}, tOut{Exists: true, Value: v}, 50, 60) }
	rng := func(v ...string) porcupine.Operation {
		return op(9, tIn{Op: tRange}, tOut{Value: strings.Join(v, tSep)}, 100, 110)
	}
	for _, c := range []struct {
		ops  []porcupine.Operation
		want string // prefix of the one problem, "" for none
	}{
		{[]porcupine.Operation{push("a", 10), push("b", 20), pop("a"), rng("b")}, ""},
		{[]porcupine.Operation{push("a", 10), push("b", 20), pop("a"), rng()}, "lost"},
		{[]porcupine.Operation{push("a", 10), pop("a"), rng("a")}, "delivered more than once"},
		{[]porcupine.Operation{push("a", 10), pop("z"), rng("a")}, "invented"},
		{[]porcupine.Operation{push("a", 10), op(1, tIn{Op: tPop}, tOut{}, 50, -1), rng()}, ""},
	} {
		bad := tFinalCheck(tQueue, c.ops)
		if c.want == "" && len(bad) != 0 || c.want != "" && (len(bad) != 1 || !strings.HasPrefix(bad[0], c.want)) {
			t.Errorf("queue %v: problems %v, want %q", c.ops, bad, c.want)
		}
	}
	// A register ends with a value no acknowledged SET certainly followed.
	set := func(v string, call, ret int64) porcupine.Operation {
		return op(0, tIn{Op: tSet, Value: v}, tOut{}, call, ret)
	}
	read := func(v string) porcupine.Operation {
		return op(9, tIn{Op: tGet}, tOut{Exists: true, Value: v}, 100, 110)
	}
	for _, c := range []struct {
		ops  []porcupine.Operation
		want string
	}{
		{[]porcupine.Operation{set("a", 0, 10), set("b", 20, 30), read("b")}, ""},
		{[]porcupine.Operation{set("a", 0, 25), set("b", 20, 30), read("a")}, ""},     // concurrent: either order
		{[]porcupine.Operation{set("a", 0, 10), set("b", 20, -1), read("b")}, ""},     // unknown outcome, applied
		{[]porcupine.Operation{set("a", 0, 10), set("b", 20, 30), read("a")}, "lost"}, // b began after a returned
		{[]porcupine.Operation{set("a", 0, 10), read("z")}, "invented"},
	} {
		bad := tFinalCheck(tRegister, c.ops)
		if c.want == "" && len(bad) != 0 || c.want != "" && (len(bad) != 1 || !strings.HasPrefix(bad[0], c.want)) {
			t.Errorf("register %v: problems %v, want %q", c.ops, bad, c.want)
		}
	}
}

// TestTortureSchedule: a seed gives one schedule; every fault kind comes,
// no fault hits more DataNodes than the replica count, every fault heals.
func TestTortureSchedule(t *testing.T) {
	a, b := tSchedule(42, 10*time.Minute, 5, 2, tFaultKinds), tSchedule(42, 10*time.Minute, 5, 2, tFaultKinds)
	if len(a) != len(b) {
		t.Fatalf("same seed, %d and %d faults", len(a), len(b))
	}
	kinds := map[tFaultKind]int{}
	live := 5
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("same seed, fault %d differs: %+v and %+v", i, *a[i], *b[i])
		}
		kinds[a[i].Kind]++
		if a[i].Count < 1 || a[i].Count > 2 || a[i].Dur <= 0 || a[i].Dur > 10*time.Second {
			t.Errorf("fault %+v: want 1-2 nodes and a bounded duration", *a[i])
		}
		switch a[i].Kind {
		case fJoin:
			live++
		case fLeave:
			live--
		}
		if live < 3 {
			t.Errorf("fault %d leaves %d DataNodes", i, live)
		}
	}
	for _, k := range tFaultKinds {
		if kinds[k] < 5 {
			t.Errorf("%s came %d times in 10 minutes: %v", k, kinds[k], kinds)
		}
	}
	if c := tSchedule(43, 10*time.Minute, 5, 2, tFaultKinds); len(c) == len(a) && reflect.DeepEqual(c[0], a[0]) {
		t.Errorf("seeds 42 and 43 gave the same first fault")
	}
	// The NameNode faults hit one NameNode each, one at a time; the
	// DataNode faults are those of a schedule without NameNode faults.
	var nnEnd time.Duration
	var dn []tFault
	for _, f := range a {
		if f.N < 1 || f.N > len(a) || a[f.N-1] != f {
			t.Fatalf("fault %+v is not numbered by its place", *f)
		}
		if !f.Kind.onNameNode() {
			c := *f
			c.N = 0
			dn = append(dn, c)
			continue
		}
		if f.Count != 1 || f.At < nnEnd {
			t.Errorf("NameNode fault %+v: want 1 NameNode, after the one before healed at %v", *f, nnEnd)
		}
		nnEnd = f.At + f.Dur
	}
	var only []tFault
	for _, f := range tSchedule(42, 10*time.Minute, 5, 2, tDataNodeKinds) {
		c := *f
		c.N = 0
		only = append(only, c)
	}
	if !reflect.DeepEqual(dn, only) {
		t.Errorf("the DataNode faults change when NameNode faults join the schedule")
	}
}

func TestTortureRefusesUnsafeAckWithoutItsVariable(t *testing.T) {
	t.Setenv("CHKV_TEST_UNSAFE_ACK", "")
	var out bytes.Buffer
	err := run([]string{"torture", "--test-unsafe-ack", "--duration", "1s"}, &out, &out)
	if !errors.Is(err, errCouldNotRun) || !strings.Contains(err.Error(), "CHKV_TEST_UNSAFE_ACK=1") {
		t.Fatalf("got %v, want a refusal naming CHKV_TEST_UNSAFE_ACK=1", err)
	}
}
