package bolt

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// A list page at offset n would cost O(n) cursor steps in res/<kind>: a
// B+tree keeps no ranks. So each kind also keeps the number of its ids per
// partition, an id's first partLen bytes:
//
//	pages/<kind>                  partition -> number of ids (8 bytes)
//
// Ids in one partition are contiguous in key order, and partitions sort as
// their ids do, so a page starts by summing partition counts up to the one
// that holds the offset (at most 256 of them for hex ids) and steps through
// that partition alone: O(partitions + ids/partitions) instead of O(ids),
// about 640 steps at 100,000 ids instead of 100,000.
var bucketPages = []byte("pages")

// partLen is the length of an id's partition key.
const partLen = 2

func partitionOf(id []byte) []byte { return id[:min(len(id), partLen)] }

// countID adds delta to the count of id's partition in kind.
func countID(tx *bbolt.Tx, kind, id []byte, delta int64) error {
	b, err := ensure(tx, bucketPages, kind)
	if err != nil {
		return err
	}
	p := partitionOf(id)
	n := int64(0)
	if v := b.Get(p); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	switch {
	case n < 0:
		return fmt.Errorf("partition %q of %s would count %d ids", p, kind, n)
	case n == 0:
		return b.Delete(p)
	}
	return b.Put(p, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// seekOffset positions c, a cursor over res/<kind>, at the id of rank
// offset (0-based) and returns it, or nil when there are fewer ids.
func seekOffset(tx *bbolt.Tx, kind []byte, c *bbolt.Cursor, offset int) (k, v []byte) {
	skipped := 0
	if parts := nested(tx, bucketPages, kind); parts != nil && offset > 0 {
		pc := parts.Cursor()
		for p, n := pc.First(); p != nil; p, n = pc.Next() {
			size := int(binary.BigEndian.Uint64(n))
			if skipped+size > offset {
				k, v = c.Seek(p)
				for ; k != nil && skipped < offset; skipped++ {
					k, v = c.Next()
				}
				return k, v
			}
			skipped += size
		}
		return nil, nil
	}
	k, v = c.First()
	for ; k != nil && skipped < offset; skipped++ {
		k, v = c.Next()
	}
	return k, v
}

// countPartitions builds pages/<kind> for every kind from res: the
// upgrade to schema 4.
func countPartitions(tx *bbolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketPages); err != nil {
		return err
	}
	return tx.Bucket(bucketRes).ForEachBucket(func(kind []byte) error {
		return tx.Bucket(bucketRes).Bucket(kind).ForEach(func(id, _ []byte) error {
			return countID(tx, kind, id, 1)
		})
	})
}
