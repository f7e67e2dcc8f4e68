package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/secret"
	"github.com/sluicesql/sluice/sql"
)

// RequirementText prints a requirement: "any", "any (ordered merge)",
// "hash(a, b)" or "single".
func RequirementText(r partition.Requirement) string {
	switch r.Kind {
	case partition.Hash:
		return "hash(" + strings.Join(r.Keys, ", ") + ")"
	case partition.Single:
		return "single"
	}
	if r.OrderMatters {
		return "any (ordered merge)"
	}
	return "any"
}

// Explain writes, for each plan, its canonical SQL, the analysis, the
// required distribution, the chosen strategy and keys, where the choice came
// from, the reason, the rejected strategies and the partition count.
func Explain(w io.Writer, plans []*Plan) error {
	var b strings.Builder
	for i, p := range plans {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "-- statement %d: %s\n%s\n\n", i+1, p.Name, strings.TrimRight(statementText(p.Statement), "\n"))
		line := func(label, value string) {
			if value != "" {
				fmt.Fprintf(&b, "  %-13s %s\n", label+":", value)
			}
		}
		a := p.Analysis
		line("kind", strings.TrimSpace(a.Kind+" "+a.Target))
		line("sources", p.sourcesText())
		for _, in := range p.Inputs {
			if in.Schema.Columns != nil || in.Schema.Origin != "" {
				line("schema", schemaText(in))
			}
		}
		line("distinct", yes(a.Distinct))
		line("group by", strings.Join(a.GroupBy, ", "))
		line("aggregates", strings.Join(a.Aggregates, ", "))
		if a.Window != "" {
			line("window", a.Window+" ("+a.WindowSpec+")")
		}
		for j, o := range a.Over {
			pb := a.OverPartitionBy[j]
			if pb == "" {
				pb = "no PARTITION BY"
			} else {
				pb = "PARTITION BY " + pb
			}
			line("over", o+" ["+pb+"]")
		}
		line("row order", a.RowOrder)
		line("qualify", a.Qualify)
		line("top-n", a.TopN)
		for _, j := range a.Joins {
			s := j.Kind + " JOIN " + j.Source + " ON " + j.On
			if len(j.Keys) == 0 {
				s += " [no equality key]"
			} else {
				s += " [keys " + strings.Join(j.Keys, ", ") + "]"
			}
			if j.Within != "" {
				s += " WITHIN " + j.Within
			}
			if j.AsOf != "" {
				s += " [the table's version as of " + j.AsOf + "]"
			}
			line("join", s)
		}
		line("order by", strings.Join(a.OrderBy, ", "))
		if a.HasLimit {
			line("limit", fmt.Sprint(a.Limit))
		}
		line("primary key", strings.Join(a.PrimaryKey, ", "))
		line("emit", a.Emit)
		line("retracts", a.Retracts)
		state := "stateless"
		if a.Stateful {
			state = "stateful"
		}
		line("state", state)
		line("requirement", RequirementText(p.Requirement)+": "+p.Requirement.Why)
		strat := p.Strategy.Name()
		if len(p.RoutingKeys) > 0 && p.Strategy.Name() != partition.FanIn {
			strat += " on " + strings.Join(p.RoutingKeys, ", ")
		}
		line("strategy", strat)
		line("chosen by", p.ChoiceSource)
		line("reason", p.Reason)
		if len(p.Inputs) > 1 {
			for j, in := range p.Inputs {
				label := ""
				if j == 0 {
					label = "inputs:"
				}
				fmt.Fprintf(&b, "  %-13s %s\n", label, in.explainText(j == 0))
			}
			for k := range p.Stages {
				label := ""
				if k == 0 {
					label = "join stages:"
				}
				fmt.Fprintf(&b, "  %-13s %s\n", label, p.stageText(k))
			}
			if p.FinalKeys != nil {
				line("then", "exchange on "+strings.Join(exprNames(p.FinalKeys), ", ")+": "+p.FinalWhy)
			}
			line("join state", p.stateText(false))
		}
		for j, r := range p.Rejected {
			label := ""
			if j == 0 {
				label = "rejected:"
			}
			fmt.Fprintf(&b, "  %-13s %s %s\n", label, r.Strategy, r.Why)
		}
		line("partitions", fmt.Sprintf("%d (from %s)", p.Partitions, originText[p.PartitionsOrigin]))
		line("batch size", fmt.Sprint(p.BatchSize))
		if p.Inputs[0].Type == "kafka_source" {
			line("scale-out", scaleOutText(p.ScaleOut()))
			if p.Repartition != nil {
				one, two := p.stageTexts()
				line("stage 1", one)
				line("stage 2", two)
				if three := p.exchangeText(); three != "" {
					line("stage 3", three)
				}
			}
		}
	}
	_, err := io.WriteString(w, secret.Redact(b.String()))
	return err
}

