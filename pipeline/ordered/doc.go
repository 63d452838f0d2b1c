// Package ordered is a Watermill subscriber over Redis Streams consumer
// groups that hands out at most one message per order key at a time, in
// stream order, and many keys in parallel (docs/partner-api.md: per-account order).
// It reads and acks in batches, resumes its consumer's own pending entries
// first after a restart, claims entries that dead consumers left pending,
// and never stops on an entry it cannot read.
//
// It stands alone like watermill-redisstream's subscriber: any topic (the
// topic is the stream), any redisstream.Unmarshaller (redisstream's default
// unless set), any order key (the MetaOrderKey metadata unless set), and it
// passes Watermill's universal Pub/Sub test suite with redisstream's
// publisher. streamsync's pipeline uses it with its EntryMarshaller and the
// account as order key.
package ordered
