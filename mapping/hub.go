package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"

	"github.com/scimgate/scim-gateway/internal/store"
)

// HubReader is the slice of the store that builds user views.
type HubReader interface {
	Get(ctx context.Context, kind store.Kind, id string) (*store.Resource, error)
	List(ctx context.Context, kind store.Kind, offset, count int) (store.Page, error)
	GroupsOf(ctx context.Context, memberID string) ([]string, error)
	GetLink(ctx context.Context, app string, kind store.Kind, hubID string) (*store.Link, error)
}

// LoadUser builds the view of one hub user: its document and its groups.
// A missing user is store.ErrNotFound. When apps is not empty, Accounts
// is filled from the user's links in those apps.
func LoadUser(ctx context.Context, h HubReader, id string, apps ...string) (UserView, error) {
	r, err := h.Get(ctx, store.KindUser, id)
	if err != nil {
		return UserView{}, fmt.Errorf("load user %s: %w", id, err)
	}
	return view(ctx, h, r, apps)
}

func view(ctx context.Context, h HubReader, r *store.Resource, apps []string) (UserView, error) {
	doc, err := decodeDoc(r)
	if err != nil {
		return UserView{}, err
	}
	u := UserView{ID: r.ID, Doc: doc}
	ids, err := h.GroupsOf(ctx, r.ID)
	if err != nil {
		return UserView{}, fmt.Errorf("groups of %s: %w", r.ID, err)
	}
	for _, gid := range ids {
		g, err := h.Get(ctx, store.KindGroup, gid)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return UserView{}, fmt.Errorf("group %s: %w", gid, err)
		}
		var d struct {
			DisplayName string `json:"displayName"`
		}
		_ = json.Unmarshal(g.Data, &d)
		u.Groups = append(u.Groups, GroupRef{ID: gid, DisplayName: d.DisplayName})
	}
	if len(apps) > 0 {
		u.Accounts = map[string]Account{}
		for _, app := range apps {
			l, err := h.GetLink(ctx, app, store.KindUser, r.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return UserView{}, fmt.Errorf("link %s/%s: %w", app, r.ID, err)
			}
			switch l.Status {
			case store.LinkActive:
				u.Accounts[app] = ActiveAccount
			case store.LinkDeactivated:
				u.Accounts[app] = InactiveAccount
			}
		}
	}
	return u, nil
}

// decodeDoc is the user's attributes with its id, as filters see them.
func decodeDoc(r *store.Resource) (map[string]any, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode user %s: %w", r.ID, err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	doc["id"] = r.ID
	return doc, nil
}

// Users iterates over every hub user's view (with Accounts for apps), in
// id order, in pages; the first error stops it and is stored in *errp.
func Users(ctx context.Context, h HubReader, errp *error, apps ...string) iter.Seq[UserView] {
	return func(yield func(UserView) bool) {
		const page = 500
		for offset := 0; ; offset += page {
			p, err := h.List(ctx, store.KindUser, offset, page)
			if err != nil {
				*errp = fmt.Errorf("list users: %w", err)
				return
			}
			for _, r := range p.Resources {
				u, err := view(ctx, h, r, apps)
				if err != nil {
					*errp = err
					return
				}
				if !yield(u) {
					return
				}
			}
			if len(p.Resources) < page {
				return
			}
		}
	}
}
