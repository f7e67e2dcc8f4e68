package join

import (
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestKeyMap checks that keys equal as GROUP BY sees them (150, 150.0 and
// 150.00) find one entry whichever map holds it, and that others do not.
func TestKeyMap(t *testing.T) {
	m := newKeyMap[int]()
	enc := func(vs ...record.Value) []byte {
		var b []byte
		for _, v := range vs {
			b = v.AppendKey(b)
		}
		return b
	}
	m.put(enc(record.IntValue(150)), 1)
	m.put(enc(record.StringValue("150")), 2)
	m.put(enc(record.IntValue(-7), record.StringValue("a long enough string key")), 3)
	m.put(enc(record.DecimalValue(15, 1)), 4) // 1.5: not a whole number
	for _, tc := range []struct {
		key  []byte
		want int
	}{
		{enc(record.IntValue(150)), 1},
		{enc(record.DecimalValue(15000, 2)), 1},
		{enc(record.FloatValue(150)), 1},
		{enc(record.StringValue("150")), 2},
		{enc(record.IntValue(-7), record.StringValue("a long enough string key")), 3},
		{enc(record.DecimalValue(150, 2)), 4},
		{enc(record.IntValue(151)), 0},
		{enc(record.NullValue()), 0},
	} {
		if got, _ := m.get(tc.key); got != tc.want {
			t.Errorf("key %x: %d, want %d", tc.key, got, tc.want)
		}
	}
	if m.len() != 4 {
		t.Errorf("len %d, want 4", m.len())
	}
	if !m.del(enc(record.FloatValue(150))) || m.del(enc(record.IntValue(150))) || m.len() != 3 {
		t.Errorf("delete by an equal key: len %d", m.len())
	}
}
