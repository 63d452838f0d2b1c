package keyslot

import "strings"

// Slots is the number of hash slots of a Redis Cluster.
const Slots = 16384

// Of is the hash slot (0 to 16383) of key: of its hash tag, the part between
// the first "{" and the next "}" when that part is not empty, else of the
// whole key (Redis Cluster specification, "Hash tags").
func Of(key string) int {
	return int(crc16([]byte(Tag(key))) % Slots)
}

// Tag is the part of key that is hashed: its hash tag, or the whole key.
func Tag(key string) string {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			return key[s+1 : s+1+e]
		}
	}
	return key
}

// HasTag reports whether key carries a hash tag.
func HasTag(key string) bool { return Tag(key) != key }

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial 0), the one Redis uses.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
