package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/file"
	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/connector/stdout"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// checked is a statement whose options, input schema, query and plan
// passed every check.
type checked struct {
	// name is the job's name; srcName its FROM source.
	name, srcName string
	// props are the WITH properties after DDL declarations, --set
	// overrides and expansion.
	props map[string]string
	// with are the WITH entries (the statement's and its sources' DDL)
	// that --set left in force, to position errors about properties.
	with []sql.Property
	// set are the --set overrides, which have no position in the SQL text.
	set map[string]string
	// catalog holds the file's declarations, whose errors name keys
	// without the source's prefix.
	catalog *Catalog
	// untilEnd makes Kafka sources stop at the end of what they hold at
	// start: Options.UntilEnd, or a batch job (-- @job_mode: batch).
	untilEnd bool
	// src is the source, made but not connected: another statement's
	// in-process output, or the one its properties declare. It is nil when
	// the input is one of Options.Streams.
	src    connector.Source
	schema connector.Schema
	prog   *exec.Program
	// plan is made with the facts src knows before it connects.
	plan      *plan.Plan
	kafkaOpts func(client string) []kgo.Opt
	// starsUnknown: explain --no-infer read a SELECT * over columns it
	// does not know (see starsUnknown), so the output's are not known.
	starsUnknown bool
	// upBounded: the input is one of Options.Streams, whose writer's input ends
	upBounded bool
	// inProcessOut: another statement of the application reads the rows
	// in process (Options.KeepOrder)
	inProcessOut bool
}

// bounded reports whether the statement's input ends: its source's, or
// the output of the statement writing it.
func (c *checked) bounded() bool {
	if c.src != nil {
		return isBounded(c.src)
	}
	return c.upBounded
}

// checkEnds refuses a query whose rows wait for the end of its input
// (exec.Program.AtEnd) over an input name that does not end (bounded is
// false; upstream: name is another statement's output): it would run and
// never write a row.
func (c *checked) checkEnds(sel *sql.Select, prog *exec.Program, name string, bounded, upstream bool) error {
	why, instead, sorts := prog.AtEnd()
	if why == "" || bounded {
		return nil
	}
	var at sql.Node = sel
	if sorts {
		at = sel.OrderBy[0]
	}
	var end string
	switch {
	case upstream:
		end = "give the statement writing " + name + " an input that ends"
	case strings.EqualFold(lookup(c.props, name+".type"), "generator"):
		end = fmt.Sprintf("give %s an end ('%[1]s.count')", name)
	default:
		end = fmt.Sprintf("read %s to its end ('%[1]s.stop.at'='end', --until-end, or -- @job_mode: batch)", name)
	}
	return c.errorAt(fmt.Errorf("%s, and %s does not end, so the statement would never write a row: %s; or %s", why, name, instead, end), at)
}

// isBounded reports whether src ends (connector.Bounded).
func isBounded(src connector.Source) bool {
	b, ok := src.(connector.Bounded)
	return ok && b.Bounded()
}

// Checked is a statement that passed Check.
type Checked struct {
	// Plan is made without connecting to the sources.
	Plan *plan.Plan
	// Program is the compiled query; its output schema has the columns a
	// statement reading this one's output sees.
	Program *exec.Program
	// Bounded reports whether the statement's input ends (a file, a
	// generator with a count, Kafka read to its end, another statement's
	// bounded output), so that the statement does.
	Bounded bool
	// ColumnsUnknown: the output's columns are not known (explain
	// --no-infer of a SELECT * over a source whose columns it did not read).
	ColumnsUnknown bool
}

// Check makes every check of Prepare that opens no connection: the WITH
// properties (every key is read by something, every value is valid), the
// options of the sources, sink and dead-letter topic, the source's schema
// (declared, or inferred from a sample unless Options.NoInfer), the query's
// names and types against it, and the plan. Its errors are *ConfigError
// wrapping an *sql.Error at the expression, WITH entry or annotation at
// fault (sql.Locate gives it the file and line), except for properties
// given with --set, which have no position.
func Check(ctx context.Context, stmt *sql.Statement, opts Options) (*Checked, error) {
	if isJoin(stmt) {
		p, prog, bounded, err := planJoin(ctx, stmt, opts)
		if err != nil {
			return nil, err
		}
		return &Checked{Plan: p, Program: prog.Program, Bounded: bounded}, nil
	}
	c, err := check(ctx, stmt, opts)
	if err != nil {
		return nil, err
	}
	bounded := c.bounded()
	if c.src != nil {
		c.src.Close()
	}
	return &Checked{Plan: c.plan, Program: c.prog, Bounded: bounded, ColumnsUnknown: c.starsUnknown}, nil
}

