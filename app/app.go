// Package app runs the statements of one SQL file as an application: one
// job per statement, all running at once, chained by name. A statement
// reading x (FROM x) where another one writes x (CREATE STREAM x AS ...)
// gets its rows in process when x has no external sink type, reads the
// Kafka topic when x is a Kafka sink, and reads the file once its writer
// has finished when x is a file sink.
package app

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// Link kinds: how rows travel from a writing statement to a reading one.
const (
	// InProcess rows go through bounded in-memory queues.
	InProcess = "in-process"
	// Kafka rows go through the Kafka topic the writer produces to.
	Kafka = "kafka"
	// File rows go through the writer's file, read after the writer ends.
	File = "file"
)

// Failure policies ('app.on.failure').
const (
	// StopOnFailure stops the whole application when a job fails.
	StopOnFailure = "stop"
	// ContinueOnFailure lets the other jobs run on.
	ContinueOnFailure = "continue"
)

// OnFailureKey is the WITH property that sets the failure policy.
const OnFailureKey = "app.on.failure"

// App is an application: the statements of one file and how they connect.
type App struct {
	// Name names the application (the file's base name without .sql).
	Name string
	// Nodes are the jobs, writers before their readers.
	Nodes []*Node
	// Edges are the links between jobs.
	Edges []Edge
	// OnFailure is StopOnFailure or ContinueOnFailure.
	OnFailure string
	// Catalog holds the sources the file declares with DDL
	// (CREATE STREAM|TABLE name (...) WITH (...)); they are no jobs.
	Catalog *runner.Catalog
	// undefined is the error of the first read of a name that nothing
	// declares or writes.
	undefined error
	// file and src are what the statements were parsed from.
	file, src string
	// schemas remembers the schemas Check inferred, so that Plans (EXPLAIN)
	// reads each sample once.
	schemas *runner.Schemas
}

// Undefined returns a positioned error for the first name read that no
// statement writes and no property declares, or nil. Start refuses such an
// application; an EXPLAIN, which opens nothing, need not.
func (a *App) Undefined() error { return a.undefined }

// Node is one statement of an application, run as one job.
type Node struct {
	// Name is the job's name: the statement's target, else its source
	// (with the statement's line appended when another job has that name).
	Name string
	// Stmt is the statement, without its 'app.*' properties.
	Stmt *sql.Statement
	// Reads are the names the statement reads (FROM, JOIN).
	Reads []string
	// Writes is the statement's target ("" for a bare SELECT).
	Writes string
	// SinkType is the target's '<name>.type' ("" when it has none).
	SinkType string
	// Inputs are the edges into this job; Outputs the edges out of it.
	Inputs, Outputs []*Edge
	// bootstraps is set when the job JOINs a table written in process and
	// reads it whole before its stream flows: it is prepared once its
	// writers run.
	bootstraps bool
}

// Edge is a link from the job writing a name to a job reading it.
type Edge struct {
	// From and To name the writing and the reading job.
	From string `json:"from"`
	To   string `json:"to"`
	// Stream is the name written and read.
	Stream string `json:"stream"`
	// Via is InProcess, Kafka or File.
	Via string `json:"via"`
}

// errorAt returns a positioned error at pos, showing its line of src.
func errorAt(file, src string, pos sql.Pos, format string, args ...any) error {
	return sql.Locate(sql.Errorf(pos, format, args...), file, src)
}

