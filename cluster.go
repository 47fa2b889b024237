// Cluster runs a whole chkv cluster in one process: a NameNode and DataNodes over the memory network or TCP loopback, with controls to add, remove, kill, restart and partition nodes.

package chkv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Transports a Cluster can run over.
const (
	// ClusterMem runs the cluster on a MemNetwork (the default).
	ClusterMem = "mem"
	// ClusterTCP runs the cluster on TCP loopback sockets.
	ClusterTCP = "tcp"
)

// NameNodeNode is the node name of a Cluster's NameNode on its memory
// network, for Partition; DataNodes are named by their ids and clients
// (Cluster.Transport) by ClientNode.
const (
	NameNodeNode = "namenode"
	ClientNode   = "client"
)

// ClusterConfig configures an in-process cluster.
type ClusterConfig struct {
	// DataNodes is how many DataNodes start. Default 3.
	DataNodes int
	// NameNodes is how many NameNodes run: 1 (the default) alone, more a
	// Raft group (namenode_ha.go) of NameNodes "nn1", "nn2"... named
	// NameNodeNodeName(i) on the memory network. Their Raft data lives
	// under DataDir, or a temporary directory removed by Close.
	NameNodes int
	// RaftTimeout, with several NameNodes, is their Raft heartbeat and
	// election timeout; 0 means the defaults.
	RaftTimeout time.Duration
	// Replicas is R, the replicas of each slot besides its primary.
	Replicas int
	// CacheMode reassigns lost slots empty instead of answering CLUSTERDOWN,
	// and makes a DataNode at its MaxMemory evict (allkeys-lru, unless
	// MaxMemoryPolicy names another evicting policy) instead of refusing
	// writes: Tair's cache.
	CacheMode bool
	// MaxMemory caps each DataNode's data (DataNodeConfig.MaxMemory); 0: no cap.
	MaxMemory int64
	// MaxMemoryPolicy is each DataNode's policy at the cap (DataNodeConfig.MaxMemoryPolicy).
	MaxMemoryPolicy MaxMemoryPolicy
	// MaxMemoryGCRoom is each DataNode's share of the cap kept free of data (DataNodeConfig.MaxMemoryGCRoom).
	MaxMemoryGCRoom int
	// MaxMemoryChanged, if set, is called after CONFIG SET maxmemory on
	// any DataNode with the sum of the running DataNodes' caps (0 when one
	// has none): the chkv binary moves the process's Go memory limit with it.
	MaxMemoryChanged func(totalBytes int64)
	// Transport is ClusterMem (default) or ClusterTCP.
	Transport string
	// Port, on TCP, puts the NameNode on 127.0.0.1:Port and DataNode i on
	// Port+i. 0: free ports.
	Port int
	// HeartbeatInterval is the DataNodes' heartbeat period; the NameNode's
	// failure detection scales with it. Default 1 s.
	HeartbeatInterval time.Duration
	// DataDir, when set, is the NameNode's data directory.
	DataDir string
	// DataNodeDirs, when set, gives each DataNode a data directory of its
	// own in it, named by its id: a restarted DataNode keeps its data.
	DataNodeDirs string
	// MigrateRate caps the keys per second each DataNode sends while slots
	// move (NameNodeConfig.MigrateRate); 0 means no cap.
	MigrateRate float64
	// MigrateParallel and MigrateBatch are the NameNode's settings of the
	// same names; 0 means their defaults.
	MigrateParallel, MigrateBatch int
	// EventLoops is how many event loops serve the plain TCP clients of
	// all the DataNodes together (see DataNodeConfig.EventLoops). Each
	// node's clients go to one loop: the i-th DataNode started uses loop i
	// modulo EventLoops. 0: one loop per DataNode the cluster starts
	// with; negative: a goroutine per connection. Loops hold a P while
	// they serve, and at most GOMAXPROCS-1 of them while they wait (see
	// rawWaits), so a process that runs many should have GOMAXPROCS above
	// their number, as `chkv cluster` sets it.
	EventLoops int
	// Logger receives every node's log lines. Default: discard.
	Logger *slog.Logger
	// ClusterSecret is the secret the nodes require of each other's
	// internal commands (NameNodeConfig.ClusterSecret); "" for none.
	ClusterSecret string
	// Racks, when set, puts the DataNodes in failure domains: dn<k> is in
	// rack Racks[(k-1) % len(Racks)]. Each slot's copies sit on distinct
	// racks where the racks allow.
	Racks []string
	// TLS and ClientTLS, on TCP, make every node serve TLS and dial its
	// peers with TLS (TCPTransport's fields of the same names).
	TLS, ClientTLS *tls.Config
}

