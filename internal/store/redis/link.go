package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/store"
)

// linkRecord is a link as stored. State is kept as bytes (base64 in the
// JSON) so that it comes back exactly as it was given.
type linkRecord struct {
	App       string     `json:"app"`
	Kind      store.Kind `json:"kind"`
	HubID     string     `json:"hubId"`
	RemoteID  string     `json:"remoteId"`
	Hash      string     `json:"hash,omitempty"`
	Applied   string     `json:"appliedHash,omitempty"`
	State     []byte     `json:"state,omitempty"`
	AppliedAt time.Time  `json:"appliedAt"`
	Status    string     `json:"status,omitempty"`
	Error     string     `json:"error,omitempty"`
}

func decodeLink(doc string) (*store.Link, error) {
	var r linkRecord
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return nil, fmt.Errorf("malformed link record: %w", err)
	}
	l := &store.Link{
		App: r.App, Kind: r.Kind, HubID: r.HubID, RemoteID: r.RemoteID, Hash: r.Hash, AppliedHash: r.Applied,
		AppliedAt: r.AppliedAt, Status: r.Status, Error: r.Error,
	}
	if len(r.State) > 0 {
		l.State = json.RawMessage(r.State)
	}
	return l, nil
}

// linkKeys are the four keys of an (app, kind) link table, in the order the
// link scripts take them.
func (s *Store) linkKeys(app string, kind store.Kind) []string {
	a, k := app, string(kind)
	return []string{s.k.linkDocs(a, k), s.k.linkRemoteOf(a, k), s.k.linkByRemote(a, k), s.k.linkOrder(a, k)}
}

// PutLink creates or replaces a link and its reverse entry (putLinkScript).
func (s *Store) PutLink(ctx context.Context, l store.Link) error {
	if l.App == "" || l.Kind == "" || l.HubID == "" {
		return fmt.Errorf("redis store: put link: needs app, kind and hub id, got %q %q %q", l.App, l.Kind, l.HubID)
	}
	doc, err := json.Marshal(linkRecord{
		App: l.App, Kind: l.Kind, HubID: l.HubID, RemoteID: l.RemoteID, Hash: l.Hash, Applied: l.AppliedHash,
		State: l.State, AppliedAt: l.AppliedAt, Status: l.Status, Error: l.Error,
	})
	if err != nil {
		return fmt.Errorf("redis store: put link %s %s %q: encode: %w", l.App, l.Kind, l.HubID, err)
	}
	err = putLinkScript.Run(ctx, s.c, s.linkKeys(l.App, l.Kind), l.HubID, l.RemoteID, doc).Err()
	if err != nil {
		return fmt.Errorf("redis store: put link %s %s %q: %w", l.App, l.Kind, l.HubID, err)
	}
	return nil
}

// GetLink returns the link of (app, kind, hubID).
func (s *Store) GetLink(ctx context.Context, app string, kind store.Kind, hubID string) (*store.Link, error) {
	doc, err := s.c.HGet(ctx, s.k.linkDocs(app, string(kind)), hubID).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: get link %s %s %q: %w", app, kind, hubID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: get link %s %s %q: %w", app, kind, hubID, err)
	}
	l, err := decodeLink(doc)
	if err != nil {
		return nil, fmt.Errorf("redis store: get link %s %s %q: %w", app, kind, hubID, err)
	}
	return l, nil
}

// LinkByRemote returns the link whose remote id is remoteID.
func (s *Store) LinkByRemote(ctx context.Context, app string, kind store.Kind, remoteID string) (*store.Link, error) {
	if remoteID == "" {
		return nil, fmt.Errorf("redis store: link by remote %s %s %q: %w", app, kind, remoteID, store.ErrNotFound)
	}
	keys := s.linkKeys(app, kind)
	doc, err := linkByRemoteScript.Run(ctx, s.c, []string{keys[0], keys[2]}, remoteID).Text()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: link by remote %s %s %q: %w", app, kind, remoteID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: link by remote %s %s %q: %w", app, kind, remoteID, err)
	}
	l, err := decodeLink(doc)
	if err != nil {
		return nil, fmt.Errorf("redis store: link by remote %s %s %q: %w", app, kind, remoteID, err)
	}
	return l, nil
}

// DeleteLink removes a link and its reverse entry (deleteLinkScript).
func (s *Store) DeleteLink(ctx context.Context, app string, kind store.Kind, hubID string) error {
	err := deleteLinkScript.Run(ctx, s.c, s.linkKeys(app, kind), hubID).Err()
	if err != nil {
		return fmt.Errorf("redis store: delete link %s %s %q: %w", app, kind, hubID, scriptError(err))
	}
	return nil
}

// Links lists an app's links of a kind in HubID order after the given one
// (ZRANGE BYLEX over the hub ids, all scored 0).
func (s *Store) Links(ctx context.Context, app string, kind store.Kind, after string, count int) ([]store.Link, error) {
	if count <= 0 {
		return []store.Link{}, nil
	}
	lower := "-"
	if after != "" {
		lower = "(" + after
	}
	keys := s.linkKeys(app, kind)
	docs, err := linksScript.Run(ctx, s.c, []string{keys[0], keys[3]}, lower, count).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redis store: links %s %s after %q: %w", app, kind, after, err)
	}
	out := make([]store.Link, 0, len(docs))
	for _, doc := range docs {
		l, err := decodeLink(doc)
		if err != nil {
			return nil, fmt.Errorf("redis store: links %s %s after %q: %w", app, kind, after, err)
		}
		out = append(out, *l)
	}
	return out, nil
}
