// Package keyslot computes the Redis Cluster hash slot of a key (CRC-16/XMODEM
// of the key, or of its hash tag, mod 16384), as the Redis Cluster
// specification defines it, so that key builders and tests can reason about
// which keys share a slot without a Cluster at hand.
package keyslot
