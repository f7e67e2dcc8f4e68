package main

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/internal/kafkatest"
)

// TestSecuredCluster runs statements against a SASL cluster: with the
// job-level 'kafka.*' credentials the job reads, a wrong password is the
// user's error (exit 1) naming the mechanism, and no password, from the
// properties or a broker URL, reaches stderr.
func TestSecuredCluster(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "trades"),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "alice", "s3cret-pw"))
	brokers := strings.Join(c.ListenAddrs(), ",")
	stmt := func(password string) string {
		return "SELECT trader_id FROM trades WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='" + brokers + "'," +
			" 'kafka.security.protocol'='SASL_PLAINTEXT', 'kafka.sasl.mechanism'='SCRAM-SHA-256'," +
			" 'kafka.sasl.username'='alice', 'kafka.sasl.password'='" + password + "')"
	}
	if code, _, errOut := sluice(t, "run", "-q", "--until-end", "-e", stmt("s3cret-pw")); code != 0 {
		t.Fatalf("right password: exit %d: %s", code, errOut)
	}
	code, _, errOut := sluice(t, "run", "-q", "--until-end", "-e", stmt("wrong-pw-123"))
	if code != exitUser || !strings.Contains(errOut, "SCRAM-SHA-256") || !strings.Contains(errOut, "authentication failed") {
		t.Errorf("wrong password: exit %d, stderr %q; want exit 1 naming SCRAM-SHA-256", code, errOut)
	}
	if strings.Contains(errOut, "wrong-pw-123") {
		t.Errorf("stderr leaks the password: %q", errOut)
	}
	code, _, errOut = sluice(t, "run", "-q", "--until-end", "-e",
		"SELECT x FROM t WITH ('t.type'='kafka_source', 't.bootstrap.servers'='bob:url-pw-456@nohost.invalid:9092', 't.security.protocol'='nope')")
	if code != exitUser || strings.Contains(errOut, "url-pw-456") {
		t.Errorf("URL credentials: exit %d, stderr %q", code, errOut)
	}
}

// TestExplainRedactsSecrets: EXPLAIN, as text and as JSON, prints the
// statement with the values of secret keys and URL passwords masked.
func TestExplainRedactsSecrets(t *testing.T) {
	stmt := "CREATE STREAM o AS SELECT x FROM t WHERE x > 1 WITH ('t.type'='kafka_source', 't.columns'='x INT'," +
		" 't.bootstrap.servers'='127.0.0.1:1', 'o.type'='stdout', 'kafka.security.protocol'='SASL_PLAINTEXT'," +
		" 'kafka.sasl.mechanism'='PLAIN', 'kafka.sasl.username'='alice', 'kafka.sasl.password'='pw-in-explain-1'," +
		" 'dlq.topic'='dead', 'dlq.bootstrap.servers'='bob:url-pw-in-explain-2@127.0.0.1:1')"
	for _, args := range [][]string{{"explain", "-e", stmt}, {"explain", "--json", "-e", stmt}} {
		code, out, errOut := sluice(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if strings.Contains(out, "pw-in-explain") || !strings.Contains(out, "[redacted]") {
			t.Errorf("%v: the secrets are not masked:\n%s", args, out)
		}
	}
}
