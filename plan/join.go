package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/sql"
)

// Input roles in a join.
const (
	RoleStream = "stream"
	RoleTable  = "table"
)

// Routing of a broadcast table input.
const RoutingBroadcast = "broadcast"

// DefaultBroadcastMaxRows is 'join.broadcast.max.rows' when not given: a
// table of at most this many rows is broadcast unless told otherwise.
const DefaultBroadcastMaxRows = 1_000_000

// The WITH properties of joins.
const (
	PropBroadcastMaxRows = "join.broadcast.max.rows"
	// PropStateTTL bounds a stream-stream join without a time bound in ON
	// (read by the executor).
	PropStateTTL = "join.state.ttl"
	// per table input '<n>.primary.key', '<n>.broadcast', '<n>.bootstrap'
	PropPrimaryKey = "primary.key"
	PropBroadcast  = "broadcast"
	PropBootstrap  = "bootstrap"
)

// primaryKey returns a source's primary key: from its schema (DDL or
// '<name>.primary.key', resolved by the runner), else from the WITH clause.
func primaryKey(sel *sql.Select, opts Options, in *Input) []string {
	if len(in.Schema.PrimaryKey) > 0 {
		return in.Schema.PrimaryKey
	}
	var out []string
	for _, k := range strings.Split(property(sel, opts, in.Name+"."+PropPrimaryKey), ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// roles marks every JOIN source with a primary key as a table and decides
// which tables are broadcast: forced by '<n>.broadcast', else when the
// table's size (opts.TableRows) is at most 'join.broadcast.max.rows', or
// unknown. It checks the values of the join properties, whether or not
// the statement joins.
func (p *Plan) roles(sel *sql.Select, opts Options) error {
	maxRows := int64(DefaultBroadcastMaxRows)
	if v := strings.TrimSpace(property(sel, opts, PropBroadcastMaxRows)); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return &sql.PropertyError{Key: PropBroadcastMaxRows, InValue: true,
				Msg: fmt.Sprintf("WITH '%s': invalid value %q: want a number of rows", PropBroadcastMaxRows, sql.Clip(v))}
		}
		maxRows = n
	}
	if v := strings.TrimSpace(property(sel, opts, PropStateTTL)); v != "" {
		if _, err := sql.PositiveDurationProperty(PropStateTTL, v); err != nil {
			return err
		}
	}
	for i := range p.Inputs {
		in := &p.Inputs[i]
		in.Role, in.Rows = RoleStream, -1
		if i == 0 {
			continue
		}
		in.PrimaryKey = primaryKey(sel, opts, in)
		if len(in.PrimaryKey) == 0 {
			continue
		}
		in.Role = RoleTable
		if rows, ok := opts.TableRows[in.Name]; ok {
			in.Rows = rows
		}
		key := in.Name + "." + PropBroadcast
		switch v := strings.ToLower(strings.TrimSpace(property(sel, opts, key))); v {
		case "true":
			in.Broadcast, in.Why = true, fmt.Sprintf("forced by WITH '%s'='true'", key)
		case "false":
			in.Why = fmt.Sprintf("WITH '%s'='false' keeps the table from being broadcast", key)
		case "":
			switch {
			case in.Rows < 0:
				in.Broadcast = true
				in.Why = fmt.Sprintf("the table's size is known only once it is read: it is broadcast when its bootstrap finds at most %d rows ('%s'), else split over the workers by its key", maxRows, PropBroadcastMaxRows)
			case in.Rows <= maxRows:
				in.Broadcast = true
				in.Why = fmt.Sprintf("the table holds %d rows, at most '%s'=%d, so every worker reads one shared copy and the stream keeps its cheapest routing", in.Rows, PropBroadcastMaxRows, maxRows)
			default:
				in.Why = fmt.Sprintf("the table holds %d rows, more than '%s'=%d", in.Rows, PropBroadcastMaxRows, maxRows)
			}
		default:
			return &sql.PropertyError{Key: key, InValue: true,
				Msg: fmt.Sprintf("WITH '%s': invalid value %q (valid values: true, false)", key, sql.Clip(v))}
		}
	}
	return nil
}

