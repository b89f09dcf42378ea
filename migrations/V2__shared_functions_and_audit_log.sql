-- Shared functions used by every later migration, and the audit log they write to.
--
-- Session context: the application sets, per transaction (SET LOCAL) or per session,
--   app.current_organization_id  the tenant the request acts for (uuid)
--   app.current_user_id          the user the request acts for (uuid)
--   app.client_ip, app.user_agent  optional request metadata copied into audit rows
-- An unset or empty setting reads as NULL.
--
-- audit_logs lives here rather than with activity_logs (V14) because the audit triggers of
-- V3 and V6 write to it.

CREATE FUNCTION app_current_organization_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('app.current_organization_id', true), '')::uuid $$;

COMMENT ON FUNCTION app_current_organization_id() IS
    'Tenant of the current request, from app.current_organization_id; NULL when unset.';

CREATE FUNCTION app_current_user_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('app.current_user_id', true), '')::uuid $$;

COMMENT ON FUNCTION app_current_user_id() IS
    'User of the current request, from app.current_user_id; NULL when unset.';

-- Maintains updated_at on every table that has the column (BEFORE UPDATE trigger).
-- An UPDATE that changes nothing (for example a seed re-run through
-- INSERT ... ON CONFLICT DO UPDATE with identical values) keeps the old timestamp, so
-- re-running idempotent seeds leaves every row unchanged.
CREATE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF (to_jsonb(NEW) - 'updated_at') IS DISTINCT FROM (to_jsonb(OLD) - 'updated_at') THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

-- Append-only change history written by audit_trigger(). No foreign keys on purpose: audit
-- rows must outlive the users, organizations and records they describe (a foreign key would
-- either block deletes or cascade-delete history). The anonymization job scrubs personal data
-- copied into old_values/new_values.
CREATE TABLE audit_logs (
    id              uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    table_name      text         NOT NULL,
    record_id       uuid         NOT NULL,
    action          audit_action NOT NULL,
    old_values      jsonb,
    new_values      jsonb,
    actor_id        uuid,        -- users.id of app.current_user_id; NULL for system changes
    organization_id uuid,        -- tenant of the record, else app.current_organization_id
    ip_address      inet,
    user_agent      text,
    metadata        jsonb        NOT NULL DEFAULT '{}',
    created_at      timestamptz  NOT NULL DEFAULT now()
);

COMMENT ON TABLE audit_logs IS
    'Row-level change history of users, organizations, projects and tasks (audit_trigger).';

CREATE INDEX idx_audit_logs_actor_id ON audit_logs (actor_id);
CREATE INDEX idx_audit_logs_record ON audit_logs (table_name, record_id);
CREATE INDEX idx_audit_logs_action ON audit_logs (action);
CREATE INDEX idx_audit_logs_created_at ON audit_logs (created_at);
CREATE INDEX idx_audit_logs_organization_created ON audit_logs (organization_id, created_at DESC);

-- AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW. SECURITY DEFINER so the insert into
-- audit_logs is not subject to the caller's row-level security or grants (application_user
-- may not UPDATE or DELETE audit rows). password_hash values are never copied; derived
-- search vectors are left out. UPDATEs that change nothing are not logged.
CREATE FUNCTION audit_trigger() RETURNS trigger
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

-- migrate:down

DROP FUNCTION audit_trigger();
DROP TABLE audit_logs;
DROP FUNCTION set_updated_at();
DROP FUNCTION app_current_user_id();
DROP FUNCTION app_current_organization_id();
