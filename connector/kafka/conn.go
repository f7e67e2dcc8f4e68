package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicesql/sluice/connector/internal/props"
	"github.com/sluicesql/sluice/sql"
)

// connOptions are the options saying how a client reaches the cluster, with
// librdkafka's names. Every Kafka source and sink accepts them as
// '<n>.<option>', the dead-letter topic as 'dlq.<option>', and a statement
// gives defaults to all its Kafka endpoints with 'kafka.<option>'.
var connOptions = []string{
	"bootstrap.servers",
	"security.protocol",
	"sasl.mechanism", "sasl.username", "sasl.password",
	"sasl.oauthbearer.token", "sasl.oauthbearer.token.file",
	"ssl.ca.location", "ssl.certificate.location", "ssl.key.location",
	"ssl.endpoint.identification.algorithm",
}

// Security protocols ('<n>.security.protocol') and SASL mechanisms
// ('<n>.sasl.mechanism').
var (
	protocols  = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
	mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}
)

// JobPrefix is the prefix of the job-level defaults of every Kafka endpoint
// of a statement ('kafka.security.protocol').
const JobPrefix = "kafka"

// JobOptions are the options a statement may give as 'kafka.<option>'.
func JobOptions() []string {
	return append(append(append([]string(nil), connOptions...), groupOptions...), registryOptions...)
}

// CheckJobOptions checks the statement's 'kafka.<option>' keys: each must
// be one of JobOptions. A statement with a source or sink named kafka
// ('kafka.type' set) has no job-level keys.
func CheckJobOptions(m map[string]string) error {
	if _, ok := lookup(m, JobPrefix+".type"); ok {
		return nil
	}
	_, err := props.Extract("kafka defaults", JobPrefix, m, JobOptions()...)
	return err
}

// withDefaults returns m with each job-level 'kafka.<option>' of opts
// copied to '<name>.<option>' where that is not set.
func withDefaults(name string, m map[string]string, opts []string) map[string]string {
	if _, ok := lookup(m, JobPrefix+".type"); ok || strings.EqualFold(name, JobPrefix) {
		return m
	}
	var out map[string]string
	for _, opt := range opts {
		v, ok := lookup(m, JobPrefix+"."+opt)
		if !ok {
			continue
		}
		if _, set := lookup(m, name+"."+opt); set {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(m)+len(opts))
			for k, v := range m {
				out[k] = v
			}
		}
		out[name+"."+opt] = v
	}
	if out == nil {
		return m
	}
	return out
}

