package sql

import (
	"errors"
	"strings"
)

// Closest returns the candidate nearest to name, compared case-insensitively
// by edit distance (insertions, deletions, substitutions and swaps of two
// neighbours each count one), when it is near enough to be a likely typo: at
// most one edit for names of up to five bytes, two up to eight, three beyond.
// Names shorter than three bytes match only when equal but for case. A
// candidate that continues name after a dot or an underscore ('o.topic' for
// 'o.topic.name') is taken before a candidate two or more edits away
// ('o.type'). On a tie the earlier candidate wins, so the answer is the same
// on every run.
func Closest(name string, candidates []string) (string, bool) {
	if len(name) > 256 {
		return "", false // not a typo of a name; and the distance would be slow
	}
	limit := len(name) / 3
	switch {
	case len(name) < 3:
		limit = 0
	case limit < 1:
		limit = 1
	case limit > 3:
		limit = 3
	}
	lname := strings.ToLower(name)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(lname, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist > 1 && len(name) >= 3 {
		// A name cut short at a dot or underscore: 'o.topic' for
		// 'o.topic.name', 'file' for 'file_sink'.
		for _, c := range candidates {
			lc := strings.ToLower(c)
			if strings.HasPrefix(lc, lname+".") || strings.HasPrefix(lc, lname+"_") {
				return c, true
			}
		}
	}
	return best, best != ""
}

// DidYouMean returns `did you mean X?` for the Closest candidate, with X
// put through quote (strconv.Quote, or a func adding SQL quotes), or "" when
// no candidate is close.
func DidYouMean(name string, candidates []string, quote func(string) string) string {
	c, ok := Closest(name, candidates)
	if !ok {
		return ""
	}
	return "did you mean " + quote(c) + "?"
}

// editDistance is the optimal-string-alignment distance between a and b,
// over bytes.
func editDistance(a, b string) int {
	if len(a) > len(b) {
		a, b = b, a
	}
	// Three rows: two back (for swaps), previous and current.
	prev2 := make([]int, len(a)+1)
	prev := make([]int, len(a)+1)
	cur := make([]int, len(a)+1)
	for i := range prev {
		prev[i] = i
	}
	for j := 1; j <= len(b); j++ {
		cur[0] = j
		for i := 1; i <= len(a); i++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[i] = min(prev[i]+1, cur[i-1]+1, prev[i-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[i] = min(cur[i], prev2[i-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(a)]
}

// QuoteProperty quotes a WITH property key as it is written in SQL: 'key'.
func QuoteProperty(key string) string { return "'" + key + "'" }

// PropertyError is an error about one WITH property, raised by code that
// knows only the property's key (a connector reading its options, the job
// reading its settings). AtProperty turns it into an *Error positioned at
// the property's entry of the statement.
type PropertyError struct {
	// Key is the property's key, e.g. "o.path".
	Key string
	// InValue says the value is at fault, so the caret goes under the
	// value; otherwise under the key (an unknown or missing key).
	InValue bool
	// Msg is the complete message.
	Msg string
	// Offset is, when InValue, the byte offset in the value of the part at
	// fault (a type in '<n>.columns'), for the caret; 0 is the value.
	Offset int
}

// ValueError splits err, an error of ParseColumns over a property's value,
// into its first message, without the value's own position, line and
// caret, and the byte offset in the value it points at (PropertyError.Offset).
func ValueError(err error, value string) (msg string, offset int) {
	var e *Error
	if !errors.As(err, &e) {
		return err.Error(), 0
	}
	if e.Pos.Offset >= 0 && e.Pos.Offset <= len(value) {
		offset = e.Pos.Offset
	}
	return e.Msg, offset
}

func (e *PropertyError) Error() string { return e.Msg }

// AtProperty positions err at the WITH entry it is about: when err holds a
// *PropertyError (and no positioned *Error) whose key is one of with
// (compared case-insensitively), the result is an *Error at that entry's
// key or value with err's whole message. A missing '<name>.<option>' is
// positioned at '<name>.type', the entry declaring the connector. Otherwise
// err is returned as it is: a property set on the command line (--set) has
// no position in the SQL text.
func AtProperty(err error, with []Property) error {
	var pe *PropertyError
	var se *Error
	if !errors.As(err, &pe) || errors.As(err, &se) {
		return err
	}
	if p, ok := lastProperty(with, pe.Key); ok {
		pos := p.Pos
		if pe.InValue && p.ValuePos.Line > 0 {
			pos = p.ValuePos
			// Inside the value when it is written as it reads: on one
			// line, no quote doubled before the offset.
			if o := pe.Offset; o > 0 && o <= len(p.Value) && !strings.ContainsAny(p.Value[:o], "'\n") {
				pos.Offset, pos.Col = pos.Offset+1+o, pos.Col+1+o
			}
		}
		return &Error{Pos: pos, Msg: err.Error()}
	}
	// An option given for every Kafka endpoint ('kafka.<option>').
	if _, opt, ok := strings.Cut(pe.Key, "."); ok {
		if p, ok := lastProperty(with, "kafka."+opt); ok {
			pos := p.Pos
			if pe.InValue && p.ValuePos.Line > 0 {
				pos = p.ValuePos
			}
			return &Error{Pos: pos, Msg: err.Error() + " (set by " + QuoteProperty(p.Key) + ")"}
		}
	}
	// A required option that is missing: point at its connector's type.
	if name, _, ok := strings.Cut(pe.Key, "."); ok {
		if p, ok := lastProperty(with, name+".type"); ok {
			return &Error{Pos: p.Pos, Msg: err.Error()}
		}
	}
	return err
}

// lastProperty returns the last entry of with whose key is key, compared
// case-insensitively (the last one is the one that counts).
func lastProperty(with []Property, key string) (Property, bool) {
	for i := len(with) - 1; i >= 0; i-- {
		if strings.EqualFold(with[i].Key, key) {
			return with[i], true
		}
	}
	return Property{}, false
}
