package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/record"
)

// secureCluster starts a 1-broker cluster with opts and the topic "trades"
// holding 20 records, produced with an admin connection.
func secureCluster(t *testing.T, admin map[string]string, opts ...kfake.Opt) []string {
	t.Helper()
	c := kafkatest.Cluster(t, append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, "trades")}, opts...)...)
	brokers := c.ListenAddrs()
	props := map[string]string{"w.bootstrap.servers": strings.Join(brokers, ","), "w.topic.name": "trades"}
	for k, v := range admin {
		props["w."+k] = v
	}
	sink, err := NewSink("w", props)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := openProducer(ctx, sink.cfg.conn, "trades", TopicSpec{})
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	defer cl.Close()
	for _, m := range trades(20, 4) {
		cl.Produce(ctx, &kgo.Record{Key: m.Key, Value: m.Value}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return brokers
}

// readAll reads the topic "trades" to its end as the source configured by
// opts ('<n>.' prefixes added) and returns how many records it read.
func readSecure(t *testing.T, brokers []string, opts map[string]string) (int, error) {
	t.Helper()
	props := map[string]string{"trades.bootstrap.servers": strings.Join(brokers, ","), "trades.stop.at": "end"}
	for k, v := range opts {
		props["trades."+k] = v
	}
	s, err := NewSource("trades", props)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := s.Open(ctx, record.NewSchema("trader_id"), nil)
	if err != nil {
		return 0, err
	}
	c := &collector{}
	c.run(ctx, ch)
	c.wg.Wait()
	s.Close()
	if ctx.Err() != nil {
		t.Fatal("reading timed out")
	}
	if len(c.errs) > 0 {
		return 0, c.errs[0]
	}
	return len(c.records()), nil
}

// TestSASL: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 users read with the right
// password; a wrong password fails at once with an AuthError naming the
// mechanism and not the password.
func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			creds := map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mech,
				"sasl.username": "alice", "sasl.password": "right-secret"}
			brokers := secureCluster(t, creds, kfake.EnableSASL(), kfake.Superuser(mech, "alice", "right-secret"))
			n, err := readSecure(t, brokers, creds)
			if err != nil || n != 20 {
				t.Fatalf("right password: read %d, %v; want 20", n, err)
			}
			creds["sasl.password"] = "wrong-secret"
			_, err = readSecure(t, brokers, creds)
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("wrong password: %v, want an AuthError", err)
			}
			if msg := err.Error(); !strings.Contains(msg, mech) || !strings.Contains(msg, "alice") || strings.Contains(msg, "secret") {
				t.Errorf("wrong password: %q should name %s and alice, not the password", msg, mech)
			}
			// No credentials at all: the broker refuses too.
			if _, err := readSecure(t, brokers, nil); err == nil {
				t.Error("no credentials: read")
			}
		})
	}
}

