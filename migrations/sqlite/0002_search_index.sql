-- The search index (issue #3): one row per distinct value of a search parameter in the
-- current version of a resource, written in that version's transaction (core/src/fhir/index.rs).
--
-- One table for every parameter type keeps the write path to a single B-tree per row plus
-- one owner index (measured: seven typed tables with three indexes each cut creates to a
-- fifth of the raw INSERT rate). Columns by parameter type:
--   string     term = normalized (lowercase, no accents), qualifier = the text as written
--   token      term = code, qualifier = system, display = normalized display/text
--   reference  term = Type/id (or the URL as written when it has no type), qualifier = URL
--              when it differs; a reference's identifier is indexed under param ':identifier'
--   date       low/high = the instants covered, microseconds since the Unix epoch
--   number     low = high = the value
--   quantity   term = code (or unit), qualifier = system, low = high = the value
--   uri        term = the URI

DROP TABLE search_token;

CREATE TABLE search_index (
    tenant_id      TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    param          TEXT NOT NULL,
    term           TEXT NOT NULL DEFAULT '',
    qualifier      TEXT NOT NULL DEFAULT '',
    low            REAL NOT NULL DEFAULT 0,
    high           REAL NOT NULL DEFAULT 0,
    resource_id    TEXT NOT NULL,
    display        TEXT,
    PRIMARY KEY (tenant_id, resource_type, param, term, qualifier, low, high, resource_id)
) WITHOUT ROWID;

-- Per resource: removing a version's rows, per-resource filters (EXISTS) and sort keys.
CREATE INDEX search_index_owner ON search_index (tenant_id, resource_type, resource_id, param);

-- Which parameter set the index was built with; a different one triggers a reindex at start.
CREATE TABLE search_index_state (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    fingerprint  TEXT NOT NULL
);
