package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts every environment variable streamsync reads.
const EnvPrefix = "STREAMSYNC_"

// ConfigFlag is the flag that names the YAML file.
const ConfigFlag = "config"

// EnvKey maps an environment variable name to its configuration key:
// STREAMSYNC_SINK__BASE_URL is sink.base_url. ok is false for a name
// without the prefix.
func EnvKey(name string) (key string, ok bool) {
	rest, ok := strings.CutPrefix(name, EnvPrefix)
	if !ok {
		return "", false
	}
	return strings.ReplaceAll(strings.ToLower(rest), "__", "."), true
}

// AddFlags adds --config and one flag per configuration key (--sink.base_url …)
// to fs.
func AddFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", "YAML configuration file (default: $STREAMSYNC_CONFIG, else ./streamsync.yaml when it exists)")
	for _, k := range Keys() {
		switch v := defaults[k].(type) {
		case string:
			fs.String(k, v, Describe(k))
		case int:
			fs.Int(k, v, Describe(k))
		case float64:
			fs.Float64(k, v, Describe(k))
		case time.Duration:
			fs.Duration(k, v, Describe(k))
		case bool:
			fs.Bool(k, v, Describe(k))
		case []string:
			fs.StringSlice(k, v, Describe(k)+" (comma-separated)")
		}
	}
}

// Load reads defaults < YAML file (--config, $STREAMSYNC_CONFIG or
// ./streamsync.yaml: see ConfigFile) < environment < flags into a Config.
// fs must have been built with AddFlags and parsed; a nil fs means
// no flags. environ is os.Environ() in production. Load does not validate.
func Load(fs *pflag.FlagSet, environ []string) (Config, error) {
	ko := koanf.New(".")
	if err := ko.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return Config{}, fmt.Errorf("config: defaults: %w", err)
	}
	if path, from := ConfigFile(fs, environ); path != "" {
		if _, err := os.Stat(path); err != nil {
			return Config{}, fmt.Errorf("config: %s %s: %w", from, path, err)
		}
		if err := ko.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("config: %s %s: %w", from, path, err)
		}
	}
	var unknown []error
	envProvider := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key, _ := EnvKey(name)
			switch {
			case IsKey(key):
				return key, value // lists (STREAMSYNC_REDIS__ADDRS=h1:p1,h2:p2) are split by splitLists
			case strings.Contains(key, "."):
				unknown = append(unknown, fmt.Errorf("%s: unknown setting (from %s)", key, name))
			case startsWithSection(key):
				unknown = append(unknown, fmt.Errorf("%s: unknown setting (from %s; nesting takes a double underscore, as in STREAMSYNC_SINK__BASE_URL)", key, name))
			}
			// Anything else, such as STREAMSYNC_TEST_REDIS_ADDR or
			// STREAMSYNC_CONFIG (read by ConfigFile), is not for us.
			return "", nil
		},
	})
	if err := ko.Load(envProvider, nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}
	if fs != nil {
		onlySettings := func(f *pflag.Flag) (string, any) {
			if !IsKey(f.Name) {
				return "", nil // --config and command flags such as --format
			}
			return f.Name, posflag.FlagVal(fs, f)
		}
		if err := ko.Load(posflag.ProviderWithFlag(fs, ".", ko, onlySettings), nil); err != nil {
			return Config{}, fmt.Errorf("config: flags: %w", err)
		}
	}
	for _, k := range ko.Keys() {
		if !IsKey(k) {
			unknown = append(unknown, fmt.Errorf("%s: unknown setting", k))
		}
	}
	fillPartnerDefaults(ko)
	if err := checkTypes(ko); err != nil {
		unknown = append(unknown, err)
	}
	if len(unknown) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(unknown...))
	}
	splitLists(ko)
	daysToDurations(ko)
	var c Config
	if err := ko.UnmarshalWithConf("", &c, koanf.UnmarshalConf{}); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.readSecretFiles(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// ParseDuration is time.ParseDuration with days too: "30d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.ParseInt(s[:i], 10, 32)
		if err == nil && days >= 0 {
			d := time.Duration(days) * 24 * time.Hour
			if rest := s[i+1:]; rest != "" {
				r, err := time.ParseDuration(rest)
				if err != nil {
					return 0, err
				}
				d += r
			}
			return d, nil
		}
	}
	return time.ParseDuration(s)
}

