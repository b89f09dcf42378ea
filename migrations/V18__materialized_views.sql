-- Dashboard statistics as materialized views, refreshed by `migrate maintain` with
-- REFRESH MATERIALIZED VIEW CONCURRENTLY (each has the UNIQUE index that requires).
--
-- Materialized views cannot have row-level security and hold every tenant's rows, so the
-- application and readonly roles do not read them directly: they read the tenant-filtered
-- views tenant_user_dashboard_stats and tenant_project_stats (security barrier views owned
-- by the schema owner, filtered by app.current_organization_id and, for a user context, by
-- the same project access rule as V16). Time-dependent figures (overdue, last 30 days) are
-- as of refreshed_at.

CREATE MATERIALIZED VIEW user_dashboard_stats AS
SELECT
    om.organization_id,
    om.user_id,
    coalesce(t.assigned_tasks, 0)        AS assigned_tasks,
    coalesce(t.open_tasks, 0)            AS open_tasks,
    coalesce(t.in_progress_tasks, 0)     AS in_progress_tasks,
    coalesce(t.overdue_tasks, 0)         AS overdue_tasks,
    coalesce(t.completed_last_30d, 0)    AS completed_last_30d,
    coalesce(p.active_projects, 0)       AS active_projects,
    coalesce(n.unread_notifications, 0)  AS unread_notifications,
    t.last_task_update_at,
    now()                                AS refreshed_at
FROM organization_members om
LEFT JOIN LATERAL (
    SELECT
        count(*)                                                        AS assigned_tasks,
        count(*) FILTER (WHERE tk.status NOT IN ('done', 'cancelled'))  AS open_tasks,
        count(*) FILTER (WHERE tk.status = 'in_progress')               AS in_progress_tasks,
        count(*) FILTER (WHERE tk.status NOT IN ('done', 'cancelled')
                           AND tk.due_date < now())                     AS overdue_tasks,
        count(*) FILTER (WHERE tk.status = 'done'
                           AND tk.completed_at >= now() - interval '30 days') AS completed_last_30d,
        max(tk.updated_at)                                              AS last_task_update_at
    FROM tasks tk
    WHERE tk.organization_id = om.organization_id
      AND tk.assignee_id = om.user_id
      AND tk.deleted_at IS NULL
) t ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS active_projects
    FROM project_members pm
    JOIN projects pr ON pr.id = pm.project_id
    WHERE pm.organization_id = om.organization_id
      AND pm.user_id = om.user_id
      AND pm.is_active
      AND pr.status = 'active'
      AND pr.deleted_at IS NULL
) p ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS unread_notifications
    FROM notifications nt
    WHERE nt.organization_id = om.organization_id
      AND nt.user_id = om.user_id
      AND nt.is_read = false
) n ON true
WHERE om.deleted_at IS NULL;

CREATE UNIQUE INDEX user_dashboard_stats_key ON user_dashboard_stats (organization_id, user_id);
CREATE INDEX idx_user_dashboard_stats_user_id ON user_dashboard_stats (user_id);

CREATE MATERIALIZED VIEW project_stats AS
SELECT
    pr.id              AS project_id,
    pr.organization_id,
    coalesce(t.total_tasks, 0)        AS total_tasks,
    coalesce(t.todo_tasks, 0)         AS todo_tasks,
    coalesce(t.in_progress_tasks, 0)  AS in_progress_tasks,
    coalesce(t.review_tasks, 0)       AS review_tasks,
    coalesce(t.done_tasks, 0)         AS done_tasks,
    coalesce(t.cancelled_tasks, 0)    AS cancelled_tasks,
    coalesce(t.overdue_tasks, 0)      AS overdue_tasks,
    CASE
        WHEN coalesce(t.total_tasks, 0) - coalesce(t.cancelled_tasks, 0) = 0 THEN 0::numeric
        ELSE round(100.0 * t.done_tasks / (t.total_tasks - t.cancelled_tasks), 2)
    END                                AS completion_percent,
    coalesce(t.estimated_hours, 0)    AS estimated_hours,
    coalesce(t.actual_hours, 0)       AS actual_hours,
    coalesce(m.member_count, 0)       AS member_count,
    coalesce(d.document_count, 0)     AS document_count,
    coalesce(c.open_change_requests, 0) AS open_change_requests,
    t.last_task_update_at,
    now()                              AS refreshed_at
FROM projects pr
LEFT JOIN LATERAL (
    SELECT
        count(*)                                                       AS total_tasks,
        count(*) FILTER (WHERE tk.status = 'todo')                     AS todo_tasks,
        count(*) FILTER (WHERE tk.status = 'in_progress')              AS in_progress_tasks,
        count(*) FILTER (WHERE tk.status = 'review')                   AS review_tasks,
        count(*) FILTER (WHERE tk.status = 'done')                     AS done_tasks,
        count(*) FILTER (WHERE tk.status = 'cancelled')                AS cancelled_tasks,
        count(*) FILTER (WHERE tk.status NOT IN ('done', 'cancelled')
                           AND tk.due_date < now())                    AS overdue_tasks,
        sum(tk.estimated_hours)                                        AS estimated_hours,
        sum(tk.actual_hours)                                           AS actual_hours,
        max(tk.updated_at)                                             AS last_task_update_at
    FROM tasks tk
    WHERE tk.project_id = pr.id
      AND tk.deleted_at IS NULL
) t ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS member_count
    FROM project_members pm
    WHERE pm.project_id = pr.id AND pm.is_active
) m ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS document_count
    FROM documents dc
    WHERE dc.project_id = pr.id AND dc.deleted_at IS NULL
) d ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS open_change_requests
    FROM change_requests cr
    WHERE cr.project_id = pr.id
      AND cr.deleted_at IS NULL
      AND cr.status IN ('draft', 'submitted', 'under_review', 'approved')
) c ON true
WHERE pr.deleted_at IS NULL;

CREATE UNIQUE INDEX project_stats_key ON project_stats (project_id);
CREATE INDEX idx_project_stats_organization_id ON project_stats (organization_id);

CREATE VIEW tenant_user_dashboard_stats WITH (security_barrier) AS
SELECT *
FROM user_dashboard_stats s
WHERE s.organization_id = app_current_organization_id()
  AND (app_current_user_id() IS NULL OR s.user_id = app_current_user_id());

CREATE VIEW tenant_project_stats WITH (security_barrier) AS
SELECT *
FROM project_stats s
WHERE s.organization_id = app_current_organization_id()
  AND (app_current_user_id() IS NULL
       OR (SELECT app_is_org_admin())
       OR s.project_id IN (SELECT app_accessible_project_ids()));

-- V17's default privileges granted these objects like tables; narrow them down.
REVOKE ALL ON user_dashboard_stats, project_stats FROM application_user, readonly_user;
REVOKE INSERT, UPDATE, DELETE ON tenant_user_dashboard_stats, tenant_project_stats FROM application_user;

-- migrate:down

DROP VIEW tenant_project_stats;
DROP VIEW tenant_user_dashboard_stats;
DROP MATERIALIZED VIEW project_stats;
DROP MATERIALIZED VIEW user_dashboard_stats;
