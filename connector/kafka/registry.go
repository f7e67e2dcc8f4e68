package kafka

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicesql/sluice/record"
)

// The Confluent wire format: a magic byte 0, the schema id (4 bytes, big
// endian), then (Protobuf only) the message indexes, then the encoded value.
const (
	wireMagic  = 0
	wireHeader = 5
)

// wireID returns the schema id of a wire-format value and the bytes after
// the header.
func wireID(data []byte) (int, []byte, error) {
	if len(data) < wireHeader || data[0] != wireMagic {
		return 0, nil, errors.New("not Schema Registry wire format (magic byte 0 and a schema id)")
	}
	return int(binary.BigEndian.Uint32(data[1:wireHeader])), data[wireHeader:], nil
}

// appendWireHeader appends the wire-format header of schema id.
func appendWireHeader(b []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(b, wireMagic), uint32(id))
}

// registry is a Schema Registry client that caches schemas by id.
type registry struct {
	cl   *sr.Client
	url  string
	user string // of basic auth, if any

	// compatibility checks: '<n>.auto.register.schemas' (default true)
	// registers a sink's schema; false only looks it up.
	autoRegister bool
	// useLatest ('<n>.use.latest.version', default false): a sink writes
	// with its subject's latest schema, its fields filled by column name,
	// instead of one derived from its columns.
	useLatest bool

	mu     sync.Mutex
	byID   map[int]sr.Schema
	parsed map[parsedKey]any // a format's parsed form of a schema id
}

// parsedKey names one format's parsed form of one schema.
type parsedKey struct {
	format string
	id     int
}

// newRegistry returns a client of the registry at url, with basic auth
// "user:password" when userInfo is set, connecting with tlsCfg (nil: the
// default) to an https URL.
func newRegistry(url, userInfo string, tlsCfg *tls.Config) (*registry, error) {
	opts := []sr.ClientOpt{sr.URLs(url)}
	if tlsCfg != nil {
		opts = append(opts, sr.HTTPClient(&http.Client{Timeout: registryTimeout,
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsCfg}}))
	}
	if userInfo != "" {
		user, pass, _ := strings.Cut(userInfo, ":")
		opts = append(opts, sr.BasicAuth(user, pass))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %w", url, err)
	}
	user, _, _ := strings.Cut(userInfo, ":")
	return &registry{cl: cl, url: url, user: user, autoRegister: true, byID: map[int]sr.Schema{}, parsed: map[parsedKey]any{}}, nil
}

// registryTimeout bounds one request to the registry (pkg/sr's default).
const registryTimeout = 5 * time.Second

// valueSubject and keySubject return the TopicNameStrategy subjects of
// topic's values and keys.
func valueSubject(topic string) string { return topic + "-value" }
func keySubject(topic string) string   { return topic + "-key" }

// latest returns the latest schema of subject with its version and id.
func (r *registry) latest(ctx context.Context, subject string) (sr.SubjectSchema, error) {
	ss, err := r.cl.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		return ss, fmt.Errorf("schema registry %s: subject %q: %w", r.url, subject, r.authError(err))
	}
	r.mu.Lock()
	r.byID[ss.ID] = ss.Schema
	r.mu.Unlock()
	return ss, nil
}

// readerSchema returns subject's latest schema, the reader's schema of a
// decoder whose writer schema lacks some of the source's columns; ok is
// false when the registry has no such subject (the columns were declared,
// and the producer names its subjects otherwise), and the columns stay
// NULL. Any other error is returned: a registry that does not answer now
// must not leave the columns without their values for the rest of the run.
func (r *registry) readerSchema(ctx context.Context, subject string) (ss sr.SubjectSchema, ok bool, err error) {
	ss, err = r.latest(ctx, subject)
	var re *sr.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return ss, false, nil
	}
	return ss, err == nil, err
}

// schema returns the schema with id, fetching it once.
func (r *registry) schema(ctx context.Context, id int) (sr.Schema, error) {
	r.mu.Lock()
	s, ok := r.byID[id]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	got, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		return got, fmt.Errorf("schema registry %s: schema %d: %w", r.url, id, r.authError(err))
	}
	r.mu.Lock()
	r.byID[id] = got
	r.mu.Unlock()
	return got, nil
}

