-- Local user accounts (see migrations/sqlite/0005_local_users.sql). Server-wide, like
-- `tenants`: a user may belong to several tenants.
CREATE TABLE local_users (
    username        TEXT    NOT NULL PRIMARY KEY,
    password_hash   TEXT    NOT NULL,
    tenants         TEXT    NOT NULL,
    roles           TEXT    NOT NULL,
    patient         TEXT,
    must_change     INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    BIGINT  NOT NULL DEFAULT 0,
    created         BIGINT  NOT NULL
);
