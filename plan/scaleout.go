package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/sql"
)

// PropRepartition is the job-level WITH key that says what a statement does
// when several processes share its Kafka source through a consumer group and
// its result needs records the source spreads over partitions: repartition
// them through a topic ('true', and by default when it must), or run in one
// process per group ('false').
const PropRepartition = "repartition"

// PropRepartitionPartitions is the job-level WITH key giving the partition
// count of a repartition topic Sluice creates.
const PropRepartitionPartitions = "repartition.partitions"

// MinRepartitionPartitions is the least partition count of a repartition
// topic created without 'repartition.partitions': the key groups that can
// move between processes, so enough to rescale to that many.
const MinRepartitionPartitions = 32

// Repartition is a statement that runs in two stages in every process of
// its consumer group, joined by a repartition topic (as in Kafka Streams):
// stage 1 reads the source as a group member and writes each record to the
// topic partition of its routing key; stage 2 reads the topic in the same
// group, so every key is in one process, and runs the statement.
type Repartition struct {
	// Topic is the repartition topic: <group.id>-<statement>-repartition.
	Topic string `json:"topic"`
	// Group is the consumer group both stages are members of.
	Group string `json:"group"`
	// Partitions is 'repartition.partitions', or 0 for the default:
	// max(source partitions, MinRepartitionPartitions).
	Partitions int `json:"partitions,omitempty"`
	// Key names the routing keys the topic is partitioned by.
	Key []string `json:"key"`
	// Guarantee is the statement's 'processing.guarantee': at_least_once
	// or exactly_once (stage 2 commits in Kafka transactions).
	Guarantee string `json:"guarantee"`
	// Exchange is set when the query after the statement's stream-stream
	// join needs its rows together on another key than the join's: stage
	// 2 runs the join and writes the joined rows to a second topic, which
	// stage 3 reads in the same group and runs the query after the join.
	Exchange *Exchange `json:"exchange,omitempty"`
	// JoinedTables names the tables stage 1 joins each record with as it
	// reads it, when the routing key reads their columns: the topic
	// carries the joined rows, and stage 2 runs the query after the join
	// over them without looking the tables up.
	JoinedTables []string `json:"joined_tables,omitempty"`
}

// Exchange is the second internal topic of a repartitioned statement,
// between its stream-stream join (stage 2) and the query after it (stage
// 3): each joined row goes to the partition of its key there, so every key
// of the query after the join is in one process.
type Exchange struct {
	// Topic is the exchange topic: <group.id>-<statement>-exchange, with
	// the repartition topic's partition count.
	Topic string `json:"topic"`
	// Key names the keys (over the joined row) the topic is partitioned by.
	Key []string `json:"key"`
}

// TopicPartitions returns the partition count to create the topic with for
// a source of sourcePartitions partitions.
func (r *Repartition) TopicPartitions(sourcePartitions int) int {
	if r.Partitions > 0 {
		return r.Partitions
	}
	return max(sourcePartitions, MinRepartitionPartitions)
}

// ScaleOut says whether several processes may share the statement's FROM
// source through one Kafka consumer group, each reading some of its
// partitions, and still give the one-process answer.
type ScaleOut struct {
	// Split is set when the result is the same however the source's
	// partitions are spread over processes.
	Split bool `json:"split"`
	// Why says why, in one sentence.
	Why string `json:"why"`
	// Repartition is set when the statement runs in two stages joined by
	// a repartition topic, so that it splits although its source does not.
	Repartition *Repartition `json:"repartition,omitempty"`
	// Unsplittable says why a statement that does not split is not
	// repartitioned either ("" when it is, or when it splits).
	Unsplittable string `json:"unsplittable,omitempty"`
	// Restart says why the one process of a group that runs a statement
	// neither split nor repartitioned commits no offset, so that a
	// restart reads its FROM stream again from the group's reset
	// position ("" when it commits as it goes): see restartFromStart.
	Restart string `json:"restart,omitempty"`
	// Ungrouped is set when the FROM source is a Kafka topic read in no
	// consumer group (no '<src>.group.id'): the process reads every
	// partition itself, so its result is whole, and a second process
	// would not share the work but do it all again. It says what a group
	// would do.
	Ungrouped string `json:"ungrouped,omitempty"`
}

