-- Comments on any entity, notifications and per-user notification preferences.
--
-- Comments are polymorphic (entity_type + entity_id, e.g. 'task', 'document',
-- 'change_request'): no foreign key to the commented row. project_id is copied from the
-- commented entity when it belongs to a project, so project-membership row-level security
-- applies to comments too.

CREATE TABLE comments (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid,
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    parent_id       uuid,       -- threaded replies
    author_id       uuid        NOT NULL REFERENCES users (id),
    content         text        NOT NULL,
    mentions        uuid[]      NOT NULL DEFAULT '{}',  -- mentioned users.id
    edited_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT comments_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT comments_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT comments_parent_fk FOREIGN KEY (parent_id, organization_id)
        REFERENCES comments (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT comments_entity_type_format CHECK (entity_type ~ '^[a-z][a-z_]*$')
);

CREATE INDEX idx_comments_entity ON comments (entity_type, entity_id, created_at)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_comments_author_id ON comments (author_id);
CREATE INDEX idx_comments_created_at ON comments (created_at);
CREATE INDEX idx_comments_project_id ON comments (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX idx_comments_parent_id ON comments (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX idx_comments_mentions ON comments USING gin (mentions);

CREATE TRIGGER comments_set_updated_at BEFORE UPDATE ON comments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE notifications (
    id              uuid                 PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid                 NOT NULL DEFAULT app_current_organization_id()
                                         REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid                 NOT NULL REFERENCES users (id) ON DELETE CASCADE,  -- recipient
    actor_id        uuid                 REFERENCES users (id) ON DELETE SET NULL,
    type            text                 NOT NULL,   -- e.g. task_assigned, mention
    title           text                 NOT NULL,
    body            text,
    channel         notification_channel NOT NULL DEFAULT 'in_app',
    entity_type     text,
    entity_id       uuid,
    data            jsonb                NOT NULL DEFAULT '{}',
    is_read         boolean              NOT NULL DEFAULT false,
    read_at         timestamptz,
    delivered_at    timestamptz,
    delivery_error  text,
    expires_at      timestamptz,
    created_at      timestamptz          NOT NULL DEFAULT now(),
    CONSTRAINT notifications_read_check CHECK (is_read = (read_at IS NOT NULL)),
    CONSTRAINT notifications_entity_check CHECK ((entity_type IS NULL) = (entity_id IS NULL))
);

CREATE INDEX idx_notifications_unread ON notifications (user_id, created_at DESC)
    WHERE is_read = false;
CREATE INDEX idx_notifications_user_created ON notifications (user_id, created_at DESC);
CREATE INDEX idx_notifications_entity ON notifications (entity_type, entity_id)
    WHERE entity_type IS NOT NULL;
CREATE INDEX idx_notifications_organization_id ON notifications (organization_id);
CREATE INDEX idx_notifications_expires_at ON notifications (expires_at)
    WHERE expires_at IS NOT NULL;

-- Which notification types a user wants on which channel. notification_type '*' is the
-- default for types without a row of their own.
CREATE TABLE notification_preferences (
    id                uuid                 PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid                 NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    notification_type text                 NOT NULL DEFAULT '*',
    channel           notification_channel NOT NULL,
    enabled           boolean              NOT NULL DEFAULT true,
    created_at        timestamptz          NOT NULL DEFAULT now(),
    updated_at        timestamptz          NOT NULL DEFAULT now(),
    CONSTRAINT notification_preferences_key UNIQUE (user_id, notification_type, channel)
);

CREATE TRIGGER notification_preferences_set_updated_at BEFORE UPDATE ON notification_preferences
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- migrate:down

DROP TABLE notification_preferences;
DROP TABLE notifications;
DROP TABLE comments;
