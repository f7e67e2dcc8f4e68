package sql

import (
	"errors"
	"strings"
	"testing"
)

// TestParseErrors asserts the message, line and column of the first error
// for each kind of mistake.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"unterminated string", "SELECT 'abc FROM t", 1, 8, "unterminated string: expected closing ' before end of input"},
		{"unterminated quoted identifier", "SELECT \"abc FROM t", 1, 8, "unterminated quoted identifier: expected closing \" before end of input"},
		{"unterminated comment", "SELECT a\nFROM t /* never closed", 2, 8, "unterminated /* comment: expected */ before end of input"},
		{"unexpected character", "SELECT a ? b FROM t", 1, 10, `unexpected character "?"`},
		{"empty quoted identifier", `SELECT "" FROM t`, 1, 8, "empty quoted identifier"},
		{"unknown window kind", "SELECT a FROM t\nWINDOW HOPPING(1m)", 2, 8, "unknown window kind HOPPING: expected TUMBLING, SLIDING or SESSION"},
		{"window kind missing", "SELECT a FROM t WINDOW (1m)", 1, 24, "expected window kind TUMBLING, SLIDING or SESSION after WINDOW, found '('"},
		{"bad duration unit", "SELECT a FROM t WINDOW TUMBLING(5x)", 1, 33, `bad duration 5x in TUMBLING: unknown unit "x": expected ns, us, ms, s, m, h, d or w`},
		{"zero duration", "SELECT a FROM t WINDOW SESSION(0s)", 1, 32, "bad duration in SESSION: must be positive"},
		{"missing duration", "SELECT a FROM t WINDOW TUMBLING(ts)", 1, 33, "expected duration (like 1m, 30s or INTERVAL '1' MINUTE) in TUMBLING, found identifier ts"},
		{"nested time column", "SELECT a FROM t WINDOW TUMBLING(meta.ts, 1m)", 1, 33, "the time column of TUMBLING is a column name, not meta.ts (a nested field or a qualified name): name the column alone, or make a nested time a column first (CREATE STREAM s AS SELECT meta.ts AS ts, ... FROM ...)"},
		{"sliding needs advance", "SELECT a FROM t WINDOW SLIDING(10m)", 1, 35, "expected ',' between the SLIDING size and advance, found ')'"},
		{"bad interval unit", "SELECT a FROM t WINDOW TUMBLING(INTERVAL '1' MONTH)", 1, 33, "bad INTERVAL: unknown INTERVAL unit MONTH: expected NANOSECOND, MICROSECOND, MILLISECOND, SECOND, MINUTE, HOUR, DAY or WEEK"},
		{"bad interval number", "SELECT INTERVAL 'x' SECOND FROM t", 1, 8, `bad INTERVAL: "x" is not a number`},
		{"bad duration in expression", "SELECT 10x FROM t", 1, 8, `bad duration 10x: unknown unit "x": expected ns, us, ms, s, m, h, d or w`},
		{"EXTRACT without timestamp", "SELECT EXTRACT(YEAR FROM) FROM t", 1, 25, "expected expression after FROM, found ')'"},
		{"missing FROM", "SELECT a, b WHERE a > 1", 1, 13, "missing FROM clause: expected ',' or FROM after the select list, found WHERE"},
		{"missing FROM at end", "SELECT a", 1, 9, "missing FROM clause: expected ',' or FROM after the select list, found end of input"},
		{"trailing tokens", "SELECT a FROM t u v", 1, 19, "expected ';' or end of input after the statement, found identifier v"},
		{"unclosed paren", "SELECT (a + b FROM t", 1, 15, "expected ')' to close the '(' at 1:8, found FROM"},
		{"unclosed call", "SELECT SUM(a FROM t", 1, 14, "expected ')' to close the '(' at 1:11, found FROM"},
		{"extra close paren in select list", "SELECT a) FROM t", 1, 9, "unbalanced ')': no matching '('"},
		{"extra close paren at end", "SELECT a FROM t WHERE a = 1)", 1, 28, "unbalanced ')': no matching '('"},
		{"where after group by", "SELECT a FROM t GROUP BY a WHERE a > 1", 1, 28, "WHERE clause is out of order: it must come before GROUP BY (clause order: JOIN, WHERE, GROUP BY, HAVING, WINDOW, QUALIFY, ORDER BY, LIMIT, EMIT, WITH)"},
		{"window after order by", "SELECT a FROM t ORDER BY a WINDOW TUMBLING(1m)", 1, 28, "WINDOW clause is out of order: it must come before ORDER BY (clause order: JOIN, WHERE, GROUP BY, HAVING, WINDOW, QUALIFY, ORDER BY, LIMIT, EMIT, WITH)"},
		{"join after where", "SELECT a FROM t WHERE x JOIN u ON t.a = u.a", 1, 25, "JOIN clause is out of order: it must come before WHERE (clause order: JOIN, WHERE, GROUP BY, HAVING, WINDOW, QUALIFY, ORDER BY, LIMIT, EMIT, WITH)"},
		{"duplicate where", "SELECT a FROM t WHERE x WHERE y", 1, 25, "duplicate WHERE clause"},
		{"empty group by", "SELECT a FROM t GROUP BY )", 1, 26, "expected expression after GROUP BY, found ')'"},
		{"missing where expression", "SELECT a FROM t WHERE", 1, 22, "expected expression after WHERE, found end of input"},
		{"missing operand", "SELECT a + FROM t", 1, 12, "expected expression after +, found FROM"},
		{"bad emit", "SELECT a FROM t EMIT NOW", 1, 22, "expected CHANGES or FINAL after EMIT, found identifier NOW"},
		{"bad statement start", "DELETE FROM t", 1, 1, "expected SELECT, CREATE or INSERT at the start of a statement, found identifier DELETE"},
		{"create without kind", "CREATE VIEW v AS SELECT a FROM t", 1, 8, "expected STREAM or TABLE after CREATE, found identifier VIEW"},
		{"create without AS", "CREATE STREAM s SELECT a FROM t", 1, 17, "expected AS, a column list '(' or WITH after the name, found SELECT"},
		{"join without ON", "SELECT a FROM t JOIN u WHERE x", 1, 24, "expected ON after the joined source, found WHERE"},
		{"with needs strings", "SELECT a FROM t WITH (a = 'b')", 1, 23, "expected property name as a 'string' in WITH, found identifier a"},
		{"limit needs integer", "SELECT a FROM t LIMIT 1.5", 1, 23, "expected row count after LIMIT, found number 1.5"},
		{"case without when", "SELECT CASE a END FROM t", 1, 15, "expected WHEN in CASE, found END"},
		{"case without end", "SELECT CASE WHEN a THEN b FROM t", 1, 27, "expected END to close the CASE at 1:8, found FROM"},
		{"is without null", "SELECT a FROM t WHERE a IS 1", 1, 28, "expected NULL after IS, found number 1"},
		{"star in expression", "SELECT a FROM t WHERE * > 1", 1, 23, "expected expression after WHERE, found '*'"},
		{"unknown column type", "CREATE STREAM t (a STRNG) WITH ('type'='x')", 1, 20, "unknown type STRNG; did you mean STRING? (valid types: BOOLEAN, INTEGER (INT), BIGINT, DECIMAL(p,s), DOUBLE (FLOAT), STRING (VARCHAR), TIMESTAMP, ROW<...> (STRUCT), ARRAY<...>)"},
		{"column declared twice", "CREATE STREAM t (a INT, A BIGINT) WITH ('type'='x')", 1, 25, "column A is declared twice"},
		{"primary key not a column", "CREATE TABLE t (a INT, PRIMARY KEY (b)) WITH ('type'='x')", 1, 37, "PRIMARY KEY column b is not in the column list"},
		{"decimal precision", "CREATE STREAM t (a DECIMAL(20,2)) WITH ('type'='x')", 1, 20, "DECIMAL precision 20 is out of range: 1 to 18"},
		{"decimal scale", "CREATE STREAM t (a DECIMAL(4,6)) WITH ('type'='x')", 1, 20, "DECIMAL scale 6 is larger than its precision 4"},
		{"declaration without WITH", "CREATE STREAM t (a INT)", 1, 24, "expected WITH ('type'=..., ...) after the declaration of t, found end of input"},
		{"unclosed ROW", "CREATE STREAM t (a ROW<b INT) WITH ('type'='x')", 1, 29, "expected '>' to close ROW, found ')'"},
		{"except needs a name", "SELECT * EXCEPT () FROM t", 1, 18, "expected column name in EXCEPT (...), found ')'"},
		{"unclosed subscript", "SELECT a[1 FROM t", 1, 12, "expected ']' to close the '[' at 1:9, found FROM"},
		{"buffer must be positive", "SELECT AVG(p) OVER (ROWS WINDOW BUFFER 0 ROWS) FROM t", 1, 40, "ROWS WINDOW BUFFER size must be positive, found 0"},
		{"frame must end at current row", "SELECT AVG(p) OVER (ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) FROM t", 1, 50, "expected CURRENT in ROWS BETWEEN ... AND (only CURRENT ROW is supported), found number 2"},
		{"reserved word as name", "SELECT a FROM select", 1, 15, "expected source name after FROM, found SELECT"},
		{"second statement error", "SELECT a FROM t;\n\nSELECT b FROM", 3, 14, "expected source name after FROM, found end of input"},
		{"bad num_partitions", "-- @num_partitions: many\nSELECT a FROM t", 1, 21, `annotation @num_partitions must be a positive integer, found "many"`},
		{"zero batch_size", "-- @batch_size: 0\nSELECT a FROM t", 1, 17, `annotation @batch_size must be a positive integer, found "0"`},
		{"empty strategy", "-- @partitioning_strategy:\nSELECT a FROM t", 1, 27, "annotation @partitioning_strategy needs a value"},
		{"empty job mode", "-- @job_mode:   \nSELECT a FROM t", 1, 17, "annotation @job_mode needs a value"},
		{"malformed annotation", "  -- @num_partitions 4\nSELECT a FROM t", 1, 6, `malformed annotation "@num_partitions 4": expected -- @key: value`},
		{"annotation inside statement", "SELECT a\n-- @batch_size: 10\nFROM t", 2, 1, "annotation @batch_size is inside a statement: put -- @key: value lines directly before the statement"},
		{"trailing annotation", "SELECT a FROM t;\n-- @job_mode: x\n", 2, 1, "annotation @job_mode is not followed by a statement"},
		{"unknown annotation", "-- @num_partition: 4\nSELECT a FROM t", 1, 5, "unknown annotation @num_partition (valid: @partitioning_strategy, @num_partitions, @batch_size, @job_mode); did you mean @num_partitions?"},
		{"property given twice", "SELECT a FROM t WITH ('t.type'='generator',\n  'T.type'='file_source')", 2, 3, "property 'T.type' is given twice (first at 1:23): give it once"},
		{"subquery in IN", "SELECT a FROM t WHERE a IN (SELECT b FROM u)", 1, 29, "a subquery in IN is not supported: IN takes a list of values, x IN (1, 2); to keep the rows whose key is in another source, JOIN it"},
		{"annotation before a DDL", "-- @num_partitions: 4\nCREATE STREAM t (a INT) WITH ('type'='generator');\nSELECT a FROM t", 1, 5, "annotation @num_partitions is before CREATE STREAM t, which declares a source and runs nothing: put it directly before the query it is for"},
		{"unknown annotation far from any", "--   @color: red\nSELECT a FROM t", 1, 7, "unknown annotation @color (valid: @partitioning_strategy, @num_partitions, @batch_size, @job_mode)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("q.sql", tt.src)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error %q", tt.src, tt.msg)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not a non-empty ErrorList: %v", err, err)
			}
			e := list[0]
			if e.Msg != tt.msg || e.Pos.Line != tt.line || e.Pos.Col != tt.col {
				t.Errorf("got %d:%d: %s\nwant %d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg, tt.line, tt.col, tt.msg)
			}
			if e.File != "q.sql" {
				t.Errorf("File = %q, want q.sql", e.File)
			}
			if want := strings.Split(tt.src, "\n")[tt.line-1]; e.Line != want {
				t.Errorf("Line = %q, want %q", e.Line, want)
			}
		})
	}
}