// ScaleOut reports whether the statement's result survives splitting its
// FROM source's partitions over processes: stateless work does, and so does
// state keyed by a superset of the source's verified partition key (every
// record of a key is in one partition, so in one process). Everything else
// (a key the source is not partitioned by, a global aggregate, ORDER BY,
// LIMIT, a stream-stream join) would be computed in parts, one per process.
// A JOIN table is read whole by every process, so a stream-table join
// splits as its stream does.
func (p *Plan) ScaleOut() ScaleOut {
	s := p.scaleOut()
	s.Repartition = p.Repartition
	if !s.Split {
		s.Unsplittable = p.unsplittable
	}
	if p.Repartition == nil && p.grouped {
		s.Restart = p.restartFromStart()
	}
	if from := p.Inputs[0]; !s.Split && !p.grouped && strings.EqualFold(from.Type, "kafka_source") {
		s.Ungrouped = fmt.Sprintf("with '%s.group.id' set, ", from.Name)
		if p.Repartitionable() || p.groupJoinsInStageOne() {
			s.Ungrouped += "several processes share its partitions through a repartition topic"
		} else {
			s.Ungrouped += "it runs in one process per group (a second member stops the job)"
		}
	}
	return s
}

// restartFromStart says why stream-stream joins run in one process of a
// consumer group (not repartitioned) cannot resume from the FROM stream's
// committed offsets, or returns "". Only the FROM stream is read in the
// group; the others are read whole, without committed offsets, so a
// restart from the FROM stream's offsets would join all of them with
// part of it: a row of another stream that an outer join writes with
// NULLs when unmatched would be written so again when its matches were
// before the committed offsets, and state after the joins would be
// rebuilt with part of its rows (a joined row holds back the commit of
// the stream it was made from, not of the FROM stream). Such a process
// commits nothing: a restart reads every stream again from its start, as
// a run without a group does, and writes the same rows again
// (at-least-once).
func (p *Plan) restartFromStart() string {
	streams := p.streams()
	if len(streams) < 2 {
		return ""
	}
	var others []string
	for _, i := range streams[1:] {
		others = append(others, p.Inputs[i].Name)
	}
	whole := fmt.Sprintf("its other streams (%s) are read whole, without committed offsets, so a restart from the committed offsets of %s would join them with part of it", strings.Join(others, ", "), p.Inputs[0].Name)
	for _, i := range streams[1:] {
		if k := p.Statement.Query.Joins[i-1].Kind; k == sql.RightJoin || k == sql.FullJoin {
			return fmt.Sprintf("%s and write again with NULLs the rows of %s whose matches were before them (%s JOIN %s)", whole, p.Inputs[i].Name, k, p.Inputs[i].Name)
		}
	}
	a := p.Analysis
	if a.Window != "" || len(a.GroupBy) > 0 || len(a.Aggregates) > 0 || a.Distinct || len(a.Over) > 0 || a.TopN != "" || p.Requirement.OrderMatters {
		return whole + " and rebuild the state after the joins with part of its rows"
	}
	return ""
}

