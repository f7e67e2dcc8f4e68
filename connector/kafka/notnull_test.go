package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluicesql/sluice/record"
)

// TestNullableSubjectKeepsWorking: a subject whose versions were registered
// with every field nullable (as Sluice derived them before it wrote the
// columns that are never NULL as non-nullable fields) and whose
// compatibility refuses the NOT NULL schema (as BACKWARD does a union with
// null turned into its type) is written with its nullable schema, the
// version it has, in each format; with auto.register.schemas false the
// nullable version is found. A subject that refuses both still stops the
// sink with the refusal of the NOT NULL schema.
func TestNullableSubjectKeepsWorking(t *testing.T) {
	brokers := startCluster(t, "out")
	cols := record.NewSchemaOf(record.Field{Name: "id", Type: record.BigintType, NotNull: true},
		record.Field{Name: "name", Type: record.StringType})
	old := record.NewSchemaOf(record.Field{Name: "id", Type: record.BigintType}, record.Field{Name: "name", Type: record.StringType})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tt := range []struct {
		format string
		typ    sr.SchemaType
		schema string // the subject's version: old's schema in the format
	}{
		{"avro", sr.TypeAvro, mustAvroText(t, old)},
		{"json_sr", sr.TypeJSON, jsonSchemaOf("out", old)},
		{"protobuf", sr.TypeProtobuf, protoSchemaOf("out", old)},
	} {
		reg := srfake.New()
		defer reg.Close()
		if _, _, err := reg.RegisterSchema("out-value", sr.Schema{Type: tt.typ, Schema: tt.schema}); err != nil {
			t.Fatal(err)
		}
		refuseAllBut := func(keep string) {
			reg.ClearInterceptors()
			reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || r.URL.Path != "/subjects/out-value/versions" {
					return false
				}
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				var s sr.Schema
				if err := json.Unmarshal(body, &s); err == nil && s.Schema == keep {
					return false
				}
				w.WriteHeader(http.StatusConflict)
				w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema"}`))
				return true
			})
		}
		refuseAllBut(tt.schema)
		for _, props := range [][]string{nil, {"auto.register.schemas", "false"}} {
			p := map[string]string{"out.bootstrap.servers": brokers[0], "out.format": tt.format, "out.schema.registry.url": reg.URL()}
			for i := 0; i+1 < len(props); i += 2 {
				p["out."+props[i]] = props[i+1]
			}
			sink, err := NewSink("out", p)
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, ctx, sink, cols, nil, []got{{values: []record.Value{record.IntValue(1), record.StringValue("a")}}})
			if len(sink.subjects) != 1 || sink.subjects[0].ID != 1 {
				t.Errorf("%s %v: wrote with %+v, want the subject's id 1", tt.format, props, sink.subjects)
			}
		}
		if _, ok := reg.GetSchema("out-value", 2); ok {
			t.Errorf("%s: registered a second version", tt.format)
		}
		refuseAllBut("")
		sink, err := NewSink("out", map[string]string{"out.bootstrap.servers": brokers[0], "out.format": tt.format, "out.schema.registry.url": reg.URL()})
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Open(ctx, cols, nil); err == nil || !strings.Contains(err.Error(), "refuses the output's schema") {
			t.Errorf("%s: a subject refusing every schema: %v", tt.format, err)
		}
	}
}

// mustAvroText returns the Avro schema text a sink derives for schema.
func mustAvroText(t *testing.T, schema *record.Schema) string {
	t.Helper()
	s, err := avroSchemaOf("out", schema)
	if err != nil {
		t.Fatal(err)
	}
	return s.String()
}
