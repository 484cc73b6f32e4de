package store

import "testing"

func TestKeys(t *testing.T) {
	if UserKey("u-1") != "user:u-1" || GroupKey("g:1") != "group:g:1" {
		t.Fatalf("keys: %q %q", UserKey("u-1"), GroupKey("g:1"))
	}
	for key, want := range map[string]struct {
		kind Kind
		id   string
	}{
		"user:u-1":       {KindUser, "u-1"},
		"group:g:1":      {KindGroup, "g:1"},
		UserKey("a b"):   {KindUser, "a b"},
		GroupKey("x:y:"): {KindGroup, "x:y:"},
	} {
		kind, id, err := ParseKey(key)
		if err != nil || kind != want.kind || id != want.id {
			t.Errorf("ParseKey(%q) = %q, %q, %v; want %q, %q", key, kind, id, err, want.kind, want.id)
		}
	}
	for _, bad := range []string{"", "user:", "group:", "User:u1", "member:u1", "u1"} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
}

// TestVocabularyWireValues pins what existing stores hold: a changed value
// orphans stored links, report entries, state, locks and buckets.
func TestVocabularyWireValues(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{LinkActive, "active"},
		{LinkDeactivated, "deactivated"},
		{LinkParked, "parked"},
		{ReportSuccess, "success"},
		{ReportFailure, "failure"},
		{ReportSkipped, "skipped"},
		{OpCreate, "create"},
		{OpReplace, "replace"},
		{OpPatch, "patch"},
		{OpUpdate, "update"},
		{OpDeactivate, "deactivate"},
		{OpReactivate, "reactivate"},
		{OpDelete, "delete"},
		{OpAdopt, "adopt"},
		{OpConflict, "conflict"},
		{OpGroupCreate, "group-create"},
		{OpGroupUpdate, "group-update"},
		{OpGroupDelete, "group-delete"},
		{OpGroupMembers, "group-members"},
		{OpReconcile, "reconcile"},
		{OpImport, "import"},
		{OpLink, "link"},
		{OpDrift, "drift"},
		{OpMissing, "missing"},
		{OpSafeguard, "safeguard"},
		{OriginIdP, "idp"},
		{AppOrigin("jira"), "app:jira"},
		{RunningConfigKey, "config/running"},
		{AppStatusKey("jira"), "app/jira/status"},
		{LastImportKey("jira"), "import/jira/last"},
		{ImportLock("jira"), "import/jira"},
		{AppBucket("jira"), "app/jira"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
