package scim

import (
	"strings"
	"testing"
)

func ids(list []map[string]any) string {
	var out []string
	for _, r := range list {
		out = append(out, r["id"].(string))
	}
	return strings.Join(out, ",")
}

func TestSorter(t *testing.T) {
	users := func() []map[string]any {
		return []map[string]any{
			obj(t, `{"id":"1","userName":"carol","emails":[{"value":"z@x"},{"value":"a@x","primary":true}],"meta":{"created":"2020-01-02T00:00:00Z"},"active":true,"name":{"familyName":"Zed"}}`),
			obj(t, `{"id":"2","userName":"Alice","emails":[{"value":"m@x"}],"meta":{"created":"2020-01-01T12:00:00+02:00"},"active":false}`),
			obj(t, `{"id":"3","emails":[],"meta":{"created":"2020-01-01T09:00:00Z"},"name":{"familyName":"adams"}}`),
			obj(t, `{"id":"4","userName":"bob","meta":{"created":"2021-01-01T00:00:00Z"},"active":true,"name":{"familyName":"Brown"}}`),
			obj(t, `{"id":"5","userName":"alice","active":false}`),
		}
	}
	tests := []struct {
		rt            *ResourceType
		sortBy, order string
		want          string
	}{
		{UserResourceType, "userName", "", "2,5,4,1,3"},
		{UserResourceType, "userName", "ascending", "2,5,4,1,3"},
		{UserResourceType, "UserName", "DESCENDING", "3,1,4,2,5"},
		{UserResourceType, "emails", "", "1,2,3,4,5"},
		{UserResourceType, "emails.value", "descending", "3,4,5,2,1"}, // missing first, stable
		{UserResourceType, "meta.created", "", "3,2,1,4,5"},           // 12:00+02:00 is after 09:00Z
		{UserResourceType, "active", "", "2,5,1,4,3"},
		{UserResourceType, "name.familyName", "", "3,4,1,2,5"},
		{UserResourceType, "id", "descending", "5,4,3,2,1"},
	}
	for _, tt := range tests {
		s, err := NewSorter(tt.rt, tt.sortBy, tt.order)
		if err != nil {
			t.Fatalf("NewSorter(%q, %q): %v", tt.sortBy, tt.order, err)
		}
		list := users()
		s.Sort(list)
		if got := ids(list); got != tt.want {
			t.Errorf("sortBy=%s sortOrder=%s: %s, want %s", tt.sortBy, tt.order, got, tt.want)
		}
		// Compare agrees with Sort.
		for i := 1; i < len(list); i++ {
			if s.Compare(list[i-1], list[i]) > 0 {
				t.Errorf("sortBy=%s: Compare(%s, %s) > 0 after Sort", tt.sortBy, list[i-1]["id"], list[i]["id"])
			}
		}
	}
}

func TestSorterTyped(t *testing.T) {
	rt := typedRT(t)
	list := []map[string]any{
		obj(t, `{"id":"a","count":10,"ratio":0.5,"code":"b"}`),
		obj(t, `{"id":"b","count":9,"ratio":0.25,"code":"B"}`),
		obj(t, `{"id":"c","count":-1,"ratio":1e1,"code":"a"}`),
		{"id": "d", "count": 100, "ratio": 0.3, "code": "A"},
	}
	for _, tt := range []struct{ by, want string }{
		{"count", "c,b,a,d"},
		{"ratio", "b,d,a,c"},
		{"code", "d,b,c,a"}, // caseExact: byte order
	} {
		s, err := NewSorter(rt, tt.by, "")
		if err != nil {
			t.Fatal(err)
		}
		s.Sort(list)
		if got := ids(list); got != tt.want {
			t.Errorf("sortBy=%s: %s, want %s", tt.by, got, tt.want)
		}
	}
}

func TestSorterErrors(t *testing.T) {
	for _, tt := range []struct{ by, order, detail string }{
		{"shoeSize", "", "unknown attribute"},
		{"", "", "unknown attribute"},
		{"name", "", "complex attribute"},
		{"userName", "up", "sortOrder"},
	} {
		_, err := NewSorter(UserResourceType, tt.by, tt.order)
		wantErr(t, err, 400, ScimTypeInvalidValue, tt.detail)
	}
}
