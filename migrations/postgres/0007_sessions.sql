-- Browser sign-on: logins in progress and signed-in sessions (see migrations/sqlite/0004).
CREATE TABLE auth_login_state (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    state_hash    TEXT COLLATE "C" NOT NULL,
    issuer        TEXT   NOT NULL,
    pkce_verifier TEXT   NOT NULL,
    nonce         TEXT   NOT NULL,
    return_to     TEXT   NOT NULL,
    created       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, state_hash)
);

CREATE TABLE auth_session (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    id_hash    TEXT COLLATE "C" NOT NULL,
    principal  TEXT   NOT NULL,
    id_token   TEXT,
    csrf       TEXT   NOT NULL,
    created    BIGINT NOT NULL,
    expires    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id_hash)
);

ALTER TABLE auth_login_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_login_state FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON auth_login_state
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
ALTER TABLE auth_session ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_session FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON auth_session
    USING (tenant_id = current_setting('tessera.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('tessera.tenant_id', true));
