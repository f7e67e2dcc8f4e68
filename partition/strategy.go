// Package partition routes records to N partition workers. It holds the
// Strategy interface, the five strategies Sluice shares with the reference
// (always_hash, smart_repartition, sticky_partition, round_robin, fan_in),
// the routing Context and the Requirement a query places on distribution.
package partition

import (
	"strings"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Strategy decides which partition worker each record goes to. Route is safe
// for concurrent use by several ingest goroutines: it keeps per-call state
// only, and counters and rotation are atomic.
type Strategy interface {
	// Name returns the strategy's canonical name, e.g. "always_hash".
	Name() string
	// Version returns the version of the routing rule. Two runs with the same
	// name, version, partition count and input route identically.
	Version() int
	// Route assigns every record of b a partition in [0, ctx.Partitions):
	// dst[i] for b.Records[i]. It returns whole >= 0 when the entire batch
	// goes to partition whole (dst is then untouched), else -1. dst must have
	// room for len(b.Records) entries.
	Route(b *record.Batch, ctx *Context, dst []int) (whole int)
	// Validate returns nil when routing by this strategy keeps the result of
	// a query with requirement req, or an *InvalidError saying why not.
	Validate(req Requirement) error
}

// Context is what a strategy knows when it routes a batch. The job builds
// one per source; it is read-only during routing and may be shared by the
// goroutines that read that source's partitions.
type Context struct {
	// SourcePartition is the source partition of the batch being routed when
	// the caller tracks it here; Route itself reads b.Partition, so that one
	// Context can serve every partition of a source.
	SourcePartition int32
	// SourcePartitionKey lists the columns the source is partitioned by
	// (declared or observed); nil when unknown or when alignment must not be
	// used. smart_repartition routes whole source partitions only when it is
	// a non-empty subset of RoutingKeys.
	SourcePartitionKey []string
	// SourcePartitions is the number of source partitions; 0 when unknown.
	SourcePartitions int
	// RoutingKeys are the display names of the routing keys (column names
	// for plain columns, canonical SQL for expressions).
	RoutingKeys []string
	// Key evaluates the routing key of r into buf (reusing its storage) and
	// returns it. When Key is nil or returns no values, the hash strategies
	// use all of r.Values as the key, so records still spread over the
	// partitions instead of all landing on one.
	Key func(r *record.Record, buf []record.Value) []record.Value
	// KeyFuncs, when non-empty, evaluate the routing key column by column:
	// KeyFuncs[k](r) is the k-th key value of r, and a value that fails to
	// evaluate (an error) routes as NULL. The hash strategies then evaluate
	// each function over the whole batch and never call Key; KeyFuncs must
	// compute what Key computes, so that either routes alike.
	KeyFuncs []func(r *record.Record) (record.Value, error)
	// KeySlots, when non-nil, are the slots of the routing key columns in
	// r.Values, for keys that are all plain input columns: the hash
	// strategies then read those slots directly and never call Key.
	KeySlots []int
	// Partitions is the number of partition workers N (at least 1).
	Partitions int
	// CPUs is the number of CPUs the job may use.
	CPUs int
}

// Aligned reports whether records that share a routing key already share a
// source partition: the source partition key is known, non-empty and a
// subset of the routing keys (column names compared case-insensitively).
func (c *Context) Aligned() bool {
	return KeySubset(c.SourcePartitionKey, c.RoutingKeys)
}

// Distribution is the kind of placement a query needs.
type Distribution uint8

// The distributions, from the least to the most constrained.
const (
	// Any: every record may go anywhere (stateless work, or order restored by
	// the job's ordered merge).
	Any Distribution = iota
	// Hash: records with equal values of the routing keys must meet in one
	// partition (grouped or keyed state).
	Hash
	// Single: every record must go to one partition (global state or order).
	Single
)

// String returns "any", "hash" or "single".
func (d Distribution) String() string {
	switch d {
	case Hash:
		return "hash"
	case Single:
		return "single"
	}
	return "any"
}

// Requirement is what a query needs from routing to give its result.
type Requirement struct {
	// Kind is the distribution needed.
	Kind Distribution
	// Keys are the display names of the hash keys (Kind == Hash). The single
	// key "*" means the whole input row (SELECT DISTINCT *).
	Keys []string
	// KeyExprs are the hash keys as expressions over the input record of the
	// statement's FROM source, in the order of Keys; nil for "*".
	KeyExprs []sql.Expr
	// OrderMatters is set when the output is ordered (ORDER BY): the job
	// merges the partitions' sorted outputs, and strategies that keep each
	// source partition in order are preferred.
	OrderMatters bool
	// Why is a noun phrase naming what the distribution keeps together, used
	// in messages: "the groups of GROUP BY trader_id".
	Why string
	// SourceKey is the partition key of the statement's only source when
	// known (declared or observed) and usable for alignment; nil otherwise
	// (unknown, or several sources, whose co-partitioning cannot be checked).
	SourceKey []string
}

// Aligned reports whether a Hash requirement is already met by the source's
// own partitioning: SourceKey is a non-empty subset of Keys, so every record
// of one key shares a source partition.
func (r Requirement) Aligned() bool {
	return r.Kind == Hash && KeySubset(r.SourceKey, r.Keys)
}

// KeySubset reports whether sub is non-empty and every name in it appears in
// keys, comparing column names case-insensitively and ignoring a
// "qualifier." prefix. Only plain column names match: a key that is an
// expression (UPPER(symbol), a || b) never stands for a column.
func KeySubset(sub, keys []string) bool {
	if len(sub) == 0 {
		return false
	}
	for _, s := range sub {
		col, ok := columnName(s)
		if !ok {
			return false
		}
		found := false
		for _, k := range keys {
			if kc, ok := columnName(k); ok && strings.EqualFold(col, kc) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// columnName returns the column of "col" or "qualifier.col", and false for
// anything that is not a plain (possibly qualified) identifier.
func columnName(name string) (string, bool) {
	name = strings.TrimSpace(name)
	qual, col, qualified := strings.Cut(name, ".")
	if !qualified {
		return name, isIdent(name)
	}
	return col, isIdent(qual) && isIdent(col)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// InvalidError says why a strategy would change a query's result.
type InvalidError struct {
	// Strategy is the refused strategy's name.
	Strategy string
	// Why completes "strategy <name> ...", e.g. "would split the groups of
	// GROUP BY trader_id across partitions".
	Why string
}

// Error returns "strategy <name> <why>".
func (e *InvalidError) Error() string { return "strategy " + e.Strategy + " " + e.Why }

// splits is the common refusal: the strategy would spread what req keeps together.
func splits(name string, req Requirement) *InvalidError {
	return &InvalidError{Strategy: name, Why: "would split " + req.Why + " across partitions"}
}

// Mod maps a source partition number onto [0, n) (a negative, unknown
// partition too): the worker that sticky_partition, and
// smart_repartition for an aligned source, give source partition p's
// records, and so the shard of a table sharded by partition.
func Mod(p int32, n int) int {
	if n <= 1 {
		return 0
	}
	m := int(p) % n
	if m < 0 {
		m += n
	}
	return m
}
