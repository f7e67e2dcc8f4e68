// Package join runs joins inside a partition worker: a stream joined with
// tables (sources with a primary key, latest value per key) looked up by
// key, each on its own key, and stream-stream joins whose rows meet within
// a time bound, one after another (the rows one emits meet the next
// stream, on the same worker or after an exchange on the next key). Compile turns a SELECT with JOINs into a
// Program over the joined row: every input's columns in statement order,
// so that the rest of the query (WHERE, GROUP BY, windows, EMIT) is an
// ordinary exec.Program over that row. The tables' state lives in Tables
// that the runner loads (bootstraps) before the stream flows and keeps
// following afterwards; a table is split over the workers by its key, and
// a row reads the shard that holds its key.
package join

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Input is one source of a join statement: input 0 is the FROM stream,
// then one per JOIN.
type Input struct {
	// Name and Alias are as written in FROM or JOIN.
	Name, Alias string
	// Schema holds the source's known columns and their types; nil when
	// only the query tells which columns it has.
	Schema *record.Schema
	// PrimaryKey names a table's key columns; empty for a stream.
	PrimaryKey []string
	// Windowed says that a table's rows are a windowed aggregate's results
	// (connector.Schema.Windowed): it keeps each key's latest window.
	Windowed bool
}

// Options configure Compile.
type Options struct {
	// Properties are the statement's WITH properties (see exec.Options).
	Properties map[string]string
	// Inputs describe the FROM source and each JOIN source, in order.
	Inputs []Input
}

// Program is a compiled join query. It is immutable apart from its tables'
// contents and shared by the pipelines of every partition worker.
type Program struct {
	// Program is the query after the join, over the joined row.
	*exec.Program
	stream *record.Schema // the stream's columns: slots 0..len-1 of the joined row
	width  int            // the joined row's width
	tables []*lookup      // the stream-table JOINs, in order
	// ivs are the stream-stream joins in statement order (nil when there
	// are none): each joins the rows of the joins before it with one more
	// stream. A table is looked up between them (lookup.after).
	ivs []*interval
	// x, when set, exchanges rows between the workers before the
	// stream-stream joins it marks (SetExchange)
	x *exchangeSet
	// winTime, after stream-stream joins, reads the column a WINDOW names
	// for its time (the FROM stream's), instead of the joined row's
	winTime *exec.Program
	winCol  string
	// fence, when set, gives the watermark of the checkpoint a repartition
	// partition resumed from (SetReplayFences)
	fence exec.Fences
	// rows: the pipelines write the joined rows instead of running the
	// query after the join (WriteRows)
	rows bool
	c    *compiler
}

// lookup is one stream-table JOIN.
type lookup struct {
	kind     sql.JoinKind
	at       sql.Node
	keys     []expr.Func // over the joined row: the values equated with the table's key columns, in key order
	residual expr.Func   // the rest of ON over the joined row; nil when none
	offset   int         // the table's first slot in the joined row
	// after is the stream-stream join whose rows the table is looked up
	// for; -1: the FROM stream's rows as they arrive
	after int
	table *Table
	asOf  *exec.Program // FOR SYSTEM_TIME AS OF: the stream's time over the joined row; nil when absent
	// prunes: asOf reads the stream's event time, which the watermark
	// bounds, so the table's versions older than the watermark's are dropped
	prunes bool
}

