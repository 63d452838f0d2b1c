package config

import (
	"os"
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
