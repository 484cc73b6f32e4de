package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// Every IdP write (POST, PUT, PATCH, DELETE on Users and Groups),
// successful or not, appends a report entry (DESIGN principle 6): who it
// was about, what changed (old -> new, never a password), the HTTP status
// and the request id. Reads are in the access log, not in reports.
//
// A write that changes the store carries its entry in its own store.Write
// (Reports), so the change and its entry are one atomic step and one store
// call; the audit middleware appends the entry of every other write
// request: refused ones, and those that change nothing.

const ctxAudit = "audit"

// auditRecord is what a write handler tells the report about its change.
type auditRecord struct {
	kind    *kind
	id      string
	user    string // userName, or displayName for groups
	op      string
	changes []store.AttrChange
}

func setAudit(c echo.Context, r *auditRecord) { c.Set(ctxAudit, r) }

// maxReportedMembers bounds the member ids one report entry lists.
const maxReportedMembers = 100

// secretAttrs are never put in a report.
var secretAttrs = map[string]bool{"password": true}

// changesOf lists the attributes that differ between two documents, with
// old and new values, for a report.
func changesOf(k *kind, before, after map[string]any) []store.AttrChange {
	var out []store.AttrChange
	for _, c := range scim.Changes(before, after, k.rt) {
		if secretAttrs[strings.ToLower(c.Attr)] || c.Attr == "meta" {
			continue
		}
		out = append(out, store.AttrChange{Attr: c.Attr, Old: c.Old, New: c.New})
	}
	return out
}

// memberChange reports membership changes, listing at most
// maxReportedMembers ids of each side.
func memberChange(add, remove []string) []store.AttrChange {
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	return []store.AttrChange{{Attr: "members", Old: capIDs(remove), New: capIDs(add)}}
}

func capIDs(ids []string) any {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) <= maxReportedMembers {
		return ids
	}
	return map[string]any{"count": len(ids), "first": ids[:maxReportedMembers]}
}

// nameOf is the end-user identifier of a stored resource: a user's
// userName, a group's displayName.
func nameOf(k *kind, data json.RawMessage) string {
	var d struct {
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
	}
	_ = json.Unmarshal(data, &d)
	if k == userKind {
		return d.UserName
	}
	return d.DisplayName
}

// nameIn is nameOf for a decoded document.
func (k *kind) nameIn(doc map[string]any) string {
	if k == userKind {
		return scim.StringAt(doc, k.rt, "userName")
	}
	return scim.StringAt(doc, k.rt, "displayName")
}

var writeOps = map[string]string{
	http.MethodPost: store.OpCreate, http.MethodPut: store.OpReplace, http.MethodPatch: store.OpPatch, http.MethodDelete: store.OpDelete,
}

// audit appends the report entry of an IdP write once the handler is done,
// unless the handler's write carried it already (see reportWith).
func (s *Server) audit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op, isWrite := writeOps[c.Request().Method]
		if !isWrite || strings.HasSuffix(c.Path(), ".search") {
			return next(c)
		}
		err := next(c)
		if done, _ := c.Get(ctxReported).(bool); done {
			return err
		}
		status := c.Response().Status
		detail := ""
		if err != nil {
			se := scim.AsError(err)
			status, detail = se.Status, se.Detail
		}
		r, _ := c.Get(ctxAudit).(*auditRecord)
		e := s.reportEntry(c, op, status, detail, r)
		if aerr := s.opts.Store.AppendReport(c.Request().Context(), e); aerr != nil {
			s.logger(c).Warn("append report entry", "err", aerr)
		}
		return err
	}
}

// ctxReported marks a request whose report entry its write appended.
const ctxReported = "audit.reported"

// reportWith returns the report entry of the write a handler is about to
// make, described by r and answered with status, for the write's Reports:
// the store appends it in the same atomic step, and only if the write
// succeeds. Once it has, the handler calls reported.
func (s *Server) reportWith(c echo.Context, r *auditRecord, status int) []store.ReportEntry {
	return []store.ReportEntry{s.reportEntry(c, writeOps[c.Request().Method], status, "", r)}
}

// reported records that the handler's write carried its report entry, so
// the audit middleware appends none.
func reported(c echo.Context, r *auditRecord) {
	setAudit(c, r)
	c.Set(ctxReported, true)
}

// reportEntry builds the report entry of an IdP write: op is the default
// operation (r may override it), status the HTTP status, detail the
// error's; r, when not nil, names the resource and its changes.
func (s *Server) reportEntry(c echo.Context, op string, status int, detail string, r *auditRecord) store.ReportEntry {
	e := store.ReportEntry{
		Time: s.opts.Now(), Operation: op, HTTPStatus: status, Detail: detail,
		RequestID: requestIDOf(c), App: "idp:" + principalOf(c).Name,
		Status: store.ReportSuccess, ResourceID: c.Param("id"),
	}
	if status >= 400 {
		e.Status = store.ReportFailure
	}
	if strings.Contains(c.Path(), "/Groups") {
		e.ResourceType = "Group"
	} else if strings.Contains(c.Path(), "/Users") {
		e.ResourceType = "User"
	}
	if r != nil {
		e.ResourceType, e.ResourceID, e.User, e.Changes = r.kind.rt.Name(), r.id, r.user, r.changes
		if r.op != "" {
			e.Operation = r.op
		}
	}
	return e
}
