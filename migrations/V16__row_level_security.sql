-- Row-level security on every tenant table (every table with organization_id).
--
-- Two layers, both read from the session settings (see V2):
--  1. Tenant isolation (permissive, USING + WITH CHECK): a row is visible and writable only
--     if its organization_id = app.current_organization_id. With no tenant set, nothing is
--     visible and nothing can be written.
--  2. Narrowing for a user (RESTRICTIVE, added on top of 1): when app.current_user_id is set,
--     project-scoped rows are visible only in projects the user can access (active
--     project_members row, project manager or creator, or organization owner/admin);
--     conversations and messages only to participants; notifications only to the recipient.
--     Child rows without project_id (task_dependencies, document_versions, ...) are visible
--     when their parent is. With app.current_user_id unset (service context: background
--     jobs acting for a tenant) only layer 1 applies.
--
-- FORCE makes the policies apply to the table owner too. The migrating role is a superuser
-- and superusers always bypass row-level security, so migrations, seeds, `migrate maintain`
-- and the anonymization job are unaffected. A non-superuser owner would need BYPASSRLS.
--
-- Not tenant tables, hence no RLS: users, user_profiles, permissions, sessions,
-- refresh_tokens, api_keys, security_events, consents, gdpr_requests,
-- notification_preferences, error_logs, access_logs, backup_snapshots (read by the
-- authentication service or the operator tooling before or outside a tenant context).
--
-- The helper functions are SECURITY DEFINER so they can read memberships without recursing
-- into the policies of the tables they read; each is restricted to the current tenant and
-- user. Policies call them through uncorrelated sub-selects (`(SELECT f())`,
-- `IN (SELECT f())`), so each runs once per statement, not once per row.

-- True when the current user is an owner or admin of the current organization.
CREATE FUNCTION app_is_org_admin() RETURNS boolean
    LANGUAGE sql STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    SELECT EXISTS (
        SELECT 1
        FROM organization_members om
        WHERE om.organization_id = app_current_organization_id()
          AND om.user_id = app_current_user_id()
          AND om.role IN ('owner', 'admin')
          AND om.deleted_at IS NULL
    )
$$;

-- Projects of the current organization the current user may see: active member, manager or
-- creator.
CREATE FUNCTION app_accessible_project_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    SELECT p.id
    FROM projects p
    WHERE p.organization_id = app_current_organization_id()
      AND (p.manager_id = app_current_user_id()
           OR p.created_by = app_current_user_id()
           OR EXISTS (SELECT 1
                      FROM project_members pm
                      WHERE pm.project_id = p.id
                        AND pm.user_id = app_current_user_id()
                        AND pm.is_active))
$$;

-- Conversations of the current organization the current user takes part in.
CREATE FUNCTION app_conversation_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    SELECT cp.conversation_id
    FROM conversation_participants cp
    WHERE cp.organization_id = app_current_organization_id()
      AND cp.user_id = app_current_user_id()
      AND cp.left_at IS NULL
$$;

-- The organizations of the current user, for choosing a tenant after login (before
-- app.current_organization_id can be set, RLS hides every membership row).
CREATE FUNCTION app_current_user_memberships()
    RETURNS TABLE (organization_id uuid, organization_name text, role organization_role)
    LANGUAGE sql STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    SELECT o.id, o.name, om.role
    FROM organization_members om
    JOIN organizations o ON o.id = om.organization_id
    WHERE om.user_id = app_current_user_id()
      AND om.deleted_at IS NULL
      AND o.deleted_at IS NULL
    ORDER BY o.name
$$;

-- organizations
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_tenant_isolation ON organizations
    USING (id = app_current_organization_id())
    WITH CHECK (id = app_current_organization_id());

-- organization_members
ALTER TABLE organization_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE organization_members FORCE ROW LEVEL SECURITY;
CREATE POLICY organization_members_tenant_isolation ON organization_members
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());

-- teams
ALTER TABLE teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE teams FORCE ROW LEVEL SECURITY;
CREATE POLICY teams_tenant_isolation ON teams
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());

-- team_members
ALTER TABLE team_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE team_members FORCE ROW LEVEL SECURITY;
CREATE POLICY team_members_tenant_isolation ON team_members
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());

-- roles
ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
CREATE POLICY roles_read ON roles FOR SELECT
    USING (organization_id IS NULL OR organization_id = app_current_organization_id());
CREATE POLICY roles_write ON roles
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());

-- role_permissions
ALTER TABLE role_permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE role_permissions FORCE ROW LEVEL SECURITY;
CREATE POLICY role_permissions_read ON role_permissions FOR SELECT
    USING (EXISTS (SELECT 1 FROM roles r WHERE r.id = role_permissions.role_id));
