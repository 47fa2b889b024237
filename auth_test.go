package chkv

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clientCommands are the CHKV.* commands of a DataNode meant for clients;
// every other one is internal and must carry flagInternal.
var clientCommands = map[string]bool{"chkv.table": true, "chkv.getv": true, "chkv.setv": true, "chkv.version": true}

// TestInternalCommandsAreFlagged: a CHKV.* command a DataNode serves is
// either a client command or protected by the cluster secret, so an
// internal command added later without the flag fails here.
func TestInternalCommandsAreFlagged(t *testing.T) {
	c := NewClusterT(t, func(cfg *ClusterConfig) { cfg.DataNodes = 1; cfg.Replicas = 0 })
	for name, cmd := range c.DataNodes()[0].cmds {
		if strings.HasPrefix(name, "chkv.") && !clientCommands[name] {
			require.NotZero(t, cmd.flags&flagInternal, "%s is internal: it needs flagInternal", name)
		}
	}
}

// secretConn is a raw RESP connection for the secret tests, plain or TLS.
type secretConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialSecret(t *testing.T, addr string, tlsCfg *tls.Config) *secretConn {
	t.Helper()
	var nc net.Conn
	var err error
	if tlsCfg != nil {
		nc, err = tls.Dial("tcp", addr, tlsCfg)
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &secretConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// do sends args and returns the first line of the reply (and skips a bulk's body).
func (s *secretConn) do(args ...string) string {
	s.t.Helper()
	var w replyWriter
	w.array(len(args))
	for _, a := range args {
		w.bulkString(a)
	}
	_, err := s.nc.Write(w.buf)
	require.NoError(s.t, err)
	line, err := s.br.ReadString('\n')
	require.NoError(s.t, err, "reply to %.40q", args)
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		var n int
		fmt.Sscanf(line, "$%d", &n)
		_, err = s.br.Discard(n + 2)
		require.NoError(s.t, err)
	}
	return line
}

// outsiderView is what an outsider must not be able to change.
type outsiderView struct {
	version uint64
	members []string
	keys    map[string]string
}

func snapshotCluster(t *testing.T, c *Cluster) outsiderView {
	t.Helper()
	tb := c.NameNode().Table()
	st := outsiderView{version: tb.Version, keys: map[string]string{}}
	for _, m := range tb.Members {
		st.members = append(st.members, fmt.Sprintf("%s@%s:%v", m.ID, m.Addr, m.State))
	}
	sort.Strings(st.members)
	for _, d := range c.DataNodes() {
		for slot := range NumSlots {
			for _, k := range d.Store().scanSlot(nil, slot, nil) {
				e := d.Store().slot(slot).keys[k]
				st.keys[string(d.cluster.id)+"/"+k] = string(e.str)
			}
		}
	}
	return st
}

// TestClusterSecretRefusesOutsiders sends every internal command, with
// plausible arguments, to the NameNode and to a DataNode of a cluster with
// a secret, from a client that did not authenticate and from one that
// holds only the data password: every one is refused, and the table
// version, the membership and every key are as before. Over plain TCP
// and over TLS.
func TestClusterSecretRefusesOutsiders(t *testing.T) {
	certs := newTestCerts(t)
	for _, mode := range []string{"tcp", "tls"} {
		t.Run(mode, func(t *testing.T) {
			var clientTLS *tls.Config
			c := NewClusterT(t, func(cfg *ClusterConfig) {
				cfg.Transport, cfg.DataNodes, cfg.Replicas = ClusterTCP, 2, 1
				cfg.HeartbeatInterval = 200 * time.Millisecond
				cfg.ClusterSecret = "s3cret"
				if mode == "tls" {
					cfg.TLS, cfg.ClientTLS = certs.server(t), certs.client(t, true)
					clientTLS = certs.client(t, true)
				}
			})
			dn := c.DataNodes()[0]
			admin := dialSecret(t, dn.Addr(), clientTLS)
			require.Equal(t, "+OK\r\n", admin.do("CONFIG", "SET", "requirepass", "datapw"))
			cl, err := NewClient(context.Background(), ClientConfig{NameNode: c.NameNode().Addr(), Transport: c.Transport(),
				Password: "datapw", ClusterSecret: "s3cret"})
			require.NoError(t, err)
			defer cl.Close()
			for _, d := range c.DataNodes()[1:] { // every node needs the data password
				a := dialSecret(t, d.Addr(), clientTLS)
				require.Equal(t, "+OK\r\n", a.do("CONFIG", "SET", "requirepass", "datapw"))
			}
			for i := range 50 {
				require.NoError(t, cl.Set(context.Background(), fmt.Sprintf("key%d", i), "v"))
			}
			before := snapshotCluster(t, c)
			tb := c.NameNode().Table()
			evil := *tb
			evil.Version += 100
			evil.Members = slices.Clone(tb.Members)
			evil.Members[0].Addr = "127.0.0.1:1"
			evilBytes, err := evil.MarshalBinary()
			require.NoError(t, err)
			v := fmt.Sprint(tb.Version)
			id := string(dn.cluster.id)
			other := string(c.DataNodes()[1].cluster.id)
			nnCmds := [][]string{
				{"CHKV.REGISTER", "evil", "127.0.0.1:1", "r", "1"}, {"CHKV.HEARTBEAT", id, v},
				{"CHKV.LEAVE", id}, {"CHKV.HANDEDOFF", id, v, "0"}, {"CHKV.ISRDROP", id, v, "0", other},
				{"CHKV.STATUS"}, {"CHKV.WATCH"}, {"CHKV.NOSUCH"},
			}
			dnCmds := [][]string{{"CHKV.PUSHTABLE", string(evilBytes)}}
			for name, cmd := range dn.cmds {
				if cmd.flags&flagInternal != 0 && name != "chkv.pushtable" {
					args := []string{strings.ToUpper(name), other, c.DataNodes()[1].Addr(), "0", "0", "1"}
					dnCmds = append(dnCmds, args[:max(cmd.arity, -cmd.arity+1)])
				}
			}
			for _, who := range []string{"anonymous", "data-password"} {
				nn := dialSecret(t, c.NameNode().Addr(), clientTLS)
				d := dialSecret(t, dn.Addr(), clientTLS)
				if who == "data-password" {
					require.Equal(t, "+OK\r\n", d.do("AUTH", "datapw"))
					require.Equal(t, "+PONG\r\n", d.do("PING"), "the data password opens data commands")
					require.Equal(t, "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
						nn.do("AUTH", "default", "datapw"), "the NameNode has no data password")
					require.Equal(t, "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
						d.do("AUTH", ClusterUser, "datapw"))
				}
				for _, args := range nnCmds {
					require.Equal(t, "-"+msgNotClusterMember+"\r\n", nn.do(args...), "%s to the NameNode from %s", args[0], who)
				}
				want := msgNotClusterMember
				if who == "anonymous" {
					want = "NOAUTH Authentication required." // the DataNode has a data password too
				}
				for _, args := range dnCmds {
					require.Equal(t, "-"+want+"\r\n", d.do(args...), "%s to a DataNode from %s", args[0], who)
				}
				require.True(t, strings.HasPrefix(nn.do("CHKV.TABLE"), "$"), "CHKV.TABLE stays open: clients route with it")
			}
			require.Equal(t, before, snapshotCluster(t, c), "table version, membership and keys unchanged")
			// The secret opens them (the gate is not shut for everyone).
			nn := dialSecret(t, c.NameNode().Addr(), clientTLS)
			require.Equal(t, "+OK\r\n", nn.do("AUTH", ClusterUser, "s3cret"))
			require.True(t, strings.HasPrefix(nn.do("CHKV.STATUS"), "$"))
		})
	}
}
