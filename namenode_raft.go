// NameNode state machine for Raft: the served table and the plan, replicated as log entries with only-growing versions.

package chkv

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Kinds of NameNode Raft log entries: the first byte of an entry, followed
// by a Table's MarshalBinary.
const (
	nnEntryTable byte = 1 // a new served table
	nnEntryPlan  byte = 2 // a new plan (where membership wants the data)
)

// ErrStaleTable is the result of applying a table entry whose version is not
// above the committed table's (or equal with the same contents): a leader
// that proposed it has lost the race to a newer leader and must not push it.
var ErrStaleTable = errors.New("chkv: namenode: stale table version")

// maxNameNodeEntry caps the size of one entry or snapshot part read back,
// so a corrupt snapshot cannot make Restore allocate without bound.
const maxNameNodeEntry = 64 << 20

// encodeNameNodeEntry returns the Raft log entry that commits t as kind.
func encodeNameNodeEntry(kind byte, t *Table) ([]byte, error) {
	b, err := t.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("chkv: namenode: %w", err)
	}
	return append([]byte{kind}, b...), nil
}

// NameNodeFSM is the deterministic state machine of a Raft group of
// NameNodes: the committed served table and plan. Every NameNode applies the
// same entries in the same order, so all hold the same table; a table entry
// applies only when its version is above the committed one (or repeats it
// byte for byte), so one version never has two contents, whatever leaders
// come and go. OnTable and OnPlan, when set before the Raft node starts,
// see each table and plan applied (a follower installs them; tests record
// them); they run on Raft's apply goroutine and must not call back into Raft.
type NameNodeFSM struct {
	// OnTable is called with each table applied, with its encoding.
	OnTable func(t *Table, b []byte)
	// OnPlan is called with each plan applied.
	OnPlan func(p *Table)

	mu         sync.Mutex
	table      *Table
	tableBytes []byte
	plan       *Table
	planBytes  []byte
}

var _ raft.FSM = (*NameNodeFSM)(nil)

// State returns the committed table and plan (nil before the first ones).
func (f *NameNodeFSM) State() (table, plan *Table) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table, f.plan
}

// committed returns the committed table with its encoding, and the plan.
func (f *NameNodeFSM) committed() (table *Table, tableBytes []byte, plan *Table) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table, f.tableBytes, f.plan
}

// Apply applies one committed entry. It returns nil, ErrStaleTable or an
// error naming a malformed entry (which changes nothing).
func (f *NameNodeFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if len(l.Data) == 0 {
		return errors.New("chkv: namenode: empty raft entry")
	}
	kind, body := l.Data[0], l.Data[1:]
	t := new(Table)
	if err := t.UnmarshalBinary(body); err != nil {
		return fmt.Errorf("chkv: namenode: raft entry %d: %w", l.Index, err)
	}
	body = bytes.Clone(body)
	f.mu.Lock()
	switch kind {
	case nnEntryTable:
		if f.table != nil && (t.Version < f.table.Version || t.Version == f.table.Version && !bytes.Equal(body, f.tableBytes)) {
			f.mu.Unlock()
			return fmt.Errorf("%w: %d after %d", ErrStaleTable, t.Version, f.table.Version)
		}
		same := f.table != nil && t.Version == f.table.Version
		f.table, f.tableBytes = t, body
		f.mu.Unlock()
		if !same && f.OnTable != nil {
			f.OnTable(t, body)
		}
	case nnEntryPlan:
		f.plan, f.planBytes = t, body
		f.mu.Unlock()
		if f.OnPlan != nil {
			f.OnPlan(t)
		}
	default:
		f.mu.Unlock()
		return fmt.Errorf("chkv: namenode: raft entry %d of unknown kind %d", l.Index, kind)
	}
	return nil
}

// Snapshot captures the committed table and plan.
func (f *NameNodeFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &nameNodeSnapshot{table: f.tableBytes, plan: f.planBytes}, nil
}

// Restore replaces the state with a snapshot's, calling OnTable and OnPlan.
func (f *NameNodeFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var parts [2][]byte
	var tables [2]*Table
	for i := range parts {
		var n [4]byte
		if _, err := io.ReadFull(rc, n[:]); err != nil {
			return fmt.Errorf("chkv: namenode: restore snapshot: %w", err)
		}
		size := binary.BigEndian.Uint32(n[:])
		if size > maxNameNodeEntry {
			return fmt.Errorf("chkv: namenode: restore snapshot: part of %d bytes", size)
		}
		if size == 0 {
			continue
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(rc, b); err != nil {
			return fmt.Errorf("chkv: namenode: restore snapshot: %w", err)
		}
		t := new(Table)
		if err := t.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("chkv: namenode: restore snapshot: %w", err)
		}
		parts[i], tables[i] = b, t
	}
	f.mu.Lock()
	f.table, f.tableBytes = tables[0], parts[0]
	f.plan, f.planBytes = tables[1], parts[1]
	f.mu.Unlock()
	if tables[0] != nil && f.OnTable != nil {
		f.OnTable(tables[0], parts[0])
	}
	if tables[1] != nil && f.OnPlan != nil {
		f.OnPlan(tables[1])
	}
	return nil
}

// nameNodeSnapshot is the table and plan, each as a 4-byte big-endian
// length (0 for none) and its encoding.
type nameNodeSnapshot struct{ table, plan []byte }

