package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/jsondoc"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// kind ties a SCIM resource type to its store kind and unique indexes.
type kind struct {
	store   store.Kind
	rt      *scim.ResourceType
	indexes []indexSpec
}

// indexSpec maps a store index to the SCIM attribute path it indexes.
type indexSpec struct {
	index string // store index name
	path  string // SCIM attribute path
}

var (
	userKind = &kind{store.KindUser, scim.UserResourceType, []indexSpec{
		{store.IndexUserName, "userName"},
		{store.IndexExternalID, "externalId"},
		{store.IndexEmail, "emails.value"},
	}}
	groupKind = &kind{store.KindGroup, scim.GroupResourceType, []indexSpec{
		{store.IndexDisplayName, "displayName"},
		{store.IndexExternalID, "externalId"},
	}}
)

// storeIndex returns the store index answering a filter plan key.
func (k *kind) storeIndex(path string) (string, bool) {
	for _, ix := range k.indexes {
		if strings.EqualFold(ix.path, path) {
			return ix.index, true
		}
	}
	return "", false
}

// indexKeys lists the unique index entries of a resource.
func (k *kind) indexKeys(res map[string]any) []store.IndexKey {
	var keys []store.IndexKey
	for _, ix := range k.indexes {
		for _, v := range scim.IndexValues(res, k.rt, ix.path) {
			keys = append(keys, store.IndexKey{Name: ix.index, Value: v})
		}
	}
	return keys
}

func (s *Server) scimRoutes(g *echo.Group) {
	r := routeSet{g: g}
	for _, k := range resourceKinds {
		ep := k.rt.Endpoint()
		r.add(ep, map[string]echo.HandlerFunc{http.MethodGet: s.list(k), http.MethodPost: s.create(k)})
		r.add(ep+"/.search", map[string]echo.HandlerFunc{http.MethodPost: s.search(k)})
		r.add(ep+"/:id", map[string]echo.HandlerFunc{http.MethodGet: s.get(k), http.MethodPut: s.replace(k),
			http.MethodPatch: s.patch(k), http.MethodDelete: s.delete(k)})
	}
	r.add("/.search", map[string]echo.HandlerFunc{http.MethodPost: s.searchAll})
	r.add("/ServiceProviderConfig", map[string]echo.HandlerFunc{http.MethodGet: s.serviceProviderConfig})
	r.add("/ResourceTypes", map[string]echo.HandlerFunc{http.MethodGet: s.resourceTypes})
	r.add("/ResourceTypes/:name", map[string]echo.HandlerFunc{http.MethodGet: s.resourceType})
	r.add("/Schemas", map[string]echo.HandlerFunc{http.MethodGet: s.schemas})
	r.add("/Schemas/:urn", map[string]echo.HandlerFunc{http.MethodGet: s.schema})
}

// routeSet registers an endpoint's handlers and answers every other
// method on it with 405 and an Allow header, as a SCIM error body.
type routeSet struct{ g *echo.Group }

var allMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

func (r routeSet) add(path string, handlers map[string]echo.HandlerFunc) {
	if get, ok := handlers[http.MethodGet]; ok {
		handlers[http.MethodHead] = get
	}
	var allow []string
	for _, m := range allMethods {
		if h, ok := handlers[m]; ok {
			r.g.Add(m, path, h)
			allow = append(allow, m)
		}
	}
	for _, m := range allMethods {
		if _, ok := handlers[m]; ok {
			continue
		}
		r.g.Add(m, path, func(c echo.Context) error {
			c.Response().Header().Set("Allow", strings.Join(allow, ", "))
			return scim.ErrMethodNotAllowed.Detailf("%s is not allowed on %s; allowed: %s", c.Request().Method, c.Path(), strings.Join(allow, ", "))
		})
	}
}

