-- Authentication and compliance: sessions, refresh tokens, API keys, security events,
-- consents and GDPR requests.
--
-- Tokens and keys are stored only as hashes. These tables are keyed by user, not by tenant,
-- and are read by the authentication service before a tenant is known, so they have no
-- row-level security (see migrations/README.md).

CREATE TABLE sessions (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   text        NOT NULL UNIQUE,   -- hash of the session secret, never the secret
    ip_address   inet,
    user_agent   text,
    last_seen_at timestamptz,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     uuid        REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash     text        NOT NULL UNIQUE,
    device_info    jsonb,
    ip_address     inet,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    replaced_by_id uuid        REFERENCES refresh_tokens (id) ON DELETE SET NULL,  -- rotation
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX idx_refresh_tokens_session_id ON refresh_tokens (session_id)
    WHERE session_id IS NOT NULL;
CREATE INDEX idx_refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE api_keys (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id uuid        REFERENCES organizations (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    key_prefix      text        NOT NULL,   -- first characters, shown to the user to tell keys apart
    key_hash        text        NOT NULL UNIQUE,
    scopes          text[]      NOT NULL DEFAULT '{}',
    last_used_at    timestamptz,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_api_keys_user_id ON api_keys (user_id);
CREATE INDEX idx_api_keys_organization_id ON api_keys (organization_id)
    WHERE organization_id IS NOT NULL;
CREATE INDEX idx_api_keys_key_prefix ON api_keys (key_prefix) WHERE revoked_at IS NULL;

CREATE TRIGGER api_keys_set_updated_at BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE security_events (
    id              uuid              PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid              REFERENCES users (id) ON DELETE SET NULL,
    organization_id uuid              REFERENCES organizations (id) ON DELETE SET NULL,
    event_type      text              NOT NULL,   -- e.g. login_failed, password_changed
    severity        security_severity NOT NULL DEFAULT 'info',
    description     text,
    ip_address      inet,
    user_agent      text,
    metadata        jsonb             NOT NULL DEFAULT '{}',
    created_at      timestamptz       NOT NULL DEFAULT now()
);

CREATE INDEX idx_security_events_user_id ON security_events (user_id);
CREATE INDEX idx_security_events_type_created ON security_events (event_type, created_at DESC);
CREATE INDEX idx_security_events_created_at ON security_events (created_at);
CREATE INDEX idx_security_events_severity ON security_events (severity, created_at DESC)
    WHERE severity <> 'info';

-- Consent history: one row per decision, the latest row per (user, type) is in force.
CREATE TABLE consents (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    consent_type text        NOT NULL,   -- e.g. terms, privacy, marketing
    version      text        NOT NULL,   -- version of the text agreed to
    granted      boolean     NOT NULL,
    granted_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    ip_address   inet,
    user_agent   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_consents_user_type ON consents (user_id, consent_type, granted_at DESC);

-- GDPR requests handled by `migrate anonymize` / `migrate export`. The subject is recorded
-- only as a keyed hash (HMAC-SHA256 hex of the normalized identifier, key kept outside the
-- database), never as an e-mail address or a user id: the row must survive the erasure it
-- records, and it doubles as the ledger re-applied after a backup restore.
CREATE TABLE gdpr_requests (
    id           uuid                PRIMARY KEY DEFAULT gen_random_uuid(),
    request_type gdpr_request_type   NOT NULL,
    subject_hmac text                NOT NULL,
    status       gdpr_request_status NOT NULL DEFAULT 'pending',
    counts       jsonb               NOT NULL DEFAULT '{}',  -- rows/documents/keys touched per store
    error        text,
    requested_at timestamptz         NOT NULL DEFAULT now(),
    completed_at timestamptz,
    created_at   timestamptz         NOT NULL DEFAULT now(),
    updated_at   timestamptz         NOT NULL DEFAULT now(),
    CONSTRAINT gdpr_requests_subject_hmac_format CHECK (subject_hmac ~ '^[0-9a-f]{64}$'),
    CONSTRAINT gdpr_requests_completed_check
        CHECK (completed_at IS NULL OR status IN ('completed', 'failed', 'rejected', 'cancelled'))
);

CREATE INDEX idx_gdpr_requests_subject ON gdpr_requests (subject_hmac);
CREATE INDEX idx_gdpr_requests_status ON gdpr_requests (status, requested_at);

CREATE TRIGGER gdpr_requests_set_updated_at BEFORE UPDATE ON gdpr_requests
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- migrate:down

DROP TABLE gdpr_requests;
DROP TABLE consents;
DROP TABLE security_events;
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