// routed decides, per input, whether routing must co-locate it with the
// stream: every stream does, a broadcast table does not, and a table that
// is not broadcast does unless co-locating it would leave no key to hash
// on (a later join of a multi-way join on another key, or a GROUP BY on
// another key): such a table is looked up by its own key instead
// (Input.Exchange), so each join of the statement runs on its own key.
// Tables are taken in JOIN order, so the first keeps the stream's routing.
func (p *Plan) routed(sel *sql.Select, r *resolver) []bool {
	out := make([]bool, len(p.Inputs))
	for i, in := range p.Inputs {
		out[i] = in.Role != RoleTable
	}
	req, _ := requirement(sel, r, out)
	for i := range p.Inputs {
		in := &p.Inputs[i]
		if in.Role != RoleTable || in.Broadcast {
			continue
		}
		out[i] = true
		next, _ := requirement(sel, r, out)
		if next.Kind == partition.Single && req.Kind != partition.Single {
			out[i], in.Exchange = false, true
			in.Why += fmt.Sprintf("; co-locating it with the stream would leave no key to hash on (%s)", next.Why)
			continue
		}
		req = next
	}
	return out
}

// lookupTables splits every table that is not broadcast by its own key,
// for a statement whose stream-stream joins run on several keys: each row
// looks its match up in the shard that holds it, wherever the row is.
func (p *Plan) lookupTables() {
	for i := range p.Inputs {
		if in := &p.Inputs[i]; in.Role == RoleTable && !in.Broadcast {
			in.Exchange = true
			in.Why += "; the statement's stream-stream joins route the rows on their own keys"
		}
	}
}

// streamsOnly reports whether the statement joins streams and no table
// that is not broadcast.
func (p *Plan) streamsOnly() bool {
	streams := 0
	for _, in := range p.Inputs[1:] {
		switch {
		case in.Role == RoleStream:
			streams++
		case !in.Broadcast:
			return false
		}
	}
	return streams > 0
}

// joinAtSource tries joining every table as the stream is read, before
// routing: the tables' columns are then columns of the stream's rows, and
// a statement that needs one partition only because it groups by a
// table's column may hash on it. It returns the requirement it takes,
// marking the tables, or req and keys when that does not help (or another
// input is a stream).
func (p *Plan) joinAtSource(sel *sql.Select, r *resolver, req partition.Requirement, keys []sql.Expr) (partition.Requirement, []sql.Expr) {
	jreq, jkeys, ok := p.joinedRequirement(sel, r)
	if !ok {
		return req, keys
	}
	for i := range p.Inputs[1:] {
		in := &p.Inputs[i+1]
		in.JoinedAtSource, in.Exchange = true, false
	}
	return jreq, jkeys
}

// joinedRequirement returns the requirement of the statement with every
// table joined as the stream is read (their columns the stream's), and
// whether it hashes: false when it does not, or another input is a
// stream.
func (p *Plan) joinedRequirement(sel *sql.Select, r *resolver) (partition.Requirement, []sql.Expr, bool) {
	routed := make([]bool, len(p.Inputs))
	routed[0] = true
	jr := *r
	jr.joined = map[int]bool{}
	for i, in := range p.Inputs[1:] {
		if in.Role != RoleTable {
			return partition.Requirement{}, nil, false
		}
		jr.joined[i+1] = true
	}
	jreq, jkeys := requirement(sel, &jr, routed)
	return jreq, jkeys, jreq.Kind == partition.Hash
}

