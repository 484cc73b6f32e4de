package atlassiantest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// directory is the fake's state: users and groups with their unique
// indexes, memberships in both directions, and a small "org store" of
// Atlassian accounts that outlives SCIM records. Every method expects the
// caller to hold mu (read or write as appropriate).
type directory struct {
	mu                    sync.RWMutex
	caseSensitiveUserName bool

	seq uint64 // creation sequence shared by users and groups

	users        map[string]*userRec // by id
	userOrder    []*userRec          // by seq: stable paging
	byUserName   map[string]*userRec // userNameKey(userName)
	byEmail      map[string]*userRec // folded value of every email
	byExternalID map[string]*userRec // exact

	groups        map[string]*groupRec // by id
	groupOrder    []*groupRec          // by seq
	byDisplayName map[string]*groupRec // folded

	accounts     map[string]string   // folded primary email -> AAID
	accountEmail map[string]string   // AAID -> folded primary email
	linked       map[string]*userRec // AAID -> the SCIM user linked to it
}

type userRec struct {
	u      User // u.Groups is always nil here; memberships live in groups
	seq    uint64
	groups map[*groupRec]struct{}
}

type groupRec struct {
	g       Group // g.Members is always nil here
	seq     uint64
	members map[*userRec]struct{}
}

func newDirectory(caseSensitiveUserName bool) *directory {
	d := &directory{caseSensitiveUserName: caseSensitiveUserName}
	d.reset()
	return d
}

// reset empties the directory (the sequence keeps counting).
func (d *directory) reset() {
	d.users = map[string]*userRec{}
	d.userOrder = nil
	d.byUserName = map[string]*userRec{}
	d.byEmail = map[string]*userRec{}
	d.byExternalID = map[string]*userRec{}
	d.groups = map[string]*groupRec{}
	d.groupOrder = nil
	d.byDisplayName = map[string]*groupRec{}
	d.accounts = map[string]string{}
	d.accountEmail = map[string]string{}
	d.linked = map[string]*userRec{}
}

func fold(s string) string { return strings.ToLower(s) }

func (d *directory) userNameKey(s string) string {
	if d.caseSensitiveUserName {
		return s
	}
	return fold(s)
}

