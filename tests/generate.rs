//! `migrate seed generate` against a real PostgreSQL with the repository's migrations: the same
//! seed gives the same rows, byte for byte, in two databases; the data is valid and shaped as
//! reported; a seed cannot be loaded twice; another seed gives other data.

use crate::support::repo;
use crate::support::{PgDb, migrate_cmd, pg, run};

const TABLES: &[&str] = &[
    "users",
    "organizations",
    "organization_members",
    "projects",
    "project_members",
    "tasks",
    "comments",
    "activity_logs",
];

fn migrate(db: &PgDb, args: &[&str]) -> crate::support::Run {
    let workdir = crate::support::workdir();
    run(migrate_cmd()
        .current_dir(workdir.path())
        .args([
            "--database-url",
            &db.url,
            "--migrations",
            &repo("migrations"),
        ])
        .args(args))
}

fn migrated() -> PgDb {
    let db = pg();
    migrate(&db, &["up"]).assert_ok();
    db
}

/// Generates with a fixed --as-of (timestamps are relative to it) and returns the JSON report.
fn generate(db: &PgDb, tasks: u32, seed: u32) -> serde_json::Value {
    let tasks = tasks.to_string();
    let seed = seed.to_string();
    let out = migrate(
        db,
        &[
            "--format",
            "json",
            "seed",
            "generate",
            "--tasks",
            &tasks,
            "--seed",
            &seed,
            "--as-of",
            "2025-06-15",
            "--batch-rows",
            "700",
        ],
    );
    out.assert_ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// md5 of the table's rows (every column, as text) in id order.
fn digest(db: &PgDb, table: &str) -> String {
    db.scalar(&format!(
        "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) FROM {table} t"
    ))
    .unwrap()
}

fn count(db: &PgDb, sql: &str) -> i64 {
    db.scalar(sql).unwrap().parse().unwrap()
}

#[test]
fn same_seed_gives_identical_valid_data() {
    let first = migrated();
    let second = migrated();
    let report = generate(&first, 2000, 7);
    generate(&second, 2000, 7);

    // Rows as reported, in load order.
    let tables = report["tables"].as_array().unwrap();
    let names: Vec<&str> = tables
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(names, TABLES);
    let mut total = 0;
    for table in tables {
        let name = table["table"].as_str().unwrap();
        let rows = table["rows"].as_i64().unwrap();
        assert_eq!(
            count(&first, &format!("SELECT count(*) FROM {name}")),
            rows,
            "{name}"
        );
        assert!(table["rows_per_second"].as_f64().unwrap() > 0.0, "{table}");
        total += rows;
    }
    assert_eq!(report["total_rows"].as_i64().unwrap(), total);
    assert_eq!(count(&first, "SELECT count(*) FROM tasks"), 2000);
    assert_eq!(count(&first, "SELECT count(*) FROM comments"), 1000);
    assert_eq!(count(&first, "SELECT count(*) FROM activity_logs"), 2000);
    assert_eq!(count(&first, "SELECT count(*) FROM organizations"), 1);
    assert_eq!(count(&first, "SELECT count(*) FROM users"), 200);

    // Byte for byte the same content in both databases.
    for table in TABLES {
        assert_eq!(digest(&first, table), digest(&second, table), "{table}");
    }

    // Hierarchies: sub-tasks point at top-level tasks of the same project created before
    // them; sub-projects at top-level projects of the same organization.
    let sub_tasks = count(
        &first,
        "SELECT count(*) FROM tasks WHERE parent_id IS NOT NULL",
    );
    assert!((200..=500).contains(&sub_tasks), "{sub_tasks} sub-tasks");
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM tasks c JOIN tasks p ON p.id = c.parent_id
             WHERE p.project_id <> c.project_id OR p.parent_id IS NOT NULL
                OR p.created_at > c.created_at"
        ),
        0
    );
    assert!(
        count(
            &first,
            "SELECT count(*) FROM projects WHERE parent_id IS NOT NULL"
        ) > 0
    );
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM projects c JOIN projects p ON p.id = c.parent_id
             WHERE p.parent_id IS NOT NULL"
        ),
        0
    );

    // Foreign keys are enforced during the load (triggers stay on); check the references
    // that no constraint covers.
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM comments c
             WHERE NOT EXISTS (SELECT 1 FROM tasks t
                               WHERE t.id = c.entity_id AND t.project_id = c.project_id
                                 AND t.organization_id = c.organization_id)
                OR NOT c.mentions <@ ARRAY(SELECT user_id FROM project_members pm
                                           WHERE pm.project_id = c.project_id)"
        ),
        0
    );
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM comments r JOIN comments p ON p.id = r.parent_id
             WHERE p.entity_id <> r.entity_id OR p.parent_id IS NOT NULL
                OR p.created_at > r.created_at"
        ),
        0
    );
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM activity_logs a
             WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)
                OR NOT EXISTS (SELECT 1 FROM projects p
                               WHERE p.id = a.project_id AND p.organization_id = a.organization_id)
                OR (a.entity_type = 'task'
                    AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = a.entity_id))"
        ),
        0
    );
    // Assignees, creators and commenters are members of the project.
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM tasks t
             WHERE NOT EXISTS (SELECT 1 FROM project_members pm
                               WHERE pm.project_id = t.project_id AND pm.user_id = t.created_by)
                OR (t.assignee_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM project_members pm
                                    WHERE pm.project_id = t.project_id
                                      AND pm.user_id = t.assignee_id))"
        ),
        0
    );

    // The triggers filled the search vector and wrote the audit trail.
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM tasks WHERE search_vector IS NULL"
        ),
        0
    );
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM tasks WHERE search_vector @@ to_tsquery('english', 'implement:A')"
        ),
        count(
            &first,
            "SELECT count(*) FROM tasks WHERE title LIKE 'Implement %'"
        )
    );
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM audit_logs WHERE table_name = 'tasks' AND action = 'create'"
        ),
        2000
    );

    // Values are plausible: every status occurs, timestamps fall in the year before --as-of,
    // e-mail addresses carry the seed.
    assert_eq!(count(&first, "SELECT count(DISTINCT status) FROM tasks"), 5);
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM tasks
             WHERE created_at < '2024-06-15' OR created_at >= '2025-06-15'
                OR (status = 'done') <> (completed_at IS NOT NULL)"
        ),
        0
    );
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM users WHERE email NOT LIKE '%@s7.example.org'"
        ),
        0
    );
    assert!(
        count(
            &first,
            "SELECT count(DISTINCT date_trunc('month', created_at)) FROM activity_logs"
        ) >= 8,
        "activity spreads over the months since the first projects"
    );
    // Statistics are fresh (the load ends with ANALYZE).
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM pg_stat_user_tables
             WHERE relname IN ('users', 'tasks', 'comments') AND last_analyze IS NULL"
        ),
        0
    );
}