// lookup returns the value of key in m, matching case-insensitively.
func lookup(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// Conn says how a client reaches a cluster: its bootstrap servers and its
// security (TLS, SASL). The zero Conn with Brokers set is PLAINTEXT.
type Conn struct {
	Brokers   []string
	protocol  string // one of protocols; "" is PLAINTEXT
	mechanism string // one of mechanisms when the protocol is SASL_*
	user      string
	tls       *tls.Config
	sasl      sasl.Mechanism
}

// Plain returns a PLAINTEXT connection to brokers.
func Plain(brokers []string) Conn { return Conn{Brokers: brokers} }

// ParseConn reads the connection options of the endpoint name
// ('<name>.bootstrap.servers', '<name>.security.protocol', ...) from m,
// where unset, from the statement's 'kafka.<option>' defaults. It checks
// only these options; other keys of name are the caller's.
func ParseConn(name string, m map[string]string) (Conn, error) {
	o, err := extractOptions("kafka", name, withDefaults(name, m, connOptions), connOptions)
	if err != nil {
		return Conn{}, err
	}
	return parseConn(o)
}

// extractOptions collects the options '<name>.<opt>' of opts from m,
// leaving name's other keys to their reader.
func extractOptions(kind, name string, m map[string]string, opts []string) (*props.Options, error) {
	vals := make(map[string]string)
	for _, opt := range opts {
		if v, ok := lookup(m, name+"."+opt); ok {
			vals[name+"."+opt] = v
		}
	}
	return props.Extract(kind, name, vals, opts...)
}

// parseConn reads the connection options from o.
func parseConn(o *props.Options) (Conn, error) {
	c := Conn{Brokers: list(o.String("bootstrap.servers", DefaultBootstrapServers))}
	if len(c.Brokers) == 0 {
		return c, o.Errorf("bootstrap.servers", "no brokers")
	}
	saslSet := o.Has("sasl.mechanism") || o.Has("sasl.username") || o.Has("sasl.password") ||
		o.Has("sasl.oauthbearer.token") || o.Has("sasl.oauthbearer.token.file")
	sslSet := o.Has("ssl.ca.location") || o.Has("ssl.certificate.location") || o.Has("ssl.key.location")
	// Unset, the protocol follows from the options given: SASL and TLS
	// options without a protocol mean the user wants them used.
	def := "PLAINTEXT"
	switch {
	case saslSet && sslSet:
		def = "SASL_SSL"
	case saslSet:
		def = "SASL_PLAINTEXT"
	case sslSet:
		def = "SSL"
	}
	p, err := upperEnum(o, "security.protocol", def, protocols)
	if err != nil {
		return c, err
	}
	c.protocol = p
	useSASL := strings.HasPrefix(p, "SASL_")
	useTLS := p == "SSL" || p == "SASL_SSL"
	if saslSet && !useSASL {
		return c, o.Errorf("security.protocol", "%s does not authenticate with SASL, but SASL options are set: use SASL_PLAINTEXT or SASL_SSL", p)
	}
	if sslSet && !useTLS {
		return c, o.Errorf("security.protocol", "%s does not use TLS, but ssl.* locations are set: use SSL or SASL_SSL", p)
	}
	if useTLS {
		if c.tls, err = tlsConfig(o, ""); err != nil {
			return c, err
		}
	}
	if useSASL {
		if c.sasl, err = saslMechanism(o, &c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// upperEnum returns opt's value upper-cased, which must be one of valid.
func upperEnum(o *props.Options, opt, def string, valid []string) (string, error) {
	v := strings.ToUpper(o.String(opt, def))
	for _, x := range valid {
		if v == x {
			return v, nil
		}
	}
	hint := sql.DidYouMean(v, valid, strconv.Quote)
	if hint != "" {
		hint = "; " + hint
	}
	return "", o.Errorf(opt, "invalid value %q%s (valid values: %s)", o.String(opt, ""), hint, strings.Join(valid, ", "))
}

// tlsConfig builds the TLS configuration of the options prefix+'ssl.*':
// the CA to trust (default: the system's), a client certificate and key
// for mutual TLS, and whether the server's host name is checked against
// its certificate. The brokers' have no prefix, the Schema Registry's
// "schema.registry.".
func tlsConfig(o *props.Options, prefix string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := o.String(prefix+"ssl.ca.location", ""); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, o.Errorf(prefix+"ssl.ca.location", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, o.Errorf(prefix+"ssl.ca.location", "%s holds no PEM certificate", ca)
		}
		cfg.RootCAs = pool
	}
	cert, key := o.String(prefix+"ssl.certificate.location", ""), o.String(prefix+"ssl.key.location", "")
	switch {
	case cert != "" && key != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, o.Errorf(prefix+"ssl.certificate.location", "loading the client certificate and key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case cert != "":
		return nil, o.Errorf(prefix+"ssl.key.location", "not set: a client certificate needs its private key")
	case key != "":
		return nil, o.Errorf(prefix+"ssl.certificate.location", "not set: a private key needs its client certificate")
	}
	alg, err := o.Enum(prefix+"ssl.endpoint.identification.algorithm", "https", "https", "none")
	if err != nil {
		return nil, err
	}
	if alg == "none" {
		// The chain is still verified, only the host name is not.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return cfg, nil
}

// saslMechanism builds the SASL mechanism the options name.
func saslMechanism(o *props.Options, c *Conn) (sasl.Mechanism, error) {
	if !o.Has("sasl.mechanism") {
		return nil, o.Errorf("sasl.mechanism", "not set: %s needs one of %s", c.protocol, strings.Join(mechanisms, ", "))
	}
	m, err := upperEnum(o, "sasl.mechanism", "", mechanisms)
	if err != nil {
		return nil, err
	}
	c.mechanism = m
	if m == "OAUTHBEARER" {
		token, file := o.String("sasl.oauthbearer.token", ""), o.String("sasl.oauthbearer.token.file", "")
		if (token == "") == (file == "") {
			return nil, o.Errorf("sasl.oauthbearer.token", "OAUTHBEARER needs a token: set one of '%s' or '%s'",
				o.Key("sasl.oauthbearer.token"), o.Key("sasl.oauthbearer.token.file"))
		}
		if token != "" {
			return oauth.Auth{Token: token}.AsMechanism(), nil
		}
		if _, err := os.Stat(file); err != nil {
			return nil, o.Errorf("sasl.oauthbearer.token.file", "%v", err)
		}
		// Read at every authentication, so a token refreshed on disk is used.
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("OAUTHBEARER token file: %w", err)
			}
			return oauth.Auth{Token: strings.TrimSpace(string(b))}, nil
		}), nil
	}
	user, pass := o.String("sasl.username", ""), o.String("sasl.password", "")
	if user == "" || pass == "" {
		return nil, o.Errorf("sasl.username", "%s needs '%s' and '%s'", m, o.Key("sasl.username"), o.Key("sasl.password"))
	}
	c.user = user
	switch m {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	default:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
}

// opts returns the client options that connect as c says.
func (c Conn) opts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(c.tls.Clone()))
	}
	if c.sasl != nil {
		opts = append(opts, kgo.SASL(c.sasl))
	}
	return opts
}

