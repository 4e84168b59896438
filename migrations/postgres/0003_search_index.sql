-- The search index (issue #3). Same rows as on SQLite (see migrations/sqlite/0002 for the
-- meaning of each column); COLLATE "C" so prefix ranges on `term` follow byte order.

DROP FUNCTION tessera_write_version(TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT, BIGINT, TEXT, BIGINT, TEXT);
DROP FUNCTION tessera_create_many(TEXT, TEXT);
DROP TABLE search_token;

CREATE TABLE search_index (
    tenant_id      TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    param          TEXT NOT NULL,
    term           TEXT COLLATE "C" NOT NULL DEFAULT '',
    qualifier      TEXT COLLATE "C" NOT NULL DEFAULT '',
    low            DOUBLE PRECISION NOT NULL DEFAULT 0,
    high           DOUBLE PRECISION NOT NULL DEFAULT 0,
    resource_id    TEXT NOT NULL,
    display        TEXT COLLATE "C"
);
CREATE INDEX search_index_lookup ON search_index (tenant_id, resource_type, param, term, qualifier, low);
CREATE INDEX search_index_owner ON search_index (tenant_id, resource_type, resource_id, param);

ALTER TABLE search_index ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_index FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_index
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));

CREATE TABLE search_index_state (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    fingerprint  TEXT NOT NULL
);

-- Result snapshots for stable paging: the ordered matches of a search, kept for an hour.
-- UNLOGGED: losing them in a crash only expires open paging links, and it spares the WAL.
CREATE UNLOGGED TABLE search_snapshot (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    created    BIGINT NOT NULL,
    entries    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
ALTER TABLE search_snapshot ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_snapshot FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_snapshot
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));

-- Index rows arrive as a JSON array of [param, term, qualifier, low, high, display].
CREATE FUNCTION tessera_insert_index(p_tenant TEXT, p_type TEXT, p_id TEXT, p_index JSON) RETURNS VOID
LANGUAGE sql AS $$
    INSERT INTO search_index (tenant_id, resource_type, resource_id, param, term, qualifier, low, high, display)
    SELECT p_tenant, p_type, p_id, e ->> 0, e ->> 1, e ->> 2, (e ->> 3)::FLOAT8, (e ->> 4)::FLOAT8, e ->> 5
    FROM json_array_elements(p_index) AS e;
$$;

-- Appends a version, replaces the current row, and replaces the resource's index rows.
CREATE FUNCTION tessera_write_version(
    p_tenant TEXT, p_type TEXT, p_id TEXT, p_version BIGINT, p_last_updated BIGINT,
    p_method TEXT, p_deleted BIGINT, p_content TEXT, p_is_new BIGINT, p_index TEXT
) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tessera_bind_tenant(p_tenant);
    INSERT INTO resource_history (tenant_id, resource_type, id, version_id, last_updated, method, deleted, content)
    VALUES (p_tenant, p_type, p_id, p_version, p_last_updated, p_method, p_deleted, p_content);
    IF p_is_new = 1 THEN
        INSERT INTO resources (tenant_id, resource_type, id, version_id, last_updated, deleted, content)
        VALUES (p_tenant, p_type, p_id, p_version, p_last_updated, p_deleted, p_content);
    ELSE
        UPDATE resources SET version_id = p_version, last_updated = p_last_updated,
                             deleted = p_deleted, content = p_content
        WHERE tenant_id = p_tenant AND resource_type = p_type AND id = p_id;
        DELETE FROM search_index WHERE tenant_id = p_tenant AND resource_type = p_type AND resource_id = p_id;
    END IF;
    IF p_index IS NOT NULL THEN
        PERFORM tessera_insert_index(p_tenant, p_type, p_id, p_index::json);
    END IF;
END $$;

-- Version 1 of many new resources in one statement (group commit of plain creates). p_rows is
-- a JSON array of {resource_type, id, last_updated, content, idx: [[param, ...], ...]}.
CREATE FUNCTION tessera_create_many(p_tenant TEXT, p_rows TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tessera_bind_tenant(p_tenant);
    WITH r AS (
        SELECT * FROM json_to_recordset(p_rows::json)
            AS r(resource_type TEXT, id TEXT, last_updated BIGINT, content TEXT, idx JSON)
    ), h AS (
        INSERT INTO resource_history (tenant_id, resource_type, id, version_id, last_updated, method, deleted, content)
        SELECT p_tenant, r.resource_type, r.id, 1, r.last_updated, 'POST', 0, r.content FROM r
    ), t AS (
        INSERT INTO search_index (tenant_id, resource_type, resource_id, param, term, qualifier, low, high, display)
        SELECT p_tenant, r.resource_type, r.id, e ->> 0, e ->> 1, e ->> 2, (e ->> 3)::FLOAT8, (e ->> 4)::FLOAT8, e ->> 5
        FROM r, json_array_elements(r.idx) AS e
    )
    INSERT INTO resources (tenant_id, resource_type, id, version_id, last_updated, deleted, content)
    SELECT p_tenant, r.resource_type, r.id, 1, r.last_updated, 0, r.content FROM r;
END $$;
