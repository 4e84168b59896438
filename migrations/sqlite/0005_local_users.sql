-- Local user accounts of the embedded default (the server's own issuer signs their tokens).
-- Passwords are argon2id hashes in PHC format; never stored or logged in clear.
CREATE TABLE local_users (
    username        TEXT    NOT NULL PRIMARY KEY,
    password_hash   TEXT    NOT NULL,
    tenants         TEXT    NOT NULL,   -- JSON list of tenant slugs, or ["*"]
    roles           TEXT    NOT NULL,   -- JSON list of Tessera roles
    patient         TEXT,               -- own Patient id, for the patient role
    must_change     INTEGER NOT NULL,   -- 1: the password is one-time, set a new one first
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER NOT NULL DEFAULT 0,   -- microseconds since the epoch
    created         INTEGER NOT NULL
);