// New builds the application of stmts parsed from file with text src
// (used to show the offending line in errors; it may be empty). set holds
// --set overrides, which also count as declarations (see Undefined). Two
// statements writing one name, a cycle and a bad application property are
// errors at the offending statement, name or property.
func New(file, src string, stmts []*sql.Statement, set map[string]string) (*App, error) {
	a := &App{Name: appName(file), OnFailure: StopOnFailure, file: file, src: src, schemas: runner.NewSchemas()}
	cat, err := runner.NewCatalog(stmts)
	if err != nil {
		return nil, sql.Locate(err, file, src)
	}
	a.Catalog = cat
	writers := map[string]*Node{}
	names := map[string]int{}
	for _, s := range stmts {
		if s.IsDDL() {
			continue
		}
		n, policy, err := node(file, src, s)
		if err != nil {
			return nil, err
		}
		if policy != "" {
			a.OnFailure = policy
		}
		if n.Writes != "" {
			key := strings.ToLower(n.Writes)
			if w := writers[key]; w != nil {
				return nil, errorAt(file, src, s.Pos, "%s is written by two statements (the other at line %d); give each its own name", n.Writes, w.Stmt.Line)
			}
			writers[key] = n
		}
		names[strings.ToLower(n.Name)]++
		a.Nodes = append(a.Nodes, n)
	}
	for _, n := range a.Nodes {
		if names[strings.ToLower(n.Name)] > 1 && n.Writes == "" {
			n.Name = fmt.Sprintf("%s_%d", n.Name, n.Stmt.Line)
		}
	}
	groups := map[string]*Node{} // Kafka topic and consumer group -> the first job reading them
	for _, n := range a.Nodes {
		for i, r := range n.Reads {
			w := writers[strings.ToLower(r)]
			if g := kafkaGroup(n.Stmt.Query, r, cat, set); w == nil && g != "" {
				if first := groups[g]; first != nil && first != n {
					topic, group, _ := strings.Cut(g, "\x00")
					return nil, errorAt(file, src, readPos(n.Stmt.Query, i), "%s reads topic %q in consumer group %q, as the statement at line %d does: the group would split the topic's partitions between the two, so each would read only part of it; give each statement its own '%s.group.id'", r, topic, group, first.Stmt.Line, r)
				}
				groups[g] = n
			}
			if _, ok := cat.Lookup(r); ok && w != nil {
				return nil, errorAt(file, src, readPos(n.Stmt.Query, i), "%s is declared by DDL and written by the statement at line %d; give one of them another name", r, w.Stmt.Line)
			}
			if w == nil {
				if _, ok := cat.Lookup(r); !ok && !declared(n.Stmt.Query, r, set) && a.undefined == nil {
					a.undefined = errorAt(file, src, readPos(n.Stmt.Query, i), "source %q has no type and no statement writes it: set WITH ('%s.type'='...') to one of kafka_source, file_source, generator%s", r, r, sourceHint(r, cat, writers, n.Stmt.Query))
				}
				continue
			}
			e := &Edge{From: w.Name, To: n.Name, Stream: r, Via: via(w.SinkType)}
			if e.Via == "" {
				return nil, errorAt(file, src, readPos(n.Stmt.Query, i), "%s is written by the statement at line %d to a %s sink, which cannot be read", r, w.Stmt.Line, w.SinkType)
			}
			if i > 0 && e.Via == InProcess && bootstrapped(n.Stmt.Query, r, set) {
				n.bootstraps = true
			}
			w.Outputs = append(w.Outputs, e)
			n.Inputs = append(n.Inputs, e)
		}
	}
	for k, v := range set {
		if !isAppKey(k) {
			continue
		}
		policy, err := failurePolicy(k, v)
		if err != nil {
			return nil, fmt.Errorf("--set %s=%s: %w", k, v, err)
		}
		a.OnFailure = policy // --set wins over WITH
	}
	order, err := a.sorted(file, src)
	if err != nil {
		return nil, err
	}
	a.Nodes = order
	for _, n := range a.Nodes {
		for _, e := range n.Outputs {
			a.Edges = append(a.Edges, *e)
		}
	}
	return a, nil
}

// isAppKey reports whether the property key is an application's
// ('app.<option>'), which no job reads.
func isAppKey(key string) bool { return strings.HasPrefix(strings.ToLower(key), "app.") }

// failurePolicy returns the policy the application property key sets to
// value: key must be 'app.on.failure', value stop or continue.
func failurePolicy(key, value string) (string, error) {
	if !strings.EqualFold(key, OnFailureKey) {
		return "", fmt.Errorf("unknown application property %q; valid: %s", key, OnFailureKey)
	}
	switch v := strings.ToLower(strings.TrimSpace(value)); v {
	case StopOnFailure, ContinueOnFailure:
		return v, nil
	}
	return "", fmt.Errorf("%s: unknown value %q; valid: %s, %s", OnFailureKey, value, StopOnFailure, ContinueOnFailure)
}

// jobSet returns the --set overrides that are the jobs' (not 'app.*').
func jobSet(set map[string]string) map[string]string {
	out := make(map[string]string, len(set))
	for k, v := range set {
		if !isAppKey(k) {
			out[k] = v
		}
	}
	return out
}

// node returns the application node of s and the failure policy s sets, if any.
func node(file, src string, s *sql.Statement) (*Node, string, error) {
	q := *s.Query
	q.With = nil
	policy := ""
	for _, p := range s.Query.With {
		if !isAppKey(p.Key) {
			q.With = append(q.With, p)
			continue
		}
		v, err := failurePolicy(p.Key, p.Value)
		if err != nil {
			return nil, "", errorAt(file, src, p.Pos, "%s", err)
		}
		policy = v
	}
	stmt := *s
	stmt.Query = &q
	n := &Node{Stmt: &stmt, Writes: s.Name, Name: s.Name}
	n.Reads = append(n.Reads, q.From.Name)
	for _, j := range q.Joins {
		n.Reads = append(n.Reads, j.Source.Name)
	}
	if n.Name == "" {
		n.Name = q.From.Name
	}
	if s.Name != "" {
		n.SinkType = strings.ToLower(property(&q, s.Name+".type"))
	}
	return n, policy, nil
}

// output returns the schema of what n writes, compiled as prog: its
// output columns with their types and, for a CREATE TABLE whose query has
// a key (GROUP BY k, a PRIMARY KEY column), that key as the primary key:
// the rows are a changelog, the latest row of each key its value.
func (n *Node) output(prog *exec.Program) connector.Schema {
	s := connector.Schema{Columns: prog.OutputSchema(), Origin: connector.SchemaStatement}
	if n.Stmt.Kind == sql.CreateTable {
		for _, slot := range prog.KeySlots() {
			s.PrimaryKey = append(s.PrimaryKey, s.Columns.Name(slot))
		}
		s.Windowed = prog.WindowedRows()
	}
	return s
}

