// Differential test harness: every case runs against a real redis-server and chkv and requires identical replies.

package chkv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisMissing is printed (and the differential tests skipped) when redis-server is not installed.
const redisMissing = "redis-server not found: SKIPPING differential tests; install redis-server"

// diffMinCases is the least number of cases the suite must hold.
const diffMinCases = 300

// diffIOTimeout bounds every read and write of one command, so a server that
// never answers fails its case instead of hanging the suite.
const diffIOTimeout = 5 * time.Second

// TestDiff runs every case of diffCases against redis-server and chkv and
// requires the same replies from both. Set CHKV_DIFF_TRACE=1 to log every
// command with both replies.
func TestDiff(t *testing.T) {
	redisNet, redisAddr := startRedis(t)
	chkvNet, chkvAddr := startChkv(t)
	trace := os.Getenv("CHKV_DIFF_TRACE") != ""
	for _, c := range diffCases() {
		t.Run(c.name, func(t *testing.T) {
			rc := dialResp(t, redisNet, redisAddr)
			cc := dialResp(t, chkvNet, chkvAddr)
			for _, conn := range []*respConn{rc, cc} {
				mustOK(t, conn, "FLUSHALL")
			}
			for _, s := range c.steps {
				if s.pause > 0 {
					time.Sleep(s.pause)
					continue
				}
				want := s.run(t, rc, "redis")
				got := s.run(t, cc, "chkv")
				if trace {
					t.Logf("%s\n\tredis: %s\n\tchkv:  %s", s, clip(want), clip(got))
				}
				if !s.same(want, got) {
					t.Errorf("case %s: command %s\n\tredis: %s\n\tchkv:  %s%s", c.name, s, clip(want), clip(got),
						firstDiff(want, got))
				}
			}
		})
	}
}

// TestDiffCases checks the case table itself: enough cases, unique names,
// and a compared command in every case.
func TestDiffCases(t *testing.T) {
	cases := diffCases()
	if len(cases) < diffMinCases {
		t.Errorf("%d differential cases, want at least %d", len(cases), diffMinCases)
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Errorf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		if !slices.ContainsFunc(c.steps, func(s step) bool { return s.pause == 0 }) {
			t.Errorf("case %q compares no command", c.name)
		}
	}
	t.Logf("%d differential cases", len(cases))
}

