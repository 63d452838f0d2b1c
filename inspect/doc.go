// Package inspect reads and acts on the pipeline's state in Redis for
// operators: the status counters, the dead letters (list, replay, drop) and
// the gauges scraped from /metrics. The admin API, `streamsync status`,
// `streamsync dead` and the load runs use its Inspector.
package inspect
