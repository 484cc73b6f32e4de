// Package redis is the Redis backend of the store contract
// (internal/store): the production store that every gateway replica
// shares. It works with any go-redis UniversalClient (standalone, Sentinel
// or Cluster) and needs Redis 6.2 or later.
//
// Every key lives under one hash tag, "{prefix}", so a store occupies one
// Cluster slot and each logical write is one Lua script touching several
// keys atomically: one round trip, and a failed precondition changes
// nothing. All key names are built in keys.go and every script documents its
// KEYS, ARGV and replies in scripts.go. Request paths never use KEYS or
// SCAN: listings read sorted sets by rank or lexicographic range, lookups
// read a unique index's hash or, for a non-unique index (emails), the sorted
// set of one value's holders by rank, in id order, membership is a set per
// group and a set per member, and the report log is a sorted set of
// time-ordered entry IDs with one sorted set per user and per app as
// indexes.
//
// Times come from the caller. Queue due times, lease ends, idempotency
// and lock expiries are kept in milliseconds (a due time or "now" rounded
// down, an expiry or lease end rounded up, so a lease never ends early);
// token buckets run on microseconds and report entries on nanoseconds. Redis
// expiries on idempotency records, locks and buckets only collect garbage,
// with an hour's margin over the caller's TTL.
package redis
