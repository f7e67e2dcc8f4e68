package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/sql"
)

// clause is one part of a statement that constrains distribution.
type clause struct {
	// why names what the clause keeps together: "the groups of GROUP BY a".
	why string
	// single: the clause needs every record in one partition.
	single bool
	// all: the key is the whole input row (SELECT DISTINCT *).
	all bool
	// keys: records equal on every key must meet (Hash), when not single/all.
	keys []sql.Expr
}

// keyClass is one routing key: expressions equal for every record that
// matters, with at most one per input (joins equate columns of inputs).
type keyClass struct {
	byInput map[int]sql.Expr
	first   sql.Expr
}

// requirement derives the distribution the statement needs: the Hash keys
// must be keys of EVERY keyed clause (a subset of each clause's keys keeps
// each clause's groups together), so they are the intersection of the
// clauses' keys, with join equalities making columns of two inputs one key.
// An empty intersection, or any clause that needs one partition, gives
// Single; no constraining clause gives Any.
//
// routed says which inputs routing must co-locate; a broadcast table's JOIN
// constrains nothing, and keys need not be computable from it.
func requirement(sel *sql.Select, r *resolver, routed []bool) (partition.Requirement, []sql.Expr) {
	req := partition.Requirement{OrderMatters: len(sel.OrderBy) > 0}
	cls := clauses(sel, r, routed)
	if len(cls) == 0 {
		req.Kind = partition.Any
		req.Why = "independent records"
		return req, nil
	}
	for _, c := range cls {
		if c.single {
			req.Kind, req.Why = partition.Single, c.why
			return req, nil
		}
	}
	// Union-find over expression ids: join equalities merge two columns.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			root := find(p)
			parent[x] = root
			return root
		}
		return x
	}
	classes := map[string]*keyClass{}
	member := func(e sql.Expr) string {
		id := r.id(e)
		if _, ok := parent[id]; !ok {
			parent[id] = id
		}
		return id
	}
	for _, j := range sel.Joins {
		for _, p := range equalities(j.On, r) {
			a, b := find(member(p.l)), find(member(p.r))
			if a != b {
				parent[b] = a
			}
		}
	}
	// Register every key expression in its class.
	for _, c := range cls {
		for _, e := range c.keys {
			member(e)
		}
	}
	for id := range parent {
		root := find(id)
		if classes[root] == nil {
			classes[root] = &keyClass{byInput: map[int]sql.Expr{}}
		}
	}
	addToClass := func(e sql.Expr) {
		k := classes[find(r.id(e))]
		if k.first == nil {
			k.first = e
		}
		if in := r.input(e); in >= 0 {
			if _, ok := k.byInput[in]; !ok {
				k.byInput[in] = e
			}
		} else if constant(e) { // every input computes a constant
			for in := 0; in <= len(sel.Joins); in++ {
				if _, ok := k.byInput[in]; !ok {
					k.byInput[in] = e
				}
			}
		}
	}
	for _, j := range sel.Joins {
		for _, p := range equalities(j.On, r) {
			addToClass(p.l)
			addToClass(p.r)
		}
	}
	for _, c := range cls {
		for _, e := range c.keys {
			addToClass(e)
		}
	}
	// Intersect, in the order of the first clause with explicit keys.
	var common []string
	all := true
	for _, c := range cls {
		if c.all {
			continue
		}
		set := map[string]bool{}
		for _, e := range c.keys {
			set[find(r.id(e))] = true
		}
		if all {
			for _, e := range c.keys {
				if id := find(r.id(e)); set[id] && !contains(common, id) {
					common = append(common, id)
				}
			}
			all = false
			continue
		}
		kept := common[:0]
		for _, id := range common {
			if set[id] {
				kept = append(kept, id)
			}
		}
		common = kept
	}
	whys := make([]string, len(cls))
	for i, c := range cls {
		whys[i] = c.why
	}
	req.Why = strings.Join(whys, " and ")
	if all { // only whole-row keys
		req.Kind, req.Keys = partition.Hash, []string{"*"}
		return req, nil
	}
	var keyExprs []sql.Expr
	for _, id := range common {
		k := classes[id]
		if !computable(k, routed) { // some input cannot compute this key
			continue
		}
		keyExprs = append(keyExprs, k.byInput[0])
		req.Keys = append(req.Keys, sql.FormatExpr(k.byInput[0]))
	}
	if len(keyExprs) == 0 {
		req.Kind = partition.Single
		if len(cls) > 1 {
			req.Why += ", which share no key"
		} else {
			req.Why += ", whose keys not every input can compute"
		}
		return req, nil
	}
	req.Kind, req.KeyExprs = partition.Hash, keyExprs
	return req, keyExprs
}

