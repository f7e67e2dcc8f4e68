package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// Plans plans every statement, in the file's order, the way Start would:
// a statement reading an in-process stream is planned with the stream's
// partitioning (its writer's key and partition count), so a GROUP BY on
// the writer's key is aligned with no re-hash. run holds the options of the
// run the plans are for: its --set overrides (Set), NoInfer and UntilEnd.
// An error names the statement's position.
//
// A statement that reads only outside sources is checked as Start would
// check it (runner.Plan): its source's schema is found (declared, or
// inferred from a sample unless run.NoInfer) and its names and types are
// resolved against it. A schema Check inferred is not inferred again.
func (a *App) Plans(ctx context.Context, opts plan.Options, run runner.Options) ([]*plan.Plan, error) {
	set := run.Set
	facts := map[string]connector.Facts{}
	schemas := map[string]connector.Schema{}
	bounded := map[*Node]bool{} // the job's input ends
	byNode := map[*Node]*plan.Plan{}
	for _, n := range a.Nodes {
		o := opts
		o.Sources = map[string]connector.Facts{}
		o.Schemas = map[string]connector.Schema{}
		for _, e := range n.Inputs {
			if f, ok := facts[strings.ToLower(e.Stream)]; ok && e.Via == InProcess {
				o.Sources[e.Stream] = f
			}
			if s, ok := schemas[strings.ToLower(e.Stream)]; ok && e.Via == InProcess {
				o.Schemas[e.Stream] = s
			}
		}
		var p *plan.Plan
		var prog *exec.Program // the statement compiled over its input's types, when known
		var err error
		if len(n.Inputs) == 0 {
			var c *runner.Checked
			c, err = runner.Check(ctx, n.Stmt, runner.Options{Strategy: opts.Strategy, Partitions: opts.Partitions,
				Set: set, Catalog: a.Catalog, NoInfer: run.NoInfer, UntilEnd: run.UntilEnd, JobName: n.Name, KeepOrder: inProcessOut(n), Schemas: a.schemas})
			if err == nil {
				p, bounded[n], prog = c.Plan, c.Bounded, c.Program
			}
		} else {
			bounded[n] = true
			for _, e := range n.Inputs {
				switch e.Via {
				case InProcess:
					bounded[n] = bounded[n] && bounded[a.Node(e.From)]
				case Kafka:
					bounded[n] = false
				}
			}
			o.Properties, err = runner.Properties(n.Stmt.Query, a.Catalog.Properties(n.Reads...), set, nil)
			o.KeepOrder = inProcessOut(n)
			if err == nil {
				p, err = plan.Build(n.Stmt, o)
			}
			if in, ok := o.Schemas[n.Stmt.Query.From.Name]; ok && err == nil && len(n.Stmt.Query.Joins) == 0 && in.Columns != nil {
				prog, _ = exec.Compile(n.Stmt.Query, exec.Options{Properties: o.Properties, Schema: in.Columns, ExternalWatermark: true})
			}
		}
		if err != nil {
			return nil, a.positioned(n, err)
		}
		p.Name = n.Name
		byNode[n] = p
		if n.Writes != "" {
			k := strings.ToLower(n.Writes)
			facts[k], schemas[k] = outputFacts(n, p, prog, set, bounded[n])
		}
	}
	nodes := slices.Clone(a.Nodes)
	slices.SortFunc(nodes, func(x, y *Node) int { return x.Stmt.Offset - y.Stmt.Offset })
	plans := make([]*plan.Plan, len(nodes))
	for i, n := range nodes {
		plans[i] = byNode[n]
	}
	return plans, nil
}

// inProcessOut reports whether another job reads n's rows in process.
func inProcessOut(n *Node) bool {
	for _, e := range n.Outputs {
		if e.Via == InProcess {
			return true
		}
	}
	return false
}

// positioned returns err of node n positioned at the WITH entry it is
// about, else prefixed with the statement's position, and located in the
// application's text.
func (a *App) positioned(n *Node, err error) error {
	err = sql.AtProperty(err, n.Stmt.Query.With)
	var se *sql.Error
	if !errors.As(err, &se) {
		err = fmt.Errorf("statement at line %d:%d (job %s): %w", n.Stmt.Line, n.Stmt.Col, n.Name, err)
	}
	return sql.Locate(err, a.file, a.src)
}

