// Runnable examples of the Client, each against a DataNode started in-process.

package chkv_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chkv/chkv"
)

// startNode starts a standalone DataNode on a free loopback port and returns
// a Client for it; the caller closes both.
func startNode(ctx context.Context) (*chkv.DataNode, *chkv.Client) {
	node, err := chkv.StartDataNode(ctx, chkv.DefaultDataNodeConfig())
	if err != nil {
		panic(err)
	}
	cfg := chkv.DefaultClientConfig()
	cfg.Addr = node.Addr()
	c, err := chkv.NewClient(ctx, cfg)
	if err != nil {
		panic(err)
	}
	return node, c
}

func ExampleClient() {
	ctx := context.Background()
	node, c := startNode(ctx)
	defer node.Close()
	defer c.Close()

	if err := c.Set(ctx, "greeting", "hello", chkv.WithTTL(time.Hour)); err != nil {
		panic(err)
	}
	v, err := c.Get(ctx, "greeting")
	fmt.Println(v, err)

	_, err = c.Get(ctx, "missing")
	fmt.Println(errors.Is(err, chkv.ErrNil))

	_, err = c.LPush(ctx, "greeting", "x")
	fmt.Println(errors.Is(err, chkv.ErrWrongType))
	// Output:
	// hello <nil>
	// true
	// true
}

func ExampleClient_SetVersion() {
	ctx := context.Background()
	node, c := startNode(ctx)
	defer node.Close()
	defer c.Close()

	// Read, change, and write back only if nobody wrote in between.
	v1, _ := c.SetVersion(ctx, "balance", "100", 0) // version 0: unconditional
	_, _ = c.SetVersion(ctx, "balance", "150", v1)  // someone else's write

	_, err := c.SetVersion(ctx, "balance", "90", v1) // ours, based on v1
	var ve *chkv.VersionError
	if errors.As(err, &ve) {
		fmt.Println("conflict; stale:", ve.Current != v1)
		value, version, _ := c.GetVersion(ctx, "balance")
		_, err = c.SetVersion(ctx, "balance", value+"-10", version)
	}
	fmt.Println(err)
	value, _ := c.Get(ctx, "balance")
	fmt.Println(value)
	// Output:
	// conflict; stale: true
	// <nil>
	// 150-10
}

func ExampleClient_Pipeline() {
	ctx := context.Background()
	node, c := startNode(ctx)
	defer node.Close()
	defer c.Close()

	p := c.Pipeline()
	p.Do("SET", "n", 1)
	p.Do("INCRBY", "n", 41)
	p.Do("GET", "n")
	p.Do("GET", "missing")
	results, err := p.Exec(ctx)
	fmt.Println(results, err)
	// Output:
	// [OK 42 42 <nil>] <nil>
}

func ExampleClient_BLPop() {
	ctx := context.Background()
	node, c := startNode(ctx)
	defer node.Close()
	defer c.Close()

	go c.RPush(ctx, "jobs", "job-1") // a producer, before or during the wait
	key, job, err := c.BLPop(ctx, 5*time.Second, "jobs")
	fmt.Println(key, job, err)

	_, _, err = c.BLPop(ctx, 10*time.Millisecond, "jobs")
	fmt.Println(errors.Is(err, chkv.ErrNil)) // the timeout passed
	// Output:
	// jobs job-1 <nil>
	// true
}

func ExampleClient_Scan() {
	ctx := context.Background()
	node, c := startNode(ctx)
	defer node.Close()
	defer c.Close()

	c.MSet(ctx, map[string]string{"user:1": "ann", "user:2": "bob", "order:1": "x"})
	var keys []string
	for key, err := range c.Scan(ctx, "user:*", 0) {
		if err != nil {
			panic(err)
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	fmt.Println(keys)
	// Output:
	// [user:1 user:2]
}

func ExampleClient_MGet() {
	ctx := context.Background()
	node, c := startNode(ctx)
	defer node.Close()
	defer c.Close()

	c.MSet(ctx, map[string]string{"a": "1", "b": "2"})
	values, _ := c.MGet(ctx, "a", "b", "c")
	fmt.Println(values["a"], values["b"])
	_, ok := values["c"]
	fmt.Println(ok)
	// Output:
	// 1 2
	// false
}
