// The NameNode's status page: an HTML page (statuspage.html, no external assets) that draws the slot map and polls a JSON of the members, the movement and the recent table versions.

package chkv

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed statuspage.html
var statusPageHTML []byte

// maxStatusEvents is how many table versions the status page lists.
const maxStatusEvents = 50

// StatusEvent is one published table version, or a run of versions that
// only moved slots, as the status page lists them.
type StatusEvent struct {
	Time time.Time `json:"time"` // of the last version
	// From is the first version of a run; Version is its last.
	From    uint64 `json:"from"`
	Version uint64 `json:"version"`
	// Text says what changed: members that came, went or changed state,
	// and how many slots changed primary or replicas.
	Text string `json:"text"`
}

// statusEvent is a StatusEvent with the figures its text sums.
type statusEvent struct {
	StatusEvent
	members             []string // membership changes; none in a run that only moved slots
	primaries, replicas int      // slots whose primary changed; slots whose replicas alone changed
}

func (e *statusEvent) text() string {
	parts := slices.Clone(e.members)
	if e.primaries > 0 {
		parts = append(parts, fmt.Sprintf("%d slots changed primary", e.primaries))
	}
	if e.replicas > 0 {
		parts = append(parts, fmt.Sprintf("%d changed replicas", e.replicas))
	}
	if len(parts) == 0 {
		parts = append(parts, "no slot changed")
	}
	if e.From != e.Version {
		return strings.Join(parts, ", ") + fmt.Sprintf(" over %d tables", e.Version-e.From+1)
	}
	return strings.Join(parts, "; ")
}

// nameNodeObs is what the NameNode keeps for its metrics and status page.
type nameNodeObs struct {
	once    sync.Once
	metrics http.Handler
	// events are the recent table versions, oldest first; guarded by
	// NameNode.mu (published runs under it).
	events []statusEvent
}

// published records the change from table old to t. The caller holds
// n.mu. Versions that only move slots add up into one event, so that a
// join's many small steps do not push the membership changes away.
func (o *nameNodeObs) published(old, t *Table) {
	e := statusEvent{StatusEvent: StatusEvent{Time: time.Now(), From: t.Version, Version: t.Version}}
	was := map[NodeID]Member{}
	for _, m := range old.Members {
		was[m.ID] = m
	}
	for _, m := range t.Members {
		p, ok := was[m.ID]
		switch {
		case !ok:
			e.members = append(e.members, fmt.Sprintf("%s added (%s)", m.ID, m.State))
		case p.State != m.State:
			e.members = append(e.members, fmt.Sprintf("%s %s → %s", m.ID, p.State, m.State))
		}
		delete(was, m.ID)
	}
	for _, m := range old.Members {
		if _, gone := was[m.ID]; gone {
			e.members = append(e.members, fmt.Sprintf("%s removed", m.ID))
		}
	}
	for s := range NumSlots { // without allocating: a rebuild publishes a table per batch
		a, aok := old.Primary(s)
		b, bok := t.Primary(s)
		switch {
		case !aok && !bok:
		case !aok || !bok || a.ID != b.ID:
			e.primaries++
		case old.cnt[s] != t.cnt[s] || !sameOwners(old, t, s):
			e.replicas++
		}
	}
	if k := len(o.events); k > 0 && len(e.members) == 0 && len(o.events[k-1].members) == 0 {
		last := &o.events[k-1]
		last.Time, last.Version = e.Time, e.Version
		last.primaries += e.primaries
		last.replicas += e.replicas
		last.Text = last.text()
		return
	}
	e.Text = e.text()
	o.events = append(o.events, e)
	if len(o.events) > maxStatusEvents {
		o.events = slices.Delete(o.events, 0, len(o.events)-maxStatusEvents)
	}
}

// recentEvents returns the events for the page. The caller holds n.mu.
func (o *nameNodeObs) recentEvents() []StatusEvent {
	out := make([]StatusEvent, len(o.events))
	for i, e := range o.events {
		out[i] = e.StatusEvent
	}
	return out
}

// statusPageJSON is what the status page polls.
type statusPageJSON struct {
	// Status is the NameNode's CHKV.STATUS.
	Status json.RawMessage `json:"status"`
	Events []StatusEvent   `json:"events"`
	// Map is the served table's slot map; absent when the page already
	// has this version (?have=VERSION).
	Map *statusMap `json:"map,omitempty"`
	// Moving lists the slots whose owners the plan changes: those still to move.
	Moving []int `json:"moving"`
}

// statusMap is a table's slot map: each slot's owners, primary first, as
// indices into Members; an empty list for a slot with no owner.
type statusMap struct {
	Version uint64   `json:"version"`
	Members []string `json:"members"`
	Owners  [][]int  `json:"owners"`
	Lost    []int    `json:"lost"`
}

// statusPageData returns the JSON the status page polls; have is the
// table version the page holds already.
func (n *NameNode) statusPageData(have uint64) []byte {
	n.mu.Lock()
	t, plan := n.table, n.plan
	out := statusPageJSON{Status: n.statusLocked(), Events: n.obs.recentEvents(), Moving: []int{}}
	n.mu.Unlock()
	for s := range NumSlots {
		if !sameOwners(t, plan, s) {
			out.Moving = append(out.Moving, s)
		}
	}
	if have != t.Version || t.Version == 0 {
		m := &statusMap{Version: t.Version, Owners: make([][]int, NumSlots), Lost: []int{}}
		for _, mb := range t.Members {
			m.Members = append(m.Members, string(mb.ID))
		}
		for s := range NumSlots {
			row := t.ownRow(s)[:t.cnt[s]]
			m.Owners[s] = make([]int, len(row))
			for i, o := range row {
				m.Owners[s][i] = int(o)
			}
			if t.lost[s] {
				m.Lost = append(m.Lost, s)
			}
		}
		out.Map = m
	}
	b, _ := json.Marshal(out)
	return b
}

// StatusPage returns the http.Handler of the NameNode's status page: "/"
// is the page (members with state, rack and load; the slot map coloured
// by primary, replicas on hover; movement progress; recent table
// versions), "/status.json" the data it polls every second, and
// "/metrics" the NameNode's Prometheus metrics. The page loads nothing
// from elsewhere. Serve it on loopback, or behind a password: it has no
// access control of its own.
func (n *NameNode) StatusPage() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(statusPageHTML)
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		have, _ := strconv.ParseUint(r.URL.Query().Get("have"), 10, 64)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(n.statusPageData(have))
	})
	mux.Handle("GET /metrics", n.MetricsHandler())
	return mux
}