// statementText is the canonical SQL of s with its secrets masked: the
// values of WITH keys holding a password, secret or token, and URL
// passwords and remembered secrets in any value (EXPLAIN leaves the
// process).
func statementText(s *sql.Statement) string {
	c := *s
	c.With = maskProps(s.With)
	if s.Query != nil {
		q := *s.Query
		q.With = maskProps(s.Query.With)
		c.Query = &q
	}
	return c.String()
}

// maskProps returns a copy of props with their secrets masked.
func maskProps(props []sql.Property) []sql.Property {
	if len(props) == 0 {
		return props
	}
	out := make([]sql.Property, len(props))
	for i, p := range props {
		p.Value = secret.Value(p.Key, p.Value)
		out[i] = p
	}
	return out
}

var originText = map[string]string{FromFlag: "--partitions", FromAnnotation: "@num_partitions", FromCPUs: "the CPU count"}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

// sourcesText describes each input: name, type and partition key.
func (p *Plan) sourcesText() string {
	var parts []string
	for _, in := range p.Inputs {
		s := in.Name
		var notes []string
		if in.Type != "" {
			notes = append(notes, in.Type)
		}
		if len(in.Facts.Key) > 0 {
			notes = append(notes, "partitioned by "+strings.Join(in.Facts.Key, ", ")+" ("+origin(in)+")")
		} else {
			notes = append(notes, "partition key unknown")
		}
		if n := in.Facts.Partitions; n > 0 {
			notes = append(notes, partitionCount(n))
		}
		if in.Facts.Note != "" {
			notes = append(notes, in.Facts.Note)
		}
		parts = append(parts, s+" ("+strings.Join(notes, "; ")+")")
	}
	return strings.Join(parts, ", ")
}

// partitionCount says n partitions, one in the singular.
func partitionCount(n int) string {
	if n == 1 {
		return "1 partition"
	}
	return fmt.Sprintf("%d partitions", n)
}

// schemaText describes an input's schema: its name, where the schema
// comes from, its primary key and its columns with their types.
func schemaText(in Input) string {
	s := in.Name + " (" + in.Schema.Describe()
	if in.Schema.Table() {
		s += "; table, primary key " + strings.Join(in.Schema.PrimaryKey, ", ")
	}
	s += ")"
	if in.Schema.Columns != nil {
		// Each column with its type, ANY included (a column declared by
		// name only, or inferred from NULLs only).
		cols := make([]string, in.Schema.Columns.Len())
		for i, f := range in.Schema.Columns.Fields() {
			cols[i] = f.Name + " " + f.Type.String()
			if f.NotNull {
				cols[i] += " NOT NULL"
			}
		}
		s += ": " + strings.Join(cols, ", ")
	}
	return s
}

// explainText describes an input of a join: role, keys, routing and why
// (the stream's why is the strategy's reason, printed above it).
func (in Input) explainText(stream bool) string {
	s := in.Name
	if in.Alias != "" {
		s += " AS " + in.Alias
	}
	s += ": " + in.Role
	if keys := exprNames(in.KeyExprs); len(keys) > 0 && !in.Broadcast {
		s += ", keys " + strings.Join(keys, ", ")
	}
	if len(in.PrimaryKey) > 0 {
		s += ", primary key " + strings.Join(in.PrimaryKey, ", ")
	}
	s += ", routed " + in.Routing
	if !stream && in.Why != "" {
		s += ": " + in.Why
	}
	return s
}

