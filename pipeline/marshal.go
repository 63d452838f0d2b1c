package pipeline

import (
	"encoding/json"
	"fmt"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Metadata keys of the messages the subscriber emits.
const (
	MetaStreamID = "stream_id"
	MetaAccount  = "account"
	// MetaCommitted is set by a handler whose commit already acked the entry.
	MetaCommitted = "committed"
)

// EntryMarshaller maps flat producer entries (contract §1: no envelope) to
// Watermill messages and back: the payload is the JSON object of the entry's
// fields, and the account is in the metadata.
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
	payload, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	msg := message.NewMessage("", payload)
	msg.Metadata.Set(MetaAccount, fields["account"])
	return msg, nil
}

// Marshal turns a message made by Unmarshal (or any message whose payload is
// a JSON object of strings) into flat stream fields.
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

// Fields are the entry fields a message carries.
func Fields(msg *message.Message) (map[string]string, error) {
	var fields map[string]string
	if err := json.Unmarshal(msg.Payload, &fields); err != nil {
		return nil, fmt.Errorf("message %s: payload is not an entry: %w", msg.UUID, err)
	}
	return fields, nil
}
