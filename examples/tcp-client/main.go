// Command tcp-client talks to a running chkv cluster over TCP: start one
// with `go run ./cmd/chkv cluster` (NameNode on 127.0.0.1:7000), then
// `go run ./examples/tcp-client`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/chkv/chkv"
)

func main() {
	nameNode := flag.String("namenode", "127.0.0.1:7000", "address of the cluster's NameNode")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := chkv.NewClient(ctx, chkv.ClientConfig{NameNode: *nameNode})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	n, err := c.Incr(ctx, "visits")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("visits:", n)

	// A list as a FIFO queue.
	if _, err := c.RPush(ctx, "jobs", "resize:1", "resize:2"); err != nil {
		log.Fatal(err)
	}
	key, job, err := c.BLPop(ctx, time.Second, "jobs")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("took", job, "from", key)
}
