//! Every rule on a sample migration: it must fire, and its message and fix are snapshotted
//! (`snapshots/*.snap`, reviewed with `cargo insta review` or `INSTA_UPDATE=always`).

use super::test_support::source;
use super::{ALL, Facts, FileView, Rule};

/// A sample per rule: (SQL of an earlier pending file, SQL of the linted file).
fn sample(rule: &Rule) -> (&'static str, &'static str) {
    match rule.name {
        "create-index-non-concurrently" => (
            "",
            "CREATE INDEX tasks_due_idx ON tasks (due);\nALTER TABLE tasks ADD CONSTRAINT tasks_code_key UNIQUE (code);\n",
        ),
        "concurrently-in-transaction" => (
            "",
            "CREATE INDEX CONCURRENTLY tasks_due_idx ON tasks (due);\n",
        ),
        "adding-not-null-column" => ("", "ALTER TABLE tasks ADD COLUMN due date NOT NULL;\n"),
        "adding-volatile-default" => (
            "",
            "ALTER TABLE tasks ADD COLUMN token uuid DEFAULT gen_random_uuid();\n",
        ),
        "changing-column-type" => ("", "ALTER TABLE tasks ALTER COLUMN priority TYPE bigint;\n"),
        "adding-constraint-without-not-valid" => (
            "",
            "ALTER TABLE tasks ADD CONSTRAINT tasks_org_fk FOREIGN KEY (org_id) REFERENCES orgs (id);\n",
        ),
        "setting-not-null-without-check" => {
            ("", "ALTER TABLE tasks ALTER COLUMN due SET NOT NULL;\n")
        }
        "renaming-column" => ("", "ALTER TABLE tasks RENAME COLUMN due TO due_on;\n"),
        "renaming-table" => ("", "ALTER TABLE orgs RENAME TO organizations;\n"),
        "dropping-column" => ("", "ALTER TABLE tasks DROP COLUMN legacy;\n"),
        "dropping-table" => ("", "DROP TABLE legacy_tasks;\n"),
        "enum-value-used-in-transaction" => (
            "",
            "ALTER TYPE task_status ADD VALUE 'blocked';\nUPDATE tasks SET status = 'blocked' WHERE stuck;\n",
        ),
        "missing-lock-timeout" => (
            "",
            "-- migrate:lock-timeout 0\nALTER TABLE tasks ADD COLUMN note text;\n",
        ),
        "adding-foreign-key-constraint" => (
            "",
            "ALTER TABLE tasks ADD COLUMN project_id bigint REFERENCES projects (id);\n",
        ),
        "require-concurrent-index-deletion" => ("", "DROP INDEX tasks_due_idx;\n"),
        "ban-drop-not-null" => ("", "ALTER TABLE tasks ALTER COLUMN title DROP NOT NULL;\n"),
        "ban-drop-database" => ("", "DROP DATABASE app_old;\n"),
        "ban-truncate-cascade" => ("", "TRUNCATE orgs CASCADE;\n"),
        "ban-alter-domain-with-add-constraint" => (
            "",
            "ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE ~ '@');\n",
        ),
        "transaction-nesting" => (
            "",
            "BEGIN;\nALTER TABLE tasks ADD COLUMN note text;\nCOMMIT;\n",
        ),
        "prefer-robust-stmts" => (
            "",
            "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY tasks_due_idx ON tasks (due);\nDROP INDEX CONCURRENTLY tasks_old_idx;\n",
        ),
        "require-statement-timeout" => {
            ("", "ALTER TABLE tasks ALTER COLUMN priority TYPE bigint;\n")
        }
        "prefer-bigint-over-int" => (
            "",
            "CREATE TABLE notes (\n    id serial PRIMARY KEY,\n    task_id integer NOT NULL\n);\n",
        ),
        "prefer-bigint-over-smallint" => ("", "CREATE TABLE notes (id bigint, rank smallint);\n"),
        "prefer-identity" => ("", "CREATE TABLE notes (id bigserial PRIMARY KEY);\n"),
        "prefer-text-field" => ("", "CREATE TABLE notes (title varchar(200) NOT NULL);\n"),
        "ban-char-field" => ("", "CREATE TABLE notes (country char(2));\n"),
        "prefer-timestamptz" => (
            "",
            "CREATE TABLE notes (created_at timestamp NOT NULL DEFAULT now());\n",
        ),
        "ban-create-domain-with-constraint" => {
            ("", "CREATE DOMAIN email AS text CHECK (VALUE ~ '@');\n")
        }
        "require-enum-value-ordering" => ("", "ALTER TYPE task_status ADD VALUE 'blocked';\n"),
        "require-table-schema" => ("", "CREATE TABLE notes (id bigint);\n"),
        other => panic!("rule {other} has no sample in snapshots.rs: add one"),
    }
}

/// The rule's hits on its sample, one block per hit: line, code, message and fix.
fn render(rule: &Rule) -> String {
    let (earlier, sql) = sample(rule);
    let files = vec![
        source("V1__earlier.sql", earlier),
        source("V2__sample.sql", sql),
    ];
    let facts = Facts::gather(&files);
    let view = FileView {
        file: &files[1],
        index: 1,
        facts: &facts,
        lock_timeout_configured: true,
        statement_timeout_configured: false,
    };
    let file = &files[1];
    let mut out = String::new();
    for hit in (rule.check)(&view) {
        let line = file.line(hit.statement, hit.token);
        out.push_str(&format!(
            "line {line}: {}\nmessage: {}\nfix: {}\n\n",
            file.code_line(line),
            hit.message,
            hit.fix
        ));
    }
    out
}

#[test]
fn every_rule_fires_on_its_sample_with_its_message_and_fix() {
    for rule in ALL {
        let rendered = render(rule);
        assert!(
            !rendered.is_empty(),
            "{} does not fire on its sample",
            rule.name
        );
        insta::assert_snapshot!(rule.name, rendered);
    }
}
