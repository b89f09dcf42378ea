-- Permission catalog, system roles with their permissions, and role assignments in the
-- test organization.

INSERT INTO permissions (id, key, resource, action, scope, description)
VALUES
    ('30000000-0000-4000-8000-000000000001', 'project.create',        'project',        'create',  'global',  'Create projects'),
    ('30000000-0000-4000-8000-000000000002', 'project.read',          'project',        'read',    'project', 'View projects'),
    ('30000000-0000-4000-8000-000000000003', 'project.update',        'project',        'update',  'project', 'Edit projects'),
    ('30000000-0000-4000-8000-000000000004', 'project.delete',        'project',        'delete',  'project', 'Delete projects'),
    ('30000000-0000-4000-8000-000000000005', 'task.create',           'task',           'create',  'project', 'Create tasks'),
    ('30000000-0000-4000-8000-000000000006', 'task.read',             'task',           'read',    'project', 'View tasks'),
    ('30000000-0000-4000-8000-000000000007', 'task.update',           'task',           'update',  'project', 'Edit tasks'),
    ('30000000-0000-4000-8000-000000000008', 'task.update.self',      'task',           'update',  'self',    'Edit tasks assigned to oneself'),
    ('30000000-0000-4000-8000-000000000009', 'task.delete',           'task',           'delete',  'project', 'Delete tasks'),
    ('30000000-0000-4000-8000-000000000010', 'document.create',       'document',       'create',  'project', 'Create documents'),
    ('30000000-0000-4000-8000-000000000011', 'document.read',         'document',       'read',    'project', 'View documents'),
    ('30000000-0000-4000-8000-000000000012', 'document.update',       'document',       'update',  'project', 'Edit documents'),
    ('30000000-0000-4000-8000-000000000013', 'document.approve',      'document',       'approve', 'project', 'Approve documents'),
    ('30000000-0000-4000-8000-000000000014', 'change_request.create', 'change_request', 'create',  'project', 'Raise change requests'),
    ('30000000-0000-4000-8000-000000000015', 'change_request.approve','change_request', 'approve', 'project', 'Approve change requests'),
    ('30000000-0000-4000-8000-000000000016', 'member.update',         'member',         'update',  'global',  'Manage organization members')
ON CONFLICT (id) DO UPDATE SET
    key = EXCLUDED.key,
    resource = EXCLUDED.resource,
    action = EXCLUDED.action,
    scope = EXCLUDED.scope,
    description = EXCLUDED.description;

INSERT INTO roles (id, organization_id, name, description, is_system)
VALUES
    ('31000000-0000-4000-8000-000000000001', NULL, 'Administrator',   'Everything', true),
    ('31000000-0000-4000-8000-000000000002', NULL, 'Project Manager', 'Runs projects and approves changes', true),
    ('31000000-0000-4000-8000-000000000003', NULL, 'Contributor',     'Works on tasks and documents', true),
    ('31000000-0000-4000-8000-000000000004', NULL, 'Viewer',          'Read-only access', true)
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    name = EXCLUDED.name,
    description = EXCLUDED.description,
    is_system = EXCLUDED.is_system;

-- Administrator: every permission; the others: a fixed subset.
INSERT INTO role_permissions (role_id, permission_id)
SELECT '31000000-0000-4000-8000-000000000001'::uuid, p.id
FROM permissions p
UNION ALL
SELECT '31000000-0000-4000-8000-000000000002'::uuid, p.id
FROM permissions p
WHERE p.key IN ('project.create', 'project.read', 'project.update', 'task.create', 'task.read',
                'task.update', 'task.delete', 'document.create', 'document.read',
                'document.update', 'document.approve', 'change_request.create',
                'change_request.approve')
UNION ALL
SELECT '31000000-0000-4000-8000-000000000003'::uuid, p.id
FROM permissions p
WHERE p.key IN ('project.read', 'task.create', 'task.read', 'task.update.self',
                'document.create', 'document.read', 'document.update', 'change_request.create')
UNION ALL
SELECT '31000000-0000-4000-8000-000000000004'::uuid, p.id
FROM permissions p
WHERE p.key IN ('project.read', 'task.read', 'document.read')
ON CONFLICT (role_id, permission_id) DO NOTHING;

INSERT INTO user_roles (id, organization_id, user_id, role_id, granted_by, granted_at)
VALUES
    ('32000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000001', '31000000-0000-4000-8000-000000000001',
     NULL, '2025-01-06 09:00:00+00'),
    ('32000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000002', '31000000-0000-4000-8000-000000000002',
     '10000000-0000-4000-8000-000000000001', '2025-01-06 09:05:00+00'),
    ('32000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000003', '31000000-0000-4000-8000-000000000003',
     '10000000-0000-4000-8000-000000000001', '2025-01-06 09:10:00+00')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    user_id = EXCLUDED.user_id,
    role_id = EXCLUDED.role_id,
    granted_by = EXCLUDED.granted_by,
    granted_at = EXCLUDED.granted_at;
