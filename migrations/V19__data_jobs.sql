-- Support for the data jobs (`migrate anonymize`, `migrate retention`): the job table that
-- makes bulk jobs resumable, and an audit trigger that does not copy the personal data an
-- anonymizing UPDATE erases.
--
-- migrate_jobs: one row per named job (`anonymize:deleted_users`), updated in the same
-- transaction as each batch, so a job killed mid-way resumes after the last committed batch.
-- It never holds personal data: positions are primary keys, counts are numbers.
--
-- audit_trigger(): as in V2, plus one branch. When the transaction has set
-- `migrate.anonymizing = 'on'` (SET LOCAL), an UPDATE is logged as action 'anonymize' with
-- NULL old/new values and the names of the changed columns in metadata. Other writes are
-- logged exactly as before.

CREATE TABLE migrate_jobs (
    job          text        PRIMARY KEY,            -- kind:name, e.g. anonymize:deleted_users
    status       text        NOT NULL DEFAULT 'running',
    fingerprint  text        NOT NULL,               -- sha256 of the policy and rules it runs
    position     text,                               -- last subject key of the last committed batch
    done         bigint      NOT NULL DEFAULT 0,     -- subjects processed so far
    batches      bigint      NOT NULL DEFAULT 0,
    counts       jsonb       NOT NULL DEFAULT '{}',  -- rows/documents/keys changed per target
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CONSTRAINT migrate_jobs_status_check CHECK (status IN ('running', 'completed', 'failed'))
);

COMMENT ON TABLE migrate_jobs IS
    'Progress of resumable data jobs (migrate anonymize policy); no personal data.';

-- Operator tooling only: the application roles of V17 get nothing on it.
REVOKE ALL ON migrate_jobs FROM application_user, readonly_user;

CREATE OR REPLACE FUNCTION audit_trigger() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_old    jsonb;
    v_new    jsonb;
    v_row    jsonb;
    v_action audit_action;
    v_org    uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_action := 'create';
        v_new := to_jsonb(NEW);
    ELSIF TG_OP = 'UPDATE' THEN
        v_action := 'update';
        v_old := to_jsonb(OLD);
        v_new := to_jsonb(NEW);
        IF v_old = v_new THEN
            RETURN NULL;
        END IF;
    ELSE
        v_action := 'delete';
        v_old := to_jsonb(OLD);
    END IF;

    v_old := v_old - 'search_vector';
    v_new := v_new - 'search_vector';
    IF v_old ? 'password_hash' AND v_old ->> 'password_hash' IS NOT NULL THEN
        v_old := jsonb_set(v_old, '{password_hash}', '"[redacted]"');
    END IF;
    IF v_new ? 'password_hash' AND v_new ->> 'password_hash' IS NOT NULL THEN
        v_new := jsonb_set(v_new, '{password_hash}', '"[redacted]"');
    END IF;

    v_row := coalesce(v_new, v_old);
    IF TG_TABLE_NAME = 'organizations' THEN
        v_org := (v_row ->> 'id')::uuid;
    ELSE
        v_org := coalesce((v_row ->> 'organization_id')::uuid, app_current_organization_id());
    END IF;

    -- An anonymizing UPDATE (`migrate anonymize` sets migrate.anonymizing for its transaction)
    -- records which columns changed, never their old or new values: copying them here would
    -- put back the personal data being erased.
    IF TG_OP = 'UPDATE' AND current_setting('migrate.anonymizing', true) = 'on' THEN
        INSERT INTO audit_logs (
            table_name, record_id, action, old_values, new_values,
            actor_id, organization_id, metadata
        ) VALUES (
            TG_TABLE_NAME, (v_row ->> 'id')::uuid, 'anonymize', NULL, NULL,
            app_current_user_id(), v_org,
            jsonb_build_object('columns', (
                SELECT coalesce(jsonb_agg(n.key ORDER BY n.key), '[]'::jsonb)
                FROM jsonb_each(v_new) AS n
                WHERE n.value IS DISTINCT FROM v_old -> n.key))
        );
        RETURN NULL;
    END IF;

    INSERT INTO audit_logs (
        table_name, record_id, action, old_values, new_values,
        actor_id, organization_id, ip_address, user_agent
    ) VALUES (
        TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_action, v_old, v_new,
        app_current_user_id(), v_org,
        nullif(current_setting('app.client_ip', true), '')::inet,
        nullif(current_setting('app.user_agent', true), '')
    );
    RETURN NULL;
END;
$$;

-- migrate:down

CREATE OR REPLACE FUNCTION audit_trigger() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_old    jsonb;
    v_new    jsonb;
    v_row    jsonb;
    v_action audit_action;
    v_org    uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_action := 'create';
        v_new := to_jsonb(NEW);
    ELSIF TG_OP = 'UPDATE' THEN
        v_action := 'update';
        v_old := to_jsonb(OLD);
        v_new := to_jsonb(NEW);
        IF v_old = v_new THEN
            RETURN NULL;
        END IF;
    ELSE
        v_action := 'delete';
        v_old := to_jsonb(OLD);
    END IF;

    v_old := v_old - 'search_vector';
    v_new := v_new - 'search_vector';
    IF v_old ? 'password_hash' AND v_old ->> 'password_hash' IS NOT NULL THEN
        v_old := jsonb_set(v_old, '{password_hash}', '"[redacted]"');
    END IF;
    IF v_new ? 'password_hash' AND v_new ->> 'password_hash' IS NOT NULL THEN
        v_new := jsonb_set(v_new, '{password_hash}', '"[redacted]"');
    END IF;

    v_row := coalesce(v_new, v_old);
    IF TG_TABLE_NAME = 'organizations' THEN
        v_org := (v_row ->> 'id')::uuid;
    ELSE
        v_org := coalesce((v_row ->> 'organization_id')::uuid, app_current_organization_id());
    END IF;

    INSERT INTO audit_logs (
        table_name, record_id, action, old_values, new_values,
        actor_id, organization_id, ip_address, user_agent
    ) VALUES (
        TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_action, v_old, v_new,
        app_current_user_id(), v_org,
        nullif(current_setting('app.client_ip', true), '')::inet,
        nullif(current_setting('app.user_agent', true), '')
    );
    RETURN NULL;
END;
$$;

DROP TABLE migrate_jobs;
