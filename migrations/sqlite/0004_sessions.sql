-- Browser sign-on: a login in progress (one row per authorization request, deleted when the
-- provider calls back) and signed-in sessions. Secrets are stored hashed where they are
-- credentials (the state, the session id); the PKCE verifier and nonce live minutes.
CREATE TABLE auth_login_state (
    tenant_id     TEXT    NOT NULL,
    state_hash    TEXT    NOT NULL,
    issuer        TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    return_to     TEXT    NOT NULL,
    created       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, state_hash)
);

CREATE TABLE auth_session (
    tenant_id  TEXT    NOT NULL,
    id_hash    TEXT    NOT NULL,   -- SHA-256 of the cookie value
    principal  TEXT    NOT NULL,   -- the verified caller, as at sign-in (JSON)
    id_token   TEXT,               -- for RP-initiated logout (id_token_hint)
    csrf       TEXT    NOT NULL,   -- the token state-changing requests must echo
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL,   -- microseconds since the epoch
    PRIMARY KEY (tenant_id, id_hash)
);
