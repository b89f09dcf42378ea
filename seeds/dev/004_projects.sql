-- Projects (one with a sub-project), their members, a sprint and a custom field.

INSERT INTO projects (id, organization_id, parent_id, team_id, name, slug, description, status,
                      priority, manager_id, start_date, end_date, budget, estimated_hours,
                      tags, metadata, created_by)
VALUES
    ('40000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001', NULL,
     '22000000-0000-4000-8000-000000000001', 'Website Relaunch', 'website-relaunch',
     'Redesign and relaunch the public website', 'active', 'high',
     '10000000-0000-4000-8000-000000000002', '2025-01-13', '2025-06-30', 50000.00, 800,
     '{web,design}', '{"client": "internal"}', '10000000-0000-4000-8000-000000000002'),
    ('40000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', '22000000-0000-4000-8000-000000000001',
     'Content Migration', 'content-migration',
     'Move the old CMS content into the new site', 'planning', 'medium',
     '10000000-0000-4000-8000-000000000002', '2025-03-01', '2025-05-31', NULL, 120,
     '{web,content}', '{}', '10000000-0000-4000-8000-000000000002'),
    ('40000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001', NULL, NULL,
     'Mobile App', 'mobile-app', 'First version of the mobile app', 'draft', 'medium',
     '10000000-0000-4000-8000-000000000001', '2025-07-01', NULL, NULL, NULL,
     '{mobile}', '{}', '10000000-0000-4000-8000-000000000001')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    parent_id = EXCLUDED.parent_id,
    team_id = EXCLUDED.team_id,
    name = EXCLUDED.name,
    slug = EXCLUDED.slug,
    description = EXCLUDED.description,
    status = EXCLUDED.status,
    priority = EXCLUDED.priority,
    manager_id = EXCLUDED.manager_id,
    start_date = EXCLUDED.start_date,
    end_date = EXCLUDED.end_date,
    budget = EXCLUDED.budget,
    estimated_hours = EXCLUDED.estimated_hours,
    tags = EXCLUDED.tags,
    metadata = EXCLUDED.metadata,
    created_by = EXCLUDED.created_by;

INSERT INTO project_members (id, organization_id, project_id, user_id, role_id, is_active, joined_at)
VALUES
    ('41000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002',
     '31000000-0000-4000-8000-000000000002', true, '2025-01-13 09:00:00+00'),
    ('41000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003',
     '31000000-0000-4000-8000-000000000003', true, '2025-01-13 09:00:00+00'),
    ('41000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002',
     '31000000-0000-4000-8000-000000000002', true, '2025-03-01 09:00:00+00')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    user_id = EXCLUDED.user_id,
    role_id = EXCLUDED.role_id,
    is_active = EXCLUDED.is_active,
    joined_at = EXCLUDED.joined_at;

INSERT INTO sprints (id, organization_id, project_id, name, goal, status, start_date, end_date)
VALUES
    ('42000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', 'Sprint 1', 'Design system and home page',
     'completed', '2025-01-13', '2025-01-24'),
    ('42000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', 'Sprint 2', 'Product pages and search',
     'active', '2025-01-27', '2025-02-07')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    name = EXCLUDED.name,
    goal = EXCLUDED.goal,
    status = EXCLUDED.status,
    start_date = EXCLUDED.start_date,
    end_date = EXCLUDED.end_date;

INSERT INTO custom_field_definitions (id, organization_id, project_id, key, label, field_type,
                                      options, is_required, position)
VALUES
    ('43000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001', NULL,
     'story_points', 'Story points', 'number', '[]', false, 1),
    ('43000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', 'browser', 'Browser', 'select',
     '["chrome", "firefox", "safari", "edge"]', false, 2)
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    key = EXCLUDED.key,
    label = EXCLUDED.label,
    field_type = EXCLUDED.field_type,
    options = EXCLUDED.options,
    is_required = EXCLUDED.is_required,
    position = EXCLUDED.position;
