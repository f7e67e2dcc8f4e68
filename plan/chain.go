package plan

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/sql"
)

// Stage is one stream-stream join of a statement: the rows of the joins
// before it (or the FROM stream) meet one more stream within a time bound.
// The stages of a statement run one after another on the workers; a stage
// whose key is not the one the rows are routed by re-routes them first (an
// exchange inside the process).
type Stage struct {
	// Input is the joined stream (its index in Plan.Inputs).
	Input int
	// Kind is INNER, LEFT, RIGHT or FULL; Keys are the join's equalities;
	// Bound its time bound.
	Kind  string
	Keys  []string
	Bound string
	// Exchange is set when the rows of the joins before it are re-routed
	// on LeftKeys, and the stream on RightKeys, before the join. A later
	// join of the same group has the keys too: its rows are where they
	// belong, and its stream's records, which the job may route by source
	// partition, go to the worker that owns their RightKeys.
	Exchange            bool
	LeftKeys, RightKeys []sql.Expr
	// Routing says where the join runs and Why says why.
	Routing, Why string
}

// streamInputs returns the inputs joined as streams (JOIN sources with no
// primary key), in order.
func (p *Plan) streamInputs() []int {
	var out []int
	for i, in := range p.Inputs {
		if i > 0 && in.Role == RoleStream {
			out = append(out, i)
		}
	}
	return out
}

// classes groups expressions that the joins' equalities make equal.
type classes struct {
	r      *resolver
	parent map[string]string
}

func newClasses(sel *sql.Select, r *resolver) *classes {
	c := &classes{r: r, parent: map[string]string{}}
	for _, j := range sel.Joins {
		for _, pr := range equalities(j.On, r) {
			a, b := c.of(pr.l), c.of(pr.r)
			if a != b {
				c.parent[b] = a
			}
		}
	}
	return c
}

func (c *classes) find(x string) string {
	for {
		p, ok := c.parent[x]
		if !ok || p == x {
			return x
		}
		x = p
	}
}

// of returns e's class.
func (c *classes) of(e sql.Expr) string { return c.find(c.r.id(e)) }

// stageKey is the key of a stream-stream join: per equality, its class
// and each side's expression.
type stageKey struct {
	class       []string
	left, right []sql.Expr
}

func (k stageKey) has(class string) int {
	for i, c := range k.class {
		if c == class {
			return i
		}
	}
	return -1
}

