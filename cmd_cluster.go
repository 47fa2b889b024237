// The commands a cluster DataNode adds: Redis Cluster's CLUSTER family, READONLY, READWRITE, ASKING, and chkv's CHKV.PUSHTABLE and CHKV.TABLE.

package chkv

import (
	"crypto/sha1"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"sync"
)

// clusterCommands returns the commands added to a DataNode in cluster mode.
func clusterCommands() []*command {
	return []*command{
		{"cluster", -2, flagStale, 0, 0, 0, cmdCluster},
		{"readonly", 1, flagFast | flagStale, 0, 0, 0, cmdReadonly},
		{"readwrite", 1, flagFast | flagStale, 0, 0, 0, cmdReadonly},
		{"asking", 1, flagFast, 0, 0, 0, cmdAsking},
		{"chkv.pushtable", 2, flagAdmin | flagStale | flagInternal, 0, 0, 0, cmdPushTable},
		{"chkv.table", 1, flagStale, 0, 0, 0, cmdTable},
	}
}

// Error texts of the CLUSTER command, as Redis 7.0 writes them.
const (
	msgInvalidSlot      = "ERR Invalid slot"
	msgInvalidSlotCount = "ERR Invalid slot or number of keys"
)

// clusterNodeID returns the 40-hex-digit id Redis Cluster clients expect
// for a chkv node id: the SHA-1 of the id in hex.
func clusterNodeID(id NodeID) string {
	sum := sha1.Sum([]byte(id))
	return hex.EncodeToString(sum[:])
}

// splitAddr splits host:port; the port is 0 when missing or not a number.
func splitAddr(addr string) (host string, port int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ = strconv.Atoi(p)
	return h, port
}

// cmdReadonly handles READONLY (a replica serves this client's reads of its
// slots, which may lag the primary's last writes) and READWRITE (back to
// the primary only).
func cmdReadonly(c *conn, args [][]byte) {
	c.readonly = eqFold(args[0], "readonly")
	c.w.ok()
}

// cmdAsking lets the next command run on a slot this node is importing.
func cmdAsking(c *conn, args [][]byte) {
	c.asking = true
	c.w.ok()
}

// cmdPushTable adopts a table pushed by the NameNode when it is newer.
func cmdPushTable(c *conn, args [][]byte) {
	t, err := decodeTable(args[1])
	if err != nil {
		c.w.errorText("ERR chkv: bad table: " + strings.TrimPrefix(err.Error(), "chkv: "))
		return
	}
	if !c.d.cluster.registered.Load() {
		// A table pushed before this process registered may give it slots
		// whose data an earlier process of the same id held: the
		// NameNode's answer to CHKV.REGISTER comes first.
		c.w.errorText("ERR chkv: not registered with the NameNode yet")
		return
	}
	c.d.cluster.adopt(t)
	c.w.ok()
}

// cmdTable answers the node's table, or a null bulk before it has one.
func cmdTable(c *conn, args [][]byte) {
	t, _ := c.d.cluster.current()
	if t == nil {
		c.w.null()
		return
	}
	b, err := t.MarshalBinary()
	if err != nil {
		c.w.errorText("ERR chkv: " + err.Error())
		return
	}
	c.w.bulk(b)
}

// clusterSubcommand is one CLUSTER subcommand with its arity (CLUSTER included).
type clusterSubcommand struct {
	arity int
	run   func(c *conn, t *Table, args [][]byte)
}

// lookupClusterSubcommand finds a CLUSTER subcommand by its lower-case name.
func lookupClusterSubcommand(name string) (clusterSubcommand, bool) {
	switch name {
	case "slots":
		return clusterSubcommand{2, cachedMapReply(mapSlots, encodeSlots)}, true
	case "shards":
		return clusterSubcommand{2, cachedMapReply(mapShards, encodeShards)}, true
	case "nodes":
		return clusterSubcommand{2, cachedMapReply(mapNodes, encodeNodes)}, true
	case "info":
		return clusterSubcommand{2, clusterInfo}, true
	case "keyslot":
		return clusterSubcommand{3, clusterKeySlot}, true
	case "myid":
		return clusterSubcommand{2, clusterMyID}, true
	case "countkeysinslot":
		return clusterSubcommand{3, clusterCountKeys}, true
	case "getkeysinslot":
		return clusterSubcommand{4, clusterGetKeys}, true
	}
	return clusterSubcommand{}, false
}

func cmdCluster(c *conn, args [][]byte) {
	name := strings.ToLower(string(args[1]))
	sub, ok := lookupClusterSubcommand(name)
	if !ok {
		c.w.errorText("ERR unknown subcommand '" + string(truncate(args[1], 128)) + "'. Try CLUSTER HELP.")
		return
	}
	if len(args) != sub.arity {
		c.w.errorText("ERR wrong number of arguments for 'cluster|" + name + "' command")
		return
	}
	t, _ := c.d.cluster.current()
	sub.run(c, t, args)
}

