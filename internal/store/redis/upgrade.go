package redis

import (
	"context"
	"fmt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// formerlyUnique lists the indexes that older builds kept unique (an
// ix:<kind>:<name> hash of folded value -> id) and the contract no longer
// does (store.Unique): emails.value, unique in the first builds, and
// externalId.
var formerlyUnique = []string{store.IndexEmail, store.IndexExternalID}

// upgradeBatch is how many entries one upgrade script call moves.
const upgradeBatch = 500

// Upgrade moves the entries of every formerly unique index from its hash
// into value sets, as a non-unique index holds them, rewriting each
// resource's ix field to say so; the hash is gone afterwards. It runs at
// Open, before the store serves: a Redis written by an older build then
// answers LookupAll on externalId for every resource, and a later write
// removes each moved entry from where it now lives. It is idempotent and
// safe to run from several replicas at once (each entry moves in one
// script call, and only while the hash still maps it to its holder); a
// Redis without such hashes costs one HSCAN per kind and index.
func (s *Store) Upgrade(ctx context.Context) error {
	for _, kind := range []store.Kind{store.KindUser, store.KindGroup} {
		for _, index := range formerlyUnique {
			hash := s.k.index(string(kind), index)
			var cursor uint64
			for {
				fields, next, err := s.c.HScan(ctx, hash, cursor, "*", upgradeBatch).Result()
				if err != nil {
					return fmt.Errorf("redis store: upgrade index %s of %s: %w", index, kind, err)
				}
				args := []any{s.k.resourcePrefix(string(kind)), s.k.valueSetPrefix(string(kind)), index, valueSetSuffix(index, "")}
				for i := 0; i+1 < len(fields); i += 2 {
					args = append(args, fields[i], fields[i+1])
				}
				if len(args) > 4 {
					if err := upgradeIndexScript.Run(ctx, s.c, []string{hash}, args...).Err(); err != nil {
						return fmt.Errorf("redis store: upgrade index %s of %s: %w", index, kind, err)
					}
				}
				if next == 0 {
					break
				}
				cursor = next
			}
		}
	}
	return nil
}
