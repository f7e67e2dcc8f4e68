// Package plan analyses a statement, derives the distribution its result
// needs, chooses and validates a partitioning strategy, and explains the
// decision (EXPLAIN text and JSON).
package plan

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/sql"
)

// DefaultBatchSize is the batch size when @batch_size is absent.
const DefaultBatchSize = 1024

// Where a choice came from.
const (
	FromAuto       = "auto"
	FromFlag       = "flag"
	FromAnnotation = "annotation"
	FromWith       = "with"
	FromCPUs       = "cpus"
)

// Options are the planner's inputs besides the statement.
type Options struct {
	// Strategy is the --strategy flag ("" when not given).
	Strategy string
	// Partitions is the --partitions flag (0 when not given).
	Partitions int
	// CPUs is the CPU count (0: runtime.NumCPU()).
	CPUs int
	// Sources are the facts connectors observed, by source name; may be nil.
	// They take precedence over WITH '<src>.partition.key' declarations.
	Sources map[string]connector.Facts
	// Schemas are the sources' schemas, by source name; may be nil. EXPLAIN
	// shows them.
	Schemas map[string]connector.Schema
	// Properties are the statement's WITH properties merged with those of
	// its sources' DDL declarations; nil means the statement's own WITH.
	Properties map[string]string
	// TableRows are the sizes of table inputs (rows after the bootstrap, or
	// an upper bound), by source name; a table missing here has an unknown size.
	TableRows map[string]int64
	// StaticTables says that every table input is read whole before the
	// stream flows and no longer changes (bootstrapped files): when the
	// statement would otherwise run on one partition (a GROUP BY on a
	// table's column), the tables may be joined as the stream is read, and
	// the joined rows routed by that column.
	StaticTables bool
	// KeepOrder says the statement's rows feed a reader that takes them in
	// order (an in-process stream of an application): a stateless statement
	// then keeps each source partition whole and in order on one worker
	// instead of rotating batches, so the reader sees the same order, and
	// so the same late records, on every run.
	KeepOrder bool
	// noStageOneJoin keeps the tables from being joined as the stream is
	// read for a repartitioned run's stage 1 (Build plans again with it
	// when the statement is not repartitioned after all).
	noStageOneJoin bool
}

// Plan is the planner's decision for one statement.
type Plan struct {
	// Statement is the planned statement.
	Statement *sql.Statement
	// Name is the statement's target name, else its FROM source's name.
	Name string
	// Analysis is what the statement does.
	Analysis Analysis
	// Requirement is the distribution the statement's result needs.
	Requirement partition.Requirement
	// Strategy is the chosen strategy (a fresh instance).
	Strategy partition.Strategy
	// RoutingKeys are the display names of the routing keys (Requirement.Keys).
	RoutingKeys []string
	// KeyExprs are the routing keys over the FROM source's records.
	KeyExprs []sql.Expr
	// Inputs are the FROM source and each JOIN source, with their routing
	// keys and partitioning facts.
	Inputs []Input
	// ChoiceSource is where the strategy came from: auto, flag, annotation or with.
	ChoiceSource string
	// Reason says in one sentence why the strategy was chosen.
	Reason string
	// Rejected lists the strategies that would change the result, and why.
	Rejected []Rejection
	// Partitions is the number of partition workers.
	Partitions int
	// PartitionsOrigin is where Partitions came from: flag, annotation or cpus.
	PartitionsOrigin string
	// CPUs is the CPU count used.
	CPUs int
	// BatchSize is the records per hand-over (@batch_size, default 1024).
	BatchSize int
	// Stages are the stream-stream joins of a statement, in order.
	Stages []Stage
	// FinalKeys, when set, re-route the rows of several stream-stream
	// joins on these keys (over the joined row) before the query after
	// them, whose groups need them together; FinalWhy says why.
	FinalKeys []sql.Expr
	FinalWhy  string
	// Repartition is set when the statement runs in two stages joined by a
	// repartition topic (see ScaleOut).
	Repartition *Repartition
	// unsplittable says why a statement that needs the whole source in
	// one process is not repartitioned
	unsplittable string
	// grouped: the FROM source is read in a consumer group
	grouped bool
	// tableKey: the statement needs one partition only because its
	// routing key reads a column of a table; joined with the stream
	// before routing, its rows hash (joinedRequirement)
	tableKey bool
	// props are the planner's Options.Properties
	props map[string]string
	// across is the distribution that splitting the statement's streams
	// over the processes of a consumer group needs: Requirement without
	// the tables, which every process reads whole
	across partition.Requirement
}

