package streams

// RowColumns are the fields of an attempt-log row in the attempts stream:
// the columns of docs/operations.md, in order. The pipeline's Go code and Lua
// scripts that write rows (released, replayed) use the same names, and the
// exporter's ClickHouse table has these columns in this order.
var RowColumns = []string{
	"ts", "ts_ms", "event_id", "row_id", "stream_id", "account", "entity", "key",
	"parent_entity", "parent_key", "chain_id", "op", "version", "attempt", "step",
	"http_status", "latency_us", "error", "instance",
}
