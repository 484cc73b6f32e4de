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
	for _, name := range scim.Changed(before, after, k.rt) {
		if secretAttrs[strings.ToLower(name)] || name == "meta" {
			continue
		}
		out = append(out, store.AttrChange{Attr: name, Old: lookupCI(before, name), New: lookupCI(after, name)})
	}
	return out
}

func lookupCI(doc map[string]any, name string) any {
	if doc == nil {
		return nil
	}
	if v, ok := doc[name]; ok {
		return v
	}
	for k, v := range doc {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
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

var writeOps = map[string]string{
	http.MethodPost: "create", http.MethodPut: "replace", http.MethodPatch: "patch", http.MethodDelete: "delete",
}

// audit appends the report entry of an IdP write once the handler is done.
func (s *Server) audit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op, isWrite := writeOps[c.Request().Method]
		if !isWrite || strings.HasSuffix(c.Path(), ".search") {
			return next(c)
		}
		err := next(c)
		status := c.Response().Status
		detail := ""
		if err != nil {
			se := scim.AsError(err)
			status, detail = se.Status, se.Detail
		}
		e := store.ReportEntry{
			Time: s.opts.Now(), Operation: op, HTTPStatus: status, Detail: detail,
			RequestID: requestIDOf(c), App: "idp:" + principalOf(c).Name,
			Status: "success", ResourceID: c.Param("id"),
		}
		if status >= 400 {
			e.Status = "failure"
		}
		if strings.Contains(c.Path(), "/Groups") {
			e.ResourceType = "Group"
		} else if strings.Contains(c.Path(), "/Users") {
			e.ResourceType = "User"
		}
		if r, ok := c.Get(ctxAudit).(*auditRecord); ok {
			e.ResourceType, e.ResourceID, e.User, e.Changes = r.kind.rt.Name(), r.id, r.user, r.changes
			if r.op != "" {
				e.Operation = r.op
			}
		}
		if aerr := s.opts.Store.AppendReport(c.Request().Context(), e); aerr != nil {
			s.logger(c).Warn("append report entry", "err", aerr)
		}
		return err
	}
}
