package store

import (
	"errors"
	"testing"
)

func TestWriteValidate(t *testing.T) {
	user := func(id string) *Resource {
		return &Resource{Kind: KindUser, ID: id, Indexes: []IndexKey{{Name: IndexUserName, Value: id}}}
	}
	group := func(id string) *Resource { return &Resource{Kind: KindGroup, ID: id} }
	mark := Mark{App: "a", Key: UserKey("u1")}
	valid := map[string]Write{
		"empty":                         {},
		"reports only":                  {Reports: []ReportEntry{{Operation: OpCreate, Status: ReportSuccess}}},
		"create":                        {Put: user("u1"), Marks: []Mark{mark}},
		"replace":                       {Put: user("u1"), ExpectVersion: 3},
		"index key with an empty value": {Put: &Resource{Kind: KindUser, ID: "u1", Indexes: []IndexKey{{Name: IndexEmail}}}},
		"delete":                        {Delete: &Ref{Kind: KindUser, ID: "u1"}, DeleteVersion: 2},
		"group put with its members":    {Put: group("g1"), Group: "g1", AddMembers: []string{"u1"}, RemoveMembers: []string{"u2"}},
		"group without member changes":  {Group: "g1"},
		"delete a member of the group":  {Delete: &Ref{Kind: KindUser, ID: "u1"}, Group: "g1", RemoveMembers: []string{"u2"}},
		"delete another group":          {Delete: &Ref{Kind: KindGroup, ID: "g2"}, Group: "g1", AddMembers: []string{"u1"}},
		"duplicate adds":                {Group: "g1", AddMembers: []string{"u1", "u1"}},
	}
	for name, w := range valid {
		if err := w.Validate(); err != nil {
			t.Errorf("%s: Validate = %v, want nil", name, err)
		}
	}
	invalid := map[string]Write{
		"put and delete":                     {Put: user("u2"), Delete: &Ref{Kind: KindUser, ID: "u1"}},
		"put without id":                     {Put: &Resource{Kind: KindUser}},
		"put without kind":                   {Put: &Resource{ID: "x"}},
		"negative ExpectVersion":             {Put: user("x"), ExpectVersion: -1},
		"index without name":                 {Put: &Resource{Kind: KindUser, ID: "x", Indexes: []IndexKey{{Value: "v"}}}},
		"delete without id":                  {Delete: &Ref{Kind: KindUser}},
		"delete without kind":                {Delete: &Ref{ID: "u1"}},
		"negative DeleteVersion":             {Delete: &Ref{Kind: KindUser, ID: "u1"}, DeleteVersion: -1},
		"members of the group being deleted": {Delete: &Ref{Kind: KindGroup, ID: "g1"}, Group: "g1", AddMembers: []string{"u1"}},
		"the group being deleted":            {Delete: &Ref{Kind: KindGroup, ID: "g1"}, Group: "g1"},
		"members without a group":            {AddMembers: []string{"u1"}},
		"removals without a group":           {RemoveMembers: []string{"u1"}},
		"empty member":                       {Group: "g1", AddMembers: []string{""}},
		"empty removed member":               {Group: "g1", RemoveMembers: []string{"u1", ""}},
		"member added and removed":           {Group: "g1", AddMembers: []string{"u2", "u1"}, RemoveMembers: []string{"u1"}},
		"mark without an app":                {Marks: []Mark{mark, {Key: "k"}}},
		"mark without a key":                 {Marks: []Mark{{App: "a"}}},
	}
	for name, w := range invalid {
		err := w.Validate()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
		if err == ErrInvalid {
			t.Errorf("%s: Validate returned the bare sentinel; want it to say which rule", name)
		}
	}
}

func TestMarkValidate(t *testing.T) {
	if err := (Mark{App: "a", Key: "k"}).Validate(); err != nil {
		t.Errorf("valid mark: %v", err)
	}
	for _, m := range []Mark{{}, {App: "a"}, {Key: "k"}} {
		if err := m.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", m, err)
		}
	}
}
