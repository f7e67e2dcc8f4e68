// Package sql is Sluice's SQL front end: the lexer, the recursive-descent
// parser, the AST, the canonical printer, statement annotations and
// positioned errors.
package sql

import (
	"time"

	"github.com/sluicesql/sluice/record"
)

// Pos is a position in the source text. Line and Col count from 1; Col counts
// bytes. Offset is the byte offset from the start of the text.
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// Node is implemented by every AST node.
type Node interface {
	// Position returns where the node starts in the source text.
	Position() Pos
}

// Position returns p itself, so that structs embedding Pos are Nodes.
func (p Pos) Position() Pos { return p }

// StatementKind says what a statement does with its query.
type StatementKind uint8

// The statement kinds.
const (
	SelectStatement StatementKind = iota // a bare SELECT
	CreateStream                         // CREATE STREAM name AS SELECT ..., or the DDL CREATE STREAM name (...) WITH (...)
	CreateTable                          // CREATE TABLE name AS SELECT ..., or the DDL CREATE TABLE name (...) WITH (...)
	InsertInto                           // INSERT INTO name SELECT ...
)

// Statement is one statement of a file.
type Statement struct {
	Pos
	Kind StatementKind
	// Name is the target of CREATE STREAM/TABLE or INSERT INTO; empty for a bare SELECT.
	Name string
	// Annotations are the `-- @key: value` comment lines directly before the statement.
	Annotations []Annotation
	// Query is the statement's SELECT; nil for a DDL statement.
	Query *Select
	// Columns is a DDL statement's column list; nil when it has none (the
	// columns are then inferred from the data).
	Columns []ColumnDef
	// PrimaryKey lists a DDL's PRIMARY KEY columns (a column's own
	// PRIMARY KEY, or the PRIMARY KEY (a, b) constraint).
	PrimaryKey []string
	// With holds a DDL statement's WITH properties, whose keys are not
	// prefixed with the name ('type', 'path', ...).
	With []Property
}

// IsDDL reports whether the statement declares a source (CREATE STREAM or
// TABLE name [(columns)] WITH (...)) rather than running a query.
func (s *Statement) IsDDL() bool {
	return (s.Kind == CreateStream || s.Kind == CreateTable) && s.Query == nil
}

// ColumnDef is one column of a DDL column list or of a '<n>.columns'
// property: a name with an optional type (ANY when omitted).
type ColumnDef struct {
	Pos
	Name    string
	Type    record.Type
	NotNull bool
}

// Field returns the column as a schema field.
func (c ColumnDef) Field() record.Field {
	return record.Field{Name: c.Name, Type: c.Type, NotNull: c.NotNull}
}

// Annotation is one `-- @key: value` line. Key is lower-cased; Value is
// trimmed. The parser refuses a key that is not one of Annotations.
type Annotation struct {
	Pos
	Key   string
	Value string
	// ValuePos is where the value starts.
	ValuePos Pos
}

// Known annotation keys.
const (
	AnnotationStrategy   = "partitioning_strategy"
	AnnotationPartitions = "num_partitions"
	AnnotationBatchSize  = "batch_size"
	AnnotationJobMode    = "job_mode"
)

// The values of @job_mode, as Flink's execution.runtime-mode: a streaming
// job (the default) runs until stopped; a batch job reads every source to
// the end of what it holds at start, then finishes.
const (
	JobModeStreaming = "streaming"
	JobModeBatch     = "batch"
)

// Annotations lists the known annotation keys.
var Annotations = []string{AnnotationStrategy, AnnotationPartitions, AnnotationBatchSize, AnnotationJobMode}

