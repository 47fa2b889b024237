package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chkv/chkv"
)

// TestStatusOfNameNodeGroup: chkv status given the list of 3 NameNodes on
// Raft (TCP) shows each one's role, term and last applied index, in text
// and JSON; with the leader killed, it finds the new one, and chkv leave
// reaches it through the list.
func TestStatusOfNameNodeGroup(t *testing.T) {
	cl := startCluster(t, func(c *chkv.ClusterConfig) { c.NameNodes = 3 })
	list := cl.NameNodeAddr()
	var out bytes.Buffer
	if err := run([]string{"status", "--namenode", list, "--json", "--timeout", "20s"}, &out, io.Discard); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var st struct {
		Version   uint64 `json:"version"`
		NameNodes []struct {
			ID          string `json:"id"`
			Addr        string `json:"addr"`
			Role        string `json:"role"`
			Term        uint64 `json:"term"`
			LastApplied uint64 `json:"last_applied"`
		} `json:"namenodes"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	leaders := 0
	for i, n := range st.NameNodes {
		if n.Addr != strings.Split(list, ",")[i] || n.Term == 0 || n.LastApplied == 0 {
			t.Errorf("NameNode %d: %+v", i, n)
		}
		if n.Role == "leader" {
			leaders++
		}
	}
	if len(st.NameNodes) != 3 || leaders != 1 || st.Version == 0 {
		t.Fatalf("status of the group: version %d, namenodes %+v", st.Version, st.NameNodes)
	}

	killLeader(t, cl)
	out.Reset()
	if err := run([]string{"status", "--namenode", list, "--timeout", "20s"}, &out, io.Discard); err != nil {
		t.Fatalf("status: %v", err)
	}
	text := out.String()
	if !strings.Contains(text, "NAMENODE  ADDR") || strings.Count(text, " leader ") != 1 || !strings.Contains(text, " unreachable ") {
		t.Fatalf("status after the leader died:\n%s", text)
	}
	out.Reset()
	if err := run([]string{"leave", "--namenode", list, "--timeout", "30s", "dn3"}, &out, io.Discard); err != nil {
		t.Fatalf("leave through the list: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "dn3 left the cluster") {
		t.Fatalf("leave printed:\n%s", out.String())
	}
}

// TestStatusSkipsSilentNameNode: a NameNode that accepts connections but
// never answers (stopped with SIGSTOP, say) first in the list does not use
// up chkv status's whole --timeout: the others answer and it shows as
// unreachable.
func TestStatusSkipsSilentNameNode(t *testing.T) {
	cl := startCluster(t, func(c *chkv.ClusterConfig) { c.NameNodes = 3 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // accepted, never read nor answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	list := ln.Addr().String() + "," + cl.NameNodeAddr()
	var out bytes.Buffer
	// 3s: without a share each, the silent one alone would use it all.
	if err := run([]string{"status", "--namenode", list, "--json", "--timeout", "3s"}, &out, io.Discard); err != nil {
		t.Fatalf("status with a silent NameNode first: %v", err)
	}
	var st struct {
		NameNodes []struct {
			Role string `json:"role"`
		} `json:"namenodes"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(st.NameNodes) != 4 || st.NameNodes[0].Role != "unreachable" {
		t.Fatalf("namenodes: %+v, want 4 with the silent one unreachable", st.NameNodes)
	}
}

// TestLeaveFollowsNewLeader: the NameNode leader chkv leave follows dies
// while the slots move; the command finds the new leader, which carries the
// leave on, and returns once the node left.
func TestLeaveFollowsNewLeader(t *testing.T) {
	cl := startCluster(t, func(c *chkv.ClusterConfig) { c.NameNodes = 3; c.MigrateRate = 300 })
	kv := load(t, cl, 3000)
	out := &syncBuffer{}
	done := runBackground(out, "leave", "--namenode", cl.NameNodeAddr(), "--timeout", "60s", "dn3")
	waitFor(t, "the leave to be accepted", func() bool { return strings.Contains(out.String(), "leave of dn3 accepted") })
	killLeader(t, cl)
	if err := await(t, done, out); err != nil {
		t.Fatalf("leave: %v\n%s", err, out.String())
	}
	if !strings.HasSuffix(out.String(), "\ndn3 left the cluster\n") {
		t.Fatalf("leave printed:\n%s", out.String())
	}
	checkKeys(t, cl, kv)
}

// killLeader waits for the NameNode group's leader and kills it.
func killLeader(t *testing.T, cl *chkv.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, err := cl.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.KillNameNode(old); err != nil {
		t.Fatal(err)
	}
}
