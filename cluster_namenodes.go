// A Cluster's group of NameNodes on Raft: start them, find the leader, kill and restart one.

package chkv

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// NameNodeNodeName returns the memory network node name of NameNode i (0-based)
// of a cluster with several NameNodes, for Partition.
func NameNodeNodeName(i int) string { return "namenode" + strconv.Itoa(i+1) }

// startNameNodes starts cfg.NameNodes NameNodes configured like base, in a
// Raft group.
func (c *Cluster) startNameNodes(ctx context.Context, base NameNodeConfig) error {
	k := c.cfg.NameNodes
	dir := c.cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "chkv-namenodes-")
		if err != nil {
			return err
		}
		c.tmpDir, dir = d, d
	}
	peers := make([]RaftPeer, k)
	for i := range k {
		addr := ""
		switch {
		case c.net != nil:
			addr = NameNodeNodeName(i) + ":7000"
		case c.cfg.Port != 0:
			// NameNode i at Port, Port-1, ...: DataNodes take Port+k.
			addr = "127.0.0.1:" + strconv.Itoa(c.cfg.Port-i)
		default:
			// Raft needs every address before any member starts: take a
			// free port and give it back.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			addr = l.Addr().String()
			l.Close()
		}
		peers[i] = RaftPeer{ID: "nn" + strconv.Itoa(i+1), Addr: addr}
	}
	c.nnCfgs = make([]NameNodeConfig, k)
	c.nns = make([]*NameNode, k)
	for i := range k {
		cfg := base
		cfg.Addr = peers[i].Addr
		if c.net != nil {
			cfg.Transport = c.net.Transport(NameNodeNodeName(i))
		}
		cfg.RaftPeers, cfg.RaftID = peers, peers[i].ID
		cfg.DataDir = filepath.Join(dir, peers[i].ID)
		cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout = c.cfg.RaftTimeout, c.cfg.RaftTimeout
		cfg.Logger = c.cfg.Logger.With("role", "namenode", "raft_id", peers[i].ID)
		c.nnCfgs[i] = cfg
		n, err := StartNameNode(ctx, cfg)
		if err != nil {
			return err
		}
		c.nns[i] = n
	}
	c.nn = c.nns[0]
	return nil
}

// NameNodes returns how many NameNodes the cluster has.
func (c *Cluster) NameNodes() int {
	if c.nns == nil {
		return 1
	}
	return len(c.nns)
}

// NameNodeAt returns NameNode i (0-based), nil when it is killed.
func (c *Cluster) NameNodeAt(i int) *NameNode {
	if c.nns == nil {
		return c.nn
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nns[i]
}

// Leader returns the index of the NameNode that leads with its state
// rebuilt, -1 when none does (an election is under way). Alone, 0.
func (c *Cluster) Leader() int {
	if c.nns == nil {
		return 0
	}
	c.mu.Lock()
	nns := append([]*NameNode(nil), c.nns...)
	c.mu.Unlock()
	for i, n := range nns {
		if n != nil && n.Leading() {
			return i
		}
	}
	return -1
}

// WaitLeader waits until a NameNode leads and returns its index.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	l := -1
	err := c.poll(ctx, func() bool {
		l = c.Leader()
		return l >= 0
	})
	return l, err
}

// KillNameNode stops NameNode i at once (its Raft data stays on disk).
func (c *Cluster) KillNameNode(i int) error {
	if c.nns == nil || i < 0 || i >= len(c.nns) {
		return fmt.Errorf("chkv: no NameNode %d in a group of %d", i, len(c.nns))
	}
	c.mu.Lock()
	n := c.nns[i]
	c.nns[i] = nil
	c.mu.Unlock()
	if n == nil {
		return fmt.Errorf("chkv: NameNode %d is not running", i)
	}
	return n.Close()
}

// RestartNameNode starts NameNode i again on its address and data dir
// (killing it first when it runs): it rejoins the group with its log.
func (c *Cluster) RestartNameNode(ctx context.Context, i int) (*NameNode, error) {
	if c.nns == nil || i < 0 || i >= len(c.nns) {
		return nil, fmt.Errorf("chkv: no NameNode %d in a group of %d", i, len(c.nns))
	}
	if c.NameNodeAt(i) != nil {
		if err := c.KillNameNode(i); err != nil {
			return nil, err
		}
	}
	n, err := StartNameNode(ctx, c.nnCfgs[i])
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		n.Close()
		return nil, ErrClosed
	}
	c.nns[i] = n
	return n, nil
}
