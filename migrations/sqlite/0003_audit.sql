-- The audit trail: one FHIR AuditEvent per access. Append-only: the triggers below refuse
-- every UPDATE and DELETE, whoever asks (SQLite has no privileges to withhold).
CREATE TABLE audit_event (
    tenant_id   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    recorded    INTEGER NOT NULL,   -- microseconds since the epoch
    type        TEXT    NOT NULL,   -- rest, 110114 (user authentication)
    subtype     TEXT    NOT NULL,   -- read, search-type, create, login, ...
    action      TEXT    NOT NULL,   -- C R U D E
    outcome     TEXT    NOT NULL,   -- 0 4 8 12
    agent       TEXT    NOT NULL,   -- issuer|subject, or anonymous
    agent_name  TEXT,               -- preferred_username
    entity      TEXT,               -- Type/id or Type
    entity_type TEXT,
    address     TEXT,
    content     TEXT    NOT NULL,   -- the AuditEvent JSON
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_by_time ON audit_event (tenant_id, recorded);
CREATE INDEX audit_by_agent ON audit_event (tenant_id, agent, recorded);
CREATE INDEX audit_by_entity ON audit_event (tenant_id, entity, recorded);

CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'audit_event is append-only');
END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'audit_event is append-only');
END;
