package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/jsondoc"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// maxCASRetries bounds how often a PATCH or PUT without If-Match is
// re-applied when a concurrent write changed the resource under it.
const maxCASRetries = 12

// casBackoff waits before compare-and-set attempt+1: exponential from
// 1ms, capped at 64ms, with full jitter, so concurrent writers to one
// resource (pushers adding members to one group) spread out instead of
// colliding again.
func casBackoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// idempotentResponse is what an Idempotency-Key replays.
type idempotentResponse struct {
	BodyHash string          `json:"bodyHash"`
	Status   int             `json:"status"`
	Location string          `json:"location,omitempty"`
	ETag     string          `json:"etag,omitempty"`
	Body     json.RawMessage `json:"body"`
}

func (s *Server) idempotencyScope(c echo.Context, key string) string {
	return principalOf(c).Name + "\x00" + c.Request().URL.Path + "\x00" + key
}

// replayIdempotent answers a POST whose Idempotency-Key was seen before
// with the first response. It reports whether it answered.
func (s *Server) replayIdempotent(c echo.Context, scope, bodyHash string) (bool, error) {
	rec, err := s.opts.Store.GetIdempotency(c.Request().Context(), scope, s.opts.Now())
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read idempotency record: %w", err)
	}
	var r idempotentResponse
	if err := json.Unmarshal(rec, &r); err != nil {
		return false, fmt.Errorf("decode idempotency record: %w", err)
	}
	if r.BodyHash != bodyHash {
		return true, &scim.Error{Status: http.StatusUnprocessableEntity,
			Detail: "Idempotency-Key was already used with a different request body"}
	}
	h := c.Response().Header()
	if r.Location != "" {
		h.Set("Location", r.Location)
	}
	if r.ETag != "" {
		h.Set("ETag", r.ETag)
	}
	h.Set("Idempotent-Replayed", "true")
	return true, c.Blob(r.Status, mediaSCIM+"; charset=utf-8", r.Body)
}