// scaleOut is ScaleOut without the repartition decision.
func (p *Plan) scaleOut() ScaleOut {
	src := p.Inputs[0].Name
	req := p.across
	switch {
	case p.prunedTemporal() != "":
		return ScaleOut{Why: p.prunedTemporalWhy()}
	case p.exchanges() && p.exchangeShape() == "":
		return ScaleOut{Why: fmt.Sprintf("the query after its stream-stream join needs their rows equal on %s together, and the join their rows equal on its key", strings.Join(exprNames(p.FinalKeys), ", "))}
	case p.exchanges():
		return ScaleOut{Why: "its stream-stream joins re-route the rows between the workers of one process on another key (an exchange), which the processes of a group do not do between them"}
	case len(p.streams()) > 1:
		return ScaleOut{Why: "a stream-stream join needs the rows of its streams with equal keys in one process, and a consumer group splits only the FROM stream (every process would read the others whole)"}
	case p.Analysis.HasLimit:
		return ScaleOut{Why: "LIMIT counts the rows of the whole result, so each process would apply it to its own part"}
	case req.OrderMatters:
		return ScaleOut{Why: "ORDER BY sorts the whole result, so each process would sort only its own part"}
	case req.Kind == partition.Single:
		return ScaleOut{Why: fmt.Sprintf("%s must all be in one process, so each process would compute a partial result", req.Why)}
	case req.Kind == partition.Hash && !req.Aligned():
		return ScaleOut{Why: fmt.Sprintf("%s must each be in one process, and source %s is not partitioned by a subset of %s, so each process would see part of a key",
			req.Why, src, strings.Join(req.Keys, ", "))}
	case req.Kind == partition.Hash && p.repartitionRefusal() != "":
		// a partition that moves is replayed as stage 2 of a
		// repartitioned statement replays it (see replayAligned)
		return ScaleOut{Why: fmt.Sprintf("source %s is partitioned by %s, but a partition that moves in a rebalance is replayed from its committed offset, which cannot rebuild the statement's state",
			src, strings.Join(req.SourceKey, ", "))}
	case req.Kind == partition.Hash:
		return ScaleOut{Split: true, Why: fmt.Sprintf("source %s is partitioned by %s, so every record of a key is in one partition and so in one process%s",
			src, strings.Join(req.SourceKey, ", "), p.tablesWhole())}
	}
	return ScaleOut{Split: true, Why: "the statement is stateless" + p.tablesWhole() + ", so any process may take any partition"}
}

// prunedTemporal names the table of the statement's first temporal join
// whose old versions the watermark drops (FOR SYSTEM_TIME AS OF the FROM
// stream's event-time column, as join.Program.PrunedTable tells at run
// time), or returns "". Such a statement runs in one process per group,
// whatever its shape: a partition one process gains from another (a kill,
// a member leaving) resumes from that process's last commit, and its
// records read again may be older than the versions this process's table
// kept, which it pruned by its own partitions' watermarks and resume
// points (job.Resumer covers only those). A compacted table topic keeps
// only the latest version of a key, so reading it again cannot bring
// them back. That holds for a stateless split too (the records read again
// would be dead-lettered as late, or dropped if replayed, where one
// process joins them), for an aligned member and for stage 2 of a
// repartitioned statement alike. A temporal join AS OF another column
// keeps every version, so it splits as its stream does. With stream-stream
// joins, whose FROM stream's event time may be a join bound's column, any
// AS OF a column of the FROM stream counts.
func (p *Plan) prunedTemporal() string {
	sel := p.Statement.Query
	et := strings.TrimSpace(property(sel, Options{Properties: p.props}, "event.time.field"))
	streamJoins := len(p.streams()) > 1
	if streamJoins {
		if f := strings.TrimSpace(property(sel, Options{Properties: p.props}, p.Inputs[0].Name+".event.time.field")); f != "" {
			et = f
		}
	}
	from := p.Inputs[0]
	for i, j := range sel.Joins {
		id, ok := j.AsOf.(*sql.Ident)
		if !ok || p.Inputs[i+1].Role != RoleTable {
			continue
		}
		q := id.Qualifier
		ofStream := q == "" || strings.EqualFold(q, from.Name) || strings.EqualFold(q, from.Alias)
		if ofStream && (streamJoins || (et != "" && strings.EqualFold(et, id.Name))) {
			return p.Inputs[i+1].Name
		}
	}
	return ""
}

// prunedTemporalWhy says why a statement with a temporal join that drops
// old versions (prunedTemporal) runs in one process per group.
func (p *Plan) prunedTemporalWhy() string {
	return fmt.Sprintf("its temporal JOIN %s FOR SYSTEM_TIME AS OF the event time drops the table's old versions as the watermark passes them, and a partition a process gains from another in a rebalance is read again from that process's last commit, whose records may need versions this process dropped (a compacted table topic does not keep them); join AS OF another column (every version is kept) to split it",
		p.prunedTemporal())
}