// placeInputs says how each input reaches the workers, once the strategy
// is chosen. A table that is not broadcast shares the stream's key groups
// (hashed on its side of the routing key, or split by source partition
// when both inputs are partitioned alike); when the routing does not hash
// on the table's primary key columns, the table is split by its own key
// and each row looks its match up in the shard that owns it: an exchange
// on the next key inside the process.
func (p *Plan) placeInputs(sel *sql.Select, r *resolver) {
	strat := p.Strategy.Name()
	streams := 0
	for _, in := range p.Inputs {
		if in.Role == RoleStream {
			streams++
		}
	}
	aligned := p.Requirement.Aligned() && (strat == partition.SmartRepartition || strat == partition.StickyPartition) && streams == 1
	for i := range p.Inputs {
		in := &p.Inputs[i]
		keys := exprNames(in.KeyExprs)
		switch {
		case i == 0:
			in.Routing = strat
			if len(p.RoutingKeys) > 0 && strat != partition.FanIn {
				in.Routing += " on " + strings.Join(p.RoutingKeys, ", ")
			}
			in.Why = p.Reason
		case in.Role != RoleTable && in.Exchange:
			st := p.Stages[p.stageAt(i)]
			in.Routing = "exchange on " + strings.Join(keys, ", ")
			in.Why = fmt.Sprintf("JOIN %s runs after an exchange: %s", in.Name, st.Why)
		case in.Role != RoleTable:
			in.Routing = strat
			if len(keys) > 0 && strat != partition.FanIn {
				in.Routing += " on " + strings.Join(keys, ", ")
				in.Why = fmt.Sprintf("its rows are hashed on %s, its side of the join key, into the key groups %s is routed to", strings.Join(keys, ", "), p.Inputs[0].Name)
				if p.Requirement.Aligned() && (strat == partition.SmartRepartition || strat == partition.StickyPartition) {
					in.Why = fmt.Sprintf("%s and %s are both partitioned by the join key into %d partitions, so stream partition p goes to worker p mod N for both", p.Inputs[0].Name, in.Name, in.Facts.Partitions)
				}
			} else if strat == partition.FanIn {
				in.Why = "every row goes to one worker, as " + p.Inputs[0].Name + "'s"
			}
		case in.JoinedAtSource:
			in.Routing = "joined as " + p.Inputs[0].Name + " is read"
			if in.Broadcast {
				in.Routing += " (broadcast)"
			}
			in.Why = fmt.Sprintf("%s is read whole before the stream flows and no longer changes, so each %s row is looked up in it as it is read, before routing, and the joined rows are hashed on %s for %s (an exchange after the join)",
				in.Name, p.Inputs[0].Name, strings.Join(p.RoutingKeys, ", "), p.Requirement.Why)
		case in.Broadcast:
			in.Routing = RoutingBroadcast
		case in.Exchange || p.Requirement.Kind != partition.Hash || strat == partition.FanIn || !p.tableKeyed(in):
			lookup, own := lookupKeys(sel, r, i)
			if !in.Exchange {
				in.Why += fmt.Sprintf("; the stream is routed by %s, not hashed on %s's primary key", p.Inputs[0].Routing, in.Name)
			}
			in.Exchange, in.KeyExprs = true, own
			in.Routing = "exchange on " + strings.Join(lookup, ", ")
			in.Why += fmt.Sprintf(", so %s is split over the workers by its primary key (%s) and each row, after the joins before it, is looked up in the shard that holds %s: an exchange on the next key inside the process",
				in.Name, strings.Join(in.PrimaryKey, ", "), strings.Join(lookup, ", "))
		case aligned:
			in.ByPartition = true
			in.Routing = "by source partition (" + strat + ")"
			in.Why += fmt.Sprintf("; %s and %s are both partitioned by the join key into %d partitions, so table partition p joins stream partition p on worker p mod N", p.Inputs[0].Name, in.Name, in.Facts.Partitions)
		default:
			in.Routing = partition.AlwaysHash + " on " + strings.Join(keys, ", ")
			in.Why += "; its rows are hashed on " + strings.Join(keys, ", ") + " into the key groups the stream is hashed into"
		}
	}
}

