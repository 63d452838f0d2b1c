// Package replicas waits for Redis replicas to acknowledge a connection's
// writes (redis.wait_replicas, redis.wait_timeout; docs/reliability.md,
// "Waiting for replicas"). Redis' WAIT counts the writes of the connection
// it is sent on, so the writes and their WAIT share one connection: Node
// finds the Redis (the Cluster master) that holds a key, the caller writes
// on one of its connections, and Wait.Await waits there.
package replicas
