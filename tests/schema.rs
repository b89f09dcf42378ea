//! The application's own schema (`migrations/`) and seeds (`seeds/`), applied by the binary to
//! a real PostgreSQL: reversibility, tenant isolation, roles, triggers, search, materialized
//! views, partitions and idempotent seeds.

use crate::support::repo;
use crate::support::{PgDb, migrate_cmd, newest_app_version, pg, run};

fn migrate(db: &PgDb, args: &[&str]) -> crate::support::Run {
    let workdir = crate::support::workdir();
    run(migrate_cmd()
        .current_dir(workdir.path())
        .args([
            "--database-url",
            &db.url,
            "--migrations",
            &repo("migrations"),
            "--seeds",
            &repo("seeds"),
        ])
        .args(args))
}

fn migrated_with_seeds(env: &str) -> PgDb {
    let db = pg();
    migrate(&db, &["up"]).assert_ok();
    migrate(&db, &["seed", "--env", env]).assert_ok();
    db
}

const ORG_A: &str = "a2000000-0000-4000-8000-000000000001";
const ORG_B: &str = "b2000000-0000-4000-8000-000000000001";

#[test]
fn up_down_to_zero_and_up_again() {
    let db = pg();
    let up = migrate(&db, &["up"]);
    up.assert_ok();
    let files = std::fs::read_dir(repo("migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".sql")
        })
        .count();
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").unwrap(),
        files.to_string()
    );
    migrate(&db, &["seed", "--env", "dev"]).assert_ok();

    migrate(&db, &["down", "--to", "0", "--yes"]).assert_ok();
    let left = db.query(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1",
    );
    let names: Vec<String> = left
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["migrate_history".to_string()],
        "only the history table may remain"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'").as_deref(),
        Some("0"),
        "enums are dropped"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'").as_deref(),
        Some("0"),
        "functions are dropped"
    );
    migrate(&db, &["up"]).assert_ok();
    migrate(&db, &["seed", "--env", "dev"]).assert_ok();
    migrate(&db, &["validate"]).assert_ok();
}

#[test]
fn seeding_twice_reports_nothing_to_do() {
    let db = migrated_with_seeds("dev");
    let second = migrate(&db, &["seed", "--env", "dev"]);
    second.assert_ok();
    assert!(second.stdout.contains("nothing to do"), "{}", second.stdout);
    let json = migrate(&db, &["--format", "json", "seed", "--env", "dev"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["applied"].as_array().unwrap().len(), 0);
    assert!(!value["unchanged"].as_array().unwrap().is_empty());
    // Passwords are real bcrypt hashes.
    assert_eq!(
        db.scalar("SELECT bool_and(password_hash ~ '^\\$2[aby]\\$') FROM users")
            .as_deref(),
        Some("t")
    );
}

/// Every table with row-level security and an organization_id column.
fn tenant_tables(db: &PgDb) -> Vec<String> {
    db.query(
        "SELECT c.relname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped
         WHERE n.nspname = 'public' AND c.relrowsecurity AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         ORDER BY 1",
    )
    .into_iter()
    .map(|row| row[0].clone().unwrap())
    .collect()
}

#[test]
fn application_user_sees_only_its_tenant_and_cannot_write_for_another() {
    let db = migrated_with_seeds("test");
    let tables = tenant_tables(&db);
    assert!(
        tables.len() >= 20,
        "expected many tenant tables, got {tables:?}"
    );
    let forced = db.scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relrowsecurity AND NOT c.relforcerowsecurity AND c.relkind IN ('r','p') AND NOT c.relispartition",
    );
    assert_eq!(
        forced.as_deref(),
        Some("0"),
        "row-level security must be forced everywhere it is enabled"
    );
    // Both tenants have data in the core tables.
    for table in ["projects", "tasks", "documents"] {
        let count = db.scalar(&format!(
            "SELECT count(DISTINCT organization_id) FROM {table}"
        ));
        assert_eq!(
            count.as_deref(),
            Some("2"),
            "{table} needs rows of both tenants"
        );
    }
    for table in &tables {
        let foreign = db.scalar(&format!(
            "BEGIN; SET LOCAL ROLE application_user; SET LOCAL app.current_organization_id = '{ORG_A}';
             SELECT count(*) FROM {table} WHERE organization_id <> '{ORG_A}';"
        ));
        db.execute("ROLLBACK");
        assert_eq!(
            foreign.as_deref(),
            Some("0"),
            "application_user sees another tenant's rows in {table}"
        );
    }
    let visible = db.scalar(&format!(
        "BEGIN; SET LOCAL ROLE application_user; SET LOCAL app.current_organization_id = '{ORG_A}';
         SELECT count(*) FROM projects;"
    ));
    db.execute("ROLLBACK");
    assert_ne!(
        visible.as_deref(),
        Some("0"),
        "application_user sees its own tenant's projects"
    );

    // WITH CHECK: no row for tenant B while acting as tenant A.
    let project_b = db
        .scalar(&format!(
            "SELECT id FROM projects WHERE organization_id = '{ORG_B}' LIMIT 1"
        ))
        .unwrap();
    let user_a = db
        .scalar(&format!(
            "SELECT user_id FROM organization_members WHERE organization_id = '{ORG_A}' LIMIT 1"
        ))
        .unwrap();
    let refused = try_sql(
        &db,
        &format!(
            "BEGIN; SET LOCAL ROLE application_user; SET LOCAL app.current_organization_id = '{ORG_A}';
             INSERT INTO tasks (organization_id, project_id, title, created_by) VALUES ('{ORG_B}', '{project_b}', 'sneaky', '{user_a}');"
        ),
    );
    db.execute("ROLLBACK");
    let message = refused.expect_err("inserting a task for tenant B as tenant A must fail");
    assert!(message.contains("row-level security"), "{message}");
}

