// Runnable examples of the main entry points: a standalone DataNode, a NameNode with a DataNode, a cluster in one process, the metrics and the status page.

package chkv_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/chkv/chkv"
)

func ExampleStartDataNode() {
	ctx := context.Background()
	d, err := chkv.StartDataNode(ctx, chkv.DefaultDataNodeConfig()) // 127.0.0.1, a free port
	if err != nil {
		panic(err)
	}
	defer d.Close()

	// redis-cli -p <port> works too; here, chkv's own Client.
	c, err := chkv.NewClient(ctx, chkv.ClientConfig{Addr: d.Addr()})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "greeting", "hello"); err != nil {
		panic(err)
	}
	n, _ := c.Incr(ctx, "visits")
	v, _ := c.Get(ctx, "greeting")
	fmt.Println(v, n, d.Store().Keys())
	// Output: hello 1 2
}

func ExampleStartNameNode() {
	ctx := context.Background()
	nn, err := chkv.StartNameNode(ctx, chkv.DefaultNameNodeConfig())
	if err != nil {
		panic(err)
	}
	defer nn.Close()

	// A DataNode joins the cluster of the NameNode; separate processes
	// (chkv namenode, chkv datanode) do the same over the network.
	cfg := chkv.DefaultDataNodeConfig()
	cc := chkv.DefaultClusterNodeConfig(nn.Addr())
	cc.ID = "dn1"
	cfg.Cluster = &cc
	d, err := chkv.StartDataNode(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer d.Close()
	for nn.Table().Version == 0 || d.Table() == nil || d.Table().Version != nn.Table().Version {
		time.Sleep(10 * time.Millisecond) // the first table is being dealt out
	}
	primaries, _ := nn.Table().Load("dn1")
	fmt.Println("dn1 leads", primaries, "slots")
	// Output: dn1 leads 16384 slots
}

func ExampleStartCluster() {
	ctx := context.Background()
	// A NameNode and three DataNodes on the in-memory network, one replica
	// of every slot; StartCluster returns once every slot is served.
	cl, err := chkv.StartCluster(ctx, chkv.DefaultClusterConfig())
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	t := cl.NameNode().Table()
	for _, m := range t.Members {
		p, r := t.Load(m.ID)
		fmt.Println(m.ID, m.State, p+r > 0)
	}
	// Output:
	// dn1 up true
	// dn2 up true
	// dn3 up true
}

func ExampleDataNode_MetricsHandler() {
	ctx := context.Background()
	d, err := chkv.StartDataNode(ctx, chkv.DefaultDataNodeConfig())
	if err != nil {
		panic(err)
	}
	defer d.Close()
	// Serve the metrics (chkv server --metrics-addr does this).
	srv := httptest.NewServer(d.MetricsHandler())
	defer srv.Close()

	c, err := chkv.NewClient(ctx, chkv.ClientConfig{Addr: d.Addr()})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	for _, k := range []string{"a", "b", "c"} {
		c.Set(ctx, k, "1")
	}
	c.LPush(ctx, "a", "x") // a holds a string: WRONGTYPE

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, want := range []string{`chkv_commands_total{cmd="set"}`, `chkv_command_failures_total{cmd="lpush"}`, `chkv_errors_total{`, "chkv_keys "} {
			if strings.HasPrefix(line, want) {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// chkv_command_failures_total{cmd="lpush"} 1
	// chkv_commands_total{cmd="set"} 3
	// chkv_errors_total{error="WRONGTYPE"} 1
	// chkv_keys 3
}

func ExampleNameNode_StatusPage() {
	ctx := context.Background()
	cl, err := chkv.StartCluster(ctx, chkv.DefaultClusterConfig())
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	// Open srv.URL in a browser (chkv namenode --http does this); the page
	// polls status.json.
	srv := httptest.NewServer(cl.NameNode().StatusPage())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/status.json")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var page struct {
		Status struct {
			Stable  bool `json:"stable"`
			Members []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"members"`
		} `json:"status"`
		Map struct {
			Owners [][]int `json:"owners"`
		} `json:"map"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		panic(err)
	}
	fmt.Println("stable:", page.Status.Stable, "slots on the map:", len(page.Map.Owners))
	for _, m := range page.Status.Members {
		fmt.Println(m.ID, m.State)
	}
	// Output:
	// stable: true slots on the map: 16384
	// dn1 up
	// dn2 up
	// dn3 up
}
