package sql

import (
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/record"
)

// String renders the statement as canonical SQL: its annotations as
// `-- @key: value` lines, then the statement with one clause per line,
// upper-case keywords, minimal parentheses and quoted identifiers where
// needed. Parsing the result gives the same AST (positions aside).
func (s *Statement) String() string {
	var b strings.Builder
	for _, a := range s.Annotations {
		b.WriteString("-- @")
		b.WriteString(a.Key)
		b.WriteByte(':')
		if a.Value != "" {
			b.WriteByte(' ')
			b.WriteString(a.Value)
		}
		b.WriteByte('\n')
	}
	if s.IsDDL() {
		writeDDL(&b, s)
		return b.String()
	}
	switch s.Kind {
	case CreateStream:
		b.WriteString("CREATE STREAM " + quoteIdent(s.Name) + " AS\n")
	case CreateTable:
		b.WriteString("CREATE TABLE " + quoteIdent(s.Name) + " AS\n")
	case InsertInto:
		b.WriteString("INSERT INTO " + quoteIdent(s.Name) + "\n")
	}
	if s.Query != nil {
		writeSelect(&b, s.Query)
	}
	return b.String()
}

// String renders the SELECT as canonical SQL, one clause per line.
func (sel *Select) String() string {
	var b strings.Builder
	writeSelect(&b, sel)
	return b.String()
}

// FormatExpr renders e as canonical SQL, e.g. `SUM(price * quantity)`.
func FormatExpr(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeSelect(b *strings.Builder, sel *Select) {
	b.WriteString("SELECT ")
	if sel.Distinct {
		b.WriteString("DISTINCT ")
	}
	for i, it := range sel.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		writeItem(b, it)
	}
	b.WriteString("\nFROM ")
	writeSource(b, sel.From)
	for _, j := range sel.Joins {
		b.WriteString("\n")
		b.WriteString([...]string{"JOIN ", "LEFT JOIN ", "RIGHT JOIN ", "FULL OUTER JOIN "}[j.Kind])
		if j.AsOf != nil {
			src := j.Source
			src.Alias = ""
			writeSource(b, src)
			b.WriteString(" FOR SYSTEM_TIME AS OF ")
			writeExpr(b, j.AsOf)
			if j.Source.Alias != "" {
				b.WriteString(" " + quoteIdent(j.Source.Alias))
			}
		} else {
			writeSource(b, j.Source)
		}
		b.WriteString(" ON ")
		writeExpr(b, j.On)
		if j.Within != 0 {
			b.WriteString(" WITHIN " + formatInterval(j.Within))
		}
	}
	if sel.Where != nil {
		b.WriteString("\nWHERE ")
		writeExpr(b, sel.Where)
	}
	if len(sel.GroupBy) > 0 {
		b.WriteString("\nGROUP BY ")
		writeExprs(b, sel.GroupBy)
	}
	if sel.Having != nil {
		b.WriteString("\nHAVING ")
		writeExpr(b, sel.Having)
	}
	if w := sel.Window; w != nil {
		b.WriteString("\nWINDOW ")
		writeWindow(b, w)
	}
	if sel.Qualify != nil {
		b.WriteString("\nQUALIFY ")
		writeExpr(b, sel.Qualify)
	}
	if len(sel.OrderBy) > 0 {
		b.WriteString("\nORDER BY ")
		writeOrder(b, sel.OrderBy)
	}
	if sel.Limit != nil {
		b.WriteString("\nLIMIT " + strconv.FormatInt(sel.Limit.Count, 10))
	}
	switch sel.Emit {
	case EmitChanges:
		b.WriteString("\nEMIT CHANGES")
	case EmitFinal:
		b.WriteString("\nEMIT FINAL")
	}
	if len(sel.With) > 0 {
		b.WriteString("\n")
		writeWith(b, sel.With)
	}
}

func writeWith(b *strings.Builder, props []Property) {
	b.WriteString("WITH (")
	for i, p := range props {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteString(p.Key) + " = " + quoteString(p.Value))
	}
	b.WriteString(")")
}

// writeDDL renders a source declaration.
func writeDDL(b *strings.Builder, s *Statement) {
	if s.Kind == CreateTable {
		b.WriteString("CREATE TABLE ")
	} else {
		b.WriteString("CREATE STREAM ")
	}
	b.WriteString(quoteIdent(s.Name))
	if len(s.Columns) > 0 || len(s.PrimaryKey) > 0 {
		b.WriteString(" (")
		for i, c := range s.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteIdent(c.Name))
			if c.Type.Kind != record.TypeAny {
				b.WriteString(" " + c.Type.String())
			}
			if c.NotNull {
				b.WriteString(" NOT NULL")
			}
		}
		if len(s.PrimaryKey) > 0 {
			b.WriteString(", PRIMARY KEY (")
			for i, k := range s.PrimaryKey {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quoteIdent(k))
			}
			b.WriteString(")")
		}
		b.WriteString(")")
	}
	b.WriteString("\n")
	writeWith(b, s.With)
}

