package kafka

import (
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/sluicesql/sluice/record"
)

// avroFuzzSchema has, beside the logical types of avroTradeSchema, the
// other types Sluice reads: an array, an enum, a fixed decimal and a
// nullable union of a record.
const avroFuzzSchema = `{"type":"record","name":"Fuzz","fields":[
 {"name":"id","type":"long"},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"side","type":{"type":"enum","name":"Side","symbols":["BUY","SELL"]}},
 {"name":"amount","type":{"type":"fixed","name":"Amount","size":8,"logicalType":"decimal","precision":18,"scale":4}},
 {"name":"addr","type":["null",{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"},{"name":"zip","type":"int"}]}],"default":null},
 {"name":"ratio","type":"float"}
]}`

// FuzzAvroDecode: no message body panics the Avro decoder (a value read
// from Kafka is outside input), whatever its lengths, union branches and
// logical values; a body it refuses is an error, which sends the record to
// the dead-letter queue.
func FuzzAvroDecode(f *testing.F) {
	reg, url := newFakeRegistry(f, "")
	id := reg.add("t-value", avroFuzzSchema)
	schema := avro.MustParse(avroFuzzSchema)
	for i := range 3 {
		rec := map[string]any{
			"id": int64(i), "price": mustRat(f, strconv.Itoa(100+i)+".25"), "ts": time.UnixMilli(1705276800000 + int64(i)).UTC(),
			"note": nil, "tags": []string{"a", "b"}, "side": "SELL",
			"amount": mustRat(f, strconv.Itoa(i)+".5"), "addr": nil, "ratio": float32(i) / 2,
		}
		if i == 1 {
			note := "n"
			rec["note"] = &note
			rec["addr"] = map[string]any{"Addr": map[string]any{"city": "Paris", "zip": int32(75000)}}
		}
		f.Add(wire(f, schema, id, rec)[5:])
	}
	f.Add([]byte{0x02, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	client, err := newRegistry(url, "", nil)
	if err != nil {
		f.Fatal(err)
	}
	cols, err := avroColumns(schema)
	if err != nil {
		f.Fatal(err)
	}
	columns := record.NewSchemaOf(cols...)
	d := avroFormat{}.decoder(client, "fuzz-value", columns, textDecoder{})
	header := binary.BigEndian.AppendUint32([]byte{0}, uint32(id))
	f.Fuzz(func(t *testing.T, body []byte) {
		dst := make([]record.Value, columns.Len())
		d.decodeInto(append(header[:len(header):len(header)], body...), dst)
	})
}
