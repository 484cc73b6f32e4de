package inbound

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/scimgate/scim-gateway/internal/canon"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
)

// act carries a decision out, counts and reports it. Each action checks
// again, just before it writes, that what it decided on still holds (a
// reconciler may have linked or re-linked the account meanwhile), and
// every action is idempotent: a run that crashed is simply run again.
func (r *run) act(ctx context.Context, d *decision) error {
	if err := r.perform(ctx, d); err != nil {
		return err
	}
	r.tally(d)
	r.report(ctx, d)
	return nil
}

func (r *run) perform(ctx context.Context, d *decision) error {
	switch d.kind {
	case kRefresh:
		_, err := r.updateLink(ctx, d.link, func(l *store.Link) { l.Hash = d.acc.Hash })
		return err
	case kDrift:
		return r.drift(ctx, d)
	case kLink:
		return r.link(ctx, d)
	case kImport:
		return r.importUser(ctx, d)
	case kMissing:
		return r.dropMissing(ctx, d)
	}
	return nil
}

func (r *run) drift(ctx context.Context, d *decision) error {
	switch r.app.Drift {
	case config.DriftRepush:
		if !d.enqueue {
			d.status, d.detail = store.ReportSkipped, "not re-pushed: the user is not desired in this app ("+d.desired.Reason+")"
			return nil
		}
		// Tell the link what the account holds now, as untrusted state
		// (no AppliedHash), so the reconciler patches it back to the
		// desired state instead of skipping an unchanged desired state.
		// Link.Hash stays: until the reconciler's apply sets it, the next
		// import still sees the drift.
		current := project(d.acc.Attrs, keysOf(decodeState(d.link.State)))
		ok, err := r.updateLink(ctx, d.link, func(l *store.Link) {
			l.State, l.AppliedHash = canon.JSON(current), ""
		})
		if err != nil {
			return err
		}
		if !ok {
			d.enqueue = false
			d.status, d.detail = store.ReportSkipped, "not re-pushed: the link changed during the import; the next import looks again"
			return nil
		}
		if err := r.enqueue(ctx, d.hubID); err != nil {
			return err
		}
		d.status, d.detail = store.ReportSuccess, "queued: the reconciler pushes the desired state again"
	case config.DriftAccept:
		ok, err := r.updateLink(ctx, d.link, func(l *store.Link) {
			l.Hash = d.acc.Hash
			if l.Status != store.LinkParked {
				l.Status = d.acc.linkStatus()
			}
		})
		if err != nil {
			return err
		}
		if !ok {
			d.status, d.detail = store.ReportSkipped, "not accepted: the link changed during the import; the next import looks again"
			return nil
		}
		d.status, d.detail = store.ReportSuccess, "accepted: the account as it is now is the new baseline"
	default:
		d.status, d.detail = store.ReportSkipped, "reported only (drift: report)"
	}
	return nil
}

func (r *run) link(ctx context.Context, d *decision) error {
	if done, err := r.alreadyLinked(ctx, d); done || err != nil {
		return err
	}
	// Queue first: should the run stop between the two writes, the next
	// run finds the account unlinked and does both again; the reconciler,
	// should it come first, searches and adopts the account itself.
	if d.enqueue {
		if err := r.enqueue(ctx, d.hubID); err != nil {
			return err
		}
		if done, err := r.alreadyLinked(ctx, d); done || err != nil {
			return err
		}
	}
	var attrs map[string]any
	if d.desired != nil && d.desired.Present {
		attrs = d.desired.Attributes
	}
	if err := r.im.st.PutLink(ctx, r.newLink(d.hubID, d.acc, attrs)); err != nil {
		return fmt.Errorf("link account %s to hub user %s: %w", d.acc.ID, d.hubID, err)
	}
	d.status = store.ReportSuccess
	return nil
}

// alreadyLinked checks, before a link is written, that neither the
// account nor the hub user got linked meanwhile; it turns d into what
// that makes it.
func (r *run) alreadyLinked(ctx context.Context, d *decision) (bool, error) {
	st := r.im.st
	l, err := st.LinkByRemote(ctx, r.app.Name, store.KindUser, d.acc.ID)
	switch {
	case err == nil:
		d.kind, d.link, d.enqueue, d.deprov = kUnchanged, l, false, false
		return true, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("link of account %s: %w", d.acc.ID, err)
	}
	hl, err := st.GetLink(ctx, r.app.Name, store.KindUser, d.hubID)
	switch {
	case err == nil && hl.RemoteID != "" && hl.RemoteID != d.acc.ID:
		d.kind, d.enqueue, d.deprov = kConflict, false, false
		d.why = fmt.Sprintf("matches hub user %s by %s, which got linked to account %s during the import", d.hubID, d.how, hl.RemoteID)
		return true, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("link of hub user %s: %w", d.hubID, err)
	}
	return false, nil
}

