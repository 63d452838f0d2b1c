package config

import (
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// ConfigEnv names the YAML file when --config is not given.
const ConfigEnv = "STREAMSYNC_CONFIG"

// DefaultConfigFile is read from the working directory when neither
// --config nor STREAMSYNC_CONFIG names a file; `make run` writes it, so the
// CLI run next to it talks to the same Redis and ClickHouse.
const DefaultConfigFile = "streamsync.yaml"

// Where a configuration file's name came from, as ConfigFile reports it.
const (
	FromFlag    = "--config"
	FromEnv     = ConfigEnv
	FromWorkDir = "working directory"
)

// ConfigFile returns the YAML file Load reads and where its name came from:
// --config FILE, else $STREAMSYNC_CONFIG, else ./streamsync.yaml when it
// exists. path is "" when there is none (defaults, environment and flags
// only). fs may be nil; environ is os.Environ() in production.
func ConfigFile(fs *pflag.FlagSet, environ []string) (path, from string) {
	if fs != nil {
		if p, _ := fs.GetString(ConfigFlag); p != "" {
			return p, FromFlag
		}
	}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, ConfigEnv+"="); ok && v != "" {
			return v, FromEnv
		}
	}
	if st, err := os.Stat(DefaultConfigFile); err == nil && !st.IsDir() {
		return DefaultConfigFile, FromWorkDir
	}
	return "", ""
}
