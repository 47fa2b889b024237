// Differential test of CONFIG GET, SET and RESETSTAT against redis-server 7.0.

package chkv

import "testing"

// TestDiffConfig sends the same CONFIG commands to redis-server and chkv and
// requires the same replies (arrays of CONFIG GET as multisets: Redis's
// order is its hash table's).
func TestDiffConfig(t *testing.T) {
	redisNet, redisAddr := startRedis(t)
	chkvNet, chkvAddr := startChkv(t)
	rc := &caseSide{t: t, name: "redis", network: redisNet, addr: redisAddr}
	cc := &caseSide{t: t, name: "chkv", network: chkvNet, addr: chkvAddr}
	steps := []string{
		// The same starting point where defaults differ by design
		// (Redis's maxclients follows the file limit; chkv's bulk limit is 64 MiB).
		"CONFIG SET maxclients 10000 proto-max-bulk-len 64mb",
		"CONFIG GET maxclients", "CONFIG GET timeout", "CONFIG GET requirepass", "CONFIG GET proto-max-bulk-len",
		"CONFIG GET MAXCLIENTS", "CONFIG GET maxclients maxclients", "CONFIG GET nosuchparameter",
		"CONFIG GET maxclient?", "CONFIG GET hash-max-*", "CONFIG GET *listpack*", "CONFIG GET *intset*",
		"CONFIG GET hash-max-ziplist-entries", "CONFIG GET list-compress-depth", "CONFIG GET list-max-listpack-size",
		"CONFIG SET maxclients 500", "CONFIG GET maxclients",
		"CONFIG SET maxclients 0", "CONFIG SET maxclients -1", "CONFIG SET maxclients abc",
		"CONFIG SET maxclients 4294967296", `CONFIG SET maxclients ""`, "CONFIG SET maxclients 1.5",
		"CONFIG SET timeout 0", "CONFIG SET timeout 300", "CONFIG GET timeout", "CONFIG SET timeout -1",
		"CONFIG SET timeout 2147483648", "CONFIG SET timeout 9223372036854775808", "CONFIG SET timeout 0",
		"CONFIG SET proto-max-bulk-len 1mb", "CONFIG GET proto-max-bulk-len", "CONFIG SET proto-max-bulk-len 1048575",
		"CONFIG SET proto-max-bulk-len abc", `CONFIG SET proto-max-bulk-len ""`, "CONFIG SET proto-max-bulk-len -1",
		"CONFIG SET proto-max-bulk-len 99999999999999999999", "CONFIG SET proto-max-bulk-len 2GB",
		"CONFIG GET proto-max-bulk-len", "CONFIG SET proto-max-bulk-len 10k", "CONFIG SET proto-max-bulk-len 1g",
		"CONFIG SET proto-max-bulk-len 64mb",
		"CONFIG SET hash-max-listpack-entries 1000", "CONFIG GET hash-max-listpack-entries",
		"CONFIG GET hash-max-ziplist-entries", "CONFIG SET hash-max-ziplist-entries 7", "CONFIG GET hash-max-listpack-entries",
		"CONFIG SET hash-max-listpack-entries -1", "CONFIG SET hash-max-listpack-entries 1kb",
		"CONFIG SET hash-max-listpack-value 1kb", "CONFIG GET hash-max-listpack-value",
		"CONFIG SET zset-max-listpack-value 0", "CONFIG SET set-max-intset-entries 9223372036854775807",
		"CONFIG SET list-max-listpack-size -5", "CONFIG SET list-max-listpack-size 2147483648",
		"CONFIG SET list-compress-depth -1", "CONFIG GET *ziplist*", "CONFIG GET *LISTPACK-E*",
		"CONFIG SET nosuch 1", "CONFIG SET maxclients", "CONFIG SET maxclients 10 timeout",
		"CONFIG SET maxclients 100 maxclients 200", "CONFIG SET nosuch 1 maxclients x",
		"CONFIG SET maxclients 100 timeout abc", "CONFIG GET maxclients timeout",
		"CONFIG SET databases 2", "CONFIG SET maxclients 10000 databases 2", "CONFIG GET maxclients",
		"CONFIG SET requirepass secret", "CONFIG GET requirepass", `CONFIG SET requirepass ""`, "CONFIG GET requirepass",
		"CONFIG RESETSTAT", "CONFIG RESETSTAT x", "CONFIG REWRITE", "CONFIG GET", "CONFIG NOSUCH",
	}
	for _, side := range []*caseSide{rc, cc} {
		defer func() {
			side.conns = nil
			side.conn(0).do("CONFIG", "SET", "maxclients", "10000")
		}()
	}
	for _, line := range steps {
		s := step{args: splitCommand(line), mode: cmpSorted}
		want, got := s.run(t, rc), s.run(t, cc)
		if !s.same(want, got) {
			t.Errorf("%s\n\tredis: %s\n\tchkv:  %s", line, clip(want), clip(got))
		}
	}
}
