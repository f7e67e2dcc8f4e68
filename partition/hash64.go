package partition

import (
	"encoding/binary"
	"math/bits"
)

// Constants of the 64-bit mix (the wyhash family's multiply-fold constants).
const (
	mixK0 uint64 = 0xa0761d6478bd642f
	mixK1 uint64 = 0xe7037ed1a0b428db
	mixK2 uint64 = 0x8ebc6af09c88c6e3
)

// mum multiplies a and b to 128 bits and folds the halves together.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash64 is Sluice's routing hash: a wyhash-style multiply-fold hash of p
// with a fixed seed. It reads 16 bytes per step and a short tail as two
// overlapping words that together cover it, with the length mixed in, so
// every distinct input reaches the final mix. It never depends on the
// process, the machine or a library version; the tests pin its values, and
// changing it is a new routing Version.
func hash64(p []byte) uint64 {
	n := len(p)
	h := mixK0 ^ uint64(n)*mixK2
	for len(p) > 16 {
		h = mum(binary.LittleEndian.Uint64(p)^mixK1, binary.LittleEndian.Uint64(p[8:])^h)
		p = p[16:]
	}
	var a, c uint64
	switch m := len(p); {
	case m >= 8:
		a, c = binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[m-8:])
	case m >= 4:
		a, c = uint64(binary.LittleEndian.Uint32(p)), uint64(binary.LittleEndian.Uint32(p[m-4:]))
	case m > 0:
		a = uint64(p[0])<<16 | uint64(p[m>>1])<<8 | uint64(p[m-1])
	}
	return mum(mixK1^uint64(n), mum(a^mixK1, c^h))
}
