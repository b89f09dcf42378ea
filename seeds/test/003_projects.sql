-- One project per tenant; Bob (a plain member in B) is an explicit project member.

INSERT INTO projects (id, organization_id, name, slug, status, priority, created_by)
VALUES
    ('a4000000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-000000000001',
     'Project A', 'project-a', 'active', 'medium', 'a1000000-0000-4000-8000-000000000001'),
    ('b4000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000001',
     'Project B', 'project-b', 'active', 'medium', 'b1000000-0000-4000-8000-000000000001')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    name = EXCLUDED.name,
    slug = EXCLUDED.slug,
    status = EXCLUDED.status,
    priority = EXCLUDED.priority,
    created_by = EXCLUDED.created_by;

INSERT INTO project_members (id, organization_id, project_id, user_id, is_active, joined_at)
VALUES
    ('a4100000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-000000000001',
     'a4000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', true,
     '2025-01-01 00:00:00+00'),
    ('b4100000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000001',
     'b4000000-0000-4000-8000-000000000001', 'b1000000-0000-4000-8000-000000000001', true,
     '2025-01-01 00:00:00+00')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    user_id = EXCLUDED.user_id,
    is_active = EXCLUDED.is_active,
    joined_at = EXCLUDED.joined_at;
