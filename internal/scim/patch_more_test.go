package scim

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// itemsRT has a multi-valued complex attribute with an integer
// sub-attribute and a multi-valued simple attribute.
func itemsRT(t testing.TB) *ResourceType {
	t.Helper()
	s, err := NewSchema("urn:scimgate:test:2.0:Box", "Box", "", []*Attribute{
		{Name: "label", Type: TypeString},
		{Name: "tags", Type: TypeString, MultiValued: true},
		{Name: "items", Type: TypeComplex, MultiValued: true, SubAttributes: []*Attribute{
			{Name: "rank", Type: TypeInteger},
			{Name: "label", Type: TypeString},
			{Name: "ok", Type: TypeBoolean},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := NewSchema("urn:scimgate:test:2.0:Lid", "Lid", "", []*Attribute{{Name: "color", Type: TypeString, Required: true}, {Name: "size", Type: TypeInteger}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewResourceType("Box", "/Boxes", "", s, Extension{Schema: ext, Required: true})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

const boxJSON = `{"schemas":["urn:scimgate:test:2.0:Box","urn:scimgate:test:2.0:Lid"],"label":"b","tags":["a","b"],
	"items":[{"rank":1,"label":"one"},{"rank":2,"label":"two","ok":true}],"urn:scimgate:test:2.0:Lid":{"color":"red"}}`

func TestPatchMoreShapes(t *testing.T) {
	rt := itemsRT(t)
	tests := []struct {
		name, ops string
		want      string // attributes of the result that differ from boxJSON (null: removed)
	}{
		{"filtered create with an integer and a boolean", `{"op":"replace","path":"items[rank eq 3 and ok eq true].label","value":"three"}`,
			`{"items":[{"rank":1,"label":"one"},{"rank":2,"label":"two","ok":true},{"rank":3,"ok":true,"label":"three"}]}`},
		{"filtered replace with null removes the sub-attribute", `{"op":"replace","path":"items[rank eq 2].label","value":null}`,
			`{"items":[{"rank":1,"label":"one"},{"rank":2,"ok":true}]}`},
		{"filtered add with null is a no-op", `{"op":"add","path":"items[rank eq 2]","value":{"label":null}}`,
			`{}`},
		{"filtered replace of the element with null removes it", `{"op":"replace","path":"items[rank eq 1]","value":null}`,
			`{"items":[{"rank":2,"label":"two","ok":true}]}`},
		{"sub-attribute of all elements set to null", `{"op":"replace","path":"items.label","value":null}`,
			`{"items":[{"rank":1},{"rank":2,"ok":true}]}`},
		{"add of an existing simple value does not duplicate", `{"op":"add","path":"tags","value":["B","c"]}`,
			`{"tags":["a","b","c"]}`},
		{"remove simple values by value", `{"op":"remove","path":"tags","value":["A"]}`,
			`{"tags":["b"]}`},
		{"remove an element by value", `{"op":"remove","path":"items","value":[{"rank":2}]}`,
			`{"items":[{"rank":1,"label":"one"}]}`},
		{"extension attribute, unqualified", `{"op":"replace","path":"size","value":4}`,
			`{"urn:scimgate:test:2.0:Lid":{"color":"red","size":4}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := applyPatch(t, obj(t, boxJSON), rt, ops(tt.ops))
			want := obj(t, boxJSON)
			for k, v := range obj(t, tt.want) {
				if v == nil {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			sameJSON(t, r.Resource, canon(t, want))
		})
	}
	err := patchErr(t, obj(t, boxJSON), rt, ops(`{"op":"remove","path":"urn:scimgate:test:2.0:Lid:color"}`))
	wantErr(t, err, 400, ScimTypeInvalidValue, `"urn:scimgate:test:2.0:Lid:color" cannot be removed`)
}

func TestPatchSingleComplexShapes(t *testing.T) {
	u := sampleUser(t)
	r := applyPatch(t, u, UserResourceType, ops(`{"op":"remove","path":"name[givenName eq \"Barbara\"]"}`))
	if _, ok := r.Resource["name"]; ok {
		t.Errorf("name left after a matching filtered remove")
	}
	err := patchErr(t, u, UserResourceType, ops(`{"op":"remove","path":"name[givenName eq \"Nobody\"]"}`))
	wantErr(t, err, 400, ScimTypeNoTarget, "")
	r = applyPatch(t, u, UserResourceType, ops(`{"op":"replace","path":"name.middleName","value":null},{"op":"replace","path":"name.formatted","value":null}`))
	if got := canon(t, r.Resource["name"]); got != `{"familyName":"Jensen","givenName":"Barbara"}` {
		t.Errorf("name = %s", got)
	}
	r = applyPatch(t, obj(t, `{"userName":"a","name":{"givenName":"G"}}`), UserResourceType, ops(`{"op":"remove","path":"name.givenName"}`))
	if _, ok := r.Resource["name"]; ok {
		t.Errorf("empty name left after removing its last sub-attribute")
	}
	r = applyPatch(t, obj(t, `{"userName":"a"}`), UserResourceType, ops(`{"op":"replace","path":"name[givenName eq \"G\"].familyName","value":"F"}`))
	if got := canon(t, r.Resource["name"]); got != `{"familyName":"F","givenName":"G"}` {
		t.Errorf("created name = %s", got)
	}
}

// A resource a caller built with other key spellings is patched under the
// schema spelling, never duplicated.
func TestPatchOtherKeySpellings(t *testing.T) {
	in := obj(t, `{"USERNAME":"a","Name":{"GIVENNAME":"g"},"EMAILS":[{"VALUE":"x@y","Type":"work"}]}`)
	r := applyPatch(t, in, UserResourceType, ops(`{"op":"replace","path":"userName","value":"b"},{"op":"replace","path":"name.givenName","value":"h"},{"op":"replace","path":"emails[type eq \"work\"].value","value":"z@y"}`))
	sameJSON(t, r.Resource, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b","name":{"givenName":"h"},"emails":[{"value":"z@y","Type":"work"}]}`)
}

func TestRequiredExtension(t *testing.T) {
	rt := itemsRT(t)
	_, err := Normalize(obj(t, `{"schemas":["urn:scimgate:test:2.0:Box"],"label":"b"}`), rt)
	wantErr(t, err, 400, ScimTypeInvalidValue, `schema extension "urn:scimgate:test:2.0:Lid" is required`)
	_, err = Normalize(obj(t, `{"schemas":["urn:scimgate:test:2.0:Box"],"urn:scimgate:test:2.0:Lid":{"size":1}}`), rt)
	wantErr(t, err, 400, ScimTypeInvalidValue, `"urn:scimgate:test:2.0:Lid:color" is required`)
	if _, err := Normalize(obj(t, boxJSON), rt); err != nil {
		t.Errorf("valid box rejected: %v", err)
	}
}

func TestAccessors(t *testing.T) {
	rt := itemsRT(t)
	if rt.Name() != "Box" || rt.Endpoint() != "/Boxes" || rt.Description() != "" || rt.Schema().ID() != "urn:scimgate:test:2.0:Box" {
		t.Errorf("resource type accessors: %q %q %q", rt.Name(), rt.Endpoint(), rt.Schema().ID())
	}
	exts := rt.Extensions()
	if len(exts) != 1 || !exts[0].Required || exts[0].Schema.Name() != "Lid" {
		t.Errorf("Extensions() = %+v", exts)
	}
	exts[0] = Extension{}
	if rt.Extensions()[0].Schema == nil {
		t.Errorf("Extensions() shares its slice")
	}
	attrs := UserSchema.Attributes()
	if len(attrs) != 21 || attrs[0].Name != "userName" || UserSchema.Description() != "User Account" {
		t.Errorf("User schema has %d attributes, first %q", len(attrs), attrs[0].Name)
	}
	attrs[0] = nil
	if UserSchema.Attributes()[0] == nil {
		t.Errorf("Attributes() shares its slice")
	}
	var nilAttr *Attribute
	if nilAttr.Sub("x") != nil {
		t.Errorf("nil attribute has a sub-attribute")
	}
}

func TestValueHelpers(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want string
		ok   bool
	}{
		{json.Number("1.5"), "1.5", true},
		{float64(2.5), "2.5", true},
		{float32(0.5), "0.5", true},
		{int(3), "3", true},
		{int64(-4), "-4", true},
		{int32(5), "5", true},
		{uint(6), "6", true},
		{uint64(7), "7", true},
		{uint32(8), "8", true},
		{"9", "", false},
		{true, "", false},
	} {
		got, ok := toNumber(tt.in)
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("toNumber(%#v) = %q, %v", tt.in, got, ok)
		}
	}
	email := UserSchema.Attribute("emails")
	str := &Attribute{Name: "s", Type: TypeString}
	exact := &Attribute{Name: "s", Type: TypeString, CaseExact: true}
	when := &Attribute{Name: "w", Type: TypeDateTime}
	flag := &Attribute{Name: "f", Type: TypeBoolean}
	for _, tt := range []struct {
		a    *Attribute
		x, y any
		want bool
	}{
		{str, "Abc", "aBC", true},
		{exact, "Abc", "aBC", false},
		{when, "2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00Z", true},
		{when, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "2024-01-01T00:00:00Z", true},
		{flag, "TRUE", true, true},
		{flag, "false", true, false},
		{email, []any{map[string]any{"value": "A@x"}}, []any{map[string]any{"value": "a@X"}}, true},
		{email, []any{map[string]any{"value": "A@x"}}, []any{map[string]any{"value": "b@x"}}, false},
		{email, []any{}, nil, true},
		{nil, json.Number("1"), float64(1), true},
		{nil, json.Number("1.0"), int(1), true},
		{nil, map[string]any{"a": ""}, nil, true},
		{nil, map[string]any{"a": "x"}, map[string]any{"a": "x", "b": nil}, true},
		{nil, map[string]any{"a": "x"}, map[string]any{"a": "x", "b": "y"}, false},
		{nil, []any{"a"}, []any{"a", "b"}, false},
		{nil, "a", true, false},
	} {
		if got := equalAttr(tt.a, tt.x, tt.y); got != tt.want {
			t.Errorf("equalAttr(%v, %#v, %#v) = %v, want %v", tt.a, tt.x, tt.y, got, tt.want)
		}
	}
	if !reflect.DeepEqual(sortedKeys(map[string]any{"b": 1, "a": 2}), []string{"a", "b"}) {
		t.Errorf("sortedKeys not sorted")
	}
}

func TestPatchBuiltByHand(t *testing.T) {
	u := sampleUser(t)
	p := &Patch{Operations: []Operation{
		{Op: "Replace", Path: "title", Value: "Boss"},
		{Op: "add", Path: `emails[type eq "other"].value`, Value: "o@x"},
		{Op: "replace", Path: "nickName", Value: nil},
	}}
	r, err := p.Apply(u, UserResourceType)
	if err != nil {
		t.Fatal(err)
	}
	if r.Resource["title"] != "Boss" || !reflect.DeepEqual(r.Changed, []string{"emails", "title"}) {
		t.Errorf("result %s, changed %q", canon(t, r.Resource), r.Changed)
	}
	if p.Operations[0].Op != "Replace" {
		t.Errorf("Apply modified the Patch")
	}
	for _, tt := range []struct {
		op       Operation
		scimType string
	}{
		{Operation{Op: "replace", Value: "x"}, ScimTypeInvalidValue},
		{Operation{Op: "bogus", Path: "title", Value: "x"}, ScimTypeInvalidSyntax},
		{Operation{Op: "remove"}, ScimTypeNoTarget},
		{Operation{Op: "add", Path: "title["}, ScimTypeInvalidPath},
	} {
		_, err := (&Patch{Operations: []Operation{tt.op}}).Apply(u, UserResourceType)
		wantErr(t, err, 400, tt.scimType, "Operations[0]")
	}
	// A parsed operation whose Path is changed afterwards is re-parsed.
	parsed := mustPatch(t, ops(`{"op":"replace","path":"title","value":"x"}`))
	parsed.Operations[0].Path = "nickName"
	r, err = parsed.Apply(u, UserResourceType)
	if err != nil || r.Resource["nickName"] != "x" || r.Resource["title"] != "Tour Guide" {
		t.Errorf("changed path not honoured: %v %v", err, r)
	}
}
