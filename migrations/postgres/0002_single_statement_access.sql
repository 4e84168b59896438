-- Single-statement access paths (the write functions are in 0003, beside the index tables). Each function first binds the tenant for the current
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

