package chkv

import (
	"context"
	"testing"
)

// BenchmarkStartCluster measures how long an in-process cluster (a NameNode
// and three DataNodes on the memory network) takes to start and be ready:
// every slot served. Run: go test -run '^$' -bench StartCluster .
func BenchmarkStartCluster(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		cl, err := StartCluster(ctx, DefaultClusterConfig())
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cl.Close()
		b.StartTimer()
	}
}
