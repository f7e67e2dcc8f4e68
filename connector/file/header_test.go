package file

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestCSVHeaderDetection reads CSV files whose columns are declared, with
// and without a header line and with and without 'has_header', and checks
// which lines are records and how their fields are named.
func TestCSVHeaderDetection(t *testing.T) {
	const typed = "trader_id STRING, symbol STRING, price DECIMAL(10,2), quantity INT, trade_time TIMESTAMP"
	const untyped = "trader_id, symbol, price, quantity, trade_time"
	data := "T1,AAPL,185.20,100,2024-01-15T10:00:05Z\nT2,MSFT,402.10,50,2024-01-15T10:00:12Z\n"
	tests := []struct {
		name, columns, hasHeader, content string
		want                              string // the records, as trader_id/quantity pairs
		dead                              int
	}{
		{"typed, no header", typed, "", data, "T1/100 T2/50", 0},
		{"typed, header of the declared names", typed, "", "trader_id,symbol,price,quantity,trade_time\n" + data, "T1/100 T2/50", 0},
		{"typed, header in upper case", typed, "", "TRADER_ID,Symbol,PRICE,quantity,trade_time\n" + data, "T1/100 T2/50", 0},
		{"typed, header of other names", typed, "", "id,sym,px,qty,ts\n" + data, "T1/100 T2/50", 0},
		{"typed, header in another order", typed, "", "quantity,trader_id,symbol,price,trade_time\n" +
			"100,T1,AAPL,185.20,2024-01-15T10:00:05Z\n", "T1/100", 0},
		{"typed, header of more columns than declared", "quantity INT, trader_id STRING", "",
			"trader_id,symbol,price,quantity,trade_time\n" + data, "T1/100 T2/50", 0},
		{"typed, has_header true and more columns than declared", "quantity INT, trader_id STRING", "true",
			"trader_id,symbol,price,quantity,trade_time\n" + data, "T1/100 T2/50", 0},
		{"typed, bad first record is a record", typed, "", "T0,AAPL,cheap,1,2024-01-15T10:00:00Z\n" + data, "T1/100 T2/50", 1},
		{"typed, has_header false keeps a header as a record", typed, "false", "trader_id,symbol,price,quantity,trade_time\n" + data, "T1/100 T2/50", 1},
		{"typed, has_header true skips a record", typed, "true", data, "T2/50", 0},
		{"untyped, no header", untyped, "", data, "T1/100 T2/50", 0},
		{"untyped, header of the declared names", untyped, "", "trader_id,symbol,price,quantity,trade_time\n" + data, "T1/100 T2/50", 0},
		{"untyped, header of other names", untyped, "", "id,sym,px,qty,ts\n" + data, "T1/100 T2/50", 0},
		{"only text columns, other names: data", "a STRING, b STRING", "", "x,y\nu,v\n", "x/ u/", 0},
		{"a header alone", typed, "", "trader_id,symbol,price,quantity,trade_time\n", "", 0},
		{"empty file", typed, "", "", "", 0},
		{"header with quoted line breaks", typed, "", "\"trader\nid\",symbol,price,quantity,\"trade\r\ntime\"\n" + data, "T1/100 T2/50", 0},
		{"has_header true, header with quoted line breaks", typed, "true", "trader_id,symbol,price,\"quantity\n(shares)\",trade_time\n" + data, "T1/100 T2/50", 0},
		{"crlf", typed, "", strings.ReplaceAll("trader_id,symbol,price,quantity,trade_time\n"+data, "\n", "\r\n"), "T1/100 T2/50", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "t.csv", tt.content)
			props := map[string]string{"t.path": path, "t.columns": tt.columns}
			if tt.hasHeader != "" {
				props["t.has_header"] = tt.hasHeader
			}
			src, err := NewSource("t", props)
			if err != nil {
				t.Fatal(err)
			}
			cols, err := sql.ParseColumns("t.columns", tt.columns)
			if err != nil {
				t.Fatal(err)
			}
			fields := make([]record.Field, len(cols))
			for i, c := range cols {
				fields[i] = c.Field()
			}
			schema := record.NewSchemaOf(fields...)
			dlq := &mem.DeadLetters{}
			var got []string
			for _, r := range readAll(t, src, schema, dlq) {
				q := ""
				if s, ok := schema.Lookup("quantity"); ok {
					q = r.Values[s].String()
				}
				id := r.Values[0].String()
				if s, ok := schema.Lookup("trader_id"); ok {
					id = r.Values[s].String()
				}
				got = append(got, id+"/"+q)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("records %q, want %q", strings.Join(got, " "), tt.want)
			}
			if len(dlq.All()) != tt.dead {
				t.Errorf("%d dead letters %v, want %d", len(dlq.All()), dlq.All(), tt.dead)
			}
		})
	}
}

