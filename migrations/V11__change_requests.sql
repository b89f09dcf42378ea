-- Change control (ProManage): change requests, their impact analysis and approvals, and the
-- link from tasks to the change request they implement.

CREATE TABLE change_requests (
    id              uuid                  PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid                  NOT NULL DEFAULT app_current_organization_id()
                                          REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid                  NOT NULL,
    title           text                  NOT NULL,
    description     text,
    justification   text,
    category        text,                 -- e.g. scope, schedule, budget, technical
    status          change_request_status NOT NULL DEFAULT 'draft',
    priority        project_priority      NOT NULL DEFAULT 'medium',
    requested_by    uuid                  NOT NULL REFERENCES users (id),
    assigned_to     uuid                  REFERENCES users (id) ON DELETE SET NULL,
    due_date        date,
    submitted_at    timestamptz,
    decided_at      timestamptz,
    implemented_at  timestamptz,
    created_at      timestamptz           NOT NULL DEFAULT now(),
    updated_at      timestamptz           NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid                  REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT change_requests_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT change_requests_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE
);

CREATE INDEX idx_change_requests_project_id ON change_requests (project_id);
CREATE INDEX idx_change_requests_project_status ON change_requests (project_id, status)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_change_requests_org_status ON change_requests (organization_id, status)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_change_requests_assigned_to ON change_requests (assigned_to) WHERE deleted_at IS NULL;
CREATE INDEX idx_change_requests_requested_by ON change_requests (requested_by);
CREATE INDEX idx_change_requests_due_date ON change_requests (due_date) WHERE deleted_at IS NULL;
CREATE INDEX idx_change_requests_created_at ON change_requests (created_at);

CREATE TRIGGER change_requests_set_updated_at BEFORE UPDATE ON change_requests
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE change_request_impacts (
    id                   uuid           PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id      uuid           NOT NULL DEFAULT app_current_organization_id()
                                        REFERENCES organizations (id) ON DELETE CASCADE,
    change_request_id    uuid           NOT NULL,
    impact_area          text           NOT NULL,
    level                impact_level   NOT NULL DEFAULT 'medium',
    description          text,
    estimated_cost       numeric(12, 2),
    estimated_hours      numeric(8, 2),
    schedule_delay_days  integer,
    affected_entity_type text,
    affected_entity_id   uuid,
    created_at           timestamptz    NOT NULL DEFAULT now(),
    updated_at           timestamptz    NOT NULL DEFAULT now(),
    CONSTRAINT change_request_impacts_change_request_fk FOREIGN KEY (change_request_id, organization_id)
        REFERENCES change_requests (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT change_request_impacts_area_check CHECK (
        impact_area IN ('scope', 'schedule', 'cost', 'quality', 'resources', 'risk', 'security', 'other')
    ),
    CONSTRAINT change_request_impacts_entity_check
        CHECK ((affected_entity_type IS NULL) = (affected_entity_id IS NULL))
);

CREATE INDEX idx_change_request_impacts_change_request_id ON change_request_impacts (change_request_id);

CREATE TRIGGER change_request_impacts_set_updated_at BEFORE UPDATE ON change_request_impacts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One row per approver and approval step; decided_at is set exactly when a decision is made.
CREATE TABLE change_request_approvals (
    id                uuid              PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id   uuid              NOT NULL DEFAULT app_current_organization_id()
                                        REFERENCES organizations (id) ON DELETE CASCADE,
    change_request_id uuid              NOT NULL,
    approver_id       uuid              NOT NULL REFERENCES users (id),
    step              integer           NOT NULL DEFAULT 1,
    decision          approval_decision NOT NULL DEFAULT 'pending',
    comment           text,
    decided_at        timestamptz,
    created_at        timestamptz       NOT NULL DEFAULT now(),
    updated_at        timestamptz       NOT NULL DEFAULT now(),
    CONSTRAINT change_request_approvals_key UNIQUE (change_request_id, approver_id, step),
    CONSTRAINT change_request_approvals_change_request_fk FOREIGN KEY (change_request_id, organization_id)
        REFERENCES change_requests (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT change_request_approvals_decided_check CHECK ((decision = 'pending') = (decided_at IS NULL)),
    CONSTRAINT change_request_approvals_step_positive CHECK (step > 0)
);

CREATE INDEX idx_change_request_approvals_approver_pending ON change_request_approvals (approver_id)
    WHERE decision = 'pending';

CREATE TRIGGER change_request_approvals_set_updated_at BEFORE UPDATE ON change_request_approvals
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Change_Requests (1) -> (N) Tasks.
ALTER TABLE tasks
    ADD COLUMN change_request_id uuid,
    ADD CONSTRAINT tasks_change_request_fk FOREIGN KEY (change_request_id, organization_id)
        REFERENCES change_requests (id, organization_id) ON DELETE SET NULL (change_request_id);

CREATE INDEX idx_tasks_change_request_id ON tasks (change_request_id) WHERE change_request_id IS NOT NULL;

-- migrate:down

DROP INDEX idx_tasks_change_request_id;
ALTER TABLE tasks DROP CONSTRAINT tasks_change_request_fk, DROP COLUMN change_request_id;
DROP TABLE change_request_approvals;
DROP TABLE change_request_impacts;
DROP TABLE change_requests;
