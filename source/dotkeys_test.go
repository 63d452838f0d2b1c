package source_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/source"
)

// Keys "." and ".." are read as the records of those names, by point reads
// and in list pages, never as the collection or /v1/.
func TestHTTPDotKeys(t *testing.T) {
	sim, srv := newSim(t)
	if _, err := sim.Seed(partnersim.SeedSpec{Records: []partnersim.RecordState{
		{Entity: "reg", Key: ".", Account: "a", Version: 1, Data: json.RawMessage(`{"k":"."}`)},
		{Entity: "reg", Key: "..", Account: "a", Version: 2, Data: json.RawMessage(`{"k":".."}`)},
	}}); err != nil {
		t.Fatal(err)
	}
	src, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: srv.URL, ClientID: "src", ClientSecret: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{".", ".."} {
		r, found, err := src.Get(context.Background(), "reg", key)
		if err != nil || !found || r.Key != key || string(r.Data) != `{"k":"`+key+`"}` {
			t.Fatalf("Get %q: %+v %v %v", key, r, found, err)
		}
	}
	if all := drain(t, src.List("reg", source.ListOptions{}), 1000); len(all) != 2 || all[0].Key != "." || all[1].Key != ".." {
		t.Fatalf("list: %+v", all)
	}
}
