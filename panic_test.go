package chkv

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// bulk reads one bulk string reply.
func (r *rawConn) bulk() string {
	r.t.Helper()
	head := r.line()
	require.True(r.t, strings.HasPrefix(head, "$"), "want a bulk reply, got %q", head)
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	require.NoError(r.t, err)
	b := make([]byte, n+2)
	_, err = io.ReadFull(r.br, b)
	require.NoError(r.t, err)
	return string(b[:n])
}

// logRecorder is a slog.Handler keeping every record as one line of text.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

// String returns every record, one a line.
func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// panicCommand is a test-only command that locks the slot of its key,
// writes half a reply and panics, as a buggy handler would.
func panicCommand() *command {
	return &command{"chkv.testpanic", 2, flagWrite, 1, 1, 1, func(c *conn, args [][]byte) {
		_, sd := c.d.store.lockKey(args[1])
		defer sd.mu.Unlock()
		c.w.array(3)
		c.w.bulkString("half")
		var m map[string]int
		m["boom"]++ // assignment to a nil map: a runtime panic
	}}
}

// TestPanickingCommandIsContained: a command whose handler panics gets its
// connection an error and closed, the panic is logged with its stack and
// counted in INFO, and the node keeps serving other clients, on the same
// slot too, whether an event loop or a goroutine serves the connections.
func TestPanickingCommandIsContained(t *testing.T) {
	var logs logRecorder
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		other := dialRaw(t, d.Addr())
		other.send("SET k before\r\n")
		require.Equal(t, "+OK\r\n", other.line())

		bad := dialRaw(t, d.Addr())
		bad.send("PING\r\nCHKV.TESTPANIC k\r\nPING\r\n")
		require.Equal(t, "+PONG\r\n", bad.line())
		require.Equal(t, "-"+msgPanic+"\r\n", bad.line(), "the half-written reply is dropped")
		rest, err := io.ReadAll(bad.br)
		require.NoError(t, err, "the server closes the connection")
		require.Empty(t, string(rest), "nothing runs after the panic on that connection")

		// The other client, connected before, and a new one are served,
		// on the slot the panicking command had locked.
		other.send("SET k after\r\nGET k\r\n")
		require.Equal(t, "+OK\r\n", other.line())
		require.Equal(t, "$5\r\n", other.line())
		require.Equal(t, "after\r\n", other.line())
		fresh := dialRaw(t, d.Addr())
		fresh.send("INFO stats\r\n")
		require.Contains(t, fresh.bulk(), "\r\ncommand_panics:1\r\n", "INFO stats counts the panic")
		require.Contains(t, logs.String(), "command panicked")
		require.Contains(t, logs.String(), "panic_test.go", "the stack is logged")
	}, func(c *DataNodeConfig) {
		c.extraCommands = []*command{panicCommand()}
		c.Logger = slog.New(&logs)
	})
}
