package stdout

import (
	"bytes"
	"context"
	"testing"

	"github.com/sluicesql/sluice/record"
)

func TestSinkPrintsJSONLinesOnFlush(t *testing.T) {
	var out bytes.Buffer
	s := New(&out)
	ctx := context.Background()
	if err := s.Open(ctx, record.NewSchema("station", "max_temp"), nil); err != nil {
		t.Fatal(err)
	}
	rows := []record.Record{
		{Values: []record.Value{record.StringValue("Oslo"), record.DecimalValue(125, 1)}},
		{Values: []record.Value{record.StringValue("Rome"), record.NullValue()}},
	}
	if err := s.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("wrote %q before Flush", out.String())
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := `{"station":"Oslo","max_temp":12.5}` + "\n" + `{"station":"Rome","max_temp":null}` + "\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if err := s.Write(ctx, rows[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String()[len(want):]; got != `{"station":"Oslo","max_temp":12.5}`+"\n" {
		t.Errorf("Close wrote %q", got)
	}
}

func TestWriteBeforeOpen(t *testing.T) {
	if err := New(&bytes.Buffer{}).Write(context.Background(), nil); err == nil {
		t.Error("Write before Open: want error")
	}
}
