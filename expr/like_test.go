package expr

import (
	"regexp"
	"strings"
	"testing"
)

// likeRegexp translates a LIKE pattern to an anchored regular expression,
// the reference for FuzzLike.
func likeRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%':
			b.WriteString(`.*`)
		case c == '_':
			b.WriteString(`.`)
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func FuzzLike(f *testing.F) {
	f.Add("Hello", "H%o")
	f.Add("a_b", `a\_b`)
	f.Add("abcabc", "%b_a%")
	f.Fuzz(func(t *testing.T, s, p string) {
		// Short inputs reach every branch; long ones only slow the fuzzer
		// (minimizing a 6 KB input took most of a run).
		if len(s) > 64 || len(p) > 32 {
			return
		}
		// Keep to ASCII so that the byte-wise reference agrees on "one character".
		for _, c := range s + p {
			if c >= 0x80 {
				return
			}
		}
		if got, want := likeMatch(s, p), likeRegexp(p).MatchString(s); got != want {
			t.Fatalf("%q LIKE %q = %v, want %v", s, p, got, want)
		}
	})
}
