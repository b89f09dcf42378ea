-- Test management (ProManage): reusable test cases, their executions, relations between
-- test cases, and document relations (document <-> document, document <-> test case).
-- document_relations lives here rather than in V7 because it references test_cases.

CREATE TABLE test_cases (
    id                uuid                   PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id   uuid                   NOT NULL DEFAULT app_current_organization_id()
                                             REFERENCES organizations (id) ON DELETE CASCADE,
    project_id        uuid                   NOT NULL,
    title             text                   NOT NULL,
    description       text,
    preconditions     text,
    steps             jsonb                  NOT NULL DEFAULT '[]',  -- [{action, expected}]
    expected_result   text,
    priority          task_priority          NOT NULL DEFAULT 'medium',
    status            test_case_status       NOT NULL DEFAULT 'draft',
    automation_status test_automation_status NOT NULL DEFAULT 'manual',
    is_template       boolean                NOT NULL DEFAULT false,
    template_id       uuid,
    reuse_count       integer                NOT NULL DEFAULT 0,
    tags              text[]                 NOT NULL DEFAULT '{}',
    created_by        uuid                   NOT NULL REFERENCES users (id),
    created_at        timestamptz            NOT NULL DEFAULT now(),
    updated_at        timestamptz            NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    deleted_by        uuid                   REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT test_cases_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT test_cases_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT test_cases_template_fk FOREIGN KEY (template_id, organization_id)
        REFERENCES test_cases (id, organization_id) ON DELETE SET NULL (template_id),
    CONSTRAINT test_cases_reuse_count_check CHECK (reuse_count >= 0),
    CONSTRAINT test_cases_steps_array CHECK (jsonb_typeof(steps) = 'array')
);

CREATE INDEX idx_test_cases_project_id ON test_cases (project_id);
CREATE INDEX idx_test_cases_project_status ON test_cases (project_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_test_cases_templates ON test_cases (organization_id, reuse_count DESC)
    WHERE is_template AND deleted_at IS NULL;
CREATE INDEX idx_test_cases_reuse_count ON test_cases (project_id, reuse_count DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_test_cases_template_id ON test_cases (template_id) WHERE template_id IS NOT NULL;
CREATE INDEX idx_test_cases_tags ON test_cases USING gin (tags);

CREATE TRIGGER test_cases_set_updated_at BEFORE UPDATE ON test_cases
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One row per run of a test case (immutable, no updated_at).
CREATE TABLE test_executions (
    id              uuid                  PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid                  NOT NULL DEFAULT app_current_organization_id()
                                          REFERENCES organizations (id) ON DELETE CASCADE,
    test_case_id    uuid                  NOT NULL,
    sprint_id       uuid,
    executed_by     uuid                  REFERENCES users (id) ON DELETE SET NULL,
    status          test_execution_status NOT NULL DEFAULT 'not_run',
    environment     text,
    build_version   text,
    duration_ms     integer,
    notes           text,
    evidence        jsonb                 NOT NULL DEFAULT '{}',  -- logs, screenshots (file ids)
    executed_at     timestamptz           NOT NULL DEFAULT now(),
    created_at      timestamptz           NOT NULL DEFAULT now(),
    CONSTRAINT test_executions_test_case_fk FOREIGN KEY (test_case_id, organization_id)
        REFERENCES test_cases (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT test_executions_sprint_fk FOREIGN KEY (sprint_id, organization_id)
        REFERENCES sprints (id, organization_id) ON DELETE SET NULL (sprint_id),
    CONSTRAINT test_executions_duration_check CHECK (duration_ms IS NULL OR duration_ms >= 0)
);

CREATE INDEX idx_test_executions_test_case ON test_executions (test_case_id, executed_at DESC);
CREATE INDEX idx_test_executions_status ON test_executions (organization_id, status, executed_at DESC);
CREATE INDEX idx_test_executions_executed_by ON test_executions (executed_by);
CREATE INDEX idx_test_executions_sprint_id ON test_executions (sprint_id) WHERE sprint_id IS NOT NULL;

CREATE TABLE test_case_relations (
    id                   uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id      uuid          NOT NULL DEFAULT app_current_organization_id()
                                       REFERENCES organizations (id) ON DELETE CASCADE,
    test_case_id         uuid          NOT NULL,
    related_test_case_id uuid          NOT NULL,
    relation_type        relation_type NOT NULL DEFAULT 'related',
    created_by           uuid          REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT test_case_relations_key UNIQUE (test_case_id, related_test_case_id, relation_type),
    CONSTRAINT test_case_relations_test_case_fk FOREIGN KEY (test_case_id, organization_id)
        REFERENCES test_cases (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT test_case_relations_related_fk FOREIGN KEY (related_test_case_id, organization_id)
        REFERENCES test_cases (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT test_case_relations_not_self CHECK (test_case_id <> related_test_case_id)
);

CREATE INDEX idx_test_case_relations_related ON test_case_relations (related_test_case_id);

-- A document related to exactly one target: another document or a test case.
CREATE TABLE document_relations (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id     uuid          NOT NULL DEFAULT app_current_organization_id()
                                      REFERENCES organizations (id) ON DELETE CASCADE,
    document_id         uuid          NOT NULL,
    related_document_id uuid,
    test_case_id        uuid,
    relation_type       relation_type NOT NULL DEFAULT 'related',
    created_by          uuid          REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT document_relations_key
        UNIQUE NULLS NOT DISTINCT (document_id, related_document_id, test_case_id, relation_type),
    CONSTRAINT document_relations_document_fk FOREIGN KEY (document_id, organization_id)
        REFERENCES documents (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT document_relations_related_document_fk FOREIGN KEY (related_document_id, organization_id)
        REFERENCES documents (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT document_relations_test_case_fk FOREIGN KEY (test_case_id, organization_id)
        REFERENCES test_cases (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT document_relations_one_target CHECK (num_nonnulls(related_document_id, test_case_id) = 1),
    CONSTRAINT document_relations_not_self CHECK (document_id <> related_document_id)
);

CREATE INDEX idx_document_relations_related_document ON document_relations (related_document_id)
    WHERE related_document_id IS NOT NULL;
CREATE INDEX idx_document_relations_test_case ON document_relations (test_case_id)
    WHERE test_case_id IS NOT NULL;

-- migrate:down

DROP TABLE document_relations;
DROP TABLE test_case_relations;
DROP TABLE test_executions;
DROP TABLE test_cases;
