package expr

import "strings"

// aggregates are the aggregate function names the executor implements.
var aggregates = map[string]bool{
	"COUNT": true, "SUM": true, "AVG": true, "MIN": true, "MAX": true,
	"STDDEV": true, "STDDEV_SAMP": true, "STDDEV_POP": true,
	"VARIANCE": true, "VAR_SAMP": true, "VAR_POP": true,
	"MEDIAN": true, "FIRST_VALUE": true, "LAST_VALUE": true, "STRING_AGG": true,
}

// analytics are the window-only function names (they need OVER).
var analytics = map[string]bool{
	"LAG": true, "LEAD": true, "ROW_NUMBER": true, "RANK": true, "DENSE_RANK": true,
}

// IsAggregate reports whether name (any case) is an aggregate function.
func IsAggregate(name string) bool { return aggregates[strings.ToUpper(name)] }

// IsAnalytic reports whether name (any case) may be used with OVER: the
// window functions LAG, LEAD, ROW_NUMBER, RANK, DENSE_RANK and every
// aggregate.
func IsAnalytic(name string) bool {
	u := strings.ToUpper(name)
	return analytics[u] || aggregates[u]
}
