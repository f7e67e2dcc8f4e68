package exec

import (
	"strings"

	"github.com/sluicesql/sluice/sql"
)

// formatExpr is a stand-in for sql.FormatExpr while the parser lands.
func formatExpr(e sql.Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

var binOps = [...]string{"+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=", ">", ">=", "AND", "OR"}

func writeExpr(b *strings.Builder, e sql.Expr) {
	switch x := e.(type) {
	case *sql.Ident:
		if x.Qualifier != "" {
			b.WriteString(x.Qualifier + ".")
		}
		b.WriteString(x.Name)
	case *sql.Literal:
		if x.Kind == sql.StringLit {
			b.WriteString("'" + strings.ReplaceAll(x.Text, "'", "''") + "'")
		} else {
			b.WriteString(x.Text)
		}
	case *sql.Binary:
		writeExpr(b, x.L)
		b.WriteString(" " + binOps[x.Op] + " ")
		writeExpr(b, x.R)
	case *sql.Call:
		b.WriteString(x.Name + "(")
		if x.Star {
			b.WriteString("*")
		}
		if x.Distinct {
			b.WriteString("DISTINCT ")
		}
		for i, a := range x.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a)
		}
		b.WriteString(")")
	default:
		b.WriteString("expr")
	}
}
