package atlassiantest

import (
	"net/http"
	"strings"
)

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) response {
	var in groupInput
	if e := readJSON(w, r, &in); e != nil {
		return errResp(e)
	}
	if strings.TrimSpace(in.DisplayName) == "" {
		return errResp(errInvalidValue("Resource [GROUP]: displayName is required."))
	}
	now := s.now()
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byDisplayName[fold(in.DisplayName)] != nil {
		return errResp(errGroupNameTaken())
	}
	members, e := d.resolveMembers(in.Members)
	if e != nil {
		return errResp(e)
	}
	if len(members) > s.opts.MaxGroupMembers {
		return errResp(errTooManyMembers(s.opts.MaxGroupMembers))
	}
	rec := d.insertGroup(Group{ID: d.newGroupID(), DisplayName: in.DisplayName, ExternalID: in.ExternalID, Created: now, LastModified: now})
	for _, u := range members {
		d.addMember(rec, u)
	}
	return response{status: http.StatusCreated, body: d.renderGroup(rec, s.base), commit: true}
}

func errTooManyMembers(limit int) *scimError {
	return errInvalidValue("Resource [GROUP]: a group can have at most %d members.", limit)
}

// resolveMembers maps member values (SCIM user ids) to users, deduplicated;
// an unknown id is a 400 invalidValue.
func (d *directory) resolveMembers(in []memberInput) ([]*userRec, *scimError) {
	out := make([]*userRec, 0, len(in))
	seen := make(map[*userRec]bool, len(in))
	for _, m := range in {
		u := d.users[m.Value]
		if u == nil {
			return nil, errInvalidValue("Resource [GROUP]: member user id[%s] does not exist.", m.Value)
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out, nil
}

func (s *Server) getGroup(id string) response {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	rec := d.groups[id]
	if rec == nil {
		return errResp(errNotFoundID(labelGroup, id))
	}
	return response{status: http.StatusOK, body: d.renderGroup(rec, s.base)}
}

// listGroups serves GET /Groups: only `displayName eq` (case-insensitive,
// like the uniqueness rule), paging in creation order, members inline.
func (s *Server) listGroups(r *http.Request) response {
	q := r.URL.Query()
	start, count, e := paging(q, s.opts.PageSize)
	if e != nil {
		return errResp(e)
	}
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	recs := d.groupOrder
	if q.Has("filter") {
		_, value, ok := listFilter(q.Get("filter"), "displayName")
		if !ok {
			return errResp(errInvalidFilter(labelGroup))
		}
		recs = nil
		if rec := d.byDisplayName[fold(value)]; rec != nil {
			recs = []*groupRec{rec}
		}
	}
	lo, hi := window(len(recs), start, count)
	list := listWire[groupWire]{Schemas: []string{ListResponseSchema}, TotalResults: len(recs), StartIndex: start, ItemsPerPage: hi - lo, Resources: make([]groupWire, 0, hi-lo)}
	for _, rec := range recs[lo:hi] {
		list.Resources = append(list.Resources, d.renderGroup(rec, s.base))
	}
	return response{status: http.StatusOK, body: list}
}

// replaceGroup serves PUT: members are replaced by the list sent (omitted
// means none), externalId likewise; displayName is required and must not
// change.
func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request, id string) response {
	var in groupInput
	if e := readJSON(w, r, &in); e != nil {
		return errResp(e)
	}
	now := s.now()
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.groups[id]
	if rec == nil {
		return errResp(errNotFoundID(labelGroup, id))
	}
	if strings.TrimSpace(in.DisplayName) == "" {
		return errResp(errInvalidValue("Resource [GROUP]: displayName is required."))
	}
	if e := s.checkRename(rec, in.DisplayName); e != nil {
		return errResp(e)
	}
	members, e := d.resolveMembers(in.Members)
	if e != nil {
		return errResp(e)
	}
	if len(members) > s.opts.MaxGroupMembers {
		return errResp(errTooManyMembers(s.opts.MaxGroupMembers))
	}
	ov := newOverlay(rec)
	ov.clear()
	for _, u := range members {
		ov.set[u] = true
	}
	ov.commit(d)
	rec.g.ExternalID = in.ExternalID
	rec.g.LastModified = now
	return response{status: http.StatusOK, body: d.renderGroup(rec, s.base), commit: true}
}

// checkRename refuses a displayName change (Atlassian does not support
// renames; its real answer is unknown, so we fail loudly) unless
// Options.IgnoreGroupRename, which keeps the old name silently.
func (s *Server) checkRename(rec *groupRec, name string) *scimError {
	if name == rec.g.DisplayName || s.opts.IgnoreGroupRename {
		return nil
	}
	return errMutability("Resource [GROUP]: renaming groups is not supported (displayName %q cannot become %q); create a group with the new name, move the members, then delete the old group.", rec.g.DisplayName, name)
}

func (s *Server) deleteGroup(id string) response {
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.groups[id]
	if rec == nil {
		return errResp(errNotFoundID(labelGroup, id))
	}
	d.removeGroup(rec)
	return response{status: http.StatusNoContent, commit: true}
}

// overlay is a pending membership change of one group: PATCH operations
// are applied to it and committed only if they all succeed, without copying
// the (up to 35,000) current members.
type overlay struct {
	g       *groupRec
	cleared bool              // current members are dropped unless set true
	set     map[*userRec]bool // explicit membership after the change
}

func newOverlay(g *groupRec) *overlay { return &overlay{g: g, set: map[*userRec]bool{}} }

func (o *overlay) clear() {
	o.cleared = true
	clear(o.set)
}

func (o *overlay) count() int {
	n := len(o.g.members)
	if o.cleared {
		n = 0
	}
	for u, in := range o.set {
		_, was := o.g.members[u]
		was = was && !o.cleared
		switch {
		case in && !was:
			n++
		case !in && was:
			n--
		}
	}
	return n
}

func (o *overlay) commit(d *directory) {
	if o.cleared {
		for u := range o.g.members {
			if !o.set[u] {
				d.removeMember(o.g, u)
			}
		}
	}
	for u, in := range o.set {
		if in {
			d.addMember(o.g, u)
		} else {
			d.removeMember(o.g, u)
		}
	}
}

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, id string) response {
	var in patchInput
	if e := readJSON(w, r, &in); e != nil {
		return errResp(e)
	}
	if len(in.Operations) == 0 {
		return errResp(errInvalidSyntax("PatchOp needs at least one operation in Operations"))
	}
	now := s.now()
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.groups[id]
	if rec == nil {
		return errResp(errNotFoundID(labelGroup, id))
	}
	ov := newOverlay(rec)
	externalID := rec.g.ExternalID
	for _, op := range in.Operations {
		if e := s.applyGroupOp(rec, ov, &externalID, op); e != nil {
			return errResp(e)
		}
	}
	if ov.count() > s.opts.MaxGroupMembers {
		return errResp(errTooManyMembers(s.opts.MaxGroupMembers))
	}
	ov.commit(d)
	rec.g.ExternalID = externalID
	rec.g.LastModified = now
	return response{status: http.StatusOK, body: d.renderGroup(rec, s.base), commit: true}
}

