-- Automation: workflows (trigger + conditions + actions as JSON) with their executions, and
-- forms with their submissions. project_id NULL means organization-wide.

CREATE TABLE workflows (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid,
    name            text        NOT NULL,
    description     text,
    enabled         boolean     NOT NULL DEFAULT true,
    trigger         jsonb       NOT NULL DEFAULT '{}',   -- e.g. {"event": "task.status_changed"}
    conditions      jsonb       NOT NULL DEFAULT '[]',
    actions         jsonb       NOT NULL DEFAULT '[]',
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT workflows_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT workflows_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE
);

CREATE INDEX idx_workflows_organization_enabled ON workflows (organization_id)
    WHERE enabled AND deleted_at IS NULL;
CREATE INDEX idx_workflows_project_id ON workflows (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX idx_workflows_trigger ON workflows USING gin (trigger jsonb_path_ops);

CREATE TRIGGER workflows_set_updated_at BEFORE UPDATE ON workflows
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE workflow_executions (
    id              uuid                      PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid                      NOT NULL DEFAULT app_current_organization_id()
                                              REFERENCES organizations (id) ON DELETE CASCADE,
    workflow_id     uuid                      NOT NULL,
    status          workflow_execution_status NOT NULL DEFAULT 'pending',
    trigger_payload jsonb                     NOT NULL DEFAULT '{}',
    result          jsonb,
    error           text,
    started_at      timestamptz,
    finished_at     timestamptz,
    created_at      timestamptz               NOT NULL DEFAULT now(),
    CONSTRAINT workflow_executions_workflow_fk FOREIGN KEY (workflow_id, organization_id)
        REFERENCES workflows (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT workflow_executions_times_check
        CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);

CREATE INDEX idx_workflow_executions_workflow ON workflow_executions (workflow_id, created_at DESC);
CREATE INDEX idx_workflow_executions_pending ON workflow_executions (created_at)
    WHERE status IN ('pending', 'running');

CREATE TABLE forms (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid,
    title           text        NOT NULL,
    description     text,
    fields          jsonb       NOT NULL DEFAULT '[]',   -- [{key, label, type, required, options}]
    is_active       boolean     NOT NULL DEFAULT true,
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT forms_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT forms_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT forms_fields_array CHECK (jsonb_typeof(fields) = 'array')
);

CREATE INDEX idx_forms_organization_id ON forms (organization_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_forms_project_id ON forms (project_id) WHERE project_id IS NOT NULL;

CREATE TRIGGER forms_set_updated_at BEFORE UPDATE ON forms
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- submitted_by NULL: anonymous submission (public form).
CREATE TABLE form_submissions (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    form_id         uuid        NOT NULL,
    submitted_by    uuid        REFERENCES users (id) ON DELETE SET NULL,
    data            jsonb       NOT NULL DEFAULT '{}',
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT form_submissions_form_fk FOREIGN KEY (form_id, organization_id)
        REFERENCES forms (id, organization_id) ON DELETE CASCADE
);

CREATE INDEX idx_form_submissions_form ON form_submissions (form_id, submitted_at DESC);
CREATE INDEX idx_form_submissions_submitted_by ON form_submissions (submitted_by)
    WHERE submitted_by IS NOT NULL;

-- migrate:down

DROP TABLE form_submissions;
DROP TABLE forms;
DROP TABLE workflow_executions;
DROP TABLE workflows;