CREATE POLICY role_permissions_write ON role_permissions
    USING (EXISTS (SELECT 1 FROM roles r WHERE r.id = role_permissions.role_id AND r.organization_id = app_current_organization_id()))
    WITH CHECK (EXISTS (SELECT 1 FROM roles r WHERE r.id = role_permissions.role_id AND r.organization_id = app_current_organization_id()));

-- user_roles
ALTER TABLE user_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY user_roles_tenant_isolation ON user_roles
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());

-- projects
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
CREATE POLICY projects_tenant_isolation ON projects
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY projects_project_access ON projects AS RESTRICTIVE
    USING (app_current_user_id() IS NULL OR (SELECT app_is_org_admin())
           OR created_by = app_current_user_id() OR manager_id = app_current_user_id()
           OR id IN (SELECT app_accessible_project_ids()));

-- project_members
ALTER TABLE project_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_members FORCE ROW LEVEL SECURITY;
CREATE POLICY project_members_tenant_isolation ON project_members
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY project_members_project_access ON project_members AS RESTRICTIVE
    USING (app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- sprints
ALTER TABLE sprints ENABLE ROW LEVEL SECURITY;
ALTER TABLE sprints FORCE ROW LEVEL SECURITY;
CREATE POLICY sprints_tenant_isolation ON sprints
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY sprints_project_access ON sprints AS RESTRICTIVE
    USING (app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- custom_field_definitions
ALTER TABLE custom_field_definitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE custom_field_definitions FORCE ROW LEVEL SECURITY;
CREATE POLICY custom_field_definitions_tenant_isolation ON custom_field_definitions
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY custom_field_definitions_project_access ON custom_field_definitions AS RESTRICTIVE
    USING (project_id IS NULL OR app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- tasks
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY tasks_tenant_isolation ON tasks
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY tasks_project_access ON tasks AS RESTRICTIVE
    USING (app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- task_dependencies
ALTER TABLE task_dependencies ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_dependencies FORCE ROW LEVEL SECURITY;
CREATE POLICY task_dependencies_tenant_isolation ON task_dependencies
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY task_dependencies_parent_visible ON task_dependencies AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM tasks p WHERE p.id = task_dependencies.task_id));

-- documents
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
CREATE POLICY documents_tenant_isolation ON documents
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY documents_project_access ON documents AS RESTRICTIVE
    USING (app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- document_versions
ALTER TABLE document_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY document_versions_tenant_isolation ON document_versions
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY document_versions_parent_visible ON document_versions AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM documents p WHERE p.id = document_versions.document_id));

-- comments
ALTER TABLE comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE comments FORCE ROW LEVEL SECURITY;
CREATE POLICY comments_tenant_isolation ON comments
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY comments_project_access ON comments AS RESTRICTIVE
    USING (project_id IS NULL OR app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- notifications
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY notifications_tenant_isolation ON notifications
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY notifications_recipient_select ON notifications AS RESTRICTIVE FOR SELECT
    USING (app_current_user_id() IS NULL OR user_id = app_current_user_id());
CREATE POLICY notifications_recipient_update ON notifications AS RESTRICTIVE FOR UPDATE
    USING (app_current_user_id() IS NULL OR user_id = app_current_user_id());
CREATE POLICY notifications_recipient_delete ON notifications AS RESTRICTIVE FOR DELETE
    USING (app_current_user_id() IS NULL OR user_id = app_current_user_id());

-- files
ALTER TABLE files ENABLE ROW LEVEL SECURITY;
ALTER TABLE files FORCE ROW LEVEL SECURITY;
CREATE POLICY files_tenant_isolation ON files
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY files_project_access ON files AS RESTRICTIVE
    USING (project_id IS NULL OR app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- file_versions
ALTER TABLE file_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE file_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY file_versions_tenant_isolation ON file_versions
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY file_versions_parent_visible ON file_versions AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM files p WHERE p.id = file_versions.file_id));

-- conversations
ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
CREATE POLICY conversations_tenant_isolation ON conversations
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY conversations_participant_access ON conversations AS RESTRICTIVE
    USING (app_current_user_id() IS NULL OR created_by = app_current_user_id()
           OR id IN (SELECT app_conversation_ids()));

-- conversation_participants
ALTER TABLE conversation_participants ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversation_participants FORCE ROW LEVEL SECURITY;
CREATE POLICY conversation_participants_tenant_isolation ON conversation_participants
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY conversation_participants_parent_visible ON conversation_participants AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM conversations p WHERE p.id = conversation_participants.conversation_id));