// TestOAuthBearer: a static token and a token file authenticate with
// OAUTHBEARER (RFC 7628); a token the broker refuses is an AuthError
// naming the mechanism, not the token. kfake has no OAUTHBEARER, so the
// test's broker answers the SASL handshake and authenticate requests
// itself: it accepts the mechanism and one token, and records the tokens
// it was sent.
func TestOAuthBearer(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "trades"))
	brokers := c.ListenAddrs()
	produce(t, brokers, "trades", trades(20, 4))
	var mu sync.Mutex
	var tokens []string
	c.ControlKey(int16(kmsg.SASLHandshake), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLHandshakeRequest)
		resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
		if r.Mechanism != "OAUTHBEARER" {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			resp.SupportedMechanisms = []string{"OAUTHBEARER"}
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		// The client's first message: "n,,\x01auth=Bearer <token>\x01\x01".
		_, auth, _ := strings.Cut(string(r.SASLAuthBytes), "auth=Bearer ")
		token, _, _ := strings.Cut(auth, "\x01")
		mu.Lock()
		tokens = append(tokens, token)
		mu.Unlock()
		if token != "tok-123" {
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			msg := "invalid token"
			resp.ErrorMessage = &msg
		}
		return resp, nil, true
	})
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []map[string]string{
		{"sasl.mechanism": "OAUTHBEARER", "sasl.oauthbearer.token": "tok-123"},
		{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER", "sasl.oauthbearer.token.file": file},
	} {
		if n, err := readSecure(t, brokers, opts); err != nil || n != 20 {
			t.Errorf("%v: read %d, %v; want 20", opts, n, err)
		}
	}
	mu.Lock()
	if len(tokens) == 0 || slices.ContainsFunc(tokens, func(s string) bool { return s != "tok-123" }) {
		t.Errorf("the broker was sent the tokens %q, want tok-123", tokens)
	}
	mu.Unlock()
	_, err := readSecure(t, brokers, map[string]string{"sasl.mechanism": "OAUTHBEARER", "sasl.oauthbearer.token": "stale-token"})
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "OAUTHBEARER") || strings.Contains(err.Error(), "stale-token") {
		t.Errorf("a refused token: %v, want an AuthError naming OAUTHBEARER, not the token", err)
	}
}

// TestTLS: a client trusting the test CA reads over TLS, with and without
// a client certificate (mutual TLS) and with SASL on top; a client trusting
// another CA fails with an AuthError.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca")
	other := newCA(t, dir, "other")
	server := ca.issue(t, dir, "broker", true)
	client := ca.issue(t, dir, "client", false)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{server.pair}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	tlsOpts := map[string]string{"security.protocol": "SSL", "ssl.ca.location": ca.certFile}
	brokers := secureCluster(t, tlsOpts, kfake.TLS(serverTLS))

	if n, err := readSecure(t, brokers, tlsOpts); err != nil || n != 20 {
		t.Fatalf("TLS: read %d, %v", n, err)
	}
	mtls := map[string]string{"ssl.ca.location": ca.certFile, "ssl.certificate.location": client.certFile, "ssl.key.location": client.keyFile}
	if n, err := readSecure(t, brokers, mtls); err != nil || n != 20 {
		t.Fatalf("mutual TLS (protocol inferred): read %d, %v", n, err)
	}
	noHost := map[string]string{"security.protocol": "SSL", "ssl.ca.location": ca.certFile, "ssl.endpoint.identification.algorithm": "none"}
	if n, err := readSecure(t, brokers, noHost); err != nil || n != 20 {
		t.Fatalf("TLS without host name check: read %d, %v", n, err)
	}
	_, err := readSecure(t, brokers, map[string]string{"security.protocol": "SSL", "ssl.ca.location": other.certFile})
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "SSL") {
		t.Fatalf("untrusted CA: %v, want an AuthError naming SSL", err)
	}

	t.Run("SASL_SSL", func(t *testing.T) {
		creds := map[string]string{"security.protocol": "SASL_SSL", "ssl.ca.location": ca.certFile,
			"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "bob", "sasl.password": "pw-bob"}
		brokers := secureCluster(t, creds, kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "bob", "pw-bob"))
		if n, err := readSecure(t, brokers, creds); err != nil || n != 20 {
			t.Fatalf("read %d, %v", n, err)
		}
	})
}

