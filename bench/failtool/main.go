// Command failtool is the client side of bench/rebuild.sh and
// bench/failover-stall.sh: "load" fills a cluster with MSET batches,
// "write" writes keys continuously until SIGTERM and then prints when
// writes last failed or stalled (unix ms), to compare with the kill time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/chkv/chkv"
	"golang.org/x/sync/errgroup"
)

func main() {
	nn := flag.String("namenode", "127.0.0.1:7000", "NameNode address")
	keys := flag.Int("keys", 1_000_000, "load: keys to write")
	size := flag.Int("value", 100, "value size in bytes")
	workers := flag.Int("workers", 8, "write: goroutines writing")
	slow := flag.Duration("slow", 200*time.Millisecond, "write: a write slower than this counts as stalled")
	flag.Parse()
	ctx := context.Background()
	c, err := chkv.NewClient(ctx, chkv.ClientConfig{NameNode: *nn})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	switch flag.Arg(0) {
	case "load":
		err = load(ctx, c, *keys, *size)
	case "write":
		err = write(ctx, c, *workers, *size, *slow)
	default:
		err = fmt.Errorf("usage: failtool [flags] load|write")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func value(i, size int) string {
	v := []byte(strconv.Itoa(i) + ":")
	for len(v) < size {
		v = append(v, 'x')
	}
	return string(v[:size])
}

// load writes n keys with MSET batches of 1000, 8 at once.
func load(ctx context.Context, c *chkv.Client, n, size int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	const batch = 1000
	for lo := 0; lo < n; lo += batch {
		g.Go(func() error {
			kv := make(map[string]string, batch)
			for i := lo; i < min(lo+batch, n); i++ {
				kv["key:"+strconv.Itoa(i)] = value(i, size)
			}
			return c.MSet(ctx, kv)
		})
	}
	return g.Wait()
}

// write runs workers that each SET their own keys in a loop (each write
// with a 2 s timeout) until SIGTERM, then prints the writes done, the
// failures and the end of the last failed or slow write.
func write(ctx context.Context, c *chkv.Client, workers, size int, slow time.Duration) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	var mu sync.Mutex
	var writes, fails, slows int64
	var lastBad time.Time
	var maxLat time.Duration
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				k := "w" + strconv.Itoa(w) + ":" + strconv.Itoa(i%100000)
				start := time.Now()
				wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := c.Set(wctx, k, value(i, size))
				cancel()
				end := time.Now()
				mu.Lock()
				writes++
				if lat := end.Sub(start); err != nil || lat > slow {
					if err != nil {
						fails++
					} else {
						slows++
					}
					lastBad = end
					maxLat = max(maxLat, lat)
				}
				mu.Unlock()
			}
		}()
	}
	fmt.Println("writing")
	<-stop
	close(done)
	wg.Wait()
	last := int64(0)
	if !lastBad.IsZero() {
		last = lastBad.UnixMilli()
	}
	fmt.Printf("writes %d fails %d slow %d max_bad_latency_ms %d last_bad_unix_ms %d\n",
		writes, fails, slows, maxLat.Milliseconds(), last)
	return nil
}
