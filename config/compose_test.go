package config

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Every STREAMSYNC_ variable docker-compose.yml sets is a real setting, and
// the settings it makes validate.
func TestComposeEnvironment(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	svc, ok := compose.Services["streamsync"]
	if !ok || len(svc.Environment) == 0 {
		t.Fatal("docker-compose.yml has no streamsync service with an environment")
	}
	var environ []string
	for name, val := range svc.Environment {
		key, ok := EnvKey(name)
		if !ok || !IsKey(key) {
			t.Errorf("%s is not a setting (key %q)", name, key)
		}
		environ = append(environ, name+"="+val)
	}
	c, err := Load(nil, environ)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("compose settings invalid: %v", err)
	}
}

// The admin API (dead-letter replay and drop) is never published on every
// interface of the host without a token.
func TestComposeAdminNotOpenToAll(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Ports       []string          `yaml:"ports"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	svc := compose.Services["streamsync"]
	c, err := Load(nil, environOf(svc.Environment))
	if err != nil {
		t.Fatal(err)
	}
	_, adminPort, _ := strings.Cut(c.Admin.Addr, ":")
	published := false
	for _, p := range svc.Ports {
		if !strings.HasSuffix(p, ":"+adminPort) {
			continue
		}
		published = true
		if !strings.HasPrefix(p, "127.0.0.1:") && c.Admin.Token == "" {
			t.Errorf("ports %q publishes the admin API (admin.addr %s) on every interface with no admin.token", p, c.Admin.Addr)
		}
	}
	if !published {
		t.Errorf("the admin API (port %s) is not published at all: %v", adminPort, svc.Ports)
	}
}

func environOf(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
