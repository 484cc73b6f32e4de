package outbound

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/scimgate/scim-gateway/internal/canon"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// reconcileUser converges one claimed user key on the user's desired
// state now: create (after a search, adopting what exists), update,
// reactivate, deactivate or delete, then saves the link and queues the
// user's pushed groups when its account's membership candidacy changed.
func (j *job) reconcileUser() error {
	ctx, r := j.ctx, j.r
	d, err := r.source.DesiredUser(ctx, j.a.name, j.hubID)
	if err != nil {
		return fmt.Errorf("desired state: %w", err)
	}
	j.d = d
	l, err := j.loadLink(store.KindUser)
	if err != nil {
		return err
	}
	j.user, _ = d.Attributes["userName"].(string)
	if j.user == "" && l != nil {
		if st := decodeState(l.State); st != nil {
			j.user, _ = st["userName"].(string)
		}
	}
	// The user's groups are queued when its account may change as a
	// member (see memberID): before acting, so that a crash after the
	// change cannot lose the mark, and again after a change (the first
	// mark's reconcile may have run before it landed). Marks are cheap
	// and coalesce in the queue.
	before := memberID(l)
	if (d.Present && d.Active) != (before != "") {
		if err := j.markGroups(); err != nil {
			return err
		}
	}
	if !d.Present {
		err = j.deprovision()
	} else {
		err = j.converge()
	}
	if memberID(j.link) != before {
		if merr := j.markGroups(); merr != nil {
			if err == nil {
				return merr
			}
			j.r.log.Warn("cannot queue the user's groups", "app", j.a.name, "key", j.key, "err", merr)
		}
	}
	return err
}

// markGroups queues the user's pushed groups, due after GroupDelay: a
// queued key keeps its earlier due time, so the accounts created in a
// burst join their groups together. The group reconcile adds or removes
// the account.
func (j *job) markGroups() error {
	if !j.a.groups || len(j.d.GroupIDs) == 0 {
		return nil
	}
	due := j.r.clock.Now().Add(j.r.groupDelay)
	marks := make([]store.Mark, 0, len(j.d.GroupIDs))
	for _, g := range j.d.GroupIDs {
		if g != "" {
			marks = append(marks, store.Mark{App: j.a.name, Key: store.GroupKey(g), Due: due})
		}
	}
	if err := j.r.store.Enqueue(j.ctx, marks...); err != nil {
		return fmt.Errorf("queue the user's groups: %w", err)
	}
	return nil
}

// converge brings a present account to the desired state.
func (j *job) converge() error {
	if j.d.Protected && !j.d.Active {
		j.report(store.OpDeactivate, store.ReportSkipped, nil, "protected: never deprovisioned"+j.reason())
		if j.link == nil || j.link.RemoteID == "" {
			j.result = resultSkipped
			return nil
		}
		j.d.Active = j.lastActive()
	}
	applied, err := j.desiredState()
	if err != nil {
		return err
	}
	if l := j.link; l != nil && l.RemoteID != "" {
		last, trusted := lastApplied(l)
		if trusted && l.AppliedHash == canon.Hash(applied) {
			j.result = resultSkipped
			if l.Status == store.LinkParked { // converged after all: lift the park
				return j.saveLink(l.RemoteID, applied, l.Hash)
			}
			return nil
		}
		if !trusted {
			last = project(last, applied)
		}
		err := j.update(l.RemoteID, last, applied)
		if statusOf(err) != http.StatusNotFound {
			return err
		}
		// The account is gone (deleted out of band): drop the link and
		// create it again.
		j.r.log.Info("linked account is gone: creating it again", "app", j.a.name, "key", j.key, "remote_id", l.RemoteID)
		if err := j.dropLink(); err != nil {
			return err
		}
	}
	return j.create(applied)
}

// update patches a linked account from last to applied.
func (j *job) update(remoteID string, last, applied map[string]any) error {
	changes := target.Diff(last, applied)
	j.op = opFor(changes)
	if len(changes) == 0 {
		return j.saveLink(remoteID, applied, j.link.Hash)
	}
	if off := j.switchedOff(changes); off != "" {
		return j.skipOff(off)
	}
	ru, err := j.apply(remoteID, last, applied, changes)
	if err != nil {
		return err
	}
	if err := j.saveLink(remoteID, applied, j.remoteHashOf(ru)); err != nil {
		return err
	}
	j.report(j.op, store.ReportSuccess, changes, j.d.Reason)
	return nil
}

// apply makes the one call that brings the account from last to applied:
// PATCH active alone when only active changed, else a PATCH of every
// changed attribute.
func (j *job) apply(remoteID string, last, applied map[string]any, changes []target.Change) (*target.RemoteUser, error) {
	var ru *target.RemoteUser
	var err error
	if len(changes) == 1 && changes[0].Attr == "active" && !changes[0].Remove {
		ru, err = j.a.target.SetActive(j.ctx, remoteID, applied["active"] == true)
	} else {
		ru, err = j.a.target.UpdateUser(j.ctx, remoteID, last, applied)
	}
	if err != nil {
		return nil, err
	}
	j.contacted = true
	return ru, nil
}

