-- Single-statement access paths. Each function first binds the tenant for the current
-- transaction (set_config(..., true) is SET LOCAL), then runs its statements in order, so a
-- read or a plain create costs one round trip and still runs under row-level security
-- (the functions are SECURITY INVOKER: they run as the calling role, which RLS binds).
-- A transaction already bound to a different tenant is refused, never re-bound.

CREATE FUNCTION tessera_bind_tenant(p_tenant TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('tessera.tenant_id', true), '') NOT IN ('', p_tenant) THEN
        RAISE EXCEPTION 'this transaction is bound to another tenant';
    END IF;
    PERFORM set_config('tessera.tenant_id', p_tenant, true);
END $$;

-- Appends a version, replaces the current row and the index rows given as a JSON array of
-- [system, code] pairs. Index rows of an earlier version are removed by the caller first.
CREATE FUNCTION tessera_write_version(
    p_tenant TEXT, p_type TEXT, p_id TEXT, p_version BIGINT, p_last_updated BIGINT,
    p_method TEXT, p_deleted BIGINT, p_content TEXT, p_is_new BIGINT, p_tokens TEXT
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
    END IF;
    IF p_tokens IS NOT NULL THEN
        INSERT INTO search_token (tenant_id, resource_type, resource_id, param, system, code)
        SELECT p_tenant, p_type, p_id, 'identifier', t ->> 0, t ->> 1
        FROM json_array_elements(p_tokens::json) AS t;
    END IF;
END $$;

CREATE FUNCTION tessera_current(p_tenant TEXT, p_type TEXT, p_id TEXT)
RETURNS TABLE (resource_type TEXT, id TEXT, version_id BIGINT, last_updated BIGINT,
               deleted BIGINT, content TEXT, method TEXT)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tessera_bind_tenant(p_tenant);
    RETURN QUERY
        SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content,
               CASE WHEN r.deleted = 1 THEN 'DELETE' ELSE 'PUT' END
        FROM resources r
        WHERE r.tenant_id = p_tenant AND r.resource_type = p_type AND r.id = p_id;
END $$;

CREATE FUNCTION tessera_version(p_tenant TEXT, p_type TEXT, p_id TEXT, p_version BIGINT)
RETURNS TABLE (resource_type TEXT, id TEXT, version_id BIGINT, last_updated BIGINT,
               deleted BIGINT, content TEXT, method TEXT)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tessera_bind_tenant(p_tenant);
    RETURN QUERY
        SELECT h.resource_type, h.id, h.version_id, h.last_updated, h.deleted, h.content, h.method
        FROM resource_history h
        WHERE h.tenant_id = p_tenant AND h.resource_type = p_type AND h.id = p_id
          AND h.version_id = p_version;
END $$;

-- Version 1 of many new resources in one statement (group commit of plain creates). p_rows is
-- a JSON array of {resource_type, id, last_updated, content, tokens: [[system, code], ...]}.
CREATE FUNCTION tessera_create_many(p_tenant TEXT, p_rows TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tessera_bind_tenant(p_tenant);
    WITH r AS (
        SELECT * FROM json_to_recordset(p_rows::json)
            AS r(resource_type TEXT, id TEXT, last_updated BIGINT, content TEXT, tokens JSON)
    ), h AS (
        INSERT INTO resource_history (tenant_id, resource_type, id, version_id, last_updated, method, deleted, content)
        SELECT p_tenant, r.resource_type, r.id, 1, r.last_updated, 'POST', 0, r.content FROM r
    ), t AS (
        INSERT INTO search_token (tenant_id, resource_type, resource_id, param, system, code)
        SELECT p_tenant, r.resource_type, r.id, 'identifier', tok ->> 0, tok ->> 1
        FROM r, json_array_elements(r.tokens) AS tok
    )
    INSERT INTO resources (tenant_id, resource_type, id, version_id, last_updated, deleted, content)
    SELECT p_tenant, r.resource_type, r.id, 1, r.last_updated, 0, r.content FROM r;
END $$;
