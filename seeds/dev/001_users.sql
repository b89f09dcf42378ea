-- Development users. Passwords (see seeds/README.md) are stored as bcrypt hashes (cost 10)
-- computed once with pgcrypto's crypt(password, gen_salt('bf', 10)).
-- Idempotent: fixed ids, INSERT ... ON CONFLICT (id) DO UPDATE; a re-run with unchanged
-- values changes nothing (the updated_at and audit triggers ignore no-op updates).

INSERT INTO users (id, email, password_hash, name, first_name, last_name, role, status,
                   email_verified, email_verified_at)
VALUES
    ('10000000-0000-4000-8000-000000000001', 'admin@ncy-8.com',
     '$2a$10$j82R8LpeotfU3c67OPOeAe78cNa2tE0rFgQNqelV1Z6D/EiqJ2zzS',
     'Ada Admin', 'Ada', 'Admin', 'admin', 'active', true, '2025-01-06 09:00:00+00'),
    ('10000000-0000-4000-8000-000000000002', 'manager@test-org.com',
     '$2a$10$l5Bt6FQ//DrcZQxvVnrWM.syanq7reGvUaJKczcTp5iSIqVD6Ngt.',
     'Max Manager', 'Max', 'Manager', 'manager', 'active', true, '2025-01-06 09:05:00+00'),
    ('10000000-0000-4000-8000-000000000003', 'employee@test-org.com',
     '$2a$10$IROTDNdZSN/dkBgyzaQEEeQidjI0NzPudHnYZXuLzbrXYrhewPmIC',
     'Emma Employee', 'Emma', 'Employee', 'employee', 'active', true, '2025-01-06 09:10:00+00')
ON CONFLICT (id) DO UPDATE SET
    email = EXCLUDED.email,
    password_hash = EXCLUDED.password_hash,
    name = EXCLUDED.name,
    first_name = EXCLUDED.first_name,
    last_name = EXCLUDED.last_name,
    role = EXCLUDED.role,
    status = EXCLUDED.status,
    email_verified = EXCLUDED.email_verified,
    email_verified_at = EXCLUDED.email_verified_at;

INSERT INTO user_profiles (id, user_id, job_title, department, timezone, locale, preferences)
VALUES
    ('11000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
     'Platform Administrator', 'IT', 'UTC', 'en',
     '{"notifications": {"email": true, "push": false, "mentions": true}, "display": {"theme": "dark"}}'),
    ('11000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002',
     'Project Manager', 'Delivery', 'Europe/Berlin', 'en',
     '{"notifications": {"email": true, "push": true, "mentions": true}, "display": {"theme": "light"}}'),
    ('11000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000003',
     'Software Engineer', 'Engineering', 'America/New_York', 'en',
     '{"notifications": {"email": false, "push": true, "mentions": true}, "display": {"theme": "light", "compactMode": true}}')
ON CONFLICT (id) DO UPDATE SET
    user_id = EXCLUDED.user_id,
    job_title = EXCLUDED.job_title,
    department = EXCLUDED.department,
    timezone = EXCLUDED.timezone,
    locale = EXCLUDED.locale,
    preferences = EXCLUDED.preferences;
