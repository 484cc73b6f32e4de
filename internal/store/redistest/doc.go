// Package redistest gives tests a Redis server and a private keyspace on
// it, so that Redis-backed code is tested against the real server rather
// than a fake. URL uses $REDIS_URL when set, else starts one private
// redis-server (no persistence, loopback only) for the whole test binary,
// killed when the binary exits however it exits, else skips the test;
// ClusterAddrs does the same for a one-node Redis Cluster. On CI (CI set)
// a missing server is a failure, not a skip: a suite that silently skips
// there proves nothing. Prefix gives each test its own key prefix.
package redistest
