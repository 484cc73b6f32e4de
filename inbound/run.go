package inbound

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
)

// linkPage is how many links a read of store.Links asks for.
const linkPage = 500

// maxNamed bounds the userNames a safeguard entry names.
const maxNamed = 10

// kind is what a decision does.
type kind int

const (
	kUnchanged kind = iota // linked and equal: nothing
	kRefresh               // linked, only normalisation differs: refresh the baseline hash
	kDrift                 // linked and different
	kLink                  // unlinked, matched: link
	kImport                // unlinked, unmatched: import
	kConflict              // unlinked, matched ambiguously or contradictorily: report
	kInvalid               // cannot be imported: report
	kMissing               // linked, gone remotely
)

// decision is what the importer decided about one account (or one link
// whose account is gone).
type decision struct {
	kind       kind
	acc        *account    // the remote account (nil for kMissing)
	link       *store.Link // its link, when linked
	hub        *store.Resource
	hubID      string
	user       string // userName, for reports
	how        string // the match key that found hub
	changes    []store.AttrChange
	toInactive bool
	desired    *mapping.Desired
	enqueue    bool // the user's key is (to be) queued
	deprov     bool // counts toward the safeguard
	doc        map[string]any
	why        string // conflict or failure reason
	retried    bool

	// set when acted on (a dry run reports the plan instead)
	status, detail string
}

// run is one run of one app.
type run struct {
	im      *Importer
	app     *App
	opts    Options
	id      string
	started time.Time
	res     Result

	phase        string
	passStart    time.Time
	lastProgress time.Time
	seen         map[string]bool
	linkCount    int

	buffer   []*decision
	overflow bool

	missing, toInactive, linkDeprov int
	named                           []string
	// equal counts the accounts found linked and equal (kUnchanged
	// only), which a survey does not keep to act on.
	equal int
}

// execute runs the app's import in the mode the options ask for.
func (r *run) execute(ctx context.Context) error {
	switch {
	case r.opts.DryRun:
		r.phase = "dry-run"
		if err := r.scan(ctx, r.plan); err != nil {
			return err
		}
		switch {
		case r.exceeded() && r.opts.Force:
			r.reportSafeguard(ctx, store.ReportSkipped, "dry-run: a forced run would go past the safeguard: ")
		case r.exceeded():
			r.res.Stopped = true
			r.reportSafeguard(ctx, store.ReportSkipped, "dry-run: a real run would stop before changing anything: ")
		}
		return nil
	case r.opts.Force:
		r.phase = "import"
		if err := r.scan(ctx, r.act); err != nil {
			return err
		}
		if r.exceeded() {
			r.reportSafeguard(ctx, store.ReportSuccess, "forced past the safeguard: ")
		}
		return nil
	}
	// Survey first, changing nothing, so that a run the safeguard stops
	// has done nothing at all.
	r.phase = "survey"
	if err := r.scan(ctx, r.plan); err != nil {
		return err
	}
	if r.exceeded() {
		r.res.Stopped = true
		r.reportSafeguard(ctx, store.ReportFailure, "import stopped before changing anything: ")
		return nil
	}
	r.phase = "import"
	if !r.overflow {
		survey, equal := r.res, r.equal
		r.resetCounts()
		r.res.Seen, r.res.Unchanged, r.res.Population = survey.Seen, equal, survey.Population
		for _, d := range r.buffer {
			if err := r.act(ctx, d); err != nil {
				return err
			}
		}
		return nil
	}
	r.im.log.Info("many changes: listing the app again to act on them", "app", r.app.Name, "buffered_max", r.im.maxBuffered)
	r.resetCounts()
	return r.scan(ctx, r.act)
}

func (r *run) resetCounts() {
	r.res.Seen, r.res.Unchanged, r.res.Drifted, r.res.Linked, r.res.Imported = 0, 0, 0, 0, 0
	r.res.Missing, r.res.Conflicts, r.res.Failed, r.res.Requeued = 0, 0, 0, 0
	r.res.Deprovisions, r.res.Population = 0, 0
	r.missing, r.toInactive, r.linkDeprov, r.named, r.equal = 0, 0, 0, nil, 0
}