// Input is one source of a statement.
type Input struct {
	// Name and Alias are as written in FROM or JOIN.
	Name, Alias string
	// Type is the declared '<name>.type', if any.
	Type string
	// KeyExprs are the routing keys over this input's records (for a join,
	// its side of the equalities); nil when the requirement has no keys.
	KeyExprs []sql.Expr
	// Facts are the source's partitioning facts (observed, else declared).
	Facts connector.Facts
	// Partitioned is set for sources with their own partitions (Kafka, a
	// known partition key or count).
	Partitioned bool
	// Schema is the source's schema, when known.
	Schema connector.Schema
	// Role is "stream", or "table" for a JOIN source with a primary key.
	Role string
	// PrimaryKey are a table's key columns.
	PrimaryKey []string
	// Rows is a table's size when known (see Options.TableRows), else -1.
	Rows int64
	// Broadcast is set for a table every worker holds whole; ByPartition
	// for a table split by source partition like the stream (aligned);
	// Exchange for a table split by its own key, not the stream's routing
	// key, whose rows each stream row looks up in the shard that holds its
	// key (a multi-way join on several keys), and for a stream joined
	// after an exchange between stream-stream joins (Stage), routed on its
	// own key; JoinedAtSource for a table looked up as the stream is read,
	// before routing (Options.StaticTables).
	Broadcast, ByPartition, Exchange, JoinedAtSource bool
	// Routing says how the input reaches the workers ("always_hash on k",
	// "broadcast", ...) and Why says why.
	Routing, Why string
}

// Rejection is one strategy that would change the statement's result.
type Rejection struct {
	Strategy string `json:"strategy"`
	Why      string `json:"why"`
}

// Build plans one statement. It fails on an unknown strategy name, on an
// explicit strategy that would change the result, and on a bad annotation.
func Build(stmt *sql.Statement, opts Options) (*Plan, error) {
	if stmt == nil || stmt.Query == nil {
		return nil, fmt.Errorf("plan: statement has no query")
	}
	sel := stmt.Query
	r := newResolver(sel)
	p := &Plan{Statement: stmt, Name: stmt.Name, Analysis: analyse(stmt, r), props: opts.Properties}
	p.Analysis.Retracts = retracts(sel, opts)
	if p.Name == "" {
		p.Name = sel.From.Name
	}
	p.Inputs = inputs(sel, opts)
	if err := p.roles(sel, opts); err != nil {
		return nil, err
	}
	req, keys, chained := p.planStages(sel, r, false)
	if chained {
		p.lookupTables()
	} else {
		req, keys = requirement(sel, r, p.routed(sel, r))
		if req.Kind == partition.Single && p.streamsOnly() {
			// one stream-stream join, whose query after it needs another
			// key: the joined rows are exchanged on it
			stages := p.Stages
			if sreq, skeys, _ := p.planStages(sel, r, true); p.FinalKeys != nil {
				req, keys, chained = sreq, skeys, true
			} else {
				p.Stages = stages
			}
		}
	}
	if req.Kind == partition.Single {
		_, _, p.tableKey = p.joinedRequirement(sel, r)
	}
	if req.Kind == partition.Single && (opts.StaticTables || p.joinsInStageOne(sel, opts)) {
		req, keys = p.joinAtSource(sel, r, req, keys)
	}
	switch {
	case len(p.Inputs) == 1 && p.Inputs[0].Facts.Key != nil:
		req.SourceKey = p.Inputs[0].Facts.Key
	case len(p.Inputs) > 1 && req.Kind == partition.Hash:
		req.SourceKey = p.joinSourceKey(keys, r)
	}
	p.Requirement, p.RoutingKeys, p.KeyExprs = req, req.Keys, keys
	p.across = p.acrossProcesses(sel, r)
	for i := range p.Inputs {
		if in := &p.Inputs[i]; !(chained && in.Role == RoleStream && in.Exchange) {
			in.KeyExprs = inputKeys(sel, r, keys, i)
		}
	}
	if err := p.counts(opts); err != nil {
		return nil, err
	}
	if err := p.choose(opts); err != nil {
		return nil, err
	}
	p.placeInputs(sel, r)
	if err := p.planRepartition(opts); err != nil {
		return nil, err
	}
	if p.Repartition == nil && !opts.StaticTables && p.joinedAtSource() {
		// the tables were joined as the stream is read only so that
		// stage 1 of a repartitioned run joins them; one process joins
		// tables that change on its workers
		opts.noStageOneJoin = true
		return Build(stmt, opts)
	}
	p.stageOneJoins()
	return p, nil
}

// inputs gathers each source's type and partitioning facts.
func inputs(sel *sql.Select, opts Options) []Input {
	srcs := []sql.Source{sel.From}
	for _, j := range sel.Joins {
		srcs = append(srcs, j.Source)
	}
	out := make([]Input, len(srcs))
	for i, s := range srcs {
		in := Input{Name: s.Name, Alias: s.Alias, Type: property(sel, opts, s.Name+".type")}
		in.Facts = opts.Sources[s.Name]
		in.Schema = opts.Schemas[s.Name]
		// A declared key the source's data contradicted (Note says why) is
		// not taken back from the WITH clause.
		if in.Facts.Key == nil && in.Facts.Note == "" {
			if decl := property(sel, opts, s.Name+".partition.key"); decl != "" {
				for _, k := range strings.Split(decl, ",") {
					if k = strings.TrimSpace(k); k != "" {
						in.Facts.Key = append(in.Facts.Key, k)
					}
				}
				in.Facts.Origin = "declared"
			}
		}
		in.Partitioned = strings.EqualFold(in.Type, "kafka_source") || in.Facts.Partitions > 1 || len(in.Facts.Key) > 0
		out[i] = in
	}
	return out
}

