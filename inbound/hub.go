package inbound

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// imported reports whether a hub resource came from an app import rather
// than from the IdP.
func imported(r *store.Resource) bool { return strings.HasPrefix(r.Origin, store.OriginAppPrefix) }

// userIndexes are the store indexes of a User and the SCIM paths they
// index: the same as the gateway's, so an imported user is found (and
// claimed) exactly like a pushed one.
var userIndexes = []struct{ index, path string }{
	{store.IndexUserName, "userName"},
	{store.IndexExternalID, "externalId"},
	{store.IndexEmail, "emails.value"},
}

// indexKeys lists a user document's index entries.
func indexKeys(doc map[string]any) []store.IndexKey {
	var keys []store.IndexKey
	for _, ix := range userIndexes {
		for _, v := range scim.IndexValues(doc, scim.UserResourceType, ix.path) {
			keys = append(keys, store.IndexKey{Name: ix.index, Value: v})
		}
	}
	return keys
}

// importDoc builds the hub User document of an imported account: its
// userName, name, displayName, emails and active, normalised against the
// SCIM User schema as an IdP push would be. externalId is left out: it
// belongs to the IdP, which sets it when it claims the user.
func importDoc(remote map[string]any) (map[string]any, error) {
	doc := map[string]any{"schemas": []any{scim.SchemaUser}}
	for _, k := range importedAttrs {
		v, ok := lookupFold(remote, k)
		if !ok || v == nil {
			continue
		}
		if k == "active" {
			b, ok := asBool(v)
			if !ok {
				continue
			}
			v = b
		}
		doc[k] = v
	}
	norm, err := scim.Normalize(doc, scim.UserResourceType)
	if err != nil {
		return nil, fmt.Errorf("not a valid SCIM User: %s", scim.AsError(err).Detail)
	}
	return norm, nil
}

// encodeDoc encodes a user document for store.Resource.Data (no id, meta
// or members: the store keeps those elsewhere).
func encodeDoc(doc map[string]any) (json.RawMessage, error) {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		switch strings.ToLower(k) {
		case "id", "meta", "members":
			continue
		}
		out[k] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode user: %w", err)
	}
	return b, nil
}

// newID returns a random RFC 4122 version 4 UUID, like the gateway's ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newRunID returns a short random id for a run's report entries.
func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("imp-%x", b)
}