// parse returns format's parsed form of schema id (parsing it once, with
// parse, for every reader of the registry).
func (r *registry) parse(ctx context.Context, format string, id int, parse func(sr.Schema) (any, error)) (any, error) {
	key := parsedKey{format, id}
	r.mu.Lock()
	p, ok := r.parsed[key]
	r.mu.Unlock()
	if ok {
		return p, nil
	}
	s, err := r.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	if p, err = parse(s); err != nil {
		return nil, fmt.Errorf("schema registry %s: schema %d: %w", r.url, id, err)
	}
	r.mu.Lock()
	r.parsed[key] = p
	r.mu.Unlock()
	return p, nil
}

// references returns the text of every schema s imports, by the name it
// imports it under, fetched from the registry (recursively).
func (r *registry) references(ctx context.Context, s sr.Schema, into map[string]string) error {
	for _, ref := range s.References {
		if _, ok := into[ref.Name]; ok {
			continue
		}
		got, err := r.cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			return fmt.Errorf("schema registry %s: reference %q (subject %q version %d): %w", r.url, ref.Name, ref.Subject, ref.Version, r.authError(err))
		}
		into[ref.Name] = got.Schema.Schema
		if err := r.references(ctx, got.Schema, into); err != nil {
			return err
		}
	}
	return nil
}

// register registers s under subject (a no-op returning the existing id
// when it is already there) and returns it with its id and version. With
// auto.register.schemas off it only looks s up. A schema the subject's
// compatibility setting refuses is an error listing the registry's reasons.
func (r *registry) register(ctx context.Context, subject string, s sr.Schema) (sr.SubjectSchema, error) {
	if !r.autoRegister {
		ss, err := r.cl.LookupSchema(ctx, subject, s)
		if ae := r.authError(err); ae != err {
			return ss, fmt.Errorf("schema registry %s: subject %q: %w", r.url, subject, ae)
		}
		if err != nil {
			err = fmt.Errorf("schema registry %s: subject %q has no version equal to the output's schema "+
				"(auto.register.schemas is false, so it must be registered beforehand): %w\nthe output's schema: %s", r.url, subject, err, s.Schema)
			var re *sr.ResponseError
			if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
				err = refusal{err}
			}
			return ss, err
		}
		r.remember(ss)
		return ss, nil
	}
	id, err := r.cl.RegisterSchema(ctx, subject, s, -1, -1)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
			return sr.SubjectSchema{}, refusal{r.incompatible(ctx, subject, s, err)}
		}
		return sr.SubjectSchema{}, fmt.Errorf("schema registry %s: registering the schema of subject %q: %w", r.url, subject, r.authError(err))
	}
	ss := sr.SubjectSchema{Subject: subject, ID: id, Schema: s}
	// The version, for EXPLAIN and errors: best effort, the id is what
	// the wire format needs.
	if got, err := r.cl.LookupSchema(ctx, subject, s); err == nil {
		ss.Version = got.Version
	}
	r.remember(ss)
	return ss, nil
}

// refusal is the registry's refusal of a sink's schema: incompatible with
// the subject's versions (409), or, with auto.register.schemas off, not one
// of them.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// authError returns err as an *AuthError when the registry refused the
// credentials (401, 403) or its TLS handshake failed: the user's to fix.
func (r *registry) authError(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden) || isAuthError(err) {
		conn := "schema registry"
		if r.user != "" {
			conn += " user " + r.user
		}
		return &AuthError{Conn: conn, Err: err}
	}
	return err
}

// latestFor returns the latest schema of subject that a sink writes with
// (use.latest.version), which must be of type t.
func (r *registry) latestFor(ctx context.Context, subject string, t sr.SchemaType) (sr.SubjectSchema, error) {
	ss, err := r.latest(ctx, subject)
	if err != nil {
		return ss, fmt.Errorf("%w (use.latest.version is true: the sink writes with the subject's latest schema)", err)
	}
	if ss.Type != t {
		return ss, fmt.Errorf("schema registry %s: subject %q: its latest schema (version %d, id %d) is %s, not %s", r.url, subject, ss.Version, ss.ID, ss.Type, t)
	}
	return ss, nil
}

// remember caches a registered schema by its id.
func (r *registry) remember(ss sr.SubjectSchema) {
	r.mu.Lock()
	r.byID[ss.ID] = ss.Schema
	r.mu.Unlock()
}

