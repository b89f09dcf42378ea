-- Identity and tenancy: users, profiles, organizations (the tenant root, called Workspace
-- in one design document), memberships, teams.
--
-- Users are global: one account can belong to several organizations through
-- organization_members. Every tenant-owned table from here on carries organization_id, and
-- a child references its parent through (parent_id, organization_id) so a row can never
-- point into another tenant.

CREATE TABLE users (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email              citext      NOT NULL,
    password_hash      text,       -- bcrypt; NULL for OAuth-only accounts
    name               text        NOT NULL,  -- display name
    first_name         text,
    last_name          text,
    role               user_role   NOT NULL DEFAULT 'user',  -- platform-wide role
    status             user_status NOT NULL DEFAULT 'active',
    email_verified     boolean     NOT NULL DEFAULT false,
    email_verified_at  timestamptz,
    two_factor_enabled boolean     NOT NULL DEFAULT false,
    oauth_provider     text,
    oauth_id           text,
    last_login_at      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz,
    deleted_by         uuid        REFERENCES users (id) ON DELETE SET NULL
);

-- E-mail is unique among live accounts; a soft-deleted account frees its address.
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX idx_users_oauth ON users (oauth_provider, oauth_id)
    WHERE oauth_provider IS NOT NULL;
CREATE INDEX idx_users_status ON users (status) WHERE deleted_at IS NULL;
CREATE INDEX idx_users_role ON users (role) WHERE deleted_at IS NULL;
CREATE INDEX idx_users_created_at ON users (created_at);

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER users_audit AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();

-- One profile per user: the personal details and preferences that are not needed to log in.
CREATE TABLE user_profiles (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid        NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    avatar_url  text,
    bio         text,
    phone       text,
    company     text,
    department  text,
    job_title   text,
    timezone    text        NOT NULL DEFAULT 'UTC',
    locale      text        NOT NULL DEFAULT 'en',
    preferences jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER user_profiles_set_updated_at BEFORE UPDATE ON user_profiles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE organizations (
    id                  uuid                PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text                NOT NULL,
    slug                citext              NOT NULL,
    description         text,
    organization_type   text,               -- e.g. university, agency, independent
    industry            text,
    size                organization_size,
    status              organization_status NOT NULL DEFAULT 'active',
    logo_url            text,
    website_url         text,
    location            text,
    contact_email       citext,
    contact_phone       text,
    billing_email       citext,
    subscription_tier   text                NOT NULL DEFAULT 'free',
    subscription_status text                NOT NULL DEFAULT 'active',
    stripe_customer_id  text,
    settings            jsonb               NOT NULL DEFAULT '{}',
    owner_id            uuid                NOT NULL REFERENCES users (id),
    created_at          timestamptz         NOT NULL DEFAULT now(),
    updated_at          timestamptz         NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    deleted_by          uuid                REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT organizations_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$')
);

CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX organizations_stripe_customer_id_key ON organizations (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;
CREATE INDEX idx_organizations_status ON organizations (status) WHERE deleted_at IS NULL;
CREATE INDEX idx_organizations_owner_id ON organizations (owner_id);

CREATE TRIGGER organizations_set_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER organizations_audit AFTER INSERT OR UPDATE OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();

CREATE TABLE organization_members (
    id              uuid              PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid              NOT NULL DEFAULT app_current_organization_id()
                                      REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid              NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            organization_role NOT NULL DEFAULT 'member',
    permissions     jsonb             NOT NULL DEFAULT '[]',  -- per-member grants on top of role
    invited_by      uuid              REFERENCES users (id) ON DELETE SET NULL,
    joined_at       timestamptz       NOT NULL DEFAULT now(),
    created_at      timestamptz       NOT NULL DEFAULT now(),
    updated_at      timestamptz       NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid              REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT organization_members_org_user_key UNIQUE (organization_id, user_id)
);

CREATE INDEX idx_organization_members_user_id ON organization_members (user_id)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_organization_members_role ON organization_members (organization_id, role)
    WHERE deleted_at IS NULL;

CREATE TRIGGER organization_members_set_updated_at BEFORE UPDATE ON organization_members
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE teams (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    description     text,
    lead_id         uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT teams_id_organization_key UNIQUE (id, organization_id)
);

CREATE INDEX idx_teams_organization_id ON teams (organization_id);
CREATE UNIQUE INDEX teams_organization_name_key ON teams (organization_id, name)
    WHERE deleted_at IS NULL;

CREATE TRIGGER teams_set_updated_at BEFORE UPDATE ON teams
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE team_members (
    team_id         uuid        NOT NULL,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    role            text        NOT NULL DEFAULT 'member',
    joined_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    PRIMARY KEY (team_id, user_id),
    CONSTRAINT team_members_team_fk FOREIGN KEY (team_id, organization_id)
        REFERENCES teams (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT team_members_role_check CHECK (role IN ('lead', 'member'))
);

CREATE INDEX idx_team_members_user_id ON team_members (user_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_team_members_organization_id ON team_members (organization_id);

-- migrate:down

DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE organization_members;
DROP TABLE organizations;
DROP TABLE user_profiles;
DROP TABLE users;
