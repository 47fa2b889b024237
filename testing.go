// Test helpers: a DataNode started in one line that closes itself with the test.

package chkv

import (
	"context"
	"testing"
)

// RunT starts a standalone DataNode on a free loopback TCP port and closes it
// when the test ends, like miniredis.RunT or httptest.NewServer. Options
// adjust the default configuration.
func RunT(t testing.TB, opts ...func(*DataNodeConfig)) *DataNode {
	t.Helper()
	cfg := DefaultDataNodeConfig()
	for _, o := range opts {
		o(&cfg)
	}
	d, err := StartDataNode(context.Background(), cfg)
	if err != nil {
		t.Fatalf("chkv.RunT: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