// TestErrorFormat checks the rendered form: location, message, source line
// and a caret under the offending token (tabs kept for alignment).
func TestErrorFormat(t *testing.T) {
	_, err := Parse("q.sql", "SELECT a\n\tFROM t GROUP BY )")
	want := "q.sql:2:18: expected expression after GROUP BY, found ')'\n" +
		"\tFROM t GROUP BY )\n" +
		"\t                ^"
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

// TestSeveralErrors checks that each bad statement is reported and that
// parsing resumes after the next ';'.
func TestSeveralErrors(t *testing.T) {
	src := "SELECT FROM t;\nSELECT a FROM t;\nSELECT a FROM t WINDOW X(1)"
	_, err := Parse("q.sql", src)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want ErrorList, got %v", err)
	}
	var got []int
	for _, e := range list {
		got = append(got, e.Pos.Line)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("error lines = %v, want [1 3]\n%v", got, err)
	}
	if !strings.Contains(err.Error(), "q.sql:1:8: expected expression in the select list, found FROM") {
		t.Errorf("rendered list lacks the first error:\n%v", err)
	}
}

// TestParseExprErrors covers ParseExpr's own failure modes.
func TestParseExprErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a +", "<expr>:1:4: expected expression after +, found end of input"},
		{"a b", "<expr>:1:3: expected end of expression, found identifier b"},
		{"'x", "<expr>:1:1: unterminated string: expected closing ' before end of input"},
		{"", "<expr>:1:1: expected expression, found end of input"},
	}
	for _, tt := range tests {
		_, err := ParseExpr(tt.src)
		if err == nil {
			t.Errorf("ParseExpr(%q) succeeded", tt.src)
			continue
		}
		if first := strings.SplitN(err.Error(), "\n", 2)[0]; first != tt.want {
			t.Errorf("ParseExpr(%q) = %q, want %q", tt.src, first, tt.want)
		}
	}
}

