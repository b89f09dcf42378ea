-- Two tenants, A and B, each owned by its only member.

INSERT INTO organizations (id, name, slug, status, owner_id)
VALUES
    ('a2000000-0000-4000-8000-000000000001', 'Organization A', 'org-a', 'active',
     'a1000000-0000-4000-8000-000000000001'),
    ('b2000000-0000-4000-8000-000000000001', 'Organization B', 'org-b', 'active',
     'b1000000-0000-4000-8000-000000000001')
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name,
    slug = EXCLUDED.slug,
    status = EXCLUDED.status,
    owner_id = EXCLUDED.owner_id;

INSERT INTO organization_members (id, organization_id, user_id, role, joined_at)
VALUES
    ('a2100000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-000000000001',
     'a1000000-0000-4000-8000-000000000001', 'owner', '2025-01-01 00:00:00+00'),
    ('b2100000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000001',
     'b1000000-0000-4000-8000-000000000001', 'member', '2025-01-01 00:00:00+00')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    user_id = EXCLUDED.user_id,
    role = EXCLUDED.role,
    joined_at = EXCLUDED.joined_at;