// Compile compiles a SELECT with JOINs: any number of stream-table joins
// (each on its own key) and stream-stream joins. The joined row holds
// every input's columns in statement order (then, with a stream-stream
// join, the slot that tells the streams apart). Errors in the statement
// are positioned *expr.Error values.
func Compile(sel *sql.Select, opts Options) (*Program, error) {
	if len(opts.Inputs) != 1+len(sel.Joins) {
		return nil, fmt.Errorf("join: %d inputs described for %d sources", len(opts.Inputs), 1+len(sel.Joins))
	}
	var streams []int // the inputs of the stream-stream joins' right sides
	for i, j := range sel.Joins {
		in := opts.Inputs[i+1]
		if len(in.PrimaryKey) == 0 {
			if j.AsOf != nil {
				return nil, errorAt(j, "JOIN %s FOR SYSTEM_TIME AS OF: %s has no primary key, so it is a stream; a temporal join reads a table's versions: declare '%s.primary.key'", j.Source.Name, j.Source.Name, j.Source.Name)
			}
			streams = append(streams, i+1)
			continue
		}
		if j.Kind != sql.InnerJoin && j.Kind != sql.LeftJoin {
			return nil, errorAt(j, "%s JOIN %s: a stream-table join is INNER or LEFT, since only stream records produce output", j.Kind, j.Source.Name)
		}
	}
	c := newCompiler(sel, opts)
	c.streams = streams
	rsel, err := c.rewriteSelect(sel)
	if err != nil {
		return nil, err
	}
	p := &Program{c: c}
	ons := make([][]sql.Expr, len(sel.Joins))
	for i, j := range sel.Joins {
		if c.isStream(i + 1) {
			continue
		}
		if ons[i], err = c.on(i+1, j); err != nil {
			return nil, err
		}
	}
	sjs := make([]*streamJoin, len(streams))
	for k, in := range streams {
		c.ss = in
		if sjs[k], err = c.streamJoin(sel.Joins[in-1], k); err != nil {
			return nil, err
		}
	}
	// A temporal join reads the stream's AS OF column and the table's
	// version time column.
	for i, j := range sel.Joins {
		if j.AsOf == nil {
			continue
		}
		if id, ok := j.AsOf.(*sql.Ident); ok {
			if _, err := c.resolve(id); err != nil {
				return nil, err
			}
		}
		if col := c.versionColumn(i + 1); col != "" {
			if err := c.use(i+1, col, j); err != nil {
				return nil, err
			}
		}
	}
	// The schemas: each table's key columns are always read.
	for i := 1; i < len(c.inputs); i++ {
		for _, k := range opts.Inputs[i].PrimaryKey {
			if err := c.use(i, k, sel.Joins[i-1].Source); err != nil {
				return nil, err
			}
		}
	}
	p.stream = c.schema(0)
	// A column of a side an outer join NULL-extends is nullable whatever
	// its source declares.
	outer := sql.NullExtended(sel.Joins)
	joined := record.NewSchemaOf(nullable(p.stream.Fields(), outer[0])...)
	offsets := make([]int, len(c.inputs))
	stage := -1 // the stream-stream join the next table follows
	for i := 1; i < len(c.inputs); i++ {
		schema := c.schema(i)
		offsets[i] = joined.Len()
		for _, f := range nullable(schema.Fields(), outer[i]) {
			f.Name = c.name(i, f.Name)
			joined.AddField(f)
		}
		if c.isStream(i) {
			stage++
			continue
		}
		t, err := NewTable(opts.Inputs[i].Name, schema, opts.Inputs[i].PrimaryKey)
		if err != nil {
			return nil, err
		}
		t.input = i
		if opts.Inputs[i].Windowed {
			t.KeepLatestWindow()
		}
		p.tables = append(p.tables, &lookup{kind: sel.Joins[i-1].Kind, at: sel.Joins[i-1], offset: offsets[i], table: t, after: stage})
	}
	props := opts.Properties
	if len(streams) > 0 {
		side := joined.AddField(record.Field{Name: sideColumn, Internal: true})
		var slack int64
		for k, in := range streams {
			sj := sjs[k]
			iv := &interval{kind: sel.Joins[in-1].Kind, lo: sj.lo, hi: sj.hi, slack: slack, side: side, k: k}
			iv.offset = [2]int{0, offsets[in]}
			iv.width = [2]int{offsets[in], c.schema(in).Len()}
			iv.bound = sj.boundText(c, in)
			p.ivs = append(p.ivs, iv)
			slack += max(sj.hi, -sj.lo, 0)
		}
		// The query after the join reads each joined row's event time (the
		// latest of its rows'), not a column.
		props = map[string]string{}
		for k, v := range opts.Properties {
			if k != exec.PropEventTimeField {
				props[k] = v
			}
		}
	}
	p.width = joined.Len()
	if len(streams) > 0 {
		p.stream = joined
	}
	lookups := 0
	for i, j := range sel.Joins {
		if c.isStream(i + 1) {
			continue
		}
		if j.AsOf != nil {
			if err := c.temporal(i+1, j, p.tables[lookups], joined); err != nil {
				return nil, err
			}
		}
		lookups++
	}
	scope := &expr.Scope{Schema: joined}
	for _, lk := range p.tables {
		i := lk.table.input
		// The key equalities are type-checked as written (t.symbol =
		// r.trader_id compares STRING with BIGINT), though rows are
		// looked up by the key's values.
		if err := checkEqs(c.keyEqs[i], scope); err != nil {
			return nil, err
		}
		for _, k := range c.keys[i] {
			f, err := expr.Compile(k, scope)
			if err != nil {
				return nil, err
			}
			lk.keys = append(lk.keys, f)
		}
		if r := and(ons[i-1]); r != nil {
			if lk.residual, err = expr.Compile(r, scope); err != nil {
				return nil, err
			}
		}
	}
	for k, sj := range sjs {
		if err := sj.compile(p.ivs[k], c, joined); err != nil {
			return nil, err
		}
	}
	if w := sel.Window; w != nil && w.TimeColumn != "" && len(streams) > 0 {
		if _, sys := record.IsSystemColumn(w.TimeColumn); !sys {
			p.winCol = c.canonical(0, w.TimeColumn)
			if p.winTime, err = timeProgram(p.winCol, c.props[exec.PropEventTimeFormat], joined, sel.Joins[0]); err != nil {
				return nil, err
			}
		}
	}
	p.Program, err = exec.Compile(rsel, exec.Options{Properties: props, Schema: joined, ExternalWatermark: true})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// isStream reports whether input i is the right side of a stream-stream join.
func (c *compiler) isStream(i int) bool {
	for _, s := range c.streams {
		if s == i {
			return true
		}
	}
	return false
}

// compiler resolves the names of a join statement.
type compiler struct {
	inputs  []Input
	quals   map[string]int    // lower-case name or alias -> input
	cols    [][]string        // per input: its columns, known or discovered
	known   []bool            // per input: the columns are known (a name outside them is an error)
	used    []map[string]bool // per input: the lower-case names of the columns the statement reads
	aliases map[string]bool
	keys    map[int][]sql.Expr    // per table input: the expressions equated with its key columns
	keyEqs  map[int][][2]sql.Expr // per table input: those equalities over the joined row, and as written, to type-check
	props   map[string]string
	// streams are the right inputs of the stream-stream joins, ss the one
	// being compiled
	streams []int
	ss      int
	// times are the event-time columns of the streams, by input, as named
	// in the joined row ("" for the records' own times)
	times map[int]string
}

func newCompiler(sel *sql.Select, opts Options) *compiler {
	c := &compiler{inputs: opts.Inputs, props: opts.Properties, quals: map[string]int{}, aliases: map[string]bool{}, keys: map[int][]sql.Expr{}, keyEqs: map[int][][2]sql.Expr{}, times: map[int]string{}}
	for i, in := range opts.Inputs {
		if in.Alias != "" {
			c.quals[strings.ToLower(in.Alias)] = i
		}
	}
	for i, in := range opts.Inputs {
		// a source's name names it unless another source of that name has
		// no alias (FROM a JOIN a d: a is the first)
		if _, taken := c.quals[strings.ToLower(in.Name)]; !taken || in.Alias == "" {
			c.quals[strings.ToLower(in.Name)] = i
		}
		var cols []string
		if in.Schema != nil {
			cols = in.Schema.Names()
		}
		c.cols = append(c.cols, cols)
		c.known = append(c.known, in.Schema != nil)
		c.used = append(c.used, nil)
	}
	for _, it := range sel.Items {
		if it.Alias != "" {
			c.aliases[strings.ToLower(it.Alias)] = true
		}
	}
	return c
}

// nullable returns fields, without NOT NULL when null is set.
func nullable(fields []record.Field, null bool) []record.Field {
	if null {
		for i := range fields {
			fields[i].NotNull = false
		}
	}
	return fields
}

// schema returns input i's schema: the known one, else the columns the
// query reads (untyped).
func (c *compiler) schema(i int) *record.Schema {
	if !c.known[i] {
		return record.NewSchema(c.cols[i]...)
	}
	if i == 0 || len(c.inputs[i].PrimaryKey) == 0 {
		return c.inputs[i].Schema
	}
	// A table keeps only the columns the statement reads (and its declared
	// partition key, which its source verifies): its rows are smaller, and
	// so is the copy into every joined row.
	for _, k := range strings.Split(c.props[c.inputs[i].Name+".partition.key"], ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.mark(i, k)
		}
	}
	var fields []record.Field
	for _, f := range c.inputs[i].Schema.Fields() {
		if c.used[i][strings.ToLower(f.Name)] {
			fields = append(fields, f)
		}
	}
	return record.NewSchemaOf(fields...)
}