// Plan checks and plans the statement as Prepare does, without connecting
// to Kafka or opening sinks (it may read a sample of a source to infer its
// schema, unless Options.NoInfer): EXPLAIN's view of it.
func Plan(ctx context.Context, stmt *sql.Statement, opts Options) (*plan.Plan, error) {
	c, err := Check(ctx, stmt, opts)
	if err != nil {
		return nil, err
	}
	return c.Plan, nil
}

// check makes the checks of Check on a statement without JOIN; the caller
// closes the returned src.
func check(ctx context.Context, stmt *sql.Statement, opts Options) (_ *checked, err error) {
	c, err := checkOptions(stmt, opts)
	if err != nil {
		return nil, err
	}
	sel := stmt.Select()
	decl, _ := opts.Catalog.Lookup(c.srcName)
	columns, upstream, err := c.input(stmt, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && c.src != nil {
			c.src.Close()
		}
	}()
	if c.schema, err = opts.Schemas.find(ctx, sel, c.srcName, decl, c.props, c.src, opts.NoInfer); err != nil {
		return nil, c.errorAt(err, &sel.From)
	}
	if upstream != nil {
		c.schema = withUpstream(c.schema, *upstream)
	} else if c.schema.Columns == nil && columns != nil {
		c.schema.Columns, c.schema.Origin = record.NewSchema(columns...), connector.SchemaGenerator
	}
	if opts.NoInfer && c.schema.Columns == nil {
		sel, c.starsUnknown = starsUnknown(sel)
	}
	if c.prog, err = exec.Compile(sel, exec.Options{Properties: c.props, Schema: c.schema.Columns, ExternalWatermark: true}); err != nil {
		var se *sql.Error
		switch {
		case c.schema.Columns == nil && c.schema.Err != nil && !UsersToFix(c.schema.Err):
			// The source cannot be read now (its brokers do not answer):
			// that is the failure, the one the job meets on opening it
			// when its columns are declared, not the missing columns.
			return nil, fmt.Errorf("source %q: %w", c.srcName, c.schema.Err)
		case c.schema.Columns == nil && c.schema.Err != nil && errors.As(err, &se):
			se.Msg += " (the schema of " + c.srcName + " is unknown: " + c.schema.Err.Error() + ")"
		case c.schema.Origin == connector.SchemaNotInferred && errors.As(err, &se):
			se.Msg += " (explain --no-infer read no sample of " + c.srcName + ", so it knows no columns; run would infer them)"
		case c.schema.Columns == nil && c.schema.Origin == connector.SchemaInferred && errors.As(err, &se):
			se.Msg += " (" + c.srcName + " has no record to infer them from: its data is empty)"
		}
		return nil, c.errorAt(err, sel)
	}
	if err := c.checkGuarantee(stmt, c.prog, nil); err != nil {
		return nil, err
	}
	if err := c.checkEnds(sel, c.prog, c.srcName, c.bounded(), c.src == nil); err != nil {
		return nil, err
	}
	if err := checkKeyFormat(stmt.Name, c.props, len(c.prog.KeySlots()) > 0 || c.prog.WindowedRows()); err != nil {
		return nil, c.errorAt(err, stmt)
	}
	var facts connector.Facts
	if c.src != nil {
		facts = c.src.Facts()
	}
	if c.plan, err = c.build(stmt, opts, facts); err != nil {
		return nil, err
	}
	if _, err := job.FromPlan(c.plan, c.prog, c.props); err != nil {
		return nil, c.errorAt(err, stmt)
	}
	return c, nil
}