// computable reports whether every routed input can compute key class k.
func computable(k *keyClass, routed []bool) bool {
	for i, r := range routed {
		if _, ok := k.byInput[i]; r && !ok {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clauses lists the statement's distribution constraints, in clause order.
func clauses(sel *sql.Select, r *resolver, routed []bool) []clause {
	var cls []clause
	for i, j := range sel.Joins {
		if i+1 < len(routed) && !routed[i+1] {
			continue // a broadcast table meets every stream record wherever it is
		}
		c := clause{why: "the matching rows of JOIN " + j.Source.Name + " ON " + sql.FormatExpr(j.On)}
		for _, p := range equalities(j.On, r) {
			c.keys = append(c.keys, p.l)
		}
		c.single = len(c.keys) == 0
		if c.single {
			c.why += ", which has no equality key"
		}
		cls = append(cls, c)
	}
	nj := len(cls)
	aggs := aggregateCalls(sel)
	switch {
	case len(sel.GroupBy) > 0:
		c := clause{why: "the groups of GROUP BY " + formatList(sel.GroupBy), keys: routable(sel.GroupBy)}
		c.single = len(c.keys) == 0
		cls = append(cls, c)
	case len(aggs) > 0:
		cls = append(cls, clause{single: true,
			why: "the single group of " + sql.FormatExpr(aggs[0]) + " (an aggregate with no GROUP BY)"})
	case sel.Window != nil && rowTopN(sel):
		// rows ranked within each window: the rank's PARTITION BY routes
	case sel.Window != nil:
		kind, _ := windowText(sel.Window)
		cls = append(cls, clause{single: true,
			why: "the single group of each " + kind + " window (a WINDOW with no GROUP BY)"})
	case sel.Having != nil:
		cls = append(cls, clause{single: true, why: "the single group HAVING filters (HAVING with no GROUP BY)"})
	}
	if sel.Distinct {
		cls = append(cls, distinctClause(sel))
	}
	for _, c := range overCalls(sel) {
		over := sql.FormatExpr(c)
		if len(c.Over.PartitionBy) == 0 {
			cls = append(cls, clause{single: true,
				why: "the one ordered row sequence of " + over + " (an OVER clause with no PARTITION BY)"})
			continue
		}
		oc := clause{
			why:  "the rows of each PARTITION BY " + formatList(c.Over.PartitionBy) + " window of " + sql.FormatExpr(&sql.Call{Name: c.Name, Args: c.Args, Star: c.Star, Distinct: c.Distinct}),
			keys: routable(c.Over.PartitionBy),
		}
		oc.single = len(oc.keys) == 0
		cls = append(cls, oc)
	}
	for _, c := range analyticCalls(sel) {
		cls = append(cls, clause{single: true,
			why: "the one ordered row sequence of " + sql.FormatExpr(c) + " (a row function with no OVER)"})
	}
	if sel.Limit != nil && len(sel.OrderBy) == 0 {
		cls = append(cls, clause{single: true,
			why: fmt.Sprintf("the first %d rows of LIMIT %d without ORDER BY (taken in arrival order)", sel.Limit.Count, sel.Limit.Count)})
	}
	var pk []sql.Expr
	for _, it := range sel.Items {
		if it.PrimaryKey && it.Expr != nil && rowEvaluable(it.Expr) {
			pk = append(pk, it.Expr)
		}
	}
	if len(pk) > 0 {
		cls = append(cls, clause{why: "the updates of each PRIMARY KEY " + formatList(pk) + " (kept in order)", keys: pk})
	}
	outerKeys(sel, r, cls[nj:])
	return cls
}

// routable keeps the keys computable from one input record: hashing on a
// subset of a clause's keys still keeps each of its groups together.
func routable(es []sql.Expr) []sql.Expr {
	var out []sql.Expr
	for _, e := range es {
		if rowEvaluable(e) {
			out = append(out, e)
		}
	}
	return out
}

// distinctClause: equal output rows must meet, so the keys are the select
// items computable from an input row (equal rows agree on them); with none,
// one partition must compare all rows. SELECT DISTINCT * keys on the whole row.
func distinctClause(sel *sql.Select) clause {
	c := clause{why: "the duplicate rows SELECT DISTINCT removes"}
	for _, it := range sel.Items {
		if it.Star {
			c.all = true
			continue
		}
		if rowEvaluable(it.Expr) {
			c.keys = append(c.keys, it.Expr)
		}
	}
	if c.all && len(sel.Items) > 1 {
		c.all = false // `t.*, x` or `*, f(x)`: key on the named items only
	}
	c.single = !c.all && len(c.keys) == 0
	return c
}

// outerKeys drops the keys that read the NULL-extended side of an outer
// join: an unmatched row has NULL there whatever its join key, so such a
// key does not keep equal rows on one partition.
func outerKeys(sel *sql.Select, r *resolver, cls []clause) {
	nullable := sql.NullExtended(sel.Joins)
	if !slices.Contains(nullable, true) {
		return
	}
	for i := range cls {
		c := &cls[i]
		if c.single || c.all || len(c.keys) == 0 {
			continue
		}
		var kept []sql.Expr
		for _, e := range c.keys {
			if in := r.input(e); in < 0 || !nullable[in] {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			c.single = true
			c.why += ", whose keys read the NULL-extended side of an outer join"
		}
		c.keys = kept
	}
}