// mark records that the statement reads column col of input i.
func (c *compiler) mark(i int, col string) {
	if c.used[i] == nil {
		c.used[i] = map[string]bool{}
	}
	c.used[i][strings.ToLower(col)] = true
}

// qualifier is how input i is named in the joined row's column names.
func (c *compiler) qualifier(i int) string {
	if c.inputs[i].Alias != "" {
		return c.inputs[i].Alias
	}
	return c.inputs[i].Name
}

// name is the joined row's name of input i's column col: the stream's
// columns keep their names (so event-time and window columns, and the
// routing key, read the same slots), a table's are qualified.
func (c *compiler) name(i int, col string) string {
	if i == 0 {
		return col
	}
	return c.qualifier(i) + "." + col
}

// use registers column col of input i, discovering it when the input's
// columns are not known.
func (c *compiler) use(i int, col string, at sql.Node) error {
	c.mark(i, col)
	for _, have := range c.cols[i] {
		if strings.EqualFold(have, col) {
			return nil
		}
	}
	if c.known[i] {
		return errorAt(at, "unknown column %q in %s%s (its columns: %s)", col, c.inputs[i].Name, expr.Hint(col, c.cols[i]), strings.Join(c.cols[i], ", "))
	}
	c.cols[i] = append(c.cols[i], col)
	return nil
}