// scaleOutText says what happens when several processes share the source
// through a consumer group.
func scaleOutText(s ScaleOut) string {
	switch {
	case s.Repartition != nil && s.Split:
		return "repartitioned ('repartition'='true'), so the job runs in two stages in every process of the consumer group (below), although " + s.Why
	case s.Split:
		return "several processes may share the source's consumer group: " + s.Why
	case s.Repartition != nil && s.Repartition.Exchange != nil:
		return "repartitioned, so several processes may share the consumer group: " + s.Why + ", so the job runs in three stages in every process, joined by two topics (below)"
	case s.Repartition != nil:
		return "repartitioned, so several processes may share the consumer group: " + s.Why + ", so the job runs in two stages in every process (below)"
	}
	if s.Ungrouped != "" {
		return "one process, in no consumer group: it reads every partition of its source itself, so its result is whole; " + s.Why + "; " + s.Ungrouped
	}
	text := "one process per consumer group: " + s.Why + "; a second member of the group stops the job"
	if s.Unsplittable != "" {
		text += " (" + s.Unsplittable + ")"
	}
	if s.Restart != "" {
		text += "; it commits no offset, so a restart reads every stream again from its start: " + s.Restart
	}
	return text
}

// stageTexts describe the two stages of a repartitioned statement, each
// with its delivery guarantee.
func (p *Plan) stageTexts() (one, two string) {
	one, two = p.stageWork()
	one += "; it commits a source offset once the topic acknowledged every record before it, and stage 2 drops a record sent again after a restart by its source offset"
	if x := p.Repartition.Exchange; x != nil {
		two = strings.Replace(two, "its inputs routed over the process's workers as above", "each partition on one worker (the join writes its rows in the partition's order)", 1)
		two += fmt.Sprintf("; it writes each joined row to topic %s (as many partitions as %s, created if missing), to the partition of its %s (murmur2), identified by the offsets of the two records it joins, with the watermark of its partition less the join's lag; "+
			"at-least-once: it commits topic offsets once the exchange topic acknowledged the rows before them, and a replay after a rebalance makes the same rows again, which stage 3 drops",
			x.Topic, p.Repartition.Topic, strings.Join(x.Key, ", "))
		if o := p.outerStreams(); o != "" {
			two += fmt.Sprintf("; a row of %s that met no match is written with NULLs once the watermark of its partition, as the records after it carry it, passes its bound, identified by the offsets of that record and its own, so a replay decides it at the same record; every row of %s that matched holds the commit until the commit may pass it too, so a replay never reads it without its matches, and the watermark it reports stays behind the rows with NULLs it has still to write",
				o, o)
		}
		return one, two
	}
	if p.Repartition.Guarantee == "exactly_once" {
		two += "; exactly-once: its output, dead letters and topic offsets commit in one Kafka transaction per commit interval, which a rebalance or a crash aborts (the partitions replay from the last commit)"
		if tables := p.tableNames(); tables != "" {
			two += fmt.Sprintf("; %s: looked up, not part of the transaction (a replayed record is joined again with the rows read by then)", tables)
		}
	} else {
		two += "; at-least-once: it commits topic offsets once the output before them is flushed (after a rebalance or a crash some rows may be written again)"
	}
	return one, two
}

// tableNames names the statement's tables ("table r", "tables r, c"),
// or returns "" when it joins none.
func (p *Plan) tableNames() string {
	var tables []string
	for _, in := range p.Inputs {
		if in.Role == RoleTable {
			tables = append(tables, in.Name)
		}
	}
	switch len(tables) {
	case 0:
		return ""
	case 1:
		return "table " + tables[0]
	}
	return "tables " + strings.Join(tables, ", ")
}

// exchangeText describes the third stage of a statement whose joined rows
// go through an exchange topic, or returns "".
func (p *Plan) exchangeText() string {
	r := p.Repartition
	if r == nil || r.Exchange == nil {
		return ""
	}
	return fmt.Sprintf("reads %s in group %s (each %s in one partition, so in one process; whole partitions move on a rebalance and are replayed from their committed offsets), drops a joined row sent again by its identity and runs the query after the join; "+
		"at-least-once: it commits topic offsets once the output before them is flushed (after a rebalance or a crash some rows may be written again)",
		r.Exchange.Topic, r.Group, strings.Join(r.Exchange.Key, ", "))
}

