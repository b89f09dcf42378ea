-- Catalog of backups made by `migrate backup create` (one row per backup directory).
-- The directory and its manifest.json stay the source of truth; this table lets operators
-- and dashboards query backup history with SQL. Not tenant data: no row-level security.
--
-- status: running -> completed | failed; pruned once `backup prune` removed the files.
-- Verification is recorded in verified_at (NULL = never verified).

CREATE TABLE backup_snapshots (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    backup_id    text        NOT NULL UNIQUE,          -- directory name / ID of the backup
    status       text        NOT NULL DEFAULT 'running',
    stores       text[]      NOT NULL DEFAULT '{}',    -- stores included, e.g. {pg,mongo,redis}
    size_bytes   bigint,
    manifest     jsonb,                                -- copy of manifest.json
    location     text,                                 -- where the backup directory lives
    tool_version text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    verified_at  timestamptz,
    CONSTRAINT backup_snapshots_status_check
        CHECK (status IN ('running', 'completed', 'failed', 'pruned')),
    CONSTRAINT backup_snapshots_size_check CHECK (size_bytes IS NULL OR size_bytes >= 0),
    CONSTRAINT backup_snapshots_completed_check
        CHECK (completed_at IS NULL OR completed_at >= created_at)
);

CREATE INDEX idx_backup_snapshots_created_at ON backup_snapshots (created_at DESC);
CREATE INDEX idx_backup_snapshots_status ON backup_snapshots (status, created_at DESC);

-- migrate:down

DROP TABLE backup_snapshots;
