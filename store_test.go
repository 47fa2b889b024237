package chkv

import (
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestKeyValueOneAllocation: a string key's name and value live in one
// allocation, also after a set that changes the value's size (the map's
// key moves to the new allocation, so the old one is not kept alive), and
// an append never writes over the key.
func TestKeyValueOneAllocation(t *testing.T) {
	st := NewStore(StoreConfig{})
	defer st.Close()
	key := []byte("user:1")
	slot := SlotBytes(key)
	sd := st.slot(slot)
	shared := func() bool {
		for k, e := range sd.keys {
			if k == string(key) {
				return unsafe.StringData(k) == (*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(e.str)), -len(k)))
			}
		}
		t.Fatal("key missing")
		return false
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	e := st.setString(slot, key, nil, []byte("short"), 0, false)
	require.True(t, shared(), "a new key")
	st.setString(slot, key, e, []byte("a much longer value than before"), 0, false)
	require.True(t, shared(), "after a set that grew the value")
	require.Equal(t, "a much longer value than before", string(st.lookup(slot, key, 0).str))

	before := e.size(string(key))
	e.str = append(e.str, "!"...)
	st.update(slot, string(key), e, before, false)
	require.Equal(t, "a much longer value than before!", string(sd.keys["user:1"].str))
	for k := range sd.keys {
		require.Equal(t, "user:1", k, "the append left the key intact")
	}
}

// TestRandomKeyAfterSlotDrop: a slot dropped as a whole (it moved to
// another node) leaves RANDOMKEY no phantom keys: with 1,000 keys gone
// and one left, every pick finds the one.
func TestRandomKeyAfterSlotDrop(t *testing.T) {
	st := NewStore(StoreConfig{})
	defer st.Close()
	set := func(key string) {
		slot := SlotBytes([]byte(key))
		st.slot(slot).mu.Lock()
		st.setString(slot, []byte(key), nil, []byte("v"), 0, false)
		st.slot(slot).mu.Unlock()
	}
	for i := range 1000 {
		set("{gone}" + strconv.Itoa(i))
	}
	set("kept")
	slot := SlotBytes([]byte("{gone}"))
	st.slot(slot).mu.Lock()
	require.Equal(t, 1000, st.clearSlot(slot, "MOVED"))
	st.slot(slot).mu.Unlock()
	for range 20 {
		k, ok := st.randomKey(0)
		require.True(t, ok, "RANDOMKEY found no key")
		require.Equal(t, "kept", k)
	}
}
