-- Roles a tenant defines for itself, and its mapping from the provider's role or group names
-- to Tessera roles (docs/security.md).
CREATE TABLE tenant_roles (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,   -- JSON: {description, compartment?, permissions}
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE tenant_role_map (
    tenant_id     TEXT NOT NULL,
    provider_role TEXT NOT NULL,
    roles         TEXT NOT NULL,   -- JSON list of Tessera role names
    PRIMARY KEY (tenant_id, provider_role)
);
