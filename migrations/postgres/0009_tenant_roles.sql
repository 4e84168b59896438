-- Tenant-defined roles and role mappings (see migrations/sqlite/0006_tenant_roles.sql).
CREATE TABLE tenant_roles (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE tenant_role_map (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    provider_role TEXT COLLATE "C" NOT NULL,
    roles         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, provider_role)
);
ALTER TABLE tenant_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_roles
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE tenant_role_map ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_role_map FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_role_map
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
