-- Role-based access control: a global permission catalog (resource + action + scope),
-- roles (system-wide when organization_id IS NULL, else owned by one organization),
-- the permissions of each role, and role assignments per organization.
-- Project-level roles are assigned through project_members.role_id (V6).

CREATE TABLE permissions (
    id          uuid              PRIMARY KEY DEFAULT gen_random_uuid(),
    key         text              NOT NULL UNIQUE,   -- e.g. 'task.update'
    resource    text              NOT NULL,          -- e.g. 'task', 'document'
    action      permission_action NOT NULL,
    scope       permission_scope  NOT NULL DEFAULT 'project',
    description text,
    created_at  timestamptz       NOT NULL DEFAULT now(),
    CONSTRAINT permissions_key_format CHECK (key ~ '^[a-z_]+(\.[a-z_]+)+$')
);

CREATE INDEX idx_permissions_resource_action ON permissions (resource, action);

CREATE TABLE roles (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        REFERENCES organizations (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    description     text,
    is_system       boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roles_system_is_global CHECK (is_system = (organization_id IS NULL)),
    CONSTRAINT roles_organization_name_key UNIQUE NULLS NOT DISTINCT (organization_id, name)
);

CREATE TRIGGER roles_set_updated_at BEFORE UPDATE ON roles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE role_permissions (
    role_id       uuid        NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id uuid        NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_id, permission_id)
);

CREATE INDEX idx_role_permissions_permission_id ON role_permissions (permission_id);

CREATE TABLE user_roles (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id         uuid        NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    granted_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_roles_org_user_role_key UNIQUE (organization_id, user_id, role_id)
);

CREATE INDEX idx_user_roles_user_id ON user_roles (user_id);
CREATE INDEX idx_user_roles_role_id ON user_roles (role_id);

-- migrate:down

DROP TABLE user_roles;
DROP TABLE role_permissions;
DROP TABLE roles;
DROP TABLE permissions;
