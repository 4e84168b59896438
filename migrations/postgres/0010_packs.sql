-- Packs (see migrations/sqlite/0007_packs.sql for what each table holds).
CREATE TABLE pack_version (
    pack_id      TEXT COLLATE "C" NOT NULL,
    version      TEXT COLLATE "C" NOT NULL,
    abi          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    manifest     TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    archive      BYTEA NOT NULL,
    trust        TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    installed_by TEXT NOT NULL,
    PRIMARY KEY (pack_id, version)
);
CREATE TABLE tenant_pack (
    tenant_id        TEXT COLLATE "C" NOT NULL,
    pack_id          TEXT COLLATE "C" NOT NULL,
    scope            TEXT COLLATE "C" NOT NULL,
    enabled          INTEGER NOT NULL,
    version          TEXT COLLATE "C",
    previous_version TEXT COLLATE "C",
    pinned           INTEGER NOT NULL DEFAULT 0,
    granted          TEXT,
    config           TEXT NOT NULL,
    secrets          BYTEA,
    updated_at       TEXT NOT NULL,
    updated_by       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, pack_id, scope),
    FOREIGN KEY (pack_id, version) REFERENCES pack_version (pack_id, version),
    FOREIGN KEY (pack_id, previous_version) REFERENCES pack_version (pack_id, version)
);
CREATE INDEX tenant_pack_version ON tenant_pack (pack_id, version);
CREATE INDEX tenant_pack_previous ON tenant_pack (pack_id, previous_version);
CREATE TABLE pack_kv (
    tenant_id TEXT COLLATE "C" NOT NULL,
    pack_id   TEXT COLLATE "C" NOT NULL,
    key       TEXT COLLATE "C" NOT NULL,
    value     BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, pack_id, key)
);
CREATE TABLE pack_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO pack_generation (id, value) VALUES (1, 0);
CREATE TABLE pack_registry_log (
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    pack_id TEXT NOT NULL,
    version TEXT NOT NULL,
    detail  TEXT NOT NULL
);
ALTER TABLE tenant_pack ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_pack FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_pack
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE pack_kv ENABLE ROW LEVEL SECURITY;
ALTER TABLE pack_kv FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pack_kv
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
