package atlassiantest

import (
	"fmt"
	"strings"
)

// Users returns every user, in creation order.
func (s *Server) Users() []User {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]User, len(d.userOrder))
	for i, r := range d.userOrder {
		out[i] = d.userCopy(r)
	}
	return out
}

// User returns the user with the given SCIM id.
func (s *Server) User(id string) (User, bool) {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	if r := d.users[id]; r != nil {
		return d.userCopy(r), true
	}
	return User{}, false
}

// UserByUserName looks a user up by userName, case-insensitively unless
// Options.UserNameCaseSensitive.
func (s *Server) UserByUserName(userName string) (User, bool) {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	if r := d.byUserName[d.userNameKey(userName)]; r != nil {
		return d.userCopy(r), true
	}
	return User{}, false
}

// UserByExternalID looks a user up by externalId (case-sensitive).
func (s *Server) UserByExternalID(externalID string) (User, bool) {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	if r := d.byExternalID[externalID]; r != nil {
		return d.userCopy(r), true
	}
	return User{}, false
}

// Groups returns every group with its members, in creation order.
func (s *Server) Groups() []Group {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Group, len(d.groupOrder))
	for i, r := range d.groupOrder {
		out[i] = d.groupCopy(r)
	}
	return out
}

// Group returns the group with the given SCIM id.
func (s *Server) Group(id string) (Group, bool) {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	if r := d.groups[id]; r != nil {
		return d.groupCopy(r), true
	}
	return Group{}, false
}

// GroupByDisplayName looks a group up by displayName, case-insensitively.
func (s *Server) GroupByDisplayName(name string) (Group, bool) {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	if r := d.byDisplayName[fold(name)]; r != nil {
		return d.groupCopy(r), true
	}
	return Group{}, false
}

// Counts returns the number of users and groups.
func (s *Server) Counts() (users, groups int) {
	d := s.dir
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.users), len(d.groups)
}

// Seed creates a user directly, as if someone other than the gateway had
// provisioned it. Validation and uniqueness are those of POST /Users. ID,
// AtlassianAccountID and Created are kept when set (else generated, and
// Created is now); LastModified defaults to Created; Groups is ignored.
func (s *Server) Seed(u User) (User, error) {
	now := s.now()
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := validateUser(&u); e != nil {
		return User{}, fmt.Errorf("atlassiantest: seed user %q: %w", u.UserName, e)
	}
	if e := d.userConflict(&u, nil); e != nil {
		return User{}, fmt.Errorf("atlassiantest: seed user %q: %w", u.UserName, e)
	}
	if u.ID == "" {
		u.ID = d.newUserID()
	} else if d.users[u.ID] != nil {
		return User{}, fmt.Errorf("atlassiantest: seed user %q: id %s: %w", u.UserName, u.ID, ErrConflict)
	}
	if u.AtlassianAccountID != "" && d.linked[u.AtlassianAccountID] != nil {
		return User{}, fmt.Errorf("atlassiantest: seed user %q: account %s already linked: %w", u.UserName, u.AtlassianAccountID, ErrConflict)
	}
	if u.Created.IsZero() {
		u.Created = now
	}
	u.Created = u.Created.UTC().Truncate(timestampResolution)
	if u.LastModified.IsZero() {
		u.LastModified = u.Created
	}
	u.LastModified = u.LastModified.UTC().Truncate(timestampResolution)
	u = u.clone()
	return d.userCopy(d.insertUser(u)), nil
}

// SeedAccount registers an Atlassian account of the organisation that no
// SCIM user is linked to (an invited or self-signed-up user) and returns its
// account id. A later POST /Users with that primary email links to it; a
// PUT or PATCH that moves another user's primary email onto it gets 409.
// An existing account with that email is returned as is.
func (s *Server) SeedAccount(email string) string {
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	if aaid, ok := d.accounts[fold(email)]; ok {
		return aaid
	}
	aaid := d.newAccountID()
	d.setAccountEmail(aaid, fold(email))
	return aaid
}

