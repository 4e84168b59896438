-- The transactional outbox (docs/events.md). A write that a tenant's enabled pack subscribed
-- to adds one row per subscribing pack in the write's own transaction, so an event exists
-- exactly when its change committed. A dispatcher claims due rows under a lease, calls the
-- pack, and deletes the row once delivered; a row that keeps failing is kept as 'failed' for
-- the organization's admin to look at and retry.
CREATE TABLE event_outbox (
    tenant_id     TEXT NOT NULL,
    seq           INTEGER NOT NULL,  -- commit order: the server clock in µs, strictly increasing
    pack_id       TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    version_id    INTEGER NOT NULL,
    interaction   TEXT NOT NULL,     -- create, update or delete
    status        TEXT NOT NULL DEFAULT 'pending',  -- pending or failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    due_at        INTEGER NOT NULL,  -- µs; not delivered before
    lease_until   INTEGER,           -- µs; set while a dispatcher delivers it
    last_error    TEXT,
    PRIMARY KEY (tenant_id, seq, pack_id)
);
CREATE INDEX event_outbox_due ON event_outbox (tenant_id, status, due_at);
CREATE INDEX event_outbox_pack ON event_outbox (tenant_id, pack_id, status, seq);

-- Which pack-defined search parameters each tenant's index was built with: when a tenant's
-- packs change the set, the resources of the affected types are indexed again in the
-- background, then the new fingerprint is stored.
CREATE TABLE tenant_search_state (
    tenant_id   TEXT NOT NULL PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    types       TEXT NOT NULL      -- JSON array of the resource types the set covers
);
