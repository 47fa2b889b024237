// Self-check of the differential suite: with -tags diffselfcheck the "chkv" side is a second redis-server.

//go:build diffselfcheck

package chkv

import "testing"

// startChkv starts a second redis-server in place of chkv, so that new cases
// can be checked redis against redis: every case must pass in this mode, or
// it compares something nondeterministic.
func startChkv(t testing.TB) (network, addr string) {
	t.Helper()
	return startRedis(t)
}