// TestDeepNesting checks that hostile nesting is an error at the first token
// past MaxNesting levels, not a stack overflow, and that MaxNesting levels
// still parse.
func TestDeepNesting(t *testing.T) {
	const deep = 400_000 // the depth that overflowed the stack
	const some = 5_000
	tests := []struct {
		name, src string
		col       int
	}{
		{"parentheses", "SELECT " + strings.Repeat("(", deep) + "1" + strings.Repeat(")", deep) + " FROM t", 8 + MaxNesting},
		{"unary minus", "SELECT " + strings.Repeat("- ", some) + "1 FROM t", 8 + 2*MaxNesting},
		{"NOT", "SELECT a FROM t WHERE " + strings.Repeat("NOT ", some) + "b", 23 + 4*MaxNesting},
		{"calls", "SELECT " + strings.Repeat("ABS(", some) + "1" + strings.Repeat(")", some) + " FROM t", 8 + 4*MaxNesting},
		{"unclosed", "SELECT " + strings.Repeat("(", some), 8 + MaxNesting},
		{"subqueries", "SELECT * FROM " + strings.Repeat("(SELECT * FROM ", some) + "t" + strings.Repeat(")", some), 15 + 15*MaxNesting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("q.sql", tt.src)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want ErrorList, got %v", err)
			}
			e := list[0]
			want := "nested too deeply: more than 1000 levels of parentheses, operators or calls"
			if e.Msg != want || e.Pos.Line != 1 || e.Pos.Col != tt.col {
				t.Errorf("got %d:%d: %s\nwant 1:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg, tt.col, want)
			}
			if n := len(err.Error()); n > 500 {
				t.Errorf("message is %d bytes", n)
			}
		})
	}
	ok := strings.Repeat("(", MaxNesting-1) + "1" + strings.Repeat(")", MaxNesting-1)
	if _, err := Parse("q.sql", "SELECT "+ok+" FROM t"); err != nil {
		t.Errorf("%d levels: %v", MaxNesting, err)
	}
	if _, err := ParseExpr(strings.Repeat("(", some) + "1"); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("ParseExpr: %v", err)
	}
}

