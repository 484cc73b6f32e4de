package scim

import (
	"fmt"
	"testing"
)

// TestMembersDelta: a PATCH that only adds or removes members yields the
// same delta without the resource as Apply does with it; any other PATCH is
// not one MembersDelta takes.
func TestMembersDelta(t *testing.T) {
	group := map[string]any{"schemas": []any{SchemaGroup}, "displayName": "Eng"}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2"}]}`, true},
		{`{"op":"Add","path":"members","value":[{"value":"u1","display":"x"}]}`, true},
		{`{"op":"Remove","path":"members","value":[{"value":"u1"}]}`, true},
		{`{"op":"remove","path":"members[value eq \"u1\"]"}`, true},
		{`{"op":"add","path":"members","value":[{"value":"u1"}]},{"op":"remove","path":"members[value eq \"u1\"]"}`, true},
		{`{"op":"remove","path":"members"}`, false},
		{`{"op":"replace","path":"members","value":[{"value":"u1"}]}`, false},
		{`{"op":"add","value":{"members":[{"value":"u1"}]}}`, false},
		{`{"op":"replace","path":"displayName","value":"Ops"}`, false},
		{`{"op":"add","path":"members","value":[{"value":"u1"}]},{"op":"replace","path":"displayName","value":"Ops"}`, false},
	} {
		p, err := ParsePatch([]byte(fmt.Sprintf(`{"schemas":["%s"],"Operations":[%s]}`, SchemaPatchOp, tc.body)))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		d, ok, err := p.MembersDelta(GroupResourceType)
		if err != nil || ok != tc.ok {
			t.Errorf("%s: MembersDelta ok %v, err %v; want ok %v", tc.body, ok, err, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		res, err := p.Apply(group, GroupResourceType)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(d) != fmt.Sprint(res.Members) || len(res.Changed) > 1 {
			t.Errorf("%s: delta %+v, Apply gives %+v (changed %v)", tc.body, d, res.Members, res.Changed)
		}
	}
	bad, _ := ParsePatch([]byte(fmt.Sprintf(`{"schemas":["%s"],"Operations":[{"op":"add","path":"members","value":[{"display":"no id"}]}]}`, SchemaPatchOp)))
	if _, _, err := bad.MembersDelta(GroupResourceType); err == nil {
		t.Error("a member without a value was accepted")
	}
	users, _ := ParsePatch([]byte(fmt.Sprintf(`{"schemas":["%s"],"Operations":[{"op":"add","path":"members","value":[{"value":"u1"}]}]}`, SchemaPatchOp)))
	if _, ok, _ := users.MembersDelta(UserResourceType); ok {
		t.Error("a User has no members")
	}
}
