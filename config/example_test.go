package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// The example file gives every key with its default, except the lines whose
// comment starts with "[example", whose values are examples (the file runs
// against partnersim as is); their comment tells the default.
func TestExampleValuesAreDefaults(t *testing.T) {
	ko := koanf.New(".")
	if err := ko.Load(file.Provider("streamsync.example.yaml"), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	examples := exampleKeys()
	for _, k := range Keys() {
		var got, want string
		switch d := defaults[k].(type) {
		case time.Duration:
			got, want = ko.Duration(k).String(), d.String()
		case int:
			got, want = fmt.Sprint(ko.Int64(k)), fmt.Sprint(d)
		case float64:
			got, want = fmt.Sprint(ko.Float64(k)), fmt.Sprint(d)
		case bool:
			got, want = fmt.Sprint(ko.Bool(k)), fmt.Sprint(d)
		case []string:
			got, want = fmt.Sprint(ko.Strings(k)), fmt.Sprint(d)
		default:
			got, want = ko.String(k), fmt.Sprint(d)
		}
		switch {
		case got != want && !slices.Contains(examples, k):
			t.Errorf("streamsync.example.yaml: %s is %q, its default %q (mark the line [example; default …] if it is meant)", k, got, want)
		case got == want && slices.Contains(examples, k):
			t.Errorf("streamsync.example.yaml: %s is marked an example but has the default %q", k, want)
		}
	}
	if !slices.Contains(examples, "sink.client_id") {
		t.Error("sink.client_id: its example value is not marked [example")
	}
	if d := Describe("sink.client_id"); strings.Contains(d, "[example") || d == "" {
		t.Errorf("sink.client_id's description %q should leave out the [example] mark", d)
	}
}
