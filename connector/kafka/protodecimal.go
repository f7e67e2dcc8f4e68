package kafka

import (
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicesql/sluice/record"
)

// Protobuf has no decimal type: Confluent's serializers and Kafka Connect
// write decimals as confluent.type.Decimal (the unscaled value's two's
// complement, big-endian, with its precision and scale), the column's
// precision and scale in the field's (confluent.field_meta) params. The
// registry knows the two files without references, so they are compiled
// with every schema.
const (
	decimalName = "confluent.type.Decimal"

	confluentDecimalProto = `syntax = "proto3";

package confluent.type;

message Decimal {
  // The two's-complement representation of the unscaled integer value in big-endian byte order
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
`
	confluentMetaProto = `syntax = "proto3";

package confluent;

import "google/protobuf/descriptor.proto";

message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}

extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
`
	fieldMetaNumber = 1088
)

// confluentFiles are the Confluent files a registry schema may import
// without a reference.
var confluentFiles = map[string]string{
	"confluent/type/decimal.proto": confluentDecimalProto,
	"confluent/meta.proto":         confluentMetaProto,
}

// decimalType returns the SQL type of a confluent.type.Decimal field:
// DECIMAL(p, s) from its field_meta params "precision" and "scale"; without
// them no type (each value keeps the scale it carries).
func decimalType(fd protoreflect.FieldDescriptor) (record.Type, error) {
	params := fieldMetaParams(fd)
	ps, ok := params["precision"]
	if !ok {
		return record.AnyType, nil
	}
	p, err := strconv.Atoi(ps)
	if err != nil {
		return record.Type{}, fmt.Errorf("decimal precision %q: %w", ps, err)
	}
	s, err := strconv.Atoi(params["scale"])
	if err != nil && params["scale"] != "" {
		return record.Type{}, fmt.Errorf("decimal scale %q: %w", params["scale"], err)
	}
	if p > record.MaxPrecision || s > p || s < 0 {
		return record.Type{}, fmt.Errorf("decimal(%d, %d) exceeds the 18 digits of DECIMAL", p, s)
	}
	return record.DecimalType(p, s), nil
}

// fieldMetaParams returns the params of a field's (confluent.field_meta)
// option, read from the option's bytes (the extension is not compiled
// into this program).
func fieldMetaParams(fd protoreflect.FieldDescriptor) map[string]string {
	opts := fd.Options()
	if opts == nil {
		return nil
	}
	m := opts.ProtoReflect()
	var meta []byte
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Number() == fieldMetaNumber && f.Kind() == protoreflect.MessageKind {
			meta = appendMessage(meta, v.Message())
		}
		return true
	})
	for b := []byte(m.GetUnknown()); len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		if num == fieldMetaNumber && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				break
			}
			meta = append(meta, v...)
			b = b[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			break
		}
		b = b[n:]
	}
	params := map[string]string{}
	// Meta's field 2 is map<string, string> params: entries of key 1, value 2.
	for b := meta; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		if num != 2 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				break
			}
			b = b[n:]
			continue
		}
		entry, n := protowire.ConsumeBytes(b)
		if n < 0 {
			break
		}
		b = b[n:]
		var key, value string
		for len(entry) > 0 {
			num, typ, k := protowire.ConsumeTag(entry)
			if k < 0 || typ != protowire.BytesType {
				break
			}
			s, m := protowire.ConsumeString(entry[k:])
			if m < 0 {
				break
			}
			if num == 1 {
				key = s
			} else if num == 2 {
				value = s
			}
			entry = entry[k+m:]
		}
		params[key] = value
	}
	return params
}

// appendMessage appends the wire encoding of a message's known fields of
// bytes and string kind and its unknown bytes (enough for Meta's params).
func appendMessage(b []byte, m protoreflect.Message) []byte {
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.IsMap() {
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				var entry []byte
				entry = protowire.AppendTag(entry, 1, protowire.BytesType)
				entry = protowire.AppendString(entry, k.String())
				entry = protowire.AppendTag(entry, 2, protowire.BytesType)
				entry = protowire.AppendString(entry, mv.String())
				b = protowire.AppendTag(b, f.Number(), protowire.BytesType)
				b = protowire.AppendBytes(b, entry)
				return true
			})
		}
		return true
	})
	return append(b, m.GetUnknown()...)
}

// decimalValue reads a confluent.type.Decimal.
func decimalValue(b []byte) (record.Value, error) {
	var unscaled []byte
	var scale int64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return record.Value{}, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return record.Value{}, protowire.ParseError(n)
			}
			unscaled, b = v, b[n:]
			continue
		case num == 3 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return record.Value{}, protowire.ParseError(n)
			}
			scale, b = int64(int32(v)), b[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return record.Value{}, protowire.ParseError(n)
		}
		b = b[n:]
	}
	if scale < 0 || scale > record.MaxScale {
		return record.Value{}, fmt.Errorf("decimal scale %d is outside [0, %d]", scale, record.MaxScale)
	}
	u, ok := twosComplement(unscaled)
	if !ok {
		return record.Value{}, errors.New("decimal: unscaled value exceeds 64 bits")
	}
	return record.DecimalValue(u, uint8(scale)), nil
}

// appendDecimal appends the confluent.type.Decimal of v (a DECIMAL or an
// INTEGER) at scale, with precision.
func appendDecimal(b []byte, v record.Value, precision, scale int) ([]byte, error) {
	u, vs := v.Decimal()
	if v.Kind() == record.Int {
		u, vs = v.Int(), 0
	}
	u, ok := rescale(u, int(vs), scale)
	if !ok {
		return b, fmt.Errorf("%s does not fit scale %d", v, scale)
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(minBytes(u)))
	b = appendTwosComplement(b, u)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(precision))
	if scale != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(scale))
	}
	return b, nil
}
