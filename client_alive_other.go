//go:build !unix

package chkv

import "syscall"

// sockGone cannot peek at a socket on this system: the conn is taken as
// open, and a request on a conn the server closed fails as it would anyway.
func sockGone(c syscall.Conn) bool { return false }
