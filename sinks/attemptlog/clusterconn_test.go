package attemptlog

import "testing"

func TestWithProductMode(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"select", "SELECT 1", "SELECT 1" + productMode},
		{"semicolon and space", " SELECT 1;\n", "SELECT 1" + productMode},
		{"opening comments", "-- why?\n-- how\nSELECT 1\n-- end", "-- why?\n-- how\nSELECT 1\n-- end" + productMode},
		{"own settings", "SELECT 1 SETTINGS max_threads = 1", "SELECT 1 SETTINGS max_threads = 1"},
		{"not a select", "SHOW TABLES", "SHOW TABLES"},
		{"insert", "INSERT INTO t SELECT 1", "INSERT INTO t SELECT 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := withProductMode(tt.in); got != tt.want {
				t.Fatalf("%q, want %q", got, tt.want)
			}
		})
	}
}