// via says how a reader gets what a sink of type typ writes ("" for none).
func via(typ string) string {
	switch typ {
	case "", "stdout":
		return InProcess
	case "kafka_sink":
		return Kafka
	case "file_sink":
		return File
	}
	return ""
}

// declared reports whether the statement (or --set) gives name a type.
func declared(q *sql.Select, name string, set map[string]string) bool {
	if property(q, name+".type") != "" {
		return true
	}
	for k := range set {
		if strings.EqualFold(k, name+".type") {
			return true
		}
	}
	return false
}

// sourceHint is "; did you mean ...?" for an undefined source name, among
// the sources declared by DDL, the streams statements write and the names
// q's WITH gives a type; "" when none is close.
func sourceHint(name string, cat *runner.Catalog, writers map[string]*Node, q *sql.Select) string {
	known := cat.Names()
	for _, w := range writers {
		known = append(known, w.Writes)
	}
	for _, p := range q.With {
		if name, ok := strings.CutSuffix(p.Key, ".type"); ok && !strings.Contains(name, ".") {
			known = append(known, name)
		}
	}
	slices.Sort(known)
	if h := sql.DidYouMean(name, known, strconv.Quote); h != "" {
		return "; " + h
	}
	return ""
}

// kafkaGroup returns "<topic>\x00<group.id>" when q reads name as a Kafka
// source in a consumer group (from --set, q's WITH or name's DDL), else "".
func kafkaGroup(q *sql.Select, name string, cat *runner.Catalog, set map[string]string) string {
	ddl := cat.Properties(name)
	value := func(key string) string {
		for k, v := range set {
			if strings.EqualFold(k, key) {
				return v
			}
		}
		if v := property(q, key); v != "" {
			return v
		}
		for k, v := range ddl {
			if strings.EqualFold(k, key) {
				return v
			}
		}
		return ""
	}
	group := strings.TrimSpace(value(name + ".group.id"))
	if !strings.EqualFold(strings.TrimSpace(value(name+".type")), "kafka_source") || group == "" {
		return ""
	}
	topic := strings.TrimSpace(value(name + ".topic.name"))
	if topic == "" {
		topic = name
	}
	return topic + "\x00" + group
}

// bootstrapped reports whether q joins name as a table read whole before
// the stream flows (no '<name>.bootstrap'='false').
func bootstrapped(q *sql.Select, name string, set map[string]string) bool {
	value := func(key string) string {
		for k, v := range set {
			if strings.EqualFold(k, key) {
				return v
			}
		}
		return property(q, key)
	}
	return !strings.EqualFold(strings.TrimSpace(value(name+".bootstrap")), "false")
}

// readPos returns the position of the i-th name q reads.
func readPos(q *sql.Select, i int) sql.Pos {
	if i == 0 {
		return q.From.Pos
	}
	return q.Joins[i-1].Source.Pos
}

// property returns q's WITH value of key (case-insensitive), or "".
func property(q *sql.Select, key string) string {
	for _, p := range q.With {
		if strings.EqualFold(p.Key, key) {
			return p.Value
		}
	}
	return ""
}

// sorted returns the nodes with every writer before its readers, keeping
// the file's order otherwise; a cycle is an error at the read closing it.
func (a *App) sorted(file, src string) ([]*Node, error) {
	const (
		unseen = iota
		active
		done
	)
	byName := map[string]*Node{}
	for _, n := range a.Nodes {
		byName[n.Name] = n
	}
	state := map[*Node]int{}
	var order []*Node
	var visit func(n *Node, path []string) error
	visit = func(n *Node, path []string) error {
		switch state[n] {
		case done:
			return nil
		case active:
			return nil // reported by the caller that closed the cycle
		}
		state[n] = active
		path = append(path, n.Name)
		for _, e := range n.Inputs {
			w := byName[e.From]
			if state[w] == active {
				i := slices.Index(n.Reads, e.Stream)
				cycle := append(path[slices.Index(path, w.Name):], w.Name)
				return errorAt(file, src, readPos(n.Stmt.Query, max(i, 0)), "%s forms a cycle: %s", e.Stream, strings.Join(cycle, " -> "))
			}
			if err := visit(w, path); err != nil {
				return err
			}
		}
		state[n] = done
		order = append(order, n)
		return nil
	}
	for _, n := range a.Nodes {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Node returns the node called name, or nil.
func (a *App) Node(name string) *Node {
	for _, n := range a.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// appName is the application's name for file: its base name without the
// extension ("app" for an empty name).
func appName(file string) string {
	base := file[strings.LastIndexAny(file, `/\`)+1:]
	base = strings.TrimSuffix(base, ".sql")
	if base == "" || base == "-e" || strings.HasPrefix(base, "<") {
		return "app"
	}
	return base
}