-- messages
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY messages_tenant_isolation ON messages
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY messages_parent_visible ON messages AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM conversations p WHERE p.id = messages.conversation_id));
CREATE POLICY messages_author_is_user ON messages AS RESTRICTIVE FOR INSERT
    WITH CHECK (app_current_user_id() IS NULL OR author_id = app_current_user_id());

-- change_requests
ALTER TABLE change_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE change_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY change_requests_tenant_isolation ON change_requests
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY change_requests_project_access ON change_requests AS RESTRICTIVE
    USING (app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- change_request_impacts
ALTER TABLE change_request_impacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE change_request_impacts FORCE ROW LEVEL SECURITY;
CREATE POLICY change_request_impacts_tenant_isolation ON change_request_impacts
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY change_request_impacts_parent_visible ON change_request_impacts AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM change_requests p WHERE p.id = change_request_impacts.change_request_id));

-- change_request_approvals
ALTER TABLE change_request_approvals ENABLE ROW LEVEL SECURITY;
ALTER TABLE change_request_approvals FORCE ROW LEVEL SECURITY;
CREATE POLICY change_request_approvals_tenant_isolation ON change_request_approvals
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY change_request_approvals_parent_visible ON change_request_approvals AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM change_requests p WHERE p.id = change_request_approvals.change_request_id));

-- test_cases
ALTER TABLE test_cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE test_cases FORCE ROW LEVEL SECURITY;
CREATE POLICY test_cases_tenant_isolation ON test_cases
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY test_cases_project_access ON test_cases AS RESTRICTIVE
    USING (app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- test_executions
ALTER TABLE test_executions ENABLE ROW LEVEL SECURITY;
ALTER TABLE test_executions FORCE ROW LEVEL SECURITY;
CREATE POLICY test_executions_tenant_isolation ON test_executions
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY test_executions_parent_visible ON test_executions AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM test_cases p WHERE p.id = test_executions.test_case_id));

-- test_case_relations
ALTER TABLE test_case_relations ENABLE ROW LEVEL SECURITY;
ALTER TABLE test_case_relations FORCE ROW LEVEL SECURITY;
CREATE POLICY test_case_relations_tenant_isolation ON test_case_relations
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY test_case_relations_parent_visible ON test_case_relations AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM test_cases p WHERE p.id = test_case_relations.test_case_id));

-- document_relations
ALTER TABLE document_relations ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_relations FORCE ROW LEVEL SECURITY;
CREATE POLICY document_relations_tenant_isolation ON document_relations
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY document_relations_parent_visible ON document_relations AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM documents p WHERE p.id = document_relations.document_id));

-- workflows
ALTER TABLE workflows ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflows FORCE ROW LEVEL SECURITY;
CREATE POLICY workflows_tenant_isolation ON workflows
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY workflows_project_access ON workflows AS RESTRICTIVE
    USING (project_id IS NULL OR app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- workflow_executions
ALTER TABLE workflow_executions ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflow_executions FORCE ROW LEVEL SECURITY;
CREATE POLICY workflow_executions_tenant_isolation ON workflow_executions
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY workflow_executions_parent_visible ON workflow_executions AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM workflows p WHERE p.id = workflow_executions.workflow_id));