// scan lists the app's accounts and then its links whose accounts were
// not listed, handing every decision to handle.
func (r *run) scan(ctx context.Context, handle func(context.Context, *decision) error) error {
	now := r.im.clock.Now()
	r.passStart, r.lastProgress = now, now
	r.seen = map[string]bool{}
	r.linkCount = 0
	err := r.app.Users.ListUsers(ctx, func(m map[string]any) error { return r.visit(ctx, m, handle) })
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	// Links whose account was not listed: confirmed gone by a GET (the
	// listing is no snapshot: paging over a changing directory can skip an
	// account), or handled as listed.
	after := ""
	for {
		links, err := r.im.st.Links(ctx, r.app.Name, store.KindUser, after, linkPage)
		if err != nil {
			return fmt.Errorf("list links: %w", err)
		}
		for _, l := range links {
			after = l.HubID
			if l.RemoteID == "" {
				continue // a parked create: no account
			}
			r.linkCount++
			if r.seen[l.RemoteID] {
				continue
			}
			m, err := r.app.Users.GetUser(ctx, l.RemoteID)
			switch {
			case errors.Is(err, ErrRemoteGone):
				d, err := r.classifyMissing(ctx, l)
				if err != nil {
					return err
				}
				if err := handle(ctx, d); err != nil {
					return err
				}
			case err != nil:
				return fmt.Errorf("confirm that account %s is gone: %w", l.RemoteID, err)
			default:
				if err := r.visit(ctx, m, handle); err != nil {
					return err
				}
			}
		}
		if len(links) < linkPage {
			break
		}
	}
	r.res.Population = max(r.linkCount, r.res.Seen)
	r.progress(true)
	return nil
}

// visit decides about one listed account.
func (r *run) visit(ctx context.Context, m map[string]any, handle func(context.Context, *decision) error) error {
	acc := parseAccount(m, r.im.hash)
	if acc.ID != "" {
		if r.seen[acc.ID] {
			return nil // listed twice: pages shifted under us
		}
		r.seen[acc.ID] = true
	}
	r.res.Seen++
	d, err := r.classify(ctx, acc)
	if err != nil {
		return err
	}
	if err := handle(ctx, d); err != nil {
		return err
	}
	r.progress(false)
	return nil
}

// plan handles a decision without acting: a dry run reports it, a survey
// keeps it to act on unless there are too many.
func (r *run) plan(ctx context.Context, d *decision) error {
	r.tally(d)
	if r.opts.DryRun {
		r.report(ctx, d)
		return nil
	}
	if d.kind == kUnchanged || r.overflow {
		return nil
	}
	if len(r.buffer) >= r.im.maxBuffered {
		r.buffer, r.overflow = nil, true
		return nil
	}
	r.buffer = append(r.buffer, d)
	return nil
}

// tally counts a decision in the result.
func (r *run) tally(d *decision) {
	switch d.kind {
	case kUnchanged, kRefresh:
		r.res.Unchanged++
		if d.kind == kUnchanged {
			r.equal++
		}
	case kDrift:
		r.res.Drifted++
	case kLink:
		r.res.Linked++
	case kImport:
		r.res.Imported++
	case kConflict:
		r.res.Conflicts++
	case kInvalid:
		r.res.Failed++
	case kMissing:
		r.res.Missing++
	}
	if d.enqueue {
		r.res.Requeued++
	}
	if d.deprov {
		r.res.Deprovisions++
		switch d.kind {
		case kMissing:
			r.missing++
		case kDrift:
			r.toInactive++
		case kLink:
			r.linkDeprov++
		}
		if len(r.named) < maxNamed {
			name := d.user
			if name == "" {
				name = d.hubID
			}
			r.named = append(r.named, name)
		}
	}
}

func (r *run) exceeded() bool {
	return r.app.Safeguard.Exceeded(r.res.Deprovisions, r.res.Population)
}

