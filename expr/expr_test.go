package expr

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// testSchema and testRecord are the input of the semantics tables.
var testSchema = []string{"a", "b", "c", "s", "n", "t", "tr", "fl", "z", "big", "ws", "u"}

func testRecord() *record.Record {
	return &record.Record{
		Values: []record.Value{
			record.IntValue(10),
			record.DecimalValue(250, 2),
			record.FloatValue(1.5),
			record.StringValue("Hello"),
			record.NullValue(),
			record.TimestampValue(1705314645123), // 2024-01-15T10:30:45.123Z
			record.BoolValue(true),
			record.BoolValue(false),
			record.IntValue(0),
			record.IntValue(math.MaxInt64),
			record.StringValue("  pad  "),
			record.StringValue("héllo wörld"),
		},
		Timestamp: 1000, EventTime: 2000, HasEventTime: true, Partition: 3, Offset: 42,
	}
}

// show renders a result as "KIND text", or "!error".
func show(v record.Value, err error) string {
	if err != nil {
		return "!" + err.Error()
	}
	if v.IsNull() {
		return "NULL"
	}
	return v.Kind().String() + " " + v.String()
}

type evalCase struct {
	name string
	e    sql.Expr
	want string // "KIND text", "NULL", or "!" + a substring of the evaluation error
}