// create finds the account or creates it: search, then adopt or POST; a
// 409 on POST is searched again and adopted, or is a conflict. Before a
// POST the search is FindUserBeforeCreate, which leaves a taken userName
// to the 409 (one call on Atlassian instead of two, for every new
// account); when no account is to be created it is FindUser.
func (j *job) create(applied map[string]any) error {
	j.op = store.OpCreate
	ext := j.searchExternalID(applied)
	find := j.a.target.FindUser
	if j.d.Active && j.a.actions.Create {
		find = j.a.target.FindUserBeforeCreate
	}
	ru, err := find(j.ctx, j.user, ext)
	if err != nil {
		return err
	}
	j.contacted = true
	if ru != nil {
		return j.adopt(ru, applied)
	}
	if !j.d.Active {
		j.report(store.OpCreate, store.ReportSkipped, nil, "desired inactive: no account is created"+j.reason())
		j.result = resultSkipped
		return nil
	}
	if !j.a.actions.Create {
		return j.skipOff("create")
	}
	ru, err = j.a.target.CreateUser(j.ctx, applied)
	if statusOf(err) == http.StatusConflict {
		var re *scimclient.RemoteError
		errors.As(err, &re)
		found, ferr := j.a.target.FindUser(j.ctx, j.user, ext)
		if ferr != nil {
			return ferr
		}
		if found == nil {
			return &conflictError{detail: "create refused (" + detailOf(err) + ") and no account with this userName or externalId to adopt", remote: re}
		}
		return j.adopt(found, applied)
	}
	if err != nil {
		return err
	}
	if err := j.saveLink(ru.ID, applied, j.r.hash(ru.Attributes)); err != nil {
		return err
	}
	j.report(store.OpCreate, store.ReportSuccess, nil, j.d.Reason)
	return nil
}

// searchExternalID is the externalId a search for the user's account may
// match on: the one sent when it is the hub id, which the hub assigned
// and no other user holds; none when a mapping sends another, such as the
// IdP's externalId, which is not unique (Entra's mailNickname): matching
// on it could adopt another user's account. The search is then by
// userName alone, which targets keep unique. Match order: the link
// (never searched when it exists), then userName and the hub id as
// externalId, each as the target profile asks for them.
func (j *job) searchExternalID(applied map[string]any) string {
	if ext, _ := applied["externalId"].(string); ext == j.hubID {
		return ext
	}
	return ""
}

// adopt links an existing account, when it is ours or nobody's, and
// brings it to the desired state.
func (j *job) adopt(ru *target.RemoteUser, applied map[string]any) error {
	j.op = store.OpAdopt
	ext, _ := applied["externalId"].(string)
	if ru.ExternalID != "" && ru.ExternalID != ext {
		return &conflictError{detail: fmt.Sprintf("account %s (userName %q) belongs to externalId %q, not %q", ru.ID, ru.UserName, ru.ExternalID, ext)}
	}
	other, err := j.r.store.LinkByRemote(j.ctx, j.a.name, store.KindUser, ru.ID)
	switch {
	case err == nil && other.HubID != j.hubID:
		return &conflictError{detail: fmt.Sprintf("account %s (userName %q) is already linked to hub user %s", ru.ID, ru.UserName, other.HubID)}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("link by remote id: %w", err)
	}
	// Link first, with what the account holds now: if the update below
	// fails, the retry goes through the linked path.
	current := project(ru.Attributes, applied)
	if err := j.saveLink(ru.ID, current, j.r.hash(ru.Attributes)); err != nil {
		return err
	}
	changes := target.Diff(current, applied)
	hash := j.r.hash(ru.Attributes)
	if off := j.switchedOff(changes); off != "" {
		j.report(store.OpAdopt, store.ReportSuccess, nil, fmt.Sprintf("linked existing account %s; %s is switched off for this app, so it keeps its attributes", ru.ID, off)+j.reason())
		return nil
	}
	if len(changes) > 0 {
		ru2, err := j.apply(ru.ID, current, applied, changes)
		if err != nil {
			return err
		}
		hash = j.remoteHashOf(ru2)
	}
	if err := j.saveLink(ru.ID, applied, hash); err != nil {
		return err
	}
	j.report(store.OpAdopt, store.ReportSuccess, changes, fmt.Sprintf("adopted existing account %s", ru.ID)+j.reason())
	return nil
}

