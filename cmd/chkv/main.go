// Command chkv runs chkv servers: a standalone DataNode today, cluster roles as they land.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/chkv/chkv"
)

const usage = `chkv: a distributed in-memory key-value store that speaks RESP.

Usage:
  chkv server [--addr HOST:PORT] [--requirepass P] [--maxclients N] [--max-bulk BYTES]
      run one standalone DataNode (owns every slot, needs no NameNode)
  chkv version
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chkv:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "chkv", chkv.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runServer(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := chkv.DefaultDataNodeConfig()
	cfg.Addr = "127.0.0.1:6379"
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on")
	fs.StringVar(&cfg.RequirePass, "requirepass", "", "password clients must AUTH with")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "listen on a non-loopback address without a password")
	fs.IntVar(&cfg.MaxClients, "maxclients", cfg.MaxClients, "most clients connected at once")
	fs.IntVar(&cfg.Limits.MaxBulk, "max-bulk", cfg.Limits.MaxBulk, "largest value or argument in bytes")
	fs.DurationVar(&cfg.IdleTimeout, "timeout", 0, "close connections idle this long (0: never)")
	gcPercent := fs.Int("gc-percent", 50, "Go GC target percentage: lower uses less memory, more CPU")
	if err := fs.Parse(args); err != nil {
		return err
	}
	debug.SetGCPercent(*gcPercent)
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := chkv.StartDataNode(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "chkv %s DataNode ready on %s (standalone, all slots): redis-cli -p %s\n", chkv.Version, d.Addr(), port(d.Addr()))
	<-ctx.Done()
	fmt.Fprintln(stdout, "chkv: shutting down")
	return d.Close()
}

func port(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}
