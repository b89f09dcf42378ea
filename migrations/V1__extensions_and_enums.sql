-- Extensions and the enumerated types shared by the whole schema.
--
-- Only contrib modules shipped with Debian's postgresql-15 package are used.
-- gen_random_uuid() is built into PostgreSQL 13+, so no extension is needed for keys.
-- Enum values are the union of every value the design documents list, normalized to
-- lower_snake_case (the Prisma documents spell them in UPPER case, one uses 'on-hold').
-- Values no document lists are marked "(added)" and explained in migrations/README.md.

CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- crypt()/gen_salt() for seed passwords, digest()/hmac()
CREATE EXTENSION IF NOT EXISTS pg_trgm;   -- trigram indexes for type-ahead search on titles
CREATE EXTENSION IF NOT EXISTS citext;    -- case-insensitive e-mail addresses and slugs

-- Identity and tenancy.
-- 'user' (relational design) and 'employee' (NCY_8 strategy) are both kept: both documents
-- seed data with them. 'system' is for service accounts.
CREATE TYPE user_role AS ENUM ('admin', 'manager', 'employee', 'user', 'system');
CREATE TYPE user_status AS ENUM ('active', 'inactive', 'suspended', 'pending');
CREATE TYPE organization_size AS ENUM ('startup', 'small', 'medium', 'large', 'enterprise');
CREATE TYPE organization_status AS ENUM ('active', 'inactive', 'suspended');
CREATE TYPE organization_role AS ENUM ('owner', 'admin', 'manager', 'member');

-- RBAC (ProManage: resource + action + scope).
CREATE TYPE permission_action AS ENUM ('create', 'read', 'update', 'delete', 'approve');
CREATE TYPE permission_scope AS ENUM ('global', 'project', 'self');

-- Security and compliance.
CREATE TYPE security_severity AS ENUM ('info', 'warning', 'critical');
CREATE TYPE gdpr_request_type AS ENUM (
    'access', 'export', 'erasure', 'rectification', 'restriction', 'objection'
);
CREATE TYPE gdpr_request_status AS ENUM (
    'pending', 'in_progress', 'completed', 'failed', 'rejected', 'cancelled'
);

-- Work management. Ordered from least to most: ORDER BY priority DESC works.
CREATE TYPE project_status AS ENUM (
    'draft', 'planning', 'active', 'on_hold', 'inactive', 'completed', 'cancelled', 'archived'
);
CREATE TYPE project_priority AS ENUM ('low', 'medium', 'high', 'urgent', 'critical');
CREATE TYPE task_status AS ENUM ('todo', 'in_progress', 'review', 'done', 'cancelled');
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high', 'urgent');
CREATE TYPE sprint_status AS ENUM ('planned', 'active', 'completed', 'cancelled');  -- (added)
CREATE TYPE task_dependency_type AS ENUM (                                          -- (added)
    'finish_to_start', 'start_to_start', 'finish_to_finish', 'start_to_finish'
);
CREATE TYPE custom_field_type AS ENUM (                                             -- (added)
    'text', 'number', 'date', 'boolean', 'select', 'multi_select', 'user', 'url'
);

-- Content and collaboration.
CREATE TYPE document_status AS ENUM ('draft', 'in_review', 'approved', 'published', 'archived');
CREATE TYPE relation_type AS ENUM ('related', 'depends_on', 'duplicates', 'derived_from', 'covers');
CREATE TYPE notification_channel AS ENUM ('in_app', 'email', 'push', 'sms');
CREATE TYPE file_category AS ENUM ('design', 'reference', 'final', 'feedback', 'other');
CREATE TYPE file_status AS ENUM ('draft', 'review', 'approved', 'rejected');
CREATE TYPE storage_provider AS ENUM ('local', 'minio', 's3', 'azure_blob');
CREATE TYPE conversation_type AS ENUM ('direct', 'group', 'project', 'team');       -- ChatRoomType
CREATE TYPE message_type AS ENUM ('text', 'file', 'image', 'system');
CREATE TYPE message_priority AS ENUM ('low', 'normal', 'high', 'urgent');
CREATE TYPE message_status AS ENUM ('sent', 'delivered', 'read');

-- Change control and testing (ProManage).
CREATE TYPE change_request_status AS ENUM (
    'draft', 'submitted', 'under_review', 'approved', 'rejected', 'implemented', 'cancelled'
);
CREATE TYPE impact_level AS ENUM ('low', 'medium', 'high', 'critical');
CREATE TYPE approval_decision AS ENUM ('pending', 'approved', 'rejected');
CREATE TYPE test_case_status AS ENUM ('draft', 'ready', 'deprecated');
CREATE TYPE test_automation_status AS ENUM ('manual', 'automated', 'to_be_automated');
CREATE TYPE test_execution_status AS ENUM ('not_run', 'passed', 'failed', 'blocked', 'skipped');

-- Automation.
CREATE TYPE workflow_execution_status AS ENUM (
    'pending', 'running', 'succeeded', 'failed', 'cancelled'
);

-- Audit and logging. 'anonymize' is written by the GDPR anonymization job.
CREATE TYPE audit_action AS ENUM ('create', 'update', 'delete', 'login', 'logout', 'anonymize');
CREATE TYPE log_level AS ENUM ('debug', 'info', 'warn', 'error', 'fatal');

-- migrate:down

DROP TYPE log_level;
DROP TYPE audit_action;
DROP TYPE workflow_execution_status;
DROP TYPE test_execution_status;
DROP TYPE test_automation_status;
DROP TYPE test_case_status;
DROP TYPE approval_decision;
DROP TYPE impact_level;
DROP TYPE change_request_status;
DROP TYPE message_status;
DROP TYPE message_priority;
DROP TYPE message_type;
DROP TYPE conversation_type;
DROP TYPE storage_provider;
DROP TYPE file_status;
DROP TYPE file_category;
DROP TYPE notification_channel;
DROP TYPE relation_type;
DROP TYPE document_status;
DROP TYPE custom_field_type;
DROP TYPE task_dependency_type;
DROP TYPE sprint_status;
DROP TYPE task_priority;
DROP TYPE task_status;
DROP TYPE project_priority;
DROP TYPE project_status;
DROP TYPE gdpr_request_status;
DROP TYPE gdpr_request_type;
DROP TYPE security_severity;
DROP TYPE permission_scope;
DROP TYPE permission_action;
DROP TYPE organization_role;
DROP TYPE organization_status;
DROP TYPE organization_size;
DROP TYPE user_status;
DROP TYPE user_role;

-- IF EXISTS: the up part used IF NOT EXISTS. An extension that was installed before V1
-- (by a template database) is dropped here too; see migrations/README.md.
DROP EXTENSION IF EXISTS citext;
DROP EXTENSION IF EXISTS pg_trgm;
DROP EXTENSION IF EXISTS pgcrypto;