// deprovision handles an account that should not be present.
func (j *job) deprovision() error {
	l := j.link
	if l == nil {
		j.result = resultSkipped
		return nil
	}
	if l.RemoteID == "" { // a parked create: nothing remote to undo
		j.result = resultSkipped
		return j.dropLink()
	}
	op := store.OpDeactivate
	if j.a.deprovision == DeprovisionDelete {
		op = store.OpDelete
	}
	j.op = op
	if j.d.Protected {
		j.report(op, store.ReportSkipped, nil, "protected: never deprovisioned"+j.reason())
		j.result = resultSkipped
		return nil
	}
	if op == store.OpDelete && !j.a.actions.Delete {
		return j.skipOff("delete")
	}
	if op == store.OpDelete {
		err := j.a.target.DeleteUser(j.ctx, l.RemoteID)
		detail := j.d.Reason
		switch {
		case statusOf(err) == http.StatusNotFound:
			detail = "account already gone" + j.reason()
		case err != nil:
			return err
		default:
			j.contacted = true
		}
		if err := j.dropLink(); err != nil {
			return err
		}
		j.report(store.OpDelete, store.ReportSuccess, nil, detail)
		return nil
	}
	if l.Status == store.LinkDeactivated {
		j.result = resultSkipped
		return nil
	}
	if !j.a.actions.Deactivate {
		return j.skipOff("deactivate")
	}
	ru, err := j.a.target.SetActive(j.ctx, l.RemoteID, false)
	if statusOf(err) == http.StatusNotFound {
		if err := j.dropLink(); err != nil {
			return err
		}
		j.report(store.OpDeactivate, store.ReportSuccess, nil, "account already gone"+j.reason())
		return nil
	}
	if err != nil {
		return err
	}
	j.contacted = true
	last, _ := lastApplied(l)
	applied := cloneAttrs(last)
	applied["active"] = false
	if err := j.saveLink(l.RemoteID, applied, j.remoteHashOf(ru)); err != nil {
		return err
	}
	j.report(store.OpDeactivate, store.ReportSuccess, []target.Change{{Attr: "active", Old: true, New: false}}, j.d.Reason)
	return nil
}

// desiredState is what is applied: the desired attributes with active
// and externalId set.
func (j *job) desiredState() (map[string]any, error) {
	if un, _ := j.d.Attributes["userName"].(string); strings.TrimSpace(un) == "" {
		return nil, &invalidDesiredError{detail: "no userName"}
	}
	applied := cloneAttrs(j.d.Attributes)
	applied["active"] = j.d.Active
	if _, ok := applied["externalId"]; !ok {
		applied["externalId"] = j.hubID
	}
	return applied, nil
}

// lastActive is the active state last applied to the linked account
// (true when unknown).
func (j *job) lastActive() bool {
	last, _ := lastApplied(j.link)
	b, ok := last["active"].(bool)
	return !ok || b
}

func (j *job) reason() string {
	if j.d.Reason == "" {
		return ""
	}
	return " (" + j.d.Reason + ")"
}

// saveLink records that applied is what the account holds.
func (j *job) saveLink(remoteID string, applied map[string]any, remoteHash string) error {
	state := canon.JSON(applied)
	if state == nil {
		return &invalidDesiredError{detail: "attributes cannot be encoded as JSON"}
	}
	status := store.LinkActive
	if applied["active"] == false {
		status = store.LinkDeactivated
	}
	l := store.Link{
		App: j.a.name, Kind: store.KindUser, HubID: j.hubID, RemoteID: remoteID,
		Hash: remoteHash, State: state, AppliedHash: canon.Hash(applied), AppliedAt: j.r.clock.Now(), Status: status,
	}
	if err := j.r.store.PutLink(j.ctx, l); err != nil {
		return fmt.Errorf("put link: %w", err)
	}
	j.link = &l
	return nil
}

func (j *job) dropLink() error {
	err := j.r.store.DeleteLink(j.ctx, j.a.name, j.kind, j.hubID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete link: %w", err)
	}
	j.link = nil
	return nil
}

// lastApplied decodes the state a link records. It is trusted as what the
// reconciler last applied only when AppliedHash vouches for it; otherwise
// (a link written by an importer, or by a backend that lost the hash) it
// is taken as what the account holds, and nothing is removed on its
// account.
func lastApplied(l *store.Link) (map[string]any, bool) {
	st := decodeState(l.State)
	if st == nil {
		return map[string]any{}, false
	}
	return st, l.AppliedHash != "" && canon.Hash(st) == l.AppliedHash
}

func decodeState(raw json.RawMessage) map[string]any {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]any
	if err := canon.Decode(raw, &m); err != nil {
		return nil
	}
	return m
}

func (j *job) remoteHashOf(ru *target.RemoteUser) string {
	if ru == nil || ru.Attributes == nil {
		return ""
	}
	return j.r.hash(ru.Attributes)
}

// switchedOff returns the action changes need that the app does not allow
// ("" when all are allowed): deactivate for active going false, update for
// anything else, reactivation included.
func (j *job) switchedOff(changes []target.Change) string {
	for _, c := range changes {
		if c.Attr == "active" && c.New == false {
			if !j.a.actions.Deactivate {
				return "deactivate"
			}
		} else if !j.a.actions.Update {
			return "update"
		}
	}
	return ""
}

// skipOff reports a change not made because its action is switched off.
func (j *job) skipOff(action string) error {
	j.report(j.op, store.ReportSkipped, nil, action+" is switched off for this app"+j.reason())
	j.result = resultSkipped
	return nil
}

// opFor names an update by what it does to active.
func opFor(changes []target.Change) string {
	for _, c := range changes {
		if c.Attr != "active" || c.Remove {
			continue
		}
		if c.New == false {
			return store.OpDeactivate
		}
		if c.Old == false {
			return store.OpReactivate
		}
	}
	return store.OpUpdate
}
