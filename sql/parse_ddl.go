package sql

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/record"
)

// ddl parses the rest of a source declaration after its name:
// `[(column type, ..., PRIMARY KEY (col, ...))] WITH ('key'='value', ...)`.
func (p *parser) ddl(s *Statement) {
	if p.isOp("(") {
		open := p.next()
		var keyAt []Pos // where each PRIMARY KEY column is named
		for {
			if p.isWord("PRIMARY") {
				keyAt = append(keyAt, p.primaryKeyConstraint(s)...)
			} else {
				c, pk := p.columnDef()
				s.Columns = append(s.Columns, c)
				if pk {
					s.PrimaryKey = append(s.PrimaryKey, c.Name)
					keyAt = append(keyAt, c.Pos)
				}
			}
			if !p.acceptOp(",") {
				break
			}
		}
		p.closeParen(open)
		if len(s.Columns) == 0 {
			p.failf(open, "the column list of %s declares no column", s.Name)
		}
		p.checkColumns(s.Columns, s.PrimaryKey, keyAt)
	}
	if !p.isWord("WITH") {
		p.failf(p.peek(), "expected WITH ('type'=..., ...) after the declaration of %s, found %s", s.Name, p.describe(p.peek()))
	}
	p.i++
	s.With = p.properties()
}

// primaryKeyConstraint parses `PRIMARY KEY (a, b) [NOT ENFORCED]` and
// returns where each column is named.
func (p *parser) primaryKeyConstraint(s *Statement) []Pos {
	t := p.next()
	p.expectWord("KEY", "after PRIMARY")
	if len(s.PrimaryKey) > 0 {
		p.failf(t, "%s has two primary keys", s.Name)
	}
	open := p.expectOp("(", "after PRIMARY KEY")
	var at []Pos
	for {
		at = append(at, p.peek().pos)
		s.PrimaryKey = append(s.PrimaryKey, p.name("column name in PRIMARY KEY"))
		if !p.acceptOp(",") {
			break
		}
	}
	p.closeParen(open)
	p.notEnforced()
	return at
}

// notEnforced accepts Flink's `NOT ENFORCED` after a primary key.
func (p *parser) notEnforced() {
	if p.isWord("NOT") && p.peekAt(1).kind == tWord && p.peekAt(1).up == "ENFORCED" {
		p.i += 2
	}
}

// checkColumns reports a repeated column and a primary key column (named
// at at) that is not a column.
func (p *parser) checkColumns(cols []ColumnDef, pk []string, at []Pos) {
	seen := map[string]bool{}
	for _, c := range cols {
		k := strings.ToLower(c.Name)
		if seen[k] {
			p.failAt(c.Pos, fmt.Sprintf("column %s is declared twice", c.Name))
		}
		seen[k] = true
	}
	for i, k := range pk {
		if !seen[strings.ToLower(k)] {
			p.failAt(at[i], fmt.Sprintf("PRIMARY KEY column %s is not in the column list", k))
		}
	}
}

// columnDef parses `name [type] [NOT NULL] [PRIMARY KEY]` and reports
// whether the column is its table's primary key.
func (p *parser) columnDef() (ColumnDef, bool) {
	t := p.peek()
	c := ColumnDef{Pos: t.pos, Name: p.name("column name")}
	if !p.isOp(",") && !p.isOp(")") && p.peek().kind != tEOF && !p.isWord("NOT") && !p.isWord("PRIMARY") {
		c.Type = p.typeName()
	}
	pk := false
	for {
		switch {
		case p.isWord("NOT") && p.peekAt(1).kind == tWord && p.peekAt(1).up == "NULL":
			p.i += 2
			c.NotNull = true
			continue
		case p.isWord("NULL"):
			p.i++
			continue
		case p.isWord("PRIMARY"):
			p.i++
			p.expectWord("KEY", "after PRIMARY")
			p.notEnforced()
			pk = true
			continue
		}
		break
	}
	return c, pk
}

