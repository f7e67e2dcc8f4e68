package runner

import (
	"fmt"
	"os"
	"strings"

	"github.com/sluicesql/sluice/secret"
	"github.com/sluicesql/sluice/sql"
)

// Properties collects a statement's WITH properties over those its DDL
// declarations give (declared, whose keys get the source's name as prefix),
// applies the --set overrides on top, and expands ${VAR} and
// ${VAR:-default} in every value from the environment. A ${VAR} that is
// unset and has no default is an error naming the property and the
// variable. The secrets among the values (passwords, tokens, URL
// credentials) are registered with package secret, which keeps them out of
// every message and log line.
func Properties(sel *sql.Select, declared, set map[string]string, lookup func(string) (string, bool)) (map[string]string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	props := make(map[string]string, len(declared)+len(sel.With)+len(set))
	for k, v := range declared {
		props[k] = v
	}
	for _, p := range sel.With {
		props[p.Key] = p.Value
	}
	for k, v := range set {
		props[k] = v
	}
	for k, v := range props {
		x, err := expand(v, lookup)
		if err != nil {
			return nil, &sql.PropertyError{Key: k, InValue: true, Msg: fmt.Sprintf("property %q: %v", k, err)}
		}
		props[k] = x
	}
	secret.Register(props)
	return props, nil
}

// expand replaces ${VAR} and ${VAR:-default} in s.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", sql.Clip(s))
		}
		b.WriteString(s[:i])
		ref := s[i+2 : i+j]
		name, def, hasDef := strings.Cut(ref, ":-")
		if name == "" {
			return "", fmt.Errorf("empty variable name in %q", sql.Clip(s))
		}
		v, ok := lookup(name)
		switch {
		case ok && v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		case ok:
		default:
			return "", fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)
		}
		s = s[i+j+1:]
	}
}
