//! `migrate drift` against a real PostgreSQL for the less common object kinds: a freshly
//! migrated database is clean (no alarm from extension objects or the history table), and a
//! hand-made change of each kind exits 2 naming the object.

use crate::support::drift::assert_reported as reported_on;
use crate::support::json;
use crate::support::{PgDb, migrate_in, pg, workdir};

/// One object of each kind, and the extension postgres_fdw (whose own objects are not the
/// schema's).
const MIGRATION: &str = "CREATE EXTENSION postgres_fdw;
CREATE TYPE level AS ENUM ('low', 'high');
CREATE FUNCTION level_rank(level) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE $1 WHEN 'low' THEN 1 ELSE 2 END $$;
CREATE CAST (level AS integer) WITH FUNCTION level_rank(level);
CREATE FUNCTION text_eq_ci(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT lower($1) = lower($2) $$;
CREATE OPERATOR === (LEFTARG = text, RIGHTARG = text, FUNCTION = text_eq_ci, COMMUTATOR = ===);
CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TEXT SEARCH DICTIONARY app_stop (TEMPLATE = pg_catalog.simple, STOPWORDS = english);
CREATE TEXT SEARCH CONFIGURATION app_search (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION app_search ALTER MAPPING FOR asciiword WITH app_stop, simple;
CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', dbname 'app');
CREATE TABLE accounts (
    id bigint PRIMARY KEY,
    email text NOT NULL COLLATE case_insensitive,
    body text,
    a integer,
    b integer
);
CREATE TABLE audit (id bigint PRIMARY KEY, note text);
CREATE RULE audit_keep AS ON DELETE TO audit DO INSTEAD NOTHING;
CREATE STATISTICS accounts_ab (dependencies) ON a, b FROM accounts;
CREATE VIEW account_emails AS SELECT id, email FROM accounts;
COMMENT ON COLUMN account_emails.email IS 'primary address';
CREATE PUBLICATION app_pub FOR TABLE accounts;
CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER app_ddl ON ddl_command_end EXECUTE FUNCTION note_ddl();
";

/// A database migrated with [`MIGRATION`], with its working directory.
fn migrated() -> (PgDb, tempfile::TempDir) {
    let db = pg();
    let dir = workdir();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("V1__kinds.sql"), MIGRATION).unwrap();
    migrate_in(&db, dir.path(), &["up"]).assert_ok();
    (db, dir)
}

/// Applies `change` by hand to a freshly migrated database and asserts drift reports `kind
/// object` as `status` (see [`reported_on`]).
fn assert_reported(change: &str, kind: &str, object: &str, status: &str, field: Option<&str>) {
    let (db, dir) = migrated();
    reported_on(&db, dir.path(), change, (kind, object, status), field);
}

/// A role other than the migrating one, created once per cluster whatever the concurrency.
const OTHER_ROLE: &str = "DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'drift_kinds_other') THEN
        CREATE ROLE drift_kinds_other NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;";

#[test]
fn freshly_migrated_database_has_no_drift() {
    let (db, dir) = migrated();
    let result = migrate_in(&db, dir.path(), &["--format", "json", "drift"]);
    result.assert_ok();
    let report = json(&result);
    assert_eq!(report["clean"], true, "{}", result.stdout);
    // Giving an object to the migrating role itself is no drift either.
    db.execute("ALTER TABLE accounts OWNER TO CURRENT_USER");
    migrate_in(&db, dir.path(), &["drift"]).assert_ok();
}

#[test]
fn rule_added() {
    assert_reported(
        "CREATE RULE accounts_keep AS ON DELETE TO accounts DO INSTEAD NOTHING",
        "rule",
        "public.accounts.accounts_keep",
        "unexpected",
        None,
    );
}

#[test]
fn rule_dropped() {
    assert_reported(
        "DROP RULE audit_keep ON audit",
        "rule",
        "public.audit.audit_keep",
        "missing",
        None,
    );
}

#[test]
fn event_trigger_disabled() {
    assert_reported(
        "ALTER EVENT TRIGGER app_ddl DISABLE",
        "event_trigger",
        "app_ddl",
        "changed",
        Some("enabled"),
    );
}

#[test]
fn table_owner_changed() {
    assert_reported(
        &format!("{OTHER_ROLE} ALTER TABLE accounts OWNER TO drift_kinds_other"),
        "owner",
        "table public.accounts",
        "unexpected",
        None,
    );
}

#[test]
fn publication_table_added() {
    assert_reported(
        "ALTER PUBLICATION app_pub ADD TABLE audit",
        "publication",
        "app_pub",
        "changed",
        Some("objects"),
    );
}

#[test]
fn extended_statistics_dropped() {
    assert_reported(
        "DROP STATISTICS accounts_ab",
        "statistics",
        "public.accounts_ab",
        "missing",
        None,
    );
}

#[test]
fn collation_added() {
    assert_reported(
        "CREATE COLLATION german (provider = icu, locale = 'de-DE')",
        "collation",
        "public.german",
        "unexpected",
        None,
    );
}

#[test]
fn operator_dropped() {
    assert_reported(
        "DROP OPERATOR === (text, text)",
        "operator",
        "public.===(text, text)",
        "missing",
        None,
    );
}

#[test]
fn cast_changed() {
    assert_reported(
        "DROP CAST (level AS integer);
         CREATE CAST (level AS integer) WITH FUNCTION level_rank(level) AS IMPLICIT",
        "cast",
        "(public.level AS integer)",
        "changed",
        Some("context"),
    );
}

#[test]
fn text_search_dictionary_options_changed() {
    assert_reported(
        "ALTER TEXT SEARCH DICTIONARY app_stop (ACCEPT = false)",
        "text_search_dictionary",
        "public.app_stop",
        "changed",
        Some("options"),
    );
}

#[test]
fn text_search_configuration_mapping_dropped() {
    assert_reported(
        "ALTER TEXT SEARCH CONFIGURATION app_search DROP MAPPING FOR email",
        "text_search_config",
        "public.app_search",
        "changed",
        Some("mappings"),
    );
}

#[test]
fn foreign_server_option_changed() {
    assert_reported(
        "ALTER SERVER remote OPTIONS (SET host 'elsewhere')",
        "foreign_server",
        "remote",
        "changed",
        Some("options"),
    );
}

#[test]
fn privilege_revoked_from_the_owner() {
    assert_reported(
        "REVOKE TRUNCATE ON accounts FROM CURRENT_USER",
        "owner_privileges",
        "table public.accounts",
        "unexpected",
        None,
    );
}

#[test]
fn column_storage_changed() {
    assert_reported(
        "ALTER TABLE accounts ALTER COLUMN body SET STORAGE EXTERNAL",
        "column",
        "public.accounts.body",
        "changed",
        Some("storage"),
    );
}

#[test]
fn column_compression_changed() {
    assert_reported(
        "ALTER TABLE accounts ALTER COLUMN body SET COMPRESSION pglz",
        "column",
        "public.accounts.body",
        "changed",
        Some("compression"),
    );
}

#[test]
fn view_column_comment_changed() {
    assert_reported(
        "COMMENT ON COLUMN account_emails.email IS 'login address'",
        "view",
        "public.account_emails",
        "changed",
        Some("column_comments"),
    );
}
