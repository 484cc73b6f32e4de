package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// The file layout. Every bucket and key of the store is named here.
//
//	meta                          "schema" -> schemaVersion (8 bytes)
//	res/<kind>                    id -> resource (codec.go); Sequence = number of resources
//	pages/<kind>                  id partition -> number of ids in it (pages.go)
//	idx/<kind>/<index>            unique index: folded value -> id
//	                              non-unique index: value key (folded value + id, see valueKey) -> ""
//	mem/<group id>                member id -> ""; Sequence = number of members
//	grp/<member id>               group id -> ""
//	link/<app>/<kind>/hub         hub id -> link (JSON)
//	link/<app>/<kind>/remote      remote id -> hub id
//	queue/<app>                   Sequence = last lease token issued
//	queue/<app>/due               visibleAt (ordered int64) + key -> ""
//	queue/<app>/key               key -> queue entry (codec.go); Sequence = queue length
//	idem/rec                      key -> expires (ordered int64) + record
//	idem/exp                      expires (ordered int64) + key -> ""
//	lock                          name -> lock (JSON)
//	fence                         name -> last fencing token (8 bytes)
//	tokens                        name -> token bucket (16 bytes)
//	state                         key -> value
//	report                        Sequence = last report sequence number
//	report/log                    report id -> entry (JSON); Sequence = number of entries
//	report/user/<folded user>     report id -> ""
//	report/app/<folded app>       report id -> ""
//
// A bucket's Sequence is a persisted counter that bbolt updates in the same
// transaction as the keys, which makes counts (Total, MemberCount, QueueLen)
// O(1) and exact.
//
// Times in keys are "ordered int64": unix nanoseconds with the sign bit
// flipped, big-endian, so that byte order is time order. Report ids are an
// ordered time followed by a big-endian sequence number.
var (
	bucketMeta   = []byte("meta")
	bucketRes    = []byte("res")
	bucketIdx    = []byte("idx")
	bucketMem    = []byte("mem")
	bucketGrp    = []byte("grp")
	bucketLink   = []byte("link")
	bucketQueue  = []byte("queue")
	bucketIdem   = []byte("idem")
	bucketLock   = []byte("lock")
	bucketFence  = []byte("fence")
	bucketTokens = []byte("tokens")
	bucketState  = []byte("state")
	bucketReport = []byte("report")

	topBuckets = [][]byte{
		bucketMeta, bucketRes, bucketIdx, bucketMem, bucketGrp, bucketLink, bucketQueue,
		bucketIdem, bucketLock, bucketFence, bucketTokens, bucketState, bucketReport, bucketPages,
	}

	keySchema = []byte("schema")

	subHub    = []byte("hub")
	subRemote = []byte("remote")
	subDue    = []byte("due")
	subKey    = []byte("key")
	subRec    = []byte("rec")
	subExp    = []byte("exp")
	subLog    = []byte("log")
	subUser   = []byte("user")
	subApp    = []byte("app")

	// fixedNested are the nested buckets that always exist.
	fixedNested = [][][]byte{
		{bucketIdem, subRec}, {bucketIdem, subExp},
		{bucketReport, subLog}, {bucketReport, subUser}, {bucketReport, subApp},
	}

	// empty is the value of set members and index entries that carry
	// nothing but their key.
	empty = []byte{}
)

// schemaVersion is the layout version written into new files. Open
// upgrades files of an older version it knows (see migrations) in the
// transaction that opens them, and refuses any other version rather than
// misreading it.
//
//	1  every index maps a folded value to its one holder
//	2  the emails.value index holds value keys instead
//	3  so does the externalId index, no longer unique
//	4  pages/<kind> counts ids per partition, for list pages in O(page)
const schemaVersion = 4

// migrations[v] upgrades a file of schema v to schema v+1.
var migrations = map[uint64]func(tx *bbolt.Tx) error{
	1: toValueKeys(store.IndexEmail),
	2: toValueKeys(store.IndexExternalID),
	3: countPartitions,
}

// initLayout creates the top-level buckets and checks the schema version,
// upgrading an older file.
func initLayout(tx *bbolt.Tx) error {
	for _, name := range topBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	for _, path := range fixedNested {
		if _, err := ensure(tx, path[0], path[1:]...); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchema)
	if v == nil {
		return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion))
	}
	if len(v) != 8 {
		return fmt.Errorf("file has schema %x, this build reads schema %d", v, schemaVersion)
	}
	for version := binary.BigEndian.Uint64(v); version != schemaVersion; version++ {
		migrate, ok := migrations[version]
		if !ok {
			return fmt.Errorf("file has schema %d, this build reads schema %d", version, schemaVersion)
		}
		if err := migrate(tx); err != nil {
			return fmt.Errorf("upgrade schema %d to %d: %w", version, version+1, err)
		}
	}
	return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion))
}

