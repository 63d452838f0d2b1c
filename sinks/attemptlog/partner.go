package attemptlog

import (
	"fmt"
	"regexp"
)

// DefaultPartner is the partner rows are written for, and old rows read
// as, when no name is given: the default of sink.partner_name, the one
// partner of the single-partner settings (docs/partners.md).
const DefaultPartner = "partner"

var partnerName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// CheckPartner reports a partner name that is not [a-z0-9_-]{1,64}, the
// form docs/partners.md gives partner names. Readers check a filter with
// it before it reaches a query; the schema before it reaches a DDL.
func CheckPartner(name string) error {
	if !partnerName.MatchString(name) {
		return fmt.Errorf("partner %q: want [a-z0-9_-]{1,64}", name)
	}
	return nil
}
