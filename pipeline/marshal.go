package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline/ordered"
)

// Metadata keys of the messages the subscriber emits.
const (
	MetaStreamID = ordered.MetaStreamID
	MetaAccount  = "account"
	// MetaCommitted is set by a handler whose commit already acked the entry.
	MetaCommitted = ordered.MetaCommitted
)

// AccountKey is the order key of streamsync's subscriber: the account
// (docs/partner-api.md: order per account).
func AccountKey(m *message.Message) string { return m.Metadata.Get(MetaAccount) }

// EntryMarshaller maps flat producer entries (docs/events.md: no envelope) to
// Watermill messages and back: the payload is the entry's fields in the
// packed form (layout.PackFields: byte for byte, so values that are not UTF-8 reach
// validation as the producer wrote them), and the account is in the metadata.
// A layout.MoreField is unfolded: the message carries every field of the entry.
type EntryMarshaller struct{}

var _ redisstream.MarshallerUnmarshaller = EntryMarshaller{}

// Unmarshal never fails: a value that is not a string is kept in its
// printed form, and validation later says what is wrong with the entry.
func (EntryMarshaller) Unmarshal(values map[string]any) (*message.Message, error) {
	fields := make(map[string]string, len(values))
	for k, v := range values {
		switch s := v.(type) {
		case string:
			fields[k] = s
		default:
			fields[k] = fmt.Sprint(v)
		}
	}
	// An unreadable layout.MoreField stays a field; validation ignores streamsync's
	// own fields, so it cannot make a valid event of an invalid one.
	_ = layout.ExpandFields(fields)
	msg := message.NewMessage("", packSorted(fields))
	msg.Metadata.Set(MetaAccount, fields["account"])
	// The fields as read travel in the context too, so that Fields need not
	// unpack the payload again; they are never changed after this.
	msg.SetContext(context.WithValue(msg.Context(), fieldsKey{}, fields))
	return msg, nil
}

// Marshal turns a message made by Unmarshal (or any message whose payload is
// packed fields) into flat stream fields.
func (EntryMarshaller) Marshal(_ string, msg *message.Message) (map[string]any, error) {
	fields, err := Fields(msg)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = v
	}
	return out, nil
}

// fieldsKey holds an entry's fields in its message's context.
type fieldsKey struct{}

// Fields are the entry fields a message carries: those Unmarshal put in its
// context, or else the ones packed in its payload. The map is shared: do not
// change it.
func Fields(msg *message.Message) (map[string]string, error) {
	if f, ok := msg.Context().Value(fieldsKey{}).(map[string]string); ok {
		return f, nil
	}
	kv, err := layout.UnpackFields(string(msg.Payload))
	if err != nil {
		return nil, fmt.Errorf("message %s: payload is not an entry: %w", msg.UUID, err)
	}
	fields := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		fields[kv[i]] = kv[i+1]
	}
	return fields, nil
}

// packSorted is layout.PackFields of fields' name/value pairs, by name,
// written straight into the payload's bytes.
func packSorted(fields map[string]string) []byte {
	names := make([]string, 0, len(fields))
	n := 0
	for k, v := range fields {
		names = append(names, k)
		n += len(k) + len(v) + 2*8
	}
	slices.Sort(names)
	b := make([]byte, 0, n)
	for _, k := range names {
		b = layout.AppendPacked(layout.AppendPacked(b, k), fields[k])
	}
	return b
}