// tablesWhole says, for a join, that every process reads its tables whole.
func (p *Plan) tablesWhole() string {
	var names []string
	for _, in := range p.Inputs {
		if in.Role == RoleTable {
			names = append(names, in.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (every process reads table " + strings.Join(names, ", ") + " whole)"
}

// acrossProcesses returns the distribution the statement needs over the
// processes of a consumer group: a JOIN table is read whole by every
// process, never as a group member, so only the streams' joins and the
// state after the joins constrain it.
func (p *Plan) acrossProcesses(sel *sql.Select, r *resolver) partition.Requirement {
	if len(p.Inputs) == 1 || p.joinedAtSource() {
		// tables joined as the stream is read: their columns are the
		// stream's, in stage 1 of a repartitioned run too
		return p.Requirement
	}
	streams := make([]bool, len(p.Inputs))
	for _, i := range p.streams() {
		streams[i] = true
	}
	req, _ := requirement(sel, r, streams)
	if req.Kind == partition.Hash && len(p.streams()) == 1 {
		req.SourceKey = p.Inputs[0].Facts.Key
	}
	return req
}

// streams returns the indexes of the inputs that are streams.
func (p *Plan) streams() []int {
	var out []int
	for i, in := range p.Inputs {
		if in.Role != RoleTable {
			out = append(out, i)
		}
	}
	return out
}

// Repartitionable reports whether a repartition topic can give every
// process whole keys: keyed state, no order or LIMIT over the whole
// result, and a routing key computed from each stream's own records, or
// from the tables stage 1 joins as it reads the stream.
func (p *Plan) Repartitionable() bool {
	exchange := p.exchanges() && p.exchangeShape() == ""
	if p.Requirement.Kind != partition.Hash || (p.across.Kind != partition.Hash && !exchange) || p.Analysis.HasLimit || p.Requirement.OrderMatters || (p.exchanges() && !exchange) {
		return false
	}
	return p.repartitionRefusal() == ""
}

// repartitionRefusal says why a repartition topic cannot split the
// statement yet, or returns "". Stage 2 keeps no durable state: after a
// rebalance it replays a partition from its committed offset, which
// rebuilds state that its records still before that offset do not feed.
// It cannot rebuild its stream-stream joins (streamJoinRefusal, said
// first), a row window over grouped or windowed rows or after
// stream-stream joins (a row window over a stream's own rows holds the
// commit at the first row of each partition, for good, since LAG and
// running aggregates carry every earlier row of their key, and a replay
// writes its rows again, identical), a SESSION window under 'update'
// after a join (a SESSION window under 'update' over a stream's own
// records holds the commit at the oldest record of every session kept
// for late records, fired or not, so a replay rebuilds them whole:
// exec.Pipeline.releasedBeforeFence). After a table join, or inner stream-stream
// joins on one key, a replay tells the sessions that had fired by the
// fence of the partition of their rows (exec.Program.SetReplayFences,
// less the joins' Lag, summed over a chain; see
// join.Program.SetReplayFences): a joined row holds the commit at the
// earliest of its rows, through every join of the chain.
func (p *Plan) repartitionRefusal() string {
	a := p.Analysis
	if o := p.exchangeRefusal(); o != "" {
		return o
	}
	// through an exchange topic, stage 3 rebuilds the state after the
	// join from the joined rows, the rows with NULLs among them
	if o := p.streamJoinRefusal(); o != "" && p.FinalKeys == nil {
		return o
	}
	if o := p.tableKeyRefusal(); o != "" {
		return o
	}
	if t := p.prunedTemporal(); t != "" {
		// scaleOut says why in full
		return fmt.Sprintf("stage 2 too would gain partitions from other processes in rebalances, read again from their last commits, and its temporal JOIN %s FOR SYSTEM_TIME AS OF the event time may have dropped the table versions they need", t)
	}
	switch {
	case len(a.Over) > 0 && a.TopN == "" && (len(a.GroupBy) > 0 || len(a.Aggregates) > 0 || a.Window != "" || a.Distinct):
		return fmt.Sprintf("its row window (%s) runs over grouped or windowed rows, which a replay after a rebalance from the committed offset could not give it again whole (its rows would be written again with other values)", a.Over[0])
	case len(a.Over) > 0 && a.TopN == "" && len(p.streams()) > 1:
		return fmt.Sprintf("its row window (%s) follows stream-stream joins, and a replay after a rebalance is not yet known to give it every joined row of a key again", a.Over[0])
	case a.Window == "session" && p.lateUpdate() && len(p.Inputs) > 1:
		return "its SESSION window with 'late.data.strategy'='update' after a join is not yet known to be rebuilt exactly by a replay after a rebalance (the joins' replay fences the sessions that fire, not yet those kept for late records); use 'dead_letter' or 'drop', or no join"
	}
	return ""
}

// lateUpdate reports whether late records update the windows they reach
// ('late.data.strategy'='update').
func (p *Plan) lateUpdate() bool {
	return strings.EqualFold(strings.TrimSpace(property(p.Statement.Query, Options{Properties: p.props}, "late.data.strategy")), "update")
}

// exchangeRefusal says why a repartition topic cannot split statement
// whose rows are re-routed on another key between or after its
// stream-stream joins (an exchange inside the process), or returns "".
// The topic routes every stream once, by the key of the first joins; the
// rows of one inner join are re-routed across processes after it through
// a second topic, the exchange topic (exchangeShape), but not the rows
// between joins.
func (p *Plan) exchangeRefusal() string {
	const second = "; re-routing them across processes would take a second repartition topic after the join, which Sluice does not create yet"
	if p.FinalKeys != nil {
		if why := p.exchangeShape(); why != "" {
			return fmt.Sprintf("the query after its stream-stream joins needs their rows equal on %s together, but the repartition topic routes the streams by their join key, and an exchange topic after the join cannot re-route them: %s",
				strings.Join(exprNames(p.FinalKeys), ", "), why)
		}
		return ""
	}
	for _, st := range p.Stages {
		if st.Exchange {
			return fmt.Sprintf("its JOIN %s is on another key than the joins before it, so their rows are re-routed on %s, but the repartition topic routes the streams by one key%s",
				p.Inputs[st.Input].Name, strings.Join(exprNames(st.LeftKeys), ", "), second)
		}
	}
	return ""
}

// exchangeShape says why the rows of the statement's stream-stream join
// cannot be re-routed across processes on the keys of the query after it
// (FinalKeys) through an exchange topic, or returns "" when they can.
// Stage 2 writes each joined row there with an identity its replay after
// a rebalance gives it again (the offsets of the two records it joins, in
// the order the join makes them), so that stage 3 drops the copies, and
// the watermark of its partition less the join's lag. An outer join
// decides its rows with NULLs by the watermark of their partition as its
// records carry it, record by record, so a replay decides them again at
// the same records, and identifies each by that record's offset and its
// own (join.Program.WriteRows). That holds for one join of two streams: a
// chain would pair rows of rows, and a table joined as the rows pass is
// read at another time by a replay.
func (p *Plan) exchangeShape() string {
	streams := p.streams()
	a := p.Analysis
	switch {
	case p.FinalKeys == nil:
		return "the query after the join needs no other key"
	case len(streams) != 2:
		return "it chains several stream-stream joins; only the rows of one join are exchanged"
	case len(p.Inputs) != 2:
		return "it joins a table too; only the rows of two streams joined alone are exchanged"
	case len(a.Over) > 0 || a.TopN != "":
		return "its row window (OVER) is not run after an exchange topic"
	case strings.EqualFold(strings.TrimSpace(property(p.Statement.Query, Options{Properties: p.props}, "late.data.strategy")), "update"):
		return "its 'late.data.strategy'='update' is not run after an exchange topic"
	}
	switch strings.ToLower(strings.TrimSpace(property(p.Statement.Query, Options{Properties: p.props}, "processing.guarantee"))) {
	case "exactly_once", "exactly_once_v2":
		return "'processing.guarantee'='exactly_once' is not run through an exchange topic (its stage 2 does not write the joined rows in a transaction)"
	}
	return ""
}

// streamJoinRefusal says why a repartition topic cannot split the
// statement's stream-stream joins yet, or returns "". A rebalance replays
// the topic's partitions from their committed offsets with empty state:
// one outer join with nothing kept after it replays every row a replayed
// row may meet and writes no row with NULLs twice (see
// join.Program.Replayed), and one followed by TUMBLING or SLIDING windows
// (EMIT FINAL or CHANGES) replays every row that can reach a window still open
// and puts no row into a window that fired (join.Program.ReplayRule), and
// one followed by a GROUP BY without a window or by SESSION windows
// rebuilds its groups from their first rows, and its open sessions from
// their oldest, which hold the commit with every row an outer row matched
// (for good), and one followed by DISTINCT writes a distinct row again
// at most; but a chain of joins or other keyed state after an outer join
// (a row window, a window with 'update') would need the rows with NULLs
// it does not write again.
func (p *Plan) streamJoinRefusal() string {
	if len(p.streams()) < 2 {
		return ""
	}
	var outer string
	for _, i := range p.streams()[1:] {
		if j := p.Statement.Query.Joins[i-1]; j.Kind != sql.InnerJoin {
			outer = fmt.Sprintf("%s JOIN %s", j.Kind, p.Inputs[i].Name)
			break
		}
	}
	a := p.Analysis
	var after string
	switch {
	case outer == "":
		return ""
	case len(p.streams()) > 2:
		return fmt.Sprintf("its chain of stream-stream joins has an outer one (%s), and a replay after a rebalance could not tell the later joins which rows of the earlier ones it wrote", outer)
	case a.Window != "" && p.lateUpdate():
		after = "a window with 'late.data.strategy'='update'"
	case a.Window != "" && a.Window != "session" && !a.Distinct && len(a.Over) == 0 && a.TopN == "":
		// a replay writes each window whole or not again (with EMIT
		// CHANGES, its last update)
		return ""
	case p.groupsForEver(), a.Window == "session" && !a.Distinct && len(a.Over) == 0 && a.TopN == "":
		// its groups hold the commit at their first rows, an open
		// session at its oldest, and the outer rows that matched hold
		// it for good (join.Program.holdsMatched): a replay reads every
		// row again, and decides each outer row as one process does
		return ""
	case a.Distinct && a.Window == "" && len(a.GroupBy) == 0 && len(a.Aggregates) == 0 && len(a.Over) == 0 && a.TopN == "":
		// a replay writes the rows with NULLs of one process, none for a
		// row that matched (join.Program.Replayed), and DISTINCT writes
		// a row again at most (at least once), as it does without a join
		return ""
	case a.Window != "":
		after = "a " + a.Window + " window"
	case len(a.GroupBy) > 0 || len(a.Aggregates) > 0:
		after = "an aggregate"
	case len(a.Over) > 0 || a.TopN != "":
		after = "a row window (OVER)"
	default:
		return ""
	}
	return fmt.Sprintf("its outer stream-stream join (%s) is followed by %s, whose state a replay after a rebalance could not rebuild: the rows with NULLs it wrote before are not written again", outer, after)
}

// groupsForEver reports whether the statement folds its rows into groups
// without a window, kept for ever: a GROUP BY with no DISTINCT, row window
// or Top-N.
func (p *Plan) groupsForEver() bool {
	a := p.Analysis
	return a.Window == "" && len(a.GroupBy) > 0 && !a.Distinct && len(a.Over) == 0 && a.TopN == ""
}

// outerStreams names the streams an outer stream-stream join writes with
// NULLs when unmatched ("a and b" for FULL), or "".
func (p *Plan) outerStreams() string {
	for _, i := range p.streams() {
		if i == 0 {
			continue
		}
		left, right := p.Inputs[0].Name, p.Inputs[i].Name
		if i > 1 {
			left = "the joined rows"
		}
		switch p.Statement.Query.Joins[i-1].Kind {
		case sql.LeftJoin:
			return left
		case sql.RightJoin:
			return right
		case sql.FullJoin:
			return left + " and " + right
		}
	}
	return ""
}

// joinedSingle says why the rows after a statement's stream-stream joins
// must all be in one process (a key that reads the NULL-extended side of
// an outer join, a global aggregate), or returns "": no key routes them.
func (p *Plan) joinedSingle() string {
	if len(p.streams()) < 2 || p.across.Kind != partition.Single {
		return ""
	}
	return p.across.Why + " must all be in one process, so no key routes them"
}

// selfJoin names the topic two streams of the statement read, or "": the
// members of one group cannot each read all of one topic.
func (p *Plan) selfJoin(opts Options) string {
	seen := map[string]bool{}
	for _, i := range p.streams() {
		t := strings.TrimSpace(property(p.Statement.Query, opts, p.Inputs[i].Name+".topic.name"))
		if t == "" {
			t = p.Inputs[i].Name
		}
		if seen[t] {
			return t
		}
		seen[t] = true
	}
	return ""
}

// planRepartition decides whether the statement runs in two stages joined
// by a repartition topic: with 'repartition'='true', or by default when
// its result needs it (ScaleOut does not split) and its Kafka source is
// read in a consumer group. 'false' keeps one process per group.
func (p *Plan) planRepartition(opts Options) error {
	sel := p.Statement.Query
	in := p.Inputs[0]
	raw := strings.TrimSpace(property(sel, opts, PropRepartition))
	mode := strings.ToLower(raw)
	switch mode {
	case "", "true", "false":
	default:
		return &sql.PropertyError{Key: PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s': invalid value %q (valid: true, false)", PropRepartition, sql.Clip(raw))}
	}
	parts := 0
	if v := strings.TrimSpace(property(sel, opts, PropRepartitionPartitions)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1<<20 {
			return &sql.PropertyError{Key: PropRepartitionPartitions, InValue: true,
				Msg: fmt.Sprintf("WITH '%s': invalid value %q (valid: a partition count from 1 to %d)", PropRepartitionPartitions, sql.Clip(v), 1<<20)}
		}
		parts = n
	}
	group := strings.TrimSpace(property(sel, opts, in.Name+".group.id"))
	p.grouped = group != "" && strings.EqualFold(in.Type, "kafka_source")
	kafka, notKafka := true, in.Name // every stream is a Kafka topic, or notKafka is not
	for _, i := range p.streams() {
		if !strings.EqualFold(p.Inputs[i].Type, "kafka_source") {
			kafka, notKafka = false, p.Inputs[i].Name
			break
		}
	}
	split := p.scaleOut()
	self := p.selfJoin(opts)
	switch {
	case mode == "false":
		p.unsplittable = "'repartition'='false'"
		return p.unusedPartitions("'repartition'='false'")
	case mode == "true" && !kafka:
		return &sql.PropertyError{Key: PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s'='true': source %s is not a kafka_source; only a Kafka source read in a consumer group is repartitioned", PropRepartition, notKafka)}
	case mode == "true" && group == "":
		return &sql.PropertyError{Key: PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s'='true' needs '%s.group.id': the repartition topic is read by the processes of a consumer group", PropRepartition, in.Name)}
	case mode == "true" && (!p.Repartitionable() || self != ""):
		why := split.Why
		if split.Split {
			why = "the statement keeps no state by key, so there is no key to repartition by"
		}
		if self != "" {
			why = fmt.Sprintf("two of its streams read topic %s, and the members of one group cannot each read all of a topic", self)
		}
		if o := p.repartitionRefusal(); o != "" {
			why = o
		} else if w := p.joinedSingle(); w != "" {
			why = w
		}
		return &sql.PropertyError{Key: PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s'='true': a repartition topic cannot split this statement: %s", PropRepartition, why)}
	case mode == "" && !kafka:
		return p.unusedPartitions(fmt.Sprintf("source %s is not a kafka_source, and only a Kafka source read in a consumer group is repartitioned", notKafka))
	case mode == "" && group == "":
		return p.unusedPartitions(fmt.Sprintf("source %s is read in no consumer group ('%s.group.id'), so one process reads all of it", in.Name, in.Name))
	case mode == "" && split.Split && p.Repartitionable() && self == "":
		// its source's key splits it; the runner says whether the group's
		// repartition topic of an earlier run keeps it repartitioned
		// (UnusedRepartitionPartitions)
		return nil
	case mode == "" && split.Split:
		return p.unusedPartitions(split.Why)
	case mode == "" && (!p.Repartitionable() || self != ""):
		p.unsplittable = "a repartition topic cannot split it"
		if o := p.repartitionRefusal(); o != "" {
			p.unsplittable = "a repartition topic cannot split it yet: " + o
		} else if self != "" {
			p.unsplittable = fmt.Sprintf("a repartition topic cannot split it: two of its streams read topic %s, and the members of one group cannot each read all of a topic", self)
		} else if w := p.joinedSingle(); w != "" {
			p.unsplittable = "a repartition topic cannot split it: " + w
		}
		return p.unusedPartitions(p.unsplittable)
	}
	p.Repartition = &Repartition{Topic: RepartitionTopic(group, p.Name), Group: group, Partitions: parts, Key: append([]string(nil), p.Requirement.Keys...),
		Guarantee: "at_least_once"}
	if p.FinalKeys != nil {
		p.Repartition.Exchange = &Exchange{Topic: ExchangeTopic(group, p.Name), Key: exprNames(p.FinalKeys)}
	}
	switch g := strings.ToLower(strings.TrimSpace(property(sel, opts, "processing.guarantee"))); g {
	case "exactly_once", "exactly_once_v2":
		p.Repartition.Guarantee = "exactly_once"
	}
	return nil
}

// unusedPartitions is the error for 'repartition.partitions' in the WITH
// of a statement that is not repartitioned, saying why (nil when its WITH
// does not set it): the option would change nothing. One given with --set
// applies to every statement of a file, and to those repartitioned only.
func (p *Plan) unusedPartitions(why string) error {
	for _, w := range p.Statement.Query.With {
		if strings.EqualFold(w.Key, PropRepartitionPartitions) {
			return &sql.PropertyError{Key: w.Key, Msg: fmt.Sprintf("WITH '%s' is set, but the statement is not repartitioned: %s; remove it", PropRepartitionPartitions, why)}
		}
	}
	return nil
}

// UnusedRepartitionPartitions is the error for 'repartition.partitions' in
// the WITH of a statement that its source's key splits over processes (nil
// when the statement is repartitioned, or its WITH does not set it). The
// plan leaves it to the runner, which calls it once it knows that the
// group has no repartition topic of an earlier run of the statement (which
// keeps it repartitioned, the option then checking the topic's partition
// count).
func (p *Plan) UnusedRepartitionPartitions() error {
	if p.Repartition != nil {
		return nil
	}
	return p.unusedPartitions(p.scaleOut().Why)
}

// RepartitionTopic returns the name of the repartition topic of statement
// name in group: <group>-<name>-repartition, with characters a topic name
// cannot hold replaced by '_'.
func RepartitionTopic(group, name string) string { return internalTopic(group, name, "repartition") }

// ExchangeTopic returns the name of the exchange topic of statement name
// in group: <group>-<name>-exchange, with characters a topic name cannot
// hold replaced by '_'.
func ExchangeTopic(group, name string) string { return internalTopic(group, name, "exchange") }

// internalTopic returns <group>-<name>-<kind>, with characters a topic
// name cannot hold replaced by '_'.
func internalTopic(group, name, kind string) string {
	t := []byte(group + "-" + name + "-" + kind)
	for i, c := range t {
		ok := c == '.' || c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			t[i] = '_'
		}
	}
	return string(t)
}
