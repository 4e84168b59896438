-- The audit trail: one FHIR AuditEvent per access. Append-only: the application role gets
-- SELECT and INSERT only (core/src/db/postgres.rs revokes UPDATE, DELETE and TRUNCATE after
-- its blanket grant), and row-level security confines it to the transaction's tenant.
CREATE TABLE audit_event (
    tenant_id   TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    recorded    BIGINT NOT NULL,
    type        TEXT   NOT NULL,
    subtype     TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    outcome     TEXT   NOT NULL,
    agent       TEXT COLLATE "C" NOT NULL,
    agent_name  TEXT,
    entity      TEXT COLLATE "C",
    entity_type TEXT,
    address     TEXT,
    content     TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_by_time ON audit_event (tenant_id, recorded);
CREATE INDEX audit_by_agent ON audit_event (tenant_id, agent, recorded);
CREATE INDEX audit_by_entity ON audit_event (tenant_id, entity, recorded);

ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_event FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_event
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
