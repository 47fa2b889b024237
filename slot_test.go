package chkv

import "testing"

func TestSlotVectors(t *testing.T) {
	// Vectors from the Redis Cluster specification and redis-cli CLUSTER KEYSLOT.
	cases := []struct {
		key  string
		want int
	}{
		{"123456789", 0x31C3 & (NumSlots - 1)},
		{"foo", 12182},
		{"bar", 5061},
		{"hello", 866},
		{"{user1000}.following", Slot("user1000")},
		{"{user1000}.followers", Slot("user1000")},
		{"foo{}{bar}", Slot("foo{}{bar}")},
		{"foo{{bar}}zap", Slot("{bar")},
		{"foo{bar}{zap}", Slot("bar")},
		{"", 0},
	}
	for _, c := range cases {
		if got := Slot(c.key); got != c.want {
			t.Errorf("Slot(%q) = %d, want %d", c.key, got, c.want)
		}
	}
	if got := crc16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", got)
	}
}
