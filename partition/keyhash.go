package partition

import (
	"math"

	"github.com/sluicesql/sluice/record"
)

// Tags of the routing hash, one per class of record.Value.AppendKey: values
// that AppendKey encodes alike (numerically equal INTEGER, DECIMAL and whole
// FLOAT; every NaN) get the same tag and payload, values it keeps apart
// differ in tag or payload. A tag word also carries a DECIMAL's scale or a
// STRING's length, so it is never zero and never a multiplier of zero.
const (
	tagNull uint64 = iota + 1
	tagBool
	tagNumber
	tagDecimal
	tagFloat
	tagString
	tagTimestamp
)

// keySeed starts every routing hash: fixed, so routing never depends on the
// process or the machine.
const keySeed = mixK0

// keyHash returns the routing hash of a routing key: every value folded in
// order by foldValue, then finished. KeyGroup and the hash strategies use it.
func keyHash(vals []record.Value) uint64 { return finish(foldKey(vals, nil)) }

// foldKey folds the key values vals[slots[0]], vals[slots[1]], ... (all of
// vals in order when slots is nil) into a routing hash, before finish.
func foldKey(vals []record.Value, slots []int) uint64 {
	h := keySeed
	if slots == nil {
		for i := range vals {
			h = foldValue(h, vals[i])
		}
		return h
	}
	for _, s := range slots {
		h = foldValue(h, vals[s])
	}
	return h
}

// keyRows says where the routing key values of a batch are: at slots of
// each record's Values (recs non-nil), or, for keys evaluated into a
// scratch buffer, in consecutive rows of len(slots) values of flat, with
// slots then 0, 1, ..., len(slots)-1.
type keyRows struct {
	recs  []record.Record
	flat  []record.Value
	slots []int
}

// row returns the values of record i's row (its key at slots).
func (k *keyRows) row(i int) []record.Value {
	if k.recs != nil {
		return k.recs[i].Values
	}
	w := len(k.slots)
	return k.flat[i*w : i*w+w]
}

// routeRows sets dst[i] to the partition in table of the key group of row
// i's key, finish(foldKey(rows.row(i), rows.slots)), for the len(dst) rows.
func routeRows(rows keyRows, table *[KeyGroups]int32, dst []int) {
	if !routeShort(rows, table, dst) {
		return
	}
	for i := range dst {
		if dst[i] < 0 {
			dst[i] = int(table[groupOf(finish(foldKey(rows.row(i), rows.slots)))])
		}
	}
}

// routeShort is the fast path of routeRows. For a row whose key values all
// have a short form (INTEGER, TIMESTAMP, NULL, STRING of up to 8 bytes,
// DECIMAL of scale 0 or with no trailing zero: most routing keys) it
// sets dst[i] as routeRows does, computing exactly what foldValue does for
// those values but with no calls, so that the loop runs in registers. It
// sets dst[i] to -1 for the other rows, and reports whether there were any.
func routeShort(rows keyRows, table *[KeyGroups]int32, dst []int) (left bool) {
	slots := rows.slots
records:
	for i := range dst {
		vals := rows.row(i)
		h := keySeed
		for _, slot := range slots {
			v := &vals[slot]
			var tag, x uint64
			switch v.Kind() {
			case record.Int:
				tag, x = tagNumber, uint64(v.Int())
			case record.String:
				s := v.Str()
				m := len(s)
				switch {
				case m >= 4 && m <= 8:
					x = le32(s, 0) | le32(s, m-4)<<32
				case m > 8:
					dst[i], left = -1, true
					continue records
				case m > 0:
					x = uint64(s[0])<<16 | uint64(s[m>>1])<<8 | uint64(s[m-1])
				}
				tag = tagString | uint64(m)<<8
			case record.Timestamp:
				tag, x = tagTimestamp, uint64(v.Millis())
			case record.Null:
				tag = tagNull
			default: // a DECIMAL with no trailing zero to drop, as decimalWords
				n, sc := v.Decimal()
				if v.Kind() != record.Decimal || (sc != 0 && n%10 == 0) {
					dst[i], left = -1, true // FLOAT, BOOLEAN, ...: foldValue decides
					continue records
				}
				tag, x = tagNumber, uint64(n)
				if sc != 0 {
					tag = tagDecimal | uint64(sc)<<8
				}
			}
			h = mum(tag^mixK1, x^h)
		}
		dst[i] = int(table[groupOf(finish(h))])
	}
	return left
}

// foldValue mixes the value v into the running hash h, straight from the
// value, without building its AppendKey bytes. Each value is one tagged
// step: a tag word (its AppendKey class, with a DECIMAL's scale or a
// STRING's length) and a payload, computed so that equal AppendKey
// encodings give equal words and different ones different words (except
// that a STRING longer than 8 bytes is represented by hash64 of its bytes).
// The fold is a chain, each step multiplying by a function of the previous
// result, so the order of values matters; and since every value carries its
// length or fixed width, no value can run into the next: ("ab", "c") and
// ("a", "bc") differ.
func foldValue(h uint64, v record.Value) uint64 {
	var tag, x uint64
	switch v.Kind() {
	case record.Int:
		tag, x = tagNumber, uint64(v.Int())
	case record.String:
		s := v.Str()
		tag = tagString | uint64(len(s))<<8
		switch m := len(s); {
		case m > 8:
			x = hash64(s)
		case m >= 4: // first and last 4 bytes: with the length, exactly s
			x = le32(s, 0) | le32(s, m-4)<<32
		case m > 0:
			x = uint64(s[0])<<16 | uint64(s[m>>1])<<8 | uint64(s[m-1])
		}
	case record.Decimal:
		tag, x = decimalWords(v.Decimal())
	case record.Float:
		tag, x = floatWords(v.Float())
	case record.Timestamp:
		tag, x = tagTimestamp, uint64(v.Millis())
	case record.Bool:
		tag = tagBool
		if v.Bool() {
			x = 1
		}
	default:
		tag = tagNull
	}
	return mum(tag^mixK1, x^h)
}

// finish spreads the bits of the folded hash h so that its top bits, the key
// group, depend on every value.
func finish(h uint64) uint64 { return mum(h^mixK2, mixK0) }

// decimalWords drops trailing zeros, as AppendKey does: a DECIMAL with no
// fraction left is a number like any INTEGER (150.00 is 150).
func decimalWords(n int64, s uint8) (tag, x uint64) {
	for s > 0 && n%10 == 0 {
		n /= 10
		s--
	}
	if s == 0 {
		return tagNumber, uint64(n)
	}
	return tagDecimal | uint64(s)<<8, uint64(n)
}

// floatWords hashes a FLOAT as the INTEGER or DECIMAL it stands for
// (record.FloatDecimal: 1.5e2 as 150, 7.5e0 as 7.5), and every NaN alike,
// as AppendKey does.
func floatWords(f float64) (tag, x uint64) {
	if n, s, ok := record.FloatDecimal(f); ok {
		return decimalWords(n, s)
	}
	if f != f {
		return tagFloat, 0x7ff8000000000001
	}
	return tagFloat, math.Float64bits(f)
}
