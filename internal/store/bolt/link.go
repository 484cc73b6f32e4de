package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// Links of one (app, kind) live in link/<app>/<kind>: "hub" maps hub ids to
// links and "remote" maps remote ids back to hub ids. A reverse entry is
// removed only while it still points at the hub id being changed, so a
// remote id taken over by another link is never dropped by the old one.

func validateLinkKey(app string, kind store.Kind, hubID string) error {
	if app == "" || kind == "" || hubID == "" {
		return fmt.Errorf("link needs an app, a kind and a hub id, got %q %q %q", app, kind, hubID)
	}
	return nil
}

func linkBuckets(tx *bbolt.Tx, app string, kind store.Kind, create bool) (hub, remote *bbolt.Bucket, err error) {
	if !create {
		b := nested(tx, bucketLink, []byte(app), []byte(kind))
		if b == nil {
			return nil, nil, nil
		}
		return b.Bucket(subHub), b.Bucket(subRemote), nil
	}
	b, err := ensure(tx, bucketLink, []byte(app), []byte(kind))
	if err != nil {
		return nil, nil, err
	}
	if hub, err = b.CreateBucketIfNotExists(subHub); err != nil {
		return nil, nil, err
	}
	if remote, err = b.CreateBucketIfNotExists(subRemote); err != nil {
		return nil, nil, err
	}
	return hub, remote, nil
}

// dropReverse removes the reverse entry of remoteID if it points at hubID.
func dropReverse(remote *bbolt.Bucket, remoteID string, hubID []byte) error {
	if remoteID == "" || !bytes.Equal(remote.Get([]byte(remoteID)), hubID) {
		return nil
	}
	return remote.Delete([]byte(remoteID))
}

// storedRemoteID reads only the remote id of an encoded link.
func storedRemoteID(v []byte) (string, error) {
	var l struct {
		RemoteID string `json:"remoteId"`
	}
	if err := json.Unmarshal(v, &l); err != nil {
		return "", fmt.Errorf("stored link: %w", err)
	}
	return l.RemoteID, nil
}

// PutLink creates or replaces the link of (App, Kind, HubID) and keeps the
// reverse entry in step.
func (s *Store) PutLink(ctx context.Context, l store.Link) error {
	if err := validateLinkKey(l.App, l.Kind, l.HubID); err != nil {
		return fmt.Errorf("bolt store: put link: %w", err)
	}
	enc, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("bolt store: put link %s %s %q: %w", l.App, l.Kind, l.HubID, err)
	}
	err = s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		hub, remote, err := linkBuckets(tx, l.App, l.Kind, true)
		if err != nil {
			return false, err
		}
		key := []byte(l.HubID)
		if old := hub.Get(key); old != nil {
			oldRemote, err := storedRemoteID(old)
			if err != nil {
				return false, err
			}
			if oldRemote != l.RemoteID {
				if err := dropReverse(remote, oldRemote, key); err != nil {
					return false, err
				}
			}
		}
		if err := hub.Put(key, enc); err != nil {
			return false, err
		}
		if l.RemoteID != "" {
			if err := remote.Put([]byte(l.RemoteID), key); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("bolt store: put link %s %s %q: %w", l.App, l.Kind, l.HubID, err)
	}
	return nil
}

// GetLink returns the link of (app, kind, hubID).
func (s *Store) GetLink(ctx context.Context, app string, kind store.Kind, hubID string) (*store.Link, error) {
	var l *store.Link
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		hub, _, _ := linkBuckets(tx, app, kind, false)
		var err error
		l, err = getLink(hub, hubID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: get link %s %s %q: %w", app, kind, hubID, err)
	}
	return l, nil
}

// LinkByRemote returns the link whose remote id is remoteID.
func (s *Store) LinkByRemote(ctx context.Context, app string, kind store.Kind, remoteID string) (*store.Link, error) {
	var l *store.Link
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		hub, remote, _ := linkBuckets(tx, app, kind, false)
		if remote == nil || remoteID == "" {
			return store.ErrNotFound
		}
		hubID := remote.Get([]byte(remoteID))
		if hubID == nil {
			return store.ErrNotFound
		}
		var err error
		l, err = getLink(hub, string(hubID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: link by remote %s %s %q: %w", app, kind, remoteID, err)
	}
	return l, nil
}

func getLink(hub *bbolt.Bucket, hubID string) (*store.Link, error) {
	if hub == nil || hubID == "" {
		return nil, store.ErrNotFound
	}
	v := hub.Get([]byte(hubID))
	if v == nil {
		return nil, store.ErrNotFound
	}
	var l store.Link
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("stored link: %w", err)
	}
	return &l, nil
}

// DeleteLink removes the link of (app, kind, hubID) and its reverse entry.
func (s *Store) DeleteLink(ctx context.Context, app string, kind store.Kind, hubID string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		hub, remote, _ := linkBuckets(tx, app, kind, false)
		if hub == nil || hubID == "" {
			return false, store.ErrNotFound
		}
		key := []byte(hubID)
		old := hub.Get(key)
		if old == nil {
			return false, store.ErrNotFound
		}
		oldRemote, err := storedRemoteID(old)
		if err != nil {
			return false, err
		}
		if err := dropReverse(remote, oldRemote, key); err != nil {
			return false, err
		}
		return true, hub.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("bolt store: delete link %s %s %q: %w", app, kind, hubID, err)
	}
	return nil
}

// Links lists an app's links of a kind in hub id order, after the hub id
// after, at most count of them.
func (s *Store) Links(ctx context.Context, app string, kind store.Kind, after string, count int) ([]store.Link, error) {
	var links []store.Link
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		hub, _, _ := linkBuckets(tx, app, kind, false)
		if hub == nil || count <= 0 {
			return nil
		}
		c := hub.Cursor()
		var k, v []byte
		if after == "" {
			k, v = c.First()
		} else if k, v = c.Seek([]byte(after)); k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(links) < count; k, v = c.Next() {
			var l store.Link
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("stored link %q: %w", k, err)
			}
			links = append(links, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: links %s %s after %q: %w", app, kind, after, err)
	}
	return links, nil
}
