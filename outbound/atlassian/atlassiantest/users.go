package atlassiantest

import (
	"net/http"
)

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) response {
	proj, e := parseProjection(r.URL.Query())
	if e != nil {
		return errResp(e)
	}
	var in userInput
	if e := readJSON(w, r, &in); e != nil {
		return errResp(e)
	}
	var u User
	in.apply(&u)
	if e := validateUser(&u); e != nil {
		return errResp(e)
	}
	now := s.now()
	d := s.dir
	d.mu.Lock()
	if len(d.users) >= s.opts.MaxUsers {
		d.mu.Unlock()
		return errResp(errInvalidValue("Resource [USER]: the directory already has the maximum of %d users.", s.opts.MaxUsers))
	}
	if e := d.userConflict(&u, nil); e != nil {
		d.mu.Unlock()
		return errResp(e)
	}
	u.ID = d.newUserID()
	u.Created, u.LastModified = now, now
	wire := d.renderUser(d.insertUser(u), s.base)
	d.mu.Unlock()
	return response{status: http.StatusCreated, body: proj.apply(wire), commit: true}
}

func (s *Server) getUser(r *http.Request, id string) response {
	proj, e := parseProjection(r.URL.Query())
	if e != nil {
		return errResp(e)
	}
	d := s.dir
	d.mu.RLock()
	rec := d.users[id]
	if rec == nil {
		d.mu.RUnlock()
		return errResp(errNotFoundID(labelUser, id))
	}
	wire := d.renderUser(rec, s.base)
	d.mu.RUnlock()
	return response{status: http.StatusOK, body: proj.apply(wire)}
}

// listUsers serves GET /Users: only `userName eq` and `externalId eq`
// filters, 1-based paging in creation order, sortBy ignored.
func (s *Server) listUsers(r *http.Request) response {
	q := r.URL.Query()
	proj, e := parseProjection(q)
	if e != nil {
		return errResp(e)
	}
	start, count, e := paging(q, s.opts.PageSize)
	if e != nil {
		return errResp(e)
	}
	var attr, value string
	filtered := q.Has("filter")
	if filtered {
		var ok bool
		if attr, value, ok = listFilter(q.Get("filter"), "userName", "externalId"); !ok {
			return errResp(errInvalidFilter(labelUser))
		}
	}
	d := s.dir
	d.mu.RLock()
	recs := d.userOrder
	if filtered {
		var rec *userRec
		if attr == "userName" {
			rec = d.byUserName[d.userNameKey(value)]
		} else {
			rec = d.byExternalID[value]
		}
		recs = nil
		if rec != nil {
			recs = []*userRec{rec}
		}
	}
	lo, hi := window(len(recs), start, count)
	list := listWire[any]{Schemas: []string{ListResponseSchema}, TotalResults: len(recs), StartIndex: start, Resources: make([]any, 0, hi-lo)}
	for _, rec := range recs[lo:hi] {
		list.Resources = append(list.Resources, proj.apply(d.renderUser(rec, s.base)))
	}
	d.mu.RUnlock()
	list.ItemsPerPage = len(list.Resources)
	return response{status: http.StatusOK, body: list}
}

// replaceUser serves PUT: every mutable attribute is replaced, omitted ones
// are cleared, and an omitted active means true (re-activation).
func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request, id string) response {
	proj, e := parseProjection(r.URL.Query())
	if e != nil {
		return errResp(e)
	}
	var in userInput
	if e := readJSON(w, r, &in); e != nil {
		return errResp(e)
	}
	return s.updateUser(id, proj, func(u *User) *scimError {
		in.apply(u)
		return nil
	})
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, id string) response {
	proj, e := parseProjection(r.URL.Query())
	if e != nil {
		return errResp(e)
	}
	var in patchInput
	if e := readJSON(w, r, &in); e != nil {
		return errResp(e)
	}
	if len(in.Operations) == 0 {
		return errResp(errInvalidSyntax("PatchOp needs at least one operation in Operations"))
	}
	return s.updateUser(id, proj, func(u *User) *scimError {
		for _, op := range in.Operations {
			if e := applyUserPatch(u, op); e != nil {
				return e
			}
		}
		return nil
	})
}

// updateUser runs change on a copy of the user and commits it only if the
// result is valid and unique: a failed PUT or PATCH changes nothing.
func (s *Server) updateUser(id string, proj *projection, change func(*User) *scimError) response {
	now := s.now()
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.users[id]
	if rec == nil {
		return errResp(errNotFoundID(labelUser, id))
	}
	nu := rec.u.clone()
	if e := change(&nu); e != nil {
		return errResp(e)
	}
	if e := validateUser(&nu); e != nil {
		return errResp(e)
	}
	if e := d.userConflict(&nu, rec); e != nil {
		return errResp(e)
	}
	nu.LastModified = now
	d.replaceUser(rec, nu)
	return response{status: http.StatusOK, body: proj.apply(d.renderUser(rec, s.base)), commit: true}
}

func (s *Server) deleteUser(id string) response {
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.users[id]
	if rec == nil {
		return errResp(errNotFoundID(labelUser, id))
	}
	d.removeUser(rec)
	return response{status: http.StatusNoContent, commit: true}
}
