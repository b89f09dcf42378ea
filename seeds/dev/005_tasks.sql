-- Tasks (with a sub-task, tags, custom field values) and a dependency.

INSERT INTO tasks (id, organization_id, project_id, parent_id, sprint_id, assignee_id, title,
                   description, status, priority, start_date, due_date, completed_at,
                   estimated_hours, actual_hours, tags, custom_fields, created_by)
VALUES
    ('50000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', NULL, '42000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000003', 'Build the design system',
     'Colors, typography and components in Storybook', 'done', 'high',
     '2025-01-13 09:00:00+00', '2025-01-24 17:00:00+00', '2025-01-23 15:30:00+00',
     40, 36, '{design,frontend}', '{"story_points": 8}', '10000000-0000-4000-8000-000000000002'),
    ('50000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', NULL, '42000000-0000-4000-8000-000000000002',
     '10000000-0000-4000-8000-000000000003', 'Implement the home page',
     'Hero, feature grid and newsletter sign-up using the design system', 'in_progress', 'high',
     '2025-01-27 09:00:00+00', '2025-02-05 17:00:00+00', NULL,
     24, 10, '{frontend}', '{"story_points": 5, "browser": "chrome"}',
     '10000000-0000-4000-8000-000000000002'),
    ('50000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', '50000000-0000-4000-8000-000000000002',
     '42000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000003',
     'Newsletter sign-up form', 'Form with double opt-in', 'todo', 'medium',
     NULL, '2025-02-04 17:00:00+00', NULL,
     6, NULL, '{frontend,forms}', '{"story_points": 2}', '10000000-0000-4000-8000-000000000003'),
    ('50000000-0000-4000-8000-000000000004', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', NULL, '42000000-0000-4000-8000-000000000002',
     '10000000-0000-4000-8000-000000000002', 'Set up site search',
     'Full-text search over product pages', 'review', 'medium',
     NULL, '2025-02-07 17:00:00+00', NULL,
     16, 14, '{backend,search}', '{"story_points": 3}', '10000000-0000-4000-8000-000000000002'),
    ('50000000-0000-4000-8000-000000000005', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000002', NULL, NULL,
     '10000000-0000-4000-8000-000000000003', 'Export pages from the old CMS',
     'Script the export of all pages and media', 'todo', 'urgent',
     NULL, '2025-03-14 17:00:00+00', NULL,
     12, NULL, '{content,migration}', '{}', '10000000-0000-4000-8000-000000000002')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    parent_id = EXCLUDED.parent_id,
    sprint_id = EXCLUDED.sprint_id,
    assignee_id = EXCLUDED.assignee_id,
    title = EXCLUDED.title,
    description = EXCLUDED.description,
    status = EXCLUDED.status,
    priority = EXCLUDED.priority,
    start_date = EXCLUDED.start_date,
    due_date = EXCLUDED.due_date,
    completed_at = EXCLUDED.completed_at,
    estimated_hours = EXCLUDED.estimated_hours,
    actual_hours = EXCLUDED.actual_hours,
    tags = EXCLUDED.tags,
    custom_fields = EXCLUDED.custom_fields,
    created_by = EXCLUDED.created_by;

INSERT INTO task_dependencies (id, organization_id, task_id, depends_on_task_id, dependency_type, created_by)
VALUES
    ('51000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '50000000-0000-4000-8000-000000000002', '50000000-0000-4000-8000-000000000001',
     'finish_to_start', '10000000-0000-4000-8000-000000000002')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    task_id = EXCLUDED.task_id,
    depends_on_task_id = EXCLUDED.depends_on_task_id,
    dependency_type = EXCLUDED.dependency_type,
    created_by = EXCLUDED.created_by;