/// Runs SQL and returns the error message instead of panicking.
fn try_sql(db: &PgDb, sql: &str) -> Result<(), String> {
    let url = db.url.clone();
    let sql = sql.to_string();
    std::thread::spawn(move || {
        let output = std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", &sql])
            .output()
            .expect("psql must be installed");
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    })
    .join()
    .unwrap()
}

#[test]
fn readonly_user_cannot_write() {
    let db = migrated_with_seeds("test");
    let read = try_sql(
        &db,
        &format!(
            "BEGIN; SET LOCAL ROLE readonly_user; SET LOCAL app.current_organization_id = '{ORG_A}'; SELECT count(*) FROM tasks; COMMIT;"
        ),
    );
    assert!(read.is_ok(), "{read:?}");
    let write = try_sql(
        &db,
        &format!(
            "BEGIN; SET LOCAL ROLE readonly_user; SET LOCAL app.current_organization_id = '{ORG_A}'; UPDATE tasks SET title = title; COMMIT;"
        ),
    );
    let message = write.expect_err("readonly_user must not write");
    assert!(message.contains("permission denied"), "{message}");
}

#[test]
fn task_update_bumps_updated_at_and_writes_one_audit_row() {
    let db = migrated_with_seeds("test");
    let task = db
        .scalar(&format!(
            "SELECT id FROM tasks WHERE organization_id = '{ORG_A}' ORDER BY id LIMIT 1"
        ))
        .unwrap();
    let updated_before = db
        .scalar(&format!("SELECT updated_at FROM tasks WHERE id = '{task}'"))
        .unwrap();
    let audits_before: usize = db
        .scalar(&format!(
            "SELECT count(*) FROM audit_logs WHERE record_id = '{task}'"
        ))
        .unwrap()
        .parse()
        .unwrap();
    db.execute(&format!(
        "UPDATE tasks SET title = 'Renamed by the test' WHERE id = '{task}'"
    ));
    assert_eq!(
        db.scalar(&format!(
            "SELECT updated_at > '{updated_before}' FROM tasks WHERE id = '{task}'"
        ))
        .as_deref(),
        Some("t"),
        "updated_at is bumped"
    );
    let audits = db.query(&format!(
        "SELECT old_values->>'title', new_values->>'title', action::text FROM audit_logs WHERE record_id = '{task}' ORDER BY created_at DESC"
    ));
    assert_eq!(
        audits.len(),
        audits_before + 1,
        "exactly one audit row per update"
    );
    assert_eq!(audits[0][1].as_deref(), Some("Renamed by the test"));
    assert_ne!(audits[0][0].as_deref(), Some("Renamed by the test"));
    assert!(
        audits[0][2]
            .as_deref()
            .unwrap()
            .to_lowercase()
            .contains("update"),
        "{:?}",
        audits[0]
    );
}

/// Seed 002: every table with major data changes is audited, with the request's session id.
#[test]
fn major_tables_are_audited_with_the_session_id() {
    let db = migrated_with_seeds("dev");
    let audited: Vec<String> = db
        .query(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_proc p ON p.oid = t.tgfoid
             WHERE p.proname = 'audit_trigger' AND NOT t.tgisinternal ORDER BY 1",
        )
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect();
    for table in [
        "users",
        "organizations",
        "projects",
        "tasks",
        "documents",
        "document_versions",
        "change_requests",
        "change_request_approvals",
        "test_cases",
        "test_executions",
        "files",
        "file_versions",
        "organization_members",
        "project_members",
        "user_roles",
    ] {
        assert!(
            audited.iter().any(|t| t == table),
            "{table} is not audited: {audited:?}"
        );
    }
    // A change made for a request names its session; one made without a session does not.
    for (table, column) in [
        ("documents", "updated_at"),
        ("organization_members", "updated_at"),
        ("project_members", "updated_at"),
        ("user_roles", "granted_at"),
    ] {
        let id = db
            .scalar(&format!("SELECT id FROM {table} ORDER BY id LIMIT 1"))
            .unwrap_or_else(|| panic!("the dev seeds have no row in {table}"));
        db.execute(&format!(
            "BEGIN; SET LOCAL app.session_id = 'sess-{table}';
             UPDATE {table} SET {column} = {column} + interval '1 second' WHERE id = '{id}';
             COMMIT;"
        ));
        assert_eq!(
            db.scalar(&format!(
                "SELECT session_id FROM audit_logs WHERE record_id = '{id}' AND action = 'update'
                 ORDER BY created_at DESC LIMIT 1"
            )),
            Some(format!("sess-{table}")),
            "{table}"
        );
    }
    let document = db
        .scalar("SELECT id FROM documents ORDER BY id LIMIT 1")
        .unwrap();
    db.execute(&format!(
        "UPDATE documents SET title = title || ' (2)' WHERE id = '{document}'"
    ));
    assert_eq!(
        db.query(&format!(
            "SELECT session_id FROM audit_logs WHERE record_id = '{document}' ORDER BY created_at DESC LIMIT 1"
        )),
        vec![vec![None]]
    );
}

