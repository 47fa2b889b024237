// HTTP endpoints of the chkv server processes: Prometheus metrics (--metrics-addr) and the NameNode's status page (--http).

package main

import (
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// webFlags are the HTTP flags of a server command.
type webFlags struct {
	metrics string // --metrics-addr
	status  string // --http
	secret  string // --http-secret
	fs      *flag.FlagSet
}

// addWebFlags adds --metrics-addr to fs and, when status is true, the
// status page's --http, --http-secret and (unless fs has it) --allow-remote.
func addWebFlags(fs *flag.FlagSet, status bool) *webFlags {
	w := &webFlags{fs: fs}
	fs.StringVar(&w.metrics, "metrics-addr", "", "serve Prometheus metrics on http://HOST:PORT/metrics (default off)")
	if status {
		fs.StringVar(&w.status, "http", "", "serve the status page on http://HOST:PORT/ (default off; loopback only unless --http-secret or --allow-remote)")
		fs.StringVar(&w.secret, "http-secret", "", "password the status page asks for (HTTP basic authentication, any user name)")
		if fs.Lookup("allow-remote") == nil {
			fs.Bool("allow-remote", false, "serve the status page on a non-loopback address without --http-secret")
		}
	}
	return w
}

// start serves metrics on --metrics-addr and status on --http when they
// are set, and says where on stdout. stop closes both.
func (w *webFlags) start(stdout io.Writer, metrics, status http.Handler) (stop func(), err error) {
	var servers []*http.Server
	stop = func() {
		for _, s := range servers {
			s.Close()
		}
	}
	serve := func(addr string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, s)
		go s.Serve(ln)
		return ln.Addr().String(), nil
	}
	if w.metrics != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics)
		addr, err := serve(w.metrics, mux)
		if err != nil {
			return stop, fmt.Errorf("--metrics-addr: %w", err)
		}
		fmt.Fprintf(stdout, "metrics: http://%s/metrics\n", addr)
	}
	if w.status != "" && status != nil {
		remote := w.fs.Lookup("allow-remote").Value.String() == "true"
		if w.secret == "" && !remote && !loopback(w.status) {
			stop()
			return nil, errors.New("--http: refusing to serve the status page on a non-loopback address without --http-secret or --allow-remote")
		}
		if w.secret != "" {
			status = requireSecret(status, w.secret)
		}
		addr, err := serve(w.status, status)
		if err != nil {
			stop()
			return nil, fmt.Errorf("--http: %w", err)
		}
		fmt.Fprintf(stdout, "status page: http://%s/\n", addr)
	}
	return stop, nil
}

// loopback reports whether addr's host is "localhost" or a loopback IP.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// requireSecret lets through only requests whose basic-authentication
// password is secret; the browser asks for it once.
func requireSecret(h http.Handler, secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(pass), []byte(secret)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="chkv", charset="UTF-8"`)
			http.Error(w, "chkv: the status page needs its password", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
