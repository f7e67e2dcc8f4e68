package expr

import (
	"errors"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

func at(line, col int) sql.Pos { return sql.Pos{Line: line, Col: col} }

func TestCompileErrors(t *testing.T) {
	unknown := &sql.Ident{Pos: at(1, 8), Name: "nope"}
	sum := &sql.Call{Pos: at(2, 3), Name: "SUM", Args: []sql.Expr{col("a")}}
	lag := &sql.Call{Pos: at(1, 1), Name: "LAG", Args: []sql.Expr{col("a")}}
	over := &sql.Call{Pos: at(1, 5), Name: "AVG", Args: []sql.Expr{col("a")}, Over: &sql.Over{}}
	fn := &sql.Call{Pos: at(3, 4), Name: "FROB", Args: []sql.Expr{col("a")}}
	arity := &sql.Call{Pos: at(1, 2), Name: "NULLIF", Args: []sql.Expr{col("a")}}
	badCast := &sql.Cast{Pos: at(1, 9), X: col("a"), Type: "BLOB"}
	win := &sql.Ident{Pos: at(1, 3), Name: "_window_start"}
	field := &sql.Call{Pos: at(1, 1), Name: "EXTRACT", Args: []sql.Expr{&sql.Ident{Pos: at(1, 9), Name: "FORTNIGHT"}, col("t")}}
	bigLit := &sql.Literal{Pos: at(1, 4), Kind: sql.IntLit, Text: "99999999999999999999"}
	badUnit := &sql.Literal{Pos: at(1, 4), Kind: sql.IntervalLit, Text: "1", Unit: "FORTNIGHT"}
	tests := []struct {
		e    sql.Expr
		want string
	}{
		{bin(sql.Add, num("1"), unknown), `1:8: unknown column "nope"`},
		{bin(sql.Gt, sum, num("1")), "2:3: aggregate SUM is not allowed here"},
		{lag, "1:1: window function LAG requires an OVER clause"},
		{over, "1:5: window function AVG is not allowed here"},
		{fn, "3:4: unknown function FROB"},
		{arity, "1:2: NULLIF takes 2 arguments, got 1"},
		{badCast, "1:9: CAST: unknown type BLOB"},
		{win, "1:3: _WINDOW_START is only available in the select list of a windowed query"},
		{field, "1:9: unknown EXTRACT field FORTNIGHT"},
		{bigLit, "1:4: integer literal 99999999999999999999 out of range"},
		{badUnit, `1:4: invalid interval unit "FORTNIGHT"`},
		{&sql.Call{Pos: at(1, 1), Name: "UPPER", Star: true}, "1:1: UPPER(*) is not a function call"},
		{&sql.Cast{Pos: at(1, 1), X: col("a"), Type: "DECIMAL(30,2)"}, "1:1: CAST: DECIMAL(30,2): precision must be 1..18"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.e, &Scope{Schema: record.NewSchema(testSchema...)})
		var ce *Error
		if !errors.As(err, &ce) || err.Error() != tt.want && !hasPrefix(err.Error(), tt.want) {
			t.Errorf("Compile error = %v, want %q", err, tt.want)
		}
	}
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func TestAutoAdd(t *testing.T) {
	s := record.NewSchema("a")
	f, err := Compile(bin(sql.Add, col("a"), col("B")), &Scope{Schema: s, AutoAdd: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.Name(1) != "B" {
		t.Fatalf("schema after AutoAdd = %v", s.Names())
	}
	got := show(f(&record.Record{Values: []record.Value{record.IntValue(1), record.IntValue(2)}}))
	if got != "INTEGER 3" {
		t.Errorf("a + B = %s", got)
	}
	// A record shorter than the schema reads NULL for the missing slots.
	if got := show(f(&record.Record{Values: []record.Value{record.IntValue(1)}})); got != "NULL" {
		t.Errorf("a + missing B = %s, want NULL", got)
	}
}

func TestOverride(t *testing.T) {
	sum := call("SUM", col("price"))
	win := col("_WINDOW_START")
	override := func(e sql.Expr) (int, bool) {
		switch e {
		case sum:
			return 0, true
		case win:
			return 1, true
		}
		return 0, false
	}
	e := bin(sql.And, bin(sql.Gt, sum, num("100")), isNull(win, true))
	f, err := Compile(e, &Scope{Schema: record.NewSchema(), Override: override})
	if err != nil {
		t.Fatal(err)
	}
	r := &record.Record{Values: []record.Value{record.DecimalValue(10050, 2), record.TimestampValue(0)}}
	if got := show(f(r)); got != "BOOLEAN true" {
		t.Errorf("SUM(price) > 100 AND _WINDOW_START IS NOT NULL = %s", got)
	}
}

func TestConstantFolding(t *testing.T) {
	e := bin(sql.Mul, bin(sql.Add, num("1"), num("2")), col("a"))
	c := &compiler{scope: &Scope{Schema: record.NewSchema("a")}, types: map[sql.Expr]record.Type{}}
	n, err := c.compile(e.L)
	if err != nil || !n.constant {
		t.Fatalf("1 + 2: constant=%v err=%v", n.constant, err)
	}
	n, err = c.compile(e)
	if err != nil || n.constant {
		t.Fatalf("(1 + 2) * a: constant=%v err=%v", n.constant, err)
	}
	// A constant that fails is not folded: it fails per record, and only
	// when evaluated.
	failing := caseOf(nil, nil, when(bin(sql.Gt, col("a"), num("0")), num("1")), when(boolean(true), bin(sql.Div, num("1"), num("0"))))
	f, err := Compile(failing, &Scope{Schema: record.NewSchema("a")})
	if err != nil {
		t.Fatalf("compile with failing constant: %v", err)
	}
	if got := show(f(&record.Record{Values: []record.Value{record.IntValue(1)}})); got != "INTEGER 1" {
		t.Errorf("taken branch = %s", got)
	}
	if got := show(f(&record.Record{Values: []record.Value{record.IntValue(-1)}})); got != "!division by zero" {
		t.Errorf("failing branch = %s", got)
	}
}

func TestIsAggregateAnalytic(t *testing.T) {
	for _, name := range []string{"count", "SUM", "avg", "STDDEV_POP", "string_agg", "MEDIAN"} {
		if !IsAggregate(name) || !IsAnalytic(name) {
			t.Errorf("%s: want aggregate and analytic", name)
		}
	}
	for _, name := range []string{"LAG", "lead", "ROW_NUMBER", "rank", "DENSE_RANK"} {
		if IsAggregate(name) || !IsAnalytic(name) {
			t.Errorf("%s: want analytic only", name)
		}
	}
	for _, name := range []string{"UPPER", "COALESCE"} {
		if IsAggregate(name) || IsAnalytic(name) {
			t.Errorf("%s: want neither", name)
		}
	}
}

// TestNumberText: a string literal compared with a number is the number it
// spells, as in PostgreSQL and DuckDB (quantity = '100').
func TestNumberText(t *testing.T) {
	schema := record.NewSchemaOf(record.Field{Name: "price", Type: record.DecimalType(5, 2)}, record.Field{Name: "quantity", Type: record.IntegerType})
	row := &record.Record{Values: []record.Value{record.DecimalValue(18520, 2), record.IntValue(100)}}
	for src, want := range map[string]bool{
		"quantity = '100'": true, "'100' <> quantity": false, "price = '185.2'": true, "price > ' 185.19 '": true,
		"quantity IN ('5', '1e2')": true, "price BETWEEN '185.21' AND '200'": false, "'2' > 10": false,
	} {
		stmts, err := sql.Parse("q.sql", "SELECT "+src+" FROM t")
		if err != nil {
			t.Fatal(err)
		}
		f, err := Compile(stmts[0].Select().Items[0].Expr, &Scope{Schema: schema})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if v, err := f(row); err != nil || v.Kind() != record.Bool || v.Bool() != want {
			t.Errorf("%s = %v, %v; want %v", src, v, err, want)
		}
	}
}

// TestTypeErrorsBeforeRunning: CASE branches and conditions, COALESCE,
// NULLIF and the arguments of string functions are type-checked when the
// expression is compiled, with the position of the part at fault, as
// PostgreSQL does; what does type-check gets the common type.
func TestTypeErrorsBeforeRunning(t *testing.T) {
	schema := record.NewSchemaOf(
		record.Field{Name: "symbol", Type: record.StringType},
		record.Field{Name: "price", Type: record.DecimalType(5, 2)},
		record.Field{Name: "quantity", Type: record.IntegerType},
		record.Field{Name: "v"}, // ANY: checked record by record
	)
	for _, c := range []struct{ src, want string }{
		{"UPPER(price)", "1:14: function UPPER(DECIMAL(5,2)) does not exist: UPPER needs a STRING, and price is DECIMAL(5,2) (CAST it to STRING)"},
		{"LENGTH(quantity)", "1:15: function LENGTH(INTEGER) does not exist: LENGTH needs a STRING, and quantity is INTEGER"},
		{"TRIM(symbol, 1)", "1:21: function TRIM(STRING, BIGINT) does not exist: TRIM needs a STRING, and 1 is BIGINT"},
		{"REPLACE(symbol, 'a', price)", "1:29: function REPLACE(STRING, STRING, DECIMAL(5,2)) does not exist"},
		{"SUBSTRING(symbol, 'x')", "1:26: function SUBSTRING(STRING, STRING) does not exist: the start of SUBSTRING must be an integer, and 'x' is STRING"},
		{"SUBSTR(symbol, 1, price)", "1:26: function SUBSTR(STRING, BIGINT, DECIMAL(5,2)) does not exist: the length of SUBSTR must be an integer"},
		{"CASE WHEN quantity > 1 THEN 1 ELSE 'a' END", "1:43: CASE types BIGINT and STRING cannot be matched (1 and 'a')"},
		{"CASE WHEN symbol THEN 1 END", "1:18: argument of CASE/WHEN must be BOOLEAN, not STRING symbol"},
		{"CASE symbol WHEN 1 THEN 'one' END", "1:25: cannot compare STRING with BIGINT: symbol = 1"},
		{"COALESCE(symbol, 1)", "1:25: COALESCE types STRING and BIGINT cannot be matched (symbol and 1)"},
		{"NULLIF(price, 'a')", "1:8: cannot compare DECIMAL(5,2) with STRING: price = 'a'"},
		{"price = 'abc'", "1:8: cannot compare DECIMAL(5,2) with STRING: price = 'abc' ('abc' is not a number)"},
		{"quantity IN (1, 'x')", "1:8: cannot compare INTEGER with STRING: quantity IN 'x' ('x' is not a number)"},
		{"COALESCE(CAST(price AS TIMESTAMP), '2024-01-15')", "1:43: COALESCE types TIMESTAMP and STRING cannot be matched (CAST(price AS TIMESTAMP) and '2024-01-15'): write the time as TIMESTAMP '2024-01-15'"},
		{`symbol = "AAPL"`, `1:17: unknown column "AAPL"; a string is written in single quotes: 'AAPL' (double quotes name a column)`},
	} {
		stmts, err := sql.Parse("q.sql", "SELECT "+c.src+" FROM t")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(stmts[0].Select().Items[0].Expr, &Scope{Schema: schema})
		if err == nil || !hasPrefix(err.Error(), c.want) {
			t.Errorf("%s:\ngot  %v\nwant %s", c.src, err, c.want)
		}
	}
	for _, c := range []struct{ src, want string }{
		{"quantity = '100' AND '185.20' < price AND quantity IN (' 7 ', '1e2') AND price BETWEEN '1' AND '2'", "BOOLEAN"},
		{"CASE WHEN quantity > 1 THEN 'big' WHEN quantity < 0 THEN NULL ELSE 'small' END", "STRING"},
		{"CASE quantity WHEN 1 THEN price ELSE price END", "DECIMAL(5,2)"},
		{"CASE WHEN quantity > 1 THEN 1 ELSE 2.5 END", "ANY"}, // each value keeps its kind
		{"CASE WHEN v THEN v ELSE 1 END", "ANY"},
		{"COALESCE(symbol, NULL, 'none')", "STRING"},
		{"UPPER(v) || CONCAT(price, quantity)", "STRING"},
		{"SUBSTRING(symbol, quantity, 2)", "STRING"},
	} {
		stmts, err := sql.Parse("q.sql", "SELECT "+c.src+" FROM t")
		if err != nil {
			t.Fatal(err)
		}
		_, typ, err := CompileTyped(stmts[0].Select().Items[0].Expr, &Scope{Schema: schema})
		if err != nil || typ.String() != c.want {
			t.Errorf("%s: type %s, %v; want %s", c.src, typ, err, c.want)
		}
	}
}

// TestDecimalArithmeticTypes: the type of a DECIMAL expression has the
// scale its values have (record.Arith): the sum of the scales for *,
// max(scales, 6) for /, the larger otherwise, at most 18.
func TestDecimalArithmeticTypes(t *testing.T) {
	schema := record.NewSchemaOf(
		record.Field{Name: "price", Type: record.DecimalType(10, 2)},
		record.Field{Name: "rate", Type: record.DecimalType(6, 4)},
		record.Field{Name: "quantity", Type: record.IntegerType},
	)
	row := &record.Record{Values: []record.Value{record.DecimalValue(250, 2), record.DecimalValue(15000, 4), record.IntValue(3)}}
	for _, c := range []struct{ src, typ, val string }{
		{"price * price", "DECIMAL(18,4)", "6.2500"},
		{"price * rate", "DECIMAL(18,6)", "3.750000"},
		{"price * quantity", "DECIMAL(18,2)", "7.50"},
		{"price / price", "DECIMAL(18,6)", "1.000000"},
		{"quantity / price", "DECIMAL(18,6)", "1.200000"},
		{"price + rate", "DECIMAL(18,4)", "4.0000"},
		{"price % rate", "DECIMAL(18,4)", "1.0000"},
		{"rate * rate * rate * rate * rate", "DECIMAL(18,18)", "7.593750000000000000"},
	} {
		stmts, err := sql.Parse("q.sql", "SELECT "+c.src+" FROM t")
		if err != nil {
			t.Fatal(err)
		}
		f, typ, err := CompileTyped(stmts[0].Select().Items[0].Expr, &Scope{Schema: schema})
		if err != nil || typ.String() != c.typ {
			t.Errorf("%s: type %s, %v; want %s", c.src, typ, err, c.typ)
			continue
		}
		if v, err := f(row); err != nil || v.String() != c.val {
			t.Errorf("%s = %v, %v; want %s", c.src, v, err, c.val)
		}
	}
}