// starsUnknown returns sel with each `*` of its select list read as one
// column named *, for explain --no-infer: without a sample the source's
// columns are not known, so the plan is shown with * standing for them
// (its schema line says it was not inferred).
func starsUnknown(sel *sql.Select) (*sql.Select, bool) {
	if !slices.ContainsFunc(sel.Items, func(it sql.SelectItem) bool { return it.Star }) {
		return sel, false
	}
	cp := *sel
	cp.Items = slices.Clone(sel.Items)
	for i, it := range cp.Items {
		known := it.Qualifier == "" || strings.EqualFold(it.Qualifier, sel.From.Name) || strings.EqualFold(it.Qualifier, sel.From.Alias)
		if it.Star && known { // an unknown qualifier stays an error
			cp.Items[i] = sql.SelectItem{Pos: it.Pos, Expr: &sql.Ident{Pos: it.Pos, Qualifier: it.Qualifier, Name: "*"}}
		}
	}
	return &cp, true
}

// checkOptions makes the checks of the statement's properties that need
// nothing opened: every key is read by something, and the options of the
// sources (each its own '<name>.' keys, JOIN options aside), the sink and
// the dead-letter topic are valid.
func checkOptions(stmt *sql.Statement, opts Options) (*checked, error) {
	if stmt.IsDDL() {
		return nil, configErr(sql.Errorf(stmt, "%s declares a source and runs nothing: read it with FROM %s", stmt.Name, stmt.Name))
	}
	sel := stmt.Select()
	names := []string{sel.From.Name}
	for _, j := range sel.Joins {
		names = append(names, j.Source.Name)
	}
	c := &checked{srcName: sel.From.Name, name: stmt.Name,
		with: inForce(append(declared(opts.Catalog, names), sel.With...), opts.Set), set: opts.Set, catalog: opts.Catalog, inProcessOut: opts.KeepOrder}
	switch {
	case opts.JobName != "":
		c.name = opts.JobName
	case c.name == "":
		c.name = c.srcName
	}
	c.kafkaOpts = func(client string) []kgo.Opt {
		if opts.KafkaOpts == nil {
			return nil
		}
		return opts.KafkaOpts(c.name, client)
	}
	var err error
	if c.props, err = Properties(sel, opts.Catalog.Properties(names...), opts.Set, opts.Env); err != nil {
		return nil, c.errorAt(err, sel)
	}
	for i, n := range names {
		if slices.IndexFunc(names, func(m string) bool { return strings.EqualFold(m, n) }) < i {
			continue // a self-join reads one source twice
		}
		decl, _ := opts.Catalog.Lookup(n)
		if decl != nil && len(decl.Columns) > 0 {
			if v := c.props[n+".columns"]; strings.TrimSpace(v) != "" {
				// Two column lists: neither may silently win.
				return nil, c.errorAt(&sql.PropertyError{Key: n + ".columns", Msg: fmt.Sprintf(
					"WITH '%s.columns': %s already declares its columns, in the column list of its CREATE statement at line %d; declare them once (drop '%[1]s.columns', or the column list)",
					n, decl.Name, decl.Line)}, sel)
			}
			// A CSV file's fields are the DDL's columns.
			cols := make([]string, len(decl.Columns))
			for i, col := range decl.Columns {
				cols[i] = col.Name
			}
			c.props[n+".columns"] = strings.Join(cols, ",")
		}
	}
	if err := checkKeys(stmt, c.props, opts.Set); err != nil {
		return nil, c.errorAt(err, sel)
	}
	if err := kafka.CheckJobOptions(c.props); err != nil {
		return nil, c.errorAt(err, sel)
	}
	conn := connectorProps(c.props, names)
	for i, n := range names {
		at := &sel.From
		if i > 0 {
			at = &sel.Joins[i-1].Source
		}
		if _, ok := opts.Streams[strings.ToLower(n)]; ok {
			continue // another statement's output
		}
		if opts.InProcess != nil && lookup(conn, n+".type") == "" {
			continue // another statement's in-process output, or input() says it has no type
		}
		if strings.TrimSpace(lookup(conn, n+".type")) == "" {
			return nil, configErr(unknownSource(*at, c.props, opts.Catalog))
		}
		if _, err := checkSource(n, conn); err != nil {
			return nil, c.errorAt(err, at)
		}
	}
	if c.untilEnd, err = batchMode(stmt, conn, names); err != nil {
		return nil, c.errorAt(err, stmt)
	}
	c.untilEnd = c.untilEnd || opts.UntilEnd
	if err := checkSink(stmt.Name, c.props); err != nil {
		return nil, c.errorAt(err, stmt)
	}
	kafkaConn := lookup(c.props, stmt.Name+".type") == "kafka_sink"
	for _, n := range names {
		kafkaConn = kafkaConn || lookup(conn, n+".type") == "kafka_source"
	}
	if err := checkDLQ(c.props, kafkaConn); err != nil {
		return nil, c.errorAt(err, sel)
	}
	if _, err := guarantee(c.props); err != nil {
		return nil, c.errorAt(err, sel)
	}
	return c, nil
}