// validateUser checks what Atlassian requires of every create or update.
func validateUser(u *User) *scimError {
	if strings.TrimSpace(u.UserName) == "" {
		return errInvalidValue("Resource [USER]: userName is required.")
	}
	if len(u.Emails) == 0 {
		return errInvalidValue("Resource [USER]: at least one email is required.")
	}
	primaries := 0
	for _, e := range u.Emails {
		local, domain, ok := strings.Cut(e.Value, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(e.Value, " \t\r\n") || strings.Contains(domain, "@") {
			return errInvalidValue("Resource [USER]: email[%s] is not a valid email address.", e.Value)
		}
		if e.Primary {
			primaries++
		}
	}
	if len(u.Emails) > 1 && primaries != 1 {
		return errInvalidValue("Resource [USER]: exactly one email must be primary, got %d.", primaries)
	}
	for _, p := range u.PhoneNumbers {
		if strings.TrimSpace(p.Value) == "" {
			return errInvalidValue("Resource [USER]: phoneNumbers value is required.")
		}
	}
	return nil
}

// userConflict reports the first uniqueness violation u would cause, in the
// order userName, email, externalId; self is the record being updated (nil
// on create). It also refuses a primary email owned by another Atlassian
// account of the org.
func (d *directory) userConflict(u *User, self *userRec) *scimError {
	if o := d.byUserName[d.userNameKey(u.UserName)]; o != nil && o != self {
		return errUniqueness(labelUser, "userName", u.UserName)
	}
	for _, e := range u.Emails {
		if o := d.byEmail[fold(e.Value)]; o != nil && o != self {
			return errUniqueness(labelUser, "email", e.Value)
		}
	}
	if u.ExternalID != "" {
		if o := d.byExternalID[u.ExternalID]; o != nil && o != self {
			return errUniqueness(labelUser, "externalId", u.ExternalID)
		}
	}
	pe := u.PrimaryEmail()
	if aaid, ok := d.accounts[fold(pe)]; ok {
		if self != nil && aaid != self.u.AtlassianAccountID {
			return errUniqueness(labelUser, "email", pe)
		}
		if self == nil && d.linked[aaid] != nil {
			return errUniqueness(labelUser, "email", pe)
		}
	}
	return nil
}

func (d *directory) indexUser(r *userRec) {
	d.byUserName[d.userNameKey(r.u.UserName)] = r
	for _, e := range r.u.Emails {
		d.byEmail[fold(e.Value)] = r
	}
	if r.u.ExternalID != "" {
		d.byExternalID[r.u.ExternalID] = r
	}
}

func (d *directory) unindexUser(r *userRec) {
	delete(d.byUserName, d.userNameKey(r.u.UserName))
	for _, e := range r.u.Emails {
		if d.byEmail[fold(e.Value)] == r {
			delete(d.byEmail, fold(e.Value))
		}
	}
	if r.u.ExternalID != "" {
		delete(d.byExternalID, r.u.ExternalID)
	}
}

// setAccountEmail points the org account aaid at email, forgetting its
// previous email.
func (d *directory) setAccountEmail(aaid, email string) {
	if old, ok := d.accountEmail[aaid]; ok && d.accounts[old] == aaid {
		delete(d.accounts, old)
	}
	d.accounts[email] = aaid
	d.accountEmail[aaid] = email
}

// insertUser stores a validated, conflict-free user with its ID and
// timestamps set. It links the user to the org account that owns its
// primary email, or to u.AtlassianAccountID if set, or to a new account.
func (d *directory) insertUser(u User) *userRec {
	d.seq++
	pe := fold(u.PrimaryEmail())
	if u.AtlassianAccountID == "" {
		if aaid, ok := d.accounts[pe]; ok && d.linked[aaid] == nil {
			u.AtlassianAccountID = aaid
		} else {
			u.AtlassianAccountID = d.newAccountID()
		}
	}
	u.Groups = nil
	r := &userRec{u: u, seq: d.seq, groups: map[*groupRec]struct{}{}}
	d.users[u.ID] = r
	d.userOrder = append(d.userOrder, r)
	d.indexUser(r)
	d.setAccountEmail(u.AtlassianAccountID, pe)
	d.linked[u.AtlassianAccountID] = r
	return r
}

// replaceUser swaps r's attributes for nu's (validated and conflict-free);
// id, account link, created and memberships are kept.
func (d *directory) replaceUser(r *userRec, nu User) {
	nu.ID = r.u.ID
	nu.AtlassianAccountID = r.u.AtlassianAccountID
	nu.Created = r.u.Created
	nu.Groups = nil
	d.unindexUser(r)
	oldPE, newPE := fold(r.u.PrimaryEmail()), fold(nu.PrimaryEmail())
	r.u = nu
	d.indexUser(r)
	if oldPE != newPE {
		d.setAccountEmail(nu.AtlassianAccountID, newPE)
	}
}

// removeUser deletes the SCIM record: indexes, memberships and the account
// link go; the org account stays (deactivated, in Atlassian terms), so a
// later create with the same primary email links to it again.
func (d *directory) removeUser(r *userRec) {
	d.unindexUser(r)
	for g := range r.groups {
		delete(g.members, r)
	}
	delete(d.users, r.u.ID)
	delete(d.linked, r.u.AtlassianAccountID)
	if i, ok := slices.BinarySearchFunc(d.userOrder, r.seq, func(x *userRec, s uint64) int { return cmp.Compare(x.seq, s) }); ok {
		d.userOrder = slices.Delete(d.userOrder, i, i+1)
	}
}

func (d *directory) newUserID() string {
	for {
		if id := newUUID(); d.users[id] == nil {
			return id
		}
	}
}

func (d *directory) newGroupID() string {
	for {
		if id := newUUID(); d.groups[id] == nil {
			return id
		}
	}
}

func (d *directory) newAccountID() string {
	for {
		var b [12]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		id := hex.EncodeToString(b[:])
		if _, taken := d.accountEmail[id]; !taken {
			return id
		}
	}
}

func (d *directory) insertGroup(g Group) *groupRec {
	d.seq++
	g.Members = nil
	r := &groupRec{g: g, seq: d.seq, members: map[*userRec]struct{}{}}
	d.groups[g.ID] = r
	d.groupOrder = append(d.groupOrder, r)
	d.byDisplayName[fold(g.DisplayName)] = r
	return r
}

func (d *directory) removeGroup(r *groupRec) {
	for u := range r.members {
		delete(u.groups, r)
	}
	delete(d.groups, r.g.ID)
	delete(d.byDisplayName, fold(r.g.DisplayName))
	if i, ok := slices.BinarySearchFunc(d.groupOrder, r.seq, func(x *groupRec, s uint64) int { return cmp.Compare(x.seq, s) }); ok {
		d.groupOrder = slices.Delete(d.groupOrder, i, i+1)
	}
}

func (d *directory) addMember(g *groupRec, u *userRec) {
	g.members[u] = struct{}{}
	u.groups[g] = struct{}{}
}

func (d *directory) removeMember(g *groupRec, u *userRec) {
	delete(g.members, u)
	delete(u.groups, g)
}

// ---- read models ----

func (d *directory) userCopy(r *userRec) User {
	u := r.u.clone()
	gs := sortedGroups(r.groups)
	u.Groups = make([]GroupRef, len(gs))
	for i, g := range gs {
		u.Groups[i] = GroupRef{ID: g.g.ID, DisplayName: g.g.DisplayName}
	}
	return u
}

func (d *directory) groupCopy(r *groupRec) Group {
	g := r.g
	us := sortedMembers(r.members)
	g.Members = make([]Member, len(us))
	for i, u := range us {
		g.Members[i] = Member{ID: u.u.ID, UserName: u.u.UserName}
	}
	return g
}

func sortedGroups(set map[*groupRec]struct{}) []*groupRec {
	gs := make([]*groupRec, 0, len(set))
	for g := range set {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *groupRec) int { return cmp.Compare(a.seq, b.seq) })
	return gs
}

