package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// A repartition topic's data record holds its row in a binary encoding
// (rowBinary), made for the topic: stage 2 reads back exactly the values
// stage 1 had, of their kinds, with no text to format or parse.
//
//	value   = rowBinary types:uint32 uvarint-length names column*
//	names   = (uvarint-length name)*
//	column  = tagNull | tagFalse | tagTrue
//	        | tagInt varint | tagFloat bits:uint64 | tagDecimal scale:byte varint
//	        | tagString uvarint-length bytes | tagTimestamp varint(ms)
//
// Fixed-size integers are little-endian; varints are encoding/binary's.
// There is one column per name, in order. The names are the writer's
// input columns, and types a fingerprint of their names and types: a
// reader whose schema has the same names (the same bytes, compared whole)
// reads the columns into its slots in order, converting them
// (record.Conformer) only when the types differ; one with other columns
// (processes of a group that inferred their schemas from different
// samples, or a statement changed while the topic held records) reads
// them by name, as a JSON row, leaving its other columns NULL. A STRING
// (or the JSON text of a ROW or ARRAY) keeps its bytes as they are, valid
// UTF-8 or not; a FLOAT its IEEE bits (NaN, -0).
//
// Sluice before this encoding wrote each row as a JSON object, which
// starts with '{': stage 2 still reads such rows (those a topic holds when
// a group is upgraded), by name.
const rowBinary byte = 0x01

// The column tags of the binary row encoding.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagDecimal
	tagString
	tagTimestamp
)

// rowSchema is what the binary rows of one schema start with: the
// fingerprint of its column names and types, and its names block.
type rowSchema struct {
	types uint32
	names []byte // uvarint-length names
}

func newRowSchema(schema *record.Schema) rowSchema {
	h := fnv.New32a()
	var names []byte
	for i := range schema.Len() {
		f := schema.Field(i)
		names = binary.AppendUvarint(names, uint64(len(f.Name)))
		names = append(names, f.Name...)
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write([]byte(f.Type.String()))
		if f.NotNull {
			h.Write([]byte(" NOT NULL"))
		}
		h.Write([]byte{0})
	}
	return rowSchema{types: h.Sum32(), names: names}
}

// repartEncoder writes rows of one schema in the binary row encoding.
type repartEncoder struct{ head []byte }

func newRepartEncoder(schema *record.Schema) repartEncoder {
	rs := newRowSchema(schema)
	head := binary.LittleEndian.AppendUint32([]byte{rowBinary}, rs.types)
	head = binary.AppendUvarint(head, uint64(len(rs.names)))
	return repartEncoder{head: append(head, rs.names...)}
}

// appendRow appends row's encoding to b.
func (e repartEncoder) appendRow(b []byte, row []record.Value) []byte {
	b = append(b, e.head...)
	for _, v := range row {
		b = appendColumn(b, v)
	}
	return b
}

// appendColumn appends one value's encoding to b.
func appendColumn(b []byte, v record.Value) []byte {
	switch v.Kind() {
	case record.Bool:
		if v.Bool() {
			return append(b, tagTrue)
		}
		return append(b, tagFalse)
	case record.Int:
		return binary.AppendVarint(append(b, tagInt), v.Int())
	case record.Float:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(v.Float()))
	case record.Decimal:
		u, scale := v.Decimal()
		return binary.AppendVarint(append(b, tagDecimal, scale), u)
	case record.String:
		s := v.Str()
		b = binary.AppendUvarint(append(b, tagString), uint64(len(s)))
		return append(b, s...)
	case record.Timestamp:
		return binary.AppendVarint(append(b, tagTimestamp), v.Millis())
	}
	return append(b, tagNull)
}

// repartRowDecoder reads a repartition topic's rows into the slots of the
// statement's input schema: binary rows, and the JSON rows of earlier
// versions. A partition reader owns one (it is not safe for concurrent use).
type repartRowDecoder struct {
	own     rowSchema
	conform *record.Conformer // converts the values of rows written for other types
	strs    codec.Interner    // repeated strings (symbols, keys) without allocating
	schema  *record.Schema
	// others maps the names blocks of writers with other columns to the
	// slot of each of their columns (-1: not in the schema)
	others map[string][]int
	json   *codec.JSONDecoder // made for the first JSON row
	text   textDecoder
}

// maxOtherSchemas bounds repartRowDecoder.others (it is emptied when full).
const maxOtherSchemas = 16

func newRepartRowDecoder(schema *record.Schema, text textDecoder) *repartRowDecoder {
	return &repartRowDecoder{own: newRowSchema(schema), conform: record.NewConformer(schema), schema: schema, text: text}
}

// newRepartDecoder returns the decoder of a repartition topic's records
// (RepartitionSource) filling schema's slots: the repartRowDecoder conforms
// the values of the rows that need it itself.
func newRepartDecoder(cfg *sourceConfig, schema *record.Schema) *decoder {
	text := textDecoder{mode: cfg.invalidUTF8, option: cfg.name + "." + codec.InvalidUTF8Option}
	return &decoder{width: schema.Len(), keySlot: -1, key: text, value: newRepartRowDecoder(schema, text)}
}

// errRowCorrupt is the error of a binary row that does not follow the encoding.
var errRowCorrupt = errors.New("corrupt repartition row")