func (r *run) reportSafeguard(ctx context.Context, status, prefix string) {
	sg := r.app.Safeguard
	detail := fmt.Sprintf("%s%d unlinks or deprovisions (%d missing remotely, %d drifted to inactive, %d links the reconciler would deactivate) exceed %g%% of %d accounts",
		prefix, r.res.Deprovisions, r.missing, r.toInactive, r.linkDeprov, sg.MaxDeprovisionPercent, r.res.Population)
	if len(r.named) > 0 {
		detail += "; among them: " + strings.Join(r.named, ", ")
	}
	if status == store.ReportFailure {
		detail += "; check the app, then run the import with force to proceed"
	}
	r.im.log.Warn("import safeguard", "app", r.app.Name, "run", r.id, "status", status, "deprovisions", r.res.Deprovisions,
		"population", r.res.Population, "percent", sg.MaxDeprovisionPercent)
	r.append(ctx, store.ReportEntry{App: r.app.Name, Operation: store.OpSafeguard, Status: status, Detail: detail})
}

// progress logs (and passes on) the pass's progress every so many
// accounts or seconds, and at the end of a pass.
func (r *run) progress(final bool) {
	now := r.im.clock.Now()
	n := r.res.Seen
	if !final && n%r.im.progressEvery != 0 && now.Sub(r.lastProgress) < r.im.progressInterval {
		return
	}
	r.lastProgress = now
	el := now.Sub(r.passStart)
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el.Seconds()
	}
	p := Progress{App: r.app.Name, RunID: r.id, Phase: r.phase, Seen: n, Elapsed: el, Rate: rate}
	r.im.log.Info("import progress", "app", p.App, "run", p.RunID, "phase", p.Phase, "seen", n,
		"elapsed", el.Round(time.Millisecond), "per_second", fmt.Sprintf("%.1f", rate), "done", final)
	if r.im.onProgress != nil {
		r.im.onProgress(p)
	}
}

func (r *run) finish(err error) {
	r.res.Finished = r.im.clock.Now()
	r.res.Duration = r.res.Finished.Sub(r.res.Started)
	if err != nil {
		r.res.Error = err.Error()
		r.im.log.Error("import failed", "app", r.app.Name, "run", r.id, "err", err)
		return
	}
	res := r.res
	r.im.log.Info("import done", "app", res.App, "run", res.RunID, "dry_run", res.DryRun, "stopped", res.Stopped,
		"seen", res.Seen, "unchanged", res.Unchanged, "drifted", res.Drifted, "linked", res.Linked,
		"imported", res.Imported, "missing", res.Missing, "conflicts", res.Conflicts, "failed", res.Failed,
		"requeued", res.Requeued, "duration", res.Duration.Round(time.Millisecond))
}

func (r *run) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("inbound: import %s: %w", r.app.Name, err)
}

// ---- classification (read-only) ----

func (r *run) classify(ctx context.Context, acc *account) (*decision, error) {
	if acc.ID == "" {
		return &decision{kind: kInvalid, acc: acc, user: acc.UserName, why: "the account has no id"}, nil
	}
	l, err := r.im.st.LinkByRemote(ctx, r.app.Name, store.KindUser, acc.ID)
	switch {
	case err == nil:
		return r.classifyLinked(ctx, acc, l)
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("link of account %s: %w", acc.ID, err)
	}
	return r.classifyUnlinked(ctx, acc)
}

func (r *run) classifyLinked(ctx context.Context, acc *account, l *store.Link) (*decision, error) {
	d := &decision{acc: acc, link: l, hubID: l.HubID, user: acc.UserName}
	if l.Hash != "" && l.Hash == acc.Hash {
		return d, nil // kUnchanged
	}
	state := decodeState(l.State)
	d.changes = managedDiff(state, acc.Attrs)
	if len(d.changes) == 0 {
		d.kind = kRefresh // the target rewrote something we do not manage
		return d, nil
	}
	d.kind = kDrift
	d.toInactive = stateActive(state) && !acc.active()
	d.deprov = d.toInactive
	if r.app.Drift == config.DriftRepush {
		des, err := r.desired(ctx, l.HubID)
		if err != nil {
			return nil, err
		}
		d.desired = &des
		d.enqueue = des.Present
	}
	return d, nil
}

