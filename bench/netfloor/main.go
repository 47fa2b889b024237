// Command netfloor is the cheapest RESP server Go can run: it answers every
// request with the same bulk string and does nothing else. bench/netfloor.sh
// runs redis-benchmark against it, chkv and redis-server in the same run, to
// show how much of chkv's distance to Redis at -P 1 is Go's own network path
// (the runtime's netpoller and scheduler) rather than chkv's work.
//
// Modes: "goroutine" serves each connection from its own goroutine through
// net.Conn, as chkv does; "epoll" (Linux) serves every connection from one
// locked thread with raw epoll, read and write system calls, as Redis does.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
)

// reply answers every request: a GET of a 3-byte value.
var reply = []byte("$3\r\nbar\r\n")

// requests counts the requests in b: RESP arrays (lines starting with '*').
// A request split across reads may be counted in either; redis-benchmark's
// requests are small and never split at -P 1.
func requests(b []byte, atLineStart bool) (n int, lineStart bool) {
	for _, c := range b {
		if c == '*' && atLineStart {
			n++
		}
		atLineStart = c == '\n'
	}
	return n, atLineStart
}

func main() {
	mode := flag.String("mode", "goroutine", "goroutine or epoll")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	switch *mode {
	case "goroutine":
		serveGoroutines(ln)
	case "epoll":
		serveEpoll(ln)
	default:
		log.Fatalf("unknown mode %q", *mode)
	}
}

func serveGoroutines(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 16<<10)
			w := bufio.NewWriterSize(c, 16<<10)
			lineStart := true
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				var k int
				k, lineStart = requests(buf[:n], lineStart)
				for range k {
					w.Write(reply)
				}
				if w.Flush() != nil {
					return
				}
			}
		}()
	}
}
