// The differential suite's server under test: a chkv DataNode (see diff_selfcheck_test.go for redis against redis).

//go:build !diffselfcheck

package chkv

import "testing"

// startChkv starts the chkv DataNode the differential cases run against.
func startChkv(t testing.TB) (network, addr string) {
	t.Helper()
	return "tcp", RunT(t).Addr()
}
