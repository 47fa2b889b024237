//go:build !race

package chkv

// raceEnabled reports whether the tests run under -race (everything is several times slower).
const raceEnabled = false