// outputFacts is the partitioning of what n writes: by its output key
// over its partitions, when its query has a key (one sorted partition when
// its input ends: see package pipe); and its schema, whose primary key
// makes a CREATE TABLE's output a table. prog, when not nil, is n's query
// compiled over its input's types, so the output columns have theirs.
func outputFacts(n *Node, p *plan.Plan, prog *exec.Program, set map[string]string, bounded bool) (connector.Facts, connector.Schema) {
	if prog == nil {
		props, err := runner.Properties(n.Stmt.Query, nil, set, nil)
		if err != nil {
			return connector.Facts{}, connector.Schema{}
		}
		if prog, err = exec.Compile(n.Stmt.Query, exec.Options{Properties: props, ExternalWatermark: true}); err != nil {
			return connector.Facts{}, connector.Schema{}
		}
	}
	if len(prog.KeySlots()) == 0 {
		return connector.Facts{}, n.output(prog)
	}
	if bounded {
		return connector.Facts{Partitions: 1}, n.output(prog)
	}
	f := connector.Facts{Partitions: p.Partitions, Origin: "upstream"}
	for _, s := range prog.KeySlots() {
		f.Key = append(f.Key, prog.OutputSchema().Name(s))
	}
	return f, n.output(prog)
}

// GraphNode is one job in the graph of Explain.
type GraphNode struct {
	Name        string   `json:"name"`
	Line        int      `json:"line"`
	Reads       []string `json:"reads"`
	Writes      string   `json:"writes,omitempty"`
	Sink        string   `json:"sink"`
	Strategy    string   `json:"strategy"`
	RoutingKeys []string `json:"routing_keys"`
	Partitions  int      `json:"partitions"`
}

// Graph is an application's jobs and links, for Explain.
type Graph struct {
	Name      string      `json:"name"`
	OnFailure string      `json:"on_failure"`
	Nodes     []GraphNode `json:"nodes"`
	Edges     []Edge      `json:"edges"`
}

// Graph returns the application's graph with each job's plan (plans as
// returned by Plans).
func (a *App) Graph(plans []*plan.Plan) Graph {
	g := Graph{Name: a.Name, OnFailure: a.OnFailure, Edges: a.Edges}
	if g.Edges == nil {
		g.Edges = []Edge{}
	}
	byName := map[string]*plan.Plan{}
	for _, p := range plans {
		byName[p.Name] = p
	}
	for _, n := range a.Nodes {
		gn := GraphNode{Name: n.Name, Line: n.Stmt.Line, Reads: n.Reads, Writes: n.Writes, Sink: a.sinkText(n), RoutingKeys: []string{}}
		if p := byName[n.Name]; p != nil {
			gn.Strategy, gn.Partitions = p.Strategy.Name(), p.Partitions
			if p.RoutingKeys != nil {
				gn.RoutingKeys = p.RoutingKeys
			}
		}
		g.Nodes = append(g.Nodes, gn)
	}
	return g
}

// sinkText says where n's rows go.
func (a *App) sinkText(n *Node) string {
	if inProcessOut(n) {
		return InProcess
	}
	if n.SinkType == "" {
		return "stdout"
	}
	return n.SinkType
}

// Explain writes the plans (plan.Explain) and, for an application of more
// than one job, its graph: each job with its strategy, then the links.
func (a *App) Explain(w io.Writer, plans []*plan.Plan) error {
	if err := plan.Explain(w, plans); err != nil {
		return err
	}
	if len(a.Nodes) < 2 {
		return nil
	}
	g := a.Graph(plans)
	var b strings.Builder
	fmt.Fprintf(&b, "\n-- application %s: %d jobs, on failure %s\n", g.Name, len(g.Nodes), g.OnFailure)
	for _, n := range g.Nodes {
		strategy := n.Strategy
		if len(n.RoutingKeys) > 0 {
			strategy += " on " + strings.Join(n.RoutingKeys, ", ")
		}
		fmt.Fprintf(&b, "  %-16s reads %s; writes %s; %s, %d partitions\n", n.Name, strings.Join(n.Reads, ", "), sinkOf(n), strategy, n.Partitions)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -> %s via %s (%s)\n", e.From, e.To, e.Stream, e.Via)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sinkOf describes a graph node's output.
func sinkOf(n GraphNode) string {
	if n.Writes == "" {
		return n.Sink
	}
	return n.Writes + " (" + n.Sink + ")"
}

// ExplainJSON writes plan.ExplainJSON's object with the application's
// graph added as "app": {"name", "on_failure", "nodes", "edges"}.
func (a *App) ExplainJSON(w io.Writer, plans []*plan.Plan) error {
	var buf bytes.Buffer
	if err := plan.ExplainJSON(&buf, plans); err != nil {
		return err
	}
	var out map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	out["app"] = a.Graph(plans)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	return nil
}