// stageWork describes what the two stages of a repartitioned statement do.
func (p *Plan) stageWork() (one, two string) {
	r := p.Repartition
	parts := partitionCount(r.Partitions)
	// the run creates the topic with the most partitions of a stream,
	// at least MinRepartitionPartitions: a number only when every
	// stream's count is known (listed to infer its columns)
	most, known := 0, true
	var streams, routes, tables []string
	for _, i := range p.streams() {
		in := p.Inputs[i]
		most = max(most, in.Facts.Partitions)
		known = known && in.Facts.Partitions > 0
		streams = append(streams, in.Name)
		routes = append(routes, in.Name+" by "+strings.Join(exprNames(in.KeyExprs), ", "))
	}
	for _, in := range p.Inputs {
		if in.Role == RoleTable {
			tables = append(tables, in.Name)
		}
	}
	if r.Partitions == 0 {
		parts = fmt.Sprintf("max(source partitions, %d) partitions", MinRepartitionPartitions)
		if known {
			parts = fmt.Sprintf("%d partitions", r.TopicPartitions(most))
		}
	}
	key := strings.Join(r.Key, ", ")
	if len(p.Inputs) == 1 {
		one = fmt.Sprintf("reads %s as a member of group %s and writes each record to topic %s (%s, created if missing), to the partition of its %s (murmur2), with its watermark",
			p.Inputs[0].Name, r.Group, r.Topic, parts, key)
		two = fmt.Sprintf("reads %s in group %s (each key in one partition, so in one process; whole partitions move on a rebalance and are replayed from their committed offsets) and runs the statement with %s",
			r.Topic, r.Group, partition.SmartRepartition)
		if p.Analysis.Window == "session" {
			two += "; a replay writes nothing of a session that closed (its end plus the gap plus the allowed lateness) at or before the watermark of the commit it resumed from, and rebuilds the others whole (commits wait for their oldest records)"
			if p.lateUpdate() {
				two += "; a session kept for late records after it fired holds the commit too, until its retention has passed, so a replay rebuilds it whole, and writes nothing of one whose retention had passed by that watermark"
			}
		}
		two += p.rowWindowReplay()
		return one, two
	}
	whole := ""
	if len(tables) > 0 {
		whole = "; every process reads table " + strings.Join(tables, ", ") + " whole, not through the topic"
	}
	if len(r.JoinedTables) > 0 {
		joined := strings.Join(r.JoinedTables, ", ")
		one = fmt.Sprintf("reads %s as a member of group %s, and table %s whole (to the end it has when the process starts, before the stream; a Kafka table is followed after), looks each record up in %s as it reads it and writes the joined row (%s) to topic %s (%s, created if missing), to the partition of its %s (murmur2), with the watermark of its source partition",
			streams[0], r.Group, joined, joined, p.unmatchedInStageOne(), r.Topic, parts, key)
		two = fmt.Sprintf("reads %s in group %s (each key in one partition, so in one process; whole partitions move on a rebalance and are replayed from their committed offsets) and runs the query after the join over the joined rows; it never looks %s up, so a replay reads the values stage 1 joined",
			r.Topic, r.Group, joined) + p.rowWindowReplay()
		return one, two
	}
	if len(streams) == 1 {
		one = fmt.Sprintf("reads %s as a member of group %s and writes each record to topic %s (%s, created if missing), to the partition of its %s (murmur2), with the watermark of its source partition%s",
			streams[0], r.Group, r.Topic, parts, key, whole)
		two = fmt.Sprintf("reads %s in group %s (each key in one partition, so in one process; whole partitions move on a rebalance and are replayed from their committed offsets) and runs the join there, its inputs routed over the process's workers as above",
			r.Topic, r.Group) + p.rowWindowReplay()
		return one, two
	}
	one = fmt.Sprintf("reads %s as members of group %s and writes each record, tagged with its input, to topic %s (%s, created if missing), to the partition of its side of the join key (murmur2): %s, so equal keys of both streams share a partition whatever their partition counts, with the watermark of its source partition%s",
		strings.Join(streams, " and "), r.Group, r.Topic, parts, strings.Join(routes, " and "), whole)
	two = fmt.Sprintf("reads %s in group %s (each key of both streams in one partition, so in one process; whole partitions move on a rebalance and are replayed from their committed offsets), hands each record to its input by its tag and runs the join there, its inputs routed over the process's workers as above, each stream's watermark followed per source partition",
		r.Topic, r.Group)
	const sessions = "a replay writes nothing of a session that closed (its end plus the gap plus the allowed lateness) at or before the watermark of the commit it resumed from less the most the joins hold the watermark back, and rebuilds the others whole (commits wait for their oldest rows)"
	switch o := p.outerStreams(); {
	case r.Exchange != nil:
		// stage 2 writes the joined rows (stageTexts)
	case o != "" && p.Analysis.Window == "session":
		two += fmt.Sprintf("; every row of %s that matched holds the commit for good, so a replay reads it again with its matches and folds the rows with NULLs of %s into sessions exactly as one process does; %s", o, o, sessions)
	case p.Analysis.Window == "session":
		two += "; " + sessions
	case o != "" && p.Analysis.Window != "":
		two += fmt.Sprintf("; a replay reads again every row that can reach a window still open, and puts no row into a window that fired before it, so the windows count the rows with NULLs of %s exactly as one process does, each written whole", o)
	case o != "" && p.groupsForEver():
		two += fmt.Sprintf("; its groups, kept for ever, hold the commit at their first rows, and so does every row of %s that matched, so a replay rebuilds each group from its first row, with the rows with NULLs of %s exactly as one process folds them (it writes the updates of the groups again)", o, o)
	case o != "":
		two += fmt.Sprintf("; a replay reads again every row that an unmatched row of %s may still meet, so it writes rows with NULLs exactly as one process does, and not again for rows written before", o)
	}
	return one, two
}

