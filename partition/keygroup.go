package partition

import (
	"sync/atomic"

	"github.com/sluicesql/sluice/record"
)

// KeyGroups is the fixed number of key groups. A routing key hashes to a key
// group, and key groups map to partitions, so changing the partition count
// moves whole key groups (as Flink's key groups and RisingWave's vnodes do).
const KeyGroups = 4096

// KeyGroup returns the key group of a routing key: the top 12 bits of its
// routing hash. The hash is typed and folds the values one by one in order,
// each with its type and length, so ("ab","c") and ("a","bc") differ, NULL
// differs from every other value, the STRING "150" differs from the number
// 150, and values that GROUP BY puts in one group (equal AppendKey
// encodings: 150, 150.0 and 150.00; every NaN) share a key group.
func KeyGroup(vals []record.Value) int { return int(groupOf(keyHash(vals))) }

// groupOf returns the key group of a routing hash: its top 12 bits
// (KeyGroups == 1<<12).
func groupOf(h uint64) uint64 { return h >> (64 - 12) }

// Assignment returns the partition of every key group for n partitions:
// a[g] is in [0, n). The assignment is balanced (every partition owns
// floor or ceil of KeyGroups/n groups, for n <= KeyGroups) and moves the
// fewest groups when n changes by one: going from n to n+1 moves exactly the
// groups the new partition owns, as long as n(n+1) <= KeyGroups; beyond that,
// a few more may move to rebalance. It is built step by step from one
// partition, so it depends on n alone.
func Assignment(n int) []int32 {
	if n < 1 {
		n = 1
	}
	a := make([]int32, KeyGroups)
	owned := [][]int32{make([]int32, KeyGroups)} // groups of each partition, in a fixed order
	for g := range owned[0] {
		owned[0][g] = int32(g)
	}
	for m := 2; m <= min(n, KeyGroups); m++ { // beyond KeyGroups, extra partitions own nothing
		owned = append(owned, nil)
		var pool []int32
		for p := range owned {
			if extra := len(owned[p]) - target(p, m); extra > 0 {
				// give away the highest-numbered groups
				pool = append(pool, owned[p][len(owned[p])-extra:]...)
				owned[p] = owned[p][:len(owned[p])-extra]
			}
		}
		for p := range owned {
			if need := target(p, m) - len(owned[p]); need > 0 {
				owned[p] = append(owned[p], pool[:need]...)
				pool = pool[need:]
			}
		}
	}
	for p, gs := range owned {
		for _, g := range gs {
			a[g] = int32(p)
		}
	}
	return a
}

// target is how many key groups partition p owns out of m partitions.
func target(p, m int) int {
	t := KeyGroups / m
	if p < KeyGroups%m {
		t++
	}
	return t
}

// groupTable caches the assignment for one partition count.
type groupTable struct {
	n    int
	part *[KeyGroups]int32
}

// tableCache holds the assignment of the partition count last routed to.
type tableCache struct {
	p atomic.Pointer[groupTable]
}

// get returns the assignment for n partitions, building it on first use.
// Concurrent callers may build it twice; both results are identical.
func (c *tableCache) get(n int) *[KeyGroups]int32 {
	if t := c.p.Load(); t != nil && t.n == n {
		return t.part
	}
	t := &groupTable{n: n, part: (*[KeyGroups]int32)(Assignment(n))}
	c.p.Store(t)
	return t.part
}