// input finds the statement's source: another statement's output
// (Options.Streams, Options.InProcess), whose schema it returns, else the
// source its properties declare, whose options it checks before it makes
// the source (which connects to nothing), with the columns it is known to
// have (nil when only the data can tell).
func (c *checked) input(stmt *sql.Statement, opts Options) ([]string, *connector.Schema, error) {
	if s, ok := opts.Streams[strings.ToLower(c.srcName)]; ok {
		c.upBounded = s.Bounded
		return nil, &s.Schema, nil
	}
	if opts.InProcess != nil {
		src, s := opts.InProcess.Source(c.srcName)
		if src != nil {
			c.src = src
			return nil, &s, nil
		}
	}
	cols, err := checkSource(c.srcName, c.props)
	if err == nil {
		c.src, _, err = openSource(c.srcName, c.props, c.untilEnd, c.kafkaOpts, writtenFiles(stmt.Name, c.name, c.props))
	}
	if err != nil {
		return nil, nil, c.errorAt(err, &stmt.Select().From)
	}
	return cols, nil, nil
}

// batchMode reports whether the statement is a batch job (-- @job_mode:
// batch; the parser accepts only streaming and batch) and checks that each
// of its sources names can end: a Kafka source is read to the end of what
// it holds at start, so '<n>.stop.at'='never' contradicts it, and a
// generator needs a count. Another statement's output ends when that
// statement does.
func batchMode(stmt *sql.Statement, props map[string]string, names []string) (bool, error) {
	mode, _ := stmt.Annotation(sql.AnnotationJobMode)
	if !strings.EqualFold(mode, sql.JobModeBatch) {
		return false, nil
	}
	const refuse = "-- @job_mode: batch reads every source to its end, "
	for _, n := range names {
		switch lookup(props, n+".type") {
		case "kafka_source":
			if v := lookup(props, n+".stop.at"); strings.EqualFold(strings.TrimSpace(v), "never") {
				return true, &sql.PropertyError{Key: n + ".stop.at", InValue: true,
					Msg: fmt.Sprintf(refuse+"but '%s.stop.at'='never' reads %s forever (leave it out: batch reads to the end)", n, n)}
			}
		case "generator":
			if o, err := gen.ParseOptions(n, props); err == nil && o.Count == 0 {
				return true, &sql.PropertyError{Key: n + ".count", InValue: true,
					Msg: fmt.Sprintf(refuse+"but the generator %s is unbounded: set '%s.count' to a number of records", n, n)}
			}
		}
	}
	return true, nil
}

// declared returns the WITH entries of the DDL declarations of names, each
// key prefixed with its source's name as Catalog.Properties does.
func declared(cat *Catalog, names []string) []sql.Property {
	var out []sql.Property
	for _, n := range names {
		d, ok := cat.Lookup(n)
		if !ok {
			continue
		}
		for _, p := range d.With {
			p.Key = n + "." + p.Key
			out = append(out, p)
		}
	}
	return out
}

// build plans the statement with what is known of its source.
func (c *checked) build(stmt *sql.Statement, opts Options, facts connector.Facts) (*plan.Plan, error) {
	p, err := plan.Build(stmt, plan.Options{
		Strategy:   opts.Strategy,
		Partitions: opts.Partitions,
		CPUs:       runtime.NumCPU(),
		Sources:    map[string]connector.Facts{c.srcName: facts},
		Schemas:    map[string]connector.Schema{c.srcName: c.schema},
		Properties: c.props,
		KeepOrder:  opts.KeepOrder,
	})
	if err != nil {
		return nil, c.errorAt(err, stmt)
	}
	return p, nil
}

