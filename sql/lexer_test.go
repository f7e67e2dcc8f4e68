package sql

import (
	"fmt"
	"strings"
	"testing"
)

// TestLex checks token kinds, texts and positions.
func TestLex(t *testing.T) {
	tests := []struct {
		src  string
		want string // kind:text@line:col, space separated
	}{
		{"select Foo", "word:select@1:1 word:Foo@1:8"},
		{"12 12.50 .5 1e3 1.5E-3 1e", "number:12@1:1 number:12.50@1:4 number:.5@1:10 number:1e3@1:13 number:1.5E-3@1:17 duration:1e@1:24"},
		{"10m 500ms 2h", "duration:10m@1:1 duration:500ms@1:5 duration:2h@1:11"},
		{"'it''s' ''", "string:it's@1:1 string:@1:9"},
		{"\"a \"\" b\" `x``y`", "quoted:a \" b@1:1 quoted:x`y@1:10"},
		{"|| <> != <= >= < > = + - * / % ( ) , . ;", "op:||@1:1 op:<>@1:4 op:!=@1:7 op:<=@1:10 op:>=@1:13 op:<@1:16 op:>@1:18 op:=@1:20 op:+@1:22 op:-@1:24 op:*@1:26 op:/@1:28 op:%@1:30 op:(@1:32 op:)@1:34 op:,@1:36 op:.@1:38 op:;@1:40"},
		{"a -- comment\n/* multi\nline */ b", "word:a@1:1 word:b@3:9"},
		{"'multi\nline' c", "string:multi\nline@1:1 word:c@2:7"},
		{"a-b", "word:a@1:1 op:-@1:2 word:b@1:3"},
	}
	kinds := map[tokKind]string{tWord: "word", tQuoted: "quoted", tString: "string", tNumber: "number", tDuration: "duration", tOp: "op"}
	for _, tt := range tests {
		toks, _, err := lex("f", tt.src)
		if err != nil {
			t.Errorf("lex(%q): %v", tt.src, err)
			continue
		}
		var got []string
		for _, tok := range toks {
			if tok.kind == tEOF {
				break
			}
			got = append(got, fmt.Sprintf("%s:%s@%d:%d", kinds[tok.kind], tok.text, tok.pos.Line, tok.pos.Col))
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("lex(%q)\ngot  %s\nwant %s", tt.src, g, tt.want)
		}
	}
}

// TestAnnotations checks that annotation lines go to the statement that
// follows them, each statement getting its own, with keys lower-cased and
// values trimmed.
func TestAnnotations(t *testing.T) {
	src := `-- @partitioning_strategy:  round_robin
-- @NUM_PARTITIONS: 4
-- an ordinary comment
--@job_mode: Batch  
SELECT a FROM t;

SELECT b FROM u;
/* block */
-- @partitioning_strategy: fan_in
-- @batch_size: 100
CREATE STREAM s AS SELECT c FROM v`
	stmts, err := Parse("a.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]Annotation{
		{{Key: "partitioning_strategy", Value: "round_robin"}, {Key: "num_partitions", Value: "4"}, {Key: "job_mode", Value: "Batch"}},
		nil,
		{{Key: "partitioning_strategy", Value: "fan_in"}, {Key: "batch_size", Value: "100"}},
	}
	if len(stmts) != len(want) {
		t.Fatalf("got %d statements, want %d", len(stmts), len(want))
	}
	for i, s := range stmts {
		if !equalAST(s.Annotations, want[i]) {
			t.Errorf("statement %d annotations = %s, want %s", i+1, dump(s.Annotations), dump(want[i]))
		}
	}
	if v, ok := stmts[0].Annotation(AnnotationPartitions); !ok || v != "4" {
		t.Errorf("Annotation(num_partitions) = %q, %v", v, ok)
	}
	if p := stmts[0].Annotations[1].Pos; p.Line != 2 || p.Col != 1 {
		t.Errorf("annotation position = %d:%d, want 2:1", p.Line, p.Col)
	}
}