#[test]
fn a_seed_loads_once_and_other_seeds_add_other_data() {
    let db = migrated();
    let other = migrated();
    generate(&db, 500, 1);
    let tasks = digest(&db, "tasks");

    // The same seed again is refused before anything is written.
    let again = migrate(&db, &["seed", "generate", "--tasks", "500", "--seed", "1"]);
    again.assert_code(1);
    assert!(
        again.stderr.contains("--seed 1 is already loaded"),
        "{}",
        again.stderr
    );
    assert_eq!(digest(&db, "tasks"), tasks);

    // Another seed gives other ids, e-mail addresses and slugs: it loads next to the first.
    generate(&other, 500, 2);
    for table in TABLES {
        assert_ne!(digest(&db, table), digest(&other, table), "{table}");
    }
    generate(&db, 500, 2);
    assert_eq!(count(&db, "SELECT count(*) FROM tasks"), 1000);
    assert_eq!(count(&db, "SELECT count(*) FROM organizations"), 2);
}

#[test]
fn dry_run_changes_nothing_and_pending_migrations_are_refused() {
    let db = pg();
    let dry = migrate(&db, &["seed", "generate", "--tasks", "100000", "--dry-run"]);
    dry.assert_ok();
    assert!(dry.stdout.contains("would load"), "{}", dry.stdout);
    assert!(dry.stdout.contains("tasks"), "{}", dry.stdout);
    assert!(dry.stdout.contains("100000"), "{}", dry.stdout);

    let refused = migrate(&db, &["seed", "generate", "--tasks", "10"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("pending"), "{}", refused.stderr);
    assert!(refused.stderr.contains("migrate up"), "{}", refused.stderr);
}