// lookupKeys returns what input i (a table) is looked up by: the
// expressions its JOIN equates with its columns, and those columns.
func lookupKeys(sel *sql.Select, r *resolver, i int) ([]string, []sql.Expr) {
	var by []string
	var own []sql.Expr
	for _, pr := range equalities(sel.Joins[i-1].On, r) {
		if r.input(pr.r) == i {
			by, own = append(by, sql.FormatExpr(pr.l)), append(own, pr.r)
		}
	}
	return by, own
}

// tableKeyed reports whether a table's side of the routing key is made of
// its primary key columns, so that each key's latest row lives in one shard.
func (p *Plan) tableKeyed(in *Input) bool {
	if len(in.KeyExprs) == 0 {
		return false
	}
	for _, e := range in.KeyExprs {
		id, ok := e.(*sql.Ident)
		if !ok {
			return false
		}
		found := false
		for _, k := range in.PrimaryKey {
			found = found || strings.EqualFold(k, id.Name)
		}
		if !found {
			return false
		}
	}
	return true
}

// coPartitionNote says why two partitioned inputs are not routed by source
// partition.
func (p *Plan) coPartitionNote(in *Input) string {
	s := p.Inputs[0]
	switch {
	case len(s.Facts.Key) == 0:
		return "the partition key of " + s.Name + " is unknown"
	case len(in.Facts.Key) == 0:
		return "the partition key of " + in.Name + " is unknown"
	case s.Facts.Partitions == 0 || in.Facts.Partitions == 0:
		return fmt.Sprintf("the partition counts of %s and %s are checked only when the job reaches them; co-partitioning needs equal counts", s.Name, in.Name)
	case s.Facts.Partitions != in.Facts.Partitions:
		return fmt.Sprintf("%s has %d partitions and %s %d: co-partitioning needs equal counts", s.Name, s.Facts.Partitions, in.Name, in.Facts.Partitions)
	}
	return fmt.Sprintf("%s is partitioned by %s and %s by %s, not both by the same join key", s.Name, strings.Join(s.Facts.Key, ", "), in.Name, strings.Join(in.Facts.Key, ", "))
}

// joinSourceKey returns the stream's partition key when every routed
// table is partitioned alike (a known key that is its side of the routing
// key, and as many partitions as the stream): smart_repartition may then
// route whole source partitions.
func (p *Plan) joinSourceKey(keys []sql.Expr, r *resolver) []string {
	s := p.Inputs[0]
	if len(s.Facts.Key) == 0 || s.Facts.Partitions == 0 {
		return nil
	}
	for i := 1; i < len(p.Inputs); i++ {
		in := p.Inputs[i]
		if in.Broadcast || in.Exchange {
			continue
		}
		side := exprNames(inputKeys(p.Statement.Query, r, keys, i))
		if in.Facts.Partitions != s.Facts.Partitions || !samePositions(s.Facts.Key, exprNames(keys), in.Facts.Key, side) {
			return nil
		}
	}
	return s.Facts.Key
}

// samePositions reports whether partition keys a (over names an) and b
// (over names bn) are the same routing key columns in the same order.
func samePositions(a, an, b, bn []string) bool {
	if len(a) == 0 || len(a) != len(b) || !partition.KeySubset(a, an) || !partition.KeySubset(b, bn) {
		return false
	}
	for i := range a {
		if position(a[i], an) != position(b[i], bn) {
			return false
		}
	}
	return true
}

// position returns the index of column col among names (qualifiers ignored).
func position(col string, names []string) int {
	for i, n := range names {
		if _, c, ok := strings.Cut(n, "."); ok {
			n = c
		}
		if strings.EqualFold(n, col) {
			return i
		}
	}
	return -1
}

func exprNames(es []sql.Expr) []string {
	var out []string
	for _, e := range es {
		if e != nil {
			out = append(out, sql.FormatExpr(e))
		}
	}
	return out
}
