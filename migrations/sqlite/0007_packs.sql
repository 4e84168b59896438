-- Packs (docs/packs.md). `pack_version` is server-wide: every installed version, with its
-- archive, so every server process sharing the database can load it. `tenant_pack` is each
-- tenant's state of a pack: the tenant-wide row (scope '') carries the version, pin, grant,
-- configuration and encrypted secrets; rows scoped to a Location override `enabled` and the
-- configuration there. The foreign keys make "uninstall only once no tenant uses it" a
-- database guarantee, race-free.
CREATE TABLE pack_version (
    pack_id      TEXT NOT NULL,
    version      TEXT NOT NULL,
    abi          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    manifest     TEXT NOT NULL,      -- pack.yaml as JSON
    content_hash TEXT NOT NULL,
    archive      BLOB NOT NULL,
    trust        TEXT NOT NULL,      -- signing key fingerprint, or 'unsigned'
    installed_at TEXT NOT NULL,
    installed_by TEXT NOT NULL,
    PRIMARY KEY (pack_id, version)
);
CREATE TABLE tenant_pack (
    tenant_id        TEXT NOT NULL,
    pack_id          TEXT NOT NULL,
    scope            TEXT NOT NULL,  -- '' for the whole tenant, else a Location id
    enabled          INTEGER NOT NULL,
    version          TEXT,           -- tenant-wide row only
    previous_version TEXT,
    pinned           INTEGER NOT NULL DEFAULT 0,
    granted          TEXT,           -- the permissions the admin consented to (JSON)
    config           TEXT NOT NULL,  -- JSON, without secrets
    secrets          BLOB,           -- AES-256-GCM sealed JSON object
    updated_at       TEXT NOT NULL,
    updated_by       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, pack_id, scope),
    FOREIGN KEY (pack_id, version) REFERENCES pack_version (pack_id, version),
    FOREIGN KEY (pack_id, previous_version) REFERENCES pack_version (pack_id, version)
);
CREATE TABLE pack_kv (
    tenant_id TEXT NOT NULL,
    pack_id   TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (tenant_id, pack_id, key)
);
-- Bumped by every lifecycle change; servers poll it to drop what they cached.
CREATE TABLE pack_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO pack_generation (id, value) VALUES (1, 0);
-- Server-wide registry changes (install, uninstall), append-only; tenant changes are in
-- each tenant's audit trail.
CREATE TABLE pack_registry_log (
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    pack_id TEXT NOT NULL,
    version TEXT NOT NULL,
    detail  TEXT NOT NULL
);
