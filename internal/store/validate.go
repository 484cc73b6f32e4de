package store

import (
	"fmt"
	"slices"
)

// Validate reports whether w is a Write the contract defines (see the Write
// comment), without reading any store: nil, or an error wrapping
// ErrInvalid that says which rule w breaks. Backends call it first in
// Apply, so an invalid Write has no effect at all.
func (w Write) Validate() error {
	if w.Put != nil && w.Delete != nil {
		return invalid("both Put and Delete are set")
	}
	if p := w.Put; p != nil {
		if p.Kind == "" || p.ID == "" {
			return invalid("put needs a kind and an id, got %q %q", p.Kind, p.ID)
		}
		if w.ExpectVersion < 0 {
			return invalid("negative ExpectVersion %d", w.ExpectVersion)
		}
		for _, k := range p.Indexes {
			if k.Name == "" {
				return invalid("index key with an empty name (value %q)", k.Value)
			}
		}
	}
	if d := w.Delete; d != nil {
		if d.Kind == "" || d.ID == "" {
			return invalid("delete needs a kind and an id, got %q %q", d.Kind, d.ID)
		}
		if w.DeleteVersion < 0 {
			return invalid("negative DeleteVersion %d", w.DeleteVersion)
		}
	}
	if err := w.validateMembers(); err != nil {
		return err
	}
	if w.Touch && (w.Group == "" || w.Put != nil || w.Delete != nil) {
		return invalid("a touch is a membership-only write: it needs a Group and no Put or Delete")
	}
	if w.ReadGroups && w.Put == nil {
		return invalid("ReadGroups reads the groups of a Put's resource: it needs a Put")
	}
	for _, m := range w.Marks {
		if err := m.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// validateMembers checks the membership changes of w.
func (w Write) validateMembers() error {
	if w.Group == "" {
		if len(w.AddMembers) > 0 || len(w.RemoveMembers) > 0 {
			return invalid("membership change without a group")
		}
		return nil
	}
	if d := w.Delete; d != nil && d.Kind == KindGroup && d.ID == w.Group {
		return invalid("membership change of group %q, which the write deletes", w.Group)
	}
	if slices.Contains(w.AddMembers, "") || slices.Contains(w.RemoveMembers, "") {
		return invalid("empty member id")
	}
	removed := make(map[string]bool, len(w.RemoveMembers))
	for _, id := range w.RemoveMembers {
		removed[id] = true
	}
	for _, id := range w.AddMembers {
		if removed[id] {
			return invalid("member %q both added and removed", id)
		}
	}
	return nil
}

// Validate reports whether m names both an app and a key: nil, or an error
// wrapping ErrInvalid. Apply (through Write.Validate) and Enqueue refuse an
// invalid mark before queueing anything.
func (m Mark) Validate() error {
	if m.App == "" || m.Key == "" {
		return invalid("mark needs an app and a key, got %q %q", m.App, m.Key)
	}
	return nil
}

// invalid is an ErrInvalid saying which rule was broken.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}