// daysToDurations turns duration settings written with days ("30d") into
// durations, which the unmarshal does not know.
func daysToDurations(ko *koanf.Koanf) {
	for k, def := range withPartnerKeys(ko) {
		if _, ok := def.(time.Duration); !ok {
			continue
		}
		if s, ok := ko.Get(k).(string); ok && strings.Contains(s, "d") {
			if d, err := ParseDuration(s); err == nil {
				_ = ko.Set(k, d)
			}
		}
	}
}

// checkTypes reports every value that cannot become its key's type, naming
// the key, before the unmarshal that would otherwise say it less clearly.
func checkTypes(ko *koanf.Koanf) error {
	var errs []error
	keys := Keys()
	for _, k := range ko.Keys() {
		if _, _, ok := partnerKey(k); ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		raw := ko.Get(k)
		def, _ := defaultOf(k)
		if err := checkType(def, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func checkType(def, raw any) error {
	switch def.(type) {
	case string:
		switch raw.(type) {
		case string, int, int64, float64, bool:
			return nil
		}
		return fmt.Errorf("want a string, got %T", raw)
	case int:
		switch v := raw.(type) {
		case int, int64:
			return nil
		case float64:
			if v == float64(int64(v)) {
				return nil
			}
		case string:
			if _, err := strconv.Atoi(v); err == nil {
				return nil
			}
		}
		return fmt.Errorf("want a whole number, got %q", fmt.Sprint(raw))
	case float64:
		switch v := raw.(type) {
		case int, int64, float64:
			return nil
		case string:
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				return nil
			}
		}
		return fmt.Errorf("want a number, got %q", fmt.Sprint(raw))
	case bool:
		switch v := raw.(type) {
		case bool:
			return nil
		case string:
			if _, err := strconv.ParseBool(v); err == nil {
				return nil
			}
		}
		return fmt.Errorf("want true or false, got %q", fmt.Sprint(raw))
	case []string:
		switch v := raw.(type) {
		case string, []string:
			return nil
		case []any:
			for _, x := range v {
				if _, ok := x.(string); !ok {
					return fmt.Errorf("want a list of strings, got %q", fmt.Sprint(raw))
				}
			}
			return nil
		}
		return fmt.Errorf("want a list (comma-separated in the environment), got %q", fmt.Sprint(raw))
	case time.Duration:
		switch v := raw.(type) {
		case time.Duration:
			return nil
		case string:
			if _, err := ParseDuration(v); err == nil {
				return nil
			}
		}
		return fmt.Errorf("want a duration with a unit such as \"10s\", \"5m\" or \"30d\", got %q", fmt.Sprint(raw))
	}
	return nil
}

// startsWithSection reports whether a flat name begins with a section and an
// underscore ("sink_base_url"): a setting whose nesting was mistyped.
func startsWithSection(name string) bool {
	for _, k := range Keys() {
		section, _, _ := strings.Cut(k, ".")
		if strings.HasPrefix(name, section+"_") {
			return true
		}
	}
	return false
}

// splitLists turns a list setting given as one string (the environment:
// STREAMSYNC_REDIS__ADDRS=h1:p1,h2:p2) into its items, spaces trimmed and
// empty items dropped.
func splitLists(ko *koanf.Koanf) {
	for k, def := range withPartnerKeys(ko) {
		if _, isList := def.([]string); !isList {
			continue
		}
		s, ok := ko.Get(k).(string)
		if !ok {
			continue
		}
		items := []string{}
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		_ = ko.Set(k, items)
	}
}

// withPartnerKeys is defaults and the defaults of every partner entry's
// keys in ko.
func withPartnerKeys(ko *koanf.Koanf) map[string]any {
	out := maps.Clone(defaults)
	for _, k := range ko.Keys() {
		if _, rest, ok := partnerKey(k); ok {
			if d, ok := partnerDefault(rest); ok {
				out[k] = d
			}
		}
	}
	return out
}
