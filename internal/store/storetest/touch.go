package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// touchTests specify Write.Touch: a membership-only write that re-versions
// its group without compare-and-set.
func touchTests() []test {
	return []test{
		{"ReversionsGroup", testTouchReversionsGroup},
		{"NoChangeNoEffect", testTouchNoChangeNoEffect},
		{"MissingGroup", testTouchMissingGroup},
		{"ZeroTime", testTouchZeroTime},
		{"ParallelAddsAndRemoves", testTouchParallel},
	}
}

// reportCount is the number of report entries stored.
func reportCount(t testing.TB, s store.Store) int {
	t.Helper()
	es, _, err := s.QueryReports(t.Context(), store.ReportQuery{Limit: 10000})
	noErr(t, err, "query reports")
	return len(es)
}

// testTouchReversionsGroup: a touch that changes the member set applies its
// adds and removes, gives the group Version+1 and Modified = Time with the
// rest of it as written, queues its marks and appends its report entries in
// the same write, and returns the group as stored. Compare-and-set then
// checks the new version.
func testTouchReversionsGroup(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("u1", "alice"))
	mustCreate(t, s, newUser("u2", "bob"))
	// Data and index values a store that rewrites the group's metadata
	// in place must carry through unchanged, including text that looks
	// like the metadata itself.
	eng := withExternalID(newGroup("g1", `Eng "m":"x" \ Zoë`), `ext"m":"1"`)
	mustApply(t, s, store.Write{Put: eng, Group: "g1", AddMembers: []string{"u1"}})

	when := time.Date(2031, time.March, 15, 1, 2, 3, 456789012, time.FixedZone("CET", 60*60))
	got := mustApply(t, s, store.Write{
		Group: "g1", AddMembers: []string{"u2"}, RemoveMembers: []string{"u1"}, Touch: true, Time: when,
		Marks:   []store.Mark{{App: "app1", Key: store.GroupKey("g1"), Due: t0}},
		Reports: []store.ReportEntry{entry("touch", 0, "bob", "app1", store.OpUpdate, store.ReportSuccess)},
	})
	want := *eng
	want.Version, want.Modified = 2, when
	checkResource(t, "group returned by a touch", got, &want)
	wantVersioned(t, s, "touched group", eng, 2, when)
	wantMembers(t, s, "g1", []string{"u2"}, []string{"u1"})
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, `eng "m":"x" \ zoë`, "g1")
	wantLookup(t, s, store.KindGroup, store.IndexExternalID, `EXT"M":"1"`, "g1")
	wantQueueLen(t, s, "app1", 1)
	if n := reportCount(t, s); n != 1 {
		t.Fatalf("report entries after a touch = %d, want 1", n)
	}

	_, err := s.Apply(ctx, store.Write{Put: eng, ExpectVersion: 1})
	wantErr(t, err, store.ErrVersionMismatch, "replace of a group at its version before a touch")
	if g := mustApply(t, s, store.Write{Put: eng, ExpectVersion: 2}); g.Version != 3 {
		t.Fatalf("replace of a touched group: Version = %d, want 3", g.Version)
	}
}

// testTouchNoChangeNoEffect: a touch whose adds are present and whose
// removes are absent changes nothing: no version, no Modified, no marks,
// no report entries; it returns nil, telling the caller so.
func testTouchNoChangeNoEffect(t *testing.T, s store.Store) {
	mustCreate(t, s, newUser("u1", "alice"))
	eng := newGroup("g1", "Eng")
	mustApply(t, s, store.Write{Put: eng, Group: "g1", AddMembers: []string{"u1"}})

	got := mustApply(t, s, store.Write{
		Group: "g1", AddMembers: []string{"u1"}, RemoveMembers: []string{"u9"}, Touch: true, Time: at(time.Hour),
		Marks:   []store.Mark{{App: "app1", Key: store.GroupKey("g1"), Due: t0}},
		Reports: []store.ReportEntry{entry("noop", 0, "alice", "app1", store.OpUpdate, store.ReportSuccess)},
	})
	if got != nil {
		t.Fatalf("touch that changed nothing returned %+v, want nil", got)
	}
	wantVersioned(t, s, "group after a touch that changed nothing", eng, 1, t0)
	wantMembers(t, s, "g1", []string{"u1"}, []string{"u9"})
	wantQueueLen(t, s, "app1", 0)
	if n := reportCount(t, s); n != 0 {
		t.Fatalf("report entries after a touch that changed nothing = %d, want 0", n)
	}
}

