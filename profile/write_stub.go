package profile

// compiledAuth is the profile's Auth, checked and with its secrets read.
type compiledAuth struct{}

// compiledBulk is an entity's Bulk, compiled.
type compiledBulk struct{}
