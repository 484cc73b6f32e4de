package outbound

import (
	"strings"
)

// secretAttrs are never put in a report.
var secretAttrs = map[string]bool{"password": true}

// project returns the values remote holds for the top-level attributes of
// want (names matched case-insensitively, as SCIM attribute names are),
// under want's spelling; attributes remote lacks are left out.
func project(remote, want map[string]any) map[string]any {
	out := make(map[string]any, len(want))
	for k := range want {
		if v, ok := remote[k]; ok {
			out[k] = v
			continue
		}
		for rk, v := range remote {
			if strings.EqualFold(rk, k) {
				out[k] = v
				break
			}
		}
	}
	return out
}

// cloneAttrs copies m deeply enough for the reconciler: maps and slices
// are copied, scalars shared.
func cloneAttrs(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneAttrs(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}
