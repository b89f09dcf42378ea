-- The test organization, its members and a team.

INSERT INTO organizations (id, name, slug, description, industry, size, status, settings, owner_id)
VALUES
    ('20000000-0000-4000-8000-000000000001', 'Test Organization', 'test-org',
     'Organization for local development', 'Software', 'small', 'active',
     '{"defaultProjectVisibility": "members", "workingDays": [1, 2, 3, 4, 5]}',
     '10000000-0000-4000-8000-000000000001')
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name,
    slug = EXCLUDED.slug,
    description = EXCLUDED.description,
    industry = EXCLUDED.industry,
    size = EXCLUDED.size,
    status = EXCLUDED.status,
    settings = EXCLUDED.settings,
    owner_id = EXCLUDED.owner_id;

INSERT INTO organization_members (id, organization_id, user_id, role, joined_at)
VALUES
    ('21000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000001', 'owner', '2025-01-06 09:00:00+00'),
    ('21000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000002', 'manager', '2025-01-06 09:05:00+00'),
    ('21000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000003', 'member', '2025-01-06 09:10:00+00')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    user_id = EXCLUDED.user_id,
    role = EXCLUDED.role,
    joined_at = EXCLUDED.joined_at;

INSERT INTO teams (id, organization_id, name, description, lead_id)
VALUES
    ('22000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     'Core Team', 'Builds and runs the product', '10000000-0000-4000-8000-000000000002')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    name = EXCLUDED.name,
    description = EXCLUDED.description,
    lead_id = EXCLUDED.lead_id;

INSERT INTO team_members (team_id, user_id, organization_id, role, joined_at)
VALUES
    ('22000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002',
     '20000000-0000-4000-8000-000000000001', 'lead', '2025-01-06 09:05:00+00'),
    ('22000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003',
     '20000000-0000-4000-8000-000000000001', 'member', '2025-01-06 09:10:00+00')
ON CONFLICT (team_id, user_id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    role = EXCLUDED.role,
    joined_at = EXCLUDED.joined_at;