// baseURL is the SCIM base URL for meta.location and Location headers.
func (s *Server) baseURL(c echo.Context) string {
	// A list page asks once per user and group: build it (Scheme reads
	// the forwarding headers) once per request.
	if u, ok := c.Get(ctxBaseURL).(string); ok {
		return u
	}
	u := c.Scheme() + "://" + c.Request().Host + "/scim/v2"
	if s.opts.BaseURL != "" {
		u = strings.TrimSuffix(s.opts.BaseURL, "/") + "/scim/v2"
	}
	c.Set(ctxBaseURL, u)
	return u
}

// ctxBaseURL caches baseURL within one request.
const ctxBaseURL = "base_url"

// document is a stored resource's attributes with id and meta added, the
// form filters, PATCH and projection work on.
func (s *Server) document(c echo.Context, k *kind, r *store.Resource) (map[string]any, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode stored %s %s: %w", k.store, r.ID, err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	return s.decorate(c, k, r, doc), nil
}

// decorate adds a stored resource's id and meta to its attributes.
func (s *Server) decorate(c echo.Context, k *kind, r *store.Resource, doc map[string]any) map[string]any {
	doc["id"] = r.ID
	doc["meta"] = map[string]any{
		"resourceType": k.rt.Name(),
		"created":      r.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": r.Modified.UTC().Format(time.RFC3339Nano),
		"location":     s.baseURL(c) + k.rt.Endpoint() + "/" + r.ID,
		"version":      etag(r.Version),
	}
	return doc
}

// withIDAndMeta renders a stored resource as decorate would, without
// decoding its attributes: "id" and "meta" are written ahead of the stored
// JSON object's members. The stored attributes hold neither key (see
// storable).
func (s *Server) withIDAndMeta(c echo.Context, k *kind, r *store.Resource) ([]byte, error) {
	return s.appendRendered(nil, c, k, r, nil)
}

// appendRendered appends withIDAndMeta's rendering of r to dst, with
// extra, when not empty, a JSON object member (`"groups":[…]`) written
// after meta.
func (s *Server) appendRendered(dst []byte, c echo.Context, k *kind, r *store.Resource, extra []byte) ([]byte, error) {
	attrs := bytes.TrimSpace(r.Data)
	if len(attrs) < 2 || attrs[0] != '{' || attrs[len(attrs)-1] != '}' {
		return nil, fmt.Errorf("stored %s %s is not a JSON object", k.store, r.ID)
	}
	rest := bytes.TrimSpace(attrs[1 : len(attrs)-1])
	dst = slices.Grow(dst, len(attrs)+len(extra)+256)
	dst = append(dst, `{"id":`...)
	dst = jsondoc.AppendString(dst, r.ID)
	dst = append(dst, `,"meta":{"resourceType":`...)
	dst = jsondoc.AppendString(dst, k.rt.Name())
	// Times in RFC 3339 and the version's digits need no JSON escaping.
	dst = append(dst, `,"created":"`...)
	dst = r.Created.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","lastModified":"`...)
	dst = r.Modified.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","location":`...)
	dst = jsondoc.AppendString(dst, s.baseURL(c)+k.rt.Endpoint()+"/"+r.ID)
	dst = append(dst, `,"version":"W/\"`...)
	dst = strconv.AppendInt(dst, r.Version, 10)
	dst = append(dst, `\""}`...)
	if len(extra) > 0 {
		dst = append(dst, ',')
		dst = append(dst, extra...)
	}
	if len(rest) > 0 {
		dst = append(dst, ',')
		dst = append(dst, rest...)
	}
	return append(dst, '}'), nil
}

// renderedAsStored reports whether a stored user renders, with the
// default projection, as its stored JSON plus id, meta and groups: what
// the gateway stored from an IdP's document holds nothing that Project
// would drop or change (TestCreatedUserBody, TestListedUsersAsViewed).
// Users stored by an import are rendered the general way.
func renderedAsStored(k *kind, r *store.Resource, p projection) bool {
	return k == userKind && p.all() && r.Origin == store.OriginIdP
}

