package boltstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"
)

// The file layout. Every bucket and key of the store is named here.
//
//	meta                          "schema" -> schemaVersion (8 bytes)
//	res/<kind>                    id -> resource (codec.go); Sequence = number of resources
//	idx/<kind>/<index>            folded value -> id
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
		bucketIdem, bucketLock, bucketFence, bucketTokens, bucketState, bucketReport,
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

// schemaVersion is the layout version written into new files. Open refuses
// files of another version rather than misreading them.
const schemaVersion = 1

// initLayout creates the top-level buckets and checks the schema version.
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
	if v := meta.Get(keySchema); v != nil {
		if len(v) != 8 || binary.BigEndian.Uint64(v) != schemaVersion {
			return fmt.Errorf("file has schema %x, this build reads schema %d", v, schemaVersion)
		}
		return nil
	}
	return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion))
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

// orderedKey is an ordered time followed by a name: the key of due queues
// and expiry indexes.
func orderedKey(n int64, name string) []byte {
	return append(appendOrdered(make([]byte, 0, 8+len(name)), n), name...)
}