// rowWindowReplay says how stage 2 replays a row window (OVER other than
// a Top-N), or returns "".
func (p *Plan) rowWindowReplay() string {
	if len(p.Analysis.Over) == 0 || p.Analysis.TopN != "" {
		return ""
	}
	return "; its row window holds the commit, for good, at the first row each partition gave it (each row carries every earlier row of its key), so a replay rebuilds every key from its first row and writes its rows again, identical"
}

// jsonSchema is one source's schema in ExplainJSON's output.
type jsonSchema struct {
	Source     string       `json:"source"`
	Origin     string       `json:"origin"`
	Records    int          `json:"records,omitempty"`
	Registry   string       `json:"registry,omitempty"`
	Note       string       `json:"note,omitempty"`
	Describe   string       `json:"describe"`
	Table      bool         `json:"table"`
	PrimaryKey []string     `json:"primary_key,omitempty"`
	Columns    []jsonColumn `json:"columns"`
}

// jsonColumn is one column of a jsonSchema, or a field of a ROW column,
// or the element of an ARRAY (no name).
type jsonColumn struct {
	Name     string       `json:"name,omitempty"`
	Type     string       `json:"type"`
	Nullable bool         `json:"nullable"`
	Fields   []jsonColumn `json:"fields,omitempty"`  // a ROW's
	Element  *jsonColumn  `json:"element,omitempty"` // an ARRAY's
}

// columnJSON describes the field f, with its nested structure.
func columnJSON(f record.Field) jsonColumn {
	c := jsonColumn{Name: f.Name, Type: f.Type.String(), Nullable: !f.NotNull}
	switch f.Type.Kind {
	case record.TypeRow:
		for _, g := range f.Type.Fields {
			c.Fields = append(c.Fields, columnJSON(g))
		}
	case record.TypeArray:
		if f.Type.Elem != nil {
			e := columnJSON(record.Field{Type: *f.Type.Elem})
			c.Element = &e
		}
	}
	return c
}