// ModifyUser changes a user out of band, as an Atlassian admin or a sync
// from elsewhere would (drift). fn gets a copy; changes to ID,
// AtlassianAccountID, Created and Groups are ignored; LastModified is set
// to now. Validation and uniqueness apply.
func (s *Server) ModifyUser(id string, fn func(*User)) (User, error) {
	now := s.now()
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.users[id]
	if rec == nil {
		return User{}, fmt.Errorf("atlassiantest: modify user %s: %w", id, ErrNotFound)
	}
	nu := rec.u.clone()
	fn(&nu)
	nu = nu.clone()
	if e := validateUser(&nu); e != nil {
		return User{}, fmt.Errorf("atlassiantest: modify user %s: %w", id, e)
	}
	if e := d.userConflict(&nu, rec); e != nil {
		return User{}, fmt.Errorf("atlassiantest: modify user %s: %w", id, e)
	}
	nu.LastModified = now
	d.replaceUser(rec, nu)
	return d.userCopy(rec), nil
}

// DeleteUser removes a SCIM record out of band (like Atlassian's
// onlyDeleteUserInDB admin API): same effects as DELETE /Users/{id}.
func (s *Server) DeleteUser(id string) bool {
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.users[id]
	if rec != nil {
		d.removeUser(rec)
	}
	return rec != nil
}

// SeedGroup creates a group directly (for example a group that already
// exists in the organisation). DisplayName is required and unique
// (case-insensitive); Members name existing user ids; ID and Created are
// kept when set.
func (s *Server) SeedGroup(g Group) (Group, error) {
	now := s.now()
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	if strings.TrimSpace(g.DisplayName) == "" {
		return Group{}, fmt.Errorf("atlassiantest: seed group: displayName is required: %w", ErrInvalid)
	}
	if d.byDisplayName[fold(g.DisplayName)] != nil {
		return Group{}, fmt.Errorf("atlassiantest: seed group %q: %w", g.DisplayName, errGroupNameTaken())
	}
	in := make([]memberInput, len(g.Members))
	for i, m := range g.Members {
		in[i] = memberInput{Value: m.ID}
	}
	members, e := d.resolveMembers(in)
	if e != nil {
		return Group{}, fmt.Errorf("atlassiantest: seed group %q: %w", g.DisplayName, e)
	}
	if len(members) > s.opts.MaxGroupMembers {
		return Group{}, fmt.Errorf("atlassiantest: seed group %q: %w", g.DisplayName, errTooManyMembers(s.opts.MaxGroupMembers))
	}
	if g.ID == "" {
		g.ID = d.newGroupID()
	} else if d.groups[g.ID] != nil {
		return Group{}, fmt.Errorf("atlassiantest: seed group %q: id %s: %w", g.DisplayName, g.ID, ErrConflict)
	}
	if g.Created.IsZero() {
		g.Created = now
	}
	g.Created = g.Created.UTC().Truncate(timestampResolution)
	if g.LastModified.IsZero() {
		g.LastModified = g.Created
	}
	g.LastModified = g.LastModified.UTC().Truncate(timestampResolution)
	rec := d.insertGroup(g)
	for _, u := range members {
		d.addMember(rec, u)
	}
	return d.groupCopy(rec), nil
}

// DeleteGroup removes a group out of band; memberships go with it.
func (s *Server) DeleteGroup(id string) bool {
	d := s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.groups[id]
	if rec != nil {
		d.removeGroup(rec)
	}
	return rec != nil
}

// Reset returns the server to its state right after creation: no users,
// groups or org accounts, zero counters and call log, no faults, and the
// token of Options (with its expiry).
func (s *Server) Reset() {
	d := s.dir
	d.mu.Lock()
	d.reset()
	d.mu.Unlock()
	f := s.faults
	f.mu.Lock()
	f.clear()
	f.token, f.tokenExpired, f.tokenExpiresAt = s.opts.Token, false, s.opts.TokenExpiresAt
	f.mu.Unlock()
	s.calls.reset()
}