// DefaultClusterConfig returns three DataNodes with one replica each on a
// memory network.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{DataNodes: 3, Replicas: 1, Transport: ClusterMem, HeartbeatInterval: time.Second}
}

// validate fills zero fields and rejects impossible settings.
func (c *ClusterConfig) validate() error {
	d := DefaultClusterConfig()
	if c.DataNodes == 0 {
		c.DataNodes = d.DataNodes
	}
	if c.NameNodes == 0 {
		c.NameNodes = 1
	}
	if c.NameNodes < 0 || c.RaftTimeout < 0 {
		return fmt.Errorf("chkv: %d NameNodes, Raft timeout %v", c.NameNodes, c.RaftTimeout)
	}
	if c.Transport == "" {
		c.Transport = d.Transport
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.DataNodes < 0:
		return fmt.Errorf("chkv: %d DataNodes", c.DataNodes)
	case c.Replicas < 0 || c.Replicas > MaxReplicas:
		return fmt.Errorf("chkv: replicas %d outside 0..%d", c.Replicas, MaxReplicas)
	case c.Transport != ClusterMem && c.Transport != ClusterTCP:
		return fmt.Errorf("chkv: cluster transport %q is neither %q nor %q", c.Transport, ClusterMem, ClusterTCP)
	case c.Port < 0 || c.Port+c.DataNodes > 65535:
		return fmt.Errorf("chkv: port %d out of range", c.Port)
	case c.HeartbeatInterval < 0:
		return errors.New("chkv: negative heartbeat interval")
	}
	return nil
}

// Cluster is a NameNode and its DataNodes running in this process.
type Cluster struct {
	cfg ClusterConfig
	net *MemNetwork // nil on TCP
	nn  *NameNode   // the NameNode alone; with several, the first
	// With several NameNodes: each one's config (to restart it), the
	// running ones (nil when killed), the temporary Raft directory.
	nnCfgs []NameNodeConfig
	nns    []*NameNode
	tmpDir string
	loops  *loopSet // shared by the DataNodes; nil on the memory network

	mu     sync.Mutex
	nodes  map[NodeID]*DataNode // running DataNodes
	addrs  map[NodeID]string    // address of every DataNode ever started
	next   int                  // number of DataNodes ever started
	closed bool
	once   sync.Once
}

