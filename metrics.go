// Prometheus metrics of every role: per-connection command counters summed when scraped, and collectors that read each node's own figures.

package chkv

import (
	"encoding/json"
	"math/bits"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Adding a metric: give it a desc in newDataNodeDescs (or nameNodeDescs)
// and send its value from the matching collect method. Collectors read
// figures the nodes keep anyway, at scrape time, so nothing is counted
// twice on the hot path.

// latencyBuckets is the number of finite buckets of the command latency
// histograms: bucket i holds durations up to 2^i microseconds, so the last
// finite bound is 2^20 µs, about one second.
const latencyBuckets = 21

// maxErrorKinds caps the distinct error prefixes counted, as Redis caps
// its errorstats at 128; further kinds are counted under "other".
const maxErrorKinds = 128

// latencySample is how many commands of a connection share one latency
// measurement: reading the clock twice costs more than many commands (150
// ns on a VM whose clock is not read in user space), so one command in
// latencySample is timed. The histograms' _count counts the timed ones.
const latencySample = 16

// cmdStat counts one command on one connection. Only the connection's
// goroutine or event loop writes it; scrapes read it. Atomics that one
// core writes stay in that core's cache: they cost no contention.
type cmdStat struct {
	calls, fails atomic.Int64
	sumNs        atomic.Int64
	timed        atomic.Int64                     // calls measured into buckets
	buckets      [latencyBuckets + 1]atomic.Int64 // last: above the last bound
}

// observe adds one measured call of duration d.
func (s *cmdStat) observe(d time.Duration) {
	us := (max(int64(d), 1) + 999) / 1000 // whole microseconds, rounded up
	i := min(bits.Len64(uint64(us-1)), latencyBuckets)
	s.buckets[i].Add(1)
	s.sumNs.Add(int64(d))
	s.timed.Add(1)
}

// cmdStatRef pairs a command with its counters on one connection.
type cmdStatRef struct {
	cmd *command
	st  *cmdStat
}

// connMetrics is a connection's share of its node's metrics.
type connMetrics struct {
	// ran is the command exec ran last (nil: it refused the request).
	ran *command
	// tick counts requests, to time one in latencySample.
	tick uint32
	// stats holds a counter per command the connection used; it is
	// replaced, never changed, when a new command appears, so that
	// scrapes read it without a lock.
	stats    atomic.Pointer[[]cmdStatRef]
	rejected atomic.Int64
	errs     map[string]int64 // by error prefix; guarded by conn.mu
}

// stat returns the connection's counters of cmd, adding them on first use.
func (m *connMetrics) stat(cmd *command) *cmdStat {
	p := m.stats.Load()
	if p != nil {
		for _, r := range *p {
			if r.cmd == cmd {
				return r.st
			}
		}
	}
	var refs []cmdStatRef
	if p != nil {
		refs = append(refs, *p...)
	}
	st := &cmdStat{}
	refs = append(refs, cmdStatRef{cmd, st})
	m.stats.Store(&refs)
	return st
}

// execCounted runs one request (exec) and counts it: calls, failures and
// errors always; the latency of one command in latencySample (the first,
// and every latencySample-th after it) once the node's metrics are asked
// for.
func (c *conn) execCounted(args [][]byte) {
	errs := c.w.errs
	c.m.tick++
	timed := c.m.tick%latencySample == 1 && c.d.metrics.timing.Load()
	var start time.Time
	if timed {
		start = time.Now()
	}
	c.m.ran = nil
	c.exec(args)
	if c.wouldWait {
		return // it runs again, and is counted then, from a goroutine
	}
	failed := c.w.errs != errs
	if failed {
		c.countError(c.w.lastErr)
	}
	cmd := c.m.ran
	if cmd == nil {
		if failed {
			c.m.rejected.Add(1)
		}
		return
	}
	st := c.m.stat(cmd)
	st.calls.Add(1)
	if failed {
		st.fails.Add(1)
	}
	if timed {
		st.observe(time.Since(start))
	}
}

// countError counts an error reply by its prefix ("ERR", "WRONGTYPE", "MOVED").
func (c *conn) countError(prefix string) {
	c.mu.Lock()
	if c.m.errs == nil {
		c.m.errs = map[string]int64{}
	}
	if _, ok := c.m.errs[prefix]; !ok && len(c.m.errs) >= maxErrorKinds {
		prefix = "other"
	}
	c.m.errs[prefix]++
	c.mu.Unlock()
}

// errorPrefix returns the first word of an error text: its leading
// letters, digits, '_' and '-' (at most 32), or "other" when there is none.
func errorPrefix(msg string) string {
	i := 0
	for i < len(msg) && i < 32 {
		c := msg[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			break
		}
		i++
	}
	if i == 0 {
		return "other"
	}
	return msg[:i]
}

// cmdTotals are the summed counters of one command.
type cmdTotals struct {
	calls, fails, sumNs, timed int64
	buckets                    [latencyBuckets + 1]int64
}

func (t *cmdTotals) add(s *cmdStat) {
	t.calls += s.calls.Load()
	t.fails += s.fails.Load()
	t.sumNs += s.sumNs.Load()
	t.timed += s.timed.Load()
	for i := range t.buckets {
		t.buckets[i] += s.buckets[i].Load()
	}
}

func (t *cmdTotals) merge(o *cmdTotals) {
	t.calls += o.calls
	t.fails += o.fails
	t.sumNs += o.sumNs
	t.timed += o.timed
	for i := range t.buckets {
		t.buckets[i] += o.buckets[i]
	}
}

// dataNodeMetrics is a DataNode's metrics state: what closed connections
// counted, and the registry its handler serves.
type dataNodeMetrics struct {
	// timing turns latency measurement on: set once the node's metrics
	// are first asked for, so a node nobody scrapes reads no clock.
	timing atomic.Bool

	// Guarded by DataNode.mu (folded in as connections close).
	cmds     map[*command]*cmdTotals
	errs     map[string]int64
	rejected int64

	once    sync.Once
	handler http.Handler
}

// fold adds a closing connection's counters to the node's. The caller
// holds d.mu.
func (m *dataNodeMetrics) fold(c *conn) {
	if p := c.m.stats.Load(); p != nil {
		if m.cmds == nil {
			m.cmds = map[*command]*cmdTotals{}
		}
		for _, r := range *p {
			t := m.cmds[r.cmd]
			if t == nil {
				t = &cmdTotals{}
				m.cmds[r.cmd] = t
			}
			t.add(r.st)
		}
	}
	m.rejected += c.m.rejected.Load()
	c.mu.Lock()
	for k, v := range c.m.errs {
		if m.errs == nil {
			m.errs = map[string]int64{}
		}
		if _, ok := m.errs[k]; !ok && len(m.errs) >= maxErrorKinds {
			k = "other"
		}
		m.errs[k] += v
	}
	c.mu.Unlock()
}

// commandTotals sums the command counters of closed and open connections.
func (d *DataNode) commandTotals() (cmds map[string]*cmdTotals, errs map[string]int64, rejected int64) {
	cmds, errs = map[string]*cmdTotals{}, map[string]int64{}
	get := func(cmd *command) *cmdTotals {
		t := cmds[cmd.name]
		if t == nil {
			t = &cmdTotals{}
			cmds[cmd.name] = t
		}
		return t
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	m := &d.metrics
	for cmd, t := range m.cmds {
		get(cmd).merge(t)
	}
	for k, v := range m.errs {
		errs[k] += v
	}
	rejected = m.rejected
	for c := range d.conns {
		if p := c.m.stats.Load(); p != nil {
			for _, r := range *p {
				get(r.cmd).add(r.st)
			}
		}
		rejected += c.m.rejected.Load()
		c.mu.Lock()
		for k, v := range c.m.errs {
			errs[k] += v
		}
		c.mu.Unlock()
	}
	return cmds, errs, rejected
}

// MetricsHandler returns the http.Handler of the node's Prometheus metrics
// (mount it at /metrics): commands, failures, errors and latency by
// command, connections, network bytes, keys, memory, the table version and
// slot movement, and the Go runtime's figures. Command latency is measured
// from the first call on; counters count from the start.
func (d *DataNode) MetricsHandler() http.Handler {
	d.metrics.once.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(newDataNodeCollector(d, nil), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		d.metrics.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
		d.metrics.timing.Store(true)
	})
	return d.metrics.handler
}

// dataNodeCollector reads one DataNode's figures at scrape time.
type dataNodeCollector struct {
	d                                                       *DataNode
	commands, failures, latency, rejected, errors           *prometheus.Desc
	conns, connsReceived, connsRejected, netIn, netOut      *prometheus.Desc
	keys, expires, expired, memory, version, slots          *prometheus.Desc
	migKeys, migBytes, migSlots, migMoving, blocked, uptime *prometheus.Desc
}

// newDataNodeCollector returns the collector of d's metrics; labels, when
// not nil, are added to every metric (the node label of a Cluster's).
func newDataNodeCollector(d *DataNode, labels prometheus.Labels) *dataNodeCollector {
	desc := func(name, help string, vars ...string) *prometheus.Desc {
		return prometheus.NewDesc("chkv_"+name, help, vars, labels)
	}
	return &dataNodeCollector{
		d:             d,
		commands:      desc("commands_total", "Commands run, by command (Redis's calls).", "cmd"),
		failures:      desc("command_failures_total", "Commands run that answered an error, by command (Redis's failed_calls).", "cmd"),
		latency:       desc("command_duration_seconds", "Time a DataNode spent on a command, by command: one command in 16 on each connection is timed, from the first request for the metrics on.", "cmd"),
		rejected:      desc("commands_rejected_total", "Requests refused before running: unknown command, wrong arity, NOAUTH, MOVED, ASK, CLUSTERDOWN, CROSSSLOT."),
		errors:        desc("errors_total", "Error replies by their first word (Redis's errorstats).", "error"),
		conns:         desc("connected_clients", "Client connections open."),
		connsReceived: desc("connections_received_total", "Client connections accepted."),
		connsRejected: desc("connections_rejected_total", "Client connections refused at maxclients."),
		netIn:         desc("net_input_bytes_total", "Bytes read from clients."),
		netOut:        desc("net_output_bytes_total", "Bytes written to clients."),
		keys:          desc("keys", "Keys held."),
		expires:       desc("keys_with_ttl", "Keys held that have a TTL."),
		expired:       desc("expired_keys_total", "Keys removed because their TTL passed."),
		memory:        desc("used_memory_bytes", "Bytes of keys and values held (INFO used_memory)."),
		blocked:       desc("blocked_clients", "Clients waiting in a blocking command."),
		uptime:        desc("uptime_seconds", "Seconds since the node started."),
		version:       desc("table_version", "Version of the partition table the node routes by (0: standalone or none yet)."),
		slots:         desc("slots", "Slots the node holds by role in its table (primary, replica).", "role"),
		migKeys:       desc("migrate_keys_total", "Keys copied by slot movement, by direction (sent, received).", "direction"),
		migBytes:      desc("migrate_bytes_total", "Bytes copied by slot movement, by direction.", "direction"),
		migSlots:      desc("migrate_slots_total", "Slots moved, by direction.", "direction"),
		migMoving:     desc("migrate_slots_moving", "Slot moves under way, by direction (out, in).", "direction"),
	}
}

// Describe sends every desc.
func (dc *dataNodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		dc.commands, dc.failures, dc.latency, dc.rejected, dc.errors, dc.conns, dc.connsReceived, dc.connsRejected,
		dc.netIn, dc.netOut, dc.keys, dc.expires, dc.expired, dc.memory, dc.blocked, dc.uptime, dc.version, dc.slots,
		dc.migKeys, dc.migBytes, dc.migSlots, dc.migMoving,
	} {
		ch <- d
	}
}