// schemasJSON returns the schemas of p's inputs.
func (p *Plan) schemasJSON() []jsonSchema {
	out := []jsonSchema{}
	for _, in := range p.Inputs {
		s := in.Schema
		if s.Columns == nil && s.Origin == "" {
			continue
		}
		js := jsonSchema{Source: in.Name, Origin: s.Origin, Records: s.Records, Registry: s.Registry,
			Describe: s.Describe(), Table: s.Table(), PrimaryKey: s.PrimaryKey, Columns: []jsonColumn{}}
		if s.Err != nil {
			js.Note = s.Err.Error()
		}
		if s.Columns == nil {
			js.Origin = "unknown"
		} else {
			for _, f := range s.Columns.Fields() {
				js.Columns = append(js.Columns, columnJSON(f))
			}
		}
		out = append(out, js)
	}
	return out
}

// stateText estimates the state a join keeps; streams only when told
// (EXPLAIN's text describes them with their join stages).
func (p *Plan) stateText(streams bool) string {
	var parts []string
	for i, in := range p.Inputs[1:] {
		if k := p.stageAt(i + 1); k >= 0 {
			if streams {
				parts = append(parts, fmt.Sprintf("stream %s: %s", in.Name, p.stageState(k)))
			}
			continue
		}
		if in.Role != RoleTable {
			bound := "WITHIN " + p.Analysis.Joins[i].Within
			if p.Analysis.Joins[i].Within == "" {
				bound = "the time bound in ON (or '" + "join.state.ttl" + "')"
			}
			parts = append(parts, fmt.Sprintf("stream %s joined with %s: the rows of both kept per join key until the watermark passes their event time plus %s; outer rows with NULLs only then",
				in.Name, p.Inputs[0].Name, bound))
			continue
		}
		size := "size known after bootstrap"
		if in.Rows >= 0 {
			size = fmt.Sprintf("%d rows", in.Rows)
		}
		where := "held once and read by every worker"
		if !in.Broadcast {
			where = fmt.Sprintf("split over the %d workers", p.Partitions)
		}
		parts = append(parts, fmt.Sprintf("table %s: latest row per key, %s, %s", in.Name, size, where))
	}
	return strings.Join(parts, "; ")
}

// jsonInput is one input of ExplainJSON's output.
type jsonInput struct {
	Name       string   `json:"name"`
	Alias      string   `json:"alias,omitempty"`
	Role       string   `json:"role"`
	Routing    string   `json:"routing"`
	Keys       []string `json:"keys"`
	Why        string   `json:"why"`
	PrimaryKey []string `json:"primary_key,omitempty"`
	Rows       *int64   `json:"rows,omitempty"`
}

// jsonStage is one stream-stream join of ExplainJSON's output.
type jsonStage struct {
	Input    string   `json:"input"`
	Kind     string   `json:"kind"`
	Keys     []string `json:"keys"`
	Bound    string   `json:"bound"`
	Exchange bool     `json:"exchange"`
	Routing  string   `json:"routing"`
	Why      string   `json:"why,omitempty"`
	State    string   `json:"state"`
}

// jsonFinal is the exchange after the stream-stream joins in ExplainJSON's output.
type jsonFinal struct {
	Keys []string `json:"keys"`
	Why  string   `json:"why"`
}

// jsonStatement is one statement of ExplainJSON's output.
type jsonStatement struct {
	Name             string       `json:"name"`
	SQL              string       `json:"sql"`
	Strategy         string       `json:"strategy"`
	RoutingKeys      []string     `json:"routing_keys"`
	ChoiceSource     string       `json:"choice_source"`
	Reason           string       `json:"reason"`
	Requirement      string       `json:"requirement"`
	RequirementWhy   string       `json:"requirement_why"`
	Partitions       int          `json:"partitions"`
	PartitionsOrigin string       `json:"partitions_origin"`
	BatchSize        int          `json:"batch_size"`
	Rejected         []Rejection  `json:"rejected"`
	Analysis         Analysis     `json:"analysis"`
	Schemas          []jsonSchema `json:"schemas"`
	Inputs           []jsonInput  `json:"inputs"`
	JoinState        string       `json:"join_state,omitempty"`
	Stages           []jsonStage  `json:"join_stages,omitempty"`
	FinalExchange    *jsonFinal   `json:"final_exchange,omitempty"`
	ScaleOut         jsonScaleOut `json:"scale_out"`
}

