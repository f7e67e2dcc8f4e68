package partition

import "math/bits"

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

// le64 reads 8 little-endian bytes of p from i (the compiler merges the
// byte loads into one).
func le64(p string, i int) uint64 {
	_ = p[i+7]
	return uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24 |
		uint64(p[i+4])<<32 | uint64(p[i+5])<<40 | uint64(p[i+6])<<48 | uint64(p[i+7])<<56
}

// le32 reads 4 little-endian bytes of p from i.
func le32(p string, i int) uint64 {
	_ = p[i+3]
	return uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24
}

// hash64 is Sluice's byte hash: a wyhash-style multiply-fold hash of p
// with a fixed seed. It reads 16 bytes per step and a short tail as two
// overlapping words that together cover it, with the length mixed in, so
// every distinct input reaches the final mix. It never depends on the
// process, the machine or a library version; the tests pin its values, and
// changing it is a new routing Version.
func hash64(p string) uint64 {
	n := len(p)
	h := mixK0 ^ uint64(n)*mixK2
	i := 0
	for n-i > 16 {
		h = mum(le64(p, i)^mixK1, le64(p, i+8)^h)
		i += 16
	}
	a, c := tail(p[i:])
	return mum(mixK1^uint64(n), mum(a^mixK1, c^h))
}

// tail returns two words that, with len(p), determine p when len(p) <= 16:
// the first and last 8 bytes, the first and last 4, or three bytes.
func tail(p string) (a, c uint64) {
	switch m := len(p); {
	case m >= 8:
		return le64(p, 0), le64(p, m-8)
	case m >= 4:
		return le32(p, 0), le32(p, m-4)
	case m > 0:
		return uint64(p[0])<<16 | uint64(p[m>>1])<<8 | uint64(p[m-1]), 0
	}
	return 0, 0
}
