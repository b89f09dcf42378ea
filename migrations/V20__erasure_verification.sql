-- What GDPR erasure needs to stay verifiable after the personal data is gone, and to keep a
-- resumed bulk job on the key it started with.
--
-- gdpr_erasures: one row per erased subject, named by the same keyed HMAC of its id as
-- gdpr_requests. It keeps keyed fingerprints of the subject's original values (SipHash-2-4 of
-- the normalized value under a subkey of the anonymization key: nothing can be read back
-- without the key) and the places the last run still found one, so that a re-run or
-- `migrate anonymize verify` searches for values it can no longer read and never reports clean
-- while an earlier finding is still there. `job` names the bulk job that recorded the row
-- until that job's final pass has replaced the subject's values in other rows.
--
-- migrate_jobs.key_fingerprint: a fingerprint of the anonymization key a bulk job started
-- with (never the key); a resume under another key is refused.

CREATE TABLE gdpr_erasures (
    subject_hmac    text        PRIMARY KEY,
    key_fingerprint text        NOT NULL,              -- of the key the fingerprints were made with
    needles         jsonb       NOT NULL DEFAULT '[]', -- [{"kind", "hash", "words"}]
    hits            jsonb       NOT NULL DEFAULT '[]', -- [{"store", "location", "key", "kind"}]
    job             text,                              -- bulk job awaiting its final pass
    verified_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gdpr_erasures_subject_hmac_format CHECK (subject_hmac ~ '^[0-9a-f]{64}$')
);

CREATE INDEX idx_gdpr_erasures_job ON gdpr_erasures (job) WHERE job IS NOT NULL;

CREATE TRIGGER gdpr_erasures_set_updated_at BEFORE UPDATE ON gdpr_erasures
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE gdpr_erasures IS
    'Keyed fingerprints of erased subjects'' original values and where the last run found them (migrate anonymize); no readable personal data.';

-- Operator tooling only: the application roles of V17 get nothing on it.
REVOKE ALL ON gdpr_erasures FROM application_user, readonly_user;

ALTER TABLE migrate_jobs ADD COLUMN key_fingerprint text;

-- migrate:down

ALTER TABLE migrate_jobs DROP COLUMN key_fingerprint;
DROP TABLE gdpr_erasures;
