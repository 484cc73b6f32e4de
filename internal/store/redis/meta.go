package redis

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scimgate/scim-gateway/internal/store"
)

// decodeMeta reads the metadata JSON of a resource hash, which json.Marshal
// wrote from a resourceMeta: its fields in order, compact, times in
// RFC 3339. A list page decodes 100 of them, and reflection-based
// decoding was a third of the page's CPU, so the shape Marshal writes is
// read directly; anything else (an escaped string, another order, a
// field this build does not know) goes to json.Unmarshal, which stays the
// reference (FuzzDecodeMeta holds the two equal).
func decodeMeta(s string, m *resourceMeta) error {
	if fastMeta(s, m) {
		return nil
	}
	*m = resourceMeta{}
	return json.Unmarshal([]byte(s), m)
}

// metaReader walks a metadata JSON string.
type metaReader struct {
	s  string
	ok bool
}

// lit consumes p.
func (r *metaReader) lit(p string) {
	if r.ok && strings.HasPrefix(r.s, p) {
		r.s = r.s[len(p):]
		return
	}
	r.ok = false
}

// str consumes a JSON string without escapes and returns its contents.
func (r *metaReader) str() string {
	if !r.ok || len(r.s) == 0 || r.s[0] != '"' {
		r.ok = false
		return ""
	}
	for i := 1; i < len(r.s); i++ {
		switch c := r.s[i]; {
		case c == '"':
			v := r.s[1:i]
			r.s = r.s[i+1:]
			return v
		case c == '\\' || c < 0x20:
			r.ok = false // escapes: leave them to encoding/json
			return ""
		}
	}
	r.ok = false
	return ""
}

func (r *metaReader) time() time.Time {
	v := r.str()
	if !r.ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		r.ok = false
	}
	return t
}

func fastMeta(s string, m *resourceMeta) bool {
	if !utf8.ValidString(s) {
		return false // encoding/json replaces invalid bytes
	}
	r := &metaReader{s: s, ok: true}
	var out resourceMeta
	r.lit(`{"k":`)
	out.Kind = store.Kind(r.str())
	r.lit(`,"i":`)
	out.ID = r.str()
	r.lit(`,"c":`)
	out.Created = r.time()
	r.lit(`,"m":`)
	out.Modified = r.time()
	if strings.HasPrefix(r.s, `,"o":`) {
		r.lit(`,"o":`)
		out.Origin = r.str()
	}
	if strings.HasPrefix(r.s, `,"x":[`) {
		r.lit(`,"x":[`)
		for r.ok {
			r.lit(`{"n":`)
			n := r.str()
			r.lit(`,"v":`)
			v := r.str()
			r.lit(`}`)
			out.Indexes = append(out.Indexes, store.IndexKey{Name: n, Value: v})
			if strings.HasPrefix(r.s, `]`) {
				break
			}
			r.lit(`,`)
		}
		r.lit(`]`)
	}
	r.lit(`}`)
	if !r.ok || r.s != "" {
		return false
	}
	*m = out
	return true
}