func runEval(t *testing.T, tests []evalCase) {
	t.Helper()
	for _, tt := range tests {
		f, err := Compile(tt.e, &Scope{Schema: record.NewSchema(testSchema...)})
		if err != nil {
			t.Errorf("%s: compile: %v", tt.name, err)
			continue
		}
		got := show(f(testRecord()))
		if strings.HasPrefix(tt.want, "!") {
			if !strings.HasPrefix(got, "!") || !strings.Contains(got, tt.want[1:]) {
				t.Errorf("%s = %s, want error containing %q", tt.name, got, tt.want[1:])
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestLiteralsAndColumns(t *testing.T) {
	runEval(t, []evalCase{
		{"int", num("42"), "INTEGER 42"},
		{"decimal exact", dec("0.10"), "DECIMAL 0.10"},
		{"float", flt("1.5e2"), "FLOAT 150"},
		{"string", str("x"), "STRING x"},
		{"bool", boolean(false), "BOOLEAN false"},
		{"null", nullLit, "NULL"},
		{"interval", interval("1", "MINUTE"), "INTEGER 60000"},
		{"interval in text", interval("5 seconds", ""), "INTEGER 5000"},
		{"interval fraction", interval("1.5", "SECONDS"), "INTEGER 1500"},
		{"timestamp", lit(sql.TimestampLit, "2024-01-15 10:30:00"), "TIMESTAMP 2024-01-15T10:30:00.000Z"},
		{"column", col("b"), "DECIMAL 2.50"},
		{"qualified column", &sql.Ident{Qualifier: "t", Name: "A"}, "INTEGER 10"},
		{"_TIMESTAMP", col("_timestamp"), "TIMESTAMP 1970-01-01T00:00:01.000Z"},
		{"_EVENT_TIME", col("_EVENT_TIME"), "TIMESTAMP 1970-01-01T00:00:02.000Z"},
		{"_PARTITION", col("_partition"), "INTEGER 3"},
		{"_OFFSET", col("_OFFSET"), "INTEGER 42"},
	})
}

// TestSourcePositionThroughRepartition: a record read through a
// repartition topic gives its source's partition and offset, not the
// topic's.
func TestSourcePositionThroughRepartition(t *testing.T) {
	scope := &Scope{Schema: record.NewSchema(testSchema...)}
	rec := testRecord()
	rec.HasOrigin, rec.OriginPartition, rec.OriginOffset = true, 6, 1207
	for name, want := range map[string]string{"_PARTITION": "INTEGER 6", "_OFFSET": "INTEGER 1207"} {
		f, err := Compile(col(name), scope)
		if err != nil {
			t.Fatal(err)
		}
		if got := show(f(rec)); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	runEval(t, []evalCase{
		{"int+int", bin(sql.Add, col("a"), num("5")), "INTEGER 15"},
		{"int/int truncates", bin(sql.Div, num("-7"), num("2")), "INTEGER -3"},
		{"int%int", bin(sql.Mod, col("a"), num("3")), "INTEGER 1"},
		{"int*decimal", bin(sql.Mul, col("a"), col("b")), "DECIMAL 25.00"},
		{"decimal+decimal exact", bin(sql.Add, dec("0.1"), dec("0.2")), "DECIMAL 0.3"},
		{"decimal/int scale", bin(sql.Div, col("b"), num("3")), "DECIMAL 0.833333"},
		{"decimal*float", bin(sql.Mul, col("b"), col("c")), "FLOAT 3.75"},
		{"neg", neg(col("b")), "DECIMAL -2.50"},
		{"null propagates", bin(sql.Add, col("a"), col("n")), "NULL"},
		{"null times zero", bin(sql.Mul, col("n"), num("0")), "NULL"},
		{"division by zero", bin(sql.Div, col("a"), col("z")), "!division by zero"},
		{"decimal division by zero", bin(sql.Div, col("b"), dec("0.0")), "!division by zero"},
		{"overflow", bin(sql.Add, col("big"), num("1")), "!integer out of range"},
		{"neg overflow", neg(bin(sql.Sub, neg(col("big")), num("1"))), "!integer out of range"},
		{"decimal overflow", bin(sql.Mul, dec("9999999999.99"), dec("9999999999.99")), "!decimal out of range"},
		{"timestamp + interval", bin(sql.Add, col("t"), interval("1", "HOUR")), "TIMESTAMP 2024-01-15T11:30:45.123Z"},
		{"timestamp - timestamp", bin(sql.Sub, col("t"), col("_timestamp")), "INTEGER 1705314644123"},
		{"string + int", bin(sql.Add, col("s"), num("1")), "!operator + does not apply to STRING and INTEGER"},
		{"concat", bin(sql.Concat, col("s"), str(" world")), "STRING Hello world"},
		{"concat number", bin(sql.Concat, str("n="), col("b")), "STRING n=2.50"},
		{"concat null", bin(sql.Concat, col("s"), col("n")), "NULL"},
	})
}

func TestComparisonsAndLogic(t *testing.T) {
	T, F, N := "BOOLEAN true", "BOOLEAN false", "NULL"
	runEval(t, []evalCase{
		{"int = decimal", bin(sql.Eq, num("150"), dec("150.00")), T},
		{"int < decimal", bin(sql.Lt, col("a"), dec("10.01")), T},
		{"decimal > float", bin(sql.Gt, col("b"), col("c")), T},
		{"<=", bin(sql.LtEq, col("a"), num("10")), T},
		{">=", bin(sql.GtEq, col("a"), num("11")), F},
		{"<>", bin(sql.NotEq, col("s"), str("Hello")), F},
		{"string order", bin(sql.Lt, str("apple"), str("banana")), T},
		{"timestamp vs string", bin(sql.Gt, col("t"), str("2024-01-15")), T},
		{"= null", bin(sql.Eq, col("n"), col("n")), N},
		{"incompatible", bin(sql.Eq, col("s"), num("1")), "!cannot compare STRING with INTEGER"},
		{"true and null", bin(sql.And, col("tr"), col("n")), N},
		{"false and null", bin(sql.And, col("fl"), col("n")), F},
		{"null and false", bin(sql.And, col("n"), col("fl")), F},
		{"null and true", bin(sql.And, col("n"), col("tr")), N},
		{"true or null", bin(sql.Or, col("tr"), col("n")), T},
		{"null or true", bin(sql.Or, col("n"), col("tr")), T},
		{"false or null", bin(sql.Or, col("fl"), col("n")), N},
		{"false or false", bin(sql.Or, col("fl"), col("fl")), F},
		{"true and true", bin(sql.And, col("tr"), col("tr")), T},
		{"not null", not(col("n")), N},
		{"not false", not(col("fl")), T},
		{"and short-circuits", bin(sql.And, col("fl"), bin(sql.Eq, bin(sql.Div, col("a"), col("z")), num("1"))), F},
		{"or short-circuits", bin(sql.Or, col("tr"), bin(sql.Eq, bin(sql.Div, col("a"), col("z")), num("1"))), T},
		{"and non-boolean", bin(sql.And, col("tr"), col("a")), "!argument of AND must be BOOLEAN, not INTEGER"},
		{"not non-boolean", not(col("s")), "!argument of NOT must be BOOLEAN"},
		{"is null", isNull(col("n"), false), T},
		{"is not null", isNull(col("n"), true), F},
		{"is null on value", isNull(col("a"), false), F},
		{"in", in(col("a"), false, num("1"), dec("10.0")), T},
		{"in miss", in(col("a"), false, num("1"), num("2")), F},
		{"in miss with null", in(col("a"), false, num("1"), nullLit), N},
		{"in hit with null", in(col("a"), false, nullLit, num("10")), T},
		{"null in", in(col("n"), false, num("1")), N},
		{"not in", in(col("a"), true, num("1"), num("2")), T},
		{"not in hit", in(col("s"), true, str("Hello")), F},
		{"not in with null", in(col("a"), true, num("1"), nullLit), N},
		{"between", between(col("a"), num("1"), num("10"), false), T},
		{"between decimal", between(col("b"), dec("2.5"), dec("2.51"), false), T},
		{"not between", between(col("a"), num("1"), num("10"), true), F},
		{"between null bound false", between(col("a"), num("11"), col("n"), false), F},
		{"between null bound unknown", between(col("a"), num("1"), col("n"), false), N},
		{"not between null", between(col("n"), num("1"), num("2"), true), N},
	})
}

func TestLike(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"Hello", "Hello", true},
		{"Hello", "H%", true},
		{"Hello", "%llo", true},
		{"Hello", "%l%", true},
		{"Hello", "H_llo", true},
		{"Hello", "H_lo", false},
		{"Hello", "h%", false},
		{"Hello", "%", true},
		{"", "%", true},
		{"", "_", false},
		{"abc", "a%c%", true},
		{"abcbc", "%bc", true},
		{"aaa", "a%a%a%a", false},
		{"100%", `100\%`, true},
		{"1000", `100\%`, false},
		{"a_b", `a\_b`, true},
		{"axb", `a\_b`, false},
		{"héllo", "h_llo", true},
		{"héllo", "h%o", true},
		{"back\\", `back\`, true},
	}
	var cases []evalCase
	for _, tt := range tests {
		want := "BOOLEAN false"
		if tt.want {
			want = "BOOLEAN true"
		}
		cases = append(cases, evalCase{tt.s + " LIKE " + tt.p, like(str(tt.s), str(tt.p), false), want})
	}
	cases = append(cases,
		evalCase{"not like", like(col("s"), str("H%"), true), "BOOLEAN false"},
		evalCase{"like null", like(col("n"), str("%"), false), "NULL"},
		evalCase{"like column", like(col("s"), bin(sql.Concat, str("He"), str("%")), false), "BOOLEAN true"},
	)
	runEval(t, cases)
}

func TestCase(t *testing.T) {
	runEval(t, []evalCase{
		{"searched", caseOf(nil, str("other"), when(bin(sql.Gt, col("a"), num("100")), str("big")), when(bin(sql.Gt, col("a"), num("5")), str("mid"))), "STRING mid"},
		{"searched else", caseOf(nil, str("other"), when(col("fl"), str("x"))), "STRING other"},
		{"searched no else", caseOf(nil, nil, when(col("fl"), str("x"))), "NULL"},
		{"searched null cond", caseOf(nil, str("e"), when(col("n"), str("x"))), "STRING e"},
		{"simple", caseOf(col("a"), nil, when(num("1"), str("one")), when(dec("10.0"), str("ten"))), "STRING ten"},
		{"simple null operand", caseOf(col("n"), str("e"), when(nullLit, str("null"))), "STRING e"},
		{"untaken error branch", caseOf(nil, nil, when(col("tr"), num("1")), when(col("tr"), bin(sql.Div, num("1"), num("0")))), "INTEGER 1"},
		{"non-boolean condition", caseOf(nil, nil, when(col("a"), num("1"))), "!CASE WHEN must be BOOLEAN"},
	})
}

func TestCast(t *testing.T) {
	runEval(t, []evalCase{
		{"string to int", cast(str("42"), "INTEGER"), "INTEGER 42"},
		{"bad string to int", cast(col("s"), "BIGINT"), `!cannot cast STRING "Hello" to INTEGER`},
		{"decimal to int rounds", cast(dec("2.5"), "INT"), "INTEGER 3"},
		{"float to int half even", cast(flt("2.5e0"), "INT"), "INTEGER 2"},
		{"int to float", cast(col("a"), "DOUBLE"), "FLOAT 10"},
		{"to decimal(p,s)", cast(col("c"), "DECIMAL(10,2)"), "DECIMAL 1.50"},
		{"to decimal(p,s) rounds", cast(dec("1.005"), "NUMERIC(5, 2)"), "DECIMAL 1.01"},
		{"to decimal too many digits", cast(num("12345"), "DECIMAL(5,2)"), "!too many digits"},
		{"to decimal plain", cast(str("12.50"), "DECIMAL"), "DECIMAL 12.50"},
		{"to varchar", cast(col("b"), "VARCHAR"), "STRING 2.50"},
		{"to varchar(n)", cast(col("u"), "VARCHAR(2)"), "STRING hé"},
		{"to text", cast(col("t"), "TEXT"), "STRING 2024-01-15T10:30:45.123Z"},
		{"to boolean", cast(str("yes"), "BOOLEAN"), "BOOLEAN true"},
		{"to timestamp", cast(str("2024-01-15T10:30:00Z"), "TIMESTAMP"), "TIMESTAMP 2024-01-15T10:30:00.000Z"},
		{"epoch millis to timestamp", cast(num("0"), "TIMESTAMP"), "TIMESTAMP 1970-01-01T00:00:00.000Z"},
		{"timestamp to bigint", cast(col("t"), "BIGINT"), "INTEGER 1705314645123"},
		{"null cast", cast(col("n"), "INTEGER"), "NULL"},
	})
}

func TestFunctions(t *testing.T) {
	runEval(t, []evalCase{
		{"coalesce", call("COALESCE", col("n"), nullLit, col("a"), bin(sql.Div, num("1"), num("0"))), "INTEGER 10"},
		{"coalesce all null", call("COALESCE", col("n"), nullLit), "NULL"},
		{"nullif equal", call("NULLIF", col("a"), dec("10.0")), "NULL"},
		{"nullif different", call("NULLIF", col("a"), num("3")), "INTEGER 10"},
		{"nullif null", call("NULLIF", col("a"), col("n")), "INTEGER 10"},
		{"abs int", call("ABS", num("-3")), "INTEGER 3"},
		{"abs decimal", call("ABS", dec("-3.50")), "DECIMAL 3.50"},
		{"abs float", call("ABS", neg(col("c"))), "FLOAT 1.5"},
		{"abs overflow", call("ABS", bin(sql.Sub, neg(col("big")), num("1"))), "!integer out of range"},
		{"abs string", call("ABS", col("s")), "!ABS expects a number, got STRING"},
		{"abs null", call("ABS", col("n")), "NULL"},
		{"round decimal", call("ROUND", dec("2.5")), "DECIMAL 3"},
		{"round decimal negative", call("ROUND", dec("-2.5")), "DECIMAL -3"},
		{"round decimal places", call("ROUND", dec("1.2345"), num("2")), "DECIMAL 1.23"},
		{"round decimal up scale", call("ROUND", dec("1.5"), num("3")), "DECIMAL 1.500"},
		{"round decimal tens", call("ROUND", dec("1250.5"), neg(num("2"))), "DECIMAL 1300"},
		{"round int", call("ROUND", col("a")), "INTEGER 10"},
		{"round int tens", call("ROUND", num("15"), neg(num("1"))), "INTEGER 20"},
		{"round int overflow", call("ROUND", col("big"), neg(num("1"))), "!out of range"},
		{"round float half even", call("ROUND", flt("2.5e0")), "FLOAT 2"},
		{"round float places", call("ROUND", flt("1.2345e0"), num("2")), "FLOAT 1.23"},
		{"round null places", call("ROUND", col("a"), col("n")), "NULL"},
		{"floor decimal", call("FLOOR", dec("-2.5")), "DECIMAL -3"},
		{"floor int", call("FLOOR", col("a")), "INTEGER 10"},
		{"floor float", call("FLOOR", col("c")), "FLOAT 1"},
		{"ceil decimal", call("CEIL", dec("2.01")), "DECIMAL 3"},
		{"ceiling negative", call("CEILING", dec("-2.9")), "DECIMAL -2"},
		{"ceil float", call("CEIL", col("c")), "FLOAT 2"},
		{"upper", call("UPPER", col("u")), "STRING HÉLLO WÖRLD"},
		{"lower", call("LOWER", col("s")), "STRING hello"},
		{"length chars", call("LENGTH", col("u")), "INTEGER 11"},
		{"length null", call("LENGTH", col("n")), "NULL"},
		{"substring", call("SUBSTRING", col("s"), num("2"), num("3")), "STRING ell"},
		{"substring to end", call("SUBSTRING", col("u"), num("7")), "STRING wörld"},
		{"substring before start", call("SUBSTRING", col("s"), num("0"), num("3")), "STRING He"},
		{"substring past end", call("SUBSTRING", col("s"), num("9")), "STRING "},
		{"substring utf8", call("SUBSTRING", col("u"), num("2"), num("1")), "STRING é"},
		{"substring ends before the string", call("SUBSTRING", str("abc"), neg(num("2")), num("1")), "STRING "},
		{"substring ends far before the string", call("SUBSTRING", str("abc"), neg(num("5")), num("2")), "STRING "},
		{"substring ends at the first character", call("SUBSTRING", str("abc"), neg(num("1")), num("3")), "STRING a"},
		{"substring huge length", call("SUBSTRING", str("abc"), num("2"), num("9223372036854775807")), "STRING bc"},
		{"substring negative length", call("SUBSTRING", col("s"), num("1"), neg(num("1"))), "!negative substring length"},
		{"trim", call("TRIM", col("ws")), "STRING pad"},
		{"trim chars", call("TRIM", str("xxpadxx"), str("x")), "STRING pad"},
		{"ltrim", call("LTRIM", col("ws")), "STRING pad  "},
		{"rtrim", call("RTRIM", col("ws")), "STRING   pad"},
		{"replace", call("REPLACE", col("s"), str("l"), str("L")), "STRING HeLLo"},
		{"replace empty", call("REPLACE", col("s"), str(""), str("x")), "STRING Hello"},
		{"replace null", call("REPLACE", col("s"), col("n"), str("x")), "NULL"},
		{"concat skips null", call("CONCAT", col("s"), col("n"), str("-"), col("a")), "STRING Hello-10"},
		{"concat none", call("CONCAT"), "STRING "},
	})
}

func TestTimeFunctions(t *testing.T) {
	extract := func(field string, x sql.Expr) *sql.Call { return call("EXTRACT", col(field), x) }
	runEval(t, []evalCase{
		{"year", call("YEAR", col("t")), "INTEGER 2024"},
		{"quarter", call("QUARTER", col("t")), "INTEGER 1"},
		{"month", call("MONTH", col("t")), "INTEGER 1"},
		{"day", call("DAY", col("t")), "INTEGER 15"},
		{"hour", call("HOUR", col("t")), "INTEGER 10"},
		{"minute", call("MINUTE", col("t")), "INTEGER 30"},
		{"second", call("SECOND", col("t")), "INTEGER 45"},
		{"millisecond", call("MILLISECOND", col("t")), "INTEGER 123"},
		{"year of string", call("YEAR", str("1999-12-31")), "INTEGER 1999"},
		{"year of epoch millis", call("YEAR", num("0")), "INTEGER 1970"},
		{"year of null", call("YEAR", col("n")), "NULL"},
		{"year of bad", call("YEAR", col("s")), "!to TIMESTAMP"},
		{"extract hour", extract("HOUR", col("t")), "INTEGER 10"},
		{"extract second", extract("second", col("t")), "DECIMAL 45.123"},
		{"extract epoch", extract("EPOCH", col("t")), "DECIMAL 1705314645.123"},
		{"extract dow", extract("DOW", col("t")), "INTEGER 1"},
		{"extract doy", extract("DOY", col("t")), "INTEGER 15"},
		{"extract week", extract("WEEK", col("t")), "INTEGER 3"},
		{"date_part", call("DATE_PART", str("minute"), col("t")), "INTEGER 30"},
		{"date_trunc minute", call("DATE_TRUNC", str("minute"), col("t")), "TIMESTAMP 2024-01-15T10:30:00.000Z"},
		{"date_trunc hour", call("DATE_TRUNC", str("HOUR"), col("t")), "TIMESTAMP 2024-01-15T10:00:00.000Z"},
		{"date_trunc day", call("DATE_TRUNC", str("day"), col("t")), "TIMESTAMP 2024-01-15T00:00:00.000Z"},
		{"date_trunc week", call("DATE_TRUNC", str("week"), col("t")), "TIMESTAMP 2024-01-15T00:00:00.000Z"},
		{"date_trunc month", call("DATE_TRUNC", str("month"), col("t")), "TIMESTAMP 2024-01-01T00:00:00.000Z"},
		{"date_trunc quarter", call("DATE_TRUNC", str("quarter"), str("2024-05-20")), "TIMESTAMP 2024-04-01T00:00:00.000Z"},
		{"date_trunc year", call("DATE_TRUNC", str("year"), col("t")), "TIMESTAMP 2024-01-01T00:00:00.000Z"},
		{"date_trunc second before epoch", call("DATE_TRUNC", str("second"), cast(neg(num("1500")), "TIMESTAMP")), "TIMESTAMP 1969-12-31T23:59:58.000Z"},
		{"tumble_start", call("TUMBLE_START", col("t"), interval("1", "MINUTE")), "TIMESTAMP 2024-01-15T10:30:00.000Z"},
		{"tumble_end", call("TUMBLE_END", col("t"), interval("1", "MINUTE")), "TIMESTAMP 2024-01-15T10:31:00.000Z"},
		{"tumble_start before epoch", call("TUMBLE_START", cast(neg(num("1")), "TIMESTAMP"), interval("1", "SECOND")), "TIMESTAMP 1969-12-31T23:59:59.000Z"},
		{"tumble bad size", call("TUMBLE_START", col("t"), num("0")), "!window size must be a positive"},
	})
}

// TestTimeSyntaxEvaluates evaluates the parsed forms EXTRACT(field FROM ts),
// a short duration as an INTERVAL, and the processing-time clock.
func TestTimeSyntaxEvaluates(t *testing.T) {
	parse := func(src string) sql.Expr {
		e, err := sql.ParseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	runEval(t, []evalCase{
		{"extract year from", parse("EXTRACT(YEAR FROM t)"), "INTEGER 2024"},
		{"extract 'minute' from", parse("EXTRACT('minute' FROM t)"), "INTEGER 30"},
		{"tumble_start 10s", parse("TUMBLE_START(t, 10s)"), "TIMESTAMP 2024-01-15T10:30:40.000Z"},
		{"short duration", parse("1.5m"), "INTEGER 90000"},
	})
	if _, err := Compile(call("NOW", num("1")), &Scope{Schema: record.NewSchema(testSchema...)}); err == nil ||
		!strings.Contains(err.Error(), "NOW takes no arguments") {
		t.Errorf("NOW(1): %v", err)
	}
	for _, src := range []string{"NOW()", "CURRENT_TIMESTAMP"} {
		f, err := Compile(parse(src), &Scope{Schema: record.NewSchema(testSchema...)})
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now().UnixMilli()
		v, err := f(testRecord())
		after := time.Now().UnixMilli()
		if err != nil || v.Kind() != record.Timestamp || v.Millis() < before || v.Millis() > after {
			t.Errorf("%s = %v, %v; want a TIMESTAMP in [%d, %d]", src, v, err, before, after)
		}
	}
}
