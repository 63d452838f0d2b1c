// Package redisretry says which Redis errors are a failover's or a
// reshard's passing weather (READONLY, TRYAGAIN, MOVED/ASK, NOSCRIPT,
// LOADING, CLUSTERDOWN, a refused or reset connection) and waits them out
// with backoff, so that the loops that read, commit, move and append ride
// through a promotion instead of failing an event or dead-lettering it
// (docs/reliability.md, "Redis Sentinel and failover").
package redisretry