func writeItem(b *strings.Builder, it SelectItem) {
	if it.Star {
		if it.Qualifier != "" {
			b.WriteString(quoteIdent(it.Qualifier) + ".")
		}
		b.WriteString("*")
		if len(it.Except) > 0 {
			b.WriteString(" EXCEPT (")
			for i, x := range it.Except {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quoteIdent(x.Name))
			}
			b.WriteString(")")
		}
		return
	}
	writeExpr(b, it.Expr)
	if it.Alias != "" {
		b.WriteString(" AS " + quoteIdent(it.Alias))
	}
	if it.PrimaryKey {
		b.WriteString(" PRIMARY KEY")
	}
}

func writeSource(b *strings.Builder, s Source) {
	b.WriteString(quoteIdent(s.Name))
	if s.Alias != "" {
		b.WriteString(" " + quoteIdent(s.Alias))
	}
}

func writeWindow(b *strings.Builder, w *Window) {
	b.WriteString([...]string{"TUMBLING(", "SLIDING(", "SESSION("}[w.Kind])
	if w.TimeColumn != "" {
		b.WriteString(quoteIdent(w.TimeColumn) + ", ")
	}
	switch w.Kind {
	case Tumbling:
		b.WriteString(formatShortDuration(w.Size))
	case Sliding:
		b.WriteString(formatShortDuration(w.Size) + ", " + formatShortDuration(w.Advance))
	case Session:
		b.WriteString(formatShortDuration(w.Gap))
	}
	b.WriteString(")")
}

func writeExprs(b *strings.Builder, es []Expr) {
	for i, e := range es {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(b, e)
	}
}

func writeOrder(b *strings.Builder, items []OrderItem) {
	for i, o := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(b, o.Expr)
		if o.Desc {
			b.WriteString(" DESC")
		}
	}
}

// binaryText is the canonical spelling of each BinaryOp.
var binaryText = [...]string{
	Add: "+", Sub: "-", Mul: "*", Div: "/", Mod: "%", Concat: "||",
	Eq: "=", NotEq: "<>", Lt: "<", LtEq: "<=", Gt: ">", GtEq: ">=", And: "AND", Or: "OR",
}

// binaryPrec is the precedence of each BinaryOp.
var binaryPrec = [...]int{
	Add: precAdd, Sub: precAdd, Concat: precAdd, Mul: precMul, Div: precMul, Mod: precMul,
	Eq: precCmp, NotEq: precCmp, Lt: precCmp, LtEq: precCmp, Gt: precCmp, GtEq: precCmp,
	And: precAnd, Or: precOr,
}

// exprPrec is the precedence of e's outermost operator.
func exprPrec(e Expr) int {
	switch n := e.(type) {
	case *Binary:
		return binaryPrec[n.Op]
	case *Unary:
		if n.Op == Not {
			return precNot
		}
		return precNeg
	case *IsNull, *In, *Between, *Like:
		return precCmp
	}
	return precPrimary
}

// writeOperand writes e, in parentheses when it binds looser than min.
func writeOperand(b *strings.Builder, e Expr, min int) {
	if exprPrec(e) < min {
		b.WriteByte('(')
		writeExpr(b, e)
		b.WriteByte(')')
		return
	}
	writeExpr(b, e)
}

func writeNot(b *strings.Builder, not bool) {
	if not {
		b.WriteString(" NOT")
	}
}

