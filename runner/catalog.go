package runner

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/expr"

	"github.com/sluicesql/sluice/sql"
)

// Catalog holds the sources a file declares with DDL statements
// (CREATE STREAM|TABLE name [(columns)] WITH (...)), so that the statements
// after them read `FROM name` with no '<name>.*' keys of their own.
type Catalog struct {
	decls map[string]*sql.Statement // by lower-case name
}

// NewCatalog collects the DDL statements of stmts. A name declared twice is
// an error at the second declaration.
func NewCatalog(stmts []*sql.Statement) (*Catalog, error) {
	c := &Catalog{decls: map[string]*sql.Statement{}}
	for _, s := range stmts {
		if !s.IsDDL() {
			continue
		}
		if err := prefixedKey(s); err != nil {
			return nil, err
		}
		if s.Kind == sql.CreateTable && len(s.PrimaryKey) == 0 && !slices.ContainsFunc(s.With, func(p sql.Property) bool { return strings.EqualFold(p.Key, "primary.key") }) {
			return nil, sql.Errorf(s, "CREATE TABLE %s declares a table, which needs a primary key (a table holds the latest row of each key): "+
				"add PRIMARY KEY (column) to the column list or 'primary.key' to WITH, or declare a stream with CREATE STREAM", s.Name)
		}
		k := strings.ToLower(s.Name)
		if prev, ok := c.decls[k]; ok {
			return nil, sql.Errorf(s, "%s is declared twice (first at line %d)", s.Name, prev.Line)
		}
		c.decls[k] = s
	}
	return c, nil
}

// prefixedKey is the error for a key of a DDL's WITH written with the
// source's name before it, as a query's WITH writes it ('trades.path' in
// CREATE STREAM trades): the key is then '<name>.<name>.<option>', which
// no source has.
func prefixedKey(ddl *sql.Statement) error {
	var typ string
	for _, p := range ddl.With {
		if strings.EqualFold(p.Key, "type") {
			typ = strings.ToLower(strings.TrimSpace(p.Value))
		}
	}
	opts := sourceOptions(typ)
	if opts == nil { // no type, or 'trades.type': any source's options
		for _, t := range sourceTypes {
			opts = append(opts, sourceOptions(t)...)
		}
	}
	for _, p := range ddl.With {
		if len(p.Key) <= len(ddl.Name) || !strings.EqualFold(p.Key[:len(ddl.Name)+1], ddl.Name+".") {
			continue
		}
		opt := p.Key[len(ddl.Name)+1:]
		if slices.Contains(opts, strings.ToLower(opt)) && !slices.Contains(opts, strings.ToLower(p.Key)) {
			return sql.Errorf(p, "'%s': the keys of a declaration's WITH are not prefixed with its name (CREATE %s %s WITH (...) gives them to %[3]s): write '%[4]s'",
				p.Key, ddlKind(ddl), ddl.Name, opt)
		}
	}
	return nil
}

// ddlKind is STREAM or TABLE, as a DDL statement says.
func ddlKind(s *sql.Statement) string {
	if s.Kind == sql.CreateTable {
		return "TABLE"
	}
	return "STREAM"
}

// Declarations returns the DDL declarations, in the file's order.
func (c *Catalog) Declarations() []*sql.Statement {
	if c == nil {
		return nil
	}
	out := make([]*sql.Statement, 0, len(c.decls))
	for _, s := range c.decls {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *sql.Statement) int { return a.Offset - b.Offset })
	return out
}

// CheckDeclaration checks a DDL declaration that no statement reads as a
// reading statement would: its type is a source type and its options are
// valid (nothing is opened). set holds the --set overrides; env looks up
// the ${VAR}s (nil: the environment). Its error is a *ConfigError
// positioned at the WITH entry at fault.
func CheckDeclaration(ddl *sql.Statement, cat *Catalog, set map[string]string, env func(string) (string, bool)) error {
	name := ddl.Name
	own := map[string]string{}
	for k, v := range set {
		if len(k) > len(name) && strings.EqualFold(k[:len(name)+1], name+".") {
			own[k] = v
		}
	}
	props, err := Properties(&sql.Select{}, cat.Properties(name), own, env)
	if err == nil {
		if typ := strings.ToLower(strings.TrimSpace(lookup(props, name+".type"))); typ != "" && typ != "stdout" && sinkOptions(typ) != nil {
			err = &sql.PropertyError{Key: name + ".type", InValue: true, Msg: fmt.Sprintf(
				"CREATE %s %s declares a source, and %s is a sink type (source types: %s): declare the sink in the WITH of the statement that writes it ('%s.type'='%s')",
				ddlKind(ddl), name, typ, strings.Join(sourceTypes, ", "), name, typ)}
		} else {
			_, err = checkSource(name, props)
		}
	}
	if err == nil {
		return nil
	}
	for k := range own {
		var pe *sql.PropertyError
		if errors.As(err, &pe) && strings.EqualFold(pe.Key, k) {
			return configErr(fmt.Errorf("--set %s: %w", sql.Clip(k), err))
		}
	}
	err = sql.AtProperty(err, declared(cat, []string{name}))
	var se *sql.Error
	if !errors.As(err, &se) {
		err = &sql.Error{Pos: ddl.Pos, Msg: err.Error()}
	}
	return configErr(cat.unprefixed(err))
}

