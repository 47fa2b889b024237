package chkv

import (
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEventLoopsSharedByCluster checks that the DataNodes of a TCP cluster
// share one set of event loops: one loop serves the clients of every node,
// each with its own node's state; killing a node closes its clients only;
// closing the cluster closes the rest.
func TestEventLoopsSharedByCluster(t *testing.T) {
	cl := NewClusterT(t, func(c *ClusterConfig) { c.Transport, c.EventLoops = ClusterTCP, 1 })
	nodes := cl.DataNodes()
	require.Len(t, nodes, 3)
	raws := map[NodeID]*rawConn{}
	var loop *eventLoop
	for _, d := range nodes {
		require.Same(t, cl.loops, d.loops, "the nodes share the cluster's loops")
		r := dialRaw(t, d.Addr())
		r.send("CLUSTER MYID\r\n")
		id := d.cluster.id
		hex := clusterNodeID(id)
		require.Equal(t, fmt.Sprintf("$%d\r\n", len(hex)), r.line())
		require.Equal(t, hex+"\r\n", r.line(), "answered by its own node")
		require.Positive(t, loopServed(d)) // this client, and the NameNode's
		for _, c := range d.clients() {
			c.mu.Lock()
			if c.lc != nil {
				if loop == nil {
					loop = c.lc.loop
				}
				require.Same(t, loop, c.lc.loop, "one loop serves every node's clients")
			}
			c.mu.Unlock()
		}
		raws[id] = r
	}

	victim := nodes[0].cluster.id
	require.NoError(t, cl.KillDataNode(victim))
	_, err := raws[victim].br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the killed node's client is closed")
	for id, r := range raws {
		if id == victim {
			continue
		}
		r.send("PING\r\n")
		require.Equal(t, "+PONG\r\n", r.line(), "%s's client is still served", id)
	}

	require.NoError(t, cl.Close())
	for id, r := range raws {
		if id == victim {
			continue
		}
		_, err := r.br.ReadByte()
		require.ErrorIs(t, err, io.EOF, "%s's client is closed with the cluster", id)
	}
}

// TestClusterNodeHasItsOwnLoop checks that each DataNode of a TCP cluster
// sends its clients to one loop of the shared set, the k-th node to loop
// k-1 modulo their number, also after a restart.
func TestClusterNodeHasItsOwnLoop(t *testing.T) {
	cl := NewClusterT(t, func(c *ClusterConfig) { c.Transport, c.EventLoops = ClusterTCP, 2 })
	loopOf := func(d *DataNode) *eventLoop {
		r := dialRaw(t, d.Addr())
		r.send("PING\r\n")
		require.Equal(t, "+PONG\r\n", r.line())
		var loop *eventLoop
		for _, c := range d.clients() {
			c.mu.Lock()
			if c.lc != nil {
				if loop == nil {
					loop = c.lc.loop
				}
				require.Same(t, loop, c.lc.loop, "every client of %s on one loop", d.cluster.id)
			}
			c.mu.Unlock()
		}
		require.NotNil(t, loop)
		return loop
	}
	loops := map[NodeID]*eventLoop{}
	for _, d := range cl.DataNodes() {
		loops[d.cluster.id] = loopOf(d)
	}
	require.Len(t, loops, 3)
	require.NotSame(t, loops["dn1"], loops["dn2"])
	require.Same(t, loops["dn1"], loops["dn3"], "three nodes on two loops: dn3 shares dn1's")

	d, err := cl.RestartDataNode(t.Context(), "dn2")
	require.NoError(t, err)
	require.Same(t, loops["dn2"], loopOf(d), "a restarted node keeps its loop")
}

// TestEventLoopUsesIOUring checks that where the kernel offers io_uring
// the loops use it, so that the tests over TCP exercise it, unless
// CHKV_EVENT_LOOP=epoll (CI runs the tests that way too).
func TestEventLoopUsesIOUring(t *testing.T) {
	d := RunT(t, func(c *DataNodeConfig) { c.EventLoops = 1 })
	r := dialRaw(t, d.Addr())
	r.send("SET k v\r\nGET k\r\n")
	require.Equal(t, "+OK\r\n", r.line())
	require.Equal(t, "$1\r\n", r.line())
	require.Equal(t, "v\r\n", r.line())
	l := d.loops.loops[0]
	if !useUring {
		require.False(t, l.usesUring.Load(), "CHKV_EVENT_LOOP=epoll")
		return
	}
	// Probe the kernel the way a loop does, on a thread of its own.
	probe := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := newUring(8)
		if err == nil {
			r.close()
		}
		probe <- err
	}()
	if err := <-probe; err != nil {
		require.False(t, l.usesUring.Load())
		t.Skipf("io_uring unavailable here (%v): the loops use epoll", err)
	}
	require.True(t, l.usesUring.Load(), "the loop serves with io_uring")
}

// TestRawWaitsLeaveAP checks that at most GOMAXPROCS-1 loops wait holding
// their P, so that the rest of the process always has one.
func TestRawWaitsLeaveAP(t *testing.T) {
	var b rawBudget
	n := 0
	for b.acquire() {
		n++
		require.Less(t, n, 1000)
	}
	require.Equal(t, max(0, runtime.GOMAXPROCS(0)-1), n)
	b.release()
	require.True(t, b.acquire(), "a released place is free again")
	require.False(t, b.acquire())
}
