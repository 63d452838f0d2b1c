// Package deploy holds what operators deploy beside streamsync, as files:
// the Grafana dashboard (grafana/dashboards/streamsync.json) and its
// provisioning, and the Prometheus scrape config and alert rules
// (prometheus/). docker-compose.yml mounts them. The package's test checks
// that every metric name they use is one streamsync exports.
package deploy
