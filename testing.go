// Test helpers: a DataNode started in one line that closes itself with the test.

package chkv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
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

// NewClusterT starts an in-process cluster (StartCluster) and closes it when
// the test ends. Options adjust DefaultClusterConfig. With the environment
// variable CHKV_TEST_LOG set (to debug, info, warn or error), every node's
// log lines at that level and above go to the test's output.
func NewClusterT(t testing.TB, opts ...func(*ClusterConfig)) *Cluster {
	t.Helper()
	cfg := DefaultClusterConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Logger == nil {
		l, err := envLogger(t.Output())
		if err != nil {
			t.Fatalf("chkv.NewClusterT: %v", err)
		}
		cfg.Logger = l
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, cfg)
	if err != nil {
		t.Fatalf("chkv.NewClusterT: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// envLogger returns a logger writing to w at the level CHKV_TEST_LOG
// names, or nil when it is not set.
func envLogger(w io.Writer) (*slog.Logger, error) {
	lv := os.Getenv("CHKV_TEST_LOG")
	if lv == "" {
		return nil, nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(lv)); err != nil {
		return nil, fmt.Errorf("CHKV_TEST_LOG: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}
