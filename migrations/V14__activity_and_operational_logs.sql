-- Activity feed (partitioned by month) and the operational logs of the NCY_8 design
-- (error_logs, access_logs). The row-level change history, audit_logs, is in V2.
--
-- Partitions. This migration creates only the DEFAULT partition and the function below; it
-- creates no dated partition, because partitions named after "now" would make the schema
-- depend on the day the migration ran (and break schema comparisons across days).
-- `migrate maintain` calls create_activity_log_partitions() (current month + 3 ahead by
-- default); until it has run, rows land in activity_logs_default. The function moves rows
-- that already sit in the default partition for a month it creates into the new partition,
-- so it never fails because of them. Months are UTC months.

CREATE TABLE activity_logs (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL DEFAULT app_current_organization_id()
                                REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid,       -- no foreign key: the feed outlives accounts (anonymized instead)
    project_id      uuid,
    action          text        NOT NULL,   -- e.g. task.created, document.published
    entity_type     text        NOT NULL,
    entity_id       uuid,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    ip_address      inet,
    user_agent      text,
    session_id      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX idx_activity_logs_org_created ON activity_logs (organization_id, created_at DESC);
CREATE INDEX idx_activity_logs_user_created ON activity_logs (user_id, created_at DESC);
CREATE INDEX idx_activity_logs_entity ON activity_logs (entity_type, entity_id);
CREATE INDEX idx_activity_logs_project_created ON activity_logs (project_id, created_at DESC)
    WHERE project_id IS NOT NULL;

CREATE TABLE activity_logs_default PARTITION OF activity_logs DEFAULT;

-- Row-level security enabled without policies: nobody but the owner reads or writes a
-- partition directly; through the parent, the parent's policies (V16) apply.
ALTER TABLE activity_logs_default ENABLE ROW LEVEL SECURITY;

-- Creates the monthly partitions activity_logs_yYYYYmMM for the current UTC month and the
-- next `months_ahead` months; existing ones are skipped, so it is idempotent. Rows of a new
-- month found in activity_logs_default are moved: the partition is created as a plain
-- table, the rows are moved into it (DELETE ... RETURNING -> INSERT, one transaction), then
-- it is attached (ATTACH re-checks the default partition). Returns the names it created.
-- Locks: SHARE UPDATE EXCLUSIVE on activity_logs (serializes concurrent callers) and, while
-- attaching, ACCESS EXCLUSIVE on activity_logs_default. Run it as the schema owner.
CREATE FUNCTION create_activity_log_partitions(months_ahead integer DEFAULT 3)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_first timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    v_start timestamp;
    v_from  timestamptz;
    v_to    timestamptz;
    v_name  text;
    v_moved bigint;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120, got %', months_ahead;
    END IF;

    LOCK TABLE public.activity_logs IN SHARE UPDATE EXCLUSIVE MODE;

    FOR i IN 0 .. months_ahead LOOP
        v_start := v_first + make_interval(months => i);
        v_name := 'activity_logs_' || to_char(v_start, '"y"YYYY"m"MM');
        CONTINUE WHEN to_regclass('public.' || quote_ident(v_name)) IS NOT NULL;

        v_from := v_start AT TIME ZONE 'UTC';
        v_to := (v_start + interval '1 month') AT TIME ZONE 'UTC';

        EXECUTE format(
            'CREATE TABLE public.%I (LIKE public.activity_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
            v_name);
        EXECUTE format(
            'WITH moved AS (DELETE FROM public.activity_logs_default WHERE created_at >= $1 AND created_at < $2 RETURNING *) '
            'INSERT INTO public.%I SELECT * FROM moved', v_name)
            USING v_from, v_to;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        EXECUTE format(
            'ALTER TABLE public.activity_logs ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
            v_name,
            to_char(v_start, 'YYYY-MM-DD HH24:MI:SS') || '+00',
            to_char(v_start + interval '1 month', 'YYYY-MM-DD HH24:MI:SS') || '+00');
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', v_name);

        IF v_moved > 0 THEN
            RAISE NOTICE 'moved % row(s) from activity_logs_default into %', v_moved, v_name;
        END IF;
        RETURN NEXT v_name;
    END LOOP;
END;
$$;

REVOKE EXECUTE ON FUNCTION create_activity_log_partitions(integer) FROM PUBLIC;

-- Application errors reported by services (NCY_8 ErrorLog). Not tenant data.
CREATE TABLE error_logs (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    service    text        NOT NULL,
    level      log_level   NOT NULL,
    message    text        NOT NULL,
    stack      text,
    context    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_error_logs_created_at ON error_logs (created_at);
CREATE INDEX idx_error_logs_service_level ON error_logs (service, level, created_at DESC);

-- HTTP access log (NCY_8 AccessLog; its "timestamp" column is created_at here, like every
-- other table, so retention policies treat all logs alike).
CREATE TABLE access_logs (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid,       -- no foreign key: logs outlive accounts
    method      text        NOT NULL,
    endpoint    text        NOT NULL,
    status_code integer     NOT NULL,
    latency_ms  integer,
    ip_address  inet,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT access_logs_status_code_check CHECK (status_code BETWEEN 100 AND 599),
    CONSTRAINT access_logs_latency_check CHECK (latency_ms IS NULL OR latency_ms >= 0)
);

CREATE INDEX idx_access_logs_created_at ON access_logs (created_at);
CREATE INDEX idx_access_logs_user_id ON access_logs (user_id, created_at DESC) WHERE user_id IS NOT NULL;

-- migrate:down

DROP TABLE access_logs;
DROP TABLE error_logs;
DROP FUNCTION create_activity_log_partitions(integer);
-- Drops every partition too, including dated ones created later by the function.
DROP TABLE activity_logs;
