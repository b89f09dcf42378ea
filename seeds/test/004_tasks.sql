-- Two tasks per tenant.

INSERT INTO tasks (id, organization_id, project_id, assignee_id, title, description, status,
                   priority, tags, created_by)
VALUES
    ('a5000000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-000000000001',
     'a4000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001',
     'A task one', 'First task of tenant A', 'todo', 'high', '{alpha}',
     'a1000000-0000-4000-8000-000000000001'),
    ('a5000000-0000-4000-8000-000000000002', 'a2000000-0000-4000-8000-000000000001',
     'a4000000-0000-4000-8000-000000000001', NULL,
     'A task two', 'Second task of tenant A', 'in_progress', 'medium', '{alpha}',
     'a1000000-0000-4000-8000-000000000001'),
    ('b5000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000001',
     'b4000000-0000-4000-8000-000000000001', 'b1000000-0000-4000-8000-000000000001',
     'B task one', 'First task of tenant B', 'todo', 'high', '{beta}',
     'b1000000-0000-4000-8000-000000000001'),
    ('b5000000-0000-4000-8000-000000000002', 'b2000000-0000-4000-8000-000000000001',
     'b4000000-0000-4000-8000-000000000001', NULL,
     'B task two', 'Second task of tenant B', 'done', 'low', '{beta}',
     'b1000000-0000-4000-8000-000000000001')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    assignee_id = EXCLUDED.assignee_id,
    title = EXCLUDED.title,
    description = EXCLUDED.description,
    status = EXCLUDED.status,
    priority = EXCLUDED.priority,
    tags = EXCLUDED.tags,
    created_by = EXCLUDED.created_by;
