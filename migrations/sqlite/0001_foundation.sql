-- Tessera foundation schema (SQLite). Every row carries tenant_id, first in every key.
-- Times are microseconds since the Unix epoch (UTC) so that ordering and `_since` are exact.

CREATE TABLE tenants (
    id          TEXT    NOT NULL PRIMARY KEY,  -- the URL slug; immutable
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- The current version of every resource (deleted ones keep a row with deleted = 1).
CREATE TABLE resources (
    tenant_id      TEXT    NOT NULL,
    resource_type  TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    version_id     INTEGER NOT NULL,
    last_updated   INTEGER NOT NULL,
    deleted        INTEGER NOT NULL DEFAULT 0,
    content        TEXT,                        -- NULL when deleted
    PRIMARY KEY (tenant_id, resource_type, id)
);

-- Every version ever written, the current one included.
CREATE TABLE resource_history (
    tenant_id      TEXT    NOT NULL,
    resource_type  TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    version_id     INTEGER NOT NULL,
    last_updated   INTEGER NOT NULL,
    method         TEXT    NOT NULL,            -- POST, PUT, PATCH or DELETE
    deleted        INTEGER NOT NULL DEFAULT 0,
    content        TEXT,
    PRIMARY KEY (tenant_id, resource_type, id, version_id)
);
CREATE INDEX history_by_time ON resource_history (tenant_id, last_updated);
CREATE INDEX history_by_type_time ON resource_history (tenant_id, resource_type, last_updated);

-- Token search index, written in the same transaction as the resource.
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
