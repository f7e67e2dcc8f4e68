package props

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

func TestExtract(t *testing.T) {
	props := map[string]string{
		"M.Path": "x.csv", "m.split.size": "64MiB", "m.has_header": "no", "other.path": "y",
		"m.count": "1_000", "m.rate": "2.5", "m.format": "CSV", "event.time.field": "t",
	}
	o, err := Extract("file source", "m", props, "path", "split.size", "has_header", "count", "rate", "format")
	if err != nil {
		t.Fatal(err)
	}
	if got := o.String("path", ""); got != "x.csv" {
		t.Errorf("path = %q", got)
	}
	if n, err := o.Size("split.size", 1); err != nil || n != 64<<20 {
		t.Errorf("split.size = %d, %v", n, err)
	}
	if b, err := o.Bool("has_header", true); err != nil || b {
		t.Errorf("has_header = %v, %v", b, err)
	}
	if n, err := o.Int("count", 0, 0); err != nil || n != 1000 {
		t.Errorf("count = %d, %v", n, err)
	}
	if f, err := o.Float("rate", 0, 0); err != nil || f != 2.5 {
		t.Errorf("rate = %g, %v", f, err)
	}
	if f, err := o.Enum("format", "json", "json", "csv"); err != nil || f != "csv" {
		t.Errorf("format = %q, %v", f, err)
	}
	if d, err := o.Int("missing", 7, 0); err != nil || d != 7 {
		t.Errorf("default = %d, %v", d, err)
	}
}

func TestErrors(t *testing.T) {
	_, err := Extract("file source", "m", map[string]string{"m.pth": "x"}, "path", "format")
	if err == nil || !strings.Contains(err.Error(), `unknown option 'm.pth'; did you mean 'm.path'? (valid options: 'm.path', 'm.format')`) {
		t.Errorf("unknown option: %v", err)
	}
	var pe *sql.PropertyError
	if !errors.As(err, &pe) || pe.Key != "m.pth" || pe.InValue {
		t.Errorf("unknown option: %#v is not a PropertyError about the key m.pth", err)
	}
	o, err := Extract("file source", "m", map[string]string{
		"m.format": "xml", "m.n": "-1", "m.s": "12XB", "m.b": "maybe", "m.f": "fast",
	}, "format", "n", "s", "b", "f")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		err  error
		want string
	}{
		{second(o.Enum("format", "", "json", "csv")), `option 'm.format': invalid value "xml" (valid values: json, csv)`},
		{second(o.Int("n", 0, 0)), `option 'm.n': invalid value "-1": want at least 0`},
		{second(o.Size("s", 0)), `option 'm.s': invalid size "12XB"`},
		{second(o.Bool("b", false)), `option 'm.b': invalid value "maybe"`},
		{second(o.Float("f", 0, 0)), `option 'm.f': invalid value "fast": want a number`},
	}
	for _, c := range checks {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("got %v, want %q", c.err, c.want)
		}
		var pe *sql.PropertyError
		if !errors.As(c.err, &pe) || !pe.InValue {
			t.Errorf("%v: not a PropertyError about a value", c.err)
		}
	}
	if err := o.Errorf("path", "required"); !errors.As(err, &pe) || pe.Key != "m.path" || pe.InValue {
		t.Errorf("missing option: %#v", err)
	}
}

func second[T any](_ T, err error) error { return err }