// startRedis starts redis-server on a unix socket (TCP disabled with port 0,
// so no port is probed), waits until it answers PING, and kills it at cleanup.
func startRedis(t testing.TB) (network, addr string) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Log(redisMissing)
		t.Skip(redisMissing)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	logPath := filepath.Join(dir, "redis.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = logFile.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(logPath)
			t.Fatalf("redis-server exited at start: %v\n%s", err, log)
		default:
		}
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			rc := &respConn{c: c, r: bufio.NewReader(c)}
			rep, err := rc.do("PING")
			_ = c.Close()
			if err == nil && string(rep.raw) == "+PONG\r\n" {
				return "unix", sock
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("redis-server did not answer PING on %s within 10s\n%s", sock, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cmpMode says how the replies of one command are compared.
type cmpMode int

const (
	cmpExact  cmpMode = iota // byte for byte
	cmpNear                  // two integer replies within tol of each other; otherwise byte for byte
	cmpType                  // the same reply type (first byte) only
	cmpShape                 // the same types and element counts, recursively; values ignored
	cmpSorted                // an array's elements as a sorted multiset; otherwise byte for byte
	cmpScan                  // SCAN iterated to cursor 0 on each side; the sorted keys compared
)

// step is one command of a case, or a pause (pause > 0) between commands.
type step struct {
	args  []string
	mode  cmpMode
	tol   int64
	pause time.Duration
}

func (s step) String() string {
	q := make([]string, len(s.args))
	for i, a := range s.args {
		q[i] = clip([]byte(a))
	}
	return strings.Join(q, " ")
}

// firstDiff points at the first differing byte when a clipped reply hides it.
func firstDiff(a, b []byte) string {
	if len(a) <= clipLen && len(b) <= clipLen {
		return ""
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("\n\tfirst difference at byte %d", i)
}

// clipLen is how many bytes of a long reply or argument a message quotes.
const clipLen = 300

// clip quotes b for a message, cut to clipLen bytes with its full length noted.
func clip(b []byte) string {
	if len(b) <= clipLen {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:clipLen], len(b))
}

// run sends the step's command on c and returns the reply bytes, normalized
// for modes that need a whole exchange (cmpScan) or a reordering (cmpSorted).
func (s step) run(t *testing.T, c *respConn, side string) []byte {
	t.Helper()
	if s.mode == cmpScan {
		return s.scan(t, c, side)
	}
	rep, err := c.do(s.args...)
	if err != nil {
		t.Fatalf("%s: command %s: %v", side, s, err)
	}
	if s.mode == cmpSorted {
		return rep.sorted()
	}
	return rep.raw
}

// scan runs a SCAN command (its cursor at args[1]) until the cursor comes
// back as 0 and returns an array of every key seen, sorted. An error or a
// reply of another shape is returned as it is.
func (s step) scan(t *testing.T, c *respConn, side string) []byte {
	t.Helper()
	args := slices.Clone(s.args)
	var keys []*reply
	for range 1000 {
		rep, err := c.do(args...)
		if err != nil {
			t.Fatalf("%s: command %s: %v", side, s, err)
		}
		if rep.kind() != '*' || len(rep.elems) != 2 || rep.elems[0].kind() != '$' || rep.elems[1].kind() != '*' {
			return rep.raw
		}
		keys = append(keys, rep.elems[1].elems...)
		cursor := rep.elems[0].bulk()
		if cursor == "0" {
			return (&reply{raw: []byte("*"), elems: keys}).sorted()
		}
		args[1] = cursor
	}
	t.Fatalf("%s: command %s: cursor never came back to 0", side, s)
	return nil
}

// same reports whether the replies of redis (want) and chkv (got) agree under the step's mode.
func (s step) same(want, got []byte) bool {
	switch s.mode {
	case cmpNear:
		a, aok := integerReply(want)
		b, bok := integerReply(got)
		if aok && bok {
			return a-b <= s.tol && b-a <= s.tol
		}
	case cmpType:
		return len(want) > 0 && len(got) > 0 && want[0] == got[0]
	case cmpShape:
		w, err1 := parseReply(want)
		g, err2 := parseReply(got)
		return err1 == nil && err2 == nil && w.sameShape(g)
	}
	return bytes.Equal(want, got)
}

// integerReply returns the value of a RESP integer reply.
func integerReply(b []byte) (int64, bool) {
	if len(b) < 4 || b[0] != ':' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b[1:len(b)-2]), 10, 64)
	return n, err == nil
}

// diffCase is one named sequence of commands run on a flushed server pair.
type diffCase struct {
	name  string
	steps []step
}

// dc builds a case. Each step is a command line (a string, compared exactly,
// split as redis-cli splits: see splitCommand) or a step built by one of the
// helpers below.
func dc(name string, steps ...any) diffCase {
	c := diffCase{name: name}
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			c.steps = append(c.steps, step{args: splitCommand(s)})
		case step:
			c.steps = append(c.steps, s)
		default:
			panic(fmt.Sprintf("case %s: step of type %T", name, s))
		}
	}
	return c
}

// near compares two integer replies within tol (TTL, PTTL).
func near(tol int64, cmd string) step { return step{args: splitCommand(cmd), mode: cmpNear, tol: tol} }

// sameType compares only the reply type (TIME, INFO, CLIENT ID).
func sameType(cmd string) step { return step{args: splitCommand(cmd), mode: cmpType} }

// sameShape compares the reply's structure, not its values (HELLO).
func sameShape(cmd string) step { return step{args: splitCommand(cmd), mode: cmpShape} }

// unordered compares an array reply as a multiset (KEYS).
func unordered(cmd string) step { return step{args: splitCommand(cmd), mode: cmpSorted} }

// scanAll iterates a SCAN to its end and compares the keys seen as a multiset.
func scanAll(cmd string) step { return step{args: splitCommand(cmd), mode: cmpScan} }

// argv is a command given as its exact arguments, for values awkward to quote.
func argv(args ...string) step { return step{args: args} }

// pause waits d between commands; only for expiry that cannot be tested with a time in the past.
func pause(d time.Duration) step { return step{pause: d} }

