package codec

import (
	"fmt"
	"strings"
	"testing"
)

func TestInternerString(t *testing.T) {
	long := strings.Repeat("x", internMaxLen)
	tests := []string{
		"", "a", "a\x00", "a\x00\x00", "Hamburg", "Hamburg!", "St. John's",
		"Ho Chi Minh City", "Ho Chi Minh Cityy", // 16 and 17 bytes
		"abcdefgh-1-ijklmnop", "abcdefgh-2-ijklmnop", // same head, tail and length
		long, long + "y", // the longest cached and one past it
	}
	in := newInterner()
	for round := 0; round < 2; round++ {
		for _, s := range tests {
			if got := in.str([]byte(s)); got != s {
				t.Fatalf("round %d: str(%q) = %q", round, s, got)
			}
			// strAt reads the head word past a short field when buf has room.
			buf := []byte(s + ";12.3\nmore")
			if got := in.strAt(buf, 0, len(s)); got != s {
				t.Fatalf("round %d: strAt(%q) = %q", round, s, got)
			}
		}
	}
	// A cached string costs no allocation.
	b := []byte("abcdefgh-2-ijklmnop")
	if n := testing.AllocsPerRun(100, func() { in.str(b) }); n != 0 {
		t.Errorf("str of a cached string: %v allocations", n)
	}
}

// TestInternerEvicts passes far more distinct strings than the cache holds
// and checks that every answer is still right.
func TestInternerEvicts(t *testing.T) {
	in := newInterner()
	for round := 0; round < 2; round++ {
		for i := 0; i < 4*internSets*2; i++ {
			s := fmt.Sprintf("station-%d", i)
			if got := in.str([]byte(s)); got != s {
				t.Fatalf("str(%q) = %q", s, got)
			}
		}
	}
}

func TestExportedInterner(t *testing.T) {
	var in Interner
	for range 2 {
		if s, ok := in.String([]byte("SYM7")); s != "SYM7" || !ok {
			t.Errorf("String(SYM7) = %q, %v", s, ok)
		}
	}
	if s, ok := in.String([]byte{'a', 0xff}); s != "a\xff" || ok {
		t.Errorf("String of invalid UTF-8 = %q, %v", s, ok)
	}
	if allocs := testing.AllocsPerRun(100, func() { in.String([]byte("SYM7")) }); allocs != 0 {
		t.Errorf("a repeated string allocates %v times", allocs)
	}
}