func (s *Server) create(k *kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readBody(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		key := c.Request().Header.Get("Idempotency-Key")
		var scope, bodyHash string
		if key != "" {
			if len(key) > 255 {
				return scim.ErrInvalidValue.Detailf("Idempotency-Key is longer than 255 characters")
			}
			sum := sha256.Sum256(body)
			bodyHash = hex.EncodeToString(sum[:])
			scope = s.idempotencyScope(c, key)
			if done, err := s.replayIdempotent(c, scope, bodyHash); done || err != nil {
				return err
			}
		}
		doc, err := scim.Decode(bytes.NewReader(body), k.rt)
		if err != nil {
			return err
		}
		name := k.nameIn(doc)
		setAudit(c, &auditRecord{kind: k, user: name}) // for a refused create
		var members []string
		if k == groupKind {
			members, _ = scim.MemberIDs(doc)
			if err := s.checkMembers(c, members); err != nil {
				return err
			}
		}
		attrs := storable(doc)
		data, err := jsondoc.Marshal(attrs)
		if err != nil {
			return fmt.Errorf("encode resource: %w", err)
		}
		now := s.opts.Now()
		r := &store.Resource{Kind: k.store, ID: newID(), Created: now, Modified: now, Origin: store.OriginIdP,
			Indexes: k.indexKeys(doc), Data: data}
		w := store.Write{Put: r}
		if k == groupKind {
			w.Group, w.AddMembers = r.ID, members
			if w.Marks, err = s.groupMarks(ctx, r.ID, "", scim.StringAt(doc, k.rt, "displayName"), members, false); err != nil {
				return err
			}
			w.Marks = append(w.Marks, s.groupCreatedMarks(r.ID, scim.StringAt(doc, k.rt, "displayName"))...)
		} else {
			w.Marks = s.userMarks(r.ID)
		}
		rec := &auditRecord{kind: k, id: r.ID, user: name, changes: changesOf(k, nil, doc)}
		rec.changes = append(rec.changes, memberChange(members, nil)...)
		w.Reports = s.reportWith(c, rec, http.StatusCreated)
		stored, err := s.opts.Store.Apply(ctx, w)
		if errors.Is(err, store.ErrConflict) && scope != "" {
			// A concurrent request with the same key may have won.
			if done, rerr := s.replayIdempotent(c, scope, bodyHash); done || rerr != nil {
				return rerr
			}
		}
		if errors.Is(err, store.ErrConflict) && k == userKind {
			// A user an import stored from an app is claimed, not refused.
			stored, w, err = s.claimImported(ctx, doc, data, w.Reports[0])
		}
		if err == nil {
			s.afterWrite(w)
			rec.id = stored.ID
			reported(c, rec)
		}
		if errors.Is(err, store.ErrConflict) {
			return s.conflictDetail(c, k, doc, "")
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", k.store, err)
		}
		// A new user is in no group, and its attributes are the ones just
		// stored: answer from them instead of reading both back.
		var out []byte
		switch p := projectionOf(c); {
		case k == userKind && p.all():
			// The stored document is already what Project would return
			// (see TestCreatedUserBody): add id and meta to its JSON.
			out, err = s.withIDAndMeta(c, k, stored)
		case k == userKind:
			out, err = jsondoc.Marshal(scim.Project(s.decorate(c, k, stored, attrs), k.rt, p.attributes, p.excluded))
		default:
			v, verr := s.view(c, k, stored, p)
			if verr != nil {
				return verr
			}
			out, err = jsondoc.Marshal(v)
		}
		if err != nil {
			return fmt.Errorf("encode response: %w", err)
		}
		loc := s.baseURL(c) + k.rt.Endpoint() + "/" + stored.ID
		if scope != "" {
			rec, err := json.Marshal(idempotentResponse{BodyHash: bodyHash, Status: http.StatusCreated, Location: loc,
				ETag: etag(stored.Version), Body: out})
			if err == nil {
				_, _, err = s.opts.Store.PutIdempotency(ctx, scope, rec, now, s.opts.IdempotencyTTL)
			}
			if err != nil {
				// The resource exists; a retry will get 409 instead of a
				// replay, which is what happens without the header.
				s.logger(c).Warn("store idempotency record", "err", err)
			}
		}
		c.Response().Header().Set("Location", loc)
		c.Response().Header().Set("ETag", etag(stored.Version))
		return c.Blob(http.StatusCreated, mediaSCIM+"; charset=utf-8", out)
	}
}

// update is one compare-and-set attempt of PUT or PATCH: given the
// current resource and its document, it returns the new document and the
// membership change, or an error.
type update func(cur *store.Resource, doc map[string]any) (next map[string]any, add, remove []string, err error)

