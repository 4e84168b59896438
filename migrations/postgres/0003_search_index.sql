-- Typed search index tables (issue #3), written in the same transaction as each version from
-- `fhir/search/extract.rs`. Every row carries tenant_id first; `*_owner` indexes serve the
-- delete-before-reindex of one resource, the others serve queries.

ALTER TABLE search_token ADD COLUMN text TEXT;

CREATE TABLE search_string (
    tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, param TEXT NOT NULL,
    normalized TEXT NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX search_string_lookup ON search_string (tenant_id, resource_type, param, normalized);
CREATE INDEX search_string_owner ON search_string (tenant_id, resource_type, resource_id);

CREATE TABLE search_reference (
    tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, param TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT '', target_id TEXT NOT NULL DEFAULT '', url TEXT NOT NULL
);
CREATE INDEX search_reference_lookup ON search_reference (tenant_id, resource_type, param, target_id, target_type);
CREATE INDEX search_reference_target ON search_reference (tenant_id, target_type, target_id);
CREATE INDEX search_reference_owner ON search_reference (tenant_id, resource_type, resource_id);

CREATE TABLE search_date (
    tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, param TEXT NOT NULL,
    low BIGINT NOT NULL, high BIGINT NOT NULL
);
CREATE INDEX search_date_lookup ON search_date (tenant_id, resource_type, param, low, high);
CREATE INDEX search_date_owner ON search_date (tenant_id, resource_type, resource_id);

CREATE TABLE search_number (
    tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, param TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL
);
CREATE INDEX search_number_lookup ON search_number (tenant_id, resource_type, param, value);
CREATE INDEX search_number_owner ON search_number (tenant_id, resource_type, resource_id);

CREATE TABLE search_quantity (
    tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, param TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
    system TEXT NOT NULL DEFAULT '', code TEXT NOT NULL DEFAULT ''
);
CREATE INDEX search_quantity_lookup ON search_quantity (tenant_id, resource_type, param, code, value);
CREATE INDEX search_quantity_owner ON search_quantity (tenant_id, resource_type, resource_id);

CREATE TABLE search_uri (
    tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, param TEXT NOT NULL,
    uri TEXT NOT NULL
);
CREATE INDEX search_uri_lookup ON search_uri (tenant_id, resource_type, param, uri);
CREATE INDEX search_uri_owner ON search_uri (tenant_id, resource_type, resource_id);

-- Row-level security on every index table, as on the others.
ALTER TABLE search_string ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_string FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_string
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE search_reference ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_reference FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_reference
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE search_date ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_date FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_date
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE search_number ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_number FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_number
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE search_quantity ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_quantity FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_quantity
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE search_uri ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_uri FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_uri
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));

-- Index rows of one resource version from JSON (see core/src/fhir/index.rs): an object with
-- arrays per table, e.g. {"token": [[param, system, code, text]], "date": [[param, low, high]]}.
-- Infinite numeric bounds arrive as null.
CREATE FUNCTION tessera_insert_index(p_tenant TEXT, p_type TEXT, p_id TEXT, p_index JSON) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_token (tenant_id, resource_type, resource_id, param, system, code, text)
    SELECT p_tenant, p_type, p_id, e ->> 0, e ->> 1, e ->> 2, e ->> 3 FROM json_array_elements(p_index -> 'token') e;
    INSERT INTO search_string (tenant_id, resource_type, resource_id, param, normalized, exact)
    SELECT p_tenant, p_type, p_id, e ->> 0, e ->> 1, e ->> 2 FROM json_array_elements(p_index -> 'string') e;
    INSERT INTO search_reference (tenant_id, resource_type, resource_id, param, target_type, target_id, url)
    SELECT p_tenant, p_type, p_id, e ->> 0, e ->> 1, e ->> 2, e ->> 3 FROM json_array_elements(p_index -> 'reference') e;
    INSERT INTO search_date (tenant_id, resource_type, resource_id, param, low, high)
    SELECT p_tenant, p_type, p_id, e ->> 0, (e ->> 1)::BIGINT, (e ->> 2)::BIGINT FROM json_array_elements(p_index -> 'date') e;
    INSERT INTO search_number (tenant_id, resource_type, resource_id, param, value, low, high)
    SELECT p_tenant, p_type, p_id, e ->> 0, coalesce((e ->> 1)::FLOAT8, 'NaN'),
           coalesce((e ->> 2)::FLOAT8, '-Infinity'), coalesce((e ->> 3)::FLOAT8, 'Infinity')
    FROM json_array_elements(p_index -> 'number') e;
    INSERT INTO search_quantity (tenant_id, resource_type, resource_id, param, value, low, high, system, code)
    SELECT p_tenant, p_type, p_id, e ->> 0, coalesce((e ->> 1)::FLOAT8, 'NaN'),
           coalesce((e ->> 2)::FLOAT8, '-Infinity'), coalesce((e ->> 3)::FLOAT8, 'Infinity'), e ->> 4, e ->> 5
    FROM json_array_elements(p_index -> 'quantity') e;
    INSERT INTO search_uri (tenant_id, resource_type, resource_id, param, uri)
    SELECT p_tenant, p_type, p_id, e ->> 0, e ->> 1 FROM json_array_elements(p_index -> 'uri') e;
END $$;

CREATE FUNCTION tessera_remove_index(p_tenant TEXT, p_type TEXT, p_id TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_token WHERE tenant_id = p_tenant AND resource_type = p_type AND resource_id = p_id;
    DELETE FROM search_string WHERE tenant_id = p_tenant AND resource_type = p_type AND resource_id = p_id;
    DELETE FROM search_reference WHERE tenant_id = p_tenant AND resource_type = p_type AND resource_id = p_id;
    DELETE FROM search_date WHERE tenant_id = p_tenant AND resource_type = p_type AND resource_id = p_id;
    DELETE FROM search_number WHERE tenant_id = p_tenant AND resource_type = p_type AND resource_id = p_id;
    DELETE FROM search_quantity WHERE tenant_id = p_tenant AND resource_type = p_type AND resource_id = p_id;
    DELETE FROM search_uri WHERE tenant_id = p_tenant AND resource_type = p_type AND resource_id = p_id;
END $$;

-- Appends a version, replaces the current row and the resource's index rows.
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
        PERFORM tessera_remove_index(p_tenant, p_type, p_id);
    END IF;
    IF p_index IS NOT NULL THEN
        PERFORM tessera_insert_index(p_tenant, p_type, p_id, p_index::json);
    END IF;
END $$;

-- Version 1 of many new resources in one statement (group commit of plain creates). p_rows is
-- a JSON array of {resource_type, id, last_updated, content, index}.
CREATE FUNCTION tessera_create_many(p_tenant TEXT, p_rows TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    PERFORM tessera_bind_tenant(p_tenant);
    FOR r IN SELECT * FROM json_to_recordset(p_rows::json)
        AS x(resource_type TEXT, id TEXT, last_updated BIGINT, content TEXT, index JSON)
    LOOP
        INSERT INTO resource_history (tenant_id, resource_type, id, version_id, last_updated, method, deleted, content)
        VALUES (p_tenant, r.resource_type, r.id, 1, r.last_updated, 'POST', 0, r.content);
        INSERT INTO resources (tenant_id, resource_type, id, version_id, last_updated, deleted, content)
        VALUES (p_tenant, r.resource_type, r.id, 1, r.last_updated, 0, r.content);
        PERFORM tessera_insert_index(p_tenant, r.resource_type, r.id, r.index);
    END LOOP;
END $$;
