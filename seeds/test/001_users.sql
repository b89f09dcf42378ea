-- Test users: one per organization. Password for both: test-password (bcrypt, cost 10).

INSERT INTO users (id, email, password_hash, name, role, status, email_verified)
VALUES
    ('a1000000-0000-4000-8000-000000000001', 'alice@org-a.test',
     '$2a$10$Q0fqJiL6QZfBEE11YXQ.uu3USXVjheierO5s.0iquacH9VqE5nTDe', 'Alice A', 'manager', 'active', true),
    ('b1000000-0000-4000-8000-000000000001', 'bob@org-b.test',
     '$2a$10$Q0fqJiL6QZfBEE11YXQ.uu3USXVjheierO5s.0iquacH9VqE5nTDe', 'Bob B', 'employee', 'active', true)
ON CONFLICT (id) DO UPDATE SET
    email = EXCLUDED.email,
    password_hash = EXCLUDED.password_hash,
    name = EXCLUDED.name,
    role = EXCLUDED.role,
    status = EXCLUDED.status,
    email_verified = EXCLUDED.email_verified;
