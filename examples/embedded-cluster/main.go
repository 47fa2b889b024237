// Command embedded-cluster starts a whole chkv cluster (a NameNode and three
// DataNodes) inside one process on the memory network, and uses it through
// the routing Client: the way a service embeds chkv.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/chkv/chkv"
)

func main() {
	ctx := context.Background()
	cl, err := chkv.StartCluster(ctx, chkv.DefaultClusterConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()

	c, err := chkv.NewClient(ctx, chkv.ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for i := range 10 {
		if err := c.Set(ctx, fmt.Sprintf("user:%d", i), fmt.Sprintf("name-%d", i)); err != nil {
			log.Fatal(err)
		}
	}
	v, err := c.Get(ctx, "user:7")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("user:7 =", v)

	// A versioned write: compare-and-set on the key's version.
	_, ver, err := c.GetVersion(ctx, "user:7")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.SetVersion(ctx, "user:7", "renamed", ver); err != nil {
		log.Fatal(err)
	}
	fmt.Println("DataNodes:", cl.Addrs())
}
