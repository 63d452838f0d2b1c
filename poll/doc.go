// Package poll asks partners for their changes: every Every, per partner and
// entity, it lists the records the partner reports changed since a cursor
// kept in Redis (the profile's read.since), maps them to our shape and hands
// them to an inbound.Appender, moving the cursor only once they are appended
// (docs/partners.md, "Polling a partner").
package poll
