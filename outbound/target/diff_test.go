package target

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

func TestDiff(t *testing.T) {
	old := map[string]any{
		"schemas": []any{"a"}, "userName": "u", "title": "T", "nickName": "n",
		"emails": []any{map[string]any{"value": "u@x", "primary": true}}, "count": json.Number("1"),
	}
	new := map[string]any{
		"schemas": []any{"b"}, "userName": "u", "title": "T2", "displayName": "D",
		"emails": []any{map[string]any{"primary": true, "value": "u@x"}}, "count": 1,
	}
	got := fmt.Sprint(Diff(old, new))
	want := fmt.Sprint([]Change{
		{Attr: "displayName", New: "D"},
		{Attr: "nickName", Old: "n", Remove: true},
		{Attr: "title", Old: "T", New: "T2"},
	})
	if got != want {
		t.Errorf("diff = %s\nwant   %s", got, want)
	}
	ops := PatchOps(Diff(old, new))
	if fmt.Sprint(ops) != fmt.Sprint([]scimclient.PatchOperation{{Op: "replace", Path: "displayName", Value: "D"}, {Op: "remove", Path: "nickName"}, {Op: "replace", Path: "title", Value: "T2"}}) {
		t.Errorf("ops = %v", ops)
	}
	if d := Diff(nil, map[string]any{"id": "x", "meta": 1, "groups": 2}); len(d) != 0 {
		t.Errorf("read-only attributes diffed: %v", d)
	}
}

func TestRemoteHashIgnoresVolatileAttributes(t *testing.T) {
	a := map[string]any{"id": "1", "userName": "u", "meta": map[string]any{"lastModified": "t1"}, "groups": []any{}}
	b := map[string]any{"id": "1", "userName": "u", "meta": map[string]any{"lastModified": "t2"}, "groups": []any{"g"}}
	if RemoteHash(a) != RemoteHash(b) {
		t.Error("meta or groups change the remote hash")
	}
	b["userName"] = "v"
	if RemoteHash(a) == RemoteHash(b) {
		t.Error("a userName change does not change the remote hash")
	}
	if RemoteHash(nil) != "" {
		t.Error("nil resource has a hash")
	}
}
