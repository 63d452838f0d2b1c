package config

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSourceAndReconcileSettings(t *testing.T) {
	c, err := Load(nil, []string{"STREAMSYNC_SOURCE__KIND=http", "STREAMSYNC_SOURCE__BASE_URL=http://127.0.0.1:1",
		"STREAMSYNC_SOURCE__ENTITIES=reg,main", "STREAMSYNC_RECONCILE__EVERY=5m", "STREAMSYNC_RECONCILE__REPAIR=true"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kind != "http" || fmt.Sprint(c.Source.Entities) != "[reg main]" || c.Reconcile.Every != 5*time.Minute || !c.Reconcile.Repair {
		t.Fatalf("loaded %+v %+v", c.Source, c.Reconcile)
	}
	if err := c.Validate(SectionSource, SectionReconcile); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env []string
		key string
	}{
		{[]string{"STREAMSYNC_SOURCE__KIND=ftp"}, "source.kind"},
		{[]string{"STREAMSYNC_SOURCE__KIND=http"}, "source.base_url"},
		{[]string{"STREAMSYNC_SOURCE__KIND=file"}, "source.file"},
		{[]string{"STREAMSYNC_SOURCE__ENTITIES=Bad"}, "source.entities"},
		{[]string{"STREAMSYNC_RECONCILE__REPAIR=true"}, "reconcile.repair"},
		{[]string{"STREAMSYNC_RECONCILE__EVERY=5m", "STREAMSYNC_CLICKHOUSE__ADDR="}, "reconcile.every"},
	}
	for _, tc := range tests {
		c, err := Load(nil, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		var fe *FieldError
		if err := c.Validate(SectionSource, SectionReconcile); !errors.As(err, &fe) || fe.Key != tc.key {
			t.Errorf("%v: got %v, want an error naming %s", tc.env, err, tc.key)
		}
	}
	if _, err := Load(nil, []string{"STREAMSYNC_RECONCILE__REPAIR=maybe"}); err == nil {
		t.Error("reconcile.repair=maybe: want an error")
	}
}
