package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Point reads of a plain file go through its index: the highest version of
// a key repeated, nothing for an absent key or one only on a bad line, and
// the same answers as reading the file through.
func TestFileGetByIndex(t *testing.T) {
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, `{"entity":"contact","key":"k%d","account":"a","version":%d,"data":{"i":%d}}`+"\n", i, i+1, i)
	}
	b.WriteString("not json {\n\n")
	b.WriteString(`{"entity":"contact","key":"k7","account":"a","version":100,"data":{"i":"newer"}}` + "\n")
	b.WriteString(`{"entity":"order","key":"k7","account":"a","version":3,"data":{"i":"order"}}` + "\n")
	b.WriteString(`{"entity":"contact","key":"k8","account":"a","version":2,"data":{"i":"older"}}`) // no newline at the end
	path := filepath.Join(t.TempDir(), "ours.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Kind: KindFile, File: path})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fs := src.(*fileSource)
	ctx := context.Background()
	for _, tt := range []struct {
		entity, key, data string
		version           int64
		found             bool
	}{
		{"contact", "k7", `{"i":"newer"}`, 100, true},
		{"order", "k7", `{"i":"order"}`, 3, true},
		{"contact", "k8", `{"i":8}`, 9, true},
		{"contact", "k1999", `{"i":1999}`, 2000, true},
		{"contact", "k2000", "", 0, false},
		{"nope", "k1", "", 0, false},
	} {
		r, found, err := src.Get(ctx, tt.entity, tt.key)
		if err != nil || found != tt.found || (found && (r.Version != tt.version || string(r.Data) != tt.data)) {
			t.Errorf("Get(%s, %s) = %+v %v %v", tt.entity, tt.key, r, found, err)
		}
		scanned, sfound, _ := fs.getByScan(ctx, tt.entity, tt.key)
		if sfound != found || scanned.Version != r.Version {
			t.Errorf("Get(%s, %s): the index says %v v%d, a scan %v v%d", tt.entity, tt.key, found, r.Version, sfound, scanned.Version)
		}
	}
	if fs.index == nil || len(fs.index) < 2000 {
		t.Fatalf("no index built: %d entries", len(fs.index))
	}
}