// Lookup returns the declaration of the source name, if any.
func (c *Catalog) Lookup(name string) (*sql.Statement, bool) {
	if c == nil {
		return nil, false
	}
	s, ok := c.decls[strings.ToLower(name)]
	return s, ok
}

// Names returns the declared names, for hints.
func (c *Catalog) Names() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.decls))
	for _, s := range c.decls {
		out = append(out, s.Name)
	}
	return out
}

// Properties returns the WITH properties of the declarations of
// names, each key prefixed with its source's name as a query's WITH would
// write it ('path' of trades becomes 'trades.path').
func (c *Catalog) Properties(names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		d, ok := c.Lookup(n)
		if !ok {
			continue
		}
		for _, p := range d.With {
			out[n+"."+p.Key] = p.Value
		}
	}
	return out
}

// unknownSource is the error for a FROM name that no DDL declares and no
// '<name>.type' property gives a type, with a hint among the names that
// are declared.
func unknownSource(from sql.Source, props map[string]string, c *Catalog) error {
	if d, ok := c.Lookup(from.Name); ok {
		return untypedDeclaration(d)
	}
	known := c.Names()
	for k := range props {
		if name, ok := strings.CutSuffix(k, ".type"); ok && !strings.Contains(name, ".") {
			known = append(known, name)
		}
	}
	sort.Strings(known)
	return sql.Errorf(from, "unknown source %q: no CREATE STREAM/TABLE %s declares it and WITH has no '%s.type' (one of %s)%s",
		from.Name, from.Name, from.Name, strings.Join(sourceTypes, ", "), expr.Hint(from.Name, known))
}

// untypedDeclaration is the error for a DDL declaration whose WITH gives no
// 'type', at the declaration. Flink's 'connector' key is named, as a Flink
// user writes it.
func untypedDeclaration(d *sql.Statement) error {
	for _, p := range d.With {
		if strings.EqualFold(p.Key, "connector") {
			return sql.Errorf(p, "'connector' is not a key of CREATE %s %s: Sluice names the source with 'type' (one of %s; Flink's 'kafka' is 'kafka_source', 'filesystem' is 'file_source')",
				ddlKind(d), d.Name, strings.Join(sourceTypes, ", "))
		}
	}
	return sql.Errorf(d, "CREATE %s %s declares no source type: add 'type' to its WITH (one of %s)",
		ddlKind(d), d.Name, strings.Join(sourceTypes, ", "))
}

// unprefixed rewrites an error positioned in a declaration's WITH so that
// it names keys as the declaration writes them ('topic', not
// 'trades.topic'): the options of a source are checked under its name's
// prefix, which the declaration leaves out.
func (c *Catalog) unprefixed(err error) error {
	var se *sql.Error
	if c == nil || !errors.As(err, &se) {
		return err
	}
	for _, d := range c.decls {
		for _, p := range d.With {
			if se.Pos.Offset < p.Pos.Offset || se.Pos.Offset > p.ValuePos.Offset+len(p.Value)+1 {
				continue
			}
			// a quoted key, unless it is followed by a value: that is
			// advice for a statement's WITH, where the prefix belongs
			key := regexp.MustCompile(`(?i)'` + regexp.QuoteMeta(d.Name) + `\.([^']*)'(=?)`)
			out := *se
			out.Msg = key.ReplaceAllStringFunc(se.Msg, func(m string) string {
				if strings.HasSuffix(m, "=") {
					return m
				}
				return "'" + m[len(d.Name)+2:]
			})
			return &out
		}
	}
	return err
}
