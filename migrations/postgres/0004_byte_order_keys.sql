-- Keys compare in byte order ("C" collation) everywhere, as `search_index.term` already does.
-- A comparison between columns of different collations cannot use a B-tree index: joining
-- `resources.id` (database default collation) to an id taken from `search_index.term` ("C")
-- was planned as a sequential scan of `resources`. Ids, types and tenant slugs are ASCII,
-- so byte order is also their natural order. Policies reference tenant_id, so they are
-- dropped and recreated around the type change.

DROP POLICY tenant_isolation ON resources;
DROP POLICY tenant_isolation ON resource_history;
DROP POLICY tenant_isolation ON search_index;
DROP POLICY tenant_isolation ON search_snapshot;

ALTER TABLE resources
    ALTER COLUMN tenant_id TYPE TEXT COLLATE "C",
    ALTER COLUMN resource_type TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE resource_history
    ALTER COLUMN tenant_id TYPE TEXT COLLATE "C",
    ALTER COLUMN resource_type TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE search_index
    ALTER COLUMN tenant_id TYPE TEXT COLLATE "C",
    ALTER COLUMN resource_type TYPE TEXT COLLATE "C",
    ALTER COLUMN param TYPE TEXT COLLATE "C",
    ALTER COLUMN resource_id TYPE TEXT COLLATE "C";
ALTER TABLE search_snapshot
    ALTER COLUMN tenant_id TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C";

CREATE POLICY tenant_isolation ON resources
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
CREATE POLICY tenant_isolation ON resource_history
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
CREATE POLICY tenant_isolation ON search_index
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
CREATE POLICY tenant_isolation ON search_snapshot
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
