package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func contextTests() []test {
	return []test{
		{"Canceled", testContextCanceled},
		{"Ping", testPing},
	}
}

func testPing(t *testing.T, s store.Store) {
	noErr(t, s.Ping(t.Context()), "ping")
}

// testContextCanceled: every method honours ctx: with a canceled context it
// fails with an error matching context.Canceled, and changes nothing.
func testContextCanceled(t *testing.T, s store.Store) {
	live := t.Context()
	mustApply(t, s, store.Write{Put: newGroup("g1", "Eng"), Group: "g1", AddMembers: []string{"u1"}})
	mustCreate(t, s, newUser("u1", "alice"))
	noErr(t, s.PutLink(live, sampleLink("app1", store.KindUser, "u1", "r-1")), "put link")
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: t0})
	c := claimOne(t, s, "app1", "k", t0)
	l := acquire(t, s, "job", "a", t0)
	_, _, err := s.PutIdempotency(live, "key-1", []byte("rec"), t0, ttl)
	noErr(t, err, "put idempotency")
	noErr(t, s.PutState(live, "state", []byte("v")), "put state")
	appendReports(t, s, entry("r1", 0, "u", "a", "create", "success"))

	ctx, cancel := context.WithCancel(live)
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, store.KindUser, "u1"); return err }},
		{"Lookup", func() error {
			_, err := s.Lookup(ctx, store.KindUser, store.IndexUserName, "alice")
			return err
		}},
		{"LookupAll", func() error {
			_, err := s.LookupAll(ctx, store.KindUser, store.IndexEmail, "alice@example.com", 0)
			return err
		}},
		{"List", func() error { _, err := s.List(ctx, store.KindUser, 0, 10); return err }},
		{"Apply", func() error {
			_, err := s.Apply(ctx, store.Write{
				Put: newUser("u2", "bob"), Group: "g1", AddMembers: []string{"u2"},
				Marks: []store.Mark{{App: "app2", Key: "k", Due: t0}},
			})
			return err
		}},
		{"Members", func() error { _, err := s.Members(ctx, "g1"); return err }},
		{"IsMember", func() error { _, err := s.IsMember(ctx, "g1", "u1"); return err }},
		{"MemberCount", func() error { _, err := s.MemberCount(ctx, "g1"); return err }},
		{"GroupsOf", func() error { _, err := s.GroupsOf(ctx, "u1"); return err }},
		{"GroupsOfMany", func() error { _, err := s.GroupsOfMany(ctx, []string{"u1", "u2"}); return err }},
		{"PutLink", func() error { return s.PutLink(ctx, sampleLink("app1", store.KindUser, "u2", "r-2")) }},
		{"GetLink", func() error { _, err := s.GetLink(ctx, "app1", store.KindUser, "u1"); return err }},
		{"LinkByRemote", func() error { _, err := s.LinkByRemote(ctx, "app1", store.KindUser, "r-1"); return err }},
		{"DeleteLink", func() error { return s.DeleteLink(ctx, "app1", store.KindUser, "u1") }},
		{"Links", func() error { _, err := s.Links(ctx, "app1", store.KindUser, "", 10); return err }},
		{"Enqueue", func() error { return s.Enqueue(ctx, store.Mark{App: "app2", Key: "k", Due: t0}) }},
		{"Claim", func() error { _, err := s.Claim(ctx, "app1", at(time.Hour), lease, 10); return err }},
		{"Ack", func() error { return s.Ack(ctx, c) }},
		{"Requeue", func() error { return s.Requeue(ctx, c, t0) }},
		{"Release", func() error { return s.Release(ctx, c, t0) }},
		{"QueueLen", func() error { _, err := s.QueueLen(ctx, "app1"); return err }},
		{"PutIdempotency", func() error { _, _, err := s.PutIdempotency(ctx, "key-2", []byte("x"), t0, ttl); return err }},
		{"GetIdempotency", func() error { _, err := s.GetIdempotency(ctx, "key-1", t0); return err }},
		{"AcquireLock", func() error { _, err := s.AcquireLock(ctx, "job2", "a", t0, ttl); return err }},
		{"ReleaseLock", func() error { return s.ReleaseLock(ctx, l) }},
		{"TakeToken", func() error { _, err := s.TakeToken(ctx, "bucket", 1, 1, t0); return err }},
		{"PutState", func() error { return s.PutState(ctx, "state", []byte("changed")) }},
		{"GetState", func() error { _, err := s.GetState(ctx, "state"); return err }},
		{"AppendReport", func() error { return s.AppendReport(ctx, entry("r2", 0, "u", "a", "create", "success")) }},
		{"QueryReports", func() error { _, _, err := s.QueryReports(ctx, store.ReportQuery{}); return err }},
		{"PruneReports", func() error { _, err := s.PruneReports(ctx, at(time.Hour), 0); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, tc := range calls {
		if err := tc.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", tc.name, err)
		}
	}

	// Nothing changed.
	wantMissing(t, s, store.KindUser, "u2")
	wantMembers(t, s, "g1", []string{"u1"}, []string{"u2"})
	wantQueueLen(t, s, "app2", 0)
	if _, err := s.GetLink(live, "app1", store.KindUser, "u1"); err != nil {
		t.Errorf("link after a canceled delete: %v", err)
	}
	_, err = s.GetLink(live, "app1", store.KindUser, "u2")
	wantErr(t, err, store.ErrNotFound, "link after a canceled put")
	wantNoClaim(t, s, "app1", at(time.Second)) // the canceled Ack and Requeue left the lease
	noErr(t, s.Ack(live, c), "ack after canceled calls")
	_, err = s.GetIdempotency(live, "key-2", t0)
	wantErr(t, err, store.ErrNotFound, "idempotency record after a canceled put")
	_, err = s.AcquireLock(live, "job", "b", t0, ttl)
	wantErr(t, err, store.ErrLocked, "lock after a canceled release")
	if w := take(t, s, "bucket", 1, 1, t0); w != 0 {
		t.Errorf("bucket after a canceled take: wait %v, want a full bucket", w)
	}
	got, err := s.GetState(live, "state")
	noErr(t, err, "get state")
	wantBytes(t, "state after a canceled put", got, []byte("v"))
	es, _, err := s.QueryReports(live, store.ReportQuery{})
	noErr(t, err, "query reports")
	if got := tags(es); len(got) != 1 || got[0] != "r1" {
		t.Errorf("reports after canceled append and prune = %q, want [r1]", got)
	}
}