// Collect sends the node's current figures.
func (dc *dataNodeCollector) Collect(ch chan<- prometheus.Metric) {
	d := dc.d
	counter := func(desc *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v), labels...)
	}
	cmds, errs, rejected := d.commandTotals()
	for name, t := range cmds {
		counter(dc.commands, t.calls, name)
		counter(dc.failures, t.fails, name)
		if t.timed == 0 {
			continue
		}
		b := make(map[float64]uint64, latencyBuckets)
		var cum uint64
		for i := range latencyBuckets {
			cum += uint64(t.buckets[i])
			b[float64(int64(1)<<i)/1e6] = cum
		}
		ch <- prometheus.MustNewConstHistogram(dc.latency, uint64(t.timed), float64(t.sumNs)/1e9, b, name)
	}
	counter(dc.rejected, rejected)
	for k, v := range errs {
		counter(dc.errors, v, k)
	}
	nconns, netIn, netOut := d.connCounts()
	gauge(dc.conns, nconns)
	counter(dc.connsReceived, d.stats.connsReceived.Load())
	counter(dc.connsRejected, d.stats.connsRejected.Load())
	counter(dc.netIn, netIn)
	counter(dc.netOut, netOut)
	gauge(dc.keys, int64(d.store.Keys()))
	gauge(dc.expires, int64(d.store.keysWithTTL()))
	counter(dc.expired, d.store.ExpiredKeys())
	gauge(dc.memory, d.store.UsedMemory())
	gauge(dc.blocked, int64(d.store.blockedClients()))
	ch <- prometheus.MustNewConstMetric(dc.uptime, prometheus.GaugeValue, d.cfg.Now().Sub(d.started).Seconds())
	var version uint64
	var prim, repl int
	if t := d.Table(); t != nil {
		version = t.Version
		prim, repl = t.Load(d.ID())
	} else if d.cluster == nil {
		prim = NumSlots
	}
	ch <- prometheus.MustNewConstMetric(dc.version, prometheus.GaugeValue, float64(version))
	gauge(dc.slots, int64(prim), "primary")
	gauge(dc.slots, int64(repl), "replica")
	mig := &migrationStats{}
	if d.cluster != nil {
		mig = &d.cluster.stats
	}
	counter(dc.migKeys, mig.keysSent.Load(), "sent")
	counter(dc.migKeys, mig.keysReceived.Load(), "received")
	counter(dc.migBytes, mig.bytesSent.Load(), "sent")
	counter(dc.migBytes, mig.bytesReceived.Load(), "received")
	counter(dc.migSlots, mig.slotsSent.Load(), "sent")
	counter(dc.migSlots, mig.slotsRecv.Load(), "received")
	gauge(dc.migMoving, mig.slotsOut.Load(), "out")
	gauge(dc.migMoving, mig.slotsIn.Load(), "in")
}

