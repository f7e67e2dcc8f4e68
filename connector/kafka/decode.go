package kafka

import (
	"errors"
	"unicode/utf8"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// StringColumn is the column a '<n>.format'='string' source fills with the
// message value's text.
const StringColumn = "value"

// valueDecoder decodes one message value into the slots of a schema.
type valueDecoder interface {
	Decode(data []byte, dst []record.Value) error
}

// stringDecoder puts the whole value, as text, into one column.
type stringDecoder struct {
	slot int
	text textDecoder
}

// errNoValue is the decode error of a message with no value (a tombstone),
// in every format: its dead letter is a connector.DeadLetter.Tombstone,
// which a table takes as the deletion of its key and a stream skips.
var errNoValue = errors.New("no value (a tombstone)")

// Decode sets the value column (when the schema has it) to data's text; an
// empty value is the empty string.
func (d stringDecoder) Decode(data []byte, dst []record.Value) error {
	clear(dst)
	if d.slot >= 0 && d.slot < len(dst) {
		s, err := d.text.str(data)
		if err != nil {
			return err
		}
		dst[d.slot] = record.StringValue(s)
	}
	return nil
}

// textDecoder reads a message key or a string value as text, by the
// source's invalid.utf8 choice.
type textDecoder struct {
	mode   codec.InvalidUTF8
	option string // '<n>.invalid.utf8', for errors
}

// str returns b as a string, or an error (RejectInvalidUTF8) or U+FFFD for
// each bad byte (ReplaceInvalidUTF8) when b is not valid UTF-8.
func (t textDecoder) str(b []byte) (string, error) {
	if utf8.Valid(b) {
		return string(b), nil
	}
	if t.mode == codec.ReplaceInvalidUTF8 {
		return string(codec.AppendValidUTF8(nil, b)), nil
	}
	return "", codec.InvalidUTF8Error(b, t.option)
}

// decoder turns a fetched Kafka record into a Sluice record. Each partition
// reader owns one (value decoders are not safe for concurrent use).
type decoder struct {
	width   int
	keySlot int // the '<n>.key.field' column, or -1
	key     textDecoder
	value   valueDecoder
	keys    slotDecoder       // '<n>.key.format' when set: the key's fields fill columns; else nil
	conform *record.Conformer // makes values fit the schema's types; nil when untyped
}

// newDecoder returns a decoder for cfg's format filling schema's slots.
func newDecoder(cfg *sourceConfig, schema *record.Schema) *decoder {
	text := textDecoder{mode: cfg.invalidUTF8, option: cfg.name + "." + codec.InvalidUTF8Option}
	d := &decoder{width: schema.Len(), keySlot: -1, key: text, conform: record.NewConformer(schema)}
	if cfg.keyField != "" {
		if slot, ok := schema.Lookup(cfg.keyField); ok {
			d.keySlot = slot
		}
	}
	switch {
	case cfg.keys != nil:
		d.keys = cfg.keys.decoder(cfg.registry, keySubject(cfg.topic), schema, text)
	case cfg.jsonKey:
		j := codec.NewJSONDecoder(schema)
		j.SetInvalidUTF8(cfg.invalidUTF8, text.option)
		d.keys = jsonKeys{j}
	}
	switch {
	case cfg.values != nil:
		sd := cfg.values.decoder(cfg.registry, valueSubject(cfg.topic), schema, text)
		if vd, ok := sd.(valueDecoder); ok {
			d.value = vd
		} else {
			d.value = registryValues{sd}
		}
	case cfg.format == "string":
		slot, ok := schema.Lookup(StringColumn)
		if !ok {
			slot = -1
		}
		d.value = stringDecoder{slot: slot, text: text}
	default:
		j := codec.NewJSONDecoder(schema)
		j.SetInvalidUTF8(cfg.invalidUTF8, text.option)
		d.value = j
	}
	return d
}

// jsonKeys reads the message key of a source with '<n>.key.format'='json'
// as a JSON object: its fields fill the columns of their names, over what
// the value put there; a key that is not a JSON object fails the message.
type jsonKeys struct{ *codec.JSONDecoder }

// decodeInto implements slotDecoder.
func (k jsonKeys) decodeInto(data []byte, dst []record.Value) error {
	return k.DecodeFields(data, dst)
}
