package redis

import "strings"

// Key layout. Every key of a store lives under one hash tag, "{prefix}", so
// that all of them map to one Redis Cluster slot and every script may touch
// any of them. With base = "{prefix}:" the keys are:
//
//	base r:<kind>:<id>          hash   a resource: v (version), m (metadata JSON), d (data), ix (folded index keys, JSON)
//	base ids:<kind>             zset   ids of a kind, all scored 0, so rank order is id order (List)
//	base ix:<kind>:<name>       hash   unique index: folded value -> id
//	base nx:<kind>:<name>:<folded value>
//	                            zset   non-unique index: ids holding the value, all scored 0 (id order)
//	base gm:<groupID>           set    member ids of a group
//	base mg:<memberID>          set    ids of the groups a resource is a member of
//	base ld:<app>:<kind>        hash   links: hub id -> link JSON
//	base lh:<app>:<kind>        hash   links: hub id -> remote id (to drop a stale reverse entry)
//	base lr:<app>:<kind>        hash   links: remote id -> hub id
//	base lo:<app>:<kind>        zset   links: hub ids scored 0, for ordered paging
//	base q:<app>                zset   work queue: key -> visible-at unix ms (due time, or lease end while claimed)
//	base qm:<app>               hash   work queue: key -> "token|attempt|dirtyDueMs" (none: waiting, attempt 0)
//	base qtok                   string counter behind claim tokens
//	base id:<key>               hash   idempotency record: r (record), e (expiry unix ms)
//	base lk:<name>              hash   lock: o (owner), t (fencing token), e (expiry unix ms)
//	base lks:<name>             string fencing counter of a lock, never deleted
//	base tb:<name>              hash   token bucket: n (tokens), t (last refill, unix µs)
//	base st:<key>               string small named state
//	base rd                     hash   report records: entry id -> header line and entry JSON
//	base rl                     zset   report log: entry ids scored 0, so byte order is (time, sequence)
//	base rseq                   string counter behind report entry ids
//	base ru:<folded user>       zset   report index by user: entry ids scored 0
//	base ra:<folded app>        zset   report index by app
//
// A variable part that is not the last of its key is escaped (see esc) so it
// holds no ':' and two different tuples never build the same key. Scripts
// receive key prefixes built here (resourcePrefix, indexPrefix,
// valueSetPrefix, memberPrefix, groupsPrefix, reportUserPrefix,
// reportAppPrefix) and only append an id, an index name, a folded name or a
// value set suffix (valueSetSuffix, built here and kept in the resource's
// ix field) to them: no key name is spelled anywhere else.
//
// Which index names are unique is the contract's (store.Unique). A
// resource's ix field records where each of its entries lives, so the
// apply script removes an entry from where it was written, whatever the
// index's uniqueness when the script runs.
type keyspace struct {
	base string
}

func newKeyspace(prefix string) keyspace { return keyspace{base: "{" + prefix + "}:"} }

// valueSetSuffix is the part of a non-unique index's value set key after
// valueSetPrefix: the index name, escaped, and the folded value.
func valueSetSuffix(name, folded string) string { return esc(name) + ":" + folded }

// esc makes a key component free of ':' so that it can be followed by
// another component: '%' becomes "%25" and ':' becomes "%3A".
func esc(s string) string {
	if !strings.ContainsAny(s, "%:") {
		return s
	}
	return strings.NewReplacer("%", "%25", ":", "%3A").Replace(s)
}

func (k keyspace) resourcePrefix(kind string) string { return k.base + "r:" + esc(kind) + ":" }
func (k keyspace) resource(kind, id string) string   { return k.resourcePrefix(kind) + id }
func (k keyspace) ids(kind string) string            { return k.base + "ids:" + kind }
func (k keyspace) indexPrefix(kind string) string    { return k.base + "ix:" + esc(kind) + ":" }
func (k keyspace) index(kind, name string) string    { return k.indexPrefix(kind) + name }
func (k keyspace) valueSetPrefix(kind string) string { return k.base + "nx:" + esc(kind) + ":" }
func (k keyspace) memberPrefix() string              { return k.base + "gm:" }
func (k keyspace) members(groupID string) string     { return k.memberPrefix() + groupID }
func (k keyspace) groupsPrefix() string              { return k.base + "mg:" }
func (k keyspace) groupsOf(memberID string) string   { return k.groupsPrefix() + memberID }

func (k keyspace) valueSet(kind, name, folded string) string {
	return k.valueSetPrefix(kind) + valueSetSuffix(name, folded)
}

func (k keyspace) linkDocs(app, kind string) string { return k.base + "ld:" + esc(app) + ":" + kind }
func (k keyspace) linkRemoteOf(app, kind string) string {
	return k.base + "lh:" + esc(app) + ":" + kind
}
func (k keyspace) linkByRemote(app, kind string) string {
	return k.base + "lr:" + esc(app) + ":" + kind
}
func (k keyspace) linkOrder(app, kind string) string { return k.base + "lo:" + esc(app) + ":" + kind }

func (k keyspace) queue(app string) string     { return k.base + "q:" + app }
func (k keyspace) queueMeta(app string) string { return k.base + "qm:" + app }
func (k keyspace) queueTokens() string         { return k.base + "qtok" }

func (k keyspace) idempotency(key string) string { return k.base + "id:" + key }
func (k keyspace) lock(name string) string       { return k.base + "lk:" + name }
func (k keyspace) lockSeq(name string) string    { return k.base + "lks:" + name }
func (k keyspace) bucket(name string) string     { return k.base + "tb:" + name }
func (k keyspace) state(key string) string       { return k.base + "st:" + key }

func (k keyspace) reportRecords() string             { return k.base + "rd" }
func (k keyspace) reportLog() string                 { return k.base + "rl" }
func (k keyspace) reportSeq() string                 { return k.base + "rseq" }
func (k keyspace) reportUserPrefix() string          { return k.base + "ru:" }
func (k keyspace) reportByUser(folded string) string { return k.reportUserPrefix() + folded }
func (k keyspace) reportAppPrefix() string           { return k.base + "ra:" }
func (k keyspace) reportByApp(folded string) string  { return k.reportAppPrefix() + folded }