// applyUpdate loads the resource, runs fn, and writes the result with
// compare-and-set, retrying on a concurrent change unless the client
// pinned a version with If-Match (then it is 412). status is what the
// handler answers a success with, for the write's report entry.
func (s *Server) applyUpdate(c echo.Context, k *kind, status int, fn update) (*store.Resource, error) {
	ifMatch := c.Request().Header.Get("If-Match")
	for attempt := 0; ; attempt++ {
		cur, err := s.load(c, k)
		if err != nil {
			return nil, err
		}
		if ifMatch != "" && !etagMatches(ifMatch, cur.Version) {
			return nil, scim.ErrPreconditionFailed.Detailf("If-Match %s does not match the current version %s", ifMatch, etag(cur.Version))
		}
		doc, err := s.document(c, k, cur)
		if err != nil {
			return nil, err
		}
		next, add, remove, err := fn(cur, doc)
		if err != nil {
			return nil, err
		}
		if len(add) > 0 {
			if err := s.checkMembers(c, add); err != nil {
				return nil, err
			}
		}
		data, err := storedData(next)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(data, cur.Data) && len(add) == 0 && len(remove) == 0 {
			setAudit(c, &auditRecord{kind: k, id: cur.ID, user: nameOf(k, cur.Data)})
			return cur, nil // nothing changed: no write, no new version
		}
		r := &store.Resource{Kind: k.store, ID: cur.ID, Created: cur.Created, Modified: s.opts.Now(), Origin: cur.Origin,
			Indexes: k.indexKeys(next), Data: data}
		w := store.Write{Put: r, ExpectVersion: cur.Version}
		if k == groupKind {
			w.Group, w.AddMembers, w.RemoveMembers = cur.ID, add, remove
			oldName, newName := displayNameOf(cur.Data), scim.StringAt(next, k.rt, "displayName")
			changed := append(append([]string(nil), add...), remove...)
			if w.Marks, err = s.groupMarks(c.Request().Context(), cur.ID, oldName, newName, changed, oldName != newName); err != nil {
				return nil, err
			}
		} else {
			w.Marks = s.userMarks(cur.ID)
			// The answer shows the user's groups: read them with the write.
			w.ReadGroups = true
		}
		rec := &auditRecord{kind: k, id: cur.ID, user: k.nameIn(next), changes: changesOf(k, doc, next)}
		rec.changes = append(rec.changes, memberChange(add, remove)...)
		w.Reports = s.reportWith(c, rec, status)
		stored, err := s.opts.Store.Apply(c.Request().Context(), w)
		switch {
		case err == nil:
			s.afterWrite(w)
			reported(c, rec)
			if w.ReadGroups {
				readGroups(c, stored)
			}
			return stored, nil
		case errors.Is(err, store.ErrConflict):
			return nil, s.conflictDetail(c, k, next, cur.ID)
		case errors.Is(err, store.ErrNotFound):
			return nil, scim.ErrNotFound.Detailf("%s %q not found", k.rt.Name(), cur.ID)
		case errors.Is(err, store.ErrVersionMismatch):
			if ifMatch != "" {
				return nil, scim.ErrPreconditionFailed.Detailf("%s %q changed; fetch it again", k.rt.Name(), cur.ID)
			}
			if attempt < maxCASRetries {
				if err := casBackoff(c.Request().Context(), attempt); err != nil {
					return nil, err
				}
				continue
			}
			// Busy, not conflicting: IdPs retry a 503 with Retry-After,
			// while they may take a 409 for a lasting conflict.
			c.Response().Header().Set("Retry-After", "1")
			return nil, &scim.Error{Status: http.StatusServiceUnavailable, Detail: "the resource is being changed concurrently; retry"}
		}
		return nil, fmt.Errorf("update %s %s: %w", k.store, cur.ID, err)
	}
}

// memberDiff turns a desired member set into the adds and removes that
// reach it from the group's current set.
func (s *Server) memberDiff(c echo.Context, groupID string, want []string) (add, remove []string, err error) {
	cur, err := s.opts.Store.Members(c.Request().Context(), groupID)
	if err != nil {
		return nil, nil, fmt.Errorf("members of %s: %w", groupID, err)
	}
	have := make(map[string]bool, len(cur))
	for _, id := range cur {
		have[id] = true
	}
	wanted := make(map[string]bool, len(want))
	for _, id := range want {
		wanted[id] = true
		if !have[id] {
			add = append(add, id)
		}
	}
	for _, id := range cur {
		if !wanted[id] {
			remove = append(remove, id)
		}
	}
	return add, remove, nil
}

// effectiveDelta drops adds of present members and removes of absent
// ones, so a PATCH that changes nothing writes nothing and keeps its
// version, and its report names only real changes. One store read
// (GroupsOfMany) answers for every id, not a round trip each.
func (s *Server) effectiveDelta(c echo.Context, groupID string, add, remove []string) ([]string, []string, error) {
	if len(add)+len(remove) == 0 {
		return add, remove, nil
	}
	ids := append(append(make([]string, 0, len(add)+len(remove)), add...), remove...)
	groups, err := s.opts.Store.GroupsOfMany(c.Request().Context(), ids)
	if err != nil {
		return nil, nil, fmt.Errorf("memberships in %s: %w", groupID, err)
	}
	keep := func(ids []string, want bool) []string {
		var out []string
		for _, id := range ids {
			if slices.Contains(groups[id], groupID) == want {
				out = append(out, id)
			}
		}
		return out
	}
	return keep(add, false), keep(remove, true), nil
}

// afterWrite tells the reconcilers a write queued work.
func (s *Server) afterWrite(w store.Write) {
	if len(w.Marks) > 0 && s.opts.AfterWrite != nil {
		s.opts.AfterWrite()
	}
}