// TestConnOptions covers the option errors and the job-level defaults.
func TestConnOptions(t *testing.T) {
	bad := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"t.security.protocol": "TLS"}, `'t.security.protocol': invalid value "TLS" (valid values: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)`},
		{map[string]string{"t.security.protocol": "SASL_SSL"}, `'t.sasl.mechanism': not set`},
		{map[string]string{"t.sasl.mechanism": "GSSAPI"}, `valid values: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER`},
		{map[string]string{"t.sasl.mechanism": "PLAIN", "t.sasl.username": "u"}, `PLAIN needs 't.sasl.username' and 't.sasl.password'`},
		{map[string]string{"t.security.protocol": "PLAINTEXT", "t.sasl.username": "u"}, `PLAINTEXT does not authenticate with SASL`},
		{map[string]string{"t.security.protocol": "SASL_PLAINTEXT", "t.ssl.ca.location": "x"}, `SASL_PLAINTEXT does not use TLS`},
		{map[string]string{"t.ssl.ca.location": "/nonexistent/ca.pem"}, `'t.ssl.ca.location'`},
		{map[string]string{"t.ssl.certificate.location": "c.pem"}, `'t.ssl.key.location': not set`},
		{map[string]string{"t.sasl.mechanism": "OAUTHBEARER"}, `OAUTHBEARER needs a token`},
		{map[string]string{"kafka.sasl.mechanism": "NOPE"}, `'t.sasl.mechanism': invalid value "NOPE"`},
	}
	for _, b := range bad {
		_, err := NewSource("t", b.opts)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%v: %v, want %q", b.opts, err, b.want)
		}
	}
	if err := CheckJobOptions(map[string]string{"kafka.sasl.pasword": "x"}); err == nil || !strings.Contains(err.Error(), "'kafka.sasl.pasword'") {
		t.Errorf("unknown job-level option: %v", err)
	}
	if err := CheckJobOptions(map[string]string{"kafka.sasl.password": "x", "kafka.security.protocol": "SASL_SSL"}); err != nil {
		t.Error(err)
	}
	// Job-level defaults fill what the endpoint does not set.
	s, err := NewSource("t", map[string]string{"kafka.security.protocol": "SASL_PLAINTEXT", "kafka.sasl.mechanism": "SCRAM-SHA-256",
		"kafka.sasl.username": "all", "t.sasl.username": "mine", "kafka.sasl.password": "pw", "kafka.bootstrap.servers": "b:1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Conn().String(); got != "SASL_PLAINTEXT SCRAM-SHA-256 user mine to [b:1]" {
		t.Errorf("conn = %q", got)
	}
	// The dead-letter topic connects as the source unless it has options of its own.
	c, ok, err := DeadLetterConn(map[string]string{}, &s.cfg.conn)
	if err != nil || !ok || c.String() != s.Conn().String() {
		t.Errorf("DLQ conn = %v, %v, %v", c, ok, err)
	}
	c, ok, err = DeadLetterConn(map[string]string{"dlq.security.protocol": "SASL_SSL", "dlq.sasl.mechanism": "PLAIN",
		"dlq.sasl.username": "d", "dlq.sasl.password": "p"}, &s.cfg.conn)
	if err != nil || !ok || c.String() != "SASL_SSL PLAIN user d to [b:1]" {
		t.Errorf("DLQ conn = %v, %v, %v", c, ok, err)
	}
	if _, ok, err := DeadLetterConn(map[string]string{"dlq.sasl.mechanism": "PLAIN", "dlq.sasl.username": "d", "dlq.sasl.password": "p"}, nil); ok || err != nil {
		t.Errorf("DLQ without brokers: ok %v, %v", ok, err)
	}
}

// testCA is a certificate authority made for a test.
type testCA struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certFile string
}

// testCert is a certificate a testCA issued, with its key.
type testCert struct {
	pair              tls.Certificate
	certFile, keyFile string
}

func newCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(dir, name+".pem")
	writePEM(t, file, "CERTIFICATE", der)
	return &testCA{cert: cert, key: key, certFile: file}
}

// issue returns a certificate for localhost and 127.0.0.1 (a server's) or
// a client certificate.
func (ca *testCA) issue(t *testing.T, dir, name string, server bool) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCert{certFile: filepath.Join(dir, name+".pem"), keyFile: filepath.Join(dir, name+".key")}
	writePEM(t, c.certFile, "CERTIFICATE", der)
	writePEM(t, c.keyFile, "EC PRIVATE KEY", keyDER)
	if c.pair, err = tls.LoadX509KeyPair(c.certFile, c.keyFile); err != nil {
		t.Fatal(err)
	}
	return c
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
