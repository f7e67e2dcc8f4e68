package secret

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	Register(map[string]string{
		"t.sasl.password":                        "hunter2-ENV",
		"t.sasl.username":                        "alice",
		"t.ssl.key.location":                     "/keys/client.key",
		"r.schema.registry.basic.auth.user.info": "reg:reg-pass-9",
		"t.bootstrap.servers":                    "user:url-pass-7@broker:9092",
	})
	in := `invalid value "hunter2-ENV"; lookup user:url-pass-7@broker; user reg:reg-pass-9; http://u:p4ss@host/x; alice /keys/client.key`
	got := Redact(in)
	for _, leak := range []string{"hunter2-ENV", "url-pass-7", "reg-pass-9", "p4ss"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q leaks %q", got, leak)
		}
	}
	for _, keep := range []string{"alice", "/keys/client.key", "user:" + Mask + "@broker"} {
		if !strings.Contains(got, keep) {
			t.Errorf("%q lost %q", got, keep)
		}
	}
	for _, tt := range [][3]string{
		{"t.sasl.password", "x", Mask},
		{"t.sasl.oauthbearer.token", "tok", Mask},
		{"t.sasl.oauthbearer.token.file", "/f", "/f"},
		{"t.topic.name", "a", "a"},
		{"t.bootstrap.servers", "sasl://user:pw@broker", "sasl://user:" + Mask + "@broker"},
	} {
		if got := Value(tt[0], tt[1]); got != tt[2] {
			t.Errorf("Value(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
	p := Props(map[string]string{"t.sasl.password": "x", "t.sasl.oauthbearer.token": "tok", "t.sasl.oauthbearer.token.file": "/f", "t.topic.name": "a"})
	if p["t.sasl.password"] != Mask || p["t.sasl.oauthbearer.token"] != Mask || p["t.sasl.oauthbearer.token.file"] != "/f" || p["t.topic.name"] != "a" {
		t.Errorf("Props = %v", p)
	}
	var b strings.Builder
	Writer(&b).Write([]byte("password hunter2-ENV\n"))
	if b.String() != "password "+Mask+"\n" {
		t.Errorf("Writer wrote %q", b.String())
	}
}