// splitCommand splits a command line as redis-cli does: words separated by
// spaces; "double quotes" take the escapes \n \r \t \b \a \\ \" and \xHH;
// 'single quotes' take only \'. A quoted word may be empty.
func splitCommand(line string) []string {
	var args []string
	i := 0
	for {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			return args
		}
		var w []byte
		switch line[i] {
		case '"':
			i++
			for ; line[i] != '"'; i++ {
				if line[i] != '\\' {
					w = append(w, line[i])
					continue
				}
				i++
				switch line[i] {
				case 'n':
					w = append(w, '\n')
				case 'r':
					w = append(w, '\r')
				case 't':
					w = append(w, '\t')
				case 'b':
					w = append(w, '\b')
				case 'a':
					w = append(w, '\a')
				case 'x':
					b, err := strconv.ParseUint(line[i+1:i+3], 16, 8)
					if err != nil {
						panic(fmt.Sprintf("bad \\x escape in %q", line))
					}
					w = append(w, byte(b))
					i += 2
				default:
					w = append(w, line[i])
				}
			}
			i++
		case '\'':
			i++
			for ; line[i] != '\''; i++ {
				if line[i] == '\\' && line[i+1] == '\'' {
					i++
				}
				w = append(w, line[i])
			}
			i++
		default:
			for ; i < len(line) && line[i] != ' '; i++ {
				w = append(w, line[i])
			}
		}
		args = append(args, string(w))
	}
}

// respConn is a minimal RESP client that keeps every reply as raw bytes.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

// dialResp connects to a server for one case and closes the connection at the case's end.
func dialResp(t *testing.T, network, addr string) *respConn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, diffIOTimeout)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &respConn{c: c, r: bufio.NewReader(c)}
}

// mustOK sends a command that must answer +OK.
func mustOK(t *testing.T, c *respConn, args ...string) {
	t.Helper()
	rep, err := c.do(args...)
	if err != nil || string(rep.raw) != "+OK\r\n" {
		t.Fatalf("%s: %q, %v", strings.Join(args, " "), rep.rawOrNil(), err)
	}
}

// do writes one command as a RESP array of bulk strings and reads one reply.
func (c *respConn) do(args ...string) (*reply, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := c.c.SetDeadline(time.Now().Add(diffIOTimeout)); err != nil {
		return nil, err
	}
	if _, err := c.c.Write(b.Bytes()); err != nil {
		return nil, err
	}
	return readReply(c.r)
}

// reply is one RESP reply: its exact bytes and, for aggregates, its elements.
type reply struct {
	raw   []byte
	elems []*reply
}

func (r *reply) kind() byte { return r.raw[0] }

func (r *reply) rawOrNil() []byte {
	if r == nil {
		return nil
	}
	return r.raw
}

// bulk returns the payload of a bulk string reply.
func (r *reply) bulk() string {
	i := bytes.IndexByte(r.raw, '\n')
	return string(r.raw[i+1 : len(r.raw)-2])
}

// sorted returns the bytes of an array reply with its elements sorted; other replies unchanged.
func (r *reply) sorted() []byte {
	if r.kind() != '*' || bytes.Equal(r.raw, []byte("*-1\r\n")) {
		return r.raw
	}
	els := make([][]byte, len(r.elems))
	for i, e := range r.elems {
		els[i] = e.raw
	}
	slices.SortFunc(els, bytes.Compare)
	return append(fmt.Appendf(nil, "*%d\r\n", len(els)), bytes.Join(els, nil)...)
}

// sameShape reports whether r and o have the same types and element counts, recursively.
func (r *reply) sameShape(o *reply) bool {
	if r.kind() != o.kind() || len(r.elems) != len(o.elems) {
		return false
	}
	for i := range r.elems {
		if !r.elems[i].sameShape(o.elems[i]) {
			return false
		}
	}
	return true
}

// parseReply parses bytes holding exactly one reply.
func parseReply(b []byte) (*reply, error) {
	br := bufio.NewReader(bytes.NewReader(b))
	r, err := readReply(br)
	if err == nil && br.Buffered() > 0 {
		err = fmt.Errorf("trailing bytes after reply %q", r.raw)
	}
	return r, err
}