func writeExpr(b *strings.Builder, e Expr) {
	switch n := e.(type) {
	case *Ident:
		if n.Qualifier != "" {
			b.WriteString(quoteIdent(n.Qualifier) + ".")
		}
		b.WriteString(quoteIdent(n.Name))
		for _, f := range n.Path {
			b.WriteString("." + quoteIdent(f))
		}
	case *Index:
		writeExpr(b, n.X)
		b.WriteString("[")
		writeExpr(b, n.Index)
		b.WriteString("]")
		for _, f := range n.Path {
			b.WriteString("." + quoteIdent(f))
		}
	case *Literal:
		writeLiteral(b, n)
	case *Unary:
		if n.Op == Not {
			b.WriteString("NOT ")
			writeOperand(b, n.X, precNot)
			return
		}
		b.WriteByte('-')
		if u, ok := n.X.(*Unary); ok && u.Op == Neg {
			// "--" would start a comment.
			writeOperand(b, n.X, precPrimary)
			return
		}
		writeOperand(b, n.X, precNeg)
	case *Binary:
		prec := binaryPrec[n.Op]
		writeOperand(b, n.L, prec)
		b.WriteString(" " + binaryText[n.Op] + " ")
		writeOperand(b, n.R, prec+1)
	case *IsNull:
		writeOperand(b, n.X, precCmp)
		b.WriteString(" IS")
		writeNot(b, n.Not)
		b.WriteString(" NULL")
	case *In:
		writeOperand(b, n.X, precCmp)
		writeNot(b, n.Not)
		b.WriteString(" IN (")
		writeExprs(b, n.List)
		b.WriteString(")")
	case *Between:
		writeOperand(b, n.X, precCmp)
		writeNot(b, n.Not)
		b.WriteString(" BETWEEN ")
		writeOperand(b, n.Lo, precAdd)
		b.WriteString(" AND ")
		writeOperand(b, n.Hi, precAdd)
	case *Like:
		writeOperand(b, n.X, precCmp)
		writeNot(b, n.Not)
		b.WriteString(" LIKE ")
		writeOperand(b, n.Pattern, precAdd)
	case *Case:
		b.WriteString("CASE")
		if n.Operand != nil {
			b.WriteByte(' ')
			writeExpr(b, n.Operand)
		}
		for _, w := range n.Whens {
			b.WriteString(" WHEN ")
			writeExpr(b, w.Cond)
			b.WriteString(" THEN ")
			writeExpr(b, w.Result)
		}
		if n.Else != nil {
			b.WriteString(" ELSE ")
			writeExpr(b, n.Else)
		}
		b.WriteString(" END")
	case *Cast:
		b.WriteString("CAST(")
		writeExpr(b, n.X)
		b.WriteString(" AS " + n.Type + ")")
	case *Call:
		writeCall(b, n)
	}
}

func writeLiteral(b *strings.Builder, l *Literal) {
	switch l.Kind {
	case NullLit:
		b.WriteString("NULL")
	case StringLit:
		b.WriteString(quoteString(l.Text))
	case IntervalLit:
		b.WriteString("INTERVAL " + quoteString(l.Text) + " " + l.Unit)
	case TimestampLit:
		b.WriteString("TIMESTAMP " + quoteString(l.Text))
	default:
		b.WriteString(l.Text)
	}
}

func writeCall(b *strings.Builder, c *Call) {
	if c.Name == "CURRENT_TIMESTAMP" && len(c.Args) == 0 && !c.Star && c.Over == nil {
		b.WriteString(c.Name)
		return
	}
	if c.Name == "EXTRACT" && len(c.Args) == 2 && !c.Distinct && c.Over == nil {
		if id, ok := c.Args[0].(*Ident); ok && id.Qualifier == "" {
			b.WriteString("EXTRACT(")
			writeExpr(b, c.Args[0])
			b.WriteString(" FROM ")
			writeExpr(b, c.Args[1])
			b.WriteString(")")
			return
		}
	}
	b.WriteString(c.Name + "(")
	switch {
	case c.Star:
		b.WriteString("*")
	default:
		if c.Distinct {
			b.WriteString("DISTINCT ")
		}
		writeExprs(b, c.Args)
	}
	b.WriteString(")")
	if o := c.Over; o != nil {
		var parts []string
		if o.Buffer > 0 {
			parts = append(parts, "ROWS WINDOW BUFFER "+strconv.FormatInt(o.Buffer, 10)+" ROWS")
		}
		if len(o.PartitionBy) > 0 {
			var pb strings.Builder
			writeExprs(&pb, o.PartitionBy)
			parts = append(parts, "PARTITION BY "+pb.String())
		}
		if len(o.OrderBy) > 0 {
			var ob strings.Builder
			writeOrder(&ob, o.OrderBy)
			parts = append(parts, "ORDER BY "+ob.String())
		}
		if o.Frame != nil {
			n := "UNBOUNDED"
			if o.Frame.Preceding >= 0 {
				n = strconv.FormatInt(o.Frame.Preceding, 10)
			}
			parts = append(parts, "ROWS BETWEEN "+n+" PRECEDING AND CURRENT ROW")
		}
		b.WriteString(" OVER (" + strings.Join(parts, " ") + ")")
	}
}

// quoteString renders s as a SQL string literal, doubling quotes.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdent renders an identifier bare when the lexer reads it back as the
// same non-reserved word, and in double quotes otherwise.
func quoteIdent(s string) string {
	if s != "" && isIdentStart(s[0]) && !reserved[strings.ToUpper(s)] {
		bare := true
		for i := 1; i < len(s); i++ {
			if !isIdentPart(s[i]) {
				bare = false
				break
			}
		}
		if bare {
			return s
		}
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
