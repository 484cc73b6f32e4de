package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/jsondoc"
)

// mediaSCIM is the SCIM media type (RFC 7644 §3.1).
const mediaSCIM = "application/scim+json"

const (
	schemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaSearch       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// readBody reads a request body under the server's size limit (the
// MaxBytesReader installed by limitBody) after checking its media type:
// SCIM bodies are application/scim+json, and application/json is accepted
// because Entra sends it; a missing Content-Type is tolerated.
func readBody(c echo.Context) ([]byte, error) {
	if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != mediaSCIM && mt != "application/json") {
			return nil, errUnsupportedMediaType(ct)
		}
	}
	b, err := readAll(c.Request().Body, c.Request().ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errBodyTooLarge(mbe.Limit)
		}
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return b, nil
}

// readAll is io.ReadAll into a buffer sized by the request's
// Content-Length when it gives one (the body is limited elsewhere), so a
// typical body is read without growing and copying its buffer.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > maxPresize {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // +1: room for the EOF read
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // Content-Length was short: grow as ReadAll does
		}
	}
}

// maxPresize bounds the buffer a Content-Length header alone can make
// readAll allocate.
const maxPresize = 1 << 20

// writeSCIM renders v as application/scim+json with status.
func writeSCIM(c echo.Context, status int, v any) error {
	b, err := jsondoc.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return c.Blob(status, mediaSCIM+"; charset=utf-8", b)
}

// etag renders a resource version as a weak entity tag (RFC 7644 §3.14).
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// etagMatches reports whether an If-Match / If-None-Match header value
// names version ("*" matches any existing resource). Weak comparison is
// used, as SCIM versions are weak.
func etagMatches(header string, version int64) bool {
	want := strconv.FormatInt(version, 10)
	for _, part := range strings.Split(header, ",") {
		t := strings.TrimSpace(part)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if strings.Trim(t, `"`) == want && strings.HasPrefix(t, `"`) {
			return true
		}
	}
	return false
}

// newID returns a random RFC 4122 version 4 UUID: server-issued,
// unique, stable, and never reused.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // rand.Read never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
