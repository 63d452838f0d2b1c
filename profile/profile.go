package profile

import "github.com/itchyny/gojq"

// Profile is one partner's API. Entities holds the entities' own sections;
// Defaults applies to every entity, an entity's section overriding it
// field by field.
type Profile struct {
	Name     string             `yaml:"name"`
	BaseURL  string             `yaml:"base_url"`
	Defaults Entity             `yaml:"defaults"`
	Entities map[string]*Entity `yaml:"entities"`

	checked map[string]*compiled // entity → what Check made of it; "*" for an entity without a section
}

// Entity says what an entity's events become. Headers and Query apply to
// both of its requests.
type Entity struct {
	Headers map[string]string `yaml:"headers"`
	Query   map[string]string `yaml:"query"`
	Upsert  *Request          `yaml:"upsert"`
	Delete  *Request          `yaml:"delete"`
	// Answers are the rules that judge the partner's answers; an entity's
	// own are tried before the defaults' (see Rule).
	Answers []Rule `yaml:"answers"`
}

// Request is one HTTP request: Path and the values of Query and Headers may
// hold placeholders ({key}, {data.name}, … see Placeholders); Body is a jq
// program over the event (fields id, account, entity, key, op, version,
// data, parent {entity, key}) whose one result is sent as JSON. An empty
// Body sends no body.
type Request struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Query   map[string]string `yaml:"query"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
}

// compiled is one entity's requests, ready to render.
type compiled struct {
	upsert, delete *request
	rules          []rule
}

type request struct {
	Request
	body *gojq.Code
}