// Annotation returns the value of the annotation key and whether it is present.
func (s *Statement) Annotation(key string) (string, bool) {
	for _, a := range s.Annotations {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// EmitMode says when results leave a stateful query.
type EmitMode uint8

// The emit modes. EmitDefault means the statement did not say.
const (
	EmitDefault EmitMode = iota
	EmitChanges
	EmitFinal
)

// Select is a SELECT with every clause Sluice knows, in clause order.
type Select struct {
	Pos
	Distinct bool
	Items    []SelectItem
	From     Source
	Joins    []Join
	Where    Expr // nil when absent
	GroupBy  []Expr
	Having   Expr    // nil when absent
	Window   *Window // nil when absent
	// Qualify filters rows after the analytic (OVER) calls are computed,
	// as SQL's QUALIFY; nil when absent. A bound on a rank makes the
	// query a Top-N.
	Qualify Expr
	OrderBy []OrderItem
	Limit   *Limit // nil when absent
	Emit    EmitMode
	With    []Property
	// Derived is the subquery in FROM as written, when this query is the
	// merge of an outer query with it; nil otherwise. The planner resolves
	// its names before the merged query's, so a mistake inside the
	// subquery is reported where it is.
	Derived *Select
	// DerivedErr is the first error of the outer query over Derived (a
	// column the subquery does not have), which depends on the subquery's
	// names being right: the planner reports it after checking them.
	DerivedErr *Error
}

// Limit is a LIMIT clause.
type Limit struct {
	Pos
	Count int64
}

// SelectItem is one entry of the select list: an expression with an optional
// alias, `*`, or `qualifier.*`.
type SelectItem struct {
	Pos
	// Star is set for `*` and `qualifier.*`; Expr is then nil.
	Star bool
	// Qualifier is the source name or alias before `.*`.
	Qualifier string
	// Except lists the columns `* EXCEPT (a, b)` (or DuckDB's
	// `* EXCLUDE (a, b)`) leaves out.
	Except []*Ident
	Expr   Expr
	Alias  string
	// PrimaryKey marks `col PRIMARY KEY`: the column becomes the output message key.
	PrimaryKey bool
}

// Source is a FROM or JOIN source: a named stream or table.
type Source struct {
	Pos
	Name  string
	Alias string
}

// JoinKind is the kind of a join.
type JoinKind uint8

// The join kinds.
const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	FullJoin
)

// Join is one JOIN clause.
type Join struct {
	Pos
	Kind   JoinKind
	Source Source
	On     Expr
	// Within bounds a stream-stream join (`WITHIN INTERVAL '5' MINUTES`); 0 when absent.
	Within time.Duration
	// AsOf is the stream's time of an event-time temporal join
	// (`JOIN rates FOR SYSTEM_TIME AS OF o.order_time`); nil when absent.
	AsOf Expr
}

// NullExtended reports, for the FROM source (0) and each joined source
// (i for joins[i-1]), whether an outer join may give its columns NULL in
// a row that has no match there: the right side of a LEFT JOIN, every
// source before a RIGHT JOIN, both sides of a FULL JOIN.
func NullExtended(joins []Join) []bool {
	out := make([]bool, len(joins)+1)
	for i, j := range joins {
		switch j.Kind {
		case LeftJoin:
			out[i+1] = true
		case RightJoin, FullJoin:
			for k := 0; k <= i+1; k++ {
				out[k] = j.Kind == FullJoin || k <= i
			}
		}
	}
	return out
}

// WindowKind is the kind of an event-time window.
type WindowKind uint8

// The event-time window kinds.
const (
	Tumbling WindowKind = iota
	Sliding
	Session
)

// Window is the WINDOW clause.
type Window struct {
	Pos
	Kind WindowKind
	// TimeColumn is the event-time column named in the window, or "" for the default.
	TimeColumn string
	// TimeColumnPos is where TimeColumn is written.
	TimeColumnPos Pos
	// Size is the window length (TUMBLING, SLIDING).
	Size time.Duration
	// Advance is the hop of a SLIDING window.
	Advance time.Duration
	// Gap is the inactivity gap of a SESSION window.
	Gap time.Duration
}

// OrderItem is one ORDER BY key.
type OrderItem struct {
	Pos
	Expr Expr
	Desc bool
}

// Property is one `'key'='value'` pair of WITH (...), in source order. Its
// Pos is where the key starts; ValuePos where the value starts.
type Property struct {
	Pos
	Key      string
	Value    string
	ValuePos Pos
}

// Property returns the WITH value for key and whether it is present.
func (s *Select) Property(key string) (string, bool) {
	for _, p := range s.With {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Expr is an expression node. The concrete types are the *Xxx types below.
type Expr interface {
	Node
	exprNode()
}

// Ident is a column reference, optionally qualified (`t.col`), optionally
// followed by nested field names (`payload.user.id`). The parser cannot tell
// a qualifier from a column holding nested fields: `a.b` is parsed as
// Qualifier a and Name b, and the planner, which knows the sources and the
// columns, reads it as a field of column a when a is no source. System
// columns are Idents whose Name is a system column name (any case).
type Ident struct {
	Pos
	Qualifier string
	Name      string
	// Path lists the names after the second one: `a.b.c.d` has Path [c d].
	Path []string
	// Quoted is set for a single name written in double quotes or
	// backticks ("AAPL"), for the hint that strings take single quotes.
	Quoted bool
}

// Index is an array element, `x[i]`, counting from 1 as SQL does, or a
// field of it, `items[1].sku.id` (Path lists the field names).
type Index struct {
	Pos
	X, Index Expr
	Path     []string
}

// LiteralKind is the kind of a literal.
type LiteralKind uint8

// The literal kinds.
const (
	NullLit LiteralKind = iota
	BoolLit
	IntLit
	DecimalLit // has a fraction and no exponent: exact
	FloatLit   // has an exponent
	StringLit
	IntervalLit  // INTERVAL 'Text' Unit
	TimestampLit // TIMESTAMP 'Text'
)

// Literal is a constant. Text is the literal's value as written (without
// quotes for strings, with escapes resolved); for BoolLit it is TRUE or FALSE.
type Literal struct {
	Pos
	Kind LiteralKind
	Text string
	// Unit is the upper-case unit of an INTERVAL literal (SECOND, MINUTES, ...).
	Unit string
}

// UnaryOp is a prefix operator.
type UnaryOp uint8

// The prefix operators.
const (
	Neg UnaryOp = iota
	Not
)

// Unary is a prefix operation.
type Unary struct {
	Pos
	Op UnaryOp
	X  Expr
}

// BinaryOp is an infix operator.
type BinaryOp uint8

// The infix operators.
const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
	Mod
	Concat // ||
	Eq
	NotEq
	Lt
	LtEq
	Gt
	GtEq
	And
	Or
)

// Binary is an infix operation.
type Binary struct {
	Pos
	Op   BinaryOp
	L, R Expr
}

// IsNull is `X IS [NOT] NULL`.
type IsNull struct {
	Pos
	X   Expr
	Not bool
}

// In is `X [NOT] IN (List...)`.
type In struct {
	Pos
	X    Expr
	List []Expr
	Not  bool
}

// Between is `X [NOT] BETWEEN Lo AND Hi`.
type Between struct {
	Pos
	X, Lo, Hi Expr
	Not       bool
}

// Like is `X [NOT] LIKE Pattern`.
type Like struct {
	Pos
	X, Pattern Expr
	Not        bool
}

// When is one WHEN ... THEN ... arm of a CASE.
type When struct {
	Pos
	Cond, Result Expr
}

// Case is `CASE [Operand] WHEN ... THEN ... [ELSE ...] END`.
type Case struct {
	Pos
	Operand Expr // nil for a searched CASE
	Whens   []When
	Else    Expr // nil when absent
}

// Cast is `CAST(X AS Type)`; Type is upper-case (INTEGER, DECIMAL, ...),
// with any precision arguments as written, e.g. DECIMAL(10,2).
type Cast struct {
	Pos
	X    Expr
	Type string
	// TypePos is where the type name starts.
	TypePos Pos
}

// Call is a function call. Name is upper-case. `COUNT(*)` has Star set and
// no Args; `COUNT(DISTINCT x)` has Distinct set.
type Call struct {
	Pos
	Name     string
	Args     []Expr
	Star     bool
	Distinct bool
	// Over is the analytic window of `f(...) OVER (...)`; nil for a plain call.
	Over *Over
}

// Over is the window of an analytic function call: either the reference's
// `ROWS WINDOW BUFFER n ROWS ...` form or the standard form.
type Over struct {
	Pos
	// Buffer is n of `ROWS WINDOW BUFFER n ROWS`; 0 for the standard form.
	Buffer      int64
	PartitionBy []Expr
	OrderBy     []OrderItem
	// Frame is `ROWS BETWEEN n PRECEDING AND CURRENT ROW`; nil when absent.
	Frame *Frame
}

// Frame is a ROWS frame ending at the current row.
type Frame struct {
	Pos
	// Preceding is n of `n PRECEDING`; -1 means UNBOUNDED PRECEDING.
	Preceding int64
}

func (*Ident) exprNode()   {}
func (*Index) exprNode()   {}
func (*Literal) exprNode() {}
func (*Unary) exprNode()   {}
func (*Binary) exprNode()  {}
func (*IsNull) exprNode()  {}
func (*In) exprNode()      {}
func (*Between) exprNode() {}
func (*Like) exprNode()    {}
func (*Case) exprNode()    {}
func (*Cast) exprNode()    {}
func (*Call) exprNode()    {}
