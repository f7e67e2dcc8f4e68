package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// TestRegistrySchemaNotNull runs statements into Kafka sinks in each Schema
// Registry format and reads the schemas they registered: a column that can
// never be NULL (a NOT NULL input column, COUNT(*), a GROUP BY key of a NOT
// NULL column, an operator over such values, the window's bounds, in the
// value and in the windowed key) is a non-nullable field; every other
// column (a nullable input column, SUM over one, a function call) stays
// nullable.
func TestRegistrySchemaNotNull(t *testing.T) {
	b := kafkaCluster(t)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	in := filepath.Join(t.TempDir(), "in.jsonl")
	data := `{"id":1,"symbol":"A","price":1.5,"qty":2,"ts":"2024-01-01T00:00:10Z"}
{"id":2,"symbol":"B","price":null,"qty":3,"ts":"2024-01-01T00:00:20Z"}
`
	if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("'t.type'='file_source', 't.path'='%s', 't.columns'='id BIGINT NOT NULL, symbol STRING NOT NULL, price DECIMAL(10,2), qty INT NOT NULL, ts TIMESTAMP NOT NULL'", in)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	statements := []struct {
		query    string
		nullable []string // the value's nullable fields
		keyed    bool     // the sink has a key format: the GROUP BY columns and the window
		nullKey  []string // the key's nullable fields
		// messages are the value's and the key's fields that Protobuf
		// writes as messages (DECIMAL, TIMESTAMP, a column of unknown
		// type), which have presence whether or not they may be NULL:
		// proto3 has no required fields.
		messages, keyMessages []string
	}{
		{"SELECT id, symbol, price, qty * 2 AS q2, UPPER(symbol) AS u FROM t", []string{"price", "u"}, false, nil, []string{"price"}, nil},
		{"SELECT symbol, COUNT(*) AS n, SUM(price) AS total, SUM(qty) AS sq, _WINDOW_START AS ws FROM t GROUP BY symbol WINDOW TUMBLING(ts, 1m)",
			[]string{"total"}, true, nil, []string{"total", "ws"}, []string{"window_end", "window_start"}},
	}
	for _, format := range []string{"avro", "json_sr", "protobuf"} {
		for i, st := range statements {
			topic := fmt.Sprintf("o_%s_%d", format, i)
			keyFormat := ""
			if st.keyed {
				keyFormat = fmt.Sprintf(", '%s.key.format'='%s'", topic, format)
			}
			runStatement(t, ctx, fmt.Sprintf("CREATE STREAM %[1]s AS %[2]s WITH (%[3]s, '%[1]s.type'='kafka_sink', '%[1]s.bootstrap.servers'='%[4]s', '%[1]s.format'='%[5]s', '%[1]s.schema.registry.url'='%[6]s'%[7]s)",
				topic, st.query, src, b, format, reg.URL(), keyFormat), io.Discard)
			check := func(subject string, want, messages []string) {
				if format == "protobuf" {
					want = append(slices.Clone(want), messages...)
					slices.Sort(want)
					want = slices.Compact(want)
				}
				ss, ok := reg.GetSchema(subject, 1)
				if !ok {
					t.Fatalf("no schema registered under %s", subject)
				}
				got := nullableFields(t, format, ss.Schema.Schema)
				if !slices.Equal(got, want) {
					t.Errorf("%s: %s: nullable fields %q, want %q\n%s", format, st.query, got, want, ss.Schema.Schema)
				}
			}
			check(topic+"-value", st.nullable, st.messages)
			if st.keyed {
				check(topic+"-key", st.nullKey, st.keyMessages)
			}
		}
	}
}

// protoPresence matches a proto3 field that has presence: declared
// optional, or of a message type (a dotted name).
var protoPresence = regexp.MustCompile(`(?m)^\s*(?:optional \S+|\S+\.\S+) (\S+) = `)

// nullableFields returns the names of the top-level fields a registered
// schema lets be null, sorted: an Avro union with null, a JSON Schema
// property that is not required (whose type, unless it is of any type, is
// a oneOf with null), a Protobuf field with presence.
func nullableFields(t *testing.T, format, text string) []string {
	t.Helper()
	var names []string
	switch format {
	case "avro":
		var rec struct {
			Fields []struct {
				Name string
				Type any
			}
		}
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			t.Fatal(err)
		}
		for _, f := range rec.Fields {
			if u, ok := f.Type.([]any); ok && slices.Contains(u, any("null")) {
				names = append(names, f.Name)
			}
		}
	case "json_sr":
		var obj struct {
			Properties map[string]json.RawMessage
			Required   []string
		}
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			t.Fatal(err)
		}
		for name, p := range obj.Properties {
			if slices.Contains(obj.Required, name) {
				if strings.Contains(string(p), `"null"`) || string(p) == "{}" {
					t.Errorf("json_sr property %s is required, yet its schema %s allows null", name, p)
				}
				continue
			}
			names = append(names, name)
		}
	case "protobuf":
		for _, m := range protoPresence.FindAllStringSubmatch(text, -1) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return names
}