// property returns a WITH value by key, comparing keys case-insensitively.
func property(sel *sql.Select, opts Options, key string) string {
	for k, v := range opts.Properties {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	for _, p := range sel.With {
		if strings.EqualFold(p.Key, key) {
			return p.Value
		}
	}
	return ""
}

// inputKeys returns input i's side of each routing key: the member of the
// key's join-equivalence class that reads input i.
func inputKeys(sel *sql.Select, r *resolver, keys []sql.Expr, i int) []sql.Expr {
	if len(keys) == 0 {
		return nil
	}
	if i == 0 {
		return keys
	}
	out := make([]sql.Expr, 0, len(keys))
	for _, k := range keys {
		out = append(out, counterpart(sel, r, k, i))
	}
	return out
}

// counterpart finds the expression of input i that the joins equate with k
// (transitively). requirement only keeps keys every input can compute.
func counterpart(sel *sql.Select, r *resolver, k sql.Expr, i int) sql.Expr {
	if constant(k) {
		return k
	}
	seen := map[string]sql.Expr{r.id(k): k}
	for changed := true; changed; {
		changed = false
		for _, j := range sel.Joins {
			for _, p := range equalities(j.On, r) {
				_, l := seen[r.id(p.l)]
				_, rr := seen[r.id(p.r)]
				if l && !rr {
					seen[r.id(p.r)], changed = p.r, true
				} else if rr && !l {
					seen[r.id(p.l)], changed = p.l, true
				}
			}
		}
	}
	for _, e := range seen {
		if r.input(e) == i {
			return e
		}
	}
	return nil
}

// FlagError is an error in an option given on the command line (--strategy,
// --partitions), not in the SQL text: it has no position there.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FlagError) Unwrap() error { return e.Err }

// counts sets Partitions, CPUs and BatchSize: --partitions, then
// @num_partitions, then the CPU count.
func (p *Plan) counts(opts Options) error {
	p.CPUs = opts.CPUs
	if p.CPUs <= 0 {
		p.CPUs = runtime.NumCPU()
	}
	switch {
	case opts.Partitions > MaxPartitions:
		return &FlagError{Err: fmt.Errorf("--partitions %d: must be at most %d (keys hash to %d key groups, so more partitions would stay empty)",
			opts.Partitions, MaxPartitions, partition.KeyGroups)}
	case opts.Partitions > 0:
		p.Partitions, p.PartitionsOrigin = opts.Partitions, FromFlag
	case opts.Partitions < 0:
		return &FlagError{Err: fmt.Errorf("--partitions %d: must be at least 1", opts.Partitions)}
	default:
		n, ok, err := p.intAnnotation(sql.AnnotationPartitions)
		if err != nil {
			return err
		}
		if ok && n > MaxPartitions {
			return p.annotationError(sql.AnnotationPartitions, fmt.Sprintf("%d is more than %d partitions (keys hash to %d key groups, so more partitions would stay empty)",
				n, MaxPartitions, partition.KeyGroups))
		}
		if ok {
			p.Partitions, p.PartitionsOrigin = n, FromAnnotation
		} else {
			p.Partitions, p.PartitionsOrigin = p.CPUs, FromCPUs
		}
	}
	n, ok, err := p.intAnnotation(sql.AnnotationBatchSize)
	if err != nil {
		return err
	}
	p.BatchSize = DefaultBatchSize
	if ok {
		p.BatchSize = n
	}
	return nil
}

// MaxPartitions is the most partitions a job runs: one per key group.
const MaxPartitions = partition.KeyGroups

// annotationError is an error at the value of the annotation key.
func (p *Plan) annotationError(key, msg string) error {
	for _, a := range p.Statement.Annotations {
		if a.Key == key {
			return sql.Errorf(a.ValuePos, "@%s: %s", key, msg)
		}
	}
	return fmt.Errorf("@%s: %s", key, msg)
}

// intAnnotation reads a positive integer annotation.
func (p *Plan) intAnnotation(key string) (int, bool, error) {
	for _, a := range p.Statement.Annotations {
		if a.Key != key {
			continue
		}
		n, err := strconv.Atoi(a.Value)
		if err != nil || n < 1 {
			return 0, false, sql.Errorf(a.ValuePos, "@%s: %q is not a positive integer", key, a.Value)
		}
		return n, true, nil
	}
	return 0, false, nil
}

// Context returns the routing context for this plan's FROM source: its
// partition key (only when alignment is valid), partition count, the
// routing key names, N and the CPU count. The caller sets Key or KeySlots
// from the compiled KeyExprs.
func (p *Plan) Context() partition.Context {
	ctx := partition.Context{
		RoutingKeys:      p.RoutingKeys,
		SourcePartitions: p.Inputs[0].Facts.Partitions,
		Partitions:       p.Partitions,
		CPUs:             p.CPUs,
	}
	if p.Requirement.Aligned() {
		ctx.SourcePartitionKey = p.Requirement.SourceKey
	}
	return ctx
}
