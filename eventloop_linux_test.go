package chkv

import (
	"fmt"
	"io"
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
