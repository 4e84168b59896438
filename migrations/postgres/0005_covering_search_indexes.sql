-- Covering search indexes: the lookup key carries the resource id and the owner key the
-- term, so the driving set of a search and the per-candidate EXISTS checks are answered from
-- the index alone (index-only scans, once VACUUM has marked the pages all-visible) instead of
-- one heap fetch per matching row. Measured on `Patient?_has:Observation:patient:code=...`:
-- most of its time was those heap fetches.

DROP INDEX search_index_lookup;
DROP INDEX search_index_owner;
CREATE INDEX search_index_lookup ON search_index (tenant_id, resource_type, param, term, qualifier, low)
    INCLUDE (high, resource_id);
CREATE INDEX search_index_owner ON search_index (tenant_id, resource_type, resource_id, param)
    INCLUDE (term, qualifier, low, high);
