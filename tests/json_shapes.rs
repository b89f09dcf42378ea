//! The one JSON document of every command (`--format json`, docs/json.md), pinned by its
//! shape: which fields each object has and the type of each value, never the values (times,
//! ids and ports differ per run). The shapes are snapshots under tests/snapshots/json/; a
//! changed shape fails until its `.snap` is reviewed and committed, and every field of a shape
//! must be named in the command's section of docs/json.md (or the doc it links to).
//!
//! A shape is one line per path: `stores[store=postgres].plan[].version: null|number`. An
//! array's elements are merged (`[]`: only empty arrays were seen), except the sections of a
//! `stores` array, one per store (`[store=NAME]`: each store's section has its own fields); an
//! object's keys are sorted, and the keys of objects that are maps (`per_pattern`, `values`,
//! ...: data, not fields) become `*`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::support::{
    PgDb, Run, Stores, example_config, json, migrate_cmd, pg, repo, run, workdir, write_migration,
};

// ---------------------------------------------------------------------------------------------
// Shapes

/// Objects whose keys are data (a pattern, a kind of value, a place), not field names.
const MAPS: &[&str] = &[
    "per_pattern",
    "values",
    "not_searched",
    "replaced",
    "leftovers",
    // A backup manifest's row counts by table and its collections by name.
    "tables",
    "collections",
];

#[derive(Default)]
struct Shape {
    /// `null`, `bool`, `number`, `string`, `object`, `array` (`[]` while only empty arrays).
    types: BTreeSet<&'static str>,
    fields: BTreeMap<String, Shape>,
    items: Option<Box<Shape>>,
    /// The elements of a `stores` array by their `store`.
    stores: BTreeMap<String, Shape>,
}

impl Shape {
    /// Adds `value`, the value of the field `name`, to the shape.
    fn add(&mut self, value: &Value, name: &str) {
        let is_map = MAPS.contains(&name);
        match value {
            Value::Null => {
                self.types.insert("null");
            }
            Value::Bool(_) => {
                self.types.insert("bool");
            }
            Value::Number(_) => {
                self.types.insert("number");
            }
            Value::String(_) => {
                self.types.insert("string");
            }
            Value::Array(items) => {
                if items.is_empty() {
                    if self.items.is_none() && self.stores.is_empty() {
                        self.types.insert("[]");
                    }
                } else {
                    self.types.remove("[]");
                    self.types.insert("array");
                    for item in items {
                        match item.get("store").and_then(Value::as_str) {
                            Some(store) if name == "stores" => self
                                .stores
                                .entry(store.to_string())
                                .or_default()
                                .add(item, ""),
                            _ => self.items.get_or_insert_with(Box::default).add(item, ""),
                        }
                    }
                }
            }
            Value::Object(map) => {
                self.types.insert("object");
                for (key, value) in map {
                    let name = if is_map { "*" } else { key.as_str() };
                    self.fields
                        .entry(name.to_string())
                        .or_default()
                        .add(value, name);
                }
            }
        }
    }

    fn render(&self, path: &str, out: &mut String) {
        let types: Vec<&str> = self.types.iter().copied().collect();
        out.push_str(&format!(
            "{}: {}\n",
            if path.is_empty() { "." } else { path },
            types.join("|")
        ));
        for (key, field) in &self.fields {
            let sub = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            field.render(&sub, out);
        }
        if let Some(items) = &self.items {
            items.render(&format!("{path}[]"), out);
        }
        for (store, section) in &self.stores {
            section.render(&format!("{path}[store={store}]"), out);
        }
    }
}

/// The shape of a report, one `path: types` line per path.
fn shape(value: &Value) -> String {
    let mut shape = Shape::default();
    shape.add(value, "");
    let mut out = String::new();
    shape.render("", &mut out);
    out
}

