package report

import (
	"fmt"

	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// statuses are the values of ReportEntry.Status.
var statuses = []string{store.ReportSuccess, store.ReportFailure, store.ReportSkipped}

// ResourceType describes report entries to the SCIM filter evaluator:
// `filter=status eq "failure" and httpStatus ge 500`, `detail co "timeout"`,
// `time gt "2026-11-27T00:00:00Z"`, `changes.attr eq "active"`.
var ResourceType = mustResourceType()

func mustResourceType() *scim.ResourceType {
	text := func(name, desc string, exact bool) *scim.Attribute {
		return &scim.Attribute{Name: name, Type: scim.TypeString, Description: desc, CaseExact: exact, Mutability: scim.MutabilityReadOnly}
	}
	integer := func(name, desc string) *scim.Attribute {
		return &scim.Attribute{Name: name, Type: scim.TypeInteger, Description: desc, Mutability: scim.MutabilityReadOnly}
	}
	status := text("status", "success, failure or skipped.", false)
	status.CanonicalValues = statuses
	attrs := []*scim.Attribute{
		{Name: "time", Type: scim.TypeDateTime, Description: "When it happened.", Mutability: scim.MutabilityReadOnly},
		text("user", "The end user (userName, or a group's displayName).", false),
		text("app", "The app, or idp:<credential> for IdP writes.", false),
		text("operation", "create, update, deactivate, adopt, patch, ...", false),
		status,
		text("resourceType", "User or Group.", false),
		text("resourceId", "The hub id of the resource.", true),
		integer("httpStatus", "The HTTP status of the call or request."),
		text("detail", "What happened, in words.", false),
		text("requestId", "The request id of an IdP write.", true),
		text("runId", "The import run.", true),
		integer("attempt", "Which attempt of a reconcile."),
		{Name: "changes", Type: scim.TypeComplex, MultiValued: true, Description: "Changed attributes.",
			Mutability: scim.MutabilityReadOnly, SubAttributes: []*scim.Attribute{text("attr", "The attribute name.", false)}},
	}
	s, err := scim.NewSchema("urn:scimgate:params:report:1.0:Entry", "ReportEntry", "A report log entry", attrs)
	if err != nil {
		panic(fmt.Sprintf("report schema: %v", err))
	}
	rt, err := scim.NewResourceType("ReportEntry", "", "A report log entry", s)
	if err != nil {
		panic(fmt.Sprintf("report resource type: %v", err))
	}
	return rt
}

// entryDoc is an entry as the filter evaluator sees it; empty fields are
// absent, so that `user pr` means "has a user".
func entryDoc(e *store.ReportEntry) map[string]any {
	m := make(map[string]any, 16)
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("id", e.ID)
	m["time"] = e.Time
	put("user", e.User)
	put("app", e.App)
	put("operation", e.Operation)
	put("status", e.Status)
	put("resourceType", e.ResourceType)
	put("resourceId", e.ResourceID)
	put("detail", e.Detail)
	put("requestId", e.RequestID)
	put("runId", e.RunID)
	if e.HTTPStatus != 0 {
		m["httpStatus"] = e.HTTPStatus
	}
	if e.Attempt != 0 {
		m["attempt"] = e.Attempt
	}
	if len(e.Changes) > 0 {
		cs := make([]any, len(e.Changes))
		for i, c := range e.Changes {
			cs[i] = map[string]any{"attr": c.Attr}
		}
		m["changes"] = cs
	}
	return m
}
