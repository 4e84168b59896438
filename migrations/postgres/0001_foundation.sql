-- Tessera foundation schema (PostgreSQL). Every row carries tenant_id, first in every key,
-- and row-level security restricts every tenant-owned table to the tenant set for the current
-- transaction (`SET LOCAL tessera.tenant_id = '<tenant>'`, issued with BEGIN).
-- Times are microseconds since the Unix epoch (UTC).

CREATE TABLE tenants (
    id          TEXT   NOT NULL PRIMARY KEY,
    name        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE resources (
    tenant_id      TEXT   NOT NULL,
    resource_type  TEXT   NOT NULL,
    id             TEXT   NOT NULL,
    version_id     BIGINT NOT NULL,
    last_updated   BIGINT NOT NULL,
    deleted        BIGINT NOT NULL DEFAULT 0,
    content        TEXT,
    PRIMARY KEY (tenant_id, resource_type, id)
);

CREATE TABLE resource_history (
    tenant_id      TEXT   NOT NULL,
    resource_type  TEXT   NOT NULL,
    id             TEXT   NOT NULL,
    version_id     BIGINT NOT NULL,
    last_updated   BIGINT NOT NULL,
    method         TEXT   NOT NULL,
    deleted        BIGINT NOT NULL DEFAULT 0,
    content        TEXT,
    PRIMARY KEY (tenant_id, resource_type, id, version_id)
);
CREATE INDEX history_by_time ON resource_history (tenant_id, last_updated);
CREATE INDEX history_by_type_time ON resource_history (tenant_id, resource_type, last_updated);

CREATE TABLE search_token (
    tenant_id      TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    param          TEXT NOT NULL,
    system         TEXT NOT NULL DEFAULT '',
    code           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, resource_type, resource_id, param, system, code)
);
CREATE INDEX search_token_lookup ON search_token (tenant_id, resource_type, param, code, system);

-- Row-level security: FORCE makes it apply to the owner too; the server itself connects as a
-- separate non-owner role (see core/src/db/postgres.rs).
ALTER TABLE resources ENABLE ROW LEVEL SECURITY;
ALTER TABLE resources FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON resources
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));

ALTER TABLE resource_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE resource_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON resource_history
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));

ALTER TABLE search_token ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_token FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_token
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
