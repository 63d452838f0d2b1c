package apiclient

import (
	"net/url"
	"strings"
)

// PathSegment escapes s as one segment of a URL path (RFC 3986 §3.3):
// url.PathEscape, except that a segment made only of dots ("." and "..",
// the dot-segments of RFC 3986 §5.2.4, and "..." alike) has every dot
// percent-encoded: "%2E%2E". A literal dot-segment is removed by every
// client, proxy or server that cleans paths, and "PUT /v1/E/.." becomes
// "PUT /v1/"; "%2E%2E" is a segment like any other to them, decoded back to
// ".." where the path is split into its values. A proxy that decodes %2E
// before it cleans the path would still move it: docs/field-values.md,
// "Keys in URL paths, and keys of dots".
//
// Every value that goes into a partner or source path — entity, key — is
// escaped with it.
func PathSegment(s string) string {
	if s != "" && strings.Trim(s, ".") == "" {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}
