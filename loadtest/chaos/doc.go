// Command chaos is the fault suite (`make chaos`, docs/reliability.md "The
// fault suite"): for each fault it runs `streamsync run` as a child process
// with its ingest, a producer sending about 1,000 events/s to it, and
// partnersim (in this process, behind internal/cutproxy) as the partner;
// applies the fault, lets it recover, waits for the partner to hold every
// event the ingest acknowledged, and prints one markdown row per fault:
// events sent, acknowledged (202), delivered, lost, redelivered, versions
// that went down at the partner, and the time from the fault's end to the
// next delivered write.
//
// The servers are the suite's own, started by scripts/infra.sh on ports
// no test uses (a Sentinel set, a Redis with AOF fsynced every second, a
// Redis Cluster with a replica per master, a PostgreSQL for the outbox),
// so that killing them disturbs no one; the attempt log uses a database of
// its own on the project's ClickHouse. Not part of `make test`; the counting
// (count.go) is, in count_test.go.
package main
