// Package config loads streamsync's settings from defaults, a YAML file,
// STREAMSYNC_ environment variables and command-line flags into one
// validated Config; it is the only package that knows koanf.
package config
