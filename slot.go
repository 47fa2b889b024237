// Slot maps a key to one of the 16384 hash slots, exactly as Redis Cluster does.

package chkv

// NumSlots is the number of hash slots keys are spread over (as in Redis Cluster).
const NumSlots = 16384

// crc16tab is the CRC16 (XMODEM: polynomial 0x1021, init 0) lookup table.
var crc16tab = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// crc16 returns the CRC16/XMODEM checksum of b.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^c]
	}
	return crc
}

// hashTag returns the part of key that is hashed: the content of the first
// {...} when it is non-empty, else the whole key.
func hashTag(key []byte) []byte {
	for i, c := range key {
		if c != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j == i+1 {
					return key
				}
				return key[i+1 : j]
			}
		}
		return key
	}
	return key
}

// Slot returns the hash slot of key: CRC16(key) mod 16384, where a key
// containing a non-empty {hash tag} hashes only the tag, so related keys can
// be kept in one slot.
func Slot(key string) int {
	return SlotBytes([]byte(key))
}

// SlotBytes is Slot for a key held in a byte slice.
func SlotBytes(key []byte) int {
	return int(crc16(hashTag(key)) & (NumSlots - 1))
}
