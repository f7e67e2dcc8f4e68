package plan

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/sql"
)

// A statement whose routing key reads a column of a table (a GROUP BY
// c.region after JOIN customers c) is repartitioned with its tables
// joined in stage 1: each process reads its share of the stream as a
// member of the group and every table whole, looks each record up in the
// tables as it reads it, evaluates the routing key over the joined row
// and writes the joined row to the repartition topic; stage 2 runs the
// query after the join over the joined rows, and never looks a table up
// (a replay after a rebalance reads the joined values the first pass
// wrote), as Kafka Streams does for a stream-table join before a
// repartition. The plan marks the tables JoinedAtSource, as one process
// joining bootstrapped files as the stream is read does; stage 2's plan
// hashes the joined rows on the key.

// joinsInStageOne reports whether the statement's tables are joined in
// stage 1 of a repartitioned run: its routing key reads a table's column
// (tableKey), its FROM source is a Kafka topic read in a consumer group
// that repartitioning is not turned off for, and stage 1 can join every
// table (stageOneRefusal).
func (p *Plan) joinsInStageOne(sel *sql.Select, opts Options) bool {
	return !opts.noStageOneJoin && p.groupJoinsInStageOne() && strings.TrimSpace(property(sel, opts, p.Inputs[0].Name+".group.id")) != ""
}

// groupJoinsInStageOne reports whether, read in a consumer group, the
// statement would be repartitioned with its tables joined in stage 1
// (joinsInStageOne; it is read in none).
func (p *Plan) groupJoinsInStageOne() bool {
	return p.tableKey && p.stageOneRefusal() == "" && strings.EqualFold(p.Inputs[0].Type, "kafka_source") &&
		!strings.EqualFold(strings.TrimSpace(property(p.Statement.Query, Options{Properties: p.props}, PropRepartition)), "false")
}

// stageOneRefusal says why stage 1 of a repartitioned run cannot join the
// statement's tables, or returns "". A temporal join looks up the
// version of its table at the record's event time, and drops versions as
// the watermark of the process passes them: stage 1's watermark is its
// own source partitions', ahead of the one process's (the least of all
// partitions'), so it would find a version gone that one process finds.
func (p *Plan) stageOneRefusal() string {
	for i, j := range p.Statement.Query.Joins {
		if j.AsOf != nil {
			return fmt.Sprintf("its temporal JOIN %s (FOR SYSTEM_TIME AS OF) drops the table's old versions as the watermark of the process that reads the stream passes them, and a process reading part of the stream is ahead of one reading all of it", p.Inputs[i+1].Name)
		}
	}
	return ""
}

// joinedAtSource reports whether the statement's tables are joined as the
// stream is read.
func (p *Plan) joinedAtSource() bool {
	for _, in := range p.Inputs {
		if in.JoinedAtSource {
			return true
		}
	}
	return false
}

// joinedTables names the tables joined as the stream is read.
func (p *Plan) joinedTables() []string {
	var names []string
	for _, in := range p.Inputs {
		if in.JoinedAtSource {
			names = append(names, in.Name)
		}
	}
	return names
}

// stageOneJoins records, for a repartitioned statement whose tables are
// joined as the stream is read, that stage 1 joins them, and says so in
// their routing.
func (p *Plan) stageOneJoins() {
	if p.Repartition == nil || !p.joinedAtSource() {
		return
	}
	p.Repartition.JoinedTables = p.joinedTables()
	stream := p.Inputs[0].Name
	for i := range p.Inputs {
		in := &p.Inputs[i]
		if !in.JoinedAtSource {
			continue
		}
		in.Routing = "joined in stage 1 as " + stream + " is read"
		if in.Broadcast {
			in.Routing += " (broadcast)"
		}
		in.Why = fmt.Sprintf("every process reads %s whole before it reads the stream, and its stage 1 looks each %s record up in it as it reads it, then writes the joined row to the repartition topic by %s, for %s; stage 2 runs the query after the join over the joined rows and never looks %s up",
			in.Name, stream, strings.Join(p.RoutingKeys, ", "), p.Requirement.Why, in.Name)
	}
}

// tableKeyRefusal says why a statement whose routing key reads a table's
// column is not repartitioned with its tables joined in stage 1, or
// returns "".
func (p *Plan) tableKeyRefusal() string {
	if !p.tableKey {
		return ""
	}
	if why := p.stageOneRefusal(); why != "" {
		return "its routing key reads a column of a table, which stage 1 would look up as it reads the stream, but " + why
	}
	return ""
}
