-- The transactional outbox and each tenant's pack search-parameter state; see
-- migrations/sqlite/0008_events.sql for what each column holds.
CREATE TABLE event_outbox (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,
    pack_id       TEXT COLLATE "C" NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    id            TEXT COLLATE "C" NOT NULL,
    version_id    BIGINT NOT NULL,
    interaction   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    due_at        BIGINT NOT NULL,
    lease_until   BIGINT,
    last_error    TEXT,
    PRIMARY KEY (tenant_id, seq, pack_id)
);
CREATE INDEX event_outbox_due ON event_outbox (tenant_id, status, due_at);
CREATE INDEX event_outbox_pack ON event_outbox (tenant_id, pack_id, status, seq);

CREATE TABLE tenant_search_state (
    tenant_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    types       TEXT NOT NULL
);

-- Row-level security as on every tenant table. The outbox is not FORCEd: its owner (the
-- migrating role, never the server's) must see every tenant's due rows for the one query
-- below; the server's role is not the owner, so the policy always binds it.
ALTER TABLE event_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON event_outbox
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE tenant_search_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_search_state FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_search_state
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));

-- The tenants with events due at `now` (µs): the dispatcher's one query across tenants. It
-- runs as the owner (SECURITY DEFINER) and returns tenant ids only — never event contents,
-- which the dispatcher then reads in a transaction bound to each tenant.
CREATE FUNCTION tessera_outbox_due_tenants(now BIGINT) RETURNS SETOF TEXT
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT DISTINCT tenant_id::text FROM public.event_outbox
    WHERE status = 'pending' AND due_at <= now AND (lease_until IS NULL OR lease_until < now)
$$;