func sortedMembers(set map[*userRec]struct{}) []*userRec {
	us := make([]*userRec, 0, len(set))
	for u := range set {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b *userRec) int { return cmp.Compare(a.seq, b.seq) })
	return us
}

// renderUser builds the wire form; base is origin + /scim/directory/{id}.
func (d *directory) renderUser(r *userRec, base string) userWire {
	u := &r.u
	w := userWire{
		Schemas:           userSchemas,
		ID:                u.ID,
		ExternalID:        u.ExternalID,
		UserName:          u.UserName,
		DisplayName:       u.DisplayName,
		NickName:          u.NickName,
		Title:             u.Title,
		PreferredLanguage: u.PreferredLanguage,
		Timezone:          u.Timezone,
		Department:        u.Department,
		Organization:      u.Organization,
		Emails:            slices.Clone(u.Emails),
		PhoneNumbers:      slices.Clone(u.PhoneNumbers),
		Active:            u.Active,
		Groups:            make([]refWire, 0, len(r.groups)),
		Atlassian:         atlassianWire{AtlassianAccountID: u.AtlassianAccountID},
		Meta:              meta("User", base+"/Users/"+u.ID, u.Created, u.LastModified),
	}
	if u.Name != (Name{}) {
		n := u.Name
		w.Name = &n
	}
	if u.Enterprise != (Enterprise{}) {
		e := u.Enterprise
		w.Enterprise = &e
	}
	for _, g := range sortedGroups(r.groups) {
		w.Groups = append(w.Groups, refWire{Type: "direct", Value: g.g.ID, Display: g.g.DisplayName, Ref: base + "/Groups/" + g.g.ID})
	}
	return w
}

func (d *directory) renderGroup(r *groupRec, base string) groupWire {
	w := groupWire{
		Schemas:     []string{CoreGroupSchema},
		ID:          r.g.ID,
		ExternalID:  r.g.ExternalID,
		DisplayName: r.g.DisplayName,
		Members:     make([]refWire, 0, len(r.members)),
		Meta:        meta("Group", base+"/Groups/"+r.g.ID, r.g.Created, r.g.LastModified),
	}
	for _, u := range sortedMembers(r.members) {
		w.Members = append(w.Members, refWire{Type: "User", Value: u.u.ID, Display: u.u.UserName, Ref: base + "/Users/" + u.u.ID})
	}
	return w
}

func meta(kind, location string, created, modified time.Time) metaWire {
	return metaWire{ResourceType: kind, Location: location, Created: formatTime(created), LastModified: formatTime(modified)}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
