package kafka

import (
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
type stringDecoder struct{ slot int }

// Decode sets the value column (when the schema has it) to data's text.
func (d stringDecoder) Decode(data []byte, dst []record.Value) error {
	clear(dst)
	if d.slot >= 0 && d.slot < len(dst) {
		dst[d.slot] = record.StringValue(string(data))
	}
	return nil
}

// decoder turns a fetched Kafka record into a Sluice record. Each partition
// reader owns one (value decoders are not safe for concurrent use).
type decoder struct {
	width   int
	keySlot int // the '<n>.key.field' column, or -1
	value   valueDecoder
	conform *record.Conformer // makes values fit the schema's types; nil when untyped
}

// newDecoder returns a decoder for cfg's format filling schema's slots.
func newDecoder(cfg *sourceConfig, schema *record.Schema) *decoder {
	d := &decoder{width: schema.Len(), keySlot: -1, conform: record.NewConformer(schema)}
	if cfg.keyField != "" {
		if slot, ok := schema.Lookup(cfg.keyField); ok {
			d.keySlot = slot
		}
	}
	switch cfg.format {
	case "string":
		slot, ok := schema.Lookup(StringColumn)
		if !ok {
			slot = -1
		}
		d.value = stringDecoder{slot: slot}
	default:
		d.value = codec.NewJSONDecoder(schema)
	}
	return d
}