#[test]
fn document_search_ranks_title_above_body() {
    let db = migrated_with_seeds("test");
    let project = db
        .scalar(&format!(
            "SELECT id FROM projects WHERE organization_id = '{ORG_A}' LIMIT 1"
        ))
        .unwrap();
    let user = db
        .scalar(&format!(
            "SELECT user_id FROM organization_members WHERE organization_id = '{ORG_A}' LIMIT 1"
        ))
        .unwrap();
    db.execute(&format!(
        "INSERT INTO documents (organization_id, project_id, title, content, created_by) VALUES
           ('{ORG_A}', '{project}', 'Zebra migration handbook', 'general notes', '{user}'),
           ('{ORG_A}', '{project}', 'General notes', 'a note about the zebra', '{user}')"
    ));
    let ranked = db.query(
        "SELECT title FROM documents WHERE search_vector @@ plainto_tsquery('english', 'zebra')
         ORDER BY ts_rank(search_vector, plainto_tsquery('english', 'zebra')) DESC",
    );
    assert_eq!(ranked.len(), 2, "{ranked:?}");
    assert_eq!(ranked[0][0].as_deref(), Some("Zebra migration handbook"));
}

#[test]
fn materialized_views_refresh_concurrently_and_logs_land_in_their_partition() {
    let db = migrated_with_seeds("dev");
    db.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY user_dashboard_stats");
    db.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY project_stats");
    assert_ne!(
        db.scalar("SELECT count(*) FROM project_stats").as_deref(),
        Some("0")
    );

    let org = db
        .scalar("SELECT id FROM organizations ORDER BY id LIMIT 1")
        .unwrap();
    db.execute(&format!(
        "INSERT INTO activity_logs (organization_id, action, entity_type) VALUES ('{org}', 'task.created', 'task')"
    ));
    db.execute("SELECT create_activity_log_partitions(2)");
    let partition = db
        .scalar("SELECT tableoid::regclass::text FROM activity_logs WHERE action = 'task.created'")
        .unwrap();
    let expected = db
        .scalar("SELECT to_char(now() AT TIME ZONE 'UTC', '\"activity_logs_y\"YYYY\"m\"MM')")
        .unwrap();
    assert_eq!(
        partition, expected,
        "the row moved into its month's partition"
    );
    db.execute(&format!(
        "INSERT INTO activity_logs (organization_id, action, entity_type) VALUES ('{org}', 'task.updated', 'task')"
    ));
    assert_eq!(
        db.scalar(
            "SELECT tableoid::regclass::text FROM activity_logs WHERE action = 'task.updated'"
        )
        .unwrap(),
        expected
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM create_activity_log_partitions(2)")
            .as_deref(),
        Some("0"),
        "idempotent"
    );
}

/// `check --with-data` over this application's migrations loads the tables `seed generate`
/// knows through it (realistic rows that pass every constraint and trigger), fills the other
/// touched tables from their column types, and meets the CHECK constraints that tie columns
/// together (no table left empty).
#[test]
fn check_with_data_uses_seed_generate_for_the_application_tables() {
    let db = pg();
    let newest = newest_app_version();
    let since = (newest - 2).to_string();
    let check = migrate(
        &db,
        &[
            "--format",
            "json",
            "check",
            "--since",
            &since,
            "--with-data",
            "400",
        ],
    );
    check.assert_code(0);
    let report = crate::support::json(&check);
    let fill = &report["observation"]["with_data"];
    let generated = &fill["generated"];
    assert!(generated["failed"].is_null(), "{generated:#}");
    assert_eq!(generated["tasks"], 400);
    let loaded: Vec<(&str, u64)> = generated["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["table"].as_str().unwrap(), t["rows"].as_u64().unwrap()))
        .collect();
    assert!(loaded.contains(&("tasks", 400)), "{loaded:?}");
    assert!(
        loaded.iter().any(|(t, _)| *t == "organization_members"),
        "{loaded:?}"
    );
    let filled: Vec<&str> = fill["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    // Not filled twice: the generic filler leaves the generated tables alone.
    assert!(!filled.contains(&"public.tasks"), "{filled:?}");
    assert!(!filled.is_empty());
    assert_eq!(fill["skipped"].as_array().unwrap().len(), 0, "{fill:#}");
}
