// Package cache shows how another project tests its code against a real
// chkv cluster started inside the test, in the spirit of miniredis.RunT.
package cache

import (
	"context"
	"errors"
	"testing"

	"github.com/chkv/chkv"
)

// Cache is the code under test: a read-through cache in front of a loader.
type Cache struct {
	kv   *chkv.Client
	load func(key string) string
}

// Get returns the cached value, loading and storing it on a miss.
func (c *Cache) Get(ctx context.Context, key string) (string, error) {
	v, err := c.kv.Get(ctx, key)
	if errors.Is(err, chkv.ErrNil) {
		v = c.load(key)
		return v, c.kv.Set(ctx, key, v)
	}
	return v, err
}

func TestCacheAgainstACluster(t *testing.T) {
	ctx := context.Background()
	cl := chkv.NewClusterT(t) // a NameNode and 3 DataNodes, closed with the test
	kv, err := chkv.NewClient(ctx, chkv.ClientConfig{NameNode: cl.NameNodeAddr(), Transport: cl.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()

	loads := 0
	c := &Cache{kv: kv, load: func(key string) string { loads++; return "value of " + key }}
	for range 3 {
		v, err := c.Get(ctx, "k")
		if err != nil || v != "value of k" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("loader ran %d times, want 1", loads)
	}
}
