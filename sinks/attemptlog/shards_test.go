package attemptlog

import (
	"path/filepath"
	"testing"
)

func TestNewExportersPerShardAndPartner(t *testing.T) {
	dir := t.TempDir()
	type want struct{ stream, partner, prefix, spool string }
	tests := []struct {
		name    string
		def     string
		streams []Stream
		want    []want
	}{
		{name: "one shard", streams: []Stream{{Name: "a"}}, want: []want{{"a", "partner", "", dir}}},
		{name: "three shards", streams: []Stream{{Name: "a"}, {Name: "b", Shard: 1}, {Name: "c", Shard: 2}}, want: []want{
			{"a", "partner", "0/", filepath.Join(dir, "shard-0")}, {"b", "partner", "1/", filepath.Join(dir, "shard-1")},
			{"c", "partner", "2/", filepath.Join(dir, "shard-2")}}},
		// The default partner's row_ids and spool stay as they were with
		// one partner; another partner's are its own.
		{name: "two partners, one shard", def: "crm", streams: []Stream{{Name: "a", Partner: "crm"}, {Name: "b", Partner: "erp"}}, want: []want{
			{"a", "crm", "", dir}, {"b", "erp", "erp:", filepath.Join(dir, "partner-erp")}}},
		{name: "two partners, two shards", streams: []Stream{{Name: "a"}, {Name: "b", Shard: 1}, {Name: "c", Partner: "erp"}, {Name: "d", Partner: "erp", Shard: 1}},
			want: []want{{"a", "partner", "0/", filepath.Join(dir, "shard-0")}, {"b", "partner", "1/", filepath.Join(dir, "shard-1")},
				{"c", "erp", "erp:0/", filepath.Join(dir, "partner-erp", "shard-0")}, {"d", "erp", "erp:1/", filepath.Join(dir, "partner-erp", "shard-1")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewExporters(ExportersConfig{Streams: tt.streams, DefaultPartner: tt.def, Exporter: ExporterConfig{Consumer: "c", Database: "db", SpoolDir: dir}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range s.xs {
				got := want{x.cfg.Stream, x.cfg.Partner, x.cfg.RowIDPrefix, x.cfg.SpoolDir}
				if got != tt.want[i] {
					t.Errorf("exporter %d: %+v, want %+v", i, got, tt.want[i])
				}
				old := tt.def
				if old == "" {
					old = "partner"
				}
				if x.cfg.OldRowsPartner != old {
					t.Errorf("exporter %d: old rows read as %q, want %q", i, x.cfg.OldRowsPartner, old)
				}
			}
		})
	}
	for name, cfg := range map[string]ExportersConfig{
		"no streams":     {},
		"a stream twice": {Streams: []Stream{{Name: "a"}, {Name: "a", Partner: "erp"}}},
		"a bad partner":  {Streams: []Stream{{Name: "a", Partner: "ERP!"}}},
	} {
		cfg.Exporter = ExporterConfig{Consumer: "c", Database: "db", SpoolDir: dir}
		if _, err := NewExporters(cfg, nil, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