func (r *run) classifyUnlinked(ctx context.Context, acc *account) (*decision, error) {
	d := &decision{acc: acc, user: acc.UserName}
	hub, how, why, err := r.match(ctx, acc)
	if err != nil {
		return nil, err
	}
	if why != "" {
		d.kind, d.why = kConflict, why
		return d, nil
	}
	if hub != nil {
		d.hub, d.hubID, d.how = hub, hub.ID, how
		hl, err := r.im.st.GetLink(ctx, r.app.Name, store.KindUser, hub.ID)
		switch {
		case err == nil && hl.RemoteID != "":
			d.kind = kConflict
			d.why = fmt.Sprintf("matches hub user %s by %s, which is already linked to account %s", hub.ID, how, hl.RemoteID)
			return d, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("link of hub user %s: %w", hub.ID, err)
		}
		d.kind = kLink
		if imported(hub) {
			// An account imported earlier (this run's crash leftover, or
			// another app's): it is no IdP user, no policy admits it, and a
			// reconcile would deprovision it. Link only.
			return d, nil
		}
		des, err := r.desired(ctx, hub.ID)
		if err != nil {
			return nil, err
		}
		d.desired, d.enqueue = &des, true
		d.deprov = acc.active() && !des.Protected && (!des.Present || !des.Active)
		return d, nil
	}
	if acc.UserName == "" {
		d.kind, d.why = kInvalid, "the account has no userName: it cannot be imported"
		return d, nil
	}
	doc, err := importDoc(acc.Attrs)
	if err != nil {
		d.kind, d.why = kInvalid, "cannot import: "+err.Error()
		return d, nil
	}
	d.kind, d.doc = kImport, doc
	return d, nil
}

// match finds the hub user of an unlinked account by the app's match
// order. why is set, and hub nil, when a match is ambiguous.
func (r *run) match(ctx context.Context, acc *account) (hub *store.Resource, how, why string, err error) {
	st := r.im.st
	found := func(res *store.Resource, err error) (*store.Resource, error) {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return res, err
	}
	for _, m := range r.app.Match {
		switch m {
		case MatchUserName:
			if acc.UserName == "" {
				continue
			}
			hub, err = found(st.Lookup(ctx, store.KindUser, store.IndexUserName, acc.UserName))
		case MatchEmail:
			if acc.Email == "" {
				continue
			}
			var all []*store.Resource
			all, err = st.LookupAll(ctx, store.KindUser, store.IndexEmail, acc.Email, 2)
			switch {
			case err != nil:
			case len(all) > 1:
				return nil, m, fmt.Sprintf("its email %q is held by several hub users (%s, %s, …): not linked", acc.Email, all[0].ID, all[1].ID), nil
			case len(all) == 1:
				hub = all[0]
			}
		case MatchExternalID:
			if acc.ExternalID == "" {
				continue
			}
			// The gateway sends the hub id as externalId unless a mapping
			// says otherwise: that names one user. Else the hub users holding
			// that externalId, which is not unique: one links, several
			// are ambiguous and link none.
			hub, err = found(st.Get(ctx, store.KindUser, acc.ExternalID))
			if err != nil || hub != nil {
				break
			}
			var all []*store.Resource
			all, err = st.LookupAll(ctx, store.KindUser, store.IndexExternalID, acc.ExternalID, 2)
			switch {
			case err != nil:
			case len(all) > 1:
				return nil, m, fmt.Sprintf("its externalId %q is held by several hub users (%s, %s, …): not linked", acc.ExternalID, all[0].ID, all[1].ID), nil
			case len(all) == 1:
				hub = all[0]
			}
		}
		if err != nil {
			return nil, "", "", fmt.Errorf("match account %s by %s: %w", acc.ID, m, err)
		}
		if hub != nil {
			return hub, m, "", nil
		}
	}
	return nil, "", "", nil
}

func (r *run) classifyMissing(ctx context.Context, l store.Link) (*decision, error) {
	d := &decision{kind: kMissing, link: &l, hubID: l.HubID, deprov: true}
	if st := decodeState(l.State); st != nil {
		d.user, _ = st["userName"].(string)
	}
	des, err := r.desired(ctx, l.HubID)
	if err != nil {
		return nil, err
	}
	d.desired, d.enqueue = &des, des.Present
	return d, nil
}

func (r *run) desired(ctx context.Context, hubID string) (mapping.Desired, error) {
	d, err := r.im.source.DesiredUser(ctx, r.app.Name, hubID)
	if err != nil {
		return mapping.Desired{}, fmt.Errorf("desired state of hub user %s: %w", hubID, err)
	}
	return d, nil
}
