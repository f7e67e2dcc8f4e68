package kafka

import (
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
//	value   = rowBinary names:uint32 types:uint32 column*
//	column  = tagNull | tagFalse | tagTrue
//	        | tagInt varint | tagFloat bits:uint64 | tagDecimal scale:byte varint
//	        | tagString uvarint-length bytes | tagTimestamp varint(ms)
//
// Fixed-size integers are little-endian; varints are encoding/binary's.
// There is one column per column of the statement's input schema, in its
// order; names is a fingerprint of the schema's column names and types one
// of their names and types, so a row written for other columns (the
// statement changed while the topic held records) is refused with a clear
// error rather than read into the wrong columns, and one written for the
// same columns of other types is converted (record.Conformer) as a JSON row
// would be. A STRING (or the JSON text of a ROW or ARRAY) keeps its bytes
// as they are, valid UTF-8 or not; a FLOAT its IEEE bits (NaN, -0).
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

// rowHeader is the size of a binary row's header (version and fingerprints).
const rowHeader = 9

// fingerprints returns the fingerprints of schema's column names and of
// their names and types.
func fingerprints(schema *record.Schema) (names, types uint32) {
	n, t := fnv.New32a(), fnv.New32a()
	for i := range schema.Len() {
		f := schema.Field(i)
		n.Write([]byte(f.Name))
		n.Write([]byte{0})
		t.Write([]byte(f.Name))
		t.Write([]byte{0})
		t.Write([]byte(f.Type.String()))
		if f.NotNull {
			t.Write([]byte(" NOT NULL"))
		}
		t.Write([]byte{0})
	}
	return n.Sum32(), t.Sum32()
}

// repartEncoder writes rows of one schema in the binary row encoding.
type repartEncoder struct{ names, types uint32 }

func newRepartEncoder(schema *record.Schema) repartEncoder {
	n, t := fingerprints(schema)
	return repartEncoder{names: n, types: t}
}

// appendRow appends row's encoding to b.
func (e repartEncoder) appendRow(b []byte, row []record.Value) []byte {
	b = append(b, rowBinary)
	b = binary.LittleEndian.AppendUint32(b, e.names)
	b = binary.LittleEndian.AppendUint32(b, e.types)
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
	names, types uint32
	conform      *record.Conformer // converts the values of rows written for other types
	strs         codec.Interner    // repeated strings (symbols, keys) without allocating
	schema       *record.Schema
	json         *codec.JSONDecoder // made for the first JSON row
	text         textDecoder
}

func newRepartRowDecoder(schema *record.Schema, text textDecoder) *repartRowDecoder {
	n, t := fingerprints(schema)
	return &repartRowDecoder{names: n, types: t, conform: record.NewConformer(schema), schema: schema, text: text}
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
	if len(data) < rowHeader {
		return fmt.Errorf("%w: %d bytes, shorter than its header", errRowCorrupt, len(data))
	}
	names, types := binary.LittleEndian.Uint32(data[1:]), binary.LittleEndian.Uint32(data[5:])
	if names != d.names {
		return errors.New("repartition row written for other columns than the statement's input has " +
			"(the statement changed while its repartition topic held records): it cannot be read")
	}
	i := rowHeader
	for slot := range dst {
		if i >= len(data) {
			return fmt.Errorf("%w: %d columns, want %d", errRowCorrupt, slot, len(dst))
		}
		tag := data[i]
		i++
		var n int
		switch tag {
		case tagNull:
		case tagFalse, tagTrue:
			dst[slot] = record.BoolValue(tag == tagTrue)
		case tagInt, tagTimestamp:
			var x int64
			if x, n = binary.Varint(data[i:]); n <= 0 {
				return fmt.Errorf("%w: column %d: bad integer", errRowCorrupt, slot)
			}
			if tag == tagInt {
				dst[slot] = record.IntValue(x)
			} else {
				dst[slot] = record.TimestampValue(x)
			}
		case tagFloat:
			if n = 8; len(data)-i < n {
				return fmt.Errorf("%w: column %d: bad float", errRowCorrupt, slot)
			}
			dst[slot] = record.FloatValue(math.Float64frombits(binary.LittleEndian.Uint64(data[i:])))
		case tagDecimal:
			if i >= len(data) || data[i] > record.MaxPrecision {
				return fmt.Errorf("%w: column %d: bad decimal scale", errRowCorrupt, slot)
			}
			scale := data[i]
			u, m := binary.Varint(data[i+1:])
			if m <= 0 {
				return fmt.Errorf("%w: column %d: bad decimal", errRowCorrupt, slot)
			}
			n = 1 + m
			dst[slot] = record.DecimalValue(u, scale)
		case tagString:
			size, m := binary.Uvarint(data[i:])
			if m <= 0 || size > uint64(len(data)-i-m) {
				return fmt.Errorf("%w: column %d: bad string length", errRowCorrupt, slot)
			}
			n = m + int(size)
			s, _ := d.strs.String(data[i+m : i+n]) // any bytes, as written
			dst[slot] = record.StringValue(s)
		default:
			return fmt.Errorf("%w: column %d: unknown tag %#x", errRowCorrupt, slot, tag)
		}
		i += n
	}
	if i != len(data) {
		return fmt.Errorf("%w: %d bytes after the last column", errRowCorrupt, len(data)-i)
	}
	if types != d.types && d.conform != nil {
		return d.conform.Apply(dst)
	}
	return nil
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