// connCounts returns the open connections and the bytes in and out of
// closed and open ones.
func (d *DataNode) connCounts() (conns, in, out int64) {
	_, in, out = d.connTotals()
	d.mu.Lock()
	conns = int64(len(d.conns))
	d.mu.Unlock()
	return conns, in, out
}

// nameNodeCollector reads a NameNode's membership, table and movement at
// scrape time.
type nameNodeCollector struct {
	n                                                *NameNode
	version, members, memberSlots, replicas, stable  *prometheus.Desc
	migActive, migTotal, migDone, migMoving, migKeys *prometheus.Desc
	migBytes, migRate, migNodeSlots, lost, conns     *prometheus.Desc
}

func newNameNodeCollector(n *NameNode) *nameNodeCollector {
	desc := func(name, help string, vars ...string) *prometheus.Desc {
		return prometheus.NewDesc("chkv_namenode_"+name, help, vars, nil)
	}
	return &nameNodeCollector{
		n:            n,
		version:      desc("table_version", "Version of the table the NameNode serves."),
		members:      desc("members", "Members of the table by state (joining, up, leaving, down).", "state"),
		memberSlots:  desc("member_slots", "Slots each member holds in the served table, by role (primary, replica).", "node", "rack", "state", "role"),
		replicas:     desc("replicas", "Replicas of each slot besides its primary (R)."),
		stable:       desc("stable", "1 when no member joins or leaves, every slot has an owner and the table has reached the plan."),
		lost:         desc("lost_slots", "Slots with no live copy."),
		migActive:    desc("migration_active", "1 while slots remain to move."),
		migTotal:     desc("migration_slots", "Slots to move since the movement began."),
		migDone:      desc("migration_slots_done", "Of those, slots moved."),
		migMoving:    desc("migration_slots_moving", "Slots in batches under way."),
		migKeys:      desc("migration_keys_moved", "Keys moved since the movement began."),
		migBytes:     desc("migration_bytes_moved", "Bytes moved since the movement began."),
		migRate:      desc("migration_keys_per_second", "Keys moved per second since the movement began."),
		migNodeSlots: desc("migration_member_slots", "Slots each member still has to receive or send, by direction (in, out).", "node", "direction"),
		conns:        desc("connections", "Connections open to the NameNode (DataNodes, clients, watchers)."),
	}
}