// StartCluster starts a NameNode and cfg.DataNodes DataNodes and waits
// until the cluster is stable (WaitStable) or ctx ends.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, nodes: map[NodeID]*DataNode{}, addrs: map[NodeID]string{}}
	var tr Transport = &TCPTransport{TLS: cfg.TLS, ClientTLS: cfg.ClientTLS}
	addr := "127.0.0.1:0"
	if cfg.Transport == ClusterMem {
		c.net = &MemNetwork{}
		tr = c.net.Transport(NameNodeNode)
		addr = NameNodeNode + ":0"
	} else {
		if cfg.Port != 0 {
			addr = "127.0.0.1:" + strconv.Itoa(cfg.Port)
		}
		if n := cfg.EventLoops; n >= 0 {
			if n == 0 {
				n = max(1, cfg.DataNodes)
			}
			c.loops = newLoopSet(n, DefaultDataNodeConfig().IdleTimeout, cfg.Logger.With("role", "datanode"))
		}
	}
	ncfg := DefaultNameNodeConfig()
	ncfg.Addr = addr
	ncfg.Transport = tr
	ncfg.DataDir = cfg.DataDir
	ncfg.Ring.Replicas = cfg.Replicas
	ncfg.Ring.CacheMode = cfg.CacheMode
	ncfg.HeartbeatInterval = cfg.HeartbeatInterval
	ncfg.HeartbeatTimeout = 3 * cfg.HeartbeatInterval
	ncfg.ProbeInterval = cfg.HeartbeatInterval / 2
	ncfg.ProbeTimeout = cfg.HeartbeatInterval
	ncfg.Logger = cfg.Logger.With("role", "namenode")
	ncfg.ClusterSecret = cfg.ClusterSecret
	ncfg.ExpectDataNodes = cfg.DataNodes
	ncfg.MigrateRate = cfg.MigrateRate
	if cfg.MigrateParallel > 0 {
		ncfg.MigrateParallel = cfg.MigrateParallel
	}
	if cfg.MigrateBatch > 0 {
		ncfg.MigrateBatch = cfg.MigrateBatch
	}
	if cfg.NameNodes > 1 {
		if err := c.startNameNodes(ctx, ncfg); err != nil {
			c.Close()
			return nil, err
		}
	} else {
		nn, err := StartNameNode(ctx, ncfg)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nn = nn
	}
	for range cfg.DataNodes {
		if _, err := c.AddDataNode(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitStable(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NameNode returns the cluster's NameNode; with several, the leader (or,
// while none leads, the first running one). Closing it leaves the
// DataNodes serving with the tables they hold.
func (c *Cluster) NameNode() *NameNode {
	if c.nns == nil {
		return c.nn
	}
	if l := c.Leader(); l >= 0 {
		return c.NameNodeAt(l)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nns {
		if n != nil {
			return n
		}
	}
	return c.nn
}

// NameNodeAddr returns the address of the NameNode, or the
// comma-separated addresses of all of them.
func (c *Cluster) NameNodeAddr() string {
	if c.nns == nil {
		return c.nn.Addr()
	}
	var as []string
	for _, nc := range c.nnCfgs {
		as = append(as, nc.Addr)
	}
	return strings.Join(as, ",")
}

// Network returns the memory network, nil on TCP.
func (c *Cluster) Network() *MemNetwork { return c.net }

// Transport returns a transport for clients of the cluster: the node
// ClientNode of the memory network, or TCP.
func (c *Cluster) Transport() Transport {
	if c.net != nil {
		return c.net.Transport(ClientNode)
	}
	return &TCPTransport{TLS: c.cfg.TLS, ClientTLS: c.cfg.ClientTLS}
}

// DataNode returns the running DataNode with the given id, nil when none.
func (c *Cluster) DataNode(id NodeID) *DataNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// DataNodes returns the running DataNodes sorted by id. A node that left
// the cluster and closed itself is not running.
func (c *Cluster) DataNodes() []*DataNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds := make([]*DataNode, 0, len(c.nodes))
	for id, d := range c.nodes {
		select {
		case <-d.Done():
			delete(c.nodes, id)
			continue
		default:
		}
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b *DataNode) int {
		switch {
		case a.ID() < b.ID():
			return -1
		case a.ID() > b.ID():
			return 1
		}
		return 0
	})
	return ds
}

// Addrs returns the addresses of the running DataNodes, sorted by id.
func (c *Cluster) Addrs() []string {
	var as []string
	for _, d := range c.DataNodes() {
		as = append(as, d.Addr())
	}
	return as
}

// AddDataNode starts one more DataNode (id "dn<k>") that registers with the
// NameNode. It does not wait for the cluster to take it in: see WaitStable.
func (c *Cluster) AddDataNode(ctx context.Context) (*DataNode, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.next++
	k := c.next
	c.mu.Unlock()
	id := NodeID("dn" + strconv.Itoa(k))
	addr := "127.0.0.1:0"
	switch {
	case c.net != nil:
		addr = string(id) + ":0"
	case c.cfg.Port != 0:
		addr = "127.0.0.1:" + strconv.Itoa(c.cfg.Port+k)
	}
	return c.startDataNode(ctx, id, addr)
}

// startDataNode starts the DataNode id listening on addr.
func (c *Cluster) startDataNode(ctx context.Context, id NodeID, addr string) (*DataNode, error) {
	cfg := DefaultDataNodeConfig()
	cfg.Addr = addr
	cfg.Transport = c.Transport()
	if c.net != nil {
		cfg.Transport = c.net.Transport(string(id))
	}
	cfg.Logger = c.cfg.Logger.With("role", "datanode", "id", string(id))
	cfg.MaxMemory, cfg.MaxMemoryPolicy, cfg.MaxMemoryGCRoom = c.cfg.MaxMemory, c.cfg.MaxMemoryPolicy, c.cfg.MaxMemoryGCRoom
	if c.cfg.CacheMode && cfg.MaxMemoryPolicy == NoEviction {
		cfg.MaxMemoryPolicy = AllKeysLRU // a full cache evicts instead of refusing
	}
	if f := c.cfg.MaxMemoryChanged; f != nil {
		cfg.MaxMemoryChanged = func(int64) { f(c.totalMaxMemory()) }
	}
	cfg.loops = c.loops
	cc := DefaultClusterNodeConfig(c.NameNodeAddr())
	if k, err := strconv.Atoi(strings.TrimPrefix(string(id), "dn")); err == nil {
		cfg.loopAffinity = k - 1 // dn<k> is the k-th DataNode: loop k-1, also when restarted
		if len(c.cfg.Racks) > 0 && k > 0 {
			cc.Rack = c.cfg.Racks[(k-1)%len(c.cfg.Racks)]
		}
	}
	if c.loops == nil {
		cfg.EventLoops = -1
	}
	cc.ID = id
	cc.HeartbeatInterval = c.cfg.HeartbeatInterval
	cc.ClusterSecret = c.cfg.ClusterSecret
	cfg.Cluster = &cc
	if c.cfg.DataNodeDirs != "" {
		cfg.DataDir = filepath.Join(c.cfg.DataNodeDirs, string(id))
	}
	d, err := StartDataNode(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		d.Close()
		return nil, ErrClosed
	}
	c.nodes[id] = d
	c.addrs[id] = d.Addr()
	return d, nil
}

// totalMaxMemory is the sum of the running DataNodes' caps, 0 when one
// has none (the process then has no cap).
func (c *Cluster) totalMaxMemory() int64 {
	var total int64
	for _, d := range c.DataNodes() {
		n := d.Store().MaxMemory()
		if n <= 0 {
			return 0
		}
		total += n
	}
	return total
}

// take removes the running DataNode id from the cluster's books.
func (c *Cluster) take(id NodeID) (*DataNode, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.nodes[id]
	if d == nil {
		return nil, fmt.Errorf("chkv: no running DataNode %q", id)
	}
	delete(c.nodes, id)
	return d, nil
}

// RemoveDataNode takes a DataNode out gracefully: it asks the NameNode to
// let it leave (CHKV.LEAVE), then waits while every slot moves off it,
// until the node closes itself.
func (c *Cluster) RemoveDataNode(ctx context.Context, id NodeID) error {
	d := c.DataNode(id)
	if d == nil {
		return fmt.Errorf("chkv: no running DataNode %q", id)
	}
	if err := d.Leave(ctx); err != nil {
		return err
	}
	select {
	case <-d.Done():
	case <-ctx.Done():
		return fmt.Errorf("chkv: remove %s: %w", id, ctx.Err())
	}
	c.take(id) // DataNodes may have dropped it already
	if !d.Left() {
		return fmt.Errorf("chkv: remove %s: the node closed before its slots moved away", id)
	}
	return nil
}

// KillDataNode stops a DataNode at once, without telling the NameNode,
// which notices from its missing heartbeats. Its data is gone.
func (c *Cluster) KillDataNode(id NodeID) error {
	d, err := c.take(id)
	if err != nil {
		return err
	}
	d.Close()
	return nil
}

// RestartDataNode starts DataNode id again on its old address (killing it
// first when it runs), empty, or with its data when DataNodeDirs is set;
// it registers again under the same id.
func (c *Cluster) RestartDataNode(ctx context.Context, id NodeID) (*DataNode, error) {
	c.mu.Lock()
	addr, ok := c.addrs[id]
	running := c.nodes[id] != nil
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("chkv: no DataNode %q", id)
	}
	if running {
		if err := c.KillDataNode(id); err != nil {
			return nil, err
		}
	}
	return c.startDataNode(ctx, id, addr)
}

// Partition splits the memory network (MemNetwork.Partition): nodes are
// named by DataNode id, NameNodeNode and ClientNode. It fails on TCP.
func (c *Cluster) Partition(groups ...[]string) error {
	if c.net == nil {
		return errors.New("chkv: partitions need the memory transport")
	}
	c.net.Partition(groups...)
	return nil
}

// Heal removes every network fault (memory transport only).
func (c *Cluster) Heal() {
	if c.net != nil {
		c.net.Heal()
	}
}

// WaitStable waits until every slot of the NameNode's table has a primary,
// no data is moving (NameNode.Converged), every running DataNode is a live member that has adopted that table, and
// every killed DataNode has been noticed (is no longer a live member).
func (c *Cluster) WaitStable(ctx context.Context) error {
	why := ""
	err := c.poll(ctx, func() bool {
		why = c.unstable()
		return why == ""
	})
	if err != nil {
		return fmt.Errorf("chkv: cluster not stable (%s): %w", why, err)
	}
	return nil
}

// unstable says why the cluster is not stable yet, or "" when it is.
func (c *Cluster) unstable() string {
	nn := c.NameNode()
	if c.nns != nil && c.Leader() < 0 {
		return "no NameNode leader"
	}
	t := nn.Table()
	if t == nil {
		return "no table yet"
	}
	for s := range NumSlots {
		if _, ok := t.Primary(s); !ok {
			return fmt.Sprintf("slot %d has no owner in table version %d", s, t.Version)
		}
	}
	if why := nn.notConverged(); why != "" {
		return why
	}
	running := map[NodeID]bool{}
	for _, d := range c.DataNodes() {
		running[d.ID()] = true
	}
	for _, m := range t.Members { // a killed node must have been noticed
		if m.State.Live() && !running[m.ID] {
			return fmt.Sprintf("%s is not running but the table has it %s", m.ID, m.State)
		}
	}
	for _, d := range c.DataNodes() {
		m, ok := t.Member(d.ID())
		if !ok || !m.State.Live() {
			return fmt.Sprintf("%s is running but not live in the table", d.ID())
		}
		if v := d.cluster.applied.Load(); v != t.Version {
			return fmt.Sprintf("%s has applied table version %d, the NameNode %d", d.ID(), v, t.Version)
		}
		if d.cluster.misled.Load() {
			return fmt.Sprintf("%s leads slots it has handed off (table version %d)", d.ID(), t.Version)
		}
	}
	return ""
}

// poll checks cond every few milliseconds until it holds, ctx ends or the
// cluster closes.
func (c *Cluster) poll(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
	}
	return nil
}