// appendUser appends the default rendering of a stored user (see
// renderedAsStored) to dst: withIDAndMeta with its groups.
func (s *Server) appendUser(dst []byte, c echo.Context, r *store.Resource) ([]byte, error) {
	groups, err := s.userGroups(c, r.ID)
	if err != nil {
		return nil, err
	}
	var extra []byte
	if len(groups) > 0 {
		extra = append(extra, `"groups":`...)
		if extra, err = jsondoc.Append(extra, groups); err != nil {
			return nil, fmt.Errorf("encode groups of %s: %w", r.ID, err)
		}
	}
	return s.appendRendered(dst, c, userKind, r, extra)
}

// storedData strips what the store keeps elsewhere (id, meta, members)
// and what it must never keep (password: Okta sends a placeholder, and
// the gateway provisions no credentials) from a document and encodes the
// rest.
func storedData(doc map[string]any) (json.RawMessage, error) {
	b, err := jsondoc.Marshal(storable(doc))
	if err != nil {
		return nil, fmt.Errorf("encode resource: %w", err)
	}
	return b, nil
}

// storable is doc without what storedData leaves out (a shallow copy).
func storable(doc map[string]any) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		switch strings.ToLower(k) {
		case "id", "meta", "members", "groups", "password":
			continue
		}
		out[k] = v
	}
	return out
}

