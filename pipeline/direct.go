package pipeline

// ScriptLib is the Lua shared by the pipeline's scripts, for scripts of
// other packages that write attempt-log rows: vgt(a, b) compares decimal
// versions; row_from_fields(f, sid, step, now, instance) builds a row
// (streams.RowColumns) from an entry's flat field list.
const ScriptLib = luaLib
