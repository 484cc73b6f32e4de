package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestErrorMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"with scimType", ErrInvalidFilter.Detailf("unknown attribute %q", "foo"),
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidFilter","detail":"unknown attribute \"foo\""}`},
		{"without scimType", ErrNotFound.Detailf("User %q not found", "x"),
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"User \"x\" not found"}`},
		{"without detail", &Error{Status: 409, ScimType: ScimTypeUniqueness},
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.err)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestErrorPrototypes(t *testing.T) {
	tests := []struct {
		proto    *Error
		status   int
		scimType string
	}{
		{ErrInvalidFilter, 400, "invalidFilter"},
		{ErrTooMany, 400, "tooMany"},
		{ErrUniqueness, 409, "uniqueness"},
		{ErrMutability, 400, "mutability"},
		{ErrInvalidSyntax, 400, "invalidSyntax"},
		{ErrInvalidPath, 400, "invalidPath"},
		{ErrNoTarget, 400, "noTarget"},
		{ErrInvalidValue, 400, "invalidValue"},
		{ErrInvalidVers, 400, "invalidVers"},
		{ErrSensitive, 403, "sensitive"},
		{ErrBadRequest, 400, ""},
		{ErrUnauthorized, 401, ""},
		{ErrForbidden, 403, ""},
		{ErrNotFound, 404, ""},
		{ErrMethodNotAllowed, 405, ""},
		{ErrConflict, 409, ""},
		{ErrPreconditionFailed, 412, ""},
		{ErrPayloadTooLarge, 413, ""},
		{ErrTooManyRequests, 429, ""},
		{ErrInternal, 500, ""},
		{ErrNotImplemented, 501, ""},
	}
	for _, tt := range tests {
		if tt.proto.Status != tt.status || tt.proto.ScimType != tt.scimType || tt.proto.Detail == "" {
			t.Errorf("prototype %v: want %d %q with a detail", tt.proto, tt.status, tt.scimType)
		}
	}
}

func TestErrorDetailfCopies(t *testing.T) {
	before := *ErrNoTarget
	e := ErrNoTarget.Detailf("nothing at %s", "emails")
	if *ErrNoTarget != before {
		t.Fatalf("Detailf modified the prototype")
	}
	if e.Detail != "nothing at emails" || e.Status != 400 || e.ScimType != ScimTypeNoTarget {
		t.Fatalf("Detailf = %+v", e)
	}
	if got := e.Error(); got != "scim: 400 noTarget: nothing at emails" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("gateway: patch user: %w", ErrNoTarget.Detailf("x"))
	if !errors.Is(err, ErrNoTarget) {
		t.Errorf("wrapped noTarget does not match ErrNoTarget")
	}
	if errors.Is(err, ErrInvalidPath) {
		t.Errorf("noTarget matches ErrInvalidPath")
	}
	if errors.Is(ErrUniqueness, ErrConflict) || errors.Is(ErrConflict, ErrUniqueness) {
		t.Errorf("409 uniqueness and plain 409 must be distinct")
	}
	if errors.Is(err, errors.New("scim: 400 noTarget: x")) {
		t.Errorf("matched a non-*Error target")
	}
}

func TestErrorUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    Error
		wantErr bool
	}{
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"taken"}`,
			Error{Status: 409, ScimType: "uniqueness", Detail: "taken"}, false},
		{`{"status":404,"detail":"gone"}`, Error{Status: 404, Detail: "gone"}, false},
		{`{"detail":"no status"}`, Error{Detail: "no status"}, false},
		{`{"status":"abc"}`, Error{}, true},
		{`{"status":true}`, Error{}, true},
		{`[1]`, Error{}, true},
	}
	for _, tt := range tests {
		var e Error
		err := json.Unmarshal([]byte(tt.in), &e)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && e != tt.want {
			t.Errorf("%s: got %+v want %+v", tt.in, e, tt.want)
		}
	}
}

func TestAsError(t *testing.T) {
	if AsError(nil) != nil {
		t.Errorf("AsError(nil) != nil")
	}
	inner := ErrUniqueness.Detailf("userName taken")
	if got := AsError(fmt.Errorf("store: %w", inner)); got != inner {
		t.Errorf("AsError(wrapped) = %v, want the wrapped error", got)
	}
	got := AsError(errors.New("redis: connection refused at 10.0.0.1"))
	if got.Status != 500 || got.Detail != ErrInternal.Detail {
		t.Errorf("AsError(plain) = %+v, want a 500 with the generic detail", got)
	}
}
