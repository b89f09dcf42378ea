-- Database roles and privileges.
--
--   application_user  read/write on application tables, subject to row-level security
--   readonly_user     SELECT only (reporting), also subject to row-level security
--
-- Both are NOLOGIN group roles: deployments create their own login roles and
-- `GRANT application_user TO <login>` outside migrations. Roles are cluster-wide and other
-- databases on the same cluster (test databases, other environments) use them too, so:
--  * creation is idempotent and tolerates another database creating the role at the same
--    moment (CREATE ROLE racing on pg_authid raises unique_violation or duplicate_object);
--  * the down part revokes what the up part granted in this database but never drops the
--    roles.
--
-- Privileges are granted on everything in schema public that exists now, and through
-- ALTER DEFAULT PRIVILEGES on what the migrating role creates later (V18 and beyond,
-- partitions made by create_activity_log_partitions()). The tool's own history tables are
-- excluded. audit_logs and activity_logs are append-only for the application.

DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['application_user', 'readonly_user'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                RAISE NOTICE 'role % was created concurrently by another session', v_role;
            END;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                   WHERE rolname = v_role AND (rolsuper OR rolbypassrls)) THEN
            RAISE WARNING 'role % bypasses row-level security (SUPERUSER or BYPASSRLS)', v_role;
        END IF;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public TO application_user, readonly_user;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO application_user;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO readonly_user;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO application_user;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO readonly_user;

-- History is append-only for the application.
REVOKE UPDATE, DELETE ON audit_logs, activity_logs FROM application_user;

-- EXECUTE on the schema's own functions (not the extensions'; PUBLIC keeps its default
-- EXECUTE on those). The partition maker is for the schema owner only.
DO $$
DECLARE
    v_function regprocedure;
BEGIN
    FOR v_function IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                            AND d.objid = p.oid
                            AND d.deptype = 'e')
          AND p.oid <> 'create_activity_log_partitions(integer)'::regprocedure
        ORDER BY 1
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO application_user', v_function);
    END LOOP;
END
$$;

-- The migration tool's own bookkeeping is not application data.
DO $$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['migrate_history', 'refinery_schema_history'] LOOP
        IF to_regclass(format('public.%I', v_table)) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON TABLE public.%I FROM application_user, readonly_user', v_table);
        END IF;
    END LOOP;
END
$$;

ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO application_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT ON TABLES TO readonly_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO application_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT ON SEQUENCES TO readonly_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO application_user;

-- migrate:down

-- The roles themselves are NOT dropped: they are cluster-wide and other databases on the
-- cluster use them. Only what the up part granted in this database is revoked.

ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE EXECUTE ON FUNCTIONS FROM application_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE SELECT ON SEQUENCES FROM readonly_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE USAGE, SELECT ON SEQUENCES FROM application_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE SELECT ON TABLES FROM readonly_user;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM application_user;

DO $$
DECLARE
    v_function regprocedure;
BEGIN
    FOR v_function IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                            AND d.objid = p.oid
                            AND d.deptype = 'e')
        ORDER BY 1
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM application_user', v_function);
    END LOOP;
END
$$;

REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM application_user, readonly_user;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM application_user, readonly_user;
REVOKE USAGE ON SCHEMA public FROM application_user, readonly_user;