// Close stops every DataNode, the NameNode and the memory network. It is
// safe to call twice.
func (c *Cluster) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		nodes := c.nodes
		c.nodes = map[NodeID]*DataNode{}
		c.mu.Unlock()
		var wg sync.WaitGroup
		for _, d := range nodes {
			wg.Go(func() { d.Close() })
		}
		wg.Wait()
		if c.loops != nil {
			c.loops.close()
		}
		if c.nn != nil {
			c.nn.Close()
		}
		c.mu.Lock()
		nns := slices.Clone(c.nns) // the slice itself never changes once started: unlocked reads of its length are safe
		clear(c.nns)
		c.mu.Unlock()
		for _, n := range nns {
			if n != nil {
				n.Close()
			}
		}
		if c.tmpDir != "" {
			os.RemoveAll(c.tmpDir)
		}
		if c.net != nil {
			c.net.Close()
		}
	})
	return nil
}

// ClusterStatus summarises a table for operators (chkv status).
type ClusterStatus struct {
	Version  uint64                `json:"version"`
	Stable   bool                  `json:"stable"` // every slot has its full owner list
	Replicas int                   `json:"replicas"`
	Lost     int                   `json:"lost"` // slots with no copy left
	Members  []ClusterMemberStatus `json:"members"`
}

// ClusterMemberStatus is one member in a ClusterStatus.
type ClusterMemberStatus struct {
	ID        NodeID `json:"id"`
	Addr      string `json:"addr"`
	Rack      string `json:"rack"`
	State     string `json:"state"`
	Primaries int    `json:"primaries"`
	Replicas  int    `json:"replicas"`
}

// StatusOf summarises t.
func StatusOf(t *Table) ClusterStatus {
	st := ClusterStatus{Version: tableVersion(t)}
	if t == nil {
		return st
	}
	st.Replicas = t.Replicas
	live := 0
	for _, m := range t.Members {
		p, r := t.Load(m.ID)
		st.Members = append(st.Members, ClusterMemberStatus{ID: m.ID, Addr: m.Addr, Rack: m.Rack, State: m.State.String(), Primaries: p, Replicas: r})
		if m.State.Live() {
			live++
		}
	}
	want := min(t.Replicas+1, live)
	st.Stable = want > 0
	for s := range NumSlots {
		if t.Lost(s) {
			st.Lost++
		}
		if n := len(t.Owners(s)); n != want {
			st.Stable = false
		}
	}
	return st
}