// TestLongLineErrors checks that an error on a huge one-line input quotes
// a bounded window of it, with the caret still under the offending byte.
func TestLongLineErrors(t *testing.T) {
	big := strings.Repeat("x", 1_000_000)
	tests := []struct{ name, src, msg string }{
		{"unterminated string", "SELECT '" + big, "unterminated string"},
		{"long string found", "SELECT a FROM t WHERE '" + big + "' '" + big + "'", "expected ';' or end of input after the statement, found string 'xxxxxxxx"},
		{"long identifier found", "SELECT a FROM t " + big + " " + big, "found identifier xxxx"},
		{"long annotation", "-- @" + big + "\nSELECT a FROM t", "malformed annotation"},
		{"error at the end of a long line", "SELECT a FROM t WHERE a IN (" + strings.Repeat("1, ", 300_000) + ")", "expected expression after IN (, found ')'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("q.sql", tt.src)
			if err == nil {
				t.Fatal("parsed")
			}
			msg := err.Error()
			if len(msg) > 600 {
				t.Errorf("message is %d bytes: %.300s...", len(msg), msg)
			}
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q lacks %q", msg, tt.msg)
			}
			// The caret sits under the byte the position names.
			var e *Error
			errors.As(err, &e)
			lines := strings.Split(msg, "\n")
			if len(lines) < 3 {
				t.Fatalf("no source line: %q", msg)
			}
			line, caret := lines[1], lines[2]
			col := len(caret) // caret is the last byte
			want := tt.src[e.Pos.Offset]
			if col > len(line) || line[col-1] != want {
				t.Errorf("caret at %d of %q, want under %q", col, line, want)
			}
		})
	}
}
