package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The CLI finds the settings `make run` wrote without being told: --config
// beats $STREAMSYNC_CONFIG, which beats ./streamsync.yaml, which beats the
// defaults; the environment and flags still override the file.
func TestConfigDiscovery(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	flagFile := writeYAML(t, "redis:\n  addr: 127.0.0.1:1001\n")
	envFile := writeYAML(t, "redis:\n  addr: 127.0.0.1:1002\n")
	if err := os.WriteFile(filepath.Join(dir, DefaultConfigFile), []byte("redis:\n  addr: 127.0.0.1:1003\nstream:\n  batch: 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		environ  []string
		wantAddr string
		wantFrom string
	}{
		{"flag first", []string{"--config", flagFile}, []string{ConfigEnv + "=" + envFile}, "127.0.0.1:1001", FromFlag},
		{"then STREAMSYNC_CONFIG", nil, []string{ConfigEnv + "=" + envFile}, "127.0.0.1:1002", FromEnv},
		{"then ./streamsync.yaml", nil, nil, "127.0.0.1:1003", FromWorkDir},
		{"empty STREAMSYNC_CONFIG is unset", nil, []string{ConfigEnv + "="}, "127.0.0.1:1003", FromWorkDir},
		{"environment over the found file", nil, []string{"STREAMSYNC_REDIS__ADDR=127.0.0.1:1004"}, "127.0.0.1:1004", FromWorkDir},
		{"flag over the found file", []string{"--redis.addr=127.0.0.1:1005"}, nil, "127.0.0.1:1005", FromWorkDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if c.Redis.Addr != tt.wantAddr {
				t.Errorf("redis.addr = %q, want %q", c.Redis.Addr, tt.wantAddr)
			}
			fs := flagSet(t, tt.args)
			if _, from := ConfigFile(fs, tt.environ); from != tt.wantFrom {
				t.Errorf("ConfigFile from %q, want %q", from, tt.wantFrom)
			}
		})
	}
	t.Run("found file keeps its other settings", func(t *testing.T) {
		c, err := load(t, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Stream.Batch != 9 {
			t.Errorf("stream.batch = %d, want 9 from ./streamsync.yaml", c.Stream.Batch)
		}
	})
}

func TestConfigDiscoveryNoFile(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Addr != "127.0.0.1:6379" {
		t.Errorf("redis.addr = %q, want the default", c.Redis.Addr)
	}
	if p, from := ConfigFile(nil, nil); p != "" || from != "" {
		t.Errorf("ConfigFile = %q, %q; want none", p, from)
	}
}

// A file named by STREAMSYNC_CONFIG that is not there stops start-up naming
// the variable, rather than silently running on defaults.
func TestConfigDiscoveryMissingEnvFile(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := load(t, nil, []string{ConfigEnv + "=/nonexistent/streamsync.yaml"})
	if err == nil || !strings.Contains(err.Error(), "STREAMSYNC_CONFIG /nonexistent/streamsync.yaml") {
		t.Fatalf("err = %v, want one naming STREAMSYNC_CONFIG and the file", err)
	}
}

func flagSet(tb testing.TB, args []string) *pflag.FlagSet {
	tb.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		tb.Fatal(err)
	}
	return fs
}
