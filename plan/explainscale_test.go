package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestExplainJSONStages: --json says what EXPLAIN's text says of a
// repartitioned statement: the topic and what each stage does; a statement
// run in one process per group says why, and has no stages.
func TestExplainJSONStages(t *testing.T) {
	const group = ` WITH ('t.type'='kafka_source', 't.group.id'='g'`
	for _, tt := range []struct {
		sql          string
		stage1, why  string
		unsplittable string
	}{
		{"CREATE STREAM out AS SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 'repartition.partitions'='12')",
			"writes each record to topic g-out-repartition (12 partitions, created if missing)", "source t is not partitioned by a subset of a", ""},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 'repartition'='false')", "", "source t is not partitioned by a subset of a", "'repartition'='false'"},
	} {
		var buf bytes.Buffer
		if err := ExplainJSON(&buf, []*Plan{build(t, tt.sql, Options{})}); err != nil {
			t.Fatal(err)
		}
		var out struct {
			Statements []struct {
				ScaleOut struct {
					Split        bool            `json:"split"`
					Why          string          `json:"why"`
					Unsplittable string          `json:"unsplittable"`
					Repartition  json.RawMessage `json:"repartition"`
					Stage1       string          `json:"stage1"`
					Stage2       string          `json:"stage2"`
				} `json:"scale_out"`
			} `json:"statements"`
		}
		if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		s := out.Statements[0].ScaleOut
		if s.Split || !strings.Contains(s.Why, tt.why) || s.Unsplittable != tt.unsplittable {
			t.Errorf("%s: scale_out %+v, want split false, why with %q, unsplittable %q", tt.sql, s, tt.why, tt.unsplittable)
		}
		if tt.stage1 == "" {
			if s.Repartition != nil || s.Stage1 != "" || s.Stage2 != "" {
				t.Errorf("%s: scale_out %+v, want no repartition and no stages", tt.sql, s)
			}
			continue
		}
		if !strings.Contains(s.Stage1, tt.stage1) || !strings.Contains(s.Stage2, "reads g-out-repartition in group g") || !strings.Contains(string(s.Repartition), `"topic": "g-out-repartition"`) {
			t.Errorf("%s: scale_out %+v, want stage 1 with %q and stage 2 reading the topic", tt.sql, s, tt.stage1)
		}
	}
}
