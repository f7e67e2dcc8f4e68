package app

import (
	"strings"

	"github.com/sluicesql/sluice/sql"
)

// eventTimeKey is the WITH property naming a query's event-time column.
const eventTimeKey = "event.time.field"

// Watermarks travel with the rows of an in-process stream when the writer
// maps each row 1:1 (no GROUP BY, WINDOW or JOIN): the writer stamps every
// row with its source partition's watermark when it read the row, and the
// reader takes that watermark instead of judging from the event times it
// sees (a filter upstream has thinned them out). That needs the writer's
// event time to be the reader's: a reader windowing on column c of the
// stream has the writer compute its event time from the input column it
// writes as c (its 'event.time.field' unless it sets one itself), so a
// chain fires the windows, and finds the late records, of the same query
// run as one statement.

// timeColumn returns the event-time column q reads ("" for the record's
// own event time): its window's, else its 'event.time.field' (--set first).
func timeColumn(q *sql.Select, set map[string]string) string {
	if q.Window != nil && q.Window.TimeColumn != "" {
		return q.Window.TimeColumn
	}
	for k, v := range set {
		if strings.EqualFold(k, eventTimeKey) {
			return strings.TrimSpace(v)
		}
	}
	return strings.TrimSpace(property(q, eventTimeKey))
}

// rowMapping reports whether q writes one row per input row at most, each
// from that row: no GROUP BY, WINDOW, JOIN or DISTINCT.
func rowMapping(q *sql.Select) bool {
	return len(q.GroupBy) == 0 && q.Window == nil && len(q.Joins) == 0 && !q.Distinct
}

// inputColumn returns the input column that q writes, unchanged, as its
// output column out ("" when none does).
func inputColumn(q *sql.Select, out string) string {
	for _, it := range q.Items {
		if it.Star {
			for _, e := range it.Except {
				if strings.EqualFold(e.Name, out) {
					return ""
				}
			}
			continue
		}
		id, ok := it.Expr.(*sql.Ident)
		if !ok || len(id.Path) > 0 {
			if strings.EqualFold(it.Alias, out) {
				return ""
			}
			continue
		}
		name := id.Name
		if it.Alias != "" {
			name = it.Alias
		}
		if strings.EqualFold(name, out) {
			return id.Name
		}
	}
	for _, it := range q.Items {
		if it.Star {
			return out
		}
	}
	return ""
}

// writerTime returns the event-time column the writer n computes its
// watermark on ("" for the record's own event time), and the column it
// must be told to use ("" when it sets its own or needs none): the input
// column behind the time column its in-process readers window on, when
// they agree.
func (a *App) writerTime(n *Node, set map[string]string) (col, push string) {
	if own := timeColumn(n.Stmt.Query, set); own != "" || !rowMapping(n.Stmt.Query) {
		return own, ""
	}
	for _, e := range n.Outputs {
		r := a.Node(e.To)
		if e.Via != InProcess || !strings.EqualFold(r.Reads[0], e.Stream) {
			continue
		}
		tc := timeColumn(r.Stmt.Query, set)
		if tc == "" {
			continue
		}
		c := inputColumn(n.Stmt.Query, tc)
		switch {
		case c == "":
		case push == "":
			push = c
		case !strings.EqualFold(push, c):
			return "", "" // readers disagree: none is served
		}
	}
	return push, push
}

// carries reports whether the in-process link e, from writer n, carries
// n's watermarks: n maps rows 1:1 and its event time is the one the reader
// reads from its FROM stream (col is n's, from writerTime).
func (a *App) carries(n *Node, e *Edge, col string, set map[string]string) bool {
	r := a.Node(e.To)
	if e.Via != InProcess || !rowMapping(n.Stmt.Query) || !strings.EqualFold(r.Reads[0], e.Stream) {
		return false
	}
	tc := timeColumn(r.Stmt.Query, set)
	if tc == "" {
		return true // the reader reads the rows' event time, which n set
	}
	return col != "" && strings.EqualFold(inputColumn(n.Stmt.Query, tc), col)
}