// The slot map replies (CLUSTER SLOTS, SHARDS, NODES) a node caches.
const (
	mapSlots = iota
	mapShards
	mapNodes
	mapReplies
)

// slotMapCache holds a node's encoded slot map replies for one table. Only
// RESP2 is spoken, so one encoding per reply serves every client: when a
// thousand clients reload the map at once after a failover, the first
// encodes it and the others copy the bytes.
type slotMapCache struct {
	mu    sync.Mutex
	table *Table // the table the replies encode; tables are never modified
	reply [mapReplies][]byte
	// encodes counts the encodings made, for tests.
	encodes int
}

// get returns reply kind for t, encoding it with encode on first use.
func (m *slotMapCache) get(cn *clusterNode, t *Table, kind int, encode func(*replyWriter, *clusterNode, *Table)) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.table != t {
		m.table = t
		m.reply = [mapReplies][]byte{}
	}
	if m.reply[kind] == nil {
		var w replyWriter
		encode(&w, cn, t)
		m.reply[kind] = w.buf
		m.encodes++
	}
	return m.reply[kind]
}

// cachedMapReply returns a CLUSTER subcommand that answers the node's
// cached encoding of reply kind for the current table.
func cachedMapReply(kind int, encode func(*replyWriter, *clusterNode, *Table)) func(*conn, *Table, [][]byte) {
	return func(c *conn, t *Table, _ [][]byte) {
		cn := c.d.cluster
		c.w.buf = append(c.w.buf, cn.maps.get(cn, t, kind, encode)...)
	}
}

// members returns t's members, nil-safe.
func (t *Table) members() []Member {
	if t == nil {
		return nil
	}
	return t.Members
}

// tableVersion returns t's version, 0 for nil.
func tableVersion(t *Table) uint64 {
	if t == nil {
		return 0
	}
	return t.Version
}

// writeNodeEntry writes one node of a CLUSTER SLOTS entry: ip, port, id,
// and the (empty) map of extra endpoints.
func writeNodeEntry(w *replyWriter, t *Table, id NodeID) {
	m, _ := t.Member(id)
	host, port := splitAddr(m.Addr)
	w.array(4)
	w.bulkString(host)
	w.int(int64(port))
	w.bulkString(clusterNodeID(id))
	w.array(0)
}

// encodeSlots encodes CLUSTER SLOTS: one entry per run of consecutive
// slots with the same owners, primary first, then replicas.
func encodeSlots(w *replyWriter, cn *clusterNode, t *Table) {
	var rs []SlotRange
	for _, r := range t.Ranges() {
		if len(r.Owners) > 0 {
			rs = append(rs, r)
		}
	}
	w.array(len(rs))
	for _, r := range rs {
		w.array(2 + len(r.Owners))
		w.int(int64(r.Start))
		w.int(int64(r.End))
		for _, id := range r.Owners {
			writeNodeEntry(w, t, id)
		}
	}
}

// shard is a set of slot ranges with the same owner list.
type shard struct {
	owners []NodeID
	ranges []SlotRange
}

// shards groups t's owned ranges by owner list, in order of first slot.
func shards(t *Table) []*shard {
	var out []*shard
	byOwners := map[string]*shard{}
	for _, r := range t.Ranges() {
		if len(r.Owners) == 0 {
			continue
		}
		var kb strings.Builder
		for _, id := range r.Owners {
			kb.WriteString(string(id) + "\x00")
		}
		k := kb.String()
		s := byOwners[k]
		if s == nil {
			s = &shard{owners: r.Owners}
			byOwners[k] = s
			out = append(out, s)
		}
		s.ranges = append(s.ranges, r)
	}
	return out
}

// encodeShards encodes CLUSTER SHARDS: one shard per owner list, with its
// slot ranges and its nodes (the primary as master, the others as replicas).
func encodeShards(w *replyWriter, cn *clusterNode, t *Table) {
	ss := shards(t)
	w.array(len(ss))
	for _, s := range ss {
		w.array(4)
		w.bulkString("slots")
		w.array(2 * len(s.ranges))
		for _, r := range s.ranges {
			w.int(int64(r.Start))
			w.int(int64(r.End))
		}
		w.bulkString("nodes")
		w.array(len(s.owners))
		for i, id := range s.owners {
			m, _ := t.Member(id)
			host, port := splitAddr(m.Addr)
			role, health := "master", "online"
			if i > 0 {
				role = "replica"
			}
			if m.State == NodeDown {
				health = "fail"
			}
			w.array(14)
			w.bulkString("id")
			w.bulkString(clusterNodeID(id))
			w.bulkString("port")
			w.int(int64(port))
			w.bulkString("ip")
			w.bulkString(host)
			w.bulkString("endpoint")
			w.bulkString(host)
			w.bulkString("role")
			w.bulkString(role)
			w.bulkString("replication-offset")
			w.int(0)
			w.bulkString("health")
			w.bulkString(health)
		}
	}
}