func (r *run) importUser(ctx context.Context, d *decision) error {
	switch l, err := r.im.st.LinkByRemote(ctx, r.app.Name, store.KindUser, d.acc.ID); {
	case err == nil: // linked meanwhile
		d.kind, d.link, d.hubID = kUnchanged, l, l.HubID
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("link of account %s: %w", d.acc.ID, err)
	}
	data, err := encodeDoc(d.doc)
	if err != nil {
		d.kind, d.why = kInvalid, err.Error()
		return nil
	}
	now := r.im.clock.Now()
	res := &store.Resource{Kind: store.KindUser, ID: newID(), Created: now, Modified: now, Origin: store.AppOrigin(r.app.Name),
		Indexes: indexKeys(d.doc), Data: data}
	// No marks: no policy admits an imported user, so a reconcile would
	// only deprovision the account it mirrors.
	_, err = r.im.st.Apply(ctx, store.Write{Put: res})
	if errors.Is(err, store.ErrConflict) {
		return r.importConflict(ctx, d)
	}
	if err != nil {
		return fmt.Errorf("import account %s as a hub user: %w", d.acc.ID, err)
	}
	d.hubID = res.ID
	// A crash here leaves the user unlinked: the next run matches it by
	// userName and links it.
	if err := r.im.st.PutLink(ctx, r.newLink(res.ID, d.acc, nil)); err != nil {
		return fmt.Errorf("link imported hub user %s to account %s: %w", res.ID, d.acc.ID, err)
	}
	d.status = store.ReportSuccess
	return nil
}

// importConflict handles an import the store refused because a hub user
// took one of its unique keys since the decision (an IdP push): the
// account is decided about again, once.
func (r *run) importConflict(ctx context.Context, d *decision) error {
	if !d.retried {
		d2, err := r.classify(ctx, d.acc)
		if err != nil {
			return err
		}
		if d2.kind != kImport {
			*d = *d2
			d.retried = true
			return r.perform(ctx, d)
		}
	}
	holder := "another hub user"
	if h, err := r.im.st.Lookup(ctx, store.KindUser, store.IndexUserName, d.acc.UserName); err == nil {
		holder = "hub user " + h.ID
	}
	d.kind, d.enqueue, d.deprov = kConflict, false, false
	d.why = fmt.Sprintf("cannot import: userName %q is held by %s, which the match order (%s) does not consider",
		d.acc.UserName, holder, strings.Join(r.app.Match, ", "))
	return nil
}

func (r *run) dropMissing(ctx context.Context, d *decision) error {
	// Queue first, then drop the link: should the run stop in between,
	// the next one finds the link missing again. A reconciler that comes
	// first finds the account gone (404), drops the link and creates the
	// account anew, which the check below then leaves alone.
	if d.enqueue {
		if err := r.enqueue(ctx, d.hubID); err != nil {
			return err
		}
	}
	cur, err := r.im.st.GetLink(ctx, r.app.Name, store.KindUser, d.hubID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("link of hub user %s: %w", d.hubID, err)
	case cur.RemoteID != d.link.RemoteID:
		// re-linked meanwhile: nothing to drop
	default:
		if err := r.im.st.DeleteLink(ctx, r.app.Name, store.KindUser, d.hubID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("drop the link of hub user %s: %w", d.hubID, err)
		}
	}
	d.status = store.ReportSuccess
	return nil
}

// updateLink rewrites the link d was decided on with fn, unless it changed
// since (the reconciler wrote it): it reports whether it wrote.
func (r *run) updateLink(ctx context.Context, before *store.Link, fn func(*store.Link)) (bool, error) {
	cur, err := r.im.st.GetLink(ctx, r.app.Name, store.KindUser, before.HubID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("link of hub user %s: %w", before.HubID, err)
	}
	if !sameLink(cur, before) {
		return false, nil
	}
	l := *cur
	fn(&l)
	if err := r.im.st.PutLink(ctx, l); err != nil {
		return false, fmt.Errorf("update the link of hub user %s: %w", before.HubID, err)
	}
	return true, nil
}

func sameLink(a, b *store.Link) bool {
	return a.RemoteID == b.RemoteID && a.Hash == b.Hash && a.AppliedHash == b.AppliedHash &&
		a.Status == b.Status && a.AppliedAt.Equal(b.AppliedAt) && string(a.State) == string(b.State)
}

// newLink is a link written by the importer: the account as it is, as
// untrusted state (no AppliedHash: the reconciler takes it as what the
// account holds, not as what it applied), over the imported attributes
// and those desired (nil: none).
func (r *run) newLink(hubID string, acc *account, desired map[string]any) store.Link {
	state := project(acc.Attrs, stateKeys(desired))
	return store.Link{
		App: r.app.Name, Kind: store.KindUser, HubID: hubID, RemoteID: acc.ID,
		Hash: acc.Hash, State: canon.JSON(state), AppliedAt: r.im.clock.Now(), Status: acc.linkStatus(),
	}
}

