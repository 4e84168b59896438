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
    low INTEGER NOT NULL, high INTEGER NOT NULL
);
CREATE INDEX search_date_lookup ON search_date (tenant_id, resource_type, param, low, high);
CREATE INDEX search_date_owner ON search_date (tenant_id, resource_type, resource_id);

CREATE TABLE search_number (
    tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, param TEXT NOT NULL,
    value REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL
);
CREATE INDEX search_number_lookup ON search_number (tenant_id, resource_type, param, value);
CREATE INDEX search_number_owner ON search_number (tenant_id, resource_type, resource_id);

CREATE TABLE search_quantity (
    tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, param TEXT NOT NULL,
    value REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL,
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