// qualifierHint is "; did you mean ..." for the name or alias of an input
// closest to q, or "".
func (c *compiler) qualifierHint(q string) string {
	var names []string
	for _, in := range c.inputs {
		names = append(names, in.Name)
		if in.Alias != "" {
			names = append(names, in.Alias)
		}
	}
	return expr.Hint(q, names)
}

// has reports whether input i is known to have column col.
func (c *compiler) has(i int, col string) bool {
	for _, have := range c.cols[i] {
		if strings.EqualFold(have, col) {
			return true
		}
	}
	return false
}

// resolve maps an identifier to its input, or -1 for a system column or a
// select-list alias, which stay as they are.
func (c *compiler) resolve(id *sql.Ident) (int, error) {
	if _, sys := record.IsSystemColumn(id.Name); sys {
		if id.Qualifier != "" {
			if i, ok := c.quals[strings.ToLower(id.Qualifier)]; ok && i != 0 {
				return 0, errorAt(id, "%s.%s: system columns are those of the stream record; table %s has none", id.Qualifier, id.Name, c.inputs[i].Name)
			}
		}
		return -1, nil
	}
	if id.Qualifier != "" {
		i, ok := c.quals[strings.ToLower(id.Qualifier)]
		if !ok {
			return 0, errorAt(id, "unknown qualifier %q in %s.%s%s (the statement reads %s)", id.Qualifier, id.Qualifier, id.Name, c.qualifierHint(id.Qualifier), c.sourceList())
		}
		return i, c.use(i, id.Name, id)
	}
	var found []int
	unknown := false
	for i := range c.inputs {
		switch {
		case c.has(i, id.Name):
			found = append(found, i)
		case !c.known[i]:
			unknown = true
		}
	}
	switch {
	case len(found) > 1:
		return 0, errorAt(id, "column %q is ambiguous: %s", id.Name, c.candidates(id.Name, found))
	case len(found) == 1 && !unknown:
		return found[0], nil
	case c.aliases[strings.ToLower(id.Name)]:
		return -1, nil
	case len(found) == 1:
		// another input might have it too: only its declared columns could tell
		return 0, errorAt(id, "column %q must be qualified in a join whose inputs' columns are not all declared: %s", id.Name, c.candidates(id.Name, allInputs(len(c.inputs))))
	case unknown:
		return 0, errorAt(id, "column %q must be qualified in a join whose inputs' columns are not declared: %s", id.Name, c.candidates(id.Name, allInputs(len(c.inputs))))
	}
	return 0, errorAt(id, "unknown column %q%s (the inputs are %s)", id.Name, c.hint(id.Name), c.sourceList())
}