// planStages plans a statement with several stream-stream joins. The
// joins run one after another; consecutive joins whose keys share a class
// run on the same workers (the rows are routed on the shared columns),
// and a join on another key re-routes the rows before it (an exchange).
// The query after the joins needs its rows where the last joins put them:
// when their key is not one of its keys (a GROUP BY on another column, or
// a global aggregate), every join runs on one worker. It returns the
// requirement of the first joins' routing and its keys over the FROM
// stream; false when the statement has at most one stream-stream join,
// unless force (one join whose query after it needs another key).
func (p *Plan) planStages(sel *sql.Select, r *resolver, force bool) (partition.Requirement, []sql.Expr, bool) {
	streams := p.streamInputs()
	if len(streams) == 1 {
		j := sel.Joins[streams[0]-1]
		st := Stage{Input: streams[0], Kind: joinKinds[j.Kind], Bound: boundText(sel, j, r, streams[0])}
		for _, pr := range equalities(j.On, r) {
			st.Keys = append(st.Keys, sql.FormatExpr(pr.l)+" = "+sql.FormatExpr(pr.r))
		}
		st.Routing = "on the workers " + p.Inputs[0].Name + " and " + p.Inputs[streams[0]].Name + " are routed to"
		p.Stages = []Stage{st}
	}
	if len(streams) == 0 || len(streams) == 1 && !force {
		return partition.Requirement{}, nil, false
	}
	cl := newClasses(sel, r)
	keys := make([]stageKey, len(streams))
	for k, in := range streams {
		for _, pr := range equalities(sel.Joins[in-1].On, r) {
			if r.input(pr.r) == in && r.input(pr.l) >= 0 && keys[k].has(cl.of(pr.l)) < 0 {
				keys[k].class = append(keys[k].class, cl.of(pr.l))
				keys[k].left = append(keys[k].left, pr.l)
				keys[k].right = append(keys[k].right, pr.r)
			}
		}
	}
	// Group the joins: a join whose key shares classes with the group's
	// routing key joins the group, which is then routed on the shared
	// classes; any other starts a group.
	type group struct {
		first int      // its first join
		route []string // the classes it is routed on
	}
	var groups []group
	for k := range streams {
		if n := len(groups); n > 0 {
			var shared []string
			for _, c := range groups[n-1].route {
				if keys[k].has(c) >= 0 {
					shared = append(shared, c)
				}
			}
			if len(shared) > 0 {
				groups[n-1].route = shared
				continue
			}
		}
		groups = append(groups, group{first: k, route: keys[k].class})
	}
	// The first group's routing key must be computable from the FROM
	// stream and each of its streams, as the job routes them.
	g0 := &groups[0]
	var kept []string
	for _, c := range g0.route {
		ok := p.member(sel, r, cl, c, 0) != nil
		for k := 0; ok && k < len(streams) && (len(groups) == 1 || k < groups[1].first); k++ {
			ok = p.member(sel, r, cl, c, streams[k]) != nil
		}
		if ok {
			kept = append(kept, c)
		}
	}
	g0.route = kept
	// The query after the joins.
	last := &groups[len(groups)-1]
	var whys []string
	single := len(g0.route) == 0
	if single {
		whys = append(whys, "the key of JOIN "+sel.Joins[streams[0]-1].Source.Name+" cannot be computed from "+p.Inputs[0].Name+" alone")
	}
	// Its keyed clauses keep their groups together where the last join's
	// rows are when they share classes with its routing key; else the rows
	// are exchanged once more, on the classes the clauses share, before
	// the query after the joins (Plan.FinalKeys).
	var keyed []sql.Expr // the keys of the first keyed clause, in the classes all share
	var kwhys []string
	shared := last.route
	for i, c := range clauses(sel, r, make([]bool, len(p.Inputs))) {
		whys = append(whys, c.why)
		if c.single || c.all {
			single = true
			continue
		}
		kwhys = append(kwhys, c.why)
		shared = keep(shared, func(rc string) bool { return classIn(cl, rc, c.keys) })
		if i == 0 || keyed == nil {
			keyed = c.keys
		} else {
			keyed = keepExprs(keyed, func(e sql.Expr) bool { return classIn(cl, cl.of(e), c.keys) })
		}
	}
	keyed = keepExprs(keyed, func(e sql.Expr) bool { return !constant(e) }) // one group: one worker
	switch {
	case single || kwhys == nil:
	case len(shared) > 0:
		last.route = shared
	case len(keyed) > 0:
		p.FinalKeys = keyed
		p.FinalWhy = fmt.Sprintf("%s need rows equal on %s together, and the last join leaves its rows on the workers of %s, so they are re-routed on %s after the joins, an exchange inside the process",
			strings.Join(kwhys, " and "), strings.Join(exprNames(keyed), ", "), p.classNames(sel, r, cl, last.route, streams[last.first]), strings.Join(exprNames(keyed), ", "))
	default:
		single = true
		whys = append(whys, "which share no key")
	}
	req := partition.Requirement{OrderMatters: len(sel.OrderBy) > 0}
	p.Stages = make([]Stage, len(streams))
	gi := 0
	for k, in := range streams {
		j := sel.Joins[in-1]
		st := Stage{Input: in, Kind: joinKinds[j.Kind], Bound: boundText(sel, j, r, in)}
		for i := range keys[k].class {
			st.Keys = append(st.Keys, sql.FormatExpr(keys[k].left[i])+" = "+sql.FormatExpr(keys[k].right[i]))
		}
		if gi+1 < len(groups) && groups[gi+1].first == k {
			gi++
		}
		g := groups[gi]
		if !single && gi > 0 {
			for _, c := range g.route {
				i := keys[k].has(c)
				st.LeftKeys = append(st.LeftKeys, keys[k].left[i])
				st.RightKeys = append(st.RightKeys, keys[k].right[i])
			}
		}
		switch {
		case single:
			st.Routing = "on one worker"
		case k > 0 && g.first == k:
			st.Exchange = true
			st.Routing = "exchange on " + strings.Join(exprNames(st.LeftKeys), ", ")
			st.Why = fmt.Sprintf("its key is not the one the rows before it are routed by, so they are re-routed on %s to the workers %s is hashed to on %s, an exchange inside the process",
				strings.Join(exprNames(st.LeftKeys), ", "), p.Inputs[in].Name, strings.Join(exprNames(st.RightKeys), ", "))
		case k == 0:
			st.Routing = "on the workers " + p.Inputs[0].Name + " is routed to"
		default:
			st.Routing = "on the workers of the rows before it"
			st.Why = fmt.Sprintf("its key shares %s with the key the rows before it are routed by, so its matches are already on one worker", p.classNames(sel, r, cl, g.route, in))
		}
		p.Stages[k] = st
	}
	req.Why = strings.Join(whys, " and ")
	if single {
		req.Kind = partition.Single
		if req.Why == "" {
			req.Why = "the joins"
		}
		return req, nil, true
	}
	var fromKeys []sql.Expr
	for _, c := range g0.route {
		e := p.member(sel, r, cl, c, 0)
		fromKeys = append(fromKeys, e)
		req.Keys = append(req.Keys, sql.FormatExpr(e))
	}
	var first []string
	for k := 0; k < len(streams) && (len(groups) == 1 || k < groups[1].first); k++ {
		j := sel.Joins[streams[k]-1]
		first = append(first, "the matching rows of JOIN "+j.Source.Name+" ON "+sql.FormatExpr(j.On))
	}
	req.Kind, req.KeyExprs = partition.Hash, fromKeys
	req.Why = strings.Join(append(first, whys...), " and ")
	// every stream is routed on its part of its group's key
	gi = 0
	for k, in := range streams {
		if gi+1 < len(groups) && groups[gi+1].first == k {
			gi++
		}
		if gi == 0 {
			continue
		}
		var own []sql.Expr
		for _, c := range groups[gi].route {
			own = append(own, keys[k].right[keys[k].has(c)])
		}
		p.Inputs[in].Exchange = true
		p.Inputs[in].KeyExprs = own
	}
	return req, fromKeys, true
}

