package atlassiantest

import (
	"slices"
	"time"
)

// Schema URNs used on the wire.
const (
	CoreUserSchema      = "urn:ietf:params:scim:schemas:core:2.0:User"
	CoreGroupSchema     = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseSchema    = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	AtlassianSchema     = "urn:scim:schemas:extension:atlassian-external:1.0"
	ListResponseSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpSchema       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	spcSchema           = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeSchema  = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema        = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	timestampLayout     = "2006-01-02T15:04:05.000000Z07:00"
	timestampResolution = time.Microsecond
)

// userSchemas is the order of a recorded Atlassian response.
var userSchemas = []string{AtlassianSchema, CoreUserSchema, EnterpriseSchema}

// User is a SCIM user as the fake stores it. Values returned by the Server
// are copies.
type User struct {
	ID                 string // server-assigned UUID
	ExternalID         string
	UserName           string
	Name               Name
	DisplayName        string
	NickName           string
	Title              string
	PreferredLanguage  string
	Timezone           string
	Department         string
	Organization       string
	Emails             []MultiValue
	PhoneNumbers       []MultiValue
	Active             bool
	Enterprise         Enterprise // urn:ietf:params:scim:schemas:extension:enterprise:2.0:User
	AtlassianAccountID string     // 24 hex digits, the linked Atlassian account
	Groups             []GroupRef // read-only: current memberships, in group creation order
	Created            time.Time
	LastModified       time.Time
}

// Name is the SCIM name complex attribute; the zero value is "absent".
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// MultiValue is one element of emails or phoneNumbers.
type MultiValue struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Enterprise holds the two enterprise-extension sub-attributes Atlassian
// models; the zero value is "absent".
type Enterprise struct {
	Organization string `json:"organization,omitempty"`
	Department   string `json:"department,omitempty"`
}

// GroupRef is one entry of a user's groups.
type GroupRef struct {
	ID          string
	DisplayName string
}

// Group is a SCIM group as the fake stores it.
type Group struct {
	ID           string
	DisplayName  string
	ExternalID   string
	Members      []Member // in user creation order
	Created      time.Time
	LastModified time.Time
}

// Member is one group member: a SCIM user id and its userName.
type Member struct {
	ID       string
	UserName string
}

// PrimaryEmail returns the primary email value: the one marked primary, or
// the only one.
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) == 1 {
		return u.Emails[0].Value
	}
	return ""
}

func (u User) clone() User {
	u.Emails = slices.Clone(u.Emails)
	u.PhoneNumbers = slices.Clone(u.PhoneNumbers)
	u.Groups = slices.Clone(u.Groups)
	return u
}

// ---- wire forms ----

type metaWire struct {
	ResourceType string `json:"resourceType"`
	Location     string `json:"location"`
	LastModified string `json:"lastModified"`
	Created      string `json:"created"`
}

type refWire struct {
	Type    string `json:"type"`
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref"`
}

type atlassianWire struct {
	AtlassianAccountID string `json:"atlassianAccountId"`
}

type userWire struct {
	Schemas           []string      `json:"schemas"`
	ID                string        `json:"id"`
	ExternalID        string        `json:"externalId,omitempty"`
	UserName          string        `json:"userName"`
	Name              *Name         `json:"name,omitempty"`
	DisplayName       string        `json:"displayName,omitempty"`
	NickName          string        `json:"nickName,omitempty"`
	Title             string        `json:"title,omitempty"`
	PreferredLanguage string        `json:"preferredLanguage,omitempty"`
	Timezone          string        `json:"timezone,omitempty"`
	Department        string        `json:"department,omitempty"`
	Organization      string        `json:"organization,omitempty"`
	Emails            []MultiValue  `json:"emails,omitempty"`
	PhoneNumbers      []MultiValue  `json:"phoneNumbers,omitempty"`
	Active            bool          `json:"active"`
	Groups            []refWire     `json:"groups"`
	Enterprise        *Enterprise   `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Atlassian         atlassianWire `json:"urn:scim:schemas:extension:atlassian-external:1.0"`
	Meta              metaWire      `json:"meta"`
}

type groupWire struct {
	Schemas     []string  `json:"schemas"`
	ID          string    `json:"id"`
	ExternalID  string    `json:"externalId,omitempty"`
	DisplayName string    `json:"displayName"`
	Members     []refWire `json:"members"`
	Meta        metaWire  `json:"meta"`
}

type listWire[T any] struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []T      `json:"Resources"`
}

// userInput is a POST or PUT /Users body. encoding/json matches names
// case-insensitively, as SCIM attribute names are. Read-only attributes
// (id, meta, groups, the Atlassian extension) are not decoded: ignored.
type userInput struct {
	ExternalID        string       `json:"externalId"`
	UserName          string       `json:"userName"`
	Name              *Name        `json:"name"`
	DisplayName       string       `json:"displayName"`
	NickName          string       `json:"nickName"`
	Title             string       `json:"title"`
	PreferredLanguage string       `json:"preferredLanguage"`
	Timezone          string       `json:"timezone"`
	Department        string       `json:"department"`
	Organization      string       `json:"organization"`
	Emails            []MultiValue `json:"emails"`
	PhoneNumbers      []MultiValue `json:"phoneNumbers"`
	Active            *bool        `json:"active"`
	Enterprise        *Enterprise  `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
}

// apply replaces every mutable attribute of u with the input's; omitted
// attributes are cleared and an omitted active means true.
func (in *userInput) apply(u *User) {
	u.ExternalID = in.ExternalID
	u.UserName = in.UserName
	u.Name = Name{}
	if in.Name != nil {
		u.Name = *in.Name
	}
	u.DisplayName = in.DisplayName
	u.NickName = in.NickName
	u.Title = in.Title
	u.PreferredLanguage = in.PreferredLanguage
	u.Timezone = in.Timezone
	u.Department = in.Department
	u.Organization = in.Organization
	u.Emails = slices.Clone(in.Emails)
	u.PhoneNumbers = slices.Clone(in.PhoneNumbers)
	u.Active = in.Active == nil || *in.Active
	u.Enterprise = Enterprise{}
	if in.Enterprise != nil {
		u.Enterprise = *in.Enterprise
	}
}

type memberInput struct {
	Value string `json:"value"`
}

// groupInput is a POST or PUT /Groups body.
type groupInput struct {
	DisplayName string        `json:"displayName"`
	ExternalID  string        `json:"externalId"`
	Members     []memberInput `json:"members"`
}

// patchInput is a PatchOp body; "Operations" and "operations" both match
// (encoding/json is case-insensitive).
type patchInput struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

func formatTime(t time.Time) string { return t.UTC().Format(timestampLayout) }
