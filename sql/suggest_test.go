package sql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	keys := []string{"late.data.strategy", "late.data.retention", "watermark.idle_timeout", "trades.type", "trades.path", "trades.format", "trades.topic.name"}
	tests := []struct {
		name, want string
	}{
		{"late.data.stratgy", "late.data.strategy"},   // a deletion
		{"LATE.DATA.STRATEGY", "late.data.strategy"},  // case only
		{"late.data.strategyy", "late.data.strategy"}, // an insertion
		{"trade.path", "trades.path"},
		{"trades.fromat", "trades.format"},           // a swap of neighbours counts one
		{"watermark.idle", "watermark.idle_timeout"}, // cut short at an underscore
		{"watermark.speed", ""},                      // too far
		{"trades.topic", "trades.topic.name"},        // cut short at a dot, before 'trades.type' three edits away
		{"trades.typ", "trades.type"},                // one edit beats a continuation
		{"x", ""},
	}
	for _, tt := range tests {
		got, ok := Closest(tt.name, keys)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Closest(%q) = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
	// Short names need a near-exact match; ties go to the earlier candidate.
	for _, tt := range []struct {
		name  string
		cands []string
		want  string
	}{
		{"ab", []string{"ac", "AB"}, "AB"},
		{"symbl", []string{"symbol", "symbols"}, "symbol"},
		{"pric", []string{"price", "prix"}, "price"},
		{"abc", []string{"xyz"}, ""},
	} {
		if got, _ := Closest(tt.name, tt.cands); got != tt.want {
			t.Errorf("Closest(%q, %q) = %q, want %q", tt.name, tt.cands, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"abcd", "acbd", 1}, {"flaw", "lawn", 2},
	} {
		if d := editDistance(tt.a, tt.b); d != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
		if d := editDistance(tt.b, tt.a); d != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, d, tt.d)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	if got := DidYouMean("o.pth", []string{"o.type", "o.path"}, QuoteProperty); got != "did you mean 'o.path'?" {
		t.Errorf("got %q", got)
	}
	if got := DidYouMean("zzz", []string{"o.type"}, QuoteProperty); got != "" {
		t.Errorf("got %q, want none", got)
	}
}

// TestLocate checks that an error found after parsing, wrapped or not, is
// shown with its file, line and a caret, and that a long line is cut to a
// window around the column.
func TestLocate(t *testing.T) {
	src := "SELECT a\nFROM t\nWHERE quantty > 5"
	stmts, err := Parse("q.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	where := stmts[0].Query.Where.(*Binary).L
	e := Errorf(where, "unknown column %s", "quantty")
	if got, want := e.Error(), "3:7: unknown column quantty"; got != want {
		t.Errorf("unlocated: %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("context: %w", &wrapper{e})
	if Locate(wrapped, "q.sql", src) != wrapped {
		t.Error("Locate returned another error")
	}
	want := "q.sql:3:7: unknown column quantty\nWHERE quantty > 5\n      ^"
	if got := e.Error(); got != want {
		t.Errorf("located:\n%s\nwant\n%s", got, want)
	}
	// A list: each member is located; one already located is left alone.
	other := &Error{File: "x.sql", Pos: Pos{Line: 1, Col: 1}, Msg: "m", Line: "kept"}
	e2 := Errorf(Pos{Offset: 0, Line: 1, Col: 1}, "first")
	Locate(errors.Join(e2, other), "q.sql", src)
	if e2.File != "q.sql" || e2.Line != "SELECT a" || other.File != "x.sql" || other.Line != "kept" {
		t.Errorf("joined: %+v %+v", e2, other)
	}
	if Locate(nil, "q.sql", src) != nil {
		t.Error("Locate(nil) != nil")
	}

	// A 1 MB line shows only a window around the column.
	long := "SELECT " + strings.Repeat("a + ", 250_000) + "zz FROM t"
	col := strings.Index(long, "zz") + 1
	e3 := Errorf(Pos{Offset: col - 1, Line: 1, Col: col}, "unknown column zz")
	msg := Locate(e3, "<command line>", long).Error()
	if len(msg) > 400 {
		t.Fatalf("message is %d bytes", len(msg))
	}
	lines := strings.Split(msg, "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], fmt.Sprintf("<command line>:1:%d: ", col)) {
		t.Fatalf("message:\n%s", msg)
	}
	caret := strings.Index(lines[2], "^")
	if !strings.HasPrefix(lines[1][caret:], "zz FROM t") {
		t.Errorf("caret not under zz:\n%s", msg)
	}
}

// wrapper hides an error behind a plain Unwrap.
type wrapper struct{ err error }

func (w *wrapper) Error() string { return w.err.Error() }
func (w *wrapper) Unwrap() error { return w.err }

func TestAtProperty(t *testing.T) {
	src := "SELECT a FROM t\nWITH ('t.type'='file_source',\n      'o.type' = 'file_sink', 'o.format'='xml')"
	stmts, err := Parse("q.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	with := stmts[0].Query.With
	cases := []struct {
		err  error
		want string
	}{
		{&PropertyError{Key: "o.format", InValue: true, Msg: "bad format"},
			"q.sql:3:42: bad format\n      'o.type' = 'file_sink', 'o.format'='xml')\n                                         ^"},
		{&PropertyError{Key: "O.FORMAT", Msg: "the key"},
			"q.sql:3:31: the key\n      'o.type' = 'file_sink', 'o.format'='xml')\n                              ^"},
		// missing: at the connector's type
		{fmt.Errorf("sink: %w", &PropertyError{Key: "o.path", Msg: "path required"}),
			"q.sql:3:7: sink: path required\n      'o.type' = 'file_sink', 'o.format'='xml')\n      ^"},
		// not in WITH at all (from --set): unchanged
		{&PropertyError{Key: "x.path", Msg: "from --set"}, "from --set"},
	}
	for _, c := range cases {
		got := Locate(AtProperty(c.err, with), "q.sql", src).Error()
		if got != c.want {
			t.Errorf("got\n%s\nwant\n%s", got, c.want)
		}
	}
	plain := errors.New("plain")
	if AtProperty(plain, with) != plain {
		t.Error("a plain error changed")
	}
}

// An option of one Kafka endpoint given by the 'kafka.<option>' default is
// pointed at that entry, not at the endpoint's type, and named.
func TestAtPropertyKafkaDefault(t *testing.T) {
	src := "SELECT a FROM t\nWITH ('t.type'='kafka_source',\n      'kafka.ssl.ca.location'='/nope')"
	stmts, err := Parse("q.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	err = &PropertyError{Key: "t.ssl.ca.location", InValue: true, Msg: "open /nope: no such file"}
	got := Locate(AtProperty(err, stmts[0].Query.With), "q.sql", src).Error()
	want := "q.sql:3:31: open /nope: no such file (set by 'kafka.ssl.ca.location')\n      'kafka.ssl.ca.location'='/nope')\n                              ^"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPositioned(t *testing.T) {
	a, b := Errorf(Pos{Line: 1, Col: 2}, "a"), Errorf(Pos{Line: 3, Col: 4}, "b")
	got := Positioned(fmt.Errorf("wrapped: %w", errors.Join(a, errors.New("plain"), &wrapper{b})))
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("got %v", got)
	}
	if Positioned(errors.New("plain")) != nil {
		t.Error("a plain error has positions")
	}
}
