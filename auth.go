// Cluster authentication: the secret internal commands require, checked in constant time, and the one function that dials a peer and presents it.

package chkv

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// ClusterUser is the user name a node (or an operator's tool) gives with
// the cluster secret: AUTH chkv-cluster <secret>.
const ClusterUser = "chkv-cluster"

// msgNotClusterMember refuses an internal command on a connection that has
// not authenticated with the cluster secret.
const msgNotClusterMember = "NOPERM this command is for the nodes of the cluster: authenticate with the cluster secret first (AUTH " + ClusterUser + " <secret>)"

// secretMatches reports whether given is the cluster secret, comparing in
// constant time; an empty secret matches nothing.
func secretMatches(given []byte, secret string) bool {
	return secret != "" && subtle.ConstantTimeCompare(given, []byte(secret)) == 1
}

// dialPeer connects to another server of the cluster (a DataNode or the
// NameNode) over tr and, when secret is set, authenticates with it (AUTH
// chkv-cluster <secret>) before returning the connection. Every internal
// connection is made here: the NameNode's probes and pushes, DataNodes'
// heartbeats, migrations and replication streams, clients' table watches.
func dialPeer(ctx context.Context, tr Transport, addr, secret string) (net.Conn, error) {
	nc, err := tr.Dial(ctx, addr)
	if err != nil || secret == "" {
		return nc, err
	}
	if err := presentSecret(ctx, nc, secret); err != nil {
		nc.Close()
		return nil, fmt.Errorf("chkv: authenticate with %s: %w", addr, err)
	}
	return nc, nil
}

// presentSecret sends AUTH chkv-cluster <secret> on nc and reads the reply
// one byte at a time, so that nothing after it is consumed.
func presentSecret(ctx context.Context, nc net.Conn, secret string) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	nc.SetDeadline(dl)
	defer nc.SetDeadline(time.Time{})
	var w replyWriter
	w.array(3)
	w.bulkString("AUTH")
	w.bulkString(ClusterUser)
	w.bulkString(secret)
	if _, err := nc.Write(w.buf); err != nil {
		return err
	}
	var line []byte
	var b [1]byte
	for len(line) < 512 {
		if _, err := nc.Read(b[:]); err != nil {
			return err
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	reply := strings.TrimSuffix(string(line), "\r")
	if reply != "+OK" {
		return &RESPError{Msg: strings.TrimPrefix(reply, "-")}
	}
	return nil
}

// ReadSecretFile reads a cluster secret from path: the file's content
// without its trailing newline. An empty secret is an error.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("chkv: cluster secret: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", errors.New("chkv: cluster secret file " + path + " is empty")
	}
	return s, nil
}

// clusterSecret is the secret the node's internal commands require; ""
// when none is set (or the node is standalone).
func (d *DataNode) clusterSecret() string {
	if d.cluster == nil {
		return ""
	}
	return d.cluster.cfg.ClusterSecret
}

// login authenticates c as user with pass: the cluster user with the
// cluster secret (which also allows data commands), or the default user
// with requirepass. It reports false for a wrong pair.
func (c *conn) login(user, pass []byte) bool {
	if string(user) == ClusterUser {
		if !secretMatches(pass, c.d.clusterSecret()) {
			return false
		}
		c.authed, c.clusterAuthed = true, true
		return true
	}
	if !c.d.checkPassword(user, pass) {
		return false
	}
	c.authed = true
	return true
}

// nameNodeOpen are the NameNode commands any client may send; every other
// one (the CHKV.* commands of DataNodes, operators and watchers, and any
// added later) needs the cluster secret when the NameNode has one.
var nameNodeOpen = map[string]bool{"PING": true, "QUIT": true, "AUTH": true, "CHKV.TABLE": true}

// gate handles AUTH on a NameNode connection and refuses an internal
// command before the secret was presented; it reports whether it wrote
// the reply (the command must not run). authed is the connection's state.
func (n *NameNode) gate(w *replyWriter, args [][]byte, authed *bool) bool {
	name := strings.ToUpper(string(truncate(args[0], 32)))
	if name == "AUTH" {
		switch {
		case len(args) != 3:
			w.errorText(wrongArity(args[0]))
		case n.cfg.ClusterSecret == "":
			w.errorText("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		case string(args[1]) != ClusterUser || !secretMatches(args[2], n.cfg.ClusterSecret):
			w.errorText("WRONGPASS invalid username-password pair or user is disabled.")
		default:
			*authed = true
			w.ok()
		}
		return true
	}
	if n.cfg.ClusterSecret != "" && !*authed && !nameNodeOpen[name] {
		w.errorText(msgNotClusterMember)
		return true
	}
	return false
}
