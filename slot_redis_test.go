// Slot cross-check: chkv.Slot against CLUSTER KEYSLOT of a real redis-server for thousands of random keys, hash tags included.

package chkv

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRedisCluster starts a cluster-enabled redis-server listening only on
// a unix socket in a temporary directory and returns a connection to it.
// The server is killed when the test ends.
func startRedisCluster(t *testing.T) net.Conn {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not found: SKIPPING the CLUSTER KEYSLOT cross-check of chkv.Slot")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "r.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock,
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--dir", dir, "--save", "", "--appendonly", "no")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			t.Cleanup(func() { conn.Close() })
			return conn
		}
		select {
		case err := <-exited:
			t.Fatalf("redis-server exited: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s: %v\n%s", sock, err, out.String())
		}
	}
}

// writeCommand writes args as a RESP array of bulk strings.
func writeCommand(w *bufio.Writer, args ...string) {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
}

// readInteger reads one RESP integer reply.
func readInteger(r *bufio.Reader) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if !strings.HasPrefix(line, ":") {
		return 0, fmt.Errorf("reply %q is not an integer", line)
	}
	return strconv.Atoi(line[1:])
}

// randomKey returns a key rich in hash-tag edge cases: braces anywhere,
// empty tags, nested and unclosed braces, and arbitrary bytes.
func randomKey(rng *rand.Rand) string {
	const alphabet = "{}{}{}ab01:.\x00\xff"
	var b strings.Builder
	for range rng.IntN(24) {
		if rng.IntN(4) == 0 {
			b.WriteByte(byte(rng.IntN(256)))
		} else {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
	}
	return b.String()
}

func TestSlotMatchesRedisKeyslot(t *testing.T) {
	conn := startRedisCluster(t)
	keys := []string{"", "{", "}", "{}", "{}{a}", "{{a}}", "a{b}c{d}", "{user1000}.following",
		"foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "123456789", strings.Repeat("k", 5000)}
	rng := rand.New(rand.NewPCG(7, 11))
	for range 5000 {
		keys = append(keys, randomKey(rng))
	}
	w := bufio.NewWriter(conn)
	go func() { // pipeline every request while the replies are read
		for _, k := range keys {
			writeCommand(w, "CLUSTER", "KEYSLOT", k)
		}
		_ = w.Flush()
	}()
	r := bufio.NewReader(conn)
	tags := 0
	for _, k := range keys {
		want, err := readInteger(r)
		if err == io.EOF {
			t.Fatal("redis-server closed the connection")
		}
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", k, err)
		}
		if got := Slot(k); got != want {
			t.Errorf("Slot(%q) = %d, redis CLUSTER KEYSLOT says %d", k, got, want)
		}
		if string(hashTag([]byte(k))) != k {
			tags++
		}
	}
	if tags < len(keys)/10 {
		t.Fatalf("only %d of %d keys had a hash tag; the test proves little", tags, len(keys))
	}
	t.Logf("%d keys (%d with a hash tag) agree with redis-server", len(keys), tags)
}