// hint suggests the known column closest to name, qualified as PostgreSQL's
// HINT does: `; did you mean "r.name"?`; "" when none is close.
func (c *compiler) hint(name string) string {
	var cols, qualified []string
	for i := range c.inputs {
		for _, col := range c.cols[i] {
			cols, qualified = append(cols, col), append(qualified, c.qualifier(i)+"."+col)
		}
	}
	if best, ok := sql.Closest(name, cols); ok {
		return fmt.Sprintf("; did you mean %q?", qualified[slices.Index(cols, best)])
	}
	return ""
}

func allInputs(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// candidates suggests qualified spellings: "write t.x or r.x".
func (c *compiler) candidates(col string, ins []int) string {
	var s []string
	for _, i := range ins {
		s = append(s, c.qualifier(i)+"."+col)
	}
	return "write " + strings.Join(s, " or ")
}

func (c *compiler) sourceList() string {
	var s []string
	for i, in := range c.inputs {
		if in.Alias != "" {
			s = append(s, in.Name+" AS "+in.Alias)
		} else {
			s = append(s, c.inputs[i].Name)
		}
	}
	return strings.Join(s, ", ")
}

// expr rewrites e over the joined row and returns the inputs it reads (a
// bit per input).
func (c *compiler) expr(e sql.Expr) (sql.Expr, uint64, error) {
	var mask uint64
	out, err := rewrite(e, func(id *sql.Ident) (sql.Expr, error) {
		id = c.field(id)
		i, err := c.resolve(id)
		if err != nil {
			return nil, err
		}
		if i < 0 {
			return &sql.Ident{Pos: id.Pos, Name: id.Name, Path: id.Path}, nil
		}
		mask |= 1 << i
		c.mark(i, id.Name)
		return &sql.Ident{Pos: id.Pos, Name: c.name(i, c.canonical(i, id.Name)), Path: id.Path}, nil
	})
	return out, mask, err
}

// compile rewrites e over the joined row and compiles it in scope.
func (c *compiler) compile(e sql.Expr, scope *expr.Scope) (expr.Func, error) {
	re, _, err := c.expr(e)
	if err != nil {
		return nil, err
	}
	return expr.Compile(re, scope)
}

// field reads `a.b` as the field b of the column a when a is no input's
// name or alias but a column of an input (user.name), or, as DuckDB does,
// when the input a has no column b but a column a (payload.user over a
// source named payload with a payload column); otherwise id is as written.
func (c *compiler) field(id *sql.Ident) *sql.Ident {
	if id.Qualifier == "" {
		return id
	}
	asField := &sql.Ident{Pos: id.Pos, Name: id.Qualifier, Path: append([]string{id.Name}, id.Path...)}
	if i, ok := c.quals[strings.ToLower(id.Qualifier)]; ok {
		if c.known[i] && !c.has(i, id.Name) && c.has(i, id.Qualifier) {
			asField.Qualifier = id.Qualifier
			return asField
		}
		return id
	}
	for i := range c.inputs {
		if c.has(i, id.Qualifier) {
			return asField
		}
	}
	return id
}

// canonical returns the spelling of input i's column as registered.
func (c *compiler) canonical(i int, col string) string {
	for _, have := range c.cols[i] {
		if strings.EqualFold(have, col) {
			return have
		}
	}
	return col
}

// rewriteSelect returns sel over the joined row: no JOINs, every column
// resolved to its input's slot in the joined row, stars expanded.
func (c *compiler) rewriteSelect(sel *sql.Select) (*sql.Select, error) {
	out := *sel
	out.Joins = nil
	out.Items = nil
	var err error
	ex := func(e sql.Expr) sql.Expr {
		if err != nil || e == nil {
			return e
		}
		var r sql.Expr
		r, _, err = c.expr(e)
		return r
	}
	// Columns named anywhere are registered before stars expand, so that
	// SELECT * of a source with undeclared columns lists what the query reads.
	for _, e := range sel.Exprs() {
		if _, _, err := c.expr(e); err != nil {
			return nil, err
		}
	}
	if w := sel.Window; w != nil && w.TimeColumn != "" {
		if _, sys := record.IsSystemColumn(w.TimeColumn); !sys {
			if err := c.use(0, w.TimeColumn, w); err != nil {
				return nil, err
			}
		}
	}
	if f := strings.TrimSpace(c.props[exec.PropEventTimeField]); f != "" {
		if _, sys := record.IsSystemColumn(f); !sys {
			if err := c.use(0, f, sel); err != nil {
				return nil, err
			}
		}
	}
	starred := map[string]int{}      // lower-case output name -> input, for star columns
	named := map[string]*sql.Ident{} // lower-case output name -> the column named so
	for _, it := range sel.Items {
		if it.Star {
			items, ins, serr := c.star(it)
			if serr != nil {
				return nil, serr
			}
			for k, n := range items {
				if first, dup := starred[strings.ToLower(n.Alias)]; dup && first != ins[k] {
					return nil, errorAt(it, "SELECT %s gives two columns %q (of %s and %s): leave one out with %s.* EXCEPT (%s), or list the columns", starText(it), n.Alias, c.label(first), c.label(ins[k]), c.label(ins[k]), n.Alias)
				}
				starred[strings.ToLower(n.Alias)] = ins[k]
			}
			out.Items = append(out.Items, items...)
			continue
		}
		n := it
		n.Expr = ex(it.Expr)
		if id, ok := it.Expr.(*sql.Ident); ok && it.Alias == "" {
			if id = c.field(id); len(id.Path) > 0 {
				// a nested field is named by its last name, as in DuckDB
				n.Alias = id.Path[len(id.Path)-1]
			} else if _, sys := record.IsSystemColumn(id.Name); !sys {
				n.Alias = id.Name
				// two inputs' columns of one name: say which, and how to
				// name them apart
				if first, dup := named[strings.ToLower(id.Name)]; dup && err == nil {
					return nil, errorAt(it, "SELECT gives two columns %q (%s and %s): name one with AS, as in %s AS %s_%s",
						id.Name, sql.FormatExpr(first), sql.FormatExpr(id), sql.FormatExpr(id), c.label(c.inputOf(id)), id.Name)
				}
				named[strings.ToLower(id.Name)] = id
			}
		}
		out.Items = append(out.Items, n)
	}
	out.Where = ex(sel.Where)
	out.Having = ex(sel.Having)
	out.GroupBy = nil
	for _, g := range sel.GroupBy {
		out.GroupBy = append(out.GroupBy, ex(g))
	}
	out.OrderBy = nil
	for _, o := range sel.OrderBy {
		out.OrderBy = append(out.OrderBy, sql.OrderItem{Pos: o.Pos, Expr: ex(o.Expr), Desc: o.Desc})
	}
	return &out, err
}

// inputOf returns the input a resolved column reads (0 when none).
func (c *compiler) inputOf(id *sql.Ident) int {
	if i, err := c.resolve(id); err == nil && i > 0 {
		return i
	}
	return 0
}

// label names input i as a query may qualify it: its alias, else its name.
func (c *compiler) label(i int) string {
	if c.inputs[i].Alias != "" {
		return c.inputs[i].Alias
	}
	return c.inputs[i].Name
}

// star expands `*` (every input's columns in order) or `q.*`, returning
// the items and, for each, the input it reads.
func (c *compiler) star(it sql.SelectItem) ([]sql.SelectItem, []int, error) {
	ins := allInputs(len(c.inputs))
	if it.Qualifier != "" {
		i, ok := c.quals[strings.ToLower(it.Qualifier)]
		if !ok {
			return nil, nil, errorAt(it, "unknown qualifier %q in %s.*%s (the statement reads %s)", it.Qualifier, it.Qualifier, c.qualifierHint(it.Qualifier), c.sourceList())
		}
		ins = []int{i}
	}
	for _, i := range ins {
		if !c.known[i] {
			return nil, nil, errorAt(it, "SELECT %s needs the columns of %s, and they are not declared (name the columns instead)", starText(it), c.inputs[i].Name)
		}
	}
	// EXCEPT (x) leaves out every column x of the starred inputs, as
	// DuckDB's EXCLUDE does; a name none of them has is an error.
	except := map[string]bool{}
	for _, x := range it.Except {
		found := false
		for _, i := range ins {
			for _, col := range c.cols[i] {
				found = found || strings.EqualFold(col, x.Name)
			}
		}
		if !found {
			var names []string
			for _, i := range ins {
				names = append(names, c.cols[i]...)
			}
			return nil, nil, expr.UnknownColumn(x, x.Name, names)
		}
		except[strings.ToLower(x.Name)] = true
	}
	var items []sql.SelectItem
	var from []int
	for _, i := range ins {
		for _, col := range c.cols[i] {
			if !except[strings.ToLower(col)] {
				c.mark(i, col)
				items = append(items, sql.SelectItem{Pos: it.Pos, Expr: &sql.Ident{Pos: it.Pos, Name: c.name(i, col)}, Alias: col})
				from = append(from, i)
			}
		}
	}
	return items, from, nil
}

func starText(it sql.SelectItem) string {
	if it.Qualifier != "" {
		return it.Qualifier + ".*"
	}
	return "*"
}

// on splits JOIN j's ON (input i) into the key equalities (recorded in
// c.keys[i], in the table's key order) and the rest, which it returns
// rewritten over the joined row.
func (c *compiler) on(i int, j sql.Join) ([]sql.Expr, error) {
	pk := c.inputs[i].PrimaryKey
	keys := make([]sql.Expr, len(pk))
	var rest []sql.Expr
	for _, conj := range sql.Conjuncts(j.On) {
		r, mask, err := c.expr(conj)
		if err != nil {
			return nil, err
		}
		if mask>>(i+1) != 0 {
			return nil, errorAt(conj, "ON of JOIN %s reads a source joined after it: %s", j.Source.Name, sql.FormatExpr(conj))
		}
		if b, ok := conj.(*sql.Binary); ok && b.Op == sql.Eq {
			if k, other := c.keyColumn(i, b.L, b.R); k >= 0 && keys[k] == nil {
				keys[k] = other
				c.keyEqs[i] = append(c.keyEqs[i], [2]sql.Expr{r, conj})
				continue
			}
			if k, other := c.keyColumn(i, b.R, b.L); k >= 0 && keys[k] == nil {
				keys[k] = other
				c.keyEqs[i] = append(c.keyEqs[i], [2]sql.Expr{r, conj})
				continue
			}
		}
		rest = append(rest, r)
	}
	for k, e := range keys {
		if e == nil {
			return nil, errorAt(j, "JOIN %s ON %s: a stream-table join looks rows up by the table's primary key (%s), so ON must equate %s.%s with the stream",
				j.Source.Name, sql.FormatExpr(j.On), strings.Join(pk, ", "), c.qualifier(i), pk[k])
		}
	}
	c.keys[i] = keys
	return rest, nil
}

// keyColumn reports which key column of table input i the expression col
// is (a bare column of i), with other rewritten when it reads only earlier
// inputs; -1 otherwise.
func (c *compiler) keyColumn(i int, col, other sql.Expr) (int, sql.Expr) {
	id, ok := col.(*sql.Ident)
	if !ok {
		return -1, nil
	}
	if in, err := c.resolve(id); err != nil || in != i {
		return -1, nil
	}
	r, mask, err := c.expr(other)
	if err != nil || mask == 0 || mask>>i != 0 {
		return -1, nil
	}
	for k, name := range c.inputs[i].PrimaryKey {
		if strings.EqualFold(name, id.Name) {
			return k, r
		}
	}
	return -1, nil
}

// checkEqs type-checks key equalities, each over the joined row and as
// written (an error quotes the equality as written).
func checkEqs(eqs [][2]sql.Expr, scope *expr.Scope) error {
	for _, eq := range eqs {
		if _, err := expr.Compile(eq[0], scope); err != nil {
			var se *sql.Error
			if errors.As(err, &se) {
				se.Msg = strings.ReplaceAll(se.Msg, sql.FormatExpr(eq[0]), sql.FormatExpr(eq[1]))
			}
			return err
		}
	}
	return nil
}

func errorAt(n sql.Node, format string, args ...any) error {
	return &expr.Error{Pos: n.Position(), Msg: fmt.Sprintf(format, args...)}
}

// temporal makes JOIN j (input i) an event-time temporal join: the table
// keeps every version of a key by its version time (its event time:
// '<n>.event.time.field', else 'event.time.field' when it has that column,
// else its records' timestamps), and a stream record meets the version
// valid at the time its AS OF column gives.
func (c *compiler) temporal(i int, j sql.Join, lk *lookup, joined *record.Schema) error {
	id, ok := j.AsOf.(*sql.Ident)
	if !ok {
		return errorAt(j.AsOf, "FOR SYSTEM_TIME AS OF takes a time column of the stream, found %s", sql.FormatExpr(j.AsOf))
	}
	in, err := c.resolve(id)
	if err != nil {
		return err
	}
	if in < 0 || in >= i {
		return errorAt(j.AsOf, "FOR SYSTEM_TIME AS OF %s: the time must be a column of the stream or of a table joined before %s", sql.FormatExpr(j.AsOf), j.Source.Name)
	}
	format := c.props[exec.PropEventTimeFormat]
	if lk.asOf, err = timeProgram(c.name(in, c.canonical(in, id.Name)), format, joined, j); err != nil {
		return err
	}
	// The watermark bounds the stream's event time, so versions it has
	// passed can go: in a statement with a stream-stream join, only for the
	// left input's rows as they arrive (joined rows come out later).
	et := strings.TrimSpace(c.props[exec.PropEventTimeField])
	if len(c.streams) > 0 {
		et = c.times[0]
	}
	lk.prunes = in == 0 && et != "" && strings.EqualFold(et, id.Name) && (len(c.streams) == 0 || i < c.streams[0])
	lk.table.SetDynamic() // versions are dropped while workers read it
	col := c.versionColumn(i)
	if col == "" {
		lk.table.versionTime = func(r *record.Record) (int64, bool) {
			if r.HasEventTime {
				return r.EventTime, true
			}
			return r.Timestamp, true
		}
		return nil
	}
	if _, ok := lk.table.schema.Lookup(col); !ok {
		return errorAt(j, "table %s has no column %q for its version time", j.Source.Name, col)
	}
	prog, err := timeProgram(col, format, lk.table.schema, j)
	if err != nil {
		return err
	}
	lk.table.versionTime = prog.EventTime
	return nil
}

// timeProgram compiles a program whose EventTime reads column col of schema.
func timeProgram(col, format string, schema *record.Schema, at sql.Join) (*exec.Program, error) {
	props := map[string]string{exec.PropEventTimeField: col, exec.PropEventTimeFormat: format}
	sel := &sql.Select{Pos: at.Pos, Items: []sql.SelectItem{{Pos: at.Pos, Expr: &sql.Ident{Pos: at.Pos, Name: col}}}}
	return exec.Compile(sel, exec.Options{Properties: props, Schema: schema, ExternalWatermark: true})
}

// versionColumn returns the column of a temporal table's version time:
// '<n>.event.time.field', else 'event.time.field' when the table has (or
// may have) that column; "" for its records' timestamps.
func (c *compiler) versionColumn(i int) string {
	if col := strings.TrimSpace(c.props[c.inputs[i].Name+".event.time.field"]); col != "" {
		return col
	}
	if f := strings.TrimSpace(c.props[exec.PropEventTimeField]); f != "" && (!c.known[i] || c.has(i, f)) {
		if _, sys := record.IsSystemColumn(f); !sys {
			return f
		}
	}
	return ""
}