-- forms
ALTER TABLE forms ENABLE ROW LEVEL SECURITY;
ALTER TABLE forms FORCE ROW LEVEL SECURITY;
CREATE POLICY forms_tenant_isolation ON forms
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY forms_project_access ON forms AS RESTRICTIVE
    USING (project_id IS NULL OR app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- form_submissions
ALTER TABLE form_submissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE form_submissions FORCE ROW LEVEL SECURITY;
CREATE POLICY form_submissions_tenant_isolation ON form_submissions
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY form_submissions_parent_visible ON form_submissions AS RESTRICTIVE
    USING (EXISTS (SELECT 1 FROM forms p WHERE p.id = form_submissions.form_id));

-- audit_logs
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_logs_tenant_read ON audit_logs FOR SELECT
    USING (organization_id = app_current_organization_id());
CREATE POLICY audit_logs_insert ON audit_logs FOR INSERT
    WITH CHECK (organization_id IS NULL OR organization_id = app_current_organization_id());

-- activity_logs
ALTER TABLE activity_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY activity_logs_tenant_isolation ON activity_logs
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
CREATE POLICY activity_logs_project_access ON activity_logs AS RESTRICTIVE
    USING (project_id IS NULL OR app_current_user_id() IS NULL OR (SELECT app_is_org_admin()) OR project_id IN (SELECT app_accessible_project_ids()));

-- migrate:down

DROP POLICY activity_logs_tenant_isolation ON activity_logs;
DROP POLICY activity_logs_project_access ON activity_logs;
ALTER TABLE activity_logs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE activity_logs DISABLE ROW LEVEL SECURITY;
DROP POLICY audit_logs_tenant_read ON audit_logs;
DROP POLICY audit_logs_insert ON audit_logs;
ALTER TABLE audit_logs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_logs DISABLE ROW LEVEL SECURITY;
DROP POLICY form_submissions_tenant_isolation ON form_submissions;
DROP POLICY form_submissions_parent_visible ON form_submissions;
ALTER TABLE form_submissions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE form_submissions DISABLE ROW LEVEL SECURITY;
DROP POLICY forms_tenant_isolation ON forms;
DROP POLICY forms_project_access ON forms;
ALTER TABLE forms NO FORCE ROW LEVEL SECURITY;
ALTER TABLE forms DISABLE ROW LEVEL SECURITY;
DROP POLICY workflow_executions_tenant_isolation ON workflow_executions;
DROP POLICY workflow_executions_parent_visible ON workflow_executions;
ALTER TABLE workflow_executions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE workflow_executions DISABLE ROW LEVEL SECURITY;
DROP POLICY workflows_tenant_isolation ON workflows;
DROP POLICY workflows_project_access ON workflows;
ALTER TABLE workflows NO FORCE ROW LEVEL SECURITY;
ALTER TABLE workflows DISABLE ROW LEVEL SECURITY;
DROP POLICY document_relations_tenant_isolation ON document_relations;
DROP POLICY document_relations_parent_visible ON document_relations;
ALTER TABLE document_relations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE document_relations DISABLE ROW LEVEL SECURITY;
DROP POLICY test_case_relations_tenant_isolation ON test_case_relations;
DROP POLICY test_case_relations_parent_visible ON test_case_relations;
ALTER TABLE test_case_relations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE test_case_relations DISABLE ROW LEVEL SECURITY;
DROP POLICY test_executions_tenant_isolation ON test_executions;
DROP POLICY test_executions_parent_visible ON test_executions;
ALTER TABLE test_executions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE test_executions DISABLE ROW LEVEL SECURITY;
DROP POLICY test_cases_tenant_isolation ON test_cases;
DROP POLICY test_cases_project_access ON test_cases;
ALTER TABLE test_cases NO FORCE ROW LEVEL SECURITY;
ALTER TABLE test_cases DISABLE ROW LEVEL SECURITY;
DROP POLICY change_request_approvals_tenant_isolation ON change_request_approvals;
DROP POLICY change_request_approvals_parent_visible ON change_request_approvals;
ALTER TABLE change_request_approvals NO FORCE ROW LEVEL SECURITY;
ALTER TABLE change_request_approvals DISABLE ROW LEVEL SECURITY;
DROP POLICY change_request_impacts_tenant_isolation ON change_request_impacts;
DROP POLICY change_request_impacts_parent_visible ON change_request_impacts;
ALTER TABLE change_request_impacts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE change_request_impacts DISABLE ROW LEVEL SECURITY;
DROP POLICY change_requests_tenant_isolation ON change_requests;
DROP POLICY change_requests_project_access ON change_requests;
ALTER TABLE change_requests NO FORCE ROW LEVEL SECURITY;
ALTER TABLE change_requests DISABLE ROW LEVEL SECURITY;
DROP POLICY messages_tenant_isolation ON messages;
DROP POLICY messages_parent_visible ON messages;
DROP POLICY messages_author_is_user ON messages;
ALTER TABLE messages NO FORCE ROW LEVEL SECURITY;
ALTER TABLE messages DISABLE ROW LEVEL SECURITY;
DROP POLICY conversation_participants_tenant_isolation ON conversation_participants;
DROP POLICY conversation_participants_parent_visible ON conversation_participants;
ALTER TABLE conversation_participants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE conversation_participants DISABLE ROW LEVEL SECURITY;
DROP POLICY conversations_tenant_isolation ON conversations;
DROP POLICY conversations_participant_access ON conversations;
ALTER TABLE conversations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE conversations DISABLE ROW LEVEL SECURITY;
DROP POLICY file_versions_tenant_isolation ON file_versions;
DROP POLICY file_versions_parent_visible ON file_versions;
ALTER TABLE file_versions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE file_versions DISABLE ROW LEVEL SECURITY;
DROP POLICY files_tenant_isolation ON files;
DROP POLICY files_project_access ON files;
ALTER TABLE files NO FORCE ROW LEVEL SECURITY;
ALTER TABLE files DISABLE ROW LEVEL SECURITY;
DROP POLICY notifications_tenant_isolation ON notifications;
DROP POLICY notifications_recipient_select ON notifications;
DROP POLICY notifications_recipient_update ON notifications;
DROP POLICY notifications_recipient_delete ON notifications;
ALTER TABLE notifications NO FORCE ROW LEVEL SECURITY;
ALTER TABLE notifications DISABLE ROW LEVEL SECURITY;
DROP POLICY comments_tenant_isolation ON comments;
DROP POLICY comments_project_access ON comments;
ALTER TABLE comments NO FORCE ROW LEVEL SECURITY;
ALTER TABLE comments DISABLE ROW LEVEL SECURITY;
DROP POLICY document_versions_tenant_isolation ON document_versions;
DROP POLICY document_versions_parent_visible ON document_versions;
ALTER TABLE document_versions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE document_versions DISABLE ROW LEVEL SECURITY;
DROP POLICY documents_tenant_isolation ON documents;
DROP POLICY documents_project_access ON documents;
ALTER TABLE documents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE documents DISABLE ROW LEVEL SECURITY;
DROP POLICY task_dependencies_tenant_isolation ON task_dependencies;
DROP POLICY task_dependencies_parent_visible ON task_dependencies;
ALTER TABLE task_dependencies NO FORCE ROW LEVEL SECURITY;
ALTER TABLE task_dependencies DISABLE ROW LEVEL SECURITY;
DROP POLICY tasks_tenant_isolation ON tasks;
DROP POLICY tasks_project_access ON tasks;
ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tasks DISABLE ROW LEVEL SECURITY;
DROP POLICY custom_field_definitions_tenant_isolation ON custom_field_definitions;
DROP POLICY custom_field_definitions_project_access ON custom_field_definitions;
ALTER TABLE custom_field_definitions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE custom_field_definitions DISABLE ROW LEVEL SECURITY;
DROP POLICY sprints_tenant_isolation ON sprints;
DROP POLICY sprints_project_access ON sprints;
ALTER TABLE sprints NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sprints DISABLE ROW LEVEL SECURITY;
DROP POLICY project_members_tenant_isolation ON project_members;
DROP POLICY project_members_project_access ON project_members;
ALTER TABLE project_members NO FORCE ROW LEVEL SECURITY;
ALTER TABLE project_members DISABLE ROW LEVEL SECURITY;
DROP POLICY projects_tenant_isolation ON projects;
DROP POLICY projects_project_access ON projects;
ALTER TABLE projects NO FORCE ROW LEVEL SECURITY;
ALTER TABLE projects DISABLE ROW LEVEL SECURITY;
DROP POLICY user_roles_tenant_isolation ON user_roles;
ALTER TABLE user_roles NO FORCE ROW LEVEL SECURITY;
ALTER TABLE user_roles DISABLE ROW LEVEL SECURITY;
DROP POLICY role_permissions_read ON role_permissions;
DROP POLICY role_permissions_write ON role_permissions;
ALTER TABLE role_permissions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE role_permissions DISABLE ROW LEVEL SECURITY;
DROP POLICY roles_read ON roles;
DROP POLICY roles_write ON roles;
ALTER TABLE roles NO FORCE ROW LEVEL SECURITY;
ALTER TABLE roles DISABLE ROW LEVEL SECURITY;
DROP POLICY team_members_tenant_isolation ON team_members;
ALTER TABLE team_members NO FORCE ROW LEVEL SECURITY;
ALTER TABLE team_members DISABLE ROW LEVEL SECURITY;
DROP POLICY teams_tenant_isolation ON teams;
ALTER TABLE teams NO FORCE ROW LEVEL SECURITY;
ALTER TABLE teams DISABLE ROW LEVEL SECURITY;
DROP POLICY organization_members_tenant_isolation ON organization_members;
ALTER TABLE organization_members NO FORCE ROW LEVEL SECURITY;
ALTER TABLE organization_members DISABLE ROW LEVEL SECURITY;
DROP POLICY organizations_tenant_isolation ON organizations;
ALTER TABLE organizations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE organizations DISABLE ROW LEVEL SECURITY;

DROP FUNCTION app_current_user_memberships();
DROP FUNCTION app_conversation_ids();
DROP FUNCTION app_accessible_project_ids();
DROP FUNCTION app_is_org_admin();