// classIn reports whether one of es is in class c.
func classIn(cl *classes, c string, es []sql.Expr) bool {
	for _, e := range es {
		if cl.of(e) == c {
			return true
		}
	}
	return false
}

func keep(cs []string, ok func(string) bool) []string {
	var out []string
	for _, c := range cs {
		if ok(c) {
			out = append(out, c)
		}
	}
	return out
}

func keepExprs(es []sql.Expr, ok func(sql.Expr) bool) []sql.Expr {
	var out []sql.Expr
	for _, e := range es {
		if ok(e) {
			out = append(out, e)
		}
	}
	return out
}

// member returns the expression of input i in class c (nil when none).
func (p *Plan) member(sel *sql.Select, r *resolver, cl *classes, c string, i int) sql.Expr {
	var out sql.Expr
	for _, j := range sel.Joins {
		for _, pr := range equalities(j.On, r) {
			for _, e := range []sql.Expr{pr.l, pr.r} {
				if out == nil && r.input(e) == i && cl.of(e) == c {
					out = e
				}
			}
		}
	}
	return out
}

// classNames names classes by their member of input i (else any member).
func (p *Plan) classNames(sel *sql.Select, r *resolver, cl *classes, cs []string, i int) string {
	var out []string
	for _, c := range cs {
		e := p.member(sel, r, cl, c, i)
		if e == nil {
			for in := range p.Inputs {
				if e = p.member(sel, r, cl, c, in); e != nil {
					break
				}
			}
		}
		if e != nil {
			out = append(out, sql.FormatExpr(e))
		}
	}
	return strings.Join(out, ", ")
}

// boundText describes a stream-stream join's time bound: WITHIN d, or the
// BETWEEN conjunct of its ON that reads the joined stream's time.
func boundText(sel *sql.Select, j sql.Join, r *resolver, in int) string {
	if j.Within > 0 {
		return "WITHIN " + durationText(j.Within)
	}
	for _, c := range sql.Conjuncts(j.On) {
		if b, ok := c.(*sql.Between); ok && !b.Not && (r.input(b.X) == in || r.input(b.Lo) == in) {
			return sql.FormatExpr(b)
		}
	}
	return "no time bound in ON: '" + PropStateTTL + "'"
}

// exchanges reports whether rows are re-routed between two stream-stream
// joins, or after them.
func (p *Plan) exchanges() bool {
	if p.FinalKeys != nil {
		return true
	}
	for _, st := range p.Stages {
		if st.Exchange {
			return true
		}
	}
	return false
}

// stageAt returns the stage of input i, -1 when it is not a stream joined
// as one.
func (p *Plan) stageAt(i int) int {
	for k, st := range p.Stages {
		if st.Input == i {
			return k
		}
	}
	return -1
}

// stageText describes stage k: the join, where it runs and why, and the
// state it keeps.
func (p *Plan) stageText(k int) string {
	st := p.Stages[k]
	s := fmt.Sprintf("%d. %s JOIN %s", k+1, st.Kind, p.Inputs[st.Input].Name)
	if len(st.Keys) > 0 {
		s += " [keys " + strings.Join(st.Keys, ", ") + "]"
	}
	s += " " + st.Bound + ": " + st.Routing
	if st.Why != "" {
		s += ": " + st.Why
	}
	return s + "; state: " + p.stageState(k)
}

// stageState estimates the state of stage k: how long its rows are kept.
func (p *Plan) stageState(k int) string {
	st := p.Stages[k]
	left := p.Inputs[0].Name
	if k > 0 {
		var names []string
		for _, in := range append([]int{0}, p.streamInputs()[:k]...) {
			names = append(names, p.Inputs[in].Name)
		}
		left = strings.Join(names, " JOIN ")
	}
	ooo := property(p.Statement.Query, Options{Properties: p.props}, "watermark.max_out_of_orderness")
	if ooo == "" {
		ooo = "0s"
	}
	s := fmt.Sprintf("the rows of %s and of %s per join key, each until the watermark passes its time plus the bound (about the bound's width plus the out-of-orderness, %s, of each input's rows", left, p.Inputs[st.Input].Name, ooo)
	if k > 0 {
		s += ", plus the bounds of the joins before"
	}
	s += ")"
	var outer []string
	switch st.Kind {
	case "LEFT":
		outer = []string{left}
	case "RIGHT":
		outer = []string{p.Inputs[st.Input].Name}
	case "FULL":
		outer = []string{left, p.Inputs[st.Input].Name}
	}
	if len(outer) > 0 {
		s += "; unmatched rows of " + strings.Join(outer, " and ") + " are emitted with NULLs only then"
	}
	return s
}
