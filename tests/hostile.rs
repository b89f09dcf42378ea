//! The hostile-input corpus: one file per case under `tests/hostile/`, each a set of input files
//! (migrations, a config) and the command to run on them, with what must come out. Every case
//! runs against its own fresh database; all failures are reported together.
//!
//! A case file is a `# what it is about` line, `# key: value` header lines, then the files, each starting at a line
//! `--- PATH` (relative to the case's working directory):
//!
//! - `# args: up --dry-run`: the command (run with `--database-url` of the case's database);
//! - `# exit: 1`: the exit code it must end with;
//! - `# stderr: TEXT` / `# stdout: TEXT` (repeatable): text the output must contain;
//! - `# not-stderr: TEXT` (repeatable): text it must not contain (a password, say);
//! - `# history: N`: rows in `migrate_history` afterwards (an absent table counts as 0);
//! - `# present: T` / `# absent: T` (repeatable): tables that must (not) exist afterwards;
//! - `# rows: T=N` (repeatable): rows in table T afterwards;
//! - `# sql: STATEMENTS`: run on the database before the command (a fixture);
//! - `# env: NAME=VALUE` (repeatable): environment of the command;
//! - `# database-url: none`: run without `--database-url`.
//!
//! Lines `\x00` in a file's text stand for a NUL byte, so the corpus stays plain text.

use std::path::Path;

use crate::support::{PgDb, migrate_cmd, pg, run, workdir};

#[derive(Debug, Default)]
struct Case {
    args: Vec<String>,
    exit: Option<i32>,
    stderr: Vec<String>,
    stdout: Vec<String>,
    not_stderr: Vec<String>,
    history: Option<i64>,
    present: Vec<String>,
    absent: Vec<String>,
    rows: Vec<(String, i64)>,
    sql: Vec<String>,
    env: Vec<(String, String)>,
    no_database_url: bool,
    files: Vec<(String, String)>,
}

fn parse(name: &str, text: &str) -> Case {
    let mut case = Case::default();
    let mut current: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("--- ") {
            if let Some(file) = current.take() {
                case.files.push(file);
            }
            current = Some((path.trim().to_string(), String::new()));
            continue;
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(&line.replace("\\x00", "\0"));
            continue;
        }
        let Some((key, value)) = line
            .strip_prefix("# ")
            .and_then(|rest| rest.split_once(": "))
            .filter(|(key, _)| key.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        else {
            // The first line says what the case is about.
            continue;
        };
        let value = value.trim_end_matches('\n').to_string();
        match key {
            "args" => case.args = value.split_whitespace().map(str::to_string).collect(),
            "exit" => case.exit = Some(value.parse().expect("exit is a number")),
            "stderr" => case.stderr.push(value),
            "stdout" => case.stdout.push(value),
            "not-stderr" => case.not_stderr.push(value),
            "history" => case.history = Some(value.parse().expect("history is a number")),
            "present" => case.present.push(value),
            "absent" => case.absent.push(value),
            "sql" => case.sql.push(value),
            "database-url" => case.no_database_url = value == "none",
            "rows" => {
                let (table, n) = value.split_once('=').expect("rows is TABLE=N");
                case.rows
                    .push((table.to_string(), n.parse().expect("rows is TABLE=N")));
            }
            "env" => {
                let (name, value) = value.split_once('=').expect("env is NAME=VALUE");
                case.env.push((name.to_string(), value.to_string()));
            }
            other => panic!("{name}: unknown key `{other}`"),
        }
    }
    if let Some(file) = current.take() {
        case.files.push(file);
    }
    assert!(!case.args.is_empty(), "{name}: no `# args:` line");
    assert!(case.exit.is_some(), "{name}: no `# exit:` line");
    case
}

fn table_exists(db: &PgDb, name: &str) -> bool {
    db.scalar(&format!("SELECT to_regclass('{name}') IS NOT NULL"))
        .as_deref()
        == Some("t")
}

fn history_rows(db: &PgDb) -> i64 {
    match db
        .scalar("SELECT to_regclass('migrate_history') IS NOT NULL")
        .as_deref()
    {
        Some("t") => db
            .scalar("SELECT count(*) FROM migrate_history")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// Runs one case; returns what went wrong (empty when it passed).
fn check(case: &Case) -> Vec<String> {
    let db = pg();
    for sql in &case.sql {
        db.execute(sql);
    }
    let dir = workdir();
    for (path, text) in &case.files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let mut cmd = migrate_cmd();
    cmd.current_dir(dir.path());
    if !case.no_database_url {
        cmd.arg("--database-url").arg(&db.url);
    }
    cmd.args(&case.args);
    for (name, value) in &case.env {
        cmd.env(name, value);
    }
    let out = run(&mut cmd);
    let mut wrong = Vec::new();
    if Some(out.code) != case.exit {
        wrong.push(format!(
            "exit code {} (expected {})",
            out.code,
            case.exit.unwrap_or_default()
        ));
    }
    for text in &case.stderr {
        if !out.stderr.contains(text.as_str()) {
            wrong.push(format!("stderr lacks `{text}`"));
        }
    }
    for text in &case.stdout {
        if !out.stdout.contains(text.as_str()) {
            wrong.push(format!("stdout lacks `{text}`"));
        }
    }
    for text in &case.not_stderr {
        if out.stderr.contains(text.as_str()) || out.stdout.contains(text.as_str()) {
            wrong.push(format!("output contains `{text}`"));
        }
    }
    if let Some(expected) = case.history {
        let rows = history_rows(&db);
        if rows != expected {
            wrong.push(format!("{rows} history rows (expected {expected})"));
        }
    }
    for table in &case.present {
        if !table_exists(&db, table) {
            wrong.push(format!("table {table} is missing"));
        }
    }
    for table in &case.absent {
        if table_exists(&db, table) {
            wrong.push(format!("table {table} exists"));
        }
    }
    for (table, expected) in &case.rows {
        let n: i64 = db
            .scalar(&format!("SELECT count(*) FROM {table}"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1);
        if n != *expected {
            wrong.push(format!("{n} rows in {table} (expected {expected})"));
        }
    }
    if !wrong.is_empty() {
        wrong.push(format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            out.stdout, out.stderr
        ));
    }
    wrong
}

#[test]
fn hostile_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "case"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "the corpus under {} is too small",
        dir.display()
    );
    let mut failures = Vec::new();
    for path in &names {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case = parse(&name, &std::fs::read_to_string(path).unwrap());
        let wrong = check(&case);
        if !wrong.is_empty() {
            failures.push(format!("case {name}:\n  {}", wrong.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