// incompatible explains a registration the registry refused (409): the
// subject's compatibility level and, when the registry gives them, its
// reasons.
func (r *registry) incompatible(ctx context.Context, subject string, s sr.Schema, cause error) error {
	level := "its compatibility level"
	if res := r.cl.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), subject); len(res) == 1 && res[0].Err == nil {
		level = "compatibility " + res[0].Level.String()
	}
	msg := fmt.Sprintf("schema registry %s: subject %q refuses the output's schema as incompatible with its existing versions (%s)", r.url, subject, level)
	if res, err := r.cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), subject, -1, s); err == nil && len(res.Messages) > 0 {
		msg += ": " + strings.Join(res.Messages, "; ")
	} else {
		msg += ": " + cause.Error()
	}
	return fmt.Errorf("%s\nchange the statement's output to fit the subject, write to another topic, or change the subject's compatibility level\nthe output's schema: %s", msg, s.Schema)
}

// parseJSONValue parses the JSON text of a ROW or ARRAY value, numbers as
// json.Number (exact).
func parseJSONValue(text string) (any, error) {
	var x any
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	err := dec.Decode(&x)
	return x, err
}

// jsonScalar returns a parsed JSON scalar as a value of type t (an object
// or array in a scalar field: its JSON text).
func jsonScalar(x any, t record.Type) (record.Value, error) {
	var v record.Value
	switch y := x.(type) {
	case nil:
		return v, nil
	case bool:
		v = record.BoolValue(y)
	case string:
		v = record.StringValue(y)
	case json.Number:
		n, err := record.ParseNumber(y.String())
		if err != nil {
			return v, err
		}
		v = n
	default:
		text, err := json.Marshal(y)
		if err != nil {
			return v, err
		}
		v = record.StringValue(string(text))
	}
	return record.Conform(v, record.Field{Type: t})
}

// jsonKind names the JSON kind of a parsed value, for messages.
func jsonKind(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// exactFloat returns a DECIMAL as a float64 when the float holds it
// exactly at its scale (how a column of unknown type writes a decimal in a
// format whose unions have no decimal).
func exactFloat(v record.Value) (float64, bool) {
	u, scale := v.Decimal()
	text := string(record.AppendDecimal(nil, u, scale))
	f, err := strconv.ParseFloat(text, 64)
	return f, err == nil && strconv.FormatFloat(f, 'f', int(scale), 64) == text
}

// doubleOf returns a number as a double field holds it: a FLOAT as it is,
// an INTEGER converted, a DECIMAL as the nearest float.
func doubleOf(v record.Value) float64 {
	switch v.Kind() {
	case record.Int:
		return float64(v.Int())
	case record.Decimal:
		f, _ := exactFloat(v)
		return f
	}
	return v.Float()
}

// slotDecoder decodes one wire-format value into the slots of a schema,
// leaving the slots it does not fill as they are (a key's fields after the
// value's).
type slotDecoder interface {
	decodeInto(data []byte, dst []record.Value) error
}

// rowEncoder appends the wire-format encoding of one row.
type rowEncoder interface {
	AppendRow(b []byte, row []record.Value) ([]byte, error)
}

// registryValues decodes whole values with a slotDecoder.
type registryValues struct{ slotDecoder }

// Decode implements valueDecoder.
func (d registryValues) Decode(data []byte, dst []record.Value) error {
	clear(dst)
	return d.decodeInto(data, dst)
}

// slotDefault is the value of a column the writer schema of a message
// lacks: its field's default in the reader schema (the subject's latest).
type slotDefault struct {
	slot  int
	value record.Value
}

// unfilled returns the slots of width that filled does not report.
func unfilled(width int, filled func(slot int) bool) []int {
	var out []int
	for slot := range width {
		if !filled(slot) {
			out = append(out, slot)
		}
	}
	return out
}

// registryFormat is a format whose schemas are in the Schema Registry.
type registryFormat interface {
	// columns returns the columns of a subject's schema.
	columns(ctx context.Context, reg *registry, s sr.Schema) ([]record.Field, error)
	// decoder returns a decoder of wire-format values of subject into
	// schema's slots.
	decoder(reg *registry, subject string, schema *record.Schema, text textDecoder) slotDecoder
	// encoder derives the registry schema of rows of schema (its record
	// named name), registers it under subject and returns its encoder.
	encoder(ctx context.Context, reg *registry, subject, name string, schema *record.Schema) (rowEncoder, sr.SubjectSchema, error)
}

// registryFormats are the formats of '<n>.format' and '<n>.key.format'
// that keep their schemas in the Schema Registry.
var registryFormats = map[string]registryFormat{
	"avro":     avroFormat{},
	"protobuf": protoFormat{},
	"json_sr":  jsonSRFormat{},
}

// registryFormatNames lists registryFormats' names, for messages.
const registryFormatNames = "avro, protobuf, json_sr"
