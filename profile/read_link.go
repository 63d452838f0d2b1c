package profile

import "strings"

// NextLink is the target of the link with relation "next" in the Link
// header values of an answer (RFC 8288: "<uri>; rel=\"next\"", several links
// comma-separated, in one header or several, rel possibly naming several
// relations); "" when there is none. The target is returned as written:
// relative ones are the caller's to resolve.
func NextLink(values []string) string {
	for _, v := range values {
		for s := v; ; {
			s = strings.TrimLeft(s, " \t,")
			if !strings.HasPrefix(s, "<") {
				break
			}
			end := strings.IndexByte(s, '>')
			if end < 0 {
				break
			}
			target := s[1:end]
			s = s[end+1:]
			var rels string
			// Parameters: ; name=value or ; name="quoted, maybe with ; or ,"
			for {
				s = strings.TrimLeft(s, " \t")
				if !strings.HasPrefix(s, ";") {
					break
				}
				s = strings.TrimLeft(s[1:], " \t")
				i := strings.IndexAny(s, "=;,")
				if i < 0 || s[i] != '=' {
					if i < 0 {
						s = ""
					} else {
						s = s[i:]
					}
					continue
				}
				name := strings.ToLower(strings.TrimSpace(s[:i]))
				s = strings.TrimLeft(s[i+1:], " \t")
				var val string
				if strings.HasPrefix(s, `"`) {
					var b strings.Builder
					j := 1
					for ; j < len(s) && s[j] != '"'; j++ {
						if s[j] == '\\' && j+1 < len(s) {
							j++
						}
						b.WriteByte(s[j])
					}
					val, s = b.String(), s[min(j+1, len(s)):]
				} else {
					j := strings.IndexAny(s, ";,")
					if j < 0 {
						j = len(s)
					}
					val, s = strings.TrimSpace(s[:j]), s[j:]
				}
				if name == "rel" && rels == "" {
					rels = val // the first rel counts (RFC 8288 §3.3)
				}
			}
			for _, r := range strings.Fields(rels) {
				if strings.EqualFold(r, "next") {
					return target
				}
			}
		}
	}
	return ""
}