// errorAt returns err as a *ConfigError positioned in the SQL text: at the
// WITH entry it is about, else where it already points, else at fallback.
func (c *checked) errorAt(err error, fallback sql.Node) error {
	var pe *sql.PropertyError
	if errors.As(err, &pe) {
		if k, ok := c.fromSet(pe.Key); ok {
			// The flag is at fault, not the SQL text: no caret into it.
			if strings.HasPrefix(err.Error(), "--set ") {
				return configErr(err)
			}
			return configErr(fmt.Errorf("--set %s: %w", sql.Clip(k), err))
		}
	}
	err = sql.AtProperty(err, c.with)
	var se *sql.Error
	var fe *plan.FlagError
	switch {
	case errors.As(err, &se):
	case errors.As(err, &fe):
		// a command-line flag: the SQL text is not at fault
	case errors.As(err, &pe) && !c.inWith(pe.Key):
		// a property from --set: the SQL text is not at fault
	default:
		err = &sql.Error{Pos: fallback.Position(), Msg: err.Error()}
	}
	return configErr(c.catalog.unprefixed(err))
}

// fromSet returns the --set key that is key, compared case-insensitively.
func (c *checked) fromSet(key string) (string, bool) {
	for k := range c.set {
		if strings.EqualFold(k, key) {
			return k, true
		}
	}
	return "", false
}

// inWith reports whether key was given in WITH (and not overridden).
func (c *checked) inWith(key string) bool {
	for _, p := range c.with {
		if strings.EqualFold(p.Key, key) {
			return true
		}
	}
	// A missing option of a connector declared in WITH is the statement's.
	if name, _, ok := strings.Cut(key, "."); ok {
		for _, p := range c.with {
			if strings.EqualFold(p.Key, name+".type") {
				return true
			}
		}
	}
	return false
}

