-- Files and their versions.
--
-- A `files` row is the logical file (name, category, review status, what it is attached
-- to) with the metadata of its current version denormalized for listing; each upload is an
-- immutable `file_versions` row with the physical location and checksum. Attachments
-- (e.g. to a task) use entity_type + entity_id like comments.

CREATE TABLE files (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid          NOT NULL DEFAULT app_current_organization_id()
                                  REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid,
    entity_type     text,
    entity_id       uuid,
    name            text          NOT NULL,
    original_name   text          NOT NULL,
    description     text,
    mime_type       text          NOT NULL,
    file_size       bigint        NOT NULL,   -- bytes, current version
    category        file_category NOT NULL DEFAULT 'other',
    status          file_status   NOT NULL DEFAULT 'draft',
    current_version integer       NOT NULL DEFAULT 1,
    thumbnail_url   text,
    metadata        jsonb         NOT NULL DEFAULT '{}',
    uploaded_by     uuid          NOT NULL REFERENCES users (id),
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid          REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT files_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT files_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT files_entity_check CHECK ((entity_type IS NULL) = (entity_id IS NULL)),
    CONSTRAINT files_size_check CHECK (file_size >= 0),
    CONSTRAINT files_current_version_positive CHECK (current_version > 0)
);

CREATE INDEX idx_files_project ON files (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX idx_files_organization ON files (organization_id);
CREATE INDEX idx_files_entity ON files (entity_type, entity_id)
    WHERE entity_type IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX idx_files_uploaded_by ON files (uploaded_by);
CREATE INDEX idx_files_org_category ON files (organization_id, category) WHERE deleted_at IS NULL;

CREATE TRIGGER files_set_updated_at BEFORE UPDATE ON files
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE file_versions (
    id               uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid             NOT NULL DEFAULT app_current_organization_id()
                                      REFERENCES organizations (id) ON DELETE CASCADE,
    file_id          uuid             NOT NULL,
    version_number   integer          NOT NULL,
    storage_provider storage_provider NOT NULL DEFAULT 'local',
    storage_path     text             NOT NULL,
    file_url         text,
    mime_type        text             NOT NULL,
    file_size        bigint           NOT NULL,
    checksum_sha256  text,
    width            integer,
    height           integer,
    duration_seconds integer,
    pages            integer,
    change_note      text,
    uploaded_by      uuid             REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT file_versions_file_version_key UNIQUE (file_id, version_number),
    CONSTRAINT file_versions_file_fk FOREIGN KEY (file_id, organization_id)
        REFERENCES files (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT file_versions_number_positive CHECK (version_number > 0),
    CONSTRAINT file_versions_size_check CHECK (file_size >= 0),
    CONSTRAINT file_versions_checksum_format CHECK (checksum_sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT file_versions_dimensions_check CHECK (
        (width IS NULL OR width > 0) AND (height IS NULL OR height > 0)
        AND (duration_seconds IS NULL OR duration_seconds >= 0) AND (pages IS NULL OR pages > 0)
    )
);

CREATE INDEX idx_file_versions_organization_id ON file_versions (organization_id);

-- migrate:down

DROP TABLE file_versions;
DROP TABLE files;
