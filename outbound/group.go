package outbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/scimgate/scim-gateway/internal/canon"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// DesiredGroup is what an app should hold for one hub group.
type DesiredGroup struct {
	// Present: the app should have the group (the hub has it and the app
	// pushes it).
	Present bool
	// Name is the group's displayName in the app.
	Name string
	// Members are the hub ids of the users who should be members: the
	// hub group's members whom the app admits, active. A member whose
	// account does not exist yet is left out until it does (its user key
	// queues the group again then).
	Members []string
	// Reason says why; it is reported.
	Reason string
}

// GroupSource is a Source that also computes groups. A Runner whose apps
// push groups (AppConfig.Groups) needs its Source to be one.
type GroupSource interface {
	Source
	// DesiredGroup returns what app should hold for hub group groupID;
	// not Present when the hub group is gone or the app does not push it.
	// It may cost O(members): group keys are coalesced like user keys, so
	// a burst of membership changes is computed once.
	DesiredGroup(ctx context.Context, app, groupID string) (DesiredGroup, error)
}

// maxPatchMembers bounds the member ids of one membership PATCH. Atlassian
// documents no limit; 100 keeps a request small and matches its page size.
const maxPatchMembers = 100

// maxReportedMembers bounds the member ids listed in one report entry;
// the counts are always given in full.
const maxReportedMembers = 50

// groupState is what a group link records as last applied (Link.State):
// the name and the remote member ids (sorted), and, while a rename by
// replacement is under way, the old group still to be deleted.
type groupState struct {
	Name     string       `json:"name"`
	Members  []string     `json:"members"`
	Replaces *replacedRef `json:"replaces,omitempty"`
}