// encodeNodes encodes CLUSTER NODES in Redis's line format. Every chkv
// node leads some slots and follows others, so each is listed as a master
// with the slots it leads.
func encodeNodes(w *replyWriter, cn *clusterNode, t *Table) {
	self := cn.id
	led := map[NodeID][]string{} // runs of slots with the same primary
	for s := 0; s < NumSlots; {
		p, ok := t.Primary(s)
		e := s
		for e+1 < NumSlots {
			q, ok2 := t.Primary(e + 1)
			if ok2 != ok || q.ID != p.ID {
				break
			}
			e++
		}
		if ok {
			run := strconv.Itoa(s)
			if e != s {
				run += "-" + strconv.Itoa(e)
			}
			led[p.ID] = append(led[p.ID], run)
		}
		s = e + 1
	}
	epoch := strconv.FormatUint(tableVersion(t), 10)
	var b strings.Builder
	line := func(id NodeID, addr string, state NodeState) {
		host, port := splitAddr(addr)
		flags := "master"
		if id == self {
			flags = "myself,master"
		}
		link := "connected"
		if state == NodeDown {
			flags += ",fail"
			link = "disconnected"
		}
		b.WriteString(clusterNodeID(id) + " " + host + ":" + strconv.Itoa(port) + "@0 " + flags + " - 0 0 " + epoch + " " + link)
		for _, s := range led[id] {
			b.WriteString(" " + s)
		}
		b.WriteString("\n")
	}
	ms := t.members()
	if _, ok := t.Member(self); !ok {
		line(self, cn.d.Addr(), NodeJoining)
	}
	for _, m := range ms {
		line(m.ID, m.Addr, m.State)
	}
	w.bulkString(b.String())
}

// clusterInfo answers CLUSTER INFO; the epochs are the table version.
func clusterInfo(c *conn, t *Table, args [][]byte) {
	assigned, lost := 0, 0
	for s := range NumSlots {
		if _, ok := t.Primary(s); ok {
			assigned++
		} else if t.Lost(s) {
			lost++
		}
	}
	size := 0
	for _, m := range t.members() {
		if p, _ := t.Load(m.ID); p > 0 {
			size++
		}
	}
	state := "fail"
	if assigned == NumSlots {
		state = "ok"
	}
	known := max(len(t.members()), 1)
	epoch := tableVersion(t)
	var b strings.Builder
	for _, kv := range [][2]any{
		{"cluster_state", state},
		{"cluster_slots_assigned", assigned},
		{"cluster_slots_ok", assigned},
		{"cluster_slots_pfail", 0},
		{"cluster_slots_fail", lost},
		{"cluster_known_nodes", known},
		{"cluster_size", size},
		{"cluster_current_epoch", epoch},
		{"cluster_my_epoch", epoch},
		{"cluster_stats_messages_sent", 0},
		{"cluster_stats_messages_received", 0},
		{"total_cluster_links_buffer_limit_exceeded", 0},
	} {
		b.WriteString(kv[0].(string) + ":")
		switch v := kv[1].(type) {
		case string:
			b.WriteString(v)
		case int:
			b.WriteString(strconv.Itoa(v))
		case uint64:
			b.WriteString(strconv.FormatUint(v, 10))
		}
		b.WriteString("\r\n")
	}
	c.w.bulkString(b.String())
}

func clusterKeySlot(c *conn, t *Table, args [][]byte) {
	c.w.int(int64(SlotBytes(args[2])))
}

func clusterMyID(c *conn, t *Table, args [][]byte) {
	c.w.bulkString(clusterNodeID(c.d.cluster.id))
}

// parseSlot parses a slot argument, writing the error reply when it is bad.
func parseSlot(c *conn, arg []byte, msg string) (int, bool) {
	n, ok := parseInt(arg)
	if !ok {
		c.w.errorText(msgNotInteger)
		return 0, false
	}
	if n < 0 || n >= NumSlots {
		c.w.errorText(msg)
		return 0, false
	}
	return int(n), true
}

func clusterCountKeys(c *conn, t *Table, args [][]byte) {
	slot, ok := parseSlot(c, args[2], msgInvalidSlot)
	if !ok {
		return
	}
	c.w.int(int64(c.d.store.CountKeysInSlot(slot)))
}

func clusterGetKeys(c *conn, t *Table, args [][]byte) {
	slot, ok := parseSlot(c, args[2], msgInvalidSlotCount)
	if !ok {
		return
	}
	n, ok := parseInt(args[3])
	if !ok {
		c.w.errorText(msgNotInteger)
		return
	}
	if n < 0 {
		c.w.errorText(msgInvalidSlotCount)
		return
	}
	keys := c.d.store.scanSlot(nil, slot, nil)
	if int64(len(keys)) > n {
		keys = keys[:n]
	}
	c.w.bulkStrings(keys)
}