// memberList renders member ids as the Group "members" attribute, in id
// order, each with its display: the user's displayName, else its userName
// (Okta's group tests read it). The users are read in one store read:
// O(members) once, however large the group.
func (s *Server) memberList(c echo.Context, ids []string) ([]any, error) {
	users, err := s.opts.Store.GetMany(c.Request().Context(), store.KindUser, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d members: %w", len(ids), err)
	}
	ids = slices.Sorted(slices.Values(ids))
	out := make([]any, 0, len(ids))
	base := s.baseURL(c) + userKind.rt.Endpoint() + "/"
	for _, id := range ids {
		m := map[string]any{"value": id, "$ref": base + id, "type": "User"}
		if u, ok := users[id]; ok {
			if d := memberDisplay(u.Data); d != "" {
				m["display"] = d
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// memberDisplay is a stored user's displayName, else its userName.
func memberDisplay(data []byte) string {
	var u struct {
		DisplayName string `json:"displayName"`
		UserName    string `json:"userName"`
	}
	_ = json.Unmarshal(data, &u)
	if strings.TrimSpace(u.DisplayName) != "" {
		return u.DisplayName
	}
	return u.UserName
}

// projection holds a request's attributes / excludedAttributes.
type projection struct {
	attributes, excluded []string
}

// all reports whether the projection asks for nothing special: every
// attribute returned by default.
func (p projection) all() bool { return len(p.attributes) == 0 && len(p.excluded) == 0 }

func projectionOf(c echo.Context) projection {
	return projection{attributes: attrList(c.QueryParam("attributes")), excluded: attrList(c.QueryParam("excludedAttributes"))}
}

// attrList splits an attributes parameter. RFC 7644 §3.4.2.5 takes
// attribute names only; a value filter some clients put there
// (emails[type eq "work"]) selects the whole attribute, as the nearest
// reading of what was asked, instead of nothing.
func attrList(s string) []string {
	items := splitList(s)
	for i, it := range items {
		open := strings.IndexByte(it, '[')
		if open < 0 {
			continue
		}
		name := it[:open]
		if end := strings.LastIndexByte(it, ']'); end > open && end+1 < len(it) {
			name += it[end+1:] // emails[type eq "work"].value -> emails.value
		}
		items[i] = name
	}
	return items
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// view renders a stored resource for a response: the document, members
// when the projection needs them (read from the member set only then),
// projected.
func (s *Server) view(c echo.Context, k *kind, r *store.Resource, p projection) (map[string]any, error) {
	doc, err := s.document(c, k, r)
	if err != nil {
		return nil, err
	}
	if k == userKind && scim.NeedsAttribute(k.rt, p.attributes, p.excluded, "groups") {
		groups, err := s.userGroups(c, r.ID)
		if err != nil {
			return nil, err
		}
		if len(groups) > 0 {
			doc["groups"] = groups
		}
	}
	if k == groupKind && scim.NeedsAttribute(k.rt, p.attributes, p.excluded, "members") {
		ids, err := s.opts.Store.Members(c.Request().Context(), r.ID)
		if err != nil {
			return nil, fmt.Errorf("members of %s: %w", r.ID, err)
		}
		if doc["members"], err = s.memberList(c, ids); err != nil {
			return nil, err
		}
	}
	return scim.Project(doc, k.rt, p.attributes, p.excluded), nil
}

// load fetches a resource by the :id path parameter; a missing one is 404.
func (s *Server) load(c echo.Context, k *kind) (*store.Resource, error) {
	id := c.Param("id")
	r, err := s.opts.Store.Get(c.Request().Context(), k.store, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, scim.ErrNotFound.Detailf("%s %q not found", k.rt.Name(), id)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", k.store, id, err)
	}
	return r, nil
}

func (s *Server) get(k *kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := s.load(c, k)
		if err != nil {
			return err
		}
		if inm := c.Request().Header.Get("If-None-Match"); inm != "" && etagMatches(inm, r.Version) {
			c.Response().Header().Set("ETag", etag(r.Version))
			return c.NoContent(http.StatusNotModified)
		}
		return s.respondWrite(c, k, r, http.StatusOK)
	}
}

func (s *Server) delete(k *kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := s.load(c, k)
		if err != nil {
			return err
		}
		if im := c.Request().Header.Get("If-Match"); im != "" && !etagMatches(im, r.Version) {
			return scim.ErrPreconditionFailed.Detailf("If-Match %s does not match the current version %s", im, etag(r.Version))
		}
		w := store.Write{Delete: &store.Ref{Kind: k.store, ID: r.ID}, DeleteVersion: r.Version, Time: s.opts.Now()}
		if k == groupKind {
			name := displayNameOf(r.Data)
			if w.Marks, err = s.groupMarks(c.Request().Context(), r.ID, name, name, nil, true); err != nil {
				return err
			}
		} else {
			left, err := s.leftGroupsMarks(c.Request().Context(), r.ID)
			if err != nil {
				return err
			}
			w.Marks = dedupMarks(append(s.userMarks(r.ID), left...))
		}
		rec := &auditRecord{kind: k, id: r.ID, user: nameOf(k, r.Data)}
		w.Reports = s.reportWith(c, rec, http.StatusNoContent)
		_, err = s.opts.Store.Apply(c.Request().Context(), w)
		if err == nil {
			s.afterWrite(w)
			reported(c, rec)
		}
		if err != nil {
			switch {
			case errors.Is(err, store.ErrNotFound):
				return scim.ErrNotFound.Detailf("%s %q not found", k.rt.Name(), r.ID)
			case errors.Is(err, store.ErrVersionMismatch):
				return scim.ErrPreconditionFailed.Detailf("%s %q changed while it was being deleted; retry", k.rt.Name(), r.ID)
			}
			return fmt.Errorf("delete %s %s: %w", k.store, r.ID, err)
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// conflictDetail names which unique attribute of doc collides with
// another resource: it is only called after the store refused a write,
// and costs one indexed lookup per unique value.
func (s *Server) conflictDetail(c echo.Context, k *kind, doc map[string]any, selfID string) error {
	ctx := c.Request().Context()
	for _, ix := range k.indexes {
		if !store.Unique(ix.index) {
			continue
		}
		for _, v := range scim.IndexValues(doc, k.rt, ix.path) {
			other, err := s.opts.Store.Lookup(ctx, k.store, ix.index, v)
			if err == nil && other.ID != selfID {
				return scim.ErrUniqueness.Detailf("%s %q is already used by another %s", ix.path, v, k.rt.Name())
			}
		}
	}
	return scim.ErrUniqueness.Detailf("a unique attribute of this %s is already in use", k.rt.Name())
}

// checkMembers verifies that every id to add names a User: the gateway
// provisions users, and Okta and Entra push no nested groups.
// One store read checks them all, whatever their number.
func (s *Server) checkMembers(c echo.Context, ids []string) error {
	ctx := c.Request().Context()
	switch len(ids) {
	case 0:
		return nil
	case 1:
		_, err := s.opts.Store.Get(ctx, store.KindUser, ids[0])
		if errors.Is(err, store.ErrNotFound) {
			return scim.ErrInvalidValue.Detailf("member %q is not a known User", ids[0])
		}
		if err != nil {
			return fmt.Errorf("check member %s: %w", ids[0], err)
		}
		return nil
	}
	found, err := s.opts.Store.GetMany(ctx, store.KindUser, ids)
	if err != nil {
		return fmt.Errorf("check %d members: %w", len(ids), err)
	}
	for _, id := range ids {
		if found[id] == nil {
			return scim.ErrInvalidValue.Detailf("member %q is not a known User", id)
		}
	}
	return nil
}

// userGroups renders the readOnly "groups" attribute of a user (RFC 7643
// §4.1.2) from its group set: one read per group the user is in.
func (s *Server) userGroups(c echo.Context, userID string) ([]any, error) {
	ctx := c.Request().Context()
	ids, read := prefetchedGroups(c, userID)
	if !read {
		var err error
		if ids, err = s.opts.Store.GroupsOf(ctx, userID); err != nil {
			return nil, fmt.Errorf("groups of %s: %w", userID, err)
		}
	}
	sort.Strings(ids)
	// A list page renders many users of the same few groups: read each
	// group's name once per request, not once per user.
	names, _ := c.Get(ctxGroupNames).(map[string]string)
	if names == nil {
		names = map[string]string{}
		c.Set(ctxGroupNames, names)
	}
	base := s.baseURL(c) + groupKind.rt.Endpoint() + "/"
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		name, ok := names[id]
		if !ok {
			g, err := s.opts.Store.Get(ctx, store.KindGroup, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted between the two reads
			}
			if err != nil {
				return nil, fmt.Errorf("group %s: %w", id, err)
			}
			name = displayNameOf(g.Data)
			names[id] = name
		}
		out = append(out, map[string]any{"value": id, "display": name, "$ref": base + id, "type": "direct"})
	}
	return out, nil
}

// ctxGroupNames caches group display names within one request.
const ctxGroupNames = "group_names"

// ctxUserGroups holds the groups of the users of a list page, read at
// once by prefetchGroups: user id -> group ids, with an entry (nil when
// the user is in no group) for every user read.
const ctxUserGroups = "user_groups"

// prefetchGroups reads the groups of the users a list page renders in one
// store read, instead of one per user in view, when the response shows
// them.
func (s *Server) prefetchGroups(c echo.Context, k *kind, rs []*store.Resource, p projection) error {
	if k != userKind || len(rs) < 2 || !scim.NeedsAttribute(k.rt, p.attributes, p.excluded, "groups") {
		return nil
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	groups, err := s.opts.Store.GroupsOfMany(c.Request().Context(), ids)
	if err != nil {
		return fmt.Errorf("groups of %d users: %w", len(ids), err)
	}
	for _, id := range ids {
		if _, ok := groups[id]; !ok {
			groups[id] = nil
		}
	}
	c.Set(ctxUserGroups, groups)
	return nil
}

// readGroups keeps the groups a write read with a user (Write.ReadGroups)
// for the answer, as prefetchGroups does for a list page.
func readGroups(c echo.Context, r *store.Resource) {
	c.Set(ctxUserGroups, map[string][]string{r.ID: r.MemberOf})
}

// prefetchedGroups returns a copy of a user's prefetched group ids, and
// whether they were prefetched.
func prefetchedGroups(c echo.Context, userID string) ([]string, bool) {
	m, _ := c.Get(ctxUserGroups).(map[string][]string)
	ids, ok := m[userID]
	return slices.Clone(ids), ok
}
