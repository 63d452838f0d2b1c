// Package lease is the one kind of lease streamsync holds in Redis: a key
// whose value names its holder, taken only while free (SET NX PX), and
// renewed, released or left to run out only by that holder (scripts that
// compare the value first). Account leases, shard owner leases, consumer
// names, the reconcile lock and the dead-letter archive's lease are all
// this kind; their keys are package internal/layout's, the policy of when
// to take, renew and give them up is their users'.
package lease