// groupCreatedMarks marks a new group for the apps that push it.
func (s *Server) groupCreatedMarks(id, name string) []store.Mark {
	if s.opts.Marker == nil {
		return nil
	}
	return s.opts.Marker.GroupChanged(id, name, s.opts.Now())
}

func (s *Server) replace(k *kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readBody(c)
		if err != nil {
			return err
		}
		in, err := scim.Decode(bytes.NewReader(body), k.rt)
		if err != nil {
			return err
		}
		stored, err := s.applyUpdate(c, k, http.StatusOK, func(cur *store.Resource, doc map[string]any) (map[string]any, []string, []string, error) {
			next, err := scim.Replace(doc, in, k.rt)
			if err != nil {
				return nil, nil, nil, err
			}
			if k != groupKind {
				return next, nil, nil, nil
			}
			ids, present := scim.MemberIDs(in)
			if !present {
				return next, nil, nil, nil
			}
			add, remove, err := s.memberDiff(c, cur.ID, ids)
			return next, add, remove, err
		})
		if err != nil {
			return err
		}
		return s.respondWrite(c, k, stored, http.StatusOK)
	}
}

func (s *Server) patch(k *kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readBody(c)
		if err != nil {
			return err
		}
		p, err := scim.ParsePatch(body)
		if err != nil {
			return err
		}
		// Groups answer 204, as Entra asks ("returning all the members
		// isn't advisable") and Okta accepts, unless the client asks for
		// attributes; users answer 200 with the resource.
		status := http.StatusOK
		if k == groupKind && c.QueryParam("attributes") == "" && c.QueryParam("excludedAttributes") == "" {
			status = http.StatusNoContent
		}
		if k == groupKind && c.Request().Header.Get("If-Match") == "" {
			d, ok, err := p.MembersDelta(k.rt)
			if err != nil {
				return err
			}
			if ok {
				stored, err := s.patchMembers(c, d.Add, d.Remove, status)
				if err != nil {
					return err
				}
				return s.respondPatch(c, k, stored, status)
			}
		}
		stored, err := s.applyUpdate(c, k, status, func(cur *store.Resource, doc map[string]any) (map[string]any, []string, []string, error) {
			res, err := p.Apply(doc, k.rt)
			if err != nil {
				return nil, nil, nil, err
			}
			d := res.Members
			if d == nil {
				return res.Resource, nil, nil, nil
			}
			if d.Replace {
				add, remove, err := s.memberDiff(c, cur.ID, d.Add)
				return res.Resource, add, remove, err
			}
			add, remove, err := s.effectiveDelta(c, cur.ID, d.Add, d.Remove)
			return res.Resource, add, remove, err
		})
		if err != nil {
			return err
		}
		return s.respondPatch(c, k, stored, status)
	}
}

// respondPatch answers a PATCH with status: 204 with the new entity tag,
// or 200 with the resource.
func (s *Server) respondPatch(c echo.Context, k *kind, stored *store.Resource, status int) error {
	if status == http.StatusNoContent {
		c.Response().Header().Set("ETag", etag(stored.Version))
		return c.NoContent(http.StatusNoContent)
	}
	return s.respondWrite(c, k, stored, http.StatusOK)
}

