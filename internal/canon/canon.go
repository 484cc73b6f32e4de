// Package canon is the one definition of "the same state" that the
// reconcilers, the importer and plan share: a canonical JSON encoding
// (object keys sorted, no HTML escaping) and the hash of it. A link's
// AppliedHash and Hash are canon hashes, so two states are unchanged for
// every subsystem exactly when their canonical encodings are equal.
//
// The encoding is plain JSON: attribute-name case, array order and empty
// values are significant, as they are to a SCIM target that is sent them.
// Hash values are stored in links; changing the encoding would make every
// stored hash a mismatch, so it is pinned by a test.
package canon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// JSON encodes v with sorted object keys (encoding/json sorts map keys)
// and no HTML escaping; nil when v cannot be encoded. A value decoded from
// it with UseNumber encodes the same again.
func JSON(v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// Equal reports whether a and b have the same canonical encoding (and
// both can be encoded).
func Equal(a, b any) bool {
	ca, cb := JSON(a), JSON(b)
	return ca != nil && bytes.Equal(ca, cb)
}

// Hash is the hash of a state: "sha256:" and the hex SHA-256 of its
// canonical JSON.
func Hash(m map[string]any) string {
	sum := sha256.Sum256(JSON(m))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Decode decodes one JSON value into v keeping numbers as json.Number, so
// that a state read back from the store encodes (and hashes) as it did
// when it was written.
func Decode(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}
