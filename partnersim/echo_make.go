package partnersim

import (
	"encoding/json"
	"time"
)

// v1Change is the data of a webhook echo of the built-in API: the record
// after the write, data null for a delete. Profiles map this exact shape
// (docs/partnersim.md).
type v1Change struct {
	Entity  string          `json:"entity"`
	Key     string          `json:"key"`
	Account string          `json:"account"`
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
	Parent  *Ref            `json:"parent,omitempty"`
	Deleted bool            `json:"deleted"`
}

// crmChange is the data of a webhook echo of the crm API: the record as
// its GET answers it (archived, for a delete).
type crmChange struct {
	Object  string          `json:"object"`
	Deleted bool            `json:"deleted"`
	Record  json.RawMessage `json:"record"`
}

// echoWrite makes the echo of a write of the built-in API that was just
// applied: the record's version goes up by one (stored: the record now has
// it) and the record is queued to be sent back. s.mu is held.
func (s *Server) echoWrite(id recordID, rec *record) {
	if s.echo == nil {
		return
	}
	rec.Version++
	s.emitRecord(id, rec)
}

// emitRecord queues the record as it stands, without a new version. s.mu is held.
func (s *Server) emitRecord(id recordID, rec *record) {
	if s.echo == nil {
		return
	}
	m := echoMsg{id: s.echo.nextID()}
	if s.echo.opts.Format == EchoEvents {
		ev := map[string]any{"id": m.id, "account": rec.Account, "entity": id.entity, "key": id.key,
			"version": rec.Version, "ts": rec.UpdatedAt.UnixMilli()}
		if rec.Deleted {
			ev["op"] = "delete"
		} else {
			ev["op"], ev["data"] = "upsert", rec.Data
		}
		if rec.Parent != nil {
			ev["parent_entity"], ev["parent_key"] = rec.Parent.Entity, rec.Parent.Key
		}
		m.event = ev
	} else {
		c := v1Change{Entity: id.entity, Key: id.key, Account: rec.Account, Version: rec.Version, Parent: rec.Parent, Deleted: rec.Deleted}
		if !rec.Deleted {
			c.Data = rec.Data
		}
		m.webhook = webhookBody(rec.UpdatedAt, c)
	}
	s.echo.enqueue("v1\x00"+id.entity+"\x00"+id.key, m)
}

// crmEchoWrite makes the echo of a crm write just applied: the record's
// updated_at moves on by a second at least (the crm API's "new version")
// and the record is queued to be sent back. st.mu is held.
func (s *Server) crmEchoWrite(st *crmStore, r *CRMRecord, now time.Time) {
	if s.echo == nil {
		return
	}
	r.touch(now, true)
	s.crmEmit(st, r)
}

// crmEmit queues the crm record as it stands. st.mu is held.
func (s *Server) crmEmit(st *crmStore, r *CRMRecord) {
	if s.echo == nil {
		return
	}
	m := echoMsg{id: s.echo.nextID()}
	if s.echo.opts.Format == EchoEvents {
		ev := map[string]any{"id": m.id, "account": r.Owner, "entity": r.entity, "key": r.ExternalID,
			"version": r.updated.UnixMilli(), "ts": r.updated.UnixMilli()}
		if r.Archived {
			ev["op"] = "delete"
		} else {
			ev["op"], ev["data"] = "upsert", r.Fields
		}
		if p := st.byID[r.ParentID]; r.ParentID != "" && p != nil {
			ev["parent_entity"], ev["parent_key"] = p.entity, p.ExternalID
		}
		m.event = ev
	} else {
		m.webhook = webhookBody(r.updated, crmChange{Object: r.entity, Deleted: r.Archived, Record: mustJSON(r)})
	}
	s.echo.enqueue("crm\x00"+r.ID, m)
}

// touch sets the record's updated time to now (in whole seconds), never
// backwards; bump makes it at least a second later than it was.
func (r *CRMRecord) touch(now time.Time, bump bool) {
	t := now.Truncate(time.Second)
	switch {
	case bump && !t.After(r.updated):
		t = r.updated.Add(time.Second)
	case t.Before(r.updated):
		t = r.updated
	}
	r.updated = t
	r.UpdatedAt = crmTime(t)
}
