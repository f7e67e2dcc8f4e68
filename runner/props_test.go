package runner

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

func TestProperties(t *testing.T) {
	env := map[string]string{"BROKERS": "k1:9092", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	sel := &sql.Select{With: []sql.Property{
		{Key: "t.bootstrap.servers", Value: "${BROKERS}"},
		{Key: "t.group.id", Value: "${GROUP:-sluice}-g"},
		{Key: "t.path", Value: "a.jsonl"},
		{Key: "t.empty", Value: "[${EMPTY:-d}]"},
	}}
	got, err := Properties(sel, nil, map[string]string{"t.path": "b.jsonl"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"t.bootstrap.servers": "k1:9092",
		"t.group.id":          "sluice-g",
		"t.path":              "b.jsonl",
		"t.empty":             "[d]",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestPropertiesErrors(t *testing.T) {
	for _, v := range []string{"${NOPE}", "${", "${}"} {
		sel := &sql.Select{With: []sql.Property{{Key: "k", Value: v}}}
		_, err := Properties(sel, nil, nil, func(string) (string, bool) { return "", false })
		if err == nil || !strings.Contains(err.Error(), `property "k"`) {
			t.Errorf("%q: err = %v, want an error naming the property", v, err)
		}
	}
}
