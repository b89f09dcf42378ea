-- Documents with version history and full-text search.
--
-- `content` holds the searchable plain text of the current version; the rich-text
-- structure lives in MongoDB (collection documentContent, keyed by documents.id).
-- Links between documents and to test cases are in document_relations (V12).

CREATE TABLE documents (
    id              uuid            PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid            NOT NULL DEFAULT app_current_organization_id()
                                    REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      uuid            NOT NULL,
    title           text            NOT NULL,
    content         text            NOT NULL DEFAULT '',
    content_format  text            NOT NULL DEFAULT 'markdown',
    status          document_status NOT NULL DEFAULT 'draft',
    version         integer         NOT NULL DEFAULT 1,   -- current version number
    tags            text[]          NOT NULL DEFAULT '{}',
    is_template     boolean         NOT NULL DEFAULT false,
    template_id     uuid,
    metadata        jsonb           NOT NULL DEFAULT '{}',
    search_vector   tsvector,                             -- maintained by documents_search_vector
    created_by      uuid            NOT NULL REFERENCES users (id),
    updated_by      uuid            REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz     NOT NULL DEFAULT now(),
    updated_at      timestamptz     NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid            REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT documents_id_organization_key UNIQUE (id, organization_id),
    CONSTRAINT documents_project_fk FOREIGN KEY (project_id, organization_id)
        REFERENCES projects (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT documents_template_fk FOREIGN KEY (template_id, organization_id)
        REFERENCES documents (id, organization_id) ON DELETE SET NULL (template_id),
    CONSTRAINT documents_version_positive CHECK (version > 0),
    CONSTRAINT documents_content_format_check CHECK (content_format IN ('markdown', 'html', 'plain'))
);

CREATE INDEX idx_documents_project_id ON documents (project_id);
CREATE INDEX idx_documents_project_status ON documents (project_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_documents_org_status ON documents (organization_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_documents_created_by ON documents (created_by);
CREATE INDEX idx_documents_created_at ON documents (created_at) WHERE deleted_at IS NULL;
CREATE INDEX idx_documents_updated_at ON documents (updated_at) WHERE deleted_at IS NULL;
CREATE INDEX idx_documents_templates ON documents (organization_id)
    WHERE is_template AND deleted_at IS NULL;
CREATE INDEX idx_documents_template_id ON documents (template_id) WHERE template_id IS NOT NULL;
CREATE INDEX idx_documents_tags ON documents USING gin (tags);
CREATE INDEX idx_documents_search_vector ON documents USING gin (search_vector);
CREATE INDEX idx_documents_title_trgm ON documents USING gin (title gin_trgm_ops)
    WHERE deleted_at IS NULL;

-- Full-text search weights as in the ProManage design: title A, content B, tags C
-- (tags with the 'simple' configuration: labels are not stemmed).
CREATE FUNCTION documents_search_vector_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.content, '')), 'B') ||
        setweight(to_tsvector('simple', array_to_string(NEW.tags, ' ')), 'C');
    RETURN NEW;
END;
$$;

CREATE TRIGGER documents_search_vector BEFORE INSERT OR UPDATE OF title, content, tags ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_search_vector_update();
CREATE TRIGGER documents_set_updated_at BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Immutable snapshots: one row per saved version (no updated_at).
CREATE TABLE document_versions (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    document_id     uuid        NOT NULL,
    version_number  integer     NOT NULL,
    title           text        NOT NULL,
    content         text        NOT NULL DEFAULT '',
    change_summary  text,
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT document_versions_document_version_key UNIQUE (document_id, version_number),
    CONSTRAINT document_versions_document_fk FOREIGN KEY (document_id, organization_id)
        REFERENCES documents (id, organization_id) ON DELETE CASCADE,
    CONSTRAINT document_versions_number_positive CHECK (version_number > 0)
);

CREATE INDEX idx_document_versions_organization_id ON document_versions (organization_id);

-- migrate:down

DROP TABLE document_versions;
DROP TABLE documents;
DROP FUNCTION documents_search_vector_update();