// Decode implements valueDecoder: dst is cleared and has one slot per
// column of the schema.
func (d *repartRowDecoder) Decode(data []byte, dst []record.Value) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty value", errRowCorrupt)
	}
	switch data[0] {
	case rowBinary:
	case '{':
		return d.decodeJSON(data, dst)
	default:
		return fmt.Errorf("%w: unknown encoding %#x (written by a newer Sluice?)", errRowCorrupt, data[0])
	}
	if len(data) < 5 {
		return fmt.Errorf("%w: %d bytes, shorter than its header", errRowCorrupt, len(data))
	}
	types := binary.LittleEndian.Uint32(data[1:])
	size, n := binary.Uvarint(data[5:])
	if n <= 0 || size > uint64(len(data)-5-n) {
		return fmt.Errorf("%w: bad column names", errRowCorrupt)
	}
	i := 5 + n
	names := data[i : i+int(size)]
	i += int(size)
	if bytes.Equal(names, d.own.names) {
		i, err := d.columns(data, i, dst, nil)
		if err != nil {
			return err
		}
		if i != len(data) {
			return fmt.Errorf("%w: %d bytes after the last column", errRowCorrupt, len(data)-i)
		}
		if types != d.own.types && d.conform != nil {
			return d.conform.Apply(dst)
		}
		return nil
	}
	slots, err := d.slotsOf(names)
	if err != nil {
		return err
	}
	if i, err = d.columns(data, i, dst, slots); err != nil {
		return err
	}
	if i != len(data) {
		return fmt.Errorf("%w: %d bytes after the last column", errRowCorrupt, len(data)-i)
	}
	if d.conform != nil {
		return d.conform.Apply(dst)
	}
	return nil
}

// slotsOf returns the slot of each column a names block names (-1: not in
// the schema).
func (d *repartRowDecoder) slotsOf(names []byte) ([]int, error) {
	if slots, ok := d.others[string(names)]; ok {
		return slots, nil
	}
	var slots []int
	for b := names; len(b) > 0; {
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: bad column names", errRowCorrupt)
		}
		slot, ok := d.schema.Lookup(string(b[n : n+int(size)]))
		if !ok {
			slot = -1
		}
		slots = append(slots, slot)
		b = b[n+int(size):]
	}
	if d.others == nil || len(d.others) >= maxOtherSchemas {
		d.others = map[string][]int{}
	}
	d.others[string(names)] = slots
	return slots, nil
}

// columns reads the columns of a binary row from data[i:] into dst: the
// k-th into slots[k] (none when it is -1), or into dst[k] when slots is
// nil; it returns the offset after the last.
func (d *repartRowDecoder) columns(data []byte, i int, dst []record.Value, slots []int) (int, error) {
	count := len(dst)
	if slots != nil {
		count = len(slots)
	}
	for col := range count {
		if i >= len(data) {
			return i, fmt.Errorf("%w: %d columns, want %d", errRowCorrupt, col, count)
		}
		tag := data[i]
		i++
		var v record.Value
		var n int
		switch tag {
		case tagNull:
		case tagFalse, tagTrue:
			v = record.BoolValue(tag == tagTrue)
		case tagInt, tagTimestamp:
			var x int64
			if x, n = binary.Varint(data[i:]); n <= 0 {
				return i, fmt.Errorf("%w: column %d: bad integer", errRowCorrupt, col)
			}
			if tag == tagInt {
				v = record.IntValue(x)
			} else {
				v = record.TimestampValue(x)
			}
		case tagFloat:
			if n = 8; len(data)-i < n {
				return i, fmt.Errorf("%w: column %d: bad float", errRowCorrupt, col)
			}
			v = record.FloatValue(math.Float64frombits(binary.LittleEndian.Uint64(data[i:])))
		case tagDecimal:
			if i >= len(data) || data[i] > record.MaxPrecision {
				return i, fmt.Errorf("%w: column %d: bad decimal scale", errRowCorrupt, col)
			}
			scale := data[i]
			u, m := binary.Varint(data[i+1:])
			if m <= 0 {
				return i, fmt.Errorf("%w: column %d: bad decimal", errRowCorrupt, col)
			}
			n = 1 + m
			v = record.DecimalValue(u, scale)
		case tagString:
			size, m := binary.Uvarint(data[i:])
			if m <= 0 || size > uint64(len(data)-i-m) {
				return i, fmt.Errorf("%w: column %d: bad string length", errRowCorrupt, col)
			}
			n = m + int(size)
			s, _ := d.strs.String(data[i+m : i+n]) // any bytes, as written
			v = record.StringValue(s)
		default:
			return i, fmt.Errorf("%w: column %d: unknown tag %#x", errRowCorrupt, col, tag)
		}
		i += n
		switch {
		case slots == nil:
			dst[col] = v
		case slots[col] >= 0:
			dst[slots[col]] = v
		}
	}
	return i, nil
}

// decodeJSON reads a row an earlier version wrote: a JSON object of the
// row's columns by name, whose values take the schema's types as a JSON
// source's do.
func (d *repartRowDecoder) decodeJSON(data []byte, dst []record.Value) error {
	if d.json == nil {
		d.json = codec.NewJSONDecoder(d.schema)
		d.json.SetInvalidUTF8(d.text.mode, d.text.option)
	}
	if err := d.json.Decode(data, dst); err != nil {
		return err
	}
	if d.conform != nil {
		return d.conform.Apply(dst)
	}
	return nil
}
