// TCPTransport: the Transport over real TCP sockets, with optional (mutual) TLS.

package chkv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// TCPTransport listens and dials real TCP sockets. Its zero value is plain
// TCP with Go's defaults (TCP_NODELAY on, 15s keep-alive).
//
// Set TLS to serve TLS and ClientTLS to dial with TLS; LoadTLSConfig builds
// either side from PEM files. A TCPTransport is safe for concurrent use and
// must not be changed once in use.
type TCPTransport struct {
	// TLS is the server-side configuration used by Listen; nil serves plain TCP.
	TLS *tls.Config
	// ClientTLS is the client-side configuration used by Dial; nil dials plain TCP.
	// When its ServerName is empty, the host part of the dialed address is used.
	ClientTLS *tls.Config
	// DialTimeout caps a Dial (connect and TLS handshake) on top of ctx's
	// deadline; zero means only ctx bounds it.
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive period of listened and dialed
	// connections; zero means Go's default (15s), negative disables keep-alives.
	KeepAlive time.Duration
}

var _ Transport = (*TCPTransport)(nil)

// Listen announces on the TCP address addr, such as "127.0.0.1:0" (a free
// port; read it back from the listener's Addr). With TLS set, accepted
// connections are *tls.Conn and handshake on their first Read or Write.
func (t *TCPTransport) Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: t.KeepAlive}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	if t.TLS != nil {
		l = tls.NewListener(l, t.TLS)
	}
	return l, nil
}

// Dial connects to the TCP address addr. With ClientTLS set, the TLS
// handshake completes before Dial returns, within ctx and DialTimeout.
func (t *TCPTransport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: t.DialTimeout, KeepAlive: t.KeepAlive}
	if t.ClientTLS == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	td := &tls.Dialer{NetDialer: d, Config: t.ClientTLS}
	return td.DialContext(ctx, "tcp", addr)
}

// LoadTLSConfig builds one side of a TLS configuration from PEM files.
//
// certFile and keyFile hold this side's certificate chain and key; a server
// needs them, a client may leave both empty when it has no certificate.
// caFile, when given, holds the CA certificates of the other side, and turns
// on mutual TLS: a server then requires every client to present a
// certificate signed by one of them, and a client verifies the server's
// certificate against them instead of the system roots. The minimum version
// is TLS 1.2.
func LoadTLSConfig(certFile, keyFile, caFile string, server bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case certFile != "" || keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("chkv: tls: load key pair: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case server:
		return nil, errors.New("chkv: tls: a server needs a certificate and key file")
	}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("chkv: tls: read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("chkv: tls: no PEM certificate in CA file %s", caFile)
	}
	if server {
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	} else {
		cfg.RootCAs = pool
	}
	return cfg, nil
}
