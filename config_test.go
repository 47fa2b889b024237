package chkv

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigSetTakesEffect: CONFIG SET maxclients, requirepass and
// proto-max-bulk-len change what clients see at once, and CONFIG RESETSTAT
// zeroes INFO stats.
func TestConfigSetTakesEffect(t *testing.T) {
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		admin := dialRaw(t, d.Addr())
		admin.send("CONFIG SET maxclients 1\r\n")
		require.Equal(t, "+OK\r\n", admin.line())
		extra := dialRaw(t, d.Addr())
		require.Equal(t, "-ERR max number of clients reached\r\n", extra.line())
		admin.send("CONFIG SET maxclients 100 proto-max-bulk-len 1mb\r\n")
		require.Equal(t, "+OK\r\n", admin.line())
		admin.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n") // refused at the length
		require.Equal(t, "-ERR Protocol error: invalid bulk length\r\n", admin.line(), "the new limit applies to the connection that set it")

		admin = dialRaw(t, d.Addr())
		half := "*3\r\n$6\r\nAPPEND\r\n$1\r\nk\r\n$524288\r\n" + strings.Repeat("y", 1<<19) + "\r\n"
		admin.send(half + half + "APPEND k z\r\n")
		require.Equal(t, ":524288\r\n", admin.line())
		require.Equal(t, ":1048576\r\n", admin.line())
		require.Equal(t, "-"+msgTooLarge+"\r\n", admin.line())

		admin.send("CONFIG SET requirepass s3cret\r\nPING\r\n")
		require.Equal(t, "+OK\r\n", admin.line())
		require.Equal(t, "+PONG\r\n", admin.line(), "a connection made without a password stays authenticated")
		other := dialRaw(t, d.Addr())
		other.send("PING\r\nAUTH s3cret\r\nPING\r\n")
		require.Equal(t, "-NOAUTH Authentication required.\r\n", other.line())
		require.Equal(t, "+OK\r\n", other.line())
		require.Equal(t, "+PONG\r\n", other.line())
		admin.send("CONFIG RESETSTAT\r\nINFO stats\r\n")
		require.Equal(t, "+OK\r\n", admin.line())
		require.Contains(t, admin.bulk(), "\r\ntotal_connections_received:0\r\n")
	})
}

// TestConfigSetTimeoutClosesIdleClients: CONFIG SET timeout on a node
// started without one closes clients idle that long, on event loops too.
func TestConfigSetTimeoutClosesIdleClients(t *testing.T) {
	eachServeMode(t, func(t *testing.T, d *DataNode) {
		admin := dialRaw(t, d.Addr())
		idle := dialRaw(t, d.Addr())
		admin.send("CONFIG SET timeout 1\r\n")
		require.Equal(t, "+OK\r\n", admin.line())
		idle.send("PING\r\n")
		require.Equal(t, "+PONG\r\n", idle.line())
		_, err := idle.br.ReadString('\n') // blocks until the server closes it (the dial set a 30 s deadline)
		require.ErrorIs(t, err, io.EOF, "the idle client is closed")
	})
}
