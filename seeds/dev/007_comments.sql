-- Comments on a task and a document (one threaded reply, one mention) and the resulting
-- notification.

INSERT INTO comments (id, organization_id, project_id, entity_type, entity_id, parent_id,
                      author_id, content, mentions, created_at)
VALUES
    ('70000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', 'task', '50000000-0000-4000-8000-000000000002', NULL,
     '10000000-0000-4000-8000-000000000002',
     '@Emma can we reuse the hero component from the design system?',
     '{10000000-0000-4000-8000-000000000003}', '2025-01-28 10:00:00+00'),
    ('70000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', 'task', '50000000-0000-4000-8000-000000000002',
     '70000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003',
     'Yes, with a new image variant.', '{}', '2025-01-28 10:30:00+00'),
    ('70000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001',
     '40000000-0000-4000-8000-000000000001', 'document', '60000000-0000-4000-8000-000000000001',
     NULL, '10000000-0000-4000-8000-000000000001',
     'Approved. Please add performance targets in the next version.', '{}',
     '2025-01-15 09:00:00+00')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    project_id = EXCLUDED.project_id,
    entity_type = EXCLUDED.entity_type,
    entity_id = EXCLUDED.entity_id,
    parent_id = EXCLUDED.parent_id,
    author_id = EXCLUDED.author_id,
    content = EXCLUDED.content,
    mentions = EXCLUDED.mentions,
    created_at = EXCLUDED.created_at;

INSERT INTO notifications (id, organization_id, user_id, actor_id, type, title, body, channel,
                           entity_type, entity_id, is_read, read_at, created_at)
VALUES
    ('71000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000002',
     'mention', 'Max Manager mentioned you', 'on "Implement the home page"', 'in_app',
     'comment', '70000000-0000-4000-8000-000000000001', false, NULL, '2025-01-28 10:00:00+00'),
    ('71000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000003',
     'comment_reply', 'Emma Employee replied', 'on "Implement the home page"', 'in_app',
     'comment', '70000000-0000-4000-8000-000000000002', true, '2025-01-28 11:00:00+00',
     '2025-01-28 10:30:00+00')
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    user_id = EXCLUDED.user_id,
    actor_id = EXCLUDED.actor_id,
    type = EXCLUDED.type,
    title = EXCLUDED.title,
    body = EXCLUDED.body,
    channel = EXCLUDED.channel,
    entity_type = EXCLUDED.entity_type,
    entity_id = EXCLUDED.entity_id,
    is_read = EXCLUDED.is_read,
    read_at = EXCLUDED.read_at,
    created_at = EXCLUDED.created_at;
