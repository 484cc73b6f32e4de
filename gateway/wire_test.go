package gateway

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadAll checks the Content-Length-sized read returns exactly the
// body, whether the length is right, too small, too large or absent, and
// whatever sizes the reader returns.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 100)
	for _, size := range []int64{-1, 0, 1, 15, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 7, maxPresize + 1} {
		for name, r := range map[string]io.Reader{
			"whole":    strings.NewReader(body),
			"one byte": iotest.OneByteReader(strings.NewReader(body)),
			"data+EOF": iotest.DataErrReader(strings.NewReader(body)),
		} {
			got, err := readAll(r, size)
			if err != nil || string(got) != body {
				t.Errorf("size %d, %s: got %d bytes, err %v; want the %d-byte body", size, name, len(got), err, len(body))
			}
		}
	}
	boom := errors.New("boom")
	if _, err := readAll(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)), 10); !errors.Is(err, boom) {
		t.Errorf("a failing read: err %v, want boom", err)
	}
	if got, err := readAll(bytes.NewReader(nil), 10); err != nil || len(got) != 0 {
		t.Errorf("an empty body: %q, %v", got, err)
	}
}
