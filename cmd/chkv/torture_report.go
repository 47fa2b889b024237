// chkv torture: the checks of the history and the report.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// tCheckTimeout bounds porcupine's search on one key; a key it cannot
// decide in time counts as unchecked, not failed.
const tCheckTimeout = 3 * time.Second

// tKeyResult is the verdict on one key.
type tKeyResult struct {
	key       string
	kind      tKind
	ops       int
	lin       porcupine.CheckResult
	problems  []string
	finalRead bool
	html      string
}

// tReport is the result of a run.
type tReport struct {
	cfg      tortureConfig
	sched    []*tFault
	outcomes map[tOutcome]int
	byKind   map[tKind][3]int
	keys     []tKeyResult
	stable   error
	windows  []string
	elapsed  time.Duration
}

func (h *harness) check(w *tWorkload, start time.Time, stableErr error) *tReport {
	rep := &tReport{cfg: h.cfg, sched: h.sched, outcomes: map[tOutcome]int{}, byKind: map[tKind][3]int{},
		stable: stableErr, elapsed: time.Since(start)}
	for _, r := range w.ops {
		if r.client < 0 {
			continue
		}
		rep.outcomes[r.outcome]++
		c := rep.byKind[r.kind]
		c[r.outcome-1]++
		rep.byKind[r.kind] = c
	}
	for _, key := range w.order {
		kind := w.keys[key]
		ops, finalOK := w.history(key)
		kr := tKeyResult{key: key, kind: kind, ops: len(ops), finalRead: finalOK}
		model := tModel(kind)
		res, info := porcupine.CheckOperationsVerbose(model, ops, tCheckTimeout)
		kr.lin = res
		if finalOK {
			kr.problems = tFinalCheck(kind, ops)
		} else {
			kr.problems = []string{"the final read never answered"}
		}
		if res == porcupine.Illegal || len(kr.problems) > 0 {
			w.dump(key, filepath.Join(h.cfg.out, "key-"+key+".txt"))
		}
		if res == porcupine.Illegal {
			kr.html = filepath.Join(h.cfg.out, "key-"+key+".html")
			if err := porcupine.VisualizePath(model, info, kr.html); err != nil {
				kr.problems = append(kr.problems, "visualization: "+err.Error())
				kr.html = ""
			}
		}
		rep.keys = append(rep.keys, kr)
	}
	rep.windows = tWindows(w, h.sched)
	return rep
}

// tWindows measures, for every fault, how long writes went without success:
// the longest time within the fault and 5s after its heal in which no write
// answered, and the writes that failed or were left unknown then.
func tWindows(w *tWorkload, sched []*tFault) []string {
	var writes []tRecord
	for _, r := range w.ops {
		if r.client >= 0 && r.in.Op.isWrite() {
			writes = append(writes, r)
		}
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].end.Before(writes[j].end) })
	var out []string
	type perKind struct {
		n, failed, unknown int
		gaps               []time.Duration
	}
	byKind := map[tFaultKind]perKind{}
	for _, f := range sched {
		if f.Start.IsZero() {
			continue
		}
		from, to := f.Start, f.End.Add(5*time.Second)
		last := from
		var gap time.Duration
		failed, unknown, ok := 0, 0, 0
		for _, r := range writes {
			if r.end.Before(from) || r.start.After(to) {
				continue
			}
			switch r.outcome {
			case tOK:
				ok++
				if r.end.After(last) {
					if d := r.end.Sub(last); d > gap {
						gap = d
					}
					last = r.end
				}
			case tFailed:
				failed++
			case tUnknown:
				unknown++
			}
		}
		if d := to.Sub(last); d > gap {
			gap = d
		}
		out = append(out, fmt.Sprintf("fault %3d %-11s %-12s writes ok %5d failed %4d unknown %3d, longest time without a successful write %v",
			f.N, f.Kind, strings.Join(f.Nodes, ","), ok, failed, unknown, gap.Round(time.Millisecond)))
		k := byKind[f.Kind]
		k.n++
		k.failed += failed
		k.unknown += unknown
		k.gaps = append(k.gaps, gap)
		byKind[f.Kind] = k
	}
	out = append(out, "", "per kind: faults run, writes failed and unknown, longest time without a successful write (median, max)")
	for _, kind := range tFaultKinds {
		k, ok := byKind[kind]
		if !ok {
			continue
		}
		slices.Sort(k.gaps)
		out = append(out, fmt.Sprintf("%-11s %4d faults, failed %5d, unknown %4d, without a write median %v max %v",
			kind, k.n, k.failed, k.unknown, k.gaps[len(k.gaps)/2].Round(time.Millisecond), k.gaps[len(k.gaps)-1].Round(time.Millisecond)))
	}
	return out
}

// counts returns the keys failing linearizability, with other problems,
// and left undecided.
func (r *tReport) counts() (illegal, bad, unknown int) {
	for _, k := range r.keys {
		switch k.lin {
		case porcupine.Illegal:
			illegal++
		case porcupine.Unknown:
			unknown++
		}
		if len(k.problems) > 0 {
			bad++
		}
	}
	return
}

func (r *tReport) pass() bool {
	il, bad, _ := r.counts()
	return il == 0 && bad == 0 && r.stable == nil
}

