package kafka

import "testing"

// Vectors from Kafka's UtilsTest.testMurmur2 (the Java reference) and from
// client libraries checked against it (akka's Murmur2Spec).
func TestMurmur2Vectors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
		{"1", -1993445489},
		{"12", 126087238},
		{"123", -267702483},
		{"1234", -1614185708},
		{"12345", -1188365604},
	} {
		if got := int32(Murmur2([]byte(c.in))); got != c.want {
			t.Errorf("Murmur2(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestPartition checks Partition against Java's formula
// Utils.toPositive(murmur2(key)) % n over the published hashes.
func TestPartition(t *testing.T) {
	for _, c := range []struct {
		key  string
		hash int32 // Kafka's murmur2 of key
		n    int
		want int32
	}{
		{"21", -973932308, 8, 4},
		{"foobar", -790332482, 7, 0},
		{"abc", 479470107, 8, 3},
		{"abc", 479470107, 1, 0},
		{"12345", -1188365604, 12, 8},
	} {
		if java := (c.hash & 0x7fffffff) % int32(c.n); java != c.want {
			t.Fatalf("bad table row %q: Java formula gives %d", c.key, java)
		}
		if got := Partition([]byte(c.key), c.n); got != c.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
	}
	if got := Partition([]byte("x"), 0); got != -1 {
		t.Errorf("Partition with no partitions = %d, want -1", got)
	}
}
