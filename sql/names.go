package sql

import "fmt"

// String returns the kind's SQL spelling, e.g. "CREATE STREAM".
func (k StatementKind) String() string {
	return enumName(int(k), "StatementKind", "SELECT", "CREATE STREAM", "CREATE TABLE", "INSERT INTO")
}

// String returns the mode's SQL spelling: "DEFAULT" (not given), "CHANGES" or "FINAL".
func (m EmitMode) String() string { return enumName(int(m), "EmitMode", "DEFAULT", "CHANGES", "FINAL") }

// String returns the join kind's SQL spelling, e.g. "LEFT".
func (k JoinKind) String() string {
	return enumName(int(k), "JoinKind", "INNER", "LEFT", "RIGHT", "FULL")
}

// String returns the window kind's SQL spelling, e.g. "TUMBLING".
func (k WindowKind) String() string {
	return enumName(int(k), "WindowKind", "TUMBLING", "SLIDING", "SESSION")
}

// String returns the literal kind's name, e.g. "DECIMAL".
func (k LiteralKind) String() string {
	return enumName(int(k), "LiteralKind", "NULL", "BOOLEAN", "INTEGER", "DECIMAL", "FLOAT", "STRING", "INTERVAL", "TIMESTAMP")
}

// String returns the operator's SQL spelling: "-" or "NOT".
func (op UnaryOp) String() string { return enumName(int(op), "UnaryOp", "-", "NOT") }

// String returns the operator's canonical SQL spelling, e.g. "<>" or "AND".
func (op BinaryOp) String() string {
	if int(op) < len(binaryText) {
		return binaryText[op]
	}
	return fmt.Sprintf("BinaryOp(%d)", int(op))
}

func enumName(i int, typ string, names ...string) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("%s(%d)", typ, i)
}