#[test]
fn a_shape_merges_elements_and_names_types_not_values() {
    let report = serde_json::json!({
        "steps": [
            {"store": "postgres", "version": null, "plan": [], "per_pattern": {"a:*": 1}},
            {"store": "mongo", "version": 3, "plan": [{"ops": 2}], "per_pattern": {"b:*": 2}},
        ],
        "stores": [{"store": "postgres", "clean": true}, {"store": "redis", "keys": 1}],
        "ok": true,
        "empty": [],
    });
    assert_eq!(
        shape(&report),
        ".: object\n\
         empty: []\n\
         ok: bool\n\
         steps: array\n\
         steps[]: object\n\
         steps[].per_pattern: object\n\
         steps[].per_pattern.*: number\n\
         steps[].plan: array\n\
         steps[].plan[]: object\n\
         steps[].plan[].ops: number\n\
         steps[].store: string\n\
         steps[].version: null|number\n\
         stores: array\n\
         stores[store=postgres]: object\n\
         stores[store=postgres].clean: bool\n\
         stores[store=postgres].store: string\n\
         stores[store=redis]: object\n\
         stores[store=redis].keys: number\n\
         stores[store=redis].store: string\n"
    );
}

/// Pins the shape of the one JSON document `done` printed (it exited `code`) as
/// tests/snapshots/json/`name`.snap.
fn pin(name: &str, command: &str, done: &Run, code: i32) {
    done.assert_code(code);
    let report = json(done);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/json");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("migrate --format json {command}"));
    settings.bind(|| insta::assert_snapshot!(name, shape(&report)));
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const V1: &str = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n\
                  -- migrate:down\nDROP TABLE accounts;\n";
const V2: &str = "CREATE TABLE notes (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts (id), body text);\n\
                  -- migrate:down\nDROP TABLE notes;\n";
const R_VIEW: &str = "CREATE OR REPLACE VIEW account_emails AS SELECT id, email FROM accounts;\n";
/// A pending migration with lint findings (an index built with a write lock, a NOT NULL column
/// on an existing table).
const V3: &str = "CREATE INDEX notes_body_idx ON notes (body);\n\
                  ALTER TABLE accounts ADD COLUMN name text NOT NULL DEFAULT '';\n\
                  -- migrate:down\nDROP INDEX notes_body_idx;\nALTER TABLE accounts DROP COLUMN name;\n";

/// A project directory with two versioned migrations, a repeatable one and seeds.
fn project() -> tempfile::TempDir {
    let dir = workdir();
    write_migration(dir.path(), "V1__accounts.sql", V1);
    write_migration(dir.path(), "V2__notes.sql", V2);
    write_migration(dir.path(), "R__account_emails.sql", R_VIEW);
    let seeds = dir.path().join("seeds").join("dev");
    std::fs::create_dir_all(&seeds).unwrap();
    std::fs::write(
        seeds.join("001_accounts.sql"),
        "INSERT INTO accounts (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com');\n",
    )
    .unwrap();
    std::fs::write(
        seeds.join("002_notes.csv"),
        "id,account_id,body\n1,1,hello\n2,2,world\n",
    )
    .unwrap();
    dir
}

/// `migrate --format json ARGS` in `dir` against `db`.
fn in_project(db: &PgDb, dir: &Path, args: &[&str]) -> Run {
    run(migrate_cmd()
        .current_dir(dir)
        .args(["--format", "json", "--database-url", &db.url])
        .args(args))
}

/// The URL of `db` naming another database.
fn other_database(db: &PgDb, name: &str) -> String {
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

#[test]
fn errors_completions_man_new_and_lint() {
    let dir = project();
    let db = pg();
    // A migration the server refuses: the error document of a failed command.
    write_migration(
        dir.path(),
        "V3__broken.sql",
        "CREATE TABLE broken (id bigint REFERENCES no_such_table (id));\n",
    );
    pin(
        "error",
        "up (a failing migration)",
        &in_project(&db, dir.path(), &["up"]),
        1,
    );
    std::fs::remove_file(dir.path().join("migrations/V3__broken.sql")).unwrap();
    pin(
        "error-usage",
        "up --no-such-flag",
        &run(migrate_cmd().args(["--format", "json", "up", "--no-such-flag"])),
        64,
    );

    pin(
        "completions",
        "completions bash",
        &run(migrate_cmd().args(["--format", "json", "completions", "bash"])),
        0,
    );
    pin(
        "man",
        "man",
        &run(migrate_cmd().args(["--format", "json", "man"])),
        0,
    );
    pin(
        "man-out",
        "man --out DIR",
        &run(migrate_cmd()
            .current_dir(dir.path())
            .args(["--format", "json", "man", "--out", "man"])),
        0,
    );
    pin(
        "new",
        "new add_names",
        &run(migrate_cmd()
            .current_dir(dir.path())
            .args(["--format", "json", "new", "add_names"])),
        0,
    );
    std::fs::remove_file(dir.path().join("migrations/V3__add_names.sql")).unwrap();

    // Lint of the pending files: one with findings, one that cannot be used (empty).
    write_migration(dir.path(), "V3__risky.sql", V3);
    write_migration(dir.path(), "V4__empty.sql", "");
    pin("lint", "lint", &in_project(&db, dir.path(), &["lint"]), 2);
}

#[test]
fn postgres_project_commands() {
    let dir = project();
    let db = pg();
    let p = dir.path();
    pin(
        "up-dry-run",
        "up --dry-run",
        &in_project(&db, p, &["up", "--dry-run"]),
        0,
    );
    pin(
        "up-dry-run-sql",
        "up --dry-run --sql",
        &in_project(&db, p, &["up", "--dry-run", "--sql"]),
        0,
    );
    pin("up", "up", &in_project(&db, p, &["up"]), 0);
    pin(
        "seed",
        "seed --env dev",
        &in_project(&db, p, &["seed", "--env", "dev"]),
        0,
    );
    pin("status", "status", &in_project(&db, p, &["status"]), 0);
    pin(
        "validate",
        "validate",
        &in_project(&db, p, &["validate"]),
        0,
    );
    pin(
        "down-dry-run-sql",
        "down --dry-run --sql",
        &in_project(&db, p, &["down", "--dry-run", "--sql"]),
        0,
    );
    pin("down", "down", &in_project(&db, p, &["--yes", "down"]), 0);
    in_project(&db, p, &["up"]).assert_ok();

    // A table the migrations do not create: diff writes its migration.
    db.execute("CREATE TABLE extra (id bigint PRIMARY KEY, label text)");
    pin(
        "diff",
        "diff --from migrations --print",
        &in_project(&db, p, &["diff", "--from", "migrations", "--print"]),
        0,
    );
    db.execute("DROP TABLE extra");

    // A new migration: check lints it, proves its down part and observes it.
    write_migration(p, "V3__names.sql", V3);
    pin("check", "check", &in_project(&db, p, &["check"]), 2);
    std::fs::remove_file(p.join("migrations/V3__names.sql")).unwrap();

    // An edited file: validate names it, repair would re-record its checksum.
    write_migration(p, "V2__notes.sql", &format!("-- edited\n{V2}"));
    pin(
        "validate-problems",
        "validate (an edited file)",
        &in_project(&db, p, &["validate"]),
        2,
    );
    pin(
        "repair-dry-run",
        "repair --dry-run",
        &in_project(&db, p, &["repair", "--dry-run"]),
        0,
    );

    // An existing database adopted.
    let adopted = pg();
    adopted.execute(V1.split("-- migrate:down").next().unwrap());
    pin(
        "baseline",
        "baseline 1",
        &in_project(&adopted, p, &["baseline", "1"]),
        0,
    );

    // A database of its own created and dropped.
    let name = format!("{}_created", db.name);
    let url = other_database(&db, &name);
    let database = |args: &[&str]| {
        run(migrate_cmd()
            .current_dir(p)
            .args(["--format", "json", "--yes", "--database-url", &url])
            .args(args))
    };
    pin(
        "database-create",
        "database create",
        &database(&["database", "create"]),
        0,
    );
    pin(
        "database-drop",
        "database drop",
        &database(&["database", "drop"]),
        0,
    );

    pin(
        "reset-dry-run",
        "reset --dry-run",
        &in_project(&db, p, &["reset", "--dry-run"]),
        0,
    );
}

/// The application's schema in every store, with its seeds and a soft-deleted user.
fn application() -> Stores {
    let stores = Stores::new().with_env(
        "MIGRATE_ANON_KEY",
        "test-anonymization-key-0123456789abcdef",
    );
    std::fs::write(stores.dir.path().join("migrate.toml"), example_config()).unwrap();
    stores
}

fn app(stores: &Stores, args: &[&str]) -> Run {
    stores.migrate(&[&["--format", "json", "--seeds", &repo("seeds")], args].concat())
}

/// `sandbox status` of a sandbox running Redis only (started through the library, stopped at
/// the end; the other services' entries have the same fields).
#[test]
fn sandbox_status() {
    use migrate::sandbox::{self, Service};
    let dir = workdir();
    let sandbox_dir = dir.path().join("sandbox");
    sandbox::start(&sandbox_dir, &[Service::Redis]).unwrap();
    let status = run(migrate_cmd()
        .args(["--format", "json", "sandbox", "status", "--dir"])
        .arg(&sandbox_dir));
    sandbox::stop(&sandbox_dir).unwrap();
    pin("sandbox-status", "sandbox status", &status, 0);
}

#[test]
fn every_store_commands() {
    let stores = application();
    pin(
        "up-stores-dry-run",
        "up --dry-run (three stores)",
        &app(&stores, &["up", "--dry-run"]),
        0,
    );
    pin("up-stores", "up (three stores)", &app(&stores, &["up"]), 0);
    pin(
        "status-stores",
        "status (three stores)",
        &app(&stores, &["status"]),
        0,
    );
    pin(
        "validate-stores",
        "validate (three stores)",
        &app(&stores, &["validate"]),
        0,
    );
    app(&stores, &["seed", "--env", "dev"]).assert_ok();
    // A user soft-deleted past the grace period, for the `deleted_users` policy.
    stores.pg.execute(&format!(
        "UPDATE users SET deleted_at = now() - interval '60 days' WHERE id = '{DELETED}'"
    ));

    // Drift in every store: a changed and an unexpected table, an unexpected collection, a
    // key no declared pattern matches and a schema version the declaration does not say.
    stores
        .pg
        .execute("ALTER TABLE projects ADD COLUMN drifted int; CREATE TABLE drifted (id int)");
    let (runtime, database) = stores.mongo_database();
    runtime
        .block_on(async { database.create_collection("drifted").await })
        .unwrap();
    redis::cmd("SET")
        .arg("drifted:key")
        .arg("1")
        .exec(&mut stores.redis_connection())
        .unwrap();
    pin(
        "drift",
        "drift (three stores, drifted)",
        &app(&stores, &["drift"]),
        2,
    );
    stores
        .pg
        .execute("ALTER TABLE projects DROP COLUMN drifted; DROP TABLE drifted");
    runtime
        .block_on(async {
            database
                .collection::<mongodb::bson::Document>("drifted")
                .drop()
                .await
        })
        .unwrap();
    redis::cmd("DEL")
        .arg("drifted:key")
        .exec(&mut stores.redis_connection())
        .unwrap();
    pin(
        "drift-clean",
        "drift (three stores, clean)",
        &app(&stores, &["drift"]),
        0,
    );

    pin(
        "health",
        "health (three stores)",
        &app(&stores, &["health"]),
        0,
    );

    pin(
        "backup-create",
        "backup create",
        &app(&stores, &["backup", "create"]),
        0,
    );
    pin(
        "backup-list",
        "backup list",
        &app(&stores, &["backup", "list"]),
        0,
    );
    pin(
        "backup-verify",
        "backup verify latest",
        &app(&stores, &["backup", "verify", "latest"]),
        0,
    );
    pin(
        "backup-verify-restore",
        "backup verify latest --restore",
        &app(&stores, &["backup", "verify", "latest", "--restore"]),
        0,
    );

    pin(
        "retention-run",
        "retention run",
        &app(&stores, &["--yes", "retention", "run"]),
        0,
    );

    pin(
        "anonymize-user",
        "anonymize user ID",
        &app(&stores, &["--yes", "anonymize", "user", SUBJECT]),
        0,
    );
    pin(
        "anonymize-users",
        "anonymize user ID ID --dry-run",
        &app(&stores, &["anonymize", "user", "--dry-run", SUBJECT, OTHER]),
        0,
    );
    pin(
        "anonymize-verify",
        "anonymize verify ID",
        &app(&stores, &["anonymize", "verify", SUBJECT]),
        0,
    );
    pin(
        "anonymize-policy",
        "anonymize policy deleted_users",
        &app(&stores, &["--yes", "anonymize", "policy", "deleted_users"]),
        0,
    );
    pin(
        "anonymize-policies",
        "anonymize policy (every policy)",
        &app(&stores, &["--yes", "anonymize", "policy"]),
        0,
    );

    pin(
        "reset-stores-dry-run",
        "reset --dry-run (three stores)",
        &app(&stores, &["--yes", "reset", "--dry-run"]),
        0,
    );
}

const SUBJECT: &str = "10000000-0000-4000-8000-000000000003";
const OTHER: &str = "10000000-0000-4000-8000-000000000002";
const DELETED: &str = "10000000-0000-4000-8000-000000000001";

#[test]
fn fleet_commands() {
    let dir = project();
    let dbs = [pg(), pg()];
    let targets = format!("one\t{}\ntwo\t{}\n", dbs[0].url, dbs[1].url);
    std::fs::write(dir.path().join("targets.txt"), targets).unwrap();
    let fleet = |args: &[&str]| {
        run(migrate_cmd()
            .current_dir(dir.path())
            .args(["--format", "json"])
            .args(args)
            .args(["--targets", "targets.txt"]))
    };
    pin("fleet-up", "up --targets FILE", &fleet(&["up"]), 0);
    write_migration(dir.path(), "V3__names.sql", V3);
    pin(
        "fleet-status",
        "status --targets FILE",
        &fleet(&["status"]),
        0,
    );

    // A target that fails (its database does not exist): still one document, the fleet's,
    // exit 1; the error line goes to stderr.
    let missing = other_database(&dbs[0], &format!("{}_missing", dbs[0].name));
    let targets = format!("one\t{}\nmissing\t{missing}\n", dbs[0].url);
    std::fs::write(dir.path().join("targets.txt"), targets).unwrap();
    let failed = fleet(&["up"]);
    pin(
        "fleet-up-failed",
        "up --targets FILE (a target fails)",
        &failed,
        1,
    );
    let report = json(&failed);
    assert_eq!(
        report["targets"][0]["target"], "missing",
        "{}",
        failed.stdout
    );
    assert_eq!(
        report["targets"][0]["outcome"], "failed",
        "{}",
        failed.stdout
    );
    assert!(
        failed.stderr.contains("error: up: 1 target of 2 failed"),
        "{}",
        failed.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// The docs

/// Where the fields of each snapshot are documented: `(file under docs/, the start of a
/// heading)`, the section running to the next heading of its level; `""` is the whole file.
fn documented_in(snapshot: &str) -> Vec<(&'static str, &'static str)> {
    let up = ("json.md", "## `up`");
    let seed = ("json.md", "## `new`, `baseline`");
    match snapshot {
        "error" | "error-usage" => vec![("json.md", "## Errors")],
        s if s.starts_with("up") => vec![up],
        s if s.starts_with("down") => vec![("json.md", "## `down`"), up],
        s if s.starts_with("status") => vec![("json.md", "## `status`")],
        s if s.starts_with("validate") => vec![("json.md", "## `validate`")],
        s if s.starts_with("drift") => vec![("json.md", "## `drift`")],
        "diff" => vec![("json.md", "## `diff`")],
        "new" | "baseline" | "repair-dry-run" | "seed" => vec![seed],
        "database-create" | "database-drop" => vec![("json.md", "## `database`, `reset`")],
        s if s.starts_with("reset") => vec![("json.md", "## `database`, `reset`"), up, seed],
        "completions" | "man" | "man-out" => vec![("json.md", "## `completions`, `man`")],
        "lint" => vec![("json.md", "## `lint`")],
        // check's validate, lint, reversibility and drift parts are those of the commands.
        "check" => vec![
            ("json.md", "## `check`"),
            ("json.md", "## `validate`"),
            ("json.md", "## `lint`"),
            ("json.md", "## `drift`"),
            ("ci.md", ""),
        ],
        "retention-run" => vec![("json.md", "## `retention run`")],
        "health" => vec![("json.md", "## `health`")],
        s if s.starts_with("anonymize") => vec![("json.md", "## `anonymize`")],
        s if s.starts_with("backup") => vec![("json.md", "## `backup` (logical)")],
        s if s.starts_with("fleet") => vec![("fleet.md", "## Output and exit codes")],
        "sandbox-status" => vec![seed],
        _ => panic!(
            "tests/snapshots/json/{snapshot}.snap: say where its fields are documented \
             (documented_in in tests/json_shapes.rs)"
        ),
    }
}

/// The section of `docs/FILE` whose heading starts with `heading`, up to the next heading of
/// the same or a higher level.
fn doc_section(file: &str, heading: &str) -> String {
    let text = std::fs::read_to_string(repo(&format!("docs/{file}"))).unwrap();
    if heading.is_empty() {
        return text;
    }
    let level = heading.chars().take_while(|&c| c == '#').count();
    let mut section = None::<String>;
    for line in text.lines() {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let is_heading = hashes > 0 && line[hashes..].starts_with(' ');
        match &mut section {
            None if line.starts_with(heading) => section = Some(String::new()),
            Some(_) if is_heading && hashes <= level => break,
            Some(s) => {
                s.push_str(line);
                s.push('\n');
            }
            None => {}
        }
    }
    section.unwrap_or_else(|| panic!("docs/{file} has no heading starting with {heading}"))
}

/// The field names of a snapshot's shape (map keys, `*`, left out).
fn fields_of(snapshot: &str) -> BTreeSet<String> {
    // The body follows insta's header (`---` ... `---`).
    let body = snapshot.splitn(3, "---\n").nth(2).unwrap_or(snapshot);
    body.lines()
        .filter_map(|line| line.split_once(": ").map(|(path, _)| path))
        .flat_map(|path| {
            path.split('.')
                .map(|s| s.split('[').next().unwrap_or(s).to_string())
        })
        .filter(|key| !key.is_empty() && key != "*")
        .collect()
}

#[test]
fn every_field_of_every_shape_is_documented() {
    let dir = repo("tests/snapshots/json");
    let mut snapshots: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "snap"))
        .collect();
    snapshots.sort();
    assert!(
        snapshots.len() >= 40,
        "only {} snapshots in {dir}",
        snapshots.len()
    );
    let mut missing = Vec::new();
    for path in &snapshots {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text: String = documented_in(&name)
            .into_iter()
            .map(|(file, heading)| doc_section(file, heading))
            .collect();
        let fields = fields_of(&std::fs::read_to_string(path).unwrap());
        assert!(!fields.is_empty(), "{name}: no fields");
        for field in fields {
            if !text.contains(&format!("\"{field}\"")) && !text.contains(&format!("`{field}`")) {
                missing.push(format!("{name}: {field}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields not named in their docs section:\n{}",
        missing.join("\n")
    );
}
