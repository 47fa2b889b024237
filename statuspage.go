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

// StatusEvent is one published table version as the status page lists it.
type StatusEvent struct {
	Time    time.Time `json:"time"`
	Version uint64    `json:"version"`
	// Text says what changed: members that came, went or changed state,
	// and how many slots changed primary.
	Text string `json:"text"`
}

// nameNodeObs is what the NameNode keeps for its metrics and status page.
type nameNodeObs struct {
	once    sync.Once
	metrics http.Handler
	// events are the recent table versions, oldest first; guarded by
	// NameNode.mu (published runs under it).
	events []StatusEvent
}

// published records the change from table old to t. The caller holds n.mu.
func (o *nameNodeObs) published(old, t *Table) {
	var parts []string
	was := map[NodeID]Member{}
	for _, m := range old.Members {
		was[m.ID] = m
	}
	for _, m := range t.Members {
		p, ok := was[m.ID]
		switch {
		case !ok:
			parts = append(parts, fmt.Sprintf("%s added (%s)", m.ID, m.State))
		case p.State != m.State:
			parts = append(parts, fmt.Sprintf("%s %s → %s", m.ID, p.State, m.State))
		}
		delete(was, m.ID)
	}
	for _, m := range old.Members {
		if _, gone := was[m.ID]; gone {
			parts = append(parts, fmt.Sprintf("%s removed", m.ID))
		}
	}
	moved := 0
	for s := range NumSlots {
		a, aok := old.Primary(s)
		b, bok := t.Primary(s)
		if aok != bok || a.ID != b.ID {
			moved++
		}
	}
	if moved > 0 {
		parts = append(parts, fmt.Sprintf("%d slots changed primary", moved))
	}
	if len(parts) == 0 {
		parts = append(parts, "replicas changed")
	}
	o.events = append(o.events, StatusEvent{Time: time.Now(), Version: t.Version, Text: strings.Join(parts, "; ")})
	if len(o.events) > maxStatusEvents {
		o.events = slices.Delete(o.events, 0, len(o.events)-maxStatusEvents)
	}
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
	out := statusPageJSON{Status: n.statusLocked(), Events: slices.Clone(n.obs.events), Moving: []int{}}
	n.mu.Unlock()
	for s := range NumSlots {
		if !sameOwners(t, plan, s) {
			out.Moving = append(out.Moving, s)
		}
	}
	if out.Events == nil {
		out.Events = []StatusEvent{}
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