func (r *tReport) verdict() string {
	il, bad, und := r.counts()
	faults := map[tFaultKind]int{}
	for _, f := range r.sched {
		if !f.Start.IsZero() {
			faults[f.Kind]++
		}
	}
	var fs []string
	for _, k := range r.cfg.faults {
		fs = append(fs, fmt.Sprintf("%s %d", k, faults[k]))
	}
	word := "PASS"
	if !r.pass() {
		word = "FAIL"
	}
	st := ""
	if r.stable != nil {
		st = "; not stable at the end"
	}
	total := r.outcomes[tOK] + r.outcomes[tFailed] + r.outcomes[tUnknown]
	return fmt.Sprintf("torture %s seed %d: %d operations (ok %d, failed %d, unknown %d), %d keys: %d not linearizable, %d with lost/invented/duplicated data, %d undecided; faults: %s%s",
		word, r.cfg.seed, total, r.outcomes[tOK], r.outcomes[tFailed], r.outcomes[tUnknown], len(r.keys), il, bad, und, strings.Join(fs, ", "), st)
}

func (r *tReport) write(dir string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "chkv torture report\n\nseed %d, %d NameNodes, %d DataNodes, %d replicas, %v of faults (%v in all), %d clients\n",
		r.cfg.seed, r.cfg.namenodes, r.cfg.datanodes, r.cfg.replicas, r.cfg.duration, r.elapsed.Round(time.Second), r.cfg.clients)
	var kinds []string
	for _, k := range r.cfg.faults {
		kinds = append(kinds, string(k))
	}
	fmt.Fprintf(&b, "rerun: chkv torture --seed %d --duration %v --namenodes %d --datanodes %d --replicas %d --clients %d --faults %s (the schedule repeats; the interleaving of the clients and the processes does not)\n",
		r.cfg.seed, r.cfg.duration, r.cfg.namenodes, r.cfg.datanodes, r.cfg.replicas, r.cfg.clients, strings.Join(kinds, ","))
	if r.cfg.unsafeAck {
		b.WriteString("PLANTED BUG: the DataNodes acknowledged writes before their replicas had them (--test-unsafe-ack)\n")
	}
	b.WriteString("\n== schedule\n")
	for _, f := range r.sched {
		when := "not run"
		if !f.Start.IsZero() {
			when = fmt.Sprintf("%s - %s", f.Start.UTC().Format("15:04:05.000"), f.End.UTC().Format("15:04:05.000"))
		}
		extra := ""
		if f.Kind == fNetem {
			extra = fmt.Sprintf(" delay %v loss %d%%", f.Delay, f.Loss)
		}
		fmt.Fprintf(&b, "fault %3d at +%-8v %-11s %-12s %s%s %s\n", f.N, f.At.Round(time.Millisecond), f.Kind, strings.Join(f.Nodes, ","), when, extra, f.Note)
	}
	b.WriteString("\n== operations (ok / failed / unknown)\n")
	for k := tRegister; k <= tVersioned; k++ {
		c := r.byKind[k]
		fmt.Fprintf(&b, "%-10s %6d %6d %6d\n", k, c[0], c[1], c[2])
	}
	b.WriteString("\n== unavailability per fault\n")
	for _, l := range r.windows {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n== keys\n")
	for _, k := range r.keys {
		lin := map[porcupine.CheckResult]string{porcupine.Ok: "linearizable", porcupine.Illegal: "NOT LINEARIZABLE", porcupine.Unknown: "undecided (timeout)"}[k.lin]
		fmt.Fprintf(&b, "%-16s %-9s %6d ops  %s", k.key, k.kind, k.ops, lin)
		if k.html != "" {
			fmt.Fprintf(&b, "  see %s", filepath.Base(k.html))
		}
		for _, p := range k.problems {
			fmt.Fprintf(&b, "\n    %s", p)
		}
		b.WriteString("\n")
	}
	if r.stable != nil {
		fmt.Fprintf(&b, "\nthe cluster was not stable at the end: %v\n", r.stable)
	}
	fmt.Fprintf(&b, "\n%s\n", r.verdict())
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	var idx strings.Builder
	idx.WriteString("<!doctype html><meta charset=utf-8><title>chkv torture</title><h1>chkv torture</h1><p>" + htmlEsc(r.verdict()) + "</p><ul>")
	for _, k := range r.keys {
		if k.html != "" {
			fmt.Fprintf(&idx, "<li><a href=%q>%s</a> (%s) fails linearizability</li>", filepath.Base(k.html), htmlEsc(k.key), k.kind)
		}
	}
	idx.WriteString("</ul><pre>" + htmlEsc(b.String()) + "</pre>")
	return os.WriteFile(filepath.Join(dir, "index.html"), []byte(idx.String()), 0o644)
}

func htmlEsc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// dump writes every recorded call on key, in call order, to path.
func (w *tWorkload) dump(key, path string) {
	var b strings.Builder
	var recs []tRecord
	for _, r := range w.ops {
		if r.key == key {
			recs = append(recs, r)
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].start.Before(recs[j].start) })
	outcome := map[tOutcome]string{tOK: "ok", tFailed: "failed", tUnknown: "unknown"}
	for _, r := range recs {
		fmt.Fprintf(&b, "%s %s client %2d %-9s %-10s %-7s exists %-5v value %q n %d %s\n",
			r.start.UTC().Format("15:04:05.000000"), r.end.UTC().Format("15:04:05.000000"), r.client,
			r.in.Op, r.in.Value, outcome[r.outcome], r.out.Exists, strings.ReplaceAll(r.out.Value, tSep, " "), r.out.N, r.err)
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
}
