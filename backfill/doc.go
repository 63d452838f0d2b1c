// Package backfill brings a partner up to date from our source (contract
// docs/backfill.md): it streams every record of the source into the events stream as an
// upsert (origin backfill), paced so that live events keep flowing,
// resumable from the position per entity it keeps in Redis.
package backfill