// toValueKeys returns the upgrade that turns the buckets of index name,
// which mapped a folded value to its one holder, into a value key per
// holder, in every kind: what an index that stopped being unique holds.
func toValueKeys(index string) func(tx *bbolt.Tx) error {
	return func(tx *bbolt.Tx) error { return migrateValueKeys(tx, index) }
}

func migrateValueKeys(tx *bbolt.Tx, index string) error {
	idx := tx.Bucket(bucketIdx)
	var kinds [][]byte
	if err := idx.ForEachBucket(func(k []byte) error { kinds = append(kinds, bytes.Clone(k)); return nil }); err != nil {
		return err
	}
	for _, kind := range kinds {
		kb := idx.Bucket(kind)
		var names [][]byte
		err := kb.ForEachBucket(func(k []byte) error {
			if string(k) == index {
				names = append(names, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range names {
			var keys [][]byte
			err := kb.Bucket(name).ForEach(func(value, id []byte) error {
				keys = append(keys, valueKey(string(value), string(id)))
				return nil
			})
			if err != nil {
				return fmt.Errorf("index %s/%s: %w", kind, name, err)
			}
			if err := kb.DeleteBucket(name); err != nil {
				return fmt.Errorf("index %s/%s: %w", kind, name, err)
			}
			nb, err := kb.CreateBucket(name)
			if err != nil {
				return fmt.Errorf("index %s/%s: %w", kind, name, err)
			}
			for _, k := range keys {
				if err := nb.Put(k, empty); err != nil {
					return fmt.Errorf("index %s/%s: %w", kind, name, err)
				}
			}
		}
	}
	return nil
}

// nested returns the bucket at path below the top-level bucket top, or nil
// when any part of it does not exist.
func nested(tx *bbolt.Tx, top []byte, path ...[]byte) *bbolt.Bucket {
	b := tx.Bucket(top)
	for _, name := range path {
		if b == nil {
			return nil
		}
		b = b.Bucket(name)
	}
	return b
}

// ensure returns the bucket at path below the top-level bucket top,
// creating the missing parts.
func ensure(tx *bbolt.Tx, top []byte, path ...[]byte) (*bbolt.Bucket, error) {
	b := tx.Bucket(top)
	if b == nil {
		return nil, fmt.Errorf("missing bucket %s", top)
	}
	for _, name := range path {
		next, err := b.CreateBucketIfNotExists(name)
		if err != nil {
			return nil, fmt.Errorf("create bucket %s/%q: %w", top, name, err)
		}
		b = next
	}
	return b, nil
}

// countOf reads the key count a bucket keeps in its Sequence.
func countOf(b *bbolt.Bucket) int {
	if b == nil {
		return 0
	}
	return int(b.Sequence())
}

// addCount adjusts the key count a bucket keeps in its Sequence.
func addCount(b *bbolt.Bucket, delta int) error {
	n := int64(b.Sequence()) + int64(delta)
	if n < 0 {
		return fmt.Errorf("bucket count would become %d", n)
	}
	return b.SetSequence(uint64(n))
}

// deleteIfEmpty removes the nested bucket name of parent when it holds no
// keys, so that sets which empty out leave nothing behind.
func deleteIfEmpty(parent *bbolt.Bucket, name []byte) error {
	b := parent.Bucket(name)
	if b == nil {
		return nil
	}
	if k, _ := b.Cursor().First(); k != nil {
		return nil
	}
	return parent.DeleteBucket(name)
}

// nanos converts t to unix nanoseconds, saturating outside the range an
// int64 can hold; the zero time is the smallest value.
func nanos(t time.Time) int64 {
	const limit = math.MaxInt64/int64(time.Second) - 1
	switch s := t.Unix(); {
	case t.IsZero() || s < -limit:
		return math.MinInt64
	case s > limit:
		return math.MaxInt64
	default:
		return t.UnixNano()
	}
}

// appendOrdered appends n so that byte order matches numeric order.
func appendOrdered(b []byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(n)^(1<<63))
}

// readOrdered decodes what appendOrdered wrote at the start of b.
func readOrdered(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
}

// valuePrefix is the start of the value keys of one folded value in a
// non-unique index: the value's length as a uvarint, then the value. The
// length makes one value's prefix never the prefix of another value's key,
// whatever bytes values hold.
func valuePrefix(folded string) []byte {
	return appendValuePrefix(make([]byte, 0, binary.MaxVarintLen64+len(folded)), folded)
}

// valueKey is the key of id's entry for a folded value in a non-unique
// index: valuePrefix, then the id. The holders of one value are contiguous
// and in id order.
func valueKey(folded, id string) []byte {
	return append(appendValuePrefix(make([]byte, 0, binary.MaxVarintLen64+len(folded)+len(id)), folded), id...)
}

func appendValuePrefix(b []byte, folded string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(folded))), folded...)
}

// orderedKey is an ordered time followed by a name: the key of due queues
// and expiry indexes.
func orderedKey(n int64, name string) []byte {
	return append(appendOrdered(make([]byte, 0, 8+len(name)), n), name...)
}
