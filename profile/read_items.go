package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/itchyny/gojq"
)

// Item is one partner record in our shape, as a read's Item program makes
// it: our key, the account (when the partner keeps it), the version (unix
// ms for versions "time", 0 for "none"), data (a JSON object) and whether
// the partner holds it as deleted (archived, disabled …: absent, for
// reconciliation).
type Item struct {
	Key     string
	Account string
	Version int64
	Data    json.RawMessage
	Deleted bool
}

// decodeJSON decodes an answer's body for jq: numbers as jq knows them
// (int, *big.Int, float64), large whole numbers kept.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the answer is not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the answer is more than one JSON value")
	}
	return normalize(v), nil
}

// runOne runs a jq program (nil: the identity) over v and returns its one
// result; none is (nil, false).
func runOne(code *gojq.Code, v any) (any, bool, error) {
	if code == nil {
		return v, true, nil
	}
	iter := code.Run(v)
	out, ok := iter.Next()
	if !ok {
		return nil, false, nil
	}
	if err, isErr := out.(error); isErr {
		return nil, false, fmt.Errorf("jq: %w", err)
	}
	if _, more := iter.Next(); more {
		return nil, false, errors.New("jq: more than one result")
	}
	return out, true, nil
}

// pageItems is the items of a list answer: Items' result, an array (null:
// none).
func (cr *compiledRead) pageItems(body any) ([]any, error) {
	v, ok, err := runOne(cr.items, body)
	if err != nil {
		return nil, fmt.Errorf("read.items: %w", err)
	}
	if !ok || v == nil {
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, fmt.Errorf("read.items: gave %s, not an array", typeName(v))
	}
	return arr, nil
}

// mapItem turns one partner item into our shape by Item.
func (cr *compiledRead) mapItem(versions string, raw any) (Item, error) {
	m, err := cr.runItem(raw)
	if err != nil {
		return Item{}, err
	}
	return itemOf(versions, m)
}

// runItem is Item's result over one partner item: an object.
func (cr *compiledRead) runItem(raw any) (map[string]any, error) {
	v, ok, err := runOne(cr.item, raw)
	if err != nil {
		return nil, fmt.Errorf("read.item: %w", err)
	}
	m, isObj := v.(map[string]any)
	if !ok || !isObj {
		return nil, fmt.Errorf("read.item: gave %s, not an object {key, data, …}", typeName(v))
	}
	return m, nil
}

// itemOf reads Item's result m as our shape.
func itemOf(versions string, m map[string]any) (Item, error) {
	var it Item
	var ok bool
	var err error
	if it.Key, ok = itemText(m["key"]); !ok || it.Key == "" {
		return Item{}, fmt.Errorf("read.item: key is %s, not a string or number", typeName(m["key"]))
	}
	switch a := m["account"].(type) {
	case nil:
	case string:
		it.Account = a
	default:
		return Item{}, fmt.Errorf("read.item %s: account is %s, not a string", it.Key, typeName(a))
	}
	switch d := m["deleted"].(type) {
	case nil:
	case bool:
		it.Deleted = d
	default:
		return Item{}, fmt.Errorf("read.item %s: deleted is %s, not a boolean", it.Key, typeName(d))
	}
	if it.Version, err = itemVersion(versions, m["version"]); err != nil {
		return Item{}, fmt.Errorf("read.item %s: %w", it.Key, err)
	}
	switch d := m["data"].(type) {
	case map[string]any:
		if it.Data, err = json.Marshal(d); err != nil {
			return Item{}, fmt.Errorf("read.item %s: data: %w", it.Key, err)
		}
	case nil:
		if !it.Deleted {
			return Item{}, fmt.Errorf("read.item %s: no data object", it.Key)
		}
	default:
		return Item{}, fmt.Errorf("read.item %s: data is %s, not an object", it.Key, typeName(d))
	}
	return it, nil
}

// itemVersion reads an item's version as the profile's Versions say:
// "number" a whole number (or its digits as text), "time" an RFC 3339 time
// as unix ms, "none" always 0. An absent version is 0.
func itemVersion(versions string, v any) (int64, error) {
	if v == nil || versions == VersionsNone {
		return 0, nil
	}
	switch versions {
	case VersionsTime:
		s, ok := v.(string)
		if !ok {
			return 0, fmt.Errorf("version is %s, not an RFC 3339 time (versions: time)", typeName(v))
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("version %q is not an RFC 3339 time (versions: time)", s)
		}
		return t.UnixMilli(), nil
	default:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<63 {
				return int64(n), nil
			}
		case string:
			if i, err := strconv.ParseInt(n, 10, 64); err == nil {
				return i, nil
			}
		}
		return 0, fmt.Errorf("version is %s, not a whole number (versions: number)", typeName(v))
	}
}

// itemText is a string, or a number's text (ids are often numbers).
func itemText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	case *big.Int:
		return x.String(), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, float64, *big.Int:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