// applyGroupOp applies one PATCH operation to the overlay. Member removal
// is accepted as path "members" with a value list (no value: all members)
// and as path `members[value eq "id"]`; removing a non-member or an
// unknown id is a no-op, adding an unknown id is 400 invalidValue.
func (s *Server) applyGroupOp(rec *groupRec, ov *overlay, externalID *string, op patchOp) *scimError {
	d := s.dir
	name := fold(op.Op)
	switch name {
	case "add", "replace", "remove":
	default:
		return errInvalidSyntax("unsupported PATCH op %q: want add, replace or remove", op.Op)
	}
	path := strings.TrimSpace(op.Path)
	lp := fold(path)
	switch {
	case path == "":
		if name == "remove" {
			return errNoTarget("a remove operation needs a path")
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return errInvalidValue("a PATCH operation without path needs an object value")
		}
		for k, v := range obj {
			switch fold(k) {
			case "members":
				if e := s.patchMembers(ov, name, v); e != nil {
					return e
				}
			case "displayname":
				if e := s.renameValue(rec, v); e != nil {
					return e
				}
			case "externalid":
				if e := setString(externalID, name, v, "externalId"); e != nil {
					return e
				}
			case "schemas", "id", "meta":
			default:
				return errInvalidPath(k)
			}
		}
		return nil
	case lp == "members":
		if name == "remove" && op.Value == nil {
			ov.clear()
			return nil
		}
		return s.patchMembers(ov, name, op.Value)
	case lp == "displayname":
		if name == "remove" {
			return errMutability("Resource [GROUP]: displayName is required and cannot be removed.")
		}
		return s.renameValue(rec, op.Value)
	case lp == "externalid":
		return setString(externalID, name, op.Value, path)
	case strings.HasPrefix(lp, "members[") && name == "remove":
		j := closingBracket(path, len("members"))
		if j != len(path)-1 {
			return errInvalidPath(path)
		}
		f, ok := parseEqFilter(path[len("members[") : len(path)-1])
		v, isString := f.value.(string)
		if !ok || !isString || !strings.EqualFold(f.attr, "value") {
			return errInvalidPath(path)
		}
		if u := d.users[v]; u != nil {
			ov.set[u] = false
		}
		return nil
	}
	return errInvalidPath(path)
}

func (s *Server) renameValue(rec *groupRec, v any) *scimError {
	name, ok := v.(string)
	if !ok {
		return errInvalidValue("displayName must be a string")
	}
	return s.checkRename(rec, name)
}

// patchMembers applies add/replace/remove with a member value list.
func (s *Server) patchMembers(ov *overlay, op string, v any) *scimError {
	ids, e := memberIDs(v)
	if e != nil {
		return e
	}
	d := s.dir
	if op == "remove" {
		for _, id := range ids {
			if u := d.users[id]; u != nil {
				ov.set[u] = false
			}
		}
		return nil
	}
	users := make([]*userRec, len(ids))
	for i, id := range ids {
		if users[i] = d.users[id]; users[i] == nil {
			return errInvalidValue("Resource [GROUP]: member user id[%s] does not exist.", id)
		}
	}
	if op == "replace" {
		ov.clear()
	}
	for _, u := range users {
		ov.set[u] = true
	}
	return nil
}

// memberIDs reads a list of {"value": "<user id>"} objects (a single object
// is accepted too); other keys (display, $ref, type) are ignored.
func memberIDs(v any) ([]string, *scimError) {
	var elems []any
	switch x := v.(type) {
	case []any:
		elems = x
	case map[string]any:
		elems = []any{x}
	default:
		return nil, errInvalidValue("members needs an array of {\"value\": \"<user id>\"} objects")
	}
	ids := make([]string, 0, len(elems))
	for _, el := range elems {
		obj, _ := el.(map[string]any)
		var id string
		for k, x := range obj {
			if fold(k) == "value" {
				id, _ = x.(string)
			}
		}
		if id == "" {
			return nil, errInvalidValue("every member needs a string value (a SCIM user id)")
		}
		ids = append(ids, id)
	}
	return ids, nil
}
