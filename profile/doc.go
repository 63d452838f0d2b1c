// Package profile describes a partner's HTTP API by configuration: per
// entity, the request an upsert and a delete become (method, path, query,
// headers, and a body built by a jq program over the event). A profile is
// parsed and checked once — every jq program compiled, every placeholder
// known, every op given a request — and an error names the profile, the
// setting's path and its line. Render turns one event into the request it
// would send, sending nothing.
package profile
