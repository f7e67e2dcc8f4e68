package kafka

// Murmur2 returns Kafka's murmur2 hash of key (Java's
// org.apache.kafka.common.utils.Utils.murmur2, seed 0x9747b28c), as the
// unsigned bits of Java's int result.
func Murmur2(key []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(key))
	for len(key) >= 4 {
		k := uint32(key[0]) | uint32(key[1])<<8 | uint32(key[2])<<16 | uint32(key[3])<<24
		key = key[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(key) {
	case 3:
		h ^= uint32(key[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(key[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(key[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Partition returns the partition Kafka's default partitioner chooses for a
// non-nil key among n partitions: (murmur2(key) & 0x7fffffff) % n. It
// returns -1 when n <= 0.
func Partition(key []byte, n int) int32 {
	if n <= 0 {
		return -1
	}
	return int32(int64(Murmur2(key)&0x7fffffff) % int64(n))
}
