-- Chat: conversations (ChatRoom in one design), participants and messages.
-- Direct messages between two users are conversations of type 'direct'. Live presence and
-- unread counters are kept in Redis; this is the durable record.

CREATE TABLE conversations (
    id              uuid              PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid              NOT NULL DEFAULT app_current_organization_id()
                                      REFERENCES organizations (id) ON DELETE CASCADE,
    type            conversation_type NOT NULL DEFAULT 'group',
    name            text,
    description     text,
    project_id      uuid,
    team_id         uuid,
    created_by      uuid              REFERENCES users (id) ON DELETE SET NULL,
    last_message_at timestamptz,
    archived_at     timestamptz,
    created_at      timestamptz       NOT NULL DEFAULT now(),
    updated_at      timestamptz       NOT NULL DEFAULT now(),
    CONSTRAINT conversations_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT conversations_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT conversations_team_fk FOREIGN KEY (team_id, organization_id)
        REFERENCES teams (id, organization_id) ON DELETE SET NULL (team_id)
);

CREATE INDEX idx_conversations_organization_id ON conversations (organization_id, last_message_at DESC);
CREATE INDEX idx_conversations_project_id ON conversations (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX idx_conversations_team_id ON conversations (team_id) WHERE team_id IS NOT NULL;

CREATE TRIGGER conversations_set_updated_at BEFORE UPDATE ON conversations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE conversation_participants (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    conversation_id uuid        NOT NULL,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text        NOT NULL DEFAULT 'member',
    is_muted        boolean     NOT NULL DEFAULT false,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    left_at         timestamptz,
    last_read_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT conversation_participants_key UNIQUE (conversation_id, user_id),
    CONSTRAINT conversation_participants_conversation_fk FOREIGN KEY (conversation_id, organization_id)
        REFERENCES conversations (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT conversation_participants_role_check CHECK (role IN ('owner', 'admin', 'member'))
);

CREATE INDEX idx_conversation_participants_active ON conversation_participants (user_id, conversation_id)
    WHERE is_muted = false;
CREATE INDEX idx_conversation_participants_user_id ON conversation_participants (user_id)
    WHERE left_at IS NULL;

CREATE TRIGGER conversation_participants_set_updated_at BEFORE UPDATE ON conversation_participants
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Messages are edited (edited_at) and soft-deleted, not otherwise updated: no updated_at.
CREATE TABLE messages (
    id              uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid             NOT NULL DEFAULT app_current_organization_id()
                                     REFERENCES organizations (id) ON DELETE CASCADE,
    conversation_id uuid             NOT NULL,
    author_id       uuid             NOT NULL REFERENCES users (id),
    content         text,
    message_type    message_type     NOT NULL DEFAULT 'text',
    priority        message_priority NOT NULL DEFAULT 'normal',
    status          message_status   NOT NULL DEFAULT 'sent',
    reply_to_id     uuid,
    thread_id       uuid,            -- root message of the thread
    mentions        uuid[]           NOT NULL DEFAULT '{}',
    attachments     jsonb            NOT NULL DEFAULT '[]',
    metadata        jsonb            NOT NULL DEFAULT '{}',
    edited_at       timestamptz,
    created_at      timestamptz      NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid             REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT messages_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT messages_conversation_fk FOREIGN KEY (conversation_id, organization_id)
        REFERENCES conversations (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT messages_reply_to_fk FOREIGN KEY (reply_to_id, organization_id)
        REFERENCES messages (id, organization_id) ON DELETE SET NULL (reply_to_id),
    CONSTRAINT messages_thread_fk FOREIGN KEY (thread_id, organization_id)
        REFERENCES messages (id, organization_id) ON DELETE SET NULL (thread_id)
);

CREATE INDEX idx_messages_conversation ON messages (conversation_id, created_at);
CREATE INDEX idx_messages_created_at ON messages (created_at);
CREATE INDEX idx_messages_author_id ON messages (author_id);
CREATE INDEX idx_messages_reply_to_id ON messages (reply_to_id) WHERE reply_to_id IS NOT NULL;
CREATE INDEX idx_messages_thread_id ON messages (thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX idx_messages_mentions ON messages USING gin (mentions);
CREATE INDEX idx_messages_content_search ON messages USING gin (to_tsvector('english', content));

-- migrate:down

DROP TABLE messages;
DROP TABLE conversation_participants;
DROP TABLE conversations;