// TestIsHeader checks the header rule on its own: names, types declared
// and inferred, and lines that are data.
func TestIsHeader(t *testing.T) {
	typed := record.NewSchemaOf(
		record.Field{Name: "id", Type: record.BigintType},
		record.Field{Name: "name", Type: record.StringType},
		record.Field{Name: "at", Type: record.TimestampType})
	cols := []string{"id", "name", "at"}
	rest := [][]byte{[]byte("1,ann,2024-01-15T10:00:00Z"), []byte("2,bob,1705312805000")}
	for _, tt := range []struct {
		first  string
		schema *record.Schema
		want   bool
	}{
		{"id,name,at", typed, true},
		{"ID , Name , AT", typed, true},
		{"at,id,name", nil, true},
		{"x,at,id,name", nil, true},
		{"key,who,when", typed, true},
		{"key,who,when", nil, true}, // id is inferred a number from the rest
		{"key,who,2024-01-15T10:00:00Z", typed, false},
		{"key,who,soon", record.NewSchemaOf(record.Field{Name: "id", Type: record.StringType}, record.Field{Name: "name", Type: record.StringType}, record.Field{Name: "at", Type: record.TimestampType}), true},
		{"0,ann,2024-01-15T10:00:00Z", typed, false},
		{"key,key,when", typed, false},
		{"key,,when", typed, false},
		{"key,who", typed, false},
		{"", typed, false},
	} {
		if got := isHeader([]byte(tt.first), rest, cols, tt.schema, ','); got != tt.want {
			t.Errorf("isHeader(%q, schema %v) = %v, want %v", tt.first, tt.schema, got, tt.want)
		}
	}
	// A first line that fails a type the rest fail too is no header.
	if isHeader([]byte("key,who,when"), [][]byte{[]byte("x,ann,soon")}, cols, typed, ',') {
		t.Error("a header by a type the data does not fit either")
	}
	// A bad record that fits one typed column of two is a record.
	flags := record.NewSchemaOf(record.Field{Name: "ok", Type: record.BooleanType}, record.Field{Name: "n", Type: record.BigintType})
	if isHeader([]byte("true,many"), [][]byte{[]byte("false,2")}, []string{"ok", "n"}, flags, ',') {
		t.Error("a header with a boolean value in it")
	}
	if !isHeader([]byte("flag,count"), [][]byte{[]byte("false,2")}, []string{"ok", "n"}, flags, ',') {
		t.Error("no header where each name fits no type")
	}
}

// TestByteOrderMark reads files that start with a UTF-8 byte order mark:
// it is not part of the first field, header or not, nor of a JSON line.
func TestByteOrderMark(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, content string
		props         map[string]string
	}{
		{"data.csv", "\xEF\xBB\xBFT1,AAPL\nT2,MSFT\n", map[string]string{"t.columns": "id STRING, sym STRING"}},
		{"header.csv", "\xEF\xBB\xBFid,sym\nT1,AAPL\nT2,MSFT\n", nil},
		{"data.jsonl", "\xEF\xBB\xBF{\"id\":\"T1\",\"sym\":\"AAPL\"}\n{\"id\":\"T2\",\"sym\":\"MSFT\"}\n", nil},
	} {
		props := map[string]string{"t.path": writeFile(t, dir, tt.name, tt.content)}
		for k, v := range tt.props {
			props[k] = v
		}
		src, err := NewSource("t", props)
		if err != nil {
			t.Fatal(err)
		}
		schema := record.NewSchemaOf(record.Field{Name: "id", Type: record.StringType}, record.Field{Name: "sym", Type: record.StringType})
		dlq := &mem.DeadLetters{}
		var got []string
		for _, r := range readAll(t, src, schema, dlq) {
			got = append(got, r.Values[0].Str())
		}
		if strings.Join(got, " ") != "T1 T2" || len(dlq.All()) > 0 {
			t.Errorf("%s: ids %q, dead letters %v", tt.name, got, dlq.All())
		}
	}
}

// TestHeaderlessUndeclaredCSV reads a CSV file with no declared columns
// whose first line is data (it holds numbers): the file has no header, its
// columns are column0, column1, ... as DuckDB names them, inferred and read
// alike; 'has_header'='true' still takes the first line for the header.
func TestHeaderlessUndeclaredCSV(t *testing.T) {
	path := writeFile(t, t.TempDir(), "t.csv", "T1,AAPL,185.20\nT2,MSFT,402.10\n")
	src, err := NewSource("t", map[string]string{"t.path": path})
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.SourceSchema(context.Background(), connector.InferLimits{Records: 10})
	if err != nil || s.Columns.String() != "column0 STRING, column1 STRING, column2 DECIMAL(5,2)" || s.Records != 2 {
		t.Fatalf("schema %v from %d records, %v", s.Columns, s.Records, err)
	}
	var got []string
	for _, r := range readAll(t, src, s.Columns, &mem.DeadLetters{}) {
		got = append(got, r.Values[0].Str()+"/"+r.Values[2].String())
	}
	if strings.Join(got, " ") != "T1/185.20 T2/402.10" {
		t.Errorf("records %q", got)
	}
	src, err = NewSource("t", map[string]string{"t.path": path, "t.has_header": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := src.SourceSchema(context.Background(), connector.InferLimits{Records: 10}); err != nil || s.Records != 1 || s.Columns.Names()[0] != "T1" {
		t.Errorf("has_header true: schema %v from %d records, %v", s.Columns, s.Records, err)
	}
}

// TestCSVHeaderQuotedLineBreak: a header whose quoted field holds a line
// break (RFC 4180) names the columns of a file whose columns are not
// declared, and its records are read after it.
func TestCSVHeaderQuotedLineBreak(t *testing.T) {
	src, s := inferSource(t, "t.csv", "id,\"long\nname\"\n1,x\n2,\"y\nz\"\n")
	if got, want := s.Columns.String(), "id INTEGER, long\nname STRING"; got != want {
		t.Fatalf("columns %q, want %q", got, want)
	}
	dlq := &mem.DeadLetters{}
	var got []string
	for _, r := range readAll(t, src, s.Columns, dlq) {
		got = append(got, r.Values[0].String()+"/"+r.Values[1].Str())
	}
	if strings.Join(got, " ") != "1/x 2/y\nz" || len(dlq.All()) != 0 {
		t.Errorf("records %q, dead letters %v", got, dlq.All())
	}
}
