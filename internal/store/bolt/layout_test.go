package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func TestOrderedTimesSortLikeTimes(t *testing.T) {
	times := []time.Time{
		{}, // zero: before everything
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), // below the int64 nanosecond range
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, 1),
		t0,
		t0.Add(time.Nanosecond),
		time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC), // above it
	}
	var keys [][]byte
	for _, tm := range times {
		keys = append(keys, appendOrdered(nil, nanos(tm)))
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Errorf("ordered keys are not in time order: %x", keys)
	}
	if nanos(time.Time{}) != math.MinInt64 || nanos(times[7]) != math.MaxInt64 {
		t.Errorf("nanos does not saturate: %d %d", nanos(time.Time{}), nanos(times[7]))
	}
	for _, n := range []int64{math.MinInt64, -1, 0, 1, t0.UnixNano(), math.MaxInt64} {
		if got := readOrdered(appendOrdered(nil, n)); got != n {
			t.Errorf("readOrdered(appendOrdered(%d)) = %d", n, got)
		}
	}
}

func TestResourceCodecRoundTrip(t *testing.T) {
	in := &store.Resource{
		Kind:     store.KindUser,
		ID:       "2819c223",
		Version:  7,
		Created:  time.Date(2029, 1, 2, 3, 4, 5, 123456789, time.UTC),
		Modified: time.Date(2030, 6, 7, 8, 9, 10, 987654321, time.FixedZone("CEST", 7200)),
		Origin:   "app:bitbucket",
		Indexes:  []store.IndexKey{{Name: "userName", Value: "Zoë"}, {Name: "emails.value", Value: "z@x"}},
		Data:     json.RawMessage(`{"userName":"Zoë"}`),
	}
	b, err := encodeResource(in)
	must(t, err)
	out, err := decodeResource(b)
	must(t, err)
	if out.Kind != in.Kind || out.ID != in.ID || out.Version != in.Version || out.Origin != in.Origin ||
		!out.Created.Equal(in.Created) || !out.Modified.Equal(in.Modified) ||
		!slices.Equal(out.Indexes, in.Indexes) || !bytes.Equal(out.Data, in.Data) {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	if _, off := out.Modified.Zone(); off != 7200 {
		t.Errorf("Modified lost its zone offset: %v", out.Modified)
	}
	// The decoded resource does not alias the encoded bytes (bolt's memory).
	for i := range b {
		b[i] = 0
	}
	if out.ID != "2819c223" || string(out.Data) != `{"userName":"Zoë"}` {
		t.Errorf("decoded resource aliases its input: %+v", out)
	}
}

func TestResourceCodecRejectsCorruption(t *testing.T) {
	b, err := encodeResource(&store.Resource{Kind: store.KindGroup, ID: "g", Data: json.RawMessage(`{}`)})
	must(t, err)
	for n := range len(b) {
		if _, err := decodeResource(b[:n]); !errors.Is(err, errCorrupt) {
			t.Errorf("decode of %d of %d bytes: %v, want errCorrupt", n, len(b), err)
		}
	}
	if _, err := decodeResource(append(slices.Clone(b), 0)); !errors.Is(err, errCorrupt) {
		t.Errorf("decode with a trailing byte: %v, want errCorrupt", err)
	}
	wrong := slices.Clone(b)
	wrong[0] = resourceFormat + 1
	if _, err := decodeResource(wrong); !errors.Is(err, errCorrupt) {
		t.Errorf("decode of another format: %v, want errCorrupt", err)
	}
}

func FuzzDecodeResource(f *testing.F) {
	seed, err := encodeResource(&store.Resource{
		Kind: store.KindUser, ID: "u1", Version: 3, Created: t0, Modified: t0,
		Indexes: []store.IndexKey{{Name: "userName", Value: "alice"}}, Data: json.RawMessage(`{"a":1}`),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{resourceFormat})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResource(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes back to something that decodes the same.
		again, err := encodeResource(r)
		must(t, err)
		r2, err := decodeResource(again)
		must(t, err)
		if r2.ID != r.ID || r2.Version != r.Version || !bytes.Equal(r2.Data, r.Data) || !slices.Equal(r2.Indexes, r.Indexes) {
			t.Errorf("re-encoding changed the resource: %+v vs %+v", r, r2)
		}
	})
}

func TestQueueEntryCodec(t *testing.T) {
	for _, e := range []queueEntry{
		{visible: math.MinInt64},
		{visible: t0.UnixNano(), token: "1z", attempt: 300, dirty: true, markDue: -5},
	} {
		got, err := decodeQueueEntry(e.encode())
		if err != nil || got != e {
			t.Errorf("round trip of %+v = %+v, %v", e, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {queueEntryFormat}, make([]byte, 18), append([]byte{queueEntryFormat}, make([]byte, 17)...)} {
		if _, err := decodeQueueEntry(bad); !errors.Is(err, errCorrupt) {
			t.Errorf("decode of %x: %v, want errCorrupt", bad, err)
		}
	}
}

// TestValueKeysOfOneValueAreContiguous: the value keys of one value, and
// only they, start with its prefix, whatever bytes values and ids hold,
// and they sort by id.
func TestValueKeysOfOneValueAreContiguous(t *testing.T) {
	values := []string{"a", "ab", "a\x00", "a\x00b", "\x01a", "b", strings.Repeat("x", 200), strings.Repeat("x", 200) + "y"}
	ids := []string{"", "1", "b", "\x00", "a\x00b", "u10", "u2"}
	var keys [][]byte
	owner := map[string]string{}
	for _, v := range values {
		for _, id := range ids {
			k := valueKey(v, id)
			keys = append(keys, k)
			owner[string(k)] = v
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	for _, v := range values {
		prefix := valuePrefix(v)
		var got []string
		for _, k := range keys {
			if bytes.HasPrefix(k, prefix) {
				if owner[string(k)] != v {
					t.Errorf("value %q: key %q of value %q has its prefix", v, k, owner[string(k)])
				}
				got = append(got, string(k[len(prefix):]))
			}
		}
		want := slices.Sorted(slices.Values(ids))
		if !slices.Equal(got, want) {
			t.Errorf("value %q: ids under its prefix = %q, want %q in order", v, got, want)
		}
	}
}