// readReply reads one RESP2 or RESP3 reply, aggregates included.
func readReply(br *bufio.Reader) (*reply, error) {
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("malformed reply line %q", line)
	}
	r := &reply{raw: line}
	head := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return r, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(head)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("bad length in %q", line)
		}
		if n == -1 {
			return r, nil
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, err
		}
		if body[n] != '\r' || body[n+1] != '\n' {
			return nil, fmt.Errorf("bulk of %d bytes not followed by CRLF: %q", n, body)
		}
		r.raw = append(r.raw, body...)
		return r, nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(head)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("bad length in %q", line)
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		r.elems = []*reply{}
		for range n {
			e, err := readReply(br)
			if err != nil {
				return nil, err
			}
			r.raw = append(r.raw, e.raw...)
			r.elems = append(r.elems, e)
		}
		return r, nil
	}
	return nil, fmt.Errorf("unknown reply type in %q", line)
}

// TestDiffHarness checks the harness's own parts: the command splitter and
// every comparison mode, both when replies agree and when they do not.
func TestDiffHarness(t *testing.T) {
	t.Run("split", func(t *testing.T) {
		got := splitCommand(`SET  "a\r\n\x00\"b" 'it\'s' "" x\y`)
		want := []string{"SET", "a\r\n\x00\"b", "it's", "", `x\y`}
		if !slices.Equal(got, want) {
			t.Errorf("splitCommand = %q, want %q", got, want)
		}
	})
	arr := func(els ...string) string {
		s := fmt.Sprintf("*%d\r\n", len(els))
		for _, e := range els {
			s += fmt.Sprintf("$%d\r\n%s\r\n", len(e), e)
		}
		return s
	}
	tests := []struct {
		name      string
		step      step
		want, got string
		same      bool
	}{
		{"exact/equal", step{}, "+OK\r\n", "+OK\r\n", true},
		{"exact/error-text", step{}, "-ERR syntax error\r\n", "-ERR Syntax error\r\n", false},
		{"exact/nil-kind", step{}, "$-1\r\n", "*-1\r\n", false},
		{"near/within", near(1, "TTL k"), ":100\r\n", ":99\r\n", true},
		{"near/outside", near(1, "TTL k"), ":100\r\n", ":98\r\n", false},
		{"near/not-integer", near(1, "TTL k"), ":100\r\n", "$3\r\n100\r\n", false},
		{"type/same", sameType("TIME"), arr("1", "2"), arr("3", "4", "5"), true},
		{"type/other", sameType("CLIENT ID"), ":5\r\n", "$1\r\n5\r\n", false},
		{"shape/same", sameShape("HELLO 2"), arr("server", "redis"), arr("server", "chkv"), true},
		{"shape/other-length", sameShape("HELLO 2"), arr("server", "redis"), arr("server"), false},
		{"shape/other-type", sameShape("HELLO 2"), "*1\r\n:2\r\n", arr("2"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.step.same([]byte(tt.want), []byte(tt.got)); got != tt.same {
				t.Errorf("same(%q, %q) = %v, want %v", tt.want, tt.got, got, tt.same)
			}
		})
	}
	t.Run("sorted", func(t *testing.T) {
		a, _ := parseReply([]byte(arr("b", "a", "c")))
		b, _ := parseReply([]byte(arr("c", "b", "a")))
		c, _ := parseReply([]byte(arr("c", "b", "b")))
		if !bytes.Equal(a.sorted(), b.sorted()) {
			t.Errorf("sorted %q != sorted %q", a.raw, b.raw)
		}
		if bytes.Equal(a.sorted(), c.sorted()) {
			t.Errorf("sorted %q == sorted %q", a.raw, c.raw)
		}
		if string(a.sorted()) != arr("a", "b", "c") {
			t.Errorf("sorted = %q", a.sorted())
		}
	})
	t.Run("parse", func(t *testing.T) {
		raw := "*3\r\n$-1\r\n*2\r\n:1\r\n-ERR x\r\n$4\r\na\r\nb\r\n"
		r, err := parseReply([]byte(raw))
		if err != nil || string(r.raw) != raw || len(r.elems) != 3 || len(r.elems[1].elems) != 2 {
			t.Errorf("parseReply(%q) = %+v, %v", raw, r, err)
		}
		for _, bad := range []string{"$3\r\nab\r\n", "*2\r\n:1\r\n", "?x\r\n", "+OK\n", "+OK\r\n+OK\r\n"} {
			if _, err := parseReply([]byte(bad)); err == nil {
				t.Errorf("parseReply(%q) accepted a malformed reply", bad)
			}
		}
	})
}
