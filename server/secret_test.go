package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/server"
)

// TestAnswersRedactSecrets deploys an application writing to a SASL cluster
// and checks that no answer of the API (the application's SQL, a job's
// EXPLAIN, POST /v1/explain) carries its password.
func TestAnswersRedactSecrets(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "alice", "api-pw-4242")) // after the server's shutdown, which drains into it
	src := "CREATE STREAM big AS SELECT trader_id, quantity FROM g WHERE quantity >= 500 WITH ('g.type'='generator'," +
		" 'g.generator'='trades', 'g.count'='unbounded', 'g.rate'='1000', 'big.type'='kafka_sink'," +
		" 'big.bootstrap.servers'='" + strings.Join(c.ListenAddrs(), ",") + "', 'big.security.protocol'='SASL_PLAINTEXT'," +
		" 'big.sasl.mechanism'='PLAIN', 'big.sasl.username'='alice', 'big.sasl.password'='api-pw-4242')"
	_, ts := start(t, t.TempDir(), "")
	body, _ := json.Marshal(server.DeployRequest{Name: "secured", SQL: src})
	if code := call(t, ts, "", "POST", "/v1/apps", string(body), nil); code != http.StatusCreated {
		t.Fatalf("deploy: HTTP %d", code)
	}
	waitJob(t, ts, "big", func(j server.JobJSON) bool { return j.Counters.In > 0 })
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/apps", ""}, {"GET", "/v1/apps/secured", ""}, {"GET", "/v1/jobs/big", ""},
		{"POST", "/v1/explain", string(body)},
	} {
		req, _ := http.NewRequest(r.method, ts.URL+r.path, strings.NewReader(r.body))
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), "api-pw-4242") || !strings.Contains(string(b), "[redacted]") {
			t.Errorf("%s %s: the password is not masked:\n%.3000s", r.method, r.path, b)
		}
	}
}
