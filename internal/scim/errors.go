package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// SchemaError is the URN of the SCIM error message (RFC 7644 §3.12).
const SchemaError = "urn:ietf:params:scim:api:messages:2.0:Error"

// scimType values of RFC 7644 §3.12, Table 9.
const (
	ScimTypeInvalidFilter = "invalidFilter"
	ScimTypeTooMany       = "tooMany"
	ScimTypeUniqueness    = "uniqueness"
	ScimTypeMutability    = "mutability"
	ScimTypeInvalidSyntax = "invalidSyntax"
	ScimTypeInvalidPath   = "invalidPath"
	ScimTypeNoTarget      = "noTarget"
	ScimTypeInvalidValue  = "invalidValue"
	ScimTypeInvalidVers   = "invalidVers"
	ScimTypeSensitive     = "sensitive"
)

// Error is the one SCIM error currency of the gateway: an HTTP status, an
// optional scimType and a human-readable detail. It marshals to the RFC 7644
// §3.12 error body, with the status as a string as the RFC (and Okta and
// Entra ID) require.
//
// The exported Err* values are prototypes: never modify them; derive an
// error with a specific detail with Detailf, and test for a kind of error
// with errors.Is(err, scim.ErrInvalidFilter), which compares Status and
// ScimType only.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

// Prototypes, one per scimType and per status the gateway answers with.
var (
	ErrInvalidFilter = &Error{Status: 400, ScimType: ScimTypeInvalidFilter, Detail: "The specified filter syntax was invalid or the attribute and comparison combination is not supported."}
	ErrTooMany       = &Error{Status: 400, ScimType: ScimTypeTooMany, Detail: "The specified filter yields more results than the server is willing to process."}
	ErrUniqueness    = &Error{Status: 409, ScimType: ScimTypeUniqueness, Detail: "One or more of the attribute values are already in use or are reserved."}
	ErrMutability    = &Error{Status: 400, ScimType: ScimTypeMutability, Detail: "The attempted modification is not compatible with the target attribute's mutability."}
	ErrInvalidSyntax = &Error{Status: 400, ScimType: ScimTypeInvalidSyntax, Detail: "The request body message structure was invalid."}
	ErrInvalidPath   = &Error{Status: 400, ScimType: ScimTypeInvalidPath, Detail: "The path attribute was invalid or malformed."}
	ErrNoTarget      = &Error{Status: 400, ScimType: ScimTypeNoTarget, Detail: "The specified path did not yield an attribute or attribute value that could be operated on."}
	ErrInvalidValue  = &Error{Status: 400, ScimType: ScimTypeInvalidValue, Detail: "A required value was missing, or the value specified was not compatible with the operation or attribute type."}
	ErrInvalidVers   = &Error{Status: 400, ScimType: ScimTypeInvalidVers, Detail: "The specified SCIM protocol version is not supported."}
	ErrSensitive     = &Error{Status: 403, ScimType: ScimTypeSensitive, Detail: "The request cannot be completed because it contains sensitive information in the URI."}

	ErrBadRequest         = &Error{Status: 400, Detail: "Bad request."}
	ErrUnauthorized       = &Error{Status: 401, Detail: "Authorization failure."}
	ErrForbidden          = &Error{Status: 403, Detail: "Operation not permitted."}
	ErrNotFound           = &Error{Status: 404, Detail: "Resource not found."}
	ErrMethodNotAllowed   = &Error{Status: 405, Detail: "Method not allowed."}
	ErrConflict           = &Error{Status: 409, Detail: "The resource conflicts with an existing resource."}
	ErrPreconditionFailed = &Error{Status: 412, Detail: "The resource has changed: version mismatch."}
	ErrPayloadTooLarge    = &Error{Status: 413, Detail: "The request body is too large."}
	ErrTooManyRequests    = &Error{Status: 429, Detail: "Too many requests."}
	ErrInternal           = &Error{Status: 500, Detail: "Internal server error."}
	ErrNotImplemented     = &Error{Status: 501, Detail: "Not implemented."}
)

// Detailf returns a copy of e with the detail set from format and args.
func (e *Error) Detailf(format string, args ...any) *Error {
	return &Error{Status: e.Status, ScimType: e.ScimType, Detail: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *Error) Error() string {
	s := "scim: " + strconv.Itoa(e.Status)
	if e.ScimType != "" {
		s += " " + e.ScimType
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is reports whether target is an *Error with the same Status and ScimType,
// so that errors.Is(err, ErrNoTarget) matches any noTarget error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && t.ScimType == e.ScimType
}

type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// MarshalJSON renders the RFC 7644 §3.12 error body.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(errorBody{
		Schemas:  []string{SchemaError},
		Status:   strconv.Itoa(e.Status),
		ScimType: e.ScimType,
		Detail:   e.Detail,
	})
}

// UnmarshalJSON reads an error body as SCIM peers send it: status as a
// string (RFC) or, tolerantly, as a number.
func (e *Error) UnmarshalJSON(b []byte) error {
	var raw struct {
		Status   json.RawMessage `json:"status"`
		ScimType string          `json:"scimType"`
		Detail   string          `json:"detail"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("scim error body: %w", err)
	}
	status := 0
	if len(raw.Status) > 0 && string(raw.Status) != "null" {
		var s string
		if err := json.Unmarshal(raw.Status, &s); err == nil {
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("scim error body: status %q: %w", s, err)
			}
			status = n
		} else if err := json.Unmarshal(raw.Status, &status); err != nil {
			return fmt.Errorf("scim error body: status: %w", err)
		}
	}
	*e = Error{Status: status, ScimType: raw.ScimType, Detail: raw.Detail}
	return nil
}

// AsError returns the *Error in err's chain, or, for any other non-nil
// error, a 500 error whose detail does not leak the cause (log the cause
// yourself). It returns nil for nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrInternal.Detailf("%s", ErrInternal.Detail)
}
