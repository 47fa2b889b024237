// Property test of blobTable against a Go map.

package chkv

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestBlobTableRapid runs random sets and deletions (many keys, so the
// table grows, shrinks and deletes inside long probe runs) on a blobTable
// and a map, checking every key, the count and the iteration after each step.
func TestBlobTableRapid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tab := newBlobTable(0)
		model := map[string]string{}
		key := rapid.StringMatching(`[a-e]{0,3}`)
		t.Repeat(map[string]func(*rapid.T){
			"set": func(t *rapid.T) {
				k := key.Draw(t, "key")
				v := strings.Repeat("v", rapid.IntRange(0, 200).Draw(t, "vlen"))
				old, had := model[k]
				isNew, oldLen := tab.set([]byte(k), []byte(v))
				require.Equal(t, !had, isNew)
				require.Equal(t, len(old), oldLen)
				model[k] = v
			},
			"del": func(t *rapid.T) {
				k := key.Draw(t, "key")
				old, had := model[k]
				ok, oldLen := tab.del([]byte(k))
				require.Equal(t, had, ok)
				require.Equal(t, len(old), oldLen)
				delete(model, k)
			},
			"fill": func(t *rapid.T) {
				for _, k := range rapid.SliceOfN(key, 1, 60).Draw(t, "keys") {
					tab.set([]byte(k), []byte(k))
					model[k] = k
				}
			},
			"drain": func(t *rapid.T) {
				for k := range model {
					if rapid.Bool().Draw(t, "drop "+k) {
						ok, _ := tab.del([]byte(k))
						require.True(t, ok)
						delete(model, k)
					}
				}
			},
			"": func(t *rapid.T) {
				require.Equal(t, len(model), tab.len())
				for k, v := range model {
					got, ok := tab.get([]byte(k))
					require.True(t, ok, k)
					require.Equal(t, v, got)
				}
				seen := map[string]string{}
				tab.each(func(k, v string) { seen[k] = v })
				require.Equal(t, model, seen)
				if len(model) > 0 {
					k, v := tab.random(rand.Uint64)
					require.Equal(t, model[k], v)
				}
			},
		})
	})
}