// testTouchMissingGroup: a touch of a group that does not exist fails with
// ErrNotFound and changes nothing.
func testTouchMissingGroup(t *testing.T, s store.Store) {
	mustCreate(t, s, newUser("u1", "alice"))
	_, err := s.Apply(t.Context(), store.Write{
		Group: "nope", AddMembers: []string{"u1"}, Touch: true, Time: at(time.Hour),
		Marks:   []store.Mark{{App: "app1", Key: store.GroupKey("nope"), Due: t0}},
		Reports: []store.ReportEntry{entry("missing", 0, "alice", "app1", store.OpUpdate, store.ReportSuccess)},
	})
	wantErr(t, err, store.ErrNotFound, "touch of a missing group")
	wantGroupsOf(t, s, "u1", nil)
	wantQueueLen(t, s, "app1", 0)
	if n := reportCount(t, s); n != 0 {
		t.Fatalf("report entries after a failed touch = %d, want 0", n)
	}
}

// testTouchZeroTime: with a zero Time the version moves and Modified stays.
func testTouchZeroTime(t *testing.T, s store.Store) {
	eng := newGroup("g1", "Eng")
	mustCreate(t, s, eng)
	got := mustApply(t, s, store.Write{Group: "g1", AddMembers: []string{"u1"}, Touch: true})
	if got.Version != 2 || !got.Modified.Equal(t0) {
		t.Fatalf("touch with a zero Time = version %d, modified %v; want 2, %v", got.Version, got.Modified, t0)
	}
	wantVersioned(t, s, "group touched with a zero Time", eng, 2, t0)
}

// testTouchParallel: many writers add and remove members of one group at
// once, as IdP workers push one big group. Every touch succeeds with no
// retry; none is lost; each effective touch gets its own version, each
// writer sees its versions strictly increase, and the group ends at one
// version per effective touch with exactly the expected members, one mark
// and one report entry per effective touch.
func testTouchParallel(t *testing.T, s store.Store) {
	const workers, each = 8, 20
	ctx := t.Context()
	mustCreate(t, s, newGroup("g1", "Eng"))
	var (
		mu       sync.Mutex
		versions []int64
		want     []string
		gone     []string
		wg       sync.WaitGroup
	)
	for w := range workers {
		for i := range each {
			m := fmt.Sprintf("w%d-u%02d", w, i)
			if i%2 == 0 {
				want = append(want, m)
			} else {
				gone = append(gone, m)
			}
		}
		wg.Go(func() {
			var mine []int64
			touch := func(add, remove []string) {
				g, err := s.Apply(ctx, store.Write{
					Group: "g1", AddMembers: add, RemoveMembers: remove, Touch: true, Time: at(time.Minute),
					Marks:   []store.Mark{{App: "app1", Key: fmt.Sprintf("User/w%d-%d", w, len(mine)), Due: t0}},
					Reports: []store.ReportEntry{entry(fmt.Sprintf("w%d-%d", w, len(mine)), 0, "u", "app1", store.OpUpdate, store.ReportSuccess)},
				})
				if err != nil || g == nil {
					t.Errorf("worker %d: touch +%v -%v = %v, %v; want the changed group", w, add, remove, g, err)
					return
				}
				mine = append(mine, g.Version)
			}
			for i := range each {
				touch([]string{fmt.Sprintf("w%d-u%02d", w, i)}, nil)
			}
			for i := 1; i < each; i += 2 {
				touch(nil, []string{fmt.Sprintf("w%d-u%02d", w, i)})
			}
			for i := 1; i < len(mine); i++ {
				if mine[i] <= mine[i-1] {
					t.Errorf("worker %d: versions %v not strictly increasing", w, mine)
					break
				}
			}
			mu.Lock()
			versions = append(versions, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	touches := workers * (each + each/2)
	slices.Sort(versions)
	if len(slices.Compact(slices.Clone(versions))) != touches {
		t.Fatalf("%d touches returned %d distinct versions, want one each", touches, len(slices.Compact(versions)))
	}
	if g := mustGet(t, s, store.KindGroup, "g1"); g.Version != int64(1+touches) {
		t.Fatalf("group version after %d touches = %d, want %d", touches, g.Version, 1+touches)
	}
	wantMembers(t, s, "g1", want, gone)
	wantQueueLen(t, s, "app1", touches)
	if n := reportCount(t, s); n != touches {
		t.Fatalf("report entries after %d touches = %d", touches, n)
	}
}
