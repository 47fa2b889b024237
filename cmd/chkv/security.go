// The security flags every role takes: the cluster secret file and the TLS certificate, key and CA.

package main

import (
	"crypto/tls"
	"errors"
	"flag"

	"github.com/chkv/chkv"
)

// securityFlags are --cluster-secret-file, --tls-cert, --tls-key and --tls-ca.
type securityFlags struct {
	secretFile, cert, key, ca *string
}

// addSecurityFlags adds the security flags to fs; secret adds
// --cluster-secret-file (every role but the standalone server).
func addSecurityFlags(fs *flag.FlagSet, secret bool) *securityFlags {
	s := &securityFlags{}
	if secret {
		s.secretFile = fs.String("cluster-secret-file", "", "file holding the cluster secret the nodes require of each other's internal commands")
	}
	s.cert = fs.String("tls-cert", "", "TLS certificate (PEM): serve TLS, and present it to the peers dialled")
	s.key = fs.String("tls-key", "", "TLS private key (PEM) of --tls-cert")
	s.ca = fs.String("tls-ca", "", "CA certificates (PEM) that peers' and clients' certificates must be signed by (mutual TLS)")
	return s
}

// secret reads the cluster secret file, "" when none was given.
func (s *securityFlags) secret() (string, error) {
	if s.secretFile == nil || *s.secretFile == "" {
		return "", nil
	}
	return chkv.ReadSecretFile(*s.secretFile)
}

// tlsConfigs returns the server and client TLS configurations, both nil
// without --tls-cert/--tls-ca. A server needs --tls-cert and --tls-key.
func (s *securityFlags) tlsConfigs(server bool) (srv, cli *tls.Config, err error) {
	if *s.cert == "" && *s.key == "" && *s.ca == "" {
		return nil, nil, nil
	}
	if (*s.cert == "") != (*s.key == "") {
		return nil, nil, errors.New("--tls-cert and --tls-key go together")
	}
	if server {
		if srv, err = chkv.LoadTLSConfig(*s.cert, *s.key, *s.ca, true); err != nil {
			return nil, nil, err
		}
	}
	cli, err = chkv.LoadTLSConfig(*s.cert, *s.key, *s.ca, false)
	return srv, cli, err
}

// transport returns the TCP transport the flags ask for: TLS both ways
// with certificates, plain otherwise.
func (s *securityFlags) transport(server bool) (*chkv.TCPTransport, error) {
	srv, cli, err := s.tlsConfigs(server)
	if err != nil {
		return nil, err
	}
	return &chkv.TCPTransport{TLS: srv, ClientTLS: cli}, nil
}
