// Event loops are Linux-only: elsewhere every connection has its own goroutine.

//go:build !linux

package chkv

import (
	"log/slog"
	"net"
	"time"
)

// loopSet is not used on this system.
type loopSet struct{}

// loopConn is not used on this system.
type loopConn struct{}

func newLoopSet(n int, idle time.Duration, logger *slog.Logger) *loopSet { return nil }

func (s *loopSet) close() {}

func (s *loopSet) noteIdle(t time.Duration) {}

func (d *DataNode) loopServe(c *conn) bool { return false }

// writeNonBlocking writes nothing here: the stream's goroutine writes it all.
func writeNonBlocking(fd int, p []byte) (int, error) { return 0, nil }

// loopAcks leaves the acknowledgements to a goroutine here (readAcks).
func (st *replStream) loopAcks(nc net.Conn) (net.Conn, chan error) { return nil, nil }
