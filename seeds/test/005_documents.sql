-- One document per tenant (search and isolation tests).

INSERT INTO documents (id, organization_id, project_id, title, content, status, created_by)
VALUES
    ('a6000000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-000000000001',
     'a4000000-0000-4000-8000-000000000001', 'Tenant A handbook',
     'How tenant A plans its releases.', 'published', 'a1000000-0000-4000-8000-000000000001'),
    ('b6000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000001',
     'b4000000-0000-4000-8000-000000000001', 'Tenant B handbook',
     'How tenant B plans its releases.', 'published', 'b1000000-0000-4000-8000-000000000001')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    title = EXCLUDED.title,
    content = EXCLUDED.content,
    status = EXCLUDED.status,
    created_by = EXCLUDED.created_by;
