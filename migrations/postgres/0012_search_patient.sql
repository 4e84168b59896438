-- Each index row carries the Patient its resource belongs to (see
-- migrations/sqlite/0009_search_patient.sql). The lookup index carries it too, so
-- `_has:<type>:patient:...` is answered by an index-only scan of the referring rows.
ALTER TABLE search_index ADD COLUMN patient TEXT COLLATE "C" NOT NULL DEFAULT '';
DROP INDEX search_index_lookup;
CREATE INDEX search_index_lookup ON search_index (tenant_id, resource_type, param, term, qualifier, low)
    INCLUDE (high, resource_id, patient);

-- Index rows arrive as a JSON array of [param, term, qualifier, low, high, display, patient].
-- (A function's body cannot be patched: both functions that insert index rows are restated.)
CREATE OR REPLACE FUNCTION tessera_insert_index(p_tenant TEXT, p_type TEXT, p_id TEXT, p_index JSON) RETURNS VOID
LANGUAGE sql AS $$
    INSERT INTO search_index (tenant_id, resource_type, resource_id, param, term, qualifier, low, high, display, patient)
    SELECT p_tenant, p_type, p_id, e ->> 0, e ->> 1, e ->> 2, (e ->> 3)::FLOAT8, (e ->> 4)::FLOAT8, e ->> 5,
           COALESCE(e ->> 6, '')
    FROM json_array_elements(p_index) AS e;
$$;

CREATE OR REPLACE FUNCTION tessera_create_many(p_tenant TEXT, p_rows TEXT) RETURNS VOID
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
        INSERT INTO search_index (tenant_id, resource_type, resource_id, param, term, qualifier, low, high, display, patient)
        SELECT p_tenant, r.resource_type, r.id, e ->> 0, e ->> 1, e ->> 2, (e ->> 3)::FLOAT8, (e ->> 4)::FLOAT8, e ->> 5,
               COALESCE(e ->> 6, '')
        FROM r, json_array_elements(r.idx) AS e
    )
    INSERT INTO resources (tenant_id, resource_type, id, version_id, last_updated, deleted, content)
    SELECT p_tenant, r.resource_type, r.id, 1, r.last_updated, 0, r.content FROM r;
END $$;