// replacedRef is a group being replaced by a new one of another name.
type replacedRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s groupState) hash() string {
	s.Members = nonNil(s.Members)
	sum := sha256.Sum256(canon.JSON(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// lastGroupState decodes a group link's state; it is trusted as last
// applied only when AppliedHash vouches for it.
func lastGroupState(l *store.Link) (groupState, bool) {
	var st groupState
	if len(l.State) == 0 || canon.Decode(l.State, &st) != nil {
		return groupState{}, false
	}
	return st, l.AppliedHash != "" && st.hash() == l.AppliedHash
}

// memberID is the remote id under which a user's account can be a group
// member, "" when it cannot: it must exist and be active (a parked link
// whose last applied state is active counts, so that a refused attribute
// update does not drop memberships).
func memberID(l *store.Link) string {
	if l == nil || l.RemoteID == "" {
		return ""
	}
	switch l.Status {
	case store.LinkActive:
		return l.RemoteID
	case store.LinkParked:
		if last, _ := lastApplied(l); last["active"] != false {
			return l.RemoteID
		}
	}
	return ""
}

func (j *job) reconcileGroup() error {
	ctx, r := j.ctx, j.r
	g, err := r.groups.DesiredGroup(ctx, j.a.name, j.hubID)
	if err != nil {
		return fmt.Errorf("desired group: %w", err)
	}
	j.g = g
	if _, err := j.loadLink(store.KindGroup); err != nil {
		return err
	}
	if !g.Present {
		return j.deleteGroup()
	}
	if strings.TrimSpace(g.Name) == "" {
		return &invalidDesiredError{detail: "group without a name"}
	}
	return j.convergeGroup()
}

// groupReason is the desired group's reason, as a parenthesised suffix.
func (j *job) groupReason() string {
	if j.g.Reason == "" {
		return ""
	}
	return " (" + j.g.Reason + ")"
}

// deleteGroup removes a linked group the app should no longer hold, and
// the old group of an unfinished rename.
func (j *job) deleteGroup() error {
	l := j.link
	if l == nil {
		j.result = resultSkipped
		return nil
	}
	last, _ := lastGroupState(l)
	if last.Replaces != nil {
		if err := j.deleteRemoteGroup(last.Replaces.ID, last.Replaces.Name, "its hub group is gone"+j.groupReason()); err != nil {
			return err
		}
	}
	if l.RemoteID == "" { // a parked create: nothing remote to undo
		j.result = resultSkipped
		return j.dropLink()
	}
	if err := j.deleteRemoteGroup(l.RemoteID, last.Name, j.g.Reason); err != nil {
		return err
	}
	return j.dropLink()
}

// deleteRemoteGroup deletes one remote group (gone already is fine) and
// reports it.
func (j *job) deleteRemoteGroup(remoteID, name, why string) error {
	j.op = store.OpGroupDelete
	err := j.a.target.DeleteGroup(j.ctx, remoteID)
	detail := fmt.Sprintf("deleted group %q (%s)", name, remoteID)
	switch {
	case statusOf(err) == http.StatusNotFound:
		detail = fmt.Sprintf("group %q (%s) already gone", name, remoteID)
	case err != nil:
		return err
	default:
		j.contacted = true
	}
	if why != "" {
		detail += ": " + why
	}
	j.report(store.OpGroupDelete, store.ReportSuccess, nil, detail)
	return nil
}

// convergeGroup brings a group that should be present to its desired
// name and members.
func (j *job) convergeGroup() error {
	want, err := j.remoteMembers(j.g.Members)
	if err != nil {
		return err
	}
	if l := j.link; l != nil && l.RemoteID != "" {
		done, err := j.convergeLinkedGroup(l, want)
		if done || statusOf(err) != http.StatusNotFound {
			j.reportOverflow(err)
			return err
		}
		// The group is gone (deleted out of band): create it again.
		j.r.log.Info("linked group is gone: creating it again", "app", j.a.name, "key", j.key, "remote_id", l.RemoteID)
		if err := j.dropLink(); err != nil {
			return err
		}
	}
	err = j.createGroup(j.capMembers(want, nil))
	j.reportOverflow(err)
	return err
}

// convergeLinkedGroup converges a linked group; done is false when it
// turned out to be gone (err is then its 404).
func (j *job) convergeLinkedGroup(l *store.Link, want []string) (done bool, err error) {
	last, trusted := lastGroupState(l)
	applied := j.capMembers(want, last.Members)
	if trusted && l.AppliedHash == applied.hash() {
		j.result = resultSkipped
		if l.Status == store.LinkParked { // converged after all: lift the park
			return true, j.saveGroupLink(l.RemoteID, applied, l.Hash)
		}
		return true, nil
	}
	if !trusted {
		// Written by someone else (an importer) or damaged: ask the group
		// what it holds.
		rg, err := j.a.target.GetGroup(j.ctx, l.RemoteID)
		if err != nil {
			return false, err
		}
		j.contacted = true
		last = groupState{Name: rg.DisplayName, Members: sortedIDs(rg.Members), Replaces: last.Replaces}
		applied = j.capMembers(want, last.Members)
	}
	hash := l.Hash
	if last.Name != applied.Name {
		if !j.a.target.RenamesGroups() {
			return true, j.replaceGroup(l.RemoteID, last, applied)
		}
		j.op = store.OpGroupUpdate
		rg, err := j.a.target.RenameGroup(j.ctx, l.RemoteID, applied.Name)
		if err != nil {
			return false, err
		}
		j.contacted = true
		hash = j.groupHash(rg, hash)
		old := last.Name
		last.Name = applied.Name
		if err := j.saveGroupLink(l.RemoteID, last, hash); err != nil {
			return true, err
		}
		j.report(store.OpGroupUpdate, store.ReportSuccess, []target.Change{{Attr: "displayName", Old: old, New: applied.Name}}, fmt.Sprintf("renamed group %q to %q", old, applied.Name)+j.groupReason())
	}
	if err := j.applyMembers(l.RemoteID, &last, applied.Members, &hash); err != nil {
		return statusOf(err) != http.StatusNotFound, err
	}
	return true, j.finishReplace(l.RemoteID, last, hash)
}

// createGroup finds the group by name and adopts it, or creates it, then
// adds the members.
func (j *job) createGroup(applied groupState) error {
	rg, adopted, err := j.obtainGroup(applied.Name, "")
	if err != nil {
		return err
	}
	cur := groupState{Name: applied.Name, Members: sortedIDs(rg.Members)}
	hash := j.groupHash(rg, "")
	// Link first: if adding members fails, the retry goes the linked way.
	if err := j.saveGroupLink(rg.ID, cur, hash); err != nil {
		return err
	}
	detail := fmt.Sprintf("created group %q (%s)", applied.Name, rg.ID)
	if adopted {
		detail = fmt.Sprintf("adopted existing group %q (%s) holding %d members", rg.DisplayName, rg.ID, len(cur.Members))
	}
	j.report(store.OpGroupCreate, store.ReportSuccess, nil, detail+j.groupReason())
	if err := j.applyMembers(rg.ID, &cur, applied.Members, &hash); err != nil {
		return err
	}
	return j.saveGroupLink(rg.ID, cur, hash)
}

// replaceGroup renames a group on a target that cannot rename
// (Atlassian): a group with the new name is created (or adopted), linked
// with the old one recorded as to be deleted, given the members, and the
// old group is then deleted. Every step is resumed from the link should
// one fail.
func (j *job) replaceGroup(oldID string, last, applied groupState) error {
	rg, _, err := j.obtainGroup(applied.Name, oldID)
	if err != nil {
		return err
	}
	if rg.ID == oldID {
		// The target found the linked group under the new name: the
		// names differ in case only, which it cannot change.
		last.Name = applied.Name
		j.report(store.OpGroupUpdate, store.ReportSkipped, []target.Change{{Attr: "displayName", Old: rg.DisplayName, New: applied.Name}},
			fmt.Sprintf("group %q keeps its name: the target cannot change the case of a group name", rg.DisplayName)+j.groupReason())
		hash := j.groupHash(rg, j.link.Hash)
		if err := j.applyMembers(oldID, &last, applied.Members, &hash); err != nil {
			return err
		}
		return j.finishReplace(oldID, last, hash)
	}
	if p := last.Replaces; p != nil && p.ID != "" && p.ID != oldID && p.ID != rg.ID {
		// Renamed again before the first rename finished: the group the
		// first one replaces goes now (unless the name went back to it
		// and it was just found again).
		if err := j.deleteRemoteGroup(p.ID, p.Name, fmt.Sprintf("renamed: replaced by %q", applied.Name)); err != nil {
			return err
		}
	}
	replaced := &replacedRef{ID: oldID, Name: last.Name}
	cur := groupState{Name: applied.Name, Members: sortedIDs(rg.Members), Replaces: replaced}
	hash := j.groupHash(rg, "")
	if err := j.saveGroupLink(rg.ID, cur, hash); err != nil {
		return err
	}
	j.report(store.OpGroupCreate, store.ReportSuccess, []target.Change{{Attr: "displayName", Old: replaced.Name, New: applied.Name}},
		fmt.Sprintf("created group %q (%s) to replace %q (%s): the target does not rename groups", applied.Name, rg.ID, replaced.Name, replaced.ID)+j.groupReason())
	if err := j.applyMembers(rg.ID, &cur, applied.Members, &hash); err != nil {
		return err
	}
	return j.finishReplace(rg.ID, cur, hash)
}

// finishReplace deletes the group a rename replaced, if any, and records
// the state reached.
func (j *job) finishReplace(remoteID string, st groupState, hash string) error {
	if st.Replaces != nil {
		// Record the members moved first: should the delete fail, the
		// retry only deletes.
		if err := j.saveGroupLink(remoteID, st, hash); err != nil {
			return err
		}
		if err := j.deleteRemoteGroup(st.Replaces.ID, st.Replaces.Name, fmt.Sprintf("renamed: replaced by %q (%s)", st.Name, remoteID)); err != nil {
			return err
		}
		st.Replaces = nil
	}
	return j.saveGroupLink(remoteID, st, hash)
}

// obtainGroup finds a group by name, checks that it may be adopted, or
// creates it; a 409 on create is searched again. except names a remote
// group of this hub group that may be found (the one being renamed).
func (j *job) obtainGroup(name, except string) (*target.RemoteGroup, bool, error) {
	j.op = store.OpGroupCreate
	rg, err := j.a.target.FindGroup(j.ctx, name)
	if err != nil {
		return nil, false, err
	}
	j.contacted = true
	if rg != nil {
		if rg.ID != except {
			if err := j.adoptable(rg); err != nil {
				return nil, false, err
			}
		}
		return rg, true, nil
	}
	rg, err = j.a.target.CreateGroup(j.ctx, name, j.hubID)
	if statusOf(err) == http.StatusConflict {
		var re *scimclient.RemoteError
		errors.As(err, &re)
		found, ferr := j.a.target.FindGroup(j.ctx, name)
		if ferr != nil {
			return nil, false, ferr
		}
		if found == nil {
			return nil, false, &conflictError{detail: fmt.Sprintf("create of group %q refused (%s) and no group of that name in the directory to adopt: the name is taken in the organisation", name, detailOf(err)), remote: re}
		}
		if found.ID != except {
			if err := j.adoptable(found); err != nil {
				return nil, false, err
			}
		}
		return found, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return rg, false, nil
}

// adoptable refuses a remote group that is not ours to adopt: one that
// carries another externalId, or is linked to another hub group.
func (j *job) adoptable(rg *target.RemoteGroup) error {
	if rg.ExternalID != "" && rg.ExternalID != j.hubID {
		return &conflictError{detail: fmt.Sprintf("group %s (%q) belongs to externalId %q, not %q", rg.ID, rg.DisplayName, rg.ExternalID, j.hubID)}
	}
	other, err := j.r.store.LinkByRemote(j.ctx, j.a.name, store.KindGroup, rg.ID)
	switch {
	case err == nil && other.HubID != j.hubID:
		return &conflictError{detail: fmt.Sprintf("group %s (%q) is already linked to hub group %s", rg.ID, rg.DisplayName, other.HubID)}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("link by remote id: %w", err)
	}
	return nil
}

// applyMembers moves the remote group from st.Members to want in PATCHes
// of at most maxPatchMembers ids, removals first (so that a full group
// has room for the additions), and reports the change. st follows what
// succeeded; on failure the progress is saved on the link before the
// error is returned, so a retry resumes where this one stopped. *hash is
// updated from the last answer.
func (j *job) applyMembers(remoteID string, st *groupState, want []string, hash *string) error {
	add, remove := setDiff(want, st.Members), setDiff(st.Members, want)
	if len(add)+len(remove) == 0 {
		return nil
	}
	j.op = store.OpGroupMembers
	has := make(map[string]bool, len(st.Members)+len(add))
	for _, id := range st.Members {
		has[id] = true
	}
	var last *target.RemoteGroup // the last answer: only its hash is kept
	progress := func() {
		st.Members = sortedIDs(keys(has))
		*hash = j.groupHash(last, *hash)
	}
	ids := append(slices.Clone(remove), add...)
	calls := 0
	for start := 0; start < len(ids); start += maxPatchMembers {
		end := min(start+maxPatchMembers, len(ids))
		var ra, rr []string
		if start < len(remove) {
			rr = remove[start:min(end, len(remove))]
		}
		if end > len(remove) {
			ra = ids[max(start, len(remove)):end]
		}
		rg, err := j.a.target.PatchMembers(j.ctx, remoteID, ra, rr)
		if err != nil {
			if calls > 0 {
				progress()
				if serr := j.saveGroupLink(remoteID, *st, *hash); serr != nil {
					j.r.log.Warn("cannot record group membership progress", "app", j.a.name, "key", j.key, "err", serr)
				}
			}
			return err
		}
		j.contacted = true
		calls++
		if rg != nil {
			last = rg
		}
		for _, id := range rr {
			delete(has, id)
		}
		for _, id := range ra {
			has[id] = true
		}
	}
	progress()
	detail := fmt.Sprintf("group %q: added %d and removed %d members in %d requests; it has %d", st.Name, len(add), len(remove), calls, len(st.Members))
	if len(add) > maxReportedMembers || len(remove) > maxReportedMembers {
		detail += fmt.Sprintf(" (the first %d ids of each are listed)", maxReportedMembers)
	}
	j.report(store.OpGroupMembers, store.ReportSuccess, []target.Change{{Attr: "members", Old: reportedIDs(remove), New: reportedIDs(add)}}, detail+j.groupReason())
	return nil
}

// remoteMembers maps the desired members (hub user ids) to the remote ids
// of their accounts, leaving out those without one that can be a member
// (see memberID): one link read per member. The result is sorted.
func (j *job) remoteMembers(hubIDs []string) ([]string, error) {
	out := make([]string, 0, len(hubIDs))
	for _, id := range hubIDs {
		l, err := j.r.store.GetLink(j.ctx, j.a.name, store.KindUser, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("link of member %s: %w", id, err)
		}
		if rid := memberID(l); rid != "" {
			out = append(out, rid)
		}
	}
	return sortedIDs(out), nil
}

// capMembers is the state to apply: the desired name and members, at most
// the app's cap of them; members already applied (prefer) are kept first,
// so that the cap never churns a full group. The excess is counted in
// j.overflow and reported.
func (j *job) capMembers(want, prefer []string) groupState {
	st := groupState{Name: j.g.Name, Members: want}
	j.overflow = 0
	limit := j.a.maxMembers
	if len(want) <= limit {
		return st
	}
	j.overflow = len(want) - limit
	keep := make([]string, 0, limit)
	kept := make(map[string]bool, limit)
	for _, id := range prefer {
		if len(keep) == limit {
			break
		}
		if _, ok := slices.BinarySearch(want, id); ok {
			keep = append(keep, id)
			kept[id] = true
		}
	}
	for _, id := range want {
		if len(keep) == limit {
			break
		}
		if !kept[id] {
			keep = append(keep, id)
		}
	}
	st.Members = sortedIDs(keep)
	return st
}

// reportOverflow reports the members left out by the cap, once the
// group otherwise converged.
func (j *job) reportOverflow(err error) {
	if err != nil || j.overflow == 0 {
		return
	}
	j.report(store.OpGroupMembers, store.ReportFailure, nil, fmt.Sprintf("group %q: %d desired members left out: a group holds at most %d", j.g.Name, j.overflow, j.a.maxMembers)+j.groupReason())
}

// saveGroupLink records st as what the remote group holds.
func (j *job) saveGroupLink(remoteID string, st groupState, remoteHash string) error {
	st.Members = nonNil(st.Members)
	state := canon.JSON(st)
	if state == nil {
		return &invalidDesiredError{detail: "group state cannot be encoded as JSON"}
	}
	l := store.Link{
		App: j.a.name, Kind: store.KindGroup, HubID: j.hubID, RemoteID: remoteID,
		Hash: remoteHash, State: state, AppliedHash: st.hash(), AppliedAt: j.r.clock.Now(), Status: store.LinkActive,
	}
	if j.overflow > 0 {
		l.Error = fmt.Sprintf("%d desired members left out: a group holds at most %d", j.overflow, j.a.maxMembers)
	}
	if err := j.r.store.PutLink(j.ctx, l); err != nil {
		return fmt.Errorf("put link: %w", err)
	}
	j.link = &l
	return nil
}

// groupHash is the remote hash of an answer, or def when there was none.
func (j *job) groupHash(rg *target.RemoteGroup, def string) string {
	if rg == nil || rg.Attributes == nil {
		return def
	}
	return j.r.hash(rg.Attributes)
}

// setDiff returns the ids of a absent from b, both sorted.
func setDiff(a, b []string) []string {
	var out []string
	for _, id := range a {
		if _, ok := slices.BinarySearch(b, id); !ok {
			out = append(out, id)
		}
	}
	return out
}

func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func reportedIDs(ids []string) any {
	if len(ids) == 0 {
		return nil
	}
	return slices.Clone(ids[:min(len(ids), maxReportedMembers)])
}