// jsonScaleOut is ScaleOut with what each stage of a repartitioned
// statement does, as EXPLAIN's stage lines say it.
type jsonScaleOut struct {
	ScaleOut
	Stage1 string `json:"stage1,omitempty"`
	Stage2 string `json:"stage2,omitempty"`
	Stage3 string `json:"stage3,omitempty"`
}

// ExplainJSON writes the plans as
// {"statements":[{"name", "strategy", "routing_keys", "choice_source",
// "reason", "requirement", "partitions", "rejected", ...}]}.
func ExplainJSON(w io.Writer, plans []*Plan) error {
	out := struct {
		Statements []jsonStatement `json:"statements"`
	}{Statements: make([]jsonStatement, 0, len(plans))}
	for _, p := range plans {
		s := jsonStatement{
			Name: p.Name, SQL: statementText(p.Statement), Strategy: p.Strategy.Name(),
			RoutingKeys: p.RoutingKeys, ChoiceSource: p.ChoiceSource, Reason: p.Reason,
			Requirement: RequirementText(p.Requirement), RequirementWhy: p.Requirement.Why,
			Partitions: p.Partitions, PartitionsOrigin: p.PartitionsOrigin, BatchSize: p.BatchSize,
			Rejected: p.Rejected, Analysis: p.Analysis, Schemas: p.schemasJSON(), ScaleOut: jsonScaleOut{ScaleOut: p.ScaleOut()},
		}
		if p.Repartition != nil {
			s.ScaleOut.Stage1, s.ScaleOut.Stage2 = p.stageTexts()
			s.ScaleOut.Stage3 = p.exchangeText()
		}
		if s.RoutingKeys == nil {
			s.RoutingKeys = []string{}
		}
		if s.Rejected == nil {
			s.Rejected = []Rejection{}
		}
		for _, in := range p.Inputs {
			ji := jsonInput{Name: in.Name, Alias: in.Alias, Role: in.Role, Routing: in.Routing, Why: in.Why,
				Keys: exprNames(in.KeyExprs), PrimaryKey: in.PrimaryKey}
			if in.Broadcast || ji.Keys == nil {
				ji.Keys = []string{}
			}
			if in.Rows >= 0 {
				rows := in.Rows
				ji.Rows = &rows
			}
			s.Inputs = append(s.Inputs, ji)
		}
		if len(p.Inputs) > 1 {
			s.JoinState = p.stateText(true)
		}
		for k, st := range p.Stages {
			js := jsonStage{Input: p.Inputs[st.Input].Name, Kind: st.Kind, Keys: st.Keys, Bound: st.Bound, Exchange: st.Exchange,
				Routing: st.Routing, Why: st.Why, State: p.stageState(k)}
			if js.Keys == nil {
				js.Keys = []string{}
			}
			s.Stages = append(s.Stages, js)
		}
		if p.FinalKeys != nil {
			s.FinalExchange = &jsonFinal{Keys: exprNames(p.FinalKeys), Why: p.FinalWhy}
		}
		out.Statements = append(out.Statements, s)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	_, err = io.WriteString(w, secret.Redact(string(b))+"\n")
	return err
}

// unmatchedInStageOne says what stage 1 writes of a record that finds no
// row in a table it joins: nothing after an inner join, the record with
// NULLs in the table's columns after a LEFT JOIN.
func (p *Plan) unmatchedInStageOne() string {
	var inner, left bool
	for _, j := range p.Statement.Query.Joins {
		inner = inner || j.Kind == sql.InnerJoin
		left = left || j.Kind == sql.LeftJoin
	}
	var says []string
	if inner {
		says = append(says, "a record an inner join drops is not written")
	}
	if left {
		says = append(says, "a record a LEFT JOIN finds no row for is written with NULLs in the table's columns")
	}
	if len(says) == 0 {
		return "a record the join drops is not written"
	}
	return strings.Join(says, "; ")
}
