-- Work management: projects (hierarchical), project members, sprints, custom field
-- definitions, tasks (hierarchical, tags, custom field values, full-text search) and task
-- dependencies.
--
-- Calendar dates of a plan (start/end of a project or sprint) are `date`; instants are
-- `timestamptz`. Children reference their parent through (id, organization_id) so a row can
-- never point into another tenant.

CREATE TABLE projects (
    id              uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid             NOT NULL DEFAULT app_current_organization_id()
                                     REFERENCES organizations (id) ON DELETE CASCADE,
    parent_id       uuid,
    team_id         uuid,
    name            text             NOT NULL,
    slug            citext           NOT NULL,
    description     text,
    status          project_status   NOT NULL DEFAULT 'active',
    priority        project_priority NOT NULL DEFAULT 'medium',
    project_type    text,
    manager_id      uuid             REFERENCES users (id) ON DELETE SET NULL,
    client_id       uuid             REFERENCES users (id) ON DELETE SET NULL,
    start_date      date,
    end_date        date,
    completion_date date,
    budget          numeric(12, 2),
    estimated_hours numeric(10, 2),
    actual_hours    numeric(10, 2)   NOT NULL DEFAULT 0,
    tags            text[]           NOT NULL DEFAULT '{}',
    metadata        jsonb            NOT NULL DEFAULT '{}',
    settings        jsonb            NOT NULL DEFAULT '{}',
    is_template     boolean          NOT NULL DEFAULT false,
    template_id     uuid,
    created_by      uuid             NOT NULL REFERENCES users (id),
    created_at      timestamptz      NOT NULL DEFAULT now(),
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid             REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT projects_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT projects_parent_fk FOREIGN KEY (parent_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE SET NULL (parent_id),
    CONSTRAINT projects_template_fk FOREIGN KEY (template_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE SET NULL (template_id),
    CONSTRAINT projects_team_fk FOREIGN KEY (team_id, organization_id)
        REFERENCES teams (id, organization_id) ON DELETE SET NULL (team_id),
    CONSTRAINT projects_not_own_parent CHECK (parent_id <> id),
    CONSTRAINT projects_dates_check CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date),
    CONSTRAINT projects_budget_check CHECK (budget IS NULL OR budget >= 0),
    CONSTRAINT projects_hours_check CHECK (actual_hours >= 0 AND (estimated_hours IS NULL OR estimated_hours >= 0)),
    CONSTRAINT projects_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$')
);

CREATE INDEX idx_projects_organization_id ON projects (organization_id);
CREATE INDEX idx_projects_org_status ON projects (organization_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_projects_status ON projects (status) WHERE deleted_at IS NULL;
CREATE INDEX idx_projects_manager_id ON projects (manager_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_projects_created_by ON projects (created_by);
CREATE INDEX idx_projects_created_at ON projects (created_at);
CREATE INDEX idx_projects_parent_id ON projects (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX idx_projects_team_id ON projects (team_id) WHERE team_id IS NOT NULL;
CREATE INDEX idx_projects_template_id ON projects (template_id) WHERE template_id IS NOT NULL;
CREATE INDEX idx_projects_tags ON projects USING gin (tags);
CREATE UNIQUE INDEX projects_organization_slug_key ON projects (organization_id, slug)
    WHERE deleted_at IS NULL;

CREATE TRIGGER projects_set_updated_at BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER projects_audit AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();

-- Who works on a project, with a project-level role from the RBAC tables. Row-level
-- security (V16) lets a user see a project's rows only through an active membership here
-- (or as its manager/creator, or as an organization owner/admin).
CREATE TABLE project_members (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid        NOT NULL,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id         uuid        REFERENCES roles (id) ON DELETE SET NULL,
    is_active       boolean     NOT NULL DEFAULT true,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT project_members_project_user_key UNIQUE (project_id, user_id),
    CONSTRAINT project_members_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE
);

CREATE INDEX idx_project_members_user_id ON project_members (user_id) WHERE is_active;
CREATE INDEX idx_project_members_organization_id ON project_members (organization_id);
CREATE INDEX idx_project_members_role_id ON project_members (role_id) WHERE role_id IS NOT NULL;

CREATE TRIGGER project_members_set_updated_at BEFORE UPDATE ON project_members
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE sprints (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid          NOT NULL DEFAULT app_current_organization_id()
                                  REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid          NOT NULL,
    name            text          NOT NULL,
    goal            text,
    status          sprint_status NOT NULL DEFAULT 'planned',
    start_date      date          NOT NULL,
    end_date        date          NOT NULL,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT sprints_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT sprints_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT sprints_dates_check CHECK (end_date >= start_date)
);

CREATE INDEX idx_sprints_project_status ON sprints (project_id, status);
CREATE INDEX idx_sprints_organization_id ON sprints (organization_id);

CREATE TRIGGER sprints_set_updated_at BEFORE UPDATE ON sprints
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Definitions of the custom fields whose values live in tasks.custom_fields (keyed by `key`).
-- project_id NULL: the field applies to every project of the organization.
CREATE TABLE custom_field_definitions (
    id              uuid              PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid              NOT NULL DEFAULT app_current_organization_id()
                                      REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid,
    key             text              NOT NULL,
    label           text              NOT NULL,
    field_type      custom_field_type NOT NULL,
    options         jsonb             NOT NULL DEFAULT '[]',  -- choices of select fields
    is_required     boolean           NOT NULL DEFAULT false,
    position        integer           NOT NULL DEFAULT 0,
    created_at      timestamptz       NOT NULL DEFAULT now(),
    updated_at      timestamptz       NOT NULL DEFAULT now(),
    CONSTRAINT custom_field_definitions_key_format CHECK (key ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT custom_field_definitions_scope_key
        UNIQUE NULLS NOT DISTINCT (organization_id, project_id, key),
    CONSTRAINT custom_field_definitions_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE
);

CREATE INDEX idx_custom_field_definitions_project_id ON custom_field_definitions (project_id)
    WHERE project_id IS NOT NULL;

CREATE TRIGGER custom_field_definitions_set_updated_at BEFORE UPDATE ON custom_field_definitions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE tasks (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid          NOT NULL DEFAULT app_current_organization_id()
                                  REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid          NOT NULL,
    parent_id       uuid,
    sprint_id       uuid,
    assignee_id     uuid          REFERENCES users (id) ON DELETE SET NULL,
    title           text          NOT NULL,
    description     text,
    status          task_status   NOT NULL DEFAULT 'todo',
    priority        task_priority NOT NULL DEFAULT 'medium',
    start_date      timestamptz,
    due_date        timestamptz,
    completed_at    timestamptz,
    estimated_hours numeric(8, 2),
    actual_hours    numeric(8, 2),
    tags            text[]        NOT NULL DEFAULT '{}',
    custom_fields   jsonb         NOT NULL DEFAULT '{}',  -- {custom_field_definitions.key: value}
    metadata        jsonb         NOT NULL DEFAULT '{}',
    search_vector   tsvector,                             -- maintained by tasks_search_vector
    created_by      uuid          NOT NULL REFERENCES users (id),
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid          REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT tasks_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT tasks_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT tasks_parent_fk FOREIGN KEY (parent_id, organization_id)
        REFERENCES tasks (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT tasks_sprint_fk FOREIGN KEY (sprint_id, organization_id)
        REFERENCES sprints (id, organization_id) ON DELETE SET NULL (sprint_id),
    CONSTRAINT tasks_not_own_parent CHECK (parent_id <> id),
    CONSTRAINT tasks_dates_check CHECK (due_date IS NULL OR start_date IS NULL OR due_date >= start_date),
    CONSTRAINT tasks_hours_check CHECK (
        (estimated_hours IS NULL OR estimated_hours >= 0) AND (actual_hours IS NULL OR actual_hours >= 0)
    ),
    CONSTRAINT tasks_custom_fields_object CHECK (jsonb_typeof(custom_fields) = 'object')
);

CREATE INDEX idx_tasks_project_id ON tasks (project_id);
CREATE INDEX idx_tasks_project_status ON tasks (project_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_org_status ON tasks (organization_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_assignee_id ON tasks (assignee_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_status ON tasks (status) WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_priority ON tasks (priority) WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_due_date ON tasks (due_date) WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_created_by ON tasks (created_by);
CREATE INDEX idx_tasks_parent_id ON tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX idx_tasks_sprint_id ON tasks (sprint_id) WHERE sprint_id IS NOT NULL;
CREATE INDEX idx_tasks_tags ON tasks USING gin (tags);
CREATE INDEX idx_tasks_custom_fields ON tasks USING gin (custom_fields jsonb_path_ops);
CREATE INDEX idx_tasks_search_vector ON tasks USING gin (search_vector);
CREATE INDEX idx_tasks_title_trgm ON tasks USING gin (title gin_trgm_ops) WHERE deleted_at IS NULL;

-- Full-text search weights: title A, description B, tags C (tags with the 'simple'
-- configuration: labels are not stemmed).
CREATE FUNCTION tasks_search_vector_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.description, '')), 'B') ||
        setweight(to_tsvector('simple', array_to_string(NEW.tags, ' ')), 'C');
    RETURN NEW;
END;
$$;

CREATE TRIGGER tasks_search_vector BEFORE INSERT OR UPDATE OF title, description, tags ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_search_vector_update();
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER tasks_audit AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();

-- task_id cannot start/finish before depends_on_task_id (by dependency_type). Cycles are
-- rejected by the application: a trigger cannot detect them race-free without locking.
CREATE TABLE task_dependencies (
    id                 uuid                 PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id    uuid                 NOT NULL DEFAULT app_current_organization_id()
                                            REFERENCES organizations (id) ON DELETE CASCADE,
    task_id            uuid                 NOT NULL,
    depends_on_task_id uuid                 NOT NULL,
    dependency_type    task_dependency_type NOT NULL DEFAULT 'finish_to_start',
    created_by         uuid                 REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz          NOT NULL DEFAULT now(),
    CONSTRAINT task_dependencies_pair_key UNIQUE (task_id, depends_on_task_id),
    CONSTRAINT task_dependencies_task_fk FOREIGN KEY (task_id, organization_id)
        REFERENCES tasks (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT task_dependencies_depends_on_fk FOREIGN KEY (depends_on_task_id, organization_id)
        REFERENCES tasks (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT task_dependencies_not_self CHECK (task_id <> depends_on_task_id)
);

CREATE INDEX idx_task_dependencies_depends_on ON task_dependencies (depends_on_task_id);

-- migrate:down

DROP TABLE task_dependencies;
DROP TABLE tasks;
DROP FUNCTION tasks_search_vector_update();
DROP TABLE custom_field_definitions;
DROP TABLE sprints;
DROP TABLE project_members;
DROP TABLE projects;
