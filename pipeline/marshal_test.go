package pipeline

import (
	"testing"

	"github.com/streamsync/streamsync/internal/layout"
)

// The payload holds the entry's fields in the packed form, sorted by name,
// byte for byte (values that are not UTF-8 included).
func TestUnmarshalPacksSortedFields(t *testing.T) {
	msg, err := EntryMarshaller{}.Unmarshal(map[string]any{"key": "k\xff", "id": "e1", "account": "a", "data": `{"n":1}`, "version": int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	want := layout.PackFields([]string{"account", "a", "data", `{"n":1}`, "id", "e1", "key", "k\xff", "version", "7"})
	if string(msg.Payload) != want {
		t.Fatalf("payload %q, want %q", msg.Payload, want)
	}
	if AccountKey(msg) != "a" {
		t.Fatalf("account %q", AccountKey(msg))
	}
}
