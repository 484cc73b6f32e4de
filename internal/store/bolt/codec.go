package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// Resources and queue entries are the records read and written most, so
// they have a compact binary encoding instead of JSON: decoding a resource
// costs one allocation per field and no reflection. Every encoding starts
// with a format byte so that a later layout can tell old records apart.

const (
	resourceFormat   = 1
	queueEntryFormat = 1
)

var errCorrupt = errors.New("corrupt record")

// encodeResource encodes r as
//
//	format, kind, id, origin, version (varint), created, modified,
//	number of index keys, each (name, value), data
//
// where strings, times (time.Time binary form) and data are prefixed by
// their length as a uvarint.
func encodeResource(r *store.Resource) ([]byte, error) {
	n := 64 + len(r.Kind) + len(r.ID) + len(r.Origin) + len(r.Data)
	for _, k := range r.Indexes {
		n += 4 + len(k.Name) + len(k.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, resourceFormat)
	b = appendString(b, string(r.Kind))
	b = appendString(b, r.ID)
	b = appendString(b, r.Origin)
	b = binary.AppendVarint(b, r.Version)
	var err error
	if b, err = appendTime(b, r.Created); err != nil {
		return nil, fmt.Errorf("created: %w", err)
	}
	if b, err = appendTime(b, r.Modified); err != nil {
		return nil, fmt.Errorf("modified: %w", err)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Indexes)))
	for _, k := range r.Indexes {
		b = appendString(b, k.Name)
		b = appendString(b, k.Value)
	}
	b = appendString(b, string(r.Data))
	return b, nil
}

// decodeResource decodes what encodeResource wrote. The result shares no
// memory with b, which may belong to bbolt.
func decodeResource(b []byte) (*store.Resource, error) {
	d := decoder{b: b}
	if f := d.byte(); f != resourceFormat {
		return nil, fmt.Errorf("resource format %d: %w", f, errCorrupt)
	}
	r := &store.Resource{
		Kind:   store.Kind(d.string()),
		ID:     d.string(),
		Origin: d.string(),
	}
	r.Version = d.varint()
	r.Created = d.time()
	r.Modified = d.time()
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return nil, fmt.Errorf("resource index count %d: %w", n, errCorrupt)
		}
		r.Indexes = make([]store.IndexKey, n)
		for i := range r.Indexes {
			r.Indexes[i] = store.IndexKey{Name: d.string(), Value: d.string()}
		}
	}
	if data := d.bytes(); len(data) > 0 {
		r.Data = append([]byte(nil), data...)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, fmt.Errorf("resource: %w", d.err)
	}
	return r, nil
}

// queueEntry is the state of one key in an app's work queue.
type queueEntry struct {
	// visible is when the key can be claimed (unix nanos): its due time
	// while waiting, its lease end while claimed. The key's place in the
	// due bucket is always (visible, key).
	visible int64
	// token is the lease token of the current claim, "" while waiting.
	token string
	// attempt counts requeues since the key was last acknowledged.
	attempt int
	// dirty: the key was marked while claimed; markDue is the earliest
	// due time of those marks.
	dirty   bool
	markDue int64
}

// encode writes format, visible, markDue (8 bytes each), dirty (1 byte),
// attempt (uvarint) and the token (the rest).
func (e *queueEntry) encode() []byte {
	b := make([]byte, 0, 1+8+8+1+binary.MaxVarintLen64+len(e.token))
	b = append(b, queueEntryFormat)
	b = binary.BigEndian.AppendUint64(b, uint64(e.visible))
	b = binary.BigEndian.AppendUint64(b, uint64(e.markDue))
	var dirty byte
	if e.dirty {
		dirty = 1
	}
	b = append(b, dirty)
	b = binary.AppendUvarint(b, uint64(e.attempt))
	return append(b, e.token...)
}

func decodeQueueEntry(b []byte) (queueEntry, error) {
	if len(b) < 18 || b[0] != queueEntryFormat {
		return queueEntry{}, fmt.Errorf("queue entry: %w", errCorrupt)
	}
	e := queueEntry{
		visible: int64(binary.BigEndian.Uint64(b[1:])),
		markDue: int64(binary.BigEndian.Uint64(b[9:])),
		dirty:   b[17] == 1,
	}
	attempt, n := binary.Uvarint(b[18:])
	if n <= 0 {
		return queueEntry{}, fmt.Errorf("queue entry attempt: %w", errCorrupt)
	}
	e.attempt = int(attempt)
	e.token = string(b[18+n:])
	return e, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	tb, err := t.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(tb)))
	return append(b, tb...), nil
}

// decoder reads the fields of a record in order; the first error sticks
// and makes every later read return a zero value.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns the next length-prefixed field, aliasing the input.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	var t time.Time
	if err := t.UnmarshalBinary(d.bytes()); err != nil && d.err == nil {
		d.err = fmt.Errorf("%w: time: %v", errCorrupt, err)
	}
	return t
}
