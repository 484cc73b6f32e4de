package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

// reportSpy counts the report entries a request appends on their own and
// those that ride in a write.
type reportSpy struct {
	Store
	appends, withWrite atomic.Int64
}

func (r *reportSpy) AppendReport(ctx context.Context, entries ...store.ReportEntry) error {
	r.appends.Add(int64(len(entries)))
	return r.Store.AppendReport(ctx, entries...)
}

func (r *reportSpy) Apply(ctx context.Context, w store.Write) (*store.Resource, error) {
	out, err := r.Store.Apply(ctx, w)
	if err == nil {
		r.withWrite.Add(int64(len(w.Reports)))
	}
	return out, err
}

// TestWriteCarriesItsReport: a write that changes the store appends its
// report entry in the same store write (no separate append), with the
// status the handler answers; a refused write or one that changes nothing
// is still reported, by the audit middleware.
func TestWriteCarriesItsReport(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		spy := &reportSpy{}
		ts := startServer(t, st, func(o *Options) { spy.Store = o.Store; o.Store = spy })
		want := func(appends, withWrite int64) {
			t.Helper()
			if a, w := spy.appends.Load(), spy.withWrite.Load(); a != appends || w != withWrite {
				t.Fatalf("entries appended alone %d, with a write %d; want %d, %d", a, w, appends, withWrite)
			}
		}
		patchOp := func(op, path string, value any) map[string]any {
			return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": op, "path": path, "value": value}}}
		}

		body := oktaUser("carry@example.com")
		id := str(ts.do("POST", "/Users", body).must(t, 201).Body["id"])
		want(0, 1)
		ts.do("POST", "/Users", body).must(t, 409)
		want(1, 1)
		body["displayName"] = "Carry Two"
		ts.do("PUT", "/Users/"+id, body).must(t, 200)
		ts.do("PATCH", "/Users/"+id, patchOp("replace", "displayName", "Carry Three")).must(t, 200)
		want(1, 3)
		ts.do("PATCH", "/Users/"+id, patchOp("replace", "displayName", "Carry Three")).must(t, 200) // no change
		want(2, 3)
		gid := str(ts.do("POST", "/Groups", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Carriers",
		}).must(t, 201).Body["id"])
		ts.do("PATCH", "/Groups/"+gid, patchOp("add", "members", []any{map[string]any{"value": id}})).must(t, 204)
		ts.do("DELETE", "/Users/"+id, nil).must(t, 204)
		want(2, 6)

		entries, _, err := st.QueryReports(context.Background(), store.ReportQuery{App: "idp:okta", Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, fmt.Sprintf("%s:%s:%s:%d", e.ResourceType, e.Operation, e.Status, e.HTTPStatus))
			if e.RequestID == "" || e.User == "" || (e.Status == "success") != (e.ResourceID != "") {
				t.Errorf("entry lacks context: %+v", e)
			}
		}
		wantOps := "User:delete:success:204,Group:patch:success:204,Group:create:success:201,User:patch:success:200," +
			"User:patch:success:200,User:replace:success:200,User:create:failure:409,User:create:success:201"
		if strings.Join(got, ",") != wantOps {
			t.Errorf("entries, newest first:\n got %s\nwant %s", strings.Join(got, ","), wantOps)
		}
		created := entries[len(entries)-1]
		if created.ResourceID != id || created.User != "carry@example.com" || len(created.Changes) == 0 {
			t.Errorf("create entry: %+v", created)
		}
		if m := entries[1]; len(m.Changes) != 1 || m.Changes[0].Attr != "members" || m.ResourceID != gid {
			t.Errorf("group patch entry: %+v", m)
		}
	})
}