// inForce returns the WITH entries whose key set does not override.
func inForce(with []sql.Property, set map[string]string) []sql.Property {
	out := make([]sql.Property, 0, len(with))
	for _, p := range with {
		if _, ok := set[p.Key]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// JobProperties returns the job-level WITH keys of the planner, the
// executor and the job, sorted (Kafka connection defaults 'kafka.<option>'
// and 'dlq.<option>' aside).
func JobProperties() []string {
	keys := ownKeys()
	sort.Strings(keys)
	return keys
}

// ownKeys returns the WITH keys of the planner, the executor and the job.
func ownKeys() []string {
	return append(append(append([]string(nil), plan.PropertyKeys...), exec.PropertyKeys...), job.PropertyKeys...)
}

// jobKeys returns the job-level WITH keys: ownKeys, 'kafka.<option>'
// (defaults for every Kafka endpoint) and 'dlq.<option>' (the dead-letter
// topic's Kafka options).
func jobKeys() []string {
	keys := ownKeys()
	for _, o := range kafka.JobOptions() {
		keys = append(keys, kafka.JobPrefix+"."+o)
	}
	for _, o := range kafka.DeadLetterOptions() {
		keys = append(keys, kafka.DeadLetterPrefix+"."+o)
	}
	return keys
}

// sourceOptions returns the options of a source type, nil for an unknown type.
func sourceOptions(typ string) []string {
	switch typ {
	case "kafka_source":
		return kafka.SourceOptions()
	case "file_source":
		return file.SourceOptions()
	case "generator":
		return gen.SourceOptions()
	}
	return nil
}

// sinkOptions returns the options of a sink type ("" writes to stdout),
// nil for an unknown type.
func sinkOptions(typ string) []string {
	switch typ {
	case "kafka_sink":
		return kafka.SinkOptions()
	case "file_sink":
		return file.SinkOptions()
	case "stdout", "":
		return stdout.Options()
	}
	return nil
}

// endpoint is a source or sink the statement names.
type endpoint struct {
	kind, name string // kind is "source" or "sink"
	options    []string
}

// endpoints lists the sources and the sink the statement names.
func endpoints(stmt *sql.Statement, props map[string]string) []endpoint {
	sel := stmt.Select()
	eps := []endpoint{{"source", sel.From.Name, sourceOptions(lookup(props, sel.From.Name+".type"))}}
	for _, j := range sel.Joins {
		eps = append(eps, endpoint{"source", j.Source.Name, sourceOptions(lookup(props, j.Source.Name+".type"))})
	}
	if stmt.Name != "" {
		eps = append(eps, endpoint{"sink", stmt.Name, sinkOptions(lookup(props, stmt.Name+".type"))})
	}
	return eps
}

// lookup returns the value of key in props, matched case-insensitively.
func lookup(props map[string]string, key string) string {
	if v, ok := props[key]; ok {
		return v
	}
	for k, v := range props {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// checkKeys refuses a WITH property that nothing reads: every key must be
// a job-level key or '<name>.<option>' of a source or the sink the
// statement names. The options of each source and sink are checked by its
// connector; this catches keys of names the statement does not have
// ('trade.path' when the source is trades) and misspelt job keys. A key
// given only with --set applies to every statement of the file, so one of
// a name this statement does not have is left to CheckSet.
func checkKeys(stmt *sql.Statement, props, set map[string]string) error {
	job := jobKeys()
	eps := endpoints(stmt, props)
	names := make([]string, len(eps))
	for i, ep := range eps {
		names[i] = ep.name
	}
	// The statement's own keys in the order written, so that the first
	// unknown one is reported; then those of DDL declarations and --set.
	var keys []string
	seen := map[string]bool{}
	for _, p := range stmt.Select().With {
		if _, ok := props[p.Key]; ok && !seen[p.Key] {
			keys, seen[p.Key] = append(keys, p.Key), true
		}
	}
	for _, k := range sortedKeys(props) {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if knownKey(k, job, names) {
			continue
		}
		if _, fromSet := set[k]; fromSet {
			if _, inWith := stmt.Select().Property(k); !inWith {
				continue
			}
		}
		if err := unnamedSink(stmt, k, props); err != nil {
			return err
		}
		return unknownKey(k, false, job, eps)
	}
	return nil
}

// unnamedSink is the error for the key k of a sink that a statement without
// a name declares ('out.type'='file_sink' after a bare SELECT), or nil: the
// rows of a bare SELECT go to stdout, and a sink is written by naming it.
func unnamedSink(stmt *sql.Statement, k string, props map[string]string) error {
	name, _, ok := strings.Cut(k, ".")
	typeKey := name + ".type"
	if !ok || stmt.Name != "" || !slices.Contains(sinkTypes, lookup(props, typeKey)) || lookup(props, typeKey) == "stdout" {
		return nil
	}
	return &sql.PropertyError{Key: typeKey, Msg: fmt.Sprintf("WITH %s declares the sink %s, but this SELECT has no name, so nothing writes to it "+
		"(its rows go to stdout): write CREATE STREAM %s AS SELECT ...", sql.QuoteProperty(typeKey), name, name)}
}

// CheckSet checks the --set keys of a file whose statements read and write
// names (including the sources its DDL declares): each must be a job-level
// key or '<name>.<option>' of one of names.
func CheckSet(set map[string]string, names []string) error {
	job := jobKeys()
	for _, k := range sortedKeys(set) {
		if knownKey(k, job, names) {
			continue
		}
		_, opt, _ := strings.Cut(k, ".")
		var eps []endpoint
		seen := map[string]bool{}
		for _, n := range names {
			if ln := strings.ToLower(n); !seen[ln] {
				seen[ln] = true
				eps = append(eps, endpoint{kind: "source or sink", name: n, options: []string{opt}})
			}
		}
		return configErr(unknownKey(k, true, job, eps))
	}
	return nil
}

// sortedKeys returns m's keys in order, so errors name the same key on
// every run.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// knownKey reports whether k is one of the job-level keys job or
// '<name>.<option>' of one of names (case-insensitively).
func knownKey(k string, job, names []string) bool {
	lk := strings.ToLower(k)
	for _, j := range job {
		if lk == j {
			return true
		}
	}
	for _, n := range names {
		if strings.HasPrefix(lk, strings.ToLower(n)+".") {
			return true
		}
	}
	return false
}

// unknownKey is the error for a WITH key nothing reads, naming the valid
// keys and the closest one.
func unknownKey(key string, fromSet bool, job []string, eps []endpoint) error {
	candidates := append([]string(nil), job...)
	var named []string
	for _, ep := range eps {
		named = append(named, ep.kind+" "+ep.name)
		for _, o := range ep.options {
			candidates = append(candidates, ep.name+"."+o)
		}
	}
	msg := fmt.Sprintf("unknown WITH property %s", sql.QuoteProperty(sql.Clip(key)))
	if fromSet {
		msg = fmt.Sprintf("--set %s: unknown property", sql.Clip(key))
	}
	if hint := sql.DidYouMean(key, candidates, sql.QuoteProperty); hint != "" {
		msg += "; " + hint
	}
	own := JobProperties()
	for i, k := range own {
		own[i] = sql.QuoteProperty(k)
	}
	msg += fmt.Sprintf(" (valid: the job properties %s, 'kafka.<option>' and 'dlq.<option>' for Kafka connections; '<name>.<option>' for %s)",
		strings.Join(own, ", "), strings.Join(named, " and "))
	return &sql.PropertyError{Key: key, Msg: msg}
}

// checkSource checks the options of the source called name without
// opening it, and returns the columns it is known to have (nil when only the
// data can tell).
func checkSource(name string, props map[string]string) ([]string, error) {
	switch typ := lookup(props, name+".type"); typ {
	case "kafka_source":
		_, err := kafka.NewSource(name, props) // does not connect
		return nil, err
	case "file_source":
		return nil, file.CheckSource(name, props)
	case "generator":
		if _, err := gen.ParseOptions(name, props); err != nil {
			return nil, err
		}
		return gen.Columns(lookup(props, name+".generator"))
	default:
		return nil, checkType(name, typ)
	}
}

// checkType is the error for the source name of type typ, which is none
// or unknown.
func checkType(name, typ string) error {
	if typ == "" {
		return fmt.Errorf("source %q has no type: set WITH ('%s.type'='...') to one of %s", name, name, strings.Join(sourceTypes, ", "))
	}
	return badType(name, typ, "source", sourceTypes)
}

// sink opens the statement's sink: its in-process output, else the sink
// its properties declare. It reports whether the rows go to stdout.
func (c *checked) sink(stmt *sql.Statement, opts Options) (connector.Sink, bool, error) {
	if opts.InProcess != nil && stmt.Name != "" {
		if s := opts.InProcess.Sink(stmt.Name); s != nil {
			return s, false, nil
		}
	}
	s, err := openSink(stmt.Name, c.props, opts.Stdout, c.kafkaOpts)
	if err != nil {
		// A nil interface, not a nil *Sink in one: the caller's cleanup
		// must not call Abort on it.
		return nil, false, c.errorAt(err, stmt)
	}
	return s, writesStdout(stmt.Name, c.props), nil
}

// checkSink checks the options of the statement's target name without
// opening it ("" is a bare SELECT, which writes to stdout).
func checkSink(name string, props map[string]string) error {
	if name == "" {
		return nil
	}
	switch typ := lookup(props, name+".type"); typ {
	case "kafka_sink":
		_, err := kafka.NewSink(name, props) // does not connect
		return err
	case "file_sink":
		_, err := file.NewSink(name, props)
		return err
	case "stdout", "":
		err := stdout.CheckOptions(name, props)
		if err != nil && typ == "" {
			err = fmt.Errorf("%w; %s has no '%s.type', so its rows go to stdout", err, name, name)
		}
		return err
	default:
		return badType(name, typ, "sink", sinkTypes)
	}
}

// checkKeyFormat refuses a Kafka sink's '<name>.key.format' when the
// statement's rows are not keyed (by a PRIMARY KEY, else the GROUP BY
// columns, or a window): its messages have no key to encode, and a reader of
// the topic in that key format would find no key subject (as Flink refuses
// 'key.format' without 'key.fields').
func checkKeyFormat(name string, props map[string]string, keyed bool) error {
	if name == "" || keyed || lookup(props, name+".type") != "kafka_sink" {
		return nil
	}
	key := name + ".key.format"
	for k := range props {
		if strings.EqualFold(k, key) {
			return &sql.PropertyError{Key: k, Msg: fmt.Sprintf("kafka sink %q: option '%s' is set, but the statement's rows have no key columns "+
				"(a PRIMARY KEY, else the GROUP BY columns), so its messages have no key: remove the option, or give the statement a key", name, key)}
		}
	}
	return nil
}

// badType is the error for an unknown '<name>.type'.
func badType(name, typ, kind string, valid []string) error {
	key := name + ".type"
	msg := fmt.Sprintf("WITH %s: unknown %s type %q", sql.QuoteProperty(key), kind, sql.Clip(typ))
	if c, ok := sql.Closest(typ, valid); ok {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	msg += " (valid: " + strings.Join(valid, ", ") + ")"
	return &sql.PropertyError{Key: key, InValue: true, Msg: msg}
}

// checkDLQ checks the options of the Kafka dead-letter topic, when
// 'dlq.topic' is set, without connecting: its brokers must be known, from
// its own 'dlq.<option>' keys or, when kafkaConn, the job's Kafka source or
// sink.
func checkDLQ(props map[string]string, kafkaConn bool) error {
	topic := strings.TrimSpace(props[job.PropDLQTopic])
	if topic != "" && strings.TrimSpace(props[job.PropDLQPath]) != "" {
		return nil // two queues: job.FromPlan says so
	}
	if topic == "" {
		if strings.TrimSpace(props[job.PropDLQBrokers]) != "" {
			return &sql.PropertyError{Key: job.PropDLQBrokers,
				Msg: fmt.Sprintf("WITH '%s' is set but '%s' is not: name the dead-letter topic", job.PropDLQBrokers, job.PropDLQTopic)}
		}
		return nil
	}
	var fallback *kafka.Conn
	if kafkaConn {
		fallback = &kafka.Conn{} // the Kafka source's or sink's, as openDLQ takes it
	}
	if _, ok, err := kafka.DeadLetterConn(props, fallback); err != nil {
		return err
	} else if !ok {
		return &sql.PropertyError{Key: job.PropDLQTopic, InValue: true,
			Msg: fmt.Sprintf("WITH '%s'='%s': no Kafka brokers known for the dead-letter topic: set '%s' "+
				"(the job has no Kafka source or sink to take them from)", job.PropDLQTopic, topic, job.PropDLQBrokers)}
	}
	_, err := kafka.DeadLetterTopicSpec(props)
	return err
}

// Schemas remembers the schemas found for sources, so that checking the
// statements of a file and then preparing them infers each source's
// schema once. A nil *Schemas remembers nothing. It is safe for concurrent
// use.
type Schemas struct {
	mu sync.Mutex
	m  map[string]foundSchema
}

// foundSchema is a source's schema and its partition count as known once
// the schema was found (0: unknown): a Kafka source lists its topic to
// read a sample.
type foundSchema struct {
	schema     connector.Schema
	partitions int
}

// partitionsTold is a source that can be told its partition count, which
// another source over the same topic listed to infer the schema that
// Schemas gives it, so that its Facts (EXPLAIN's sources line and the
// repartition topic's size) know it as the first's did.
type partitionsTold interface{ TellPartitions(n int) }

// NewSchemas returns an empty Schemas.
func NewSchemas() *Schemas { return &Schemas{m: map[string]foundSchema{}} }

// find returns the schema of the source name (see sourceSchema), from s
// when it was found before for the same properties (src is then told the
// partition count found with it).
func (s *Schemas) find(ctx context.Context, sel *sql.Select, name string, decl *sql.Statement, props map[string]string, src connector.Source, noInfer bool) (connector.Schema, error) {
	if s == nil {
		return sourceSchema(ctx, sel, name, decl, props, src, noInfer)
	}
	key := schemaKey(sel, name, props, noInfer)
	s.mu.Lock()
	f, ok := s.m[key]
	s.mu.Unlock()
	if ok {
		if t, ok := src.(partitionsTold); ok && f.partitions > 0 {
			t.TellPartitions(f.partitions)
		}
		return f.schema, nil
	}
	sch, err := sourceSchema(ctx, sel, name, decl, props, src, noInfer)
	if err == nil {
		f = foundSchema{schema: sch}
		if src != nil {
			f.partitions = src.Facts().Partitions
		}
		s.mu.Lock()
		s.m[key] = f
		s.mu.Unlock()
	}
	return sch, err
}

// schemaKey is what sourceSchema's answer depends on: the source's name
// and properties, the event-time settings and the window's time column.
func schemaKey(sel *sql.Select, name string, props map[string]string, noInfer bool) string {
	var parts []string
	prefix := strings.ToLower(name) + "."
	for k, v := range props {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, prefix) || strings.HasPrefix(lk, "event.time.") {
			parts = append(parts, lk+"\x00"+v)
		}
	}
	sort.Strings(parts)
	if sel.Window != nil {
		parts = append(parts, "window\x00"+sel.Window.TimeColumn)
	}
	return fmt.Sprintf("%s\x01%t\x01%s", strings.ToLower(name), noInfer, strings.Join(parts, "\x01"))
}
