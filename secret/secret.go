// Package secret keeps credentials inside the process: it knows which WITH
// properties hold secrets, remembers their values and redacts them, and the
// passwords of URLs ("user:password@host"), from any text before it leaves
// (messages, logs, EXPLAIN, metric labels).
package secret

import (
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a redacted secret.
const Mask = "[redacted]"

// minLen is the shortest value Register remembers: shorter ones would mask
// ordinary text wholesale and are no secret worth the name anyway.
const minLen = 3

var (
	mu     sync.RWMutex
	values []string // longest first, so a secret containing another is masked whole
)

// IsKey reports whether the property key holds a secret: a password, secret,
// token or inline key material ('<n>.sasl.password',
// '<n>.sasl.oauthbearer.token', '<n>.schema.registry.basic.auth.user.info').
// Paths to such material ('<n>.ssl.key.location',
// '<n>.sasl.oauthbearer.token.file') are not secrets.
func IsKey(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, ".location") || strings.HasSuffix(k, ".file") {
		return false
	}
	for _, w := range []string{"password", "secret", "token", "user.info", "credentials", ".pem", "private.key"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Register remembers the secrets of props: the values of secret keys and the
// passwords inside URLs of any value. Redact masks them from then on.
func Register(props map[string]string) {
	for k, v := range props {
		if IsKey(k) {
			Add(v)
		}
		for _, m := range userinfo.FindAllStringSubmatch(v, -1) {
			Add(m[2])
		}
	}
}

// Add remembers one secret value.
func Add(v string) {
	v = strings.TrimSpace(v)
	if len(v) < minLen {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	for _, x := range values {
		if x == v {
			return
		}
	}
	values = append(values, v)
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
}

// userinfo matches the credentials of a URL or broker address
// ("user:password@host"): group 1 the user, group 2 the password.
var userinfo = regexp.MustCompile(`([A-Za-z0-9._~%+\-]+):([^@/\s"'\\]+)@`)

// Redact returns s with every registered secret and every URL password
// replaced by Mask.
func Redact(s string) string {
	mu.RLock()
	for _, v := range values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	mu.RUnlock()
	if strings.IndexByte(s, '@') >= 0 {
		s = userinfo.ReplaceAllString(s, "${1}:"+Mask+"@")
	}
	return s
}

// Value returns the value of the property key as it may be shown: Mask
// for a secret key, else v with URL passwords masked.
func Value(key, v string) string {
	if IsKey(key) {
		return Mask
	}
	return Redact(v)
}

// Props returns a copy of props with their values masked as Value masks
// them.
func Props(props map[string]string) map[string]string {
	out := make(map[string]string, len(props))
	for k, v := range props {
		out[k] = Value(k, v)
	}
	return out
}

// Writer returns a writer that redacts what is written to w. Each Write is
// redacted on its own, so a writer of whole lines (log handlers, fmt
// calls) never lets a secret through split across two writes.
func Writer(w io.Writer) io.Writer { return &writer{w: w} }

type writer struct{ w io.Writer }

func (r *writer) Write(p []byte) (int, error) {
	s := Redact(string(p))
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
