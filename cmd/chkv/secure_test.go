package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chkv/chkv"
)

// startProcess runs the chkv binary with args, waits until a line of its
// output matches ready, and returns the first submatch and the process
// (killed at cleanup).
func startProcess(t *testing.T, bin string, ready *regexp.Regexp, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case s := <-found:
		return s, cmd
	case <-time.After(30 * time.Second):
		t.Fatalf("chkv %s did not get ready:\n%s", args[0], stderr.String())
	}
	return "", nil
}

// TestSecureClusterCLI starts a NameNode and DataNodes with a cluster
// secret and TLS from the command line, serves redis-cli --tls -c, joins a
// DataNode and lets one leave; chkv leave without the secret is refused.
func TestSecureClusterCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not found: SKIPPING the secure cluster CLI test")
	}
	dir := t.TempDir()
	if err := chkv.WriteTestCerts(dir); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("cli-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t, dir)
	tlsArgs := []string{"--tls-cert", filepath.Join(dir, "node.pem"), "--tls-key", filepath.Join(dir, "node-key.pem"),
		"--tls-ca", filepath.Join(dir, "ca.pem")}
	sec := append([]string{"--cluster-secret-file", secretFile}, tlsArgs...)
	nn, _ := startProcess(t, bin, regexp.MustCompile(`NameNode ready on (\S+):`),
		append([]string{"namenode", "--addr", "127.0.0.1:0", "--heartbeat", "200ms", "--expect", "2"}, sec...)...)
	listening := regexp.MustCompile(`listening on (\S+),`)
	dataNode := func(id string) (string, *exec.Cmd) {
		return startProcess(t, bin, listening, append([]string{"datanode", "--addr", "127.0.0.1:0", "--namenode", nn,
			"--id", id, "--heartbeat", "200ms", "--event-loops", "-1"}, sec...)...)
	}
	dn1, _ := dataNode("dn1")
	dataNode("dn2")
	redis := func(addr string, args ...string) string {
		host, port, _ := net.SplitHostPort(addr)
		full := append([]string{"--tls", "--cacert", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "node.pem"),
			"--key", filepath.Join(dir, "node-key.pem"), "-h", host, "-p", port, "-c"}, args...)
		out, err := exec.Command(cli, full...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	status := func(extra ...string) (clusterStatus, error) {
		var out bytes.Buffer
		err := run(append(append([]string{"status", "--namenode", nn, "--json", "--timeout", "10s"}, sec...), extra...), &out, io.Discard)
		var st clusterStatus
		if err == nil {
			err = json.Unmarshal(out.Bytes(), &st)
		}
		return st, err
	}
	settled := func(n int) func() bool {
		return func() bool {
			st, err := status()
			up := 0
			for _, m := range st.Members {
				if m.State == chkv.NodeUp.String() && m.Primaries > 0 {
					up++
				}
			}
			return err == nil && st.Stable && up == n
		}
	}
	waitFor(t, "two DataNodes serving", settled(2))
	waitFor(t, "writes accepted", func() bool { // the nodes hold the table and their leases
		return redis(dn1, "SET", "probe", "1") == "OK"
	})
	for i := range 20 {
		if got := redis(dn1, "SET", fmt.Sprintf("key%d", i), fmt.Sprint(i)); got != "OK" {
			t.Fatalf("SET key%d over TLS: %q", i, got)
		}
	}
	dn3, _ := dataNode("dn3")
	waitFor(t, "dn3 to join", settled(3))
	for i := range 20 {
		if got := redis(dn3, "GET", fmt.Sprintf("key%d", i)); got != fmt.Sprint(i) {
			t.Fatalf("GET key%d after the join: %q", i, got)
		}
	}
	// Without the secret the NameNode refuses to let anyone leave.
	err = run(append([]string{"leave", "--namenode", nn, "--timeout", "10s", "dn2"}, tlsArgs...), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("leave without the secret: %v, want NOPERM", err)
	}
	var out bytes.Buffer
	if err := run(append(append([]string{"leave", "--namenode", nn, "--timeout", "60s"}, sec...), "dn2"), &out, io.Discard); err != nil {
		t.Fatalf("leave: %v\n%s", err, out.String())
	}
	waitFor(t, "dn2 gone", settled(2))
	for i := range 20 {
		if got := redis(dn1, "GET", fmt.Sprintf("key%d", i)); got != fmt.Sprint(i) {
			t.Fatalf("GET key%d after the leave: %q", i, got)
		}
	}
}
