package scim

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rfcUsers are matched by the RFC 7644 §3.4.2.2 examples.
func rfcUsers(t testing.TB) map[string]map[string]any {
	t.Helper()
	return map[string]map[string]any{
		"B": obj(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"id":"b1","userName":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"title":"Tour Guide","userType":"Employee",
			"emails":[{"type":"work","value":"bjensen@example.com","primary":true},{"type":"home","value":"babs@jensen.org"}],
			"ims":[{"type":"aim","value":"someaimhandle"}],"meta":{"lastModified":"2011-05-13T04:42:34Z"},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984"}}`),
		"O": obj(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"id":"o1","userName":"Jomalley","name":{"familyName":"O'Malley"},"userType":"Intern",
			"emails":[{"type":"home","value":"jo@example.org"}],"ims":[{"type":"xmpp","value":"jo@foo.com"}],
			"meta":{"lastModified":"2012-01-01T00:00:00Z"}}`),
		"C": obj(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"id":"c1","userName":"carl","name":{"familyName":"Carlson"},"title":"","userType":"Contractor",
			"emails":[{"type":"work","value":"carl@other.net"}],"meta":{"lastModified":"2010-01-01T00:00:00Z"}}`),
	}
}

func matching(t *testing.T, f *Filter, users map[string]map[string]any) string {
	t.Helper()
	var got []string
	for _, k := range []string{"B", "O", "C"} {
		if u, ok := users[k]; ok && f.Match(u) {
			got = append(got, k)
		}
	}
	return strings.Join(got, ",")
}

