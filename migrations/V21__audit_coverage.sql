-- Audit coverage as seed 002 asks for it ("automatic triggers: track all major data changes";
-- "context information: IP address, user agent, session ID").
--
-- V3 and V6 audit users, organizations, projects and tasks. This adds the other tables whose
-- changes matter to an audit: documents and their versions, change requests and their
-- approvals, test cases and executions, files and their versions, and who belongs where with
-- which role (organization and project memberships, role assignments). team_members has no
-- id of its own (its key is team and user) and stays out; its changes are visible through
-- organization_members and user_roles.
--
-- audit_logs.session_id: the application's session (sessions.id, or its own token id), from
-- the setting app.session_id that the application sets per request (SET LOCAL), like
-- app.client_ip and app.user_agent; NULL when unset. Text, not a foreign key: audit rows must
-- outlive the sessions they name.
--
-- audit_trigger(): as in V19, plus session_id. Personal data copied into the new audit rows
-- (a document's text, a file's name) is found and replaced by `migrate anonymize user`, which
-- searches every table's text (audit_logs included), as it does for the existing audit copies.

ALTER TABLE audit_logs ADD COLUMN session_id text;

COMMENT ON COLUMN audit_logs.session_id IS
    'Session of the request (app.session_id); NULL for system changes or when unset.';

COMMENT ON TABLE audit_logs IS
    'Row-level change history of the major tables (audit_trigger): identity, tenancy, membership and roles, projects, tasks, documents, files, change requests, test management.';

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
            actor_id, organization_id, metadata, session_id
        ) VALUES (
            TG_TABLE_NAME, (v_row ->> 'id')::uuid, 'anonymize', NULL, NULL,
            app_current_user_id(), v_org,
            jsonb_build_object('columns', (
                SELECT coalesce(jsonb_agg(n.key ORDER BY n.key), '[]'::jsonb)
                FROM jsonb_each(v_new) AS n
                WHERE n.value IS DISTINCT FROM v_old -> n.key)),
            nullif(current_setting('app.session_id', true), '')
        );
        RETURN NULL;
    END IF;

    INSERT INTO audit_logs (
        table_name, record_id, action, old_values, new_values,
        actor_id, organization_id, ip_address, user_agent, session_id
    ) VALUES (
        TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_action, v_old, v_new,
        app_current_user_id(), v_org,
        nullif(current_setting('app.client_ip', true), '')::inet,
        nullif(current_setting('app.user_agent', true), ''),
        nullif(current_setting('app.session_id', true), '')
    );
    RETURN NULL;
END;
$$;

CREATE TRIGGER documents_audit
    AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER document_versions_audit
    AFTER INSERT OR UPDATE OR DELETE ON document_versions
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER change_requests_audit
    AFTER INSERT OR UPDATE OR DELETE ON change_requests
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER change_request_approvals_audit
    AFTER INSERT OR UPDATE OR DELETE ON change_request_approvals
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER test_cases_audit
    AFTER INSERT OR UPDATE OR DELETE ON test_cases
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER test_executions_audit
    AFTER INSERT OR UPDATE OR DELETE ON test_executions
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER files_audit
    AFTER INSERT OR UPDATE OR DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER file_versions_audit
    AFTER INSERT OR UPDATE OR DELETE ON file_versions
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER organization_members_audit
    AFTER INSERT OR UPDATE OR DELETE ON organization_members
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER project_members_audit
    AFTER INSERT OR UPDATE OR DELETE ON project_members
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
CREATE TRIGGER user_roles_audit
    AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();

-- migrate:down

DROP TRIGGER user_roles_audit ON user_roles;
DROP TRIGGER project_members_audit ON project_members;
DROP TRIGGER organization_members_audit ON organization_members;
DROP TRIGGER file_versions_audit ON file_versions;
DROP TRIGGER files_audit ON files;
DROP TRIGGER test_executions_audit ON test_executions;
DROP TRIGGER test_cases_audit ON test_cases;
DROP TRIGGER change_request_approvals_audit ON change_request_approvals;
DROP TRIGGER change_requests_audit ON change_requests;
DROP TRIGGER document_versions_audit ON document_versions;
DROP TRIGGER documents_audit ON documents;

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

COMMENT ON TABLE audit_logs IS
    'Row-level change history of users, organizations, projects and tasks (audit_trigger).';

ALTER TABLE audit_logs DROP COLUMN session_id;
