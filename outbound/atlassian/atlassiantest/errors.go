package atlassiantest

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors returned (wrapped) by the inspection and seeding methods;
// match them with errors.Is.
var (
	ErrNotFound = errors.New("atlassiantest: not found")
	ErrConflict = errors.New("atlassiantest: conflict")
	ErrInvalid  = errors.New("atlassiantest: invalid")
)

const (
	errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
	// filterErrorSchema is the odd URN Atlassian's invalid-filter error
	// carries (seen in a KB page); reproduced on purpose.
	filterErrorSchema = "urn:ietf:params:scim:b:messages:2.0:Error"
)

// Resource labels used in Atlassian's error details.
const (
	labelUser  = "USER"
	labelGroup = "GROUP"
)

// scimError is an error answered with a SCIM error body.
type scimError struct {
	status   int
	scimType string
	detail   string
	schema   string // "" means errorSchema
}

func (e *scimError) Error() string {
	if e.scimType == "" {
		return fmt.Sprintf("%d: %s", e.status, e.detail)
	}
	return fmt.Sprintf("%d %s: %s", e.status, e.scimType, e.detail)
}

// Unwrap maps the status to the package's sentinel errors.
func (e *scimError) Unwrap() error {
	switch e.status {
	case 404:
		return ErrNotFound
	case 409:
		return ErrConflict
	case 400:
		return ErrInvalid
	}
	return nil
}

// errorBody is the SCIM error wire form; status is a string, as Atlassian
// (and RFC 7644) send it.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func (e *scimError) body() errorBody {
	schema := e.schema
	if schema == "" {
		schema = errorSchema
	}
	return errorBody{Schemas: []string{schema}, Status: strconv.Itoa(e.status), ScimType: e.scimType, Detail: e.detail}
}

func errInvalidValue(format string, args ...any) *scimError {
	return &scimError{status: 400, scimType: "invalidValue", detail: fmt.Sprintf(format, args...)}
}

func errInvalidSyntax(format string, args ...any) *scimError {
	return &scimError{status: 400, scimType: "invalidSyntax", detail: fmt.Sprintf(format, args...)}
}

func errInvalidPath(path string) *scimError {
	return &scimError{status: 400, scimType: "invalidPath", detail: fmt.Sprintf("unsupported or invalid path %q", path)}
}

func errMutability(format string, args ...any) *scimError {
	return &scimError{status: 400, scimType: "mutability", detail: fmt.Sprintf(format, args...)}
}

func errNoTarget(format string, args ...any) *scimError {
	return &scimError{status: 400, scimType: "noTarget", detail: fmt.Sprintf(format, args...)}
}

// errInvalidFilter is Atlassian's answer to any filter it does not support.
func errInvalidFilter(label string) *scimError {
	return &scimError{status: 400, scimType: "invalidFilter", detail: "Resource [" + label + "] invalid filter", schema: filterErrorSchema}
}

// errUniqueness is Atlassian's 409, e.g. "Resource [USER]: with
// email[x@y] already exists.".
func errUniqueness(label, field, value string) *scimError {
	return &scimError{status: 409, scimType: "uniqueness", detail: fmt.Sprintf("Resource [%s]: with %s[%s] already exists.", label, field, value)}
}

// errGroupNameTaken is the exact detail Okta recorded for a group 409.
func errGroupNameTaken() *scimError {
	return &scimError{status: 409, scimType: "uniqueness", detail: "Resource [GROUP]: with displayName already exists."}
}

func errNotFoundID(label, id string) *scimError {
	return &scimError{status: 404, detail: fmt.Sprintf("Resource [%s]: with id[%s] not found.", label, id)}
}