// typeName parses a SQL type: a scalar name with optional arguments
// (DECIMAL(10,2), VARCHAR(20), TIMESTAMP(3)), DOUBLE PRECISION,
// ROW<name type, ...> (also ROW(...), STRUCT<...>) or ARRAY<type>.
func (p *parser) typeName() record.Type {
	t := p.peek()
	if t.kind != tWord {
		p.failf(t, "expected a type (%s), found %s", record.TypeNames, p.describe(t))
	}
	kind, ok := record.LookupType(t.up)
	if !ok {
		hint := ""
		if c, ok := Closest(t.text, record.TypeSpellings()); ok {
			hint = fmt.Sprintf("; did you mean %s?", c)
		}
		p.failf(t, "unknown type %s%s (valid types: %s)", t.text, hint, record.TypeNames)
	}
	p.i++
	switch kind {
	case record.TypeRow:
		closer := ">"
		if !p.acceptOp("<") {
			p.expectOp("(", "or '<' after "+t.up)
			closer = ")"
		}
		var fields []record.Field
		for {
			f := p.peek()
			name := p.name("field name in " + t.up)
			ft := p.typeName()
			for _, g := range fields {
				if strings.EqualFold(g.Name, name) {
					p.failf(f, "field %s appears twice in %s", name, t.up)
				}
			}
			fields = append(fields, record.Field{Name: name, Type: ft})
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(closer, "to close "+t.up)
		return record.RowType(fields...)
	case record.TypeArray:
		p.expectOp("<", "after ARRAY")
		elem := p.typeName()
		p.expectOp(">", "to close ARRAY")
		return record.ArrayType(elem)
	case record.TypeDouble:
		if t.up == "DOUBLE" {
			p.acceptWord("PRECISION")
		}
	}
	var args []int64
	if p.isOp("(") {
		open := p.next()
		for {
			args = append(args, p.intValue("type argument"))
			if !p.acceptOp(",") {
				break
			}
		}
		p.closeParen(open)
	}
	if kind != record.TypeDecimal {
		switch {
		case len(args) > 1:
			p.failf(t, "%s takes at most one argument", t.up)
		case len(args) == 1 && kind != record.TypeString && kind != record.TypeTimestamp:
			p.failf(t, "%s takes no argument", t.up)
		}
		return record.Type{Kind: kind}
	}
	prec, scale := int64(10), int64(0)
	switch len(args) {
	case 2:
		prec, scale = args[0], args[1]
	case 1:
		prec = args[0]
	case 0:
	default:
		p.failf(t, "DECIMAL takes (precision, scale)")
	}
	if prec < 1 || prec > record.MaxPrecision {
		p.failf(t, "DECIMAL precision %d is out of range: 1 to %d", prec, record.MaxPrecision)
	}
	if scale > prec {
		p.failf(t, "DECIMAL scale %d is larger than its precision %d", scale, prec)
	}
	return record.DecimalType(int(prec), int(scale))
}

// ParseColumns parses a column list without parentheses, as written in a
// '<n>.columns' property: `trader_id BIGINT, symbol STRING, price
// DECIMAL(10,2)`; types are optional (`station,temperature`). what names
// the text in error messages (the property key).
func ParseColumns(what, src string) (cols []ColumnDef, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
		}
	}()
	toks, _, lerr := lex(what, src)
	if lerr != nil {
		return nil, ErrorList{lerr}
	}
	p := &parser{file: what, src: src, toks: toks}
	defer func() {
		if len(p.errs) > 0 {
			cols, err = nil, p.errs
		}
	}()
	for {
		c, _ := p.columnDef()
		cols = append(cols, c)
		if !p.acceptOp(",") {
			break
		}
	}
	if t := p.peek(); t.kind != tEOF {
		p.failf(t, "expected ',' or the end of the column list, found %s", p.describe(t))
	}
	p.checkColumns(cols, nil, nil)
	return cols, nil
}
