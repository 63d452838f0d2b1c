package profile

// compiledRead is an entity's Read, compiled; compiledCompare its Compare.
type compiledRead struct{}

type compiledCompare struct{}

// compileRead checks an entity's read and compare sections (merged with
// the defaults); problems name the field under "read" or "compare".
func compileRead(e Entity) (*compiledRead, *compiledCompare, []problem) {
	return nil, nil, nil
}