func TestFilterRFCExamples(t *testing.T) {
	users := rfcUsers(t)
	tests := []struct{ filter, want string }{
		{`userName eq "bjensen"`, "B"},
		{`name.familyName co "O'Malley"`, "O"},
		{`userName sw "J"`, "O"},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, "O"},
		{`title pr`, "B"},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, "O"},
		{`meta.lastModified ge "2011-05-13T04:42:34Z"`, "B,O"},
		{`meta.lastModified lt "2011-05-13T04:42:34Z"`, "C"},
		{`meta.lastModified le "2011-05-13T04:42:34Z"`, "B,C"},
		{`title pr and userType eq "Employee"`, "B"},
		{`title pr or userType eq "Intern"`, "B,O"},
		{`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, "B"},
		{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, "B"},
		{`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, "C"},
		{`userType eq "Employee" and (emails.type eq "work")`, "B"},
		{`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, "B"},
		{`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`, "B,O"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f := mustCompile(t, tt.filter, UserResourceType)
			if got := matching(t, f, users); got != tt.want {
				t.Errorf("matches %q, want %q", got, tt.want)
			}
			if f.String() != tt.filter {
				t.Errorf("String() = %q", f.String())
			}
		})
	}
}

func TestFilterSemantics(t *testing.T) {
	users := rfcUsers(t)
	tests := []struct{ filter, want string }{
		// strings: case-insensitive unless caseExact
		{`userName eq "BJENSEN"`, "B"},
		{`USERNAME Eq "bjensen"`, "B"},
		{`id eq "B1"`, ""},
		{`id eq "b1"`, "B"},
		{`userName ew "LEY"`, "O"},
		{`userName co "ENS"`, "B"},
		{`userName gt "c"`, "O,C"},
		{`userName gt "carl"`, "O"},
		{`userName lt "C"`, "B"},
		{`userName ge "carl"`, "O,C"},
		{`userName le "Carl"`, "B,C"},
		// ne is "not eq": an absent attribute is ne anything
		{`title ne "Tour Guide"`, "O,C"},
		{`nickName ne "x"`, "B,O,C"},
		// null
		{`title eq null`, "O,C"},
		{`title ne null`, "B"},
		// multi-valued: any value matches
		{`emails.value eq "babs@jensen.org"`, "B"},
		{`emails.type eq "home"`, "B,O"},
		{`emails eq "JO@example.org"`, "O"},
		{`emails pr`, "B,O,C"},
		{`phoneNumbers pr`, ""},
		{`emails.primary eq true`, "B"},
		{`emails.primary eq "True"`, "B"},
		{`not (emails.primary eq true)`, "O,C"},
		// complex single-valued
		{`name pr`, "B,O,C"},
		{`name.givenName pr`, "B"},
		{`name[givenName eq "barbara"]`, "B"},
		{`name[givenName eq "barbara" and familyName sw "J"]`, "B"},
		// precedence and grouping
		{`userName eq "carl" or userName eq "bjensen" and title eq "x"`, "C"},
		{`(userName eq "carl" or userName eq "bjensen") and title pr`, "B"},
		{`not(userName eq "carl") and not (userName eq "bjensen")`, "O"},
		{`userName eq "carl" OR userName eq "Jomalley"`, "O,C"},
		// value filters: full grammar inside the brackets
		{`emails[not(type eq "work")]`, "B,O"},
		{`emails[type eq "home" or type eq "other"]`, "B,O"},
		{`emails[type eq "work" and value co "example" and primary eq true]`, "B"},
		{`emails[(type eq "work" or type eq "home") and value ew ".org"]`, "B,O"},
		{`emails [type eq "home"]`, "B,O"},
		// Entra: value path followed by a sub-attribute
		{`emails[type eq "work"].value eq "bjensen@example.com"`, "B"},
		{`emails[type eq "work"].value eq "babs@jensen.org"`, ""},
		{`emails[type eq "home"].value co "example"`, "O"},
		{`emails[type eq "work"].primary eq true`, "B"},
		{`emails[type eq "work"].value pr and userName sw "b"`, "B"},
		// extension attributes
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, "B"},
		{`employeeNumber eq "701984"`, "B"},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr`, "B"},
		// escapes in strings
		{`name.familyName eq "O\u0027Malley"`, "O"},
		{`name.familyName eq "O\u0027malley"`, "O"},
		{`userName eq "\u0062jensen"`, "B"},
		{`userName eq "\u006Amalley"`, ""},
		// whitespace around the filter
		{"  userName eq \"carl\"  ", "C"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f := mustCompile(t, tt.filter, UserResourceType)
			if got := matching(t, f, users); got != tt.want {
				t.Errorf("matches %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFilterEscapedQuote(t *testing.T) {
	u := obj(t, `{"userName":"a\"b\\c","displayName":"Ünïcode"}`)
	for _, expr := range []string{`userName eq "a\"b\\c"`, `displayName eq "\u00dcn\u00efcode"`, `displayName eq "ünïCODE"`} {
		if !mustCompile(t, expr, UserResourceType).Match(u) {
			t.Errorf("%s does not match", expr)
		}
	}
}

func TestFilterManager(t *testing.T) {
	u := sampleUser(t)
	const mgr = "26118915-6090-4610-87e4-49d8ca9f808d"
	for _, expr := range []string{
		`manager eq "` + mgr + `"`,
		`manager.value eq "` + mgr + `"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "` + mgr + `"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "` + mgr + `"`,
		// Entra's manager check: id eq … and manager eq …
		`id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "` + mgr + `"`,
	} {
		if !mustCompile(t, expr, UserResourceType).Match(u) {
			t.Errorf("%s does not match", expr)
		}
	}
	if mustCompile(t, `manager eq "someone-else"`, UserResourceType).Match(u) {
		t.Errorf("manager matched another id")
	}
	if mustCompile(t, `manager eq "x"`, UserResourceType).Match(obj(t, `{"userName":"no-ext"}`)) {
		t.Errorf("user without extension matched manager")
	}
}

func TestFilterTypedAttributes(t *testing.T) {
	rt := typedRT(t)
	entry := obj(t, `{"name":"n","code":"AbC","count":42,"ratio":0.25,"when":"2024-05-01T10:00:00Z","ok":true,"blob":"aGk=","tags":["red","green"]}`)
	// The same entry built by hand with Go types, as a caller might.
	goTyped := map[string]any{"name": "n", "code": "AbC", "count": 42, "ratio": float32(0.25), "when": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		"ok": true, "blob": "aGk=", "tags": []any{"red", "green"}}
	tests := []struct {
		filter string
		want   bool
	}{
		{`count eq 42`, true},
		{`count eq 42.0`, true},
		{`count gt 41`, true},
		{`count gt 42`, false},
		{`count ge 42`, true},
		{`count lt 100`, true},
		{`count le 41`, false},
		{`count eq -42`, false},
		{`ratio lt 0.5`, true},
		{`ratio gt 2.5e-1`, false},
		{`ratio eq 0.25`, true},
		{`when eq "2024-05-01T12:00:00+02:00"`, true},
		{`when gt "2024-05-01T11:00:00+02:00"`, true},
		{`when lt "2024-05-01T10:00:00.001Z"`, true},
		{`ok eq true`, true},
		{`ok eq false`, false},
		{`ok ne false`, true},
		{`code eq "abc"`, false},
		{`code eq "AbC"`, true},
		{`code sw "Ab"`, true},
		{`code sw "ab"`, false},
		{`name eq "N"`, true},
		{`blob eq "aGk="`, true},
		{`tags eq "GREEN"`, true},
		{`tags co "e"`, true},
		{`tags eq "blue"`, false},
		{`tags pr`, true},
		{`debug pr`, false},
	}
	for _, tt := range tests {
		f := mustCompile(t, tt.filter, rt)
		if got := f.Match(entry); got != tt.want {
			t.Errorf("%s on JSON entry = %v, want %v", tt.filter, got, tt.want)
		}
		if got := f.Match(goTyped); got != tt.want {
			t.Errorf("%s on Go-typed entry = %v, want %v", tt.filter, got, tt.want)
		}
	}
	// Values of the wrong type in the resource never match (and never panic).
	odd := map[string]any{"count": "42", "ok": "maybe", "when": "not a time", "code": 5, "tags": []any{1, nil}}
	for _, tt := range tests {
		if strings.Contains(tt.filter, " ne ") || strings.Contains(tt.filter, " pr") {
			continue
		}
		if f := mustCompile(t, tt.filter, rt); f.Match(odd) {
			t.Errorf("%s matched a mistyped value", tt.filter)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	rt := typedRT(t)
	tests := []struct {
		rt     *ResourceType
		filter string
		detail string
	}{
		{UserResourceType, ``, "empty filter"},
		{UserResourceType, `   `, "empty filter"},
		{UserResourceType, `userName eq`, "syntax"},
		{UserResourceType, `userName eq "x" and`, "syntax"},
		{UserResourceType, `userName xx "x"`, "syntax"},
		{UserResourceType, `externalId eq jyoung`, "syntax"},
		{UserResourceType, `(userName eq "x"`, "syntax"},
		{UserResourceType, `foo eq "x"`, `unknown attribute "foo"`},
		{UserResourceType, `name.foo eq "x"`, `unknown attribute "name.foo"`},
		{UserResourceType, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:foo eq "x"`, `unknown attribute`},
		{UserResourceType, `urn:example:other:User:userName eq "x"`, `unknown attribute`},
		{GroupResourceType, `userName eq "x"`, `unknown attribute "userName"`},
		{UserResourceType, `active gt true`, `operator "gt" is not supported for boolean attribute "active"`},
		{UserResourceType, `active co "t"`, `operator "co" is not supported for boolean`},
		{UserResourceType, `active eq "yes"`, "true or false"},
		{UserResourceType, `active eq 1`, "true or false"},
		{UserResourceType, `userName eq 1`, "must be a string"},
		{UserResourceType, `userName eq true`, "must be a string"},
		{UserResourceType, `userName gt null`, "only eq and ne"},
		{UserResourceType, `meta.lastModified gt "yesterday"`, "RFC 3339"},
		{UserResourceType, `meta.lastModified gt 5`, "dateTime string"},
		{UserResourceType, `meta.lastModified co "2011"`, `operator "co" is not supported for dateTime`},
		{UserResourceType, `name eq "x"`, "complex attribute"},
		{UserResourceType, `userName[value eq "x"]`, "not a complex attribute"},
		{UserResourceType, `name.givenName[value eq "x"]`, "not a complex attribute"},
		{UserResourceType, `emails[foo eq "x"]`, `unknown attribute "foo" in value filter on "emails"`},
		{UserResourceType, `emails[value.x eq "x"]`, "must be a sub-attribute name"},
		{UserResourceType, `emails[urn:ietf:params:scim:schemas:core:2.0:User:value eq "x"]`, "must be a sub-attribute name"},
		{UserResourceType, `emails[type eq "work"].foo eq "x"`, `unknown attribute "emails.foo"`},
		{UserResourceType, `emails[type eq "work"] eq "x"`, "syntax"},
		{UserResourceType, `emails[type eq "work"].value`, "syntax"},
		{UserResourceType, `emails[type eq "work"[x]]`, "cannot be nested"},
		{UserResourceType, `emails[type eq "work"`, `missing "]"`},
		{UserResourceType, `emails[]`, "empty filter"},
		{UserResourceType, `userName eq "x"]`, `unbalanced "]"`},
		{UserResourceType, `[type eq "x"]`, "must follow an attribute name"},
		{UserResourceType, `userName eq "unterminated`, "unterminated string"},
		{UserResourceType, `userName eq "x\`, "unterminated string"},
		{UserResourceType, `foo[type eq "x"]`, `unknown attribute "foo"`},
		{UserResourceType, strings.Repeat("(", 40) + `userName eq "x"` + strings.Repeat(")", 40), "nested deeper"},
		{UserResourceType, `userName eq "` + strings.Repeat("x", 5000) + `"`, "longer than"},
		{rt, `count co 5`, `operator "co" is not supported for integer`},
		{rt, `count eq "5"`, "must be a number"},
		{rt, `ratio sw 1`, "not supported for decimal"},
		{rt, `owner.badge.x eq "x"`, "syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := Compile(tt.filter, tt.rt)
			wantErr(t, err, 400, ScimTypeInvalidFilter, tt.detail)
		})
	}
}

func TestFilterPlan(t *testing.T) {
	tests := []struct {
		rt     *ResourceType
		filter string
		want   []IndexKey
	}{
		{UserResourceType, `userName eq "Test_User_1"`, []IndexKey{{"userName", "Test_User_1"}}},
		{UserResourceType, `USERNAME eq "x"`, []IndexKey{{"userName", "x"}}},
		{UserResourceType, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, []IndexKey{{"userName", "x"}}},
		{UserResourceType, `externalId eq "0a21f0f2"`, []IndexKey{{"externalId", "0a21f0f2"}}},
		{UserResourceType, `id eq "abc"`, []IndexKey{{"id", "abc"}}},
		{GroupResourceType, `displayName eq "Test SCIMv2"`, []IndexKey{{"displayName", "Test SCIMv2"}}},
		{UserResourceType, `emails.value eq "a@x"`, []IndexKey{{"emails.value", "a@x"}}},
		{UserResourceType, `emails eq "a@x"`, []IndexKey{{"emails.value", "a@x"}}},
		{UserResourceType, `emails[value eq "a@x"]`, []IndexKey{{"emails.value", "a@x"}}},
		{UserResourceType, `emails[type eq "work" and value eq "a@x"]`, []IndexKey{{"emails.value", "a@x"}}},
		{UserResourceType, `emails[type eq "work"].value eq "a@x"`, []IndexKey{{"emails.value", "a@x"}}},
		{UserResourceType, `userName eq "a" and active eq true`, []IndexKey{{"userName", "a"}}},
		{UserResourceType, `userName eq "a" and externalId eq "b"`, []IndexKey{{"userName", "a"}, {"externalId", "b"}}},
		{UserResourceType, `id eq "x" and manager eq "m"`, []IndexKey{{"id", "x"}}},
		{GroupResourceType, `id eq "g" and members eq "u"`, []IndexKey{{"id", "g"}}},
		{UserResourceType, `userName eq "a" and (externalId eq "b" or id eq "c")`, []IndexKey{{"userName", "a"}}},
		{UserResourceType, `title pr and (userName eq "a")`, []IndexKey{{"userName", "a"}}},
		{UserResourceType, `userName eq "a\"b"`, []IndexKey{{"userName", `a"b`}}},
		{UserResourceType, `userName eq "a" or userName eq "b"`, nil},
		{UserResourceType, `not (userName eq "a")`, nil},
		{UserResourceType, `userName ne "a"`, nil},
		{UserResourceType, `userName co "a"`, nil},
		{UserResourceType, `userName sw "a"`, nil},
		{UserResourceType, `title eq "x"`, nil},
		{UserResourceType, `emails.type eq "work"`, nil},
		{UserResourceType, `emails[value co "x"]`, nil},
		{UserResourceType, `emails[type eq "work" or value eq "x"]`, nil},
		{UserResourceType, `emails[not(value eq "x")]`, nil},
		{UserResourceType, `ims[value eq "x"]`, nil},
		{UserResourceType, `userName eq null`, nil},
		{UserResourceType, `manager eq "m"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got := mustCompile(t, tt.filter, tt.rt).Plan()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFilterPlanIsSuperset checks that every resource a planned filter
// matches is found by each of its index keys.
func TestFilterPlanIsSuperset(t *testing.T) {
	users := rfcUsers(t)
	for _, expr := range []string{
		`userName eq "BJENSEN" and title pr`,
		`emails[type eq "work"].value eq "BJENSEN@example.com"`,
		`emails eq "jo@EXAMPLE.org" and userType eq "Intern"`,
		`id eq "c1" and userName eq "carl"`,
	} {
		f := mustCompile(t, expr, UserResourceType)
		plan := f.Plan()
		if len(plan) == 0 {
			t.Fatalf("%s: no plan", expr)
		}
		for name, u := range users {
			if !f.Match(u) {
				continue
			}
			for _, k := range plan {
				found := false
				for _, v := range IndexValues(u, UserResourceType, k.Name) {
					found = found || strings.EqualFold(v, k.Value)
				}
				if !found {
					t.Errorf("%s matches %s but key %v does not find it", expr, name, k)
				}
			}
		}
	}
}

func TestFilterMembersHooks(t *testing.T) {
	group := obj(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Admins"}`)
	members := map[string]bool{"u1": true, "u2": true}
	var isMemberCalls, listCalls int
	hooks := Hooks{
		IsMember: func(id string) (bool, error) { isMemberCalls++; return members[id], nil },
		Members:  func() ([]string, error) { listCalls++; return []string{"u1", "u2"}, nil },
	}
	tests := []struct {
		filter         string
		want           bool
		isMember, list int
	}{
		{`members eq "u1"`, true, 1, 0},
		{`members eq "u9"`, false, 1, 0},
		{`members.value eq "u2"`, true, 1, 0},
		{`members[value eq "u1"]`, true, 1, 0},
		{`members[value eq "U1"]`, false, 1, 0}, // ids are case-sensitive
		{`id eq "g1" and members eq "u1"`, true, 1, 0},
		{`id eq "g2" and members eq "u1"`, false, 0, 0},
		{`not (members eq "u1")`, false, 1, 0},
		{`members ne "u9"`, true, 1, 0},
		{`members pr`, true, 0, 1},
		{`members[value sw "u"]`, true, 0, 1},
		{`members[value eq "u1" or value eq "u9"]`, true, 0, 1},
		{`members.value co "2"`, true, 0, 1},
		{`members pr and members eq "u2" and members[value eq "u1"]`, true, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			isMemberCalls, listCalls = 0, 0
			got, err := mustCompile(t, tt.filter, GroupResourceType).MatchWith(group, hooks)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || isMemberCalls != tt.isMember || listCalls != tt.list {
				t.Errorf("= %v (IsMember×%d, Members×%d), want %v (×%d, ×%d)", got, isMemberCalls, listCalls, tt.want, tt.isMember, tt.list)
			}
		})
	}
}

func TestFilterMembersWithoutHooks(t *testing.T) {
	group := obj(t, `{"id":"g1","displayName":"Admins"}`)
	for _, expr := range []string{`members eq "u1"`, `members pr`, `members[value eq "u1"]`} {
		if mustCompile(t, expr, GroupResourceType).Match(group) {
			t.Errorf("%s matched a group without members and without hooks", expr)
		}
	}
	// With only IsMember, other member filters see no members.
	got, err := mustCompile(t, `members pr`, GroupResourceType).MatchWith(group, Hooks{IsMember: func(string) (bool, error) { return true, nil }})
	if err != nil || got {
		t.Errorf("members pr with IsMember only = %v, %v", got, err)
	}
}

func TestFilterMembersListInResource(t *testing.T) {
	group := obj(t, `{"id":"g1","members":[{"value":"u1"},{"value":"u2","type":"User"}]}`)
	fail := Hooks{
		IsMember: func(string) (bool, error) { t.Error("IsMember called although members are present"); return false, nil },
		Members:  func() ([]string, error) { t.Error("Members called although members are present"); return nil, nil },
	}
	for expr, want := range map[string]bool{
		`members eq "u2"`:                      true,
		`members[value eq "u3"]`:               false,
		`members[type eq "User" and value pr]`: true,
		`members[type eq "Group"]`:             false,
		`members pr`:                           true,
	} {
		got, err := mustCompile(t, expr, GroupResourceType).MatchWith(group, fail)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", expr, got, err, want)
		}
	}
}

func TestFilterHookErrors(t *testing.T) {
	boom := errors.New("store down")
	group := obj(t, `{"id":"g1"}`)
	_, err := mustCompile(t, `members eq "u1"`, GroupResourceType).MatchWith(group, Hooks{IsMember: func(string) (bool, error) { return false, boom }})
	if !errors.Is(err, boom) {
		t.Errorf("IsMember error: got %v", err)
	}
	_, err = mustCompile(t, `not (members pr)`, GroupResourceType).MatchWith(group, Hooks{Members: func() ([]string, error) { return nil, boom }})
	if !errors.Is(err, boom) {
		t.Errorf("Members error: got %v", err)
	}
}

func TestFilterConcurrentUse(t *testing.T) {
	f := mustCompile(t, `emails[type eq "work"].value co "example" and not (title eq "x")`, UserResourceType)
	u := sampleUser(t)
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 200 {
				ok = ok && f.Match(u)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Fatal("concurrent Match returned false")
		}
	}
}

func TestFilterTrickyText(t *testing.T) {
	u := obj(t, `{"userName":"x","emails":[{"type":"a]b[c","value":"v@x"},{"type":"scimvp0","value":"w@x"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m1"}}}`)
	tests := []struct {
		filter string
		want   bool
	}{
		{`emails[type eq "a]b[c"]`, true},
		{`emails[type eq "a]b[c"].value eq "v@x"`, true},
		{`emails[type eq "scimvp0"].value eq "w@x"`, true},
		{`emails[type eq "a]b[c"] and emails[type eq "scimvp0"]`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "a]b[c"].value eq "v@x"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "m1"]`, true},
		{`manager[value eq "m2"]`, false},
		{`userName eq "[not a value path]"`, false},
	}
	for _, tt := range tests {
		if got := mustCompile(t, tt.filter, UserResourceType).Match(u); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.filter, got, tt.want)
		}
	}
	// A name that looks like the internal placeholder is just unknown.
	_, err := Compile(`scimvp0 pr`, UserResourceType)
	wantErr(t, err, 400, ScimTypeInvalidFilter, `unknown attribute "scimvp0"`)
	_, err = Compile(`emails[type eq "x"] and scimvpx0 pr`, UserResourceType)
	wantErr(t, err, 400, ScimTypeInvalidFilter, `unknown attribute "scimvpx0"`)
}

// TestFilterFoldsLikeTheStore: case-insensitive comparisons fold with
// strings.ToLower, as the store folds index keys, so Plan never misses a
// match ("ſ" (long s) is EqualFold to "s" but does not lower to it).
func TestFilterFoldsLikeTheStore(t *testing.T) {
	u := obj(t, `{"userName":"susan"}`)
	if mustCompile(t, `userName eq "ſusan"`, UserResourceType).Match(u) {
		t.Errorf("long s folded to s")
	}
	if !mustCompile(t, `userName eq "SUSAN"`, UserResourceType).Match(u) {
		t.Errorf("upper case not folded")
	}
}

// TestFilterExact: only a lone eq on a string whose comparison folds as
// the store's index does is exact; a caseExact attribute, a conjunction,
// another operator or a value path is not.
func TestFilterExact(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   IndexKey
		exact  bool
	}{
		{`userName eq "Alice@Example.com"`, IndexKey{"userName", "Alice@Example.com"}, true},
		{`id eq "2819c223"`, IndexKey{"id", "2819c223"}, true},
		{`emails.value eq "a@x"`, IndexKey{"emails.value", "a@x"}, true},
		{`externalId eq "ext"`, IndexKey{}, false},
		{`userName eq "a" and active eq true`, IndexKey{}, false},
		{`userName co "a"`, IndexKey{}, false},
		{`userName eq "a" or userName eq "b"`, IndexKey{}, false},
		{`emails[value eq "a@x"]`, IndexKey{}, false},
		{`not (userName eq "a")`, IndexKey{}, false},
		{`title eq "x"`, IndexKey{}, false},
	} {
		got, ok := mustCompile(t, tc.filter, UserResourceType).Exact()
		if ok != tc.exact || got != tc.want {
			t.Errorf("Exact(%s) = %v, %v; want %v, %v", tc.filter, got, ok, tc.want, tc.exact)
		}
	}
	if k, ok := mustCompile(t, `displayName eq "Eng"`, GroupResourceType).Exact(); !ok || k.Name != "displayName" {
		t.Errorf("Exact(displayName eq) on groups = %v, %v", k, ok)
	}
	// Exactness is sound: for each exact filter, a resource matches iff
	// its folded index value equals the folded literal.
	for _, name := range []string{"susan", "SUSAN", "ſusan", "Susan ", "süsan", "SÜSAN"} {
		f := mustCompile(t, `userName eq "Susan"`, UserResourceType)
		got := f.Match(map[string]any{"userName": name})
		if want := strings.ToLower(name) == strings.ToLower("Susan"); got != want {
			t.Errorf("userName %q: match %v, folded index equality %v", name, got, want)
		}
	}
}
