// Package bolt is the embedded backend of the store: the whole
// store.Store contract in one bbolt file, for a gateway that runs as a single
// process with no server beside it (the default deployment, a file under
// ./data).
//
// It owns the on-disk layout (layout.go names every bucket and key), the
// encodings of what it keeps, and the mapping of each contract method onto
// bbolt transactions: every mutating method is one read-write transaction,
// so a failed precondition rolls back and changes nothing, and every reader
// sees one consistent snapshot. Data is laid out so that each operation
// touches only the keys it names (B+tree lookups and short cursor walks):
// resources by kind and id, one bucket per index (value -> id for a unique
// index, one value+id key per holder for a non-unique one), membership as
// one nested bucket per group and per member, a due-ordered bucket per work
// queue, and a time-ordered report log with per-user and per-app indexes.
//
// bbolt takes an exclusive file lock, so only one process can open a file;
// a second one fails after Options.LockTimeout with ErrFileLocked instead of
// waiting forever. Deployments with several replicas use the redis backend.
package bolt
