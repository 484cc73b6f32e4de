package atlassiantest

import (
	"fmt"
	"log/slog"
	"time"
)

// Default values applied by New to zero Options fields.
const (
	DefaultDirectoryID     = "test-directory"
	DefaultToken           = "test-token"
	DefaultPageSize        = 100 // also the maximum
	DefaultMaxGroupMembers = 35000
	DefaultMaxUsers        = 150000
	// DefaultOrigin is used for meta.location and $ref by a server made with
	// New and no Origin; NewServer uses its own listener address instead.
	DefaultOrigin = "https://api.atlassian.com"
)

// Options configure a Server. The zero value is usable: every field has a
// default.
type Options struct {
	// DirectoryID is the path segment after /scim/directory/. Requests for
	// any other directory fail like a wrong key. Default "test-directory".
	DirectoryID string
	// Token is the directory API key expected as "Authorization: Bearer
	// <Token>". Default "test-token". SetToken changes it while serving.
	Token string
	// TokenExpiresAt, if not zero, is the instant (by Now) from which the
	// token is rejected, like Atlassian's one-year key expiry.
	TokenExpiresAt time.Time
	// AuthFailureStatus is the status of every authentication failure:
	// http.StatusUnauthorized (default) or http.StatusForbidden.
	AuthFailureStatus int
	// PageSize is both the default and the maximum list page size; default
	// and upper bound 100.
	PageSize int
	// Now is the clock for timestamps, token expiry and the rate limiter.
	// Default time.Now.
	Now func() time.Time
	// Origin ("scheme://host[:port]") prefixes meta.location and $ref.
	// Default: the listener's address for NewServer, DefaultOrigin for New.
	Origin string
	// UserNameCaseSensitive makes userName uniqueness, userName filters and
	// UserByUserName case-sensitive. Default false: case-insensitive.
	UserNameCaseSensitive bool
	// IgnoreGroupRename makes a PUT or PATCH that changes a group's
	// displayName keep the old name and succeed, instead of failing with
	// 400 mutability (the default).
	IgnoreGroupRename bool
	// MaxGroupMembers caps a group's members; default 35,000.
	MaxGroupMembers int
	// MaxUsers caps the users in the directory; default 150,000.
	MaxUsers int
	// Seed seeds the random source of FailRate and DropAfterCommitRate, so a
	// sequence of requests sees the same faults on every run. Default 1.
	Seed uint64
	// RecordCalls keeps every request (method, path, status, fault) for
	// CallLog. Counters (Calls, CallCount, WaitCalls) are always kept.
	RecordCalls bool
	// Logger, if set, gets one Info record per request. Default: no logs.
	Logger *slog.Logger
}

// withDefaults returns o with defaults applied, or an error for values that
// cannot be served.
func (o Options) withDefaults() (Options, error) {
	if o.DirectoryID == "" {
		o.DirectoryID = DefaultDirectoryID
	}
	if o.Token == "" {
		o.Token = DefaultToken
	}
	switch o.AuthFailureStatus {
	case 0:
		o.AuthFailureStatus = 401
	case 401, 403:
	default:
		return o, fmt.Errorf("atlassiantest: AuthFailureStatus %d: want 401 or 403", o.AuthFailureStatus)
	}
	if o.PageSize <= 0 || o.PageSize > DefaultPageSize {
		o.PageSize = DefaultPageSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxGroupMembers <= 0 {
		o.MaxGroupMembers = DefaultMaxGroupMembers
	}
	if o.MaxUsers <= 0 {
		o.MaxUsers = DefaultMaxUsers
	}
	// The server's clock has microsecond resolution (see Server.now).
	o.TokenExpiresAt = o.TokenExpiresAt.Truncate(timestampResolution)
	if o.Seed == 0 {
		o.Seed = 1
	}
	for _, r := range o.DirectoryID {
		if r == '/' || r == '?' || r == '#' || r <= ' ' {
			return o, fmt.Errorf("atlassiantest: DirectoryID %q: must be one path segment", o.DirectoryID)
		}
	}
	return o, nil
}
