package partition

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/sql"
)

// The canonical strategy names.
const (
	AlwaysHash       = "always_hash"
	SmartRepartition = "smart_repartition"
	StickyPartition  = "sticky_partition"
	RoundRobin       = "round_robin"
	FanIn            = "fan_in"
)

// Names lists the canonical names in the order messages show them.
var Names = []string{AlwaysHash, SmartRepartition, StickyPartition, RoundRobin, FanIn}

// aliases maps every accepted spelling (lower case) to its canonical name:
// the reference's aliases.
var aliases = map[string]string{
	"always_hash": AlwaysHash, "alwayshash": AlwaysHash, "hash": AlwaysHash,
	"smart_repartition": SmartRepartition, "smartrepartition": SmartRepartition, "smart": SmartRepartition,
	"sticky_partition": StickyPartition, "stickypartition": StickyPartition, "sticky": StickyPartition,
	"round_robin": RoundRobin, "roundrobin": RoundRobin, "round": RoundRobin, "robin": RoundRobin,
	"fan_in": FanIn, "fanin": FanIn, "fan-in": FanIn,
}

// aliasHelp is the alias list shown in the unknown-name error.
const aliasHelp = "aliases: alwayshash, hash; smartrepartition, smart; stickypartition, sticky; " +
	"roundrobin, round, robin; fanin, fan-in"

// Canonical returns the canonical name for name or one of its aliases (any
// case, surrounding spaces ignored), or an error listing the valid names.
func Canonical(name string) (string, error) {
	if c, ok := aliases[strings.ToLower(strings.TrimSpace(name))]; ok {
		return c, nil
	}
	hint := ""
	if c, ok := sql.Closest(strings.TrimSpace(name), slices.Sorted(maps.Keys(aliases))); ok {
		hint = fmt.Sprintf("; did you mean %q?", aliases[c])
	}
	return "", fmt.Errorf("unknown partitioning strategy %q%s (valid: %s; %s)",
		name, hint, strings.Join(Names, ", "), aliasHelp)
}

// Parse returns a new strategy for name or one of its aliases, any case.
// An unknown name is an error listing the valid names; there is no silent
// fallback. Each call returns a fresh instance with its own counters.
func Parse(name string) (Strategy, error) {
	c, err := Canonical(name)
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

// New returns a fresh strategy for a canonical name (one of Names); it
// returns nil for any other string.
func New(canonical string) Strategy {
	switch canonical {
	case AlwaysHash:
		return NewHash()
	case SmartRepartition:
		return NewSmart()
	case StickyPartition:
		return NewSticky()
	case RoundRobin:
		return NewRoundRobin()
	case FanIn:
		return NewFanIn()
	}
	return nil
}
