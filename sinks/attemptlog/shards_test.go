package attemptlog

import (
	"path/filepath"
	"testing"
)

func TestNewExportersPerShard(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		streams   []string
		prefixes  []string
		spoolDirs []string
	}{
		{name: "one shard", streams: []string{"a"}, prefixes: []string{""}, spoolDirs: []string{dir}},
		{name: "three shards", streams: []string{"a", "b", "c"}, prefixes: []string{"0/", "1/", "2/"},
			spoolDirs: []string{filepath.Join(dir, "shard-0"), filepath.Join(dir, "shard-1"), filepath.Join(dir, "shard-2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewExporters(ExportersConfig{Streams: tt.streams, Exporter: ExporterConfig{Consumer: "c", Database: "db", SpoolDir: dir}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range s.xs {
				if x.cfg.Stream != tt.streams[i] || x.cfg.RowIDPrefix != tt.prefixes[i] || x.cfg.SpoolDir != tt.spoolDirs[i] {
					t.Errorf("shard %d: stream %q, row id prefix %q, spool %q; want %q, %q, %q", i, x.cfg.Stream, x.cfg.RowIDPrefix, x.cfg.SpoolDir,
						tt.streams[i], tt.prefixes[i], tt.spoolDirs[i])
				}
			}
		})
	}
	if _, err := NewExporters(ExportersConfig{Exporter: ExporterConfig{Consumer: "c", Database: "db", SpoolDir: dir}}, nil, nil); err == nil {
		t.Error("no streams: no error")
	}
}
