// Package chkv is a distributed in-memory key-value store built on
// consistent hashing, in one embeddable Go package. It speaks the Redis
// protocol (RESP), so redis-cli and Redis clients, cluster-aware ones
// included, work against it unchanged; replies and error texts are those of
// redis-server 7.0. It adds what Alibaba's Tair has: a version on every key
// with compare-and-set (CHKV.GETV, CHKV.SETV), atomic counters, and lists
// usable as FIFO queues.
//
// # The three roles
//
// A NameNode ([StartNameNode]) keeps the membership and the partition
// table: which DataNodes lead and replicate each of the 16384 hash slots
// (CRC16 of the key mod 16384, with {hash tags}, as Redis Cluster). It
// detects failed DataNodes, computes each next table and drives the data
// movement, and pushes every new table to the DataNodes and to watching
// clients. The cluster goes on serving while the NameNode is down.
//
// A DataNode ([StartDataNode]) holds the data and serves RESP. Standalone
// it owns every slot, like one redis-server; as a cluster member
// ([DataNodeConfig].Cluster) it registers with the NameNode, serves the
// slots it leads, answers the others with -MOVED as Redis Cluster does,
// replicates writes to the replicas of its slots, and streams slots to
// their new owners while it serves them.
//
// A [Client] ([NewClient]) is the Go API: it fetches and caches the table,
// routes each key straight to its owner over a connection pool, follows
// redirects, and fans multi-key calls out per owner.
//
// # Usage: a standalone server
//
// One DataNode on a loopback port, closed by Close:
//
//	d, err := chkv.StartDataNode(ctx, chkv.DataNodeConfig{Addr: "127.0.0.1:6379"})
//	if err != nil { ... }
//	defer d.Close()
//
// From the command line: chkv server --addr 127.0.0.1:6379 (cmd/chkv).
// In a test, [RunT] starts one on a free port and closes it with the test.
//
// # Usage: a cluster
//
// Across processes or machines, start a NameNode and then DataNodes that
// name it:
//
//	chkv namenode --addr 10.0.0.1:7000 --replicas 1
//	chkv datanode --addr 10.0.0.2:7001 --namenode 10.0.0.1:7000 --rack r1
//
// or the same from Go with [StartNameNode] and [StartDataNode] given a
// [ClusterNodeConfig]. [StartCluster] (chkv cluster) runs a NameNode and
// its DataNodes in one process, over TCP loopback or the in-memory network,
// with controls to add, remove, kill, restart and partition nodes. A
// cluster-aware Client connects through the NameNode:
//
//	c, err := chkv.NewClient(ctx, chkv.ClientConfig{NameNode: "10.0.0.1:7000"})
//
// # Usage: a test cluster
//
// [NewClusterT] starts a whole cluster on the in-memory network in one line
// and closes it when the test ends; its [MemNetwork] can drop, delay and
// partition links deterministically:
//
//	cl := chkv.NewClusterT(t)
//	c, err := chkv.NewClient(ctx, chkv.ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport()})
//
// # Usage: watching it
//
// Every role serves Prometheus metrics: mount [DataNode.MetricsHandler],
// [NameNode.MetricsHandler] or [Cluster.MetricsHandler] at /metrics, or
// start the binary with --metrics-addr HOST:PORT. [NameNode.StatusPage] is a
// page for a browser (chkv namenode --http HOST:PORT): the members, the
// slot map drawn by primary, the data movement as it happens, and the
// recent table versions. chkv status prints the same in a terminal.
//
// # Where each part lives
//
//   - namenode.go, namenode_migrate.go, namenode_repl.go: membership,
//     failure detection, the plan, the movement it drives, and the in-sync
//     replicas of each slot.
//   - ring.go: the table, computed by consistent hashing with a balancing
//     pass; slot.go: the key-to-slot function.
//   - datanode.go, conn.go, eventloop_linux.go: the server, its
//     connections and its event loops; cmd_*.go: the commands, one family a
//     file; commands.go: the command table.
//   - store.go: the storage engine, keys kept per slot.
//   - cluster_node.go, migrate.go, replicate.go: a DataNode's cluster
//     membership, slots moving between DataNodes, and replication.
//   - auth.go, panic.go, config.go: the cluster secret, recovery from a
//     failing command, CONFIG.
//   - client*.go: the Client.
//   - transport.go, transport_tcp.go, transport_mem.go: the network seam,
//     real sockets and the in-memory network with fault controls.
//   - resp_reader.go, resp_writer.go: the bounded request parser and the
//     reply writer.
//   - metrics.go, statuspage.go: Prometheus metrics and the status page.
//   - cluster.go, testing.go: a cluster in one process, and test helpers.
//   - cmd/chkv: the binary; examples/: runnable programs.
package chkv
