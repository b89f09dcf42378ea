-- Documents with their version history.

INSERT INTO documents (id, organization_id, project_id, title, content, status, version, tags,
                       created_by, updated_by)
VALUES
    ('60000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', 'Website Relaunch Requirements',
     E'# Goals\nA faster website with search, a newsletter and accessible pages.\n\n# Scope\nHome page, product pages, search, newsletter sign-up.',
     'approved', 2, '{requirements}',
     '10000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002'),
    ('60000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', 'Design System Guidelines',
     E'Use the spacing scale and the color tokens. Every component documents its accessibility requirements.',
     'published', 1, '{design}',
     '10000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000003')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    title = EXCLUDED.title,
    content = EXCLUDED.content,
    status = EXCLUDED.status,
    version = EXCLUDED.version,
    tags = EXCLUDED.tags,
    created_by = EXCLUDED.created_by,
    updated_by = EXCLUDED.updated_by;

INSERT INTO document_versions (id, organization_id, document_id, version_number, title, content,
                               change_summary, created_by, created_at)
VALUES
    ('61000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '60000000-0000-4000-8000-000000000001', 1, 'Website Relaunch Requirements',
     E'# Goals\nA faster website.', 'First draft',
     '10000000-0000-4000-8000-000000000002', '2025-01-10 10:00:00+00'),
    ('61000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '60000000-0000-4000-8000-000000000001', 2, 'Website Relaunch Requirements',
     E'# Goals\nA faster website with search, a newsletter and accessible pages.\n\n# Scope\nHome page, product pages, search, newsletter sign-up.',
     'Added scope after kickoff', '10000000-0000-4000-8000-000000000002', '2025-01-14 16:00:00+00'),
    ('61000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001',
     '60000000-0000-4000-8000-000000000002', 1, 'Design System Guidelines',
     E'Use the spacing scale and the color tokens. Every component documents its accessibility requirements.',
     'Initial version', '10000000-0000-4000-8000-000000000003', '2025-01-20 11:00:00+00')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    document_id = EXCLUDED.document_id,
    version_number = EXCLUDED.version_number,
    title = EXCLUDED.title,
    content = EXCLUDED.content,
    change_summary = EXCLUDED.change_summary,
    created_by = EXCLUDED.created_by,
    created_at = EXCLUDED.created_at;