func (r *run) enqueue(ctx context.Context, hubID string) error {
	m := store.Mark{App: r.app.Name, Key: store.UserKey(hubID), Due: r.im.clock.Now()}
	if err := r.im.st.Enqueue(ctx, m); err != nil {
		return fmt.Errorf("queue hub user %s: %w", hubID, err)
	}
	return nil
}

// ---- reports ----

// report appends the report entry of a decision: what was done, or, in a
// dry run, what would be (Status skipped, Detail "dry-run: …"). Unchanged
// accounts are not reported.
func (r *run) report(ctx context.Context, d *decision) {
	if d.kind == kUnchanged || d.kind == kRefresh {
		return
	}
	e := store.ReportEntry{User: d.user, ResourceType: string(store.KindUser), ResourceID: d.hubID, App: r.app.Name}
	acct := "account"
	if d.acc != nil && d.acc.ID != "" {
		acct = "account " + d.acc.ID
	}
	// what was found; what was done (did) or would be (would)
	var what, did, would string
	switch d.kind {
	case kDrift:
		e.Operation, e.Changes = store.OpDrift, d.changes
		what = fmt.Sprintf("%s differs from what was last applied in %d attribute(s)", acct, len(d.changes))
		if d.toInactive {
			what += ", and was deactivated in the app"
		}
		did = d.detail
		switch {
		case r.app.Drift == config.DriftAccept:
			would = "accept it as the new baseline (drift: accept)"
		case r.app.Drift == config.DriftRepush && d.enqueue:
			would = "queue the user so the reconciler pushes the desired state again (drift: repush)"
		case r.app.Drift == config.DriftRepush:
			would = "not re-push it: the user is not desired in this app (" + d.desired.Reason + ")"
		default:
			would = "only report it (drift: report)"
		}
	case kLink:
		e.Operation = store.OpLink
		what = fmt.Sprintf("%s matches hub user %s by %s", acct, d.hubID, d.how)
		switch {
		case !d.enqueue:
			did = "linked; nothing queued: the hub user was imported from an app, and no policy admits it"
			would = "link it, and queue nothing: the hub user was imported from an app, and no policy admits it"
		case d.deprov:
			did = "linked and queued: the reconciler will deactivate it (" + d.desired.Reason + ")"
			would = "link it and queue it: the reconciler would deactivate it (" + d.desired.Reason + ")"
		default:
			did = "linked and queued so the reconciler converges it (" + d.desired.Reason + ")"
			would = "link it and queue it so the reconciler converges it (" + d.desired.Reason + ")"
		}
	case kImport:
		e.Operation = store.OpImport
		what = acct + " matches no hub user"
		did = fmt.Sprintf("imported as hub user %s with origin %s and linked; an IdP push with its userName claims it", d.hubID, store.AppOrigin(r.app.Name))
		would = "import it as a hub user with origin " + store.AppOrigin(r.app.Name) + " and link it"
	case kConflict:
		e.Operation, e.Status = store.OpConflict, store.ReportFailure
		what, did, would = acct+" "+d.why, "left alone", "leave it alone"
	case kInvalid:
		e.Operation, e.Status = store.OpImport, store.ReportFailure
		what, did, would = acct+": "+d.why, "skipped", "skip it"
	case kMissing:
		e.Operation = store.OpMissing
		what = fmt.Sprintf("linked account %s is gone from the app", d.link.RemoteID)
		if d.enqueue {
			did = "link dropped; queued so the reconciler creates it again (" + d.desired.Reason + ")"
			would = "drop the link and queue the user so the reconciler creates it again (" + d.desired.Reason + ")"
		} else {
			did = "link dropped; the user is not desired in this app (" + d.desired.Reason + "): nothing is re-created"
			would = "drop the link; the user is not desired in this app (" + d.desired.Reason + "): nothing would be re-created"
		}
	}
	if r.opts.DryRun {
		e.Status, e.Detail = store.ReportSkipped, "dry-run: "+what+"; would "+would
	} else {
		if e.Status == "" {
			e.Status = d.status
		}
		e.Detail = what + "; " + did
	}
	r.append(ctx, e)
}

func (r *run) append(ctx context.Context, e store.ReportEntry) {
	e.Time, e.RunID = r.im.clock.Now(), r.id
	if err := r.im.st.AppendReport(ctx, e); err != nil {
		r.im.log.Warn("cannot append report entry", "app", r.app.Name, "op", e.Operation, "err", err)
	}
}