// String describes the connection without its secrets:
// "SASL_SSL SCRAM-SHA-256 user alice to [b1:9092]".
func (c Conn) String() string {
	p := c.protocol
	if p == "" {
		p = "PLAINTEXT"
	}
	if c.mechanism != "" {
		p += " " + c.mechanism
	}
	if c.user != "" {
		p += " user " + c.user
	}
	return fmt.Sprintf("%s to %v", p, c.Brokers)
}

// connError returns err, as an *AuthError naming the security protocol, the
// SASL mechanism and the user when it is a failure to authenticate (the
// user's configuration: credentials, certificates) rather than the
// cluster's state.
func (c Conn) connError(err error) error {
	if err == nil {
		return nil
	}
	if isAuthError(err) {
		return &AuthError{Conn: c.String(), Err: err}
	}
	// Some brokers answer failed credentials by closing the connection.
	var firstRead *kgo.ErrFirstReadEOF
	if c.sasl != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &firstRead)) {
		return &AuthError{Conn: c.String(), Err: fmt.Errorf("the broker closed the connection while authenticating (are the credentials right?): %w", err)}
	}
	return err
}

// AuthError is a failure to authenticate: wrong credentials, an untrusted
// or mismatched certificate, a protocol the broker does not speak. It is
// the user's to fix.
type AuthError struct {
	Conn string // the connection, described without secrets
	Err  error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("authentication failed (%s): %v", e.Conn, e.Err)
}

// Unwrap returns the underlying error.
func (e *AuthError) Unwrap() error { return e.Err }

// isAuthError reports whether err is an authentication or TLS failure.
func isAuthError(err error) bool {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		tlsRecord  tls.RecordHeaderError
		certVerify *tls.CertificateVerificationError
		alert      tls.AlertError
	)
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.GroupAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &tlsRecord) || errors.As(err, &certVerify) || errors.As(err, &alert)
}

// DeadLetterPrefix is the prefix of the dead-letter topic's connection
// options ('dlq.bootstrap.servers', 'dlq.security.protocol', ...).
const DeadLetterPrefix = "dlq"

// DeadLetterConn returns how the dead-letter topic connects. Without any
// 'dlq.<option>' of its own it connects as fallback does (the job's Kafka
// source or sink; nil when there is none); with some, it reads them, the
// rest from the statement's 'kafka.<option>' defaults, and its brokers, when
// neither gives them, from fallback. ok is false when no brokers are known.
func DeadLetterConn(m map[string]string, fallback *Conn) (c Conn, ok bool, err error) {
	own := false
	for _, opt := range connOptions {
		if _, set := lookup(m, DeadLetterPrefix+"."+opt); set {
			own = true
		}
	}
	if !own && fallback != nil {
		return *fallback, true, nil
	}
	_, brokersSet := lookup(withDefaults(DeadLetterPrefix, m, connOptions), DeadLetterPrefix+".bootstrap.servers")
	if c, err = ParseConn(DeadLetterPrefix, m); err != nil {
		return c, false, err
	}
	if !brokersSet {
		if fallback == nil {
			return c, false, nil
		}
		c.Brokers = fallback.Brokers
	}
	return c, true, nil
}