func (s *nameNodeSnapshot) Persist(sink raft.SnapshotSink) error {
	var buf []byte
	for _, p := range [][]byte{s.table, s.plan} {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(p)))
		buf = append(buf, p...)
	}
	if _, err := sink.Write(buf); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *nameNodeSnapshot) Release() {}

// RaftPeer is one member of a Raft group of NameNodes.
type RaftPeer struct {
	ID   string
	Addr string // host:port: its NameNode address, shared by RESP and Raft
}

// ParseRaftPeers parses --peers: "ID1=HOST:PORT,ID2=HOST:PORT,...".
func ParseRaftPeers(s string) ([]RaftPeer, error) {
	var out []RaftPeer
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("chkv: peer %q is not ID=HOST:PORT", part)
		}
		if seen[id] {
			return nil, fmt.Errorf("chkv: peer id %q given twice", id)
		}
		seen[id] = true
		out = append(out, RaftPeer{ID: id, Addr: addr})
	}
	return out, nil
}

// Default Raft timeouts of a NameNode group, sized so that a new leader is
// elected within about 3 s of the old one dying: followers notice after the
// heartbeat timeout (0.5-1 s with Raft's randomisation) and an election
// takes one more randomised election timeout.
const (
	DefaultRaftHeartbeatTimeout = 500 * time.Millisecond
	DefaultRaftElectionTimeout  = 500 * time.Millisecond
)

// RaftNodeConfig configures one NameNode's Raft member.
type RaftNodeConfig struct {
	// ID is this member's id; it must be one of Peers.
	ID string
	// Peers is the whole group, this member included.
	Peers []RaftPeer
	// DataDir keeps the Raft log (raft-boltdb) and snapshots; required.
	DataDir string
	// Listener accepts Raft connections: a ConnMux's Raft side.
	Listener net.Listener
	// Transport dials the peers (TCP/TLS or a memory network).
	Transport Transport
	// FSM is the state machine (a *NameNodeFSM for a NameNode).
	FSM raft.FSM
	// Secret, when set, is presented on every Raft connection and required
	// of every one accepted (RaftStream.WithSecret).
	Secret string
	// HeartbeatTimeout and ElectionTimeout: zero means the defaults above.
	HeartbeatTimeout, ElectionTimeout time.Duration
}

// raftStream returns the stream layer of a member, checking secret when set.
func raftStream(ln net.Listener, t Transport, advertise, secret string) *RaftStream {
	s := NewRaftStream(ln, t, advertise)
	if secret != "" {
		s.WithSecret(secret)
	}
	return s
}

// RaftNode is one running Raft member with its durable stores.
type RaftNode struct {
	// Raft is the running member.
	Raft  *raft.Raft
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
	once  sync.Once
	err   error
}

// StartRaftNode opens cfg.DataDir and starts the member. A data dir without
// Raft state bootstraps the group from Peers (every member bootstraps the
// same configuration, which Raft allows); one with state resumes it.
func StartRaftNode(ctx context.Context, cfg RaftNodeConfig) (*RaftNode, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.DataDir == "" || cfg.Listener == nil || cfg.Transport == nil || cfg.FSM == nil {
		return nil, errors.New("chkv: raft: DataDir, Listener, Transport and FSM are required")
	}
	var self *RaftPeer
	servers := make([]raft.Server, 0, len(cfg.Peers))
	for i, p := range cfg.Peers {
		if p.ID == cfg.ID {
			self = &cfg.Peers[i]
		}
		servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	if self == nil {
		return nil, fmt.Errorf("chkv: raft: id %q is not among the peers", cfg.ID)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(cfg.ID)
	conf.HeartbeatTimeout = cmp.Or(cfg.HeartbeatTimeout, DefaultRaftHeartbeatTimeout)
	conf.ElectionTimeout = cmp.Or(cfg.ElectionTimeout, DefaultRaftElectionTimeout)
	conf.LeaderLeaseTimeout = conf.HeartbeatTimeout // a leader steps down after a heartbeat timeout without a quorum: a loaded machine stalls longer than half of it
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft-" + cfg.ID, Level: hclog.Warn, Output: io.Discard})
	if err := raft.ValidateConfig(conf); err != nil {
		return nil, fmt.Errorf("chkv: raft: %w", err)
	}
	bs, snaps, err := OpenRaftStores(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  raftStream(cfg.Listener, cfg.Transport, self.Addr, cfg.Secret),
		MaxPool: 3,
		Timeout: 2 * time.Second,
		Logger:  conf.Logger,
	})
	fail := func(err error) (*RaftNode, error) {
		_ = trans.Close()
		_ = bs.Close()
		return nil, fmt.Errorf("chkv: raft: %w", err)
	}
	has, err := raft.HasExistingState(bs, bs, snaps)
	if err != nil {
		return fail(err)
	}
	if !has {
		if err := raft.BootstrapCluster(conf, bs, bs, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			return fail(err)
		}
	}
	r, err := raft.NewRaft(conf, cfg.FSM, bs, bs, snaps, trans)
	if err != nil {
		return fail(err)
	}
	return &RaftNode{Raft: r, store: bs, trans: trans}, nil
}

// Close shuts the member down and closes its stores and its listener (with
// the ConnMux it belongs to).
func (n *RaftNode) Close() error {
	n.once.Do(func() {
		n.err = n.Raft.Shutdown().Error()
		n.err = cmp.Or(n.err, n.trans.Close())
		n.err = cmp.Or(n.err, n.store.Close())
	})
	return n.err
}