// patchMembers stores a group PATCH that only adds and removes members
// (scim.Patch.MembersDelta) as one store.Write with Touch: the member
// sets change, the group's version and lastModified move, and its marks
// and report entry are queued, all in one atomic step with no
// compare-and-set on the group. Membership additions and removals
// commute, so IdP workers pushing members of one big group in parallel
// never retry or fail against each other, and the cost is O(changed
// members) whatever the group's size. A PATCH that changes nothing (its
// members already in, its removals already out) writes nothing and keeps
// the version, as in applyUpdate.
func (s *Server) patchMembers(c echo.Context, add, remove []string, status int) (*store.Resource, error) {
	ctx := c.Request().Context()
	k := groupKind
	cur, err := s.load(c, k)
	if err != nil {
		return nil, err
	}
	name := displayNameOf(cur.Data)
	if len(add) > 0 {
		if err := s.checkMembers(c, add); err != nil {
			return nil, err
		}
	}
	if len(add)+len(remove) > 1 {
		// The report names the members that really joined or left. A
		// single change needs no read for that: the store tells when it
		// changed nothing.
		if add, remove, err = s.effectiveDelta(c, cur.ID, add, remove); err != nil {
			return nil, err
		}
	}
	unchanged := func() (*store.Resource, error) {
		setAudit(c, &auditRecord{kind: k, id: cur.ID, user: name})
		now, err := s.opts.Store.Get(ctx, k.store, cur.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return cur, nil // deleted meanwhile: answer with what the PATCH saw
		case err != nil:
			return nil, fmt.Errorf("get %s %s: %w", k.store, cur.ID, err)
		}
		return now, nil
	}
	if len(add)+len(remove) == 0 {
		return unchanged()
	}
	w := store.Write{Group: cur.ID, AddMembers: add, RemoveMembers: remove, Touch: true, Time: s.opts.Now()}
	changed := append(append([]string(nil), add...), remove...)
	if w.Marks, err = s.groupMarks(ctx, cur.ID, name, name, changed, false); err != nil {
		return nil, err
	}
	rec := &auditRecord{kind: k, id: cur.ID, user: name, changes: memberChange(add, remove)}
	w.Reports = s.reportWith(c, rec, status)
	stored, err := s.opts.Store.Apply(ctx, w)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, scim.ErrNotFound.Detailf("%s %q not found", k.rt.Name(), cur.ID)
	case err != nil:
		return nil, fmt.Errorf("update %s %s members: %w", k.store, cur.ID, err)
	case stored == nil:
		return unchanged() // a concurrent PATCH made the same change first
	}
	s.afterWrite(w)
	reported(c, rec)
	return stored, nil
}

func (s *Server) respondWrite(c echo.Context, k *kind, r *store.Resource, status int) error {
	p := projectionOf(c)
	if renderedAsStored(k, r, p) {
		out, err := s.appendUser(nil, c, r)
		if err != nil {
			return err
		}
		c.Response().Header().Set("ETag", etag(r.Version))
		return c.Blob(status, mediaSCIM+"; charset=utf-8", out)
	}
	v, err := s.view(c, k, r, p)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(r.Version))
	return writeSCIM(c, status, v)
}

// claimImported lets an IdP push take over the user an import stored from
// an app (Origin "app:<name>") under doc's userName: same id, creation
// time and links (the app account stays linked and the reconciler
// converges it), the IdP's attributes and index keys, Origin "idp". It is
// store.ErrConflict when no imported user holds the userName, or when
// another unique key of doc belongs to another resource. The write carries
// rep, the create's report entry, naming the claimed user's id.
func (s *Server) claimImported(ctx context.Context, doc map[string]any, data json.RawMessage, rep store.ReportEntry) (*store.Resource, store.Write, error) {
	name := scim.StringAt(doc, userKind.rt, "userName")
	for range maxCASRetries {
		cur, err := s.opts.Store.Lookup(ctx, store.KindUser, store.IndexUserName, name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !strings.HasPrefix(cur.Origin, store.OriginAppPrefix)) {
			return nil, store.Write{}, store.ErrConflict
		}
		if err != nil {
			return nil, store.Write{}, fmt.Errorf("look up userName %q: %w", name, err)
		}
		w := store.Write{Put: &store.Resource{Kind: store.KindUser, ID: cur.ID, Created: cur.Created, Modified: s.opts.Now(),
			Origin: store.OriginIdP, Indexes: userKind.indexKeys(doc), Data: data}, ExpectVersion: cur.Version, Marks: s.userMarks(cur.ID)}
		rep.ResourceID = cur.ID
		w.Reports = []store.ReportEntry{rep}
		stored, err := s.opts.Store.Apply(ctx, w)
		if errors.Is(err, store.ErrVersionMismatch) || errors.Is(err, store.ErrNotFound) {
			continue // changed or deleted meanwhile: look again
		}
		if err != nil {
			return nil, store.Write{}, err
		}
		return stored, w, nil
	}
	return nil, store.Write{}, &scim.Error{Status: http.StatusConflict, Detail: "the user is being changed concurrently; retry"}
}