// Describe sends every desc.
func (nc *nameNodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		nc.version, nc.members, nc.memberSlots, nc.replicas, nc.stable, nc.lost, nc.migActive, nc.migTotal,
		nc.migDone, nc.migMoving, nc.migKeys, nc.migBytes, nc.migRate, nc.migNodeSlots, nc.conns,
	} {
		ch <- d
	}
}

// Collect sends the NameNode's current figures.
func (nc *nameNodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := nc.n
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	n.mu.Lock()
	t := n.table
	var st nnStatus
	b := n.statusLocked()
	conns := len(n.conns)
	n.mu.Unlock()
	if err := json.Unmarshal(b, &st); err != nil {
		return
	}
	gauge(nc.version, float64(t.Version))
	gauge(nc.replicas, float64(t.Replicas))
	gauge(nc.stable, b2f(st.Stable))
	byState := map[string]int{"joining": 0, "up": 0, "leaving": 0, "down": 0}
	for _, m := range t.Members {
		byState[m.State.String()]++
	}
	for s, k := range byState {
		gauge(nc.members, float64(k), s)
	}
	for _, m := range st.Members {
		gauge(nc.memberSlots, float64(m.Primaries), string(m.ID), m.Rack, m.State, "primary")
		gauge(nc.memberSlots, float64(m.Replicas), string(m.ID), m.Rack, m.State, "replica")
	}
	lost := 0
	for s := range NumSlots {
		if t.Lost(s) {
			lost++
		}
	}
	gauge(nc.lost, float64(lost))
	mg := st.Migration
	gauge(nc.migActive, b2f(mg.Active))
	gauge(nc.migTotal, float64(mg.SlotsTotal))
	gauge(nc.migDone, float64(mg.SlotsDone))
	gauge(nc.migMoving, float64(mg.SlotsMoving))
	gauge(nc.migKeys, float64(mg.KeysMoved))
	gauge(nc.migBytes, float64(mg.BytesMoved))
	gauge(nc.migRate, mg.KeysPerSec)
	for _, p := range mg.Nodes {
		gauge(nc.migNodeSlots, float64(p.SlotsIn), string(p.ID), "in")
		gauge(nc.migNodeSlots, float64(p.SlotsOut), string(p.ID), "out")
	}
	gauge(nc.conns, float64(conns))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// MetricsHandler returns the http.Handler of the NameNode's Prometheus
// metrics: the table version, members by state, slots per member, and the
// progress of data movement, with the Go runtime's figures.
func (n *NameNode) MetricsHandler() http.Handler {
	n.obs.once.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(newNameNodeCollector(n), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		n.obs.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	})
	return n.obs.metrics
}

// MetricsHandler returns the http.Handler of the whole cluster's
// Prometheus metrics: the NameNode's, and every running DataNode's with a
// node label, as one scrape.
func (c *Cluster) MetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newNameNodeCollector(c.nn), clusterCollector{c}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// clusterCollector collects the metrics of a Cluster's running DataNodes,
// which come and go, so it describes none up front (an unchecked collector).
type clusterCollector struct{ c *Cluster }

// Describe sends nothing: the DataNodes are only known at scrape time.
func (clusterCollector) Describe(chan<- *prometheus.Desc) {}

// Collect sends each running DataNode's metrics labelled with its id.
func (cc clusterCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range cc.c.DataNodes() {
		d.metrics.timing.Store(true)
		newDataNodeCollector(d, prometheus.Labels{"node": string(d.ID())}).Collect(ch)
	}
}
