//! Database errors keep the driver's error (#14): the SQLSTATE is found through any number of
//! context layers, the lock-timeout retry of bulk anonymization recognizes a real 55P03, and
//! the rendered error is one line plus the hints of `errors::hints_for`.

use std::time::Duration;

use migrate::errors::{self, DbError, Detailed, Work};
use migrate::jobs::anonymize::postgres::is_lock_timeout;
use tokio_postgres::error::SqlState;

use crate::support::{json, migrate_cmd, pg, run, workdir, write_migration};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A real error from the server: `SELECT 1/0` (SQLSTATE 22012).
async fn division_by_zero(client: &tokio_postgres::Client) -> tokio_postgres::Error {
    client.simple_query("SELECT 1/0").await.unwrap_err()
}

/// A real lock timeout (55P03): `holder` keeps a row lock that `waiter` cannot get within its
/// lock_timeout.
async fn lock_timeout(
    holder: &tokio_postgres::Client,
    waiter: &tokio_postgres::Client,
) -> tokio_postgres::Error {
    holder
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS held (id int PRIMARY KEY);
             INSERT INTO held VALUES (1) ON CONFLICT DO NOTHING",
        )
        .await
        .unwrap();
    holder
        .batch_execute("BEGIN; SELECT id FROM held WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let err = waiter
        .batch_execute(
            "BEGIN; SET LOCAL lock_timeout = '50ms'; SELECT id FROM held WHERE id = 1 FOR UPDATE",
        )
        .await
        .unwrap_err();
    waiter.batch_execute("ROLLBACK").await.unwrap();
    holder.batch_execute("ROLLBACK").await.unwrap();
    err
}

#[test]
fn the_sqlstate_is_found_through_context_layers() {
    let db = pg();
    let rt = runtime();
    rt.block_on(async {
        let client = connect(&db.url).await;

        let typed = anyhow::Error::from(DbError::new(
            "cannot compute",
            division_by_zero(&client).await,
        ))
        .context("while checking the plan")
        .context("check failed");
        assert_eq!(errors::sqlstate(&typed), Some(SqlState::DIVISION_BY_ZERO));

        let raw = anyhow::Error::from(division_by_zero(&client).await)
            .context("one layer")
            .context("another layer");
        assert_eq!(errors::sqlstate(&raw), Some(SqlState::DIVISION_BY_ZERO));

        let in_detailed = anyhow::Error::from(DbError::new(
            "cannot compute",
            division_by_zero(&client).await,
        ))
        .context(Detailed::new("the job failed").hint("run it again"));
        assert_eq!(
            errors::sqlstate(&in_detailed),
            Some(SqlState::DIVISION_BY_ZERO)
        );

        let plain = anyhow::anyhow!("division by zero (22012)").context("a layer");
        assert_eq!(errors::sqlstate(&plain), None);
        let detailed: anyhow::Error = Detailed::new("22012").into();
        assert_eq!(errors::sqlstate(&detailed), None);
    });
}

#[test]
fn a_lock_timeout_is_recognized_through_the_typed_chain() {
    let db = pg();
    let rt = runtime();
    rt.block_on(async {
        let holder = connect(&db.url).await;
        let waiter = connect(&db.url).await;

        let timeout = lock_timeout(&holder, &waiter).await;
        assert_eq!(timeout.code(), Some(&SqlState::LOCK_NOT_AVAILABLE));
        let wrapped = anyhow::Error::from(
            DbError::new("cannot update users", timeout)
                .with_lock_timeout(Duration::from_millis(50)),
        )
        .context("batch 3");
        assert!(is_lock_timeout(&wrapped));
        assert_eq!(
            errors::sqlstate(&wrapped),
            Some(SqlState::LOCK_NOT_AVAILABLE)
        );

        let raw = anyhow::Error::from(lock_timeout(&holder, &waiter).await).context("batch 4");
        assert!(is_lock_timeout(&raw));

        let other = anyhow::Error::from(DbError::new(
            "cannot update users",
            division_by_zero(&waiter).await,
        ));
        assert!(!is_lock_timeout(&other));
        assert!(!is_lock_timeout(&anyhow::anyhow!("lock timeout 55P03")));
    });
}

#[test]
fn a_database_error_renders_as_one_line_with_the_hints_of_hints_for() {
    let db = pg();
    let rt = runtime();
    rt.block_on(async {
        let holder = connect(&db.url).await;
        let waiter = connect(&db.url).await;

        let alone: anyhow::Error =
            DbError::new("cannot compute", division_by_zero(&waiter).await).into();
        let rendered = errors::render(&alone);
        assert_eq!(rendered.message, "cannot compute: division by zero");
        assert!(rendered.context.is_empty(), "{:?}", rendered.context);
        assert!(rendered.hints.is_empty(), "{:?}", rendered.hints);

        let layered = anyhow::Error::from(
            DbError::new("VACUUM t failed", lock_timeout(&holder, &waiter).await)
                .context("2 of 5 steps completed before it"),
        )
        .context("maintain");
        let rendered = errors::render(&layered);
        assert_eq!(
            rendered.message,
            "maintain: VACUUM t failed: canceling statement due to lock timeout"
        );
        assert_eq!(rendered.context, ["2 of 5 steps completed before it"]);
        assert_eq!(
            rendered.hints,
            ["another session holds a lock; retry later or raise [postgres] lock_timeout"]
        );

        let with_limit: anyhow::Error = DbError::new("cannot update users", lock_timeout(&holder, &waiter).await)
            .with_lock_timeout(Duration::from_millis(50))
            .into();
        assert_eq!(
            errors::render(&with_limit).hints,
            ["another session held a lock longer than lock_timeout (50 ms); retry later or raise [postgres] lock_timeout"]
        );

        let secret: anyhow::Error = DbError::new(
            "cannot reach postgres://app:s3cret@db.example/app",
            division_by_zero(&waiter).await,
        )
        .into();
        let rendered = errors::render(&secret);
        assert!(!rendered.message.contains("s3cret"), "{}", rendered.message);
    });
}

/// Connects as `url` and returns the error of `sql` (which must fail).
async fn failing(url: &str, sql: &str) -> tokio_postgres::Error {
    let client = connect(url).await;
    client.batch_execute(sql).await.unwrap_err()
}

/// The rendered hints of a real database error kept in a `DbError` (of `work`) under context
/// layers; the SQLSTATE must be found through them.
fn hints_during(err: tokio_postgres::Error, expected: SqlState, work: Work) -> Vec<String> {
    let wrapped =
        anyhow::Error::from(DbError::new("doing it", err).during(work)).context("a layer");
    assert_eq!(errors::sqlstate(&wrapped), Some(expected.clone()));
    let rendered = errors::render(&wrapped);
    assert!(
        rendered.message.starts_with("a layer: doing it: "),
        "{}",
        rendered.message
    );
    rendered.hints
}

/// [`hints_during`] a statement of migrate's own.
fn hints_of(err: tokio_postgres::Error, expected: SqlState) -> Vec<String> {
    hints_during(err, expected, Work::Statement)
}

fn assert_hint(hints: &[String], words: &str) {
    assert_eq!(
        hints.iter().filter(|hint| hint.contains(words)).count(),
        1,
        "one hint containing {words:?} expected: {hints:?}"
    );
}

#[test]
fn real_server_errors_get_the_hint_of_their_sqlstate() {
    let db = pg();
    let rt = runtime();
    rt.block_on(async {
        let url = db.url.as_str();
        let client = connect(url).await;
        client
            .batch_execute(
                "CREATE TABLE dup (id int PRIMARY KEY); INSERT INTO dup VALUES (1), (2);
                 CREATE TYPE mood AS ENUM ('ok')",
            )
            .await
            .unwrap();

        // What a migration file can change is suggested for a migration only.
        let hints = hints_during(
            failing(url, "CREATE TABLE dup (id int)").await,
            SqlState::DUPLICATE_TABLE,
            Work::Migration,
        );
        assert_hint(&hints, "`migrate baseline V`");
        let hints = hints_during(
            failing(url, "CREATE TYPE mood AS ENUM ('ok')").await,
            SqlState::DUPLICATE_OBJECT,
            Work::Migration,
        );
        assert_hint(&hints, "`migrate baseline V`");
        let hints = hints_of(
            failing(url, "CREATE TABLE dup (id int)").await,
            SqlState::DUPLICATE_TABLE,
        );
        assert!(hints.is_empty(), "{hints:?}");

        let hints = hints_of(
            // What a standby answers to a write (there, every transaction is read-only).
            failing(url, "BEGIN READ ONLY; CREATE TABLE ro (id int)").await,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        );
        assert_hint(&hints, "standby (replica)");

        let hints = hints_of(
            failing(url, "SET statement_timeout = '50ms'; SELECT pg_sleep(5)").await,
            SqlState::QUERY_CANCELED,
        );
        assert_hint(&hints, "raise [postgres] statement_timeout");
        let hints = hints_during(
            failing(url, "SET statement_timeout = '50ms'; SELECT pg_sleep(5)").await,
            SqlState::QUERY_CANCELED,
            Work::Migration,
        );
        assert_hint(&hints, "raise `-- migrate:statement-timeout` for this file");

        let hints = hints_during(
            failing(url, "BEGIN; CREATE INDEX CONCURRENTLY dup_id ON dup (id)").await,
            SqlState::ACTIVE_SQL_TRANSACTION,
            Work::Migration,
        );
        assert_hint(&hints, "`-- migrate:no-transaction`");
        let hints = hints_of(
            failing(url, "BEGIN; CREATE INDEX CONCURRENTLY dup_id ON dup (id)").await,
            SqlState::ACTIVE_SQL_TRANSACTION,
        );
        assert!(hints.is_empty(), "{hints:?}");

        // A role without the privilege (cluster-wide: named after this test's database).
        let reader = format!("{}_reader", db.name);
        client
            .batch_execute(&format!("CREATE ROLE \"{reader}\""))
            .await
            .unwrap();
        let denied = failing(url, &format!("SET ROLE \"{reader}\"; SELECT * FROM dup")).await;
        client
            .batch_execute(&format!("DROP ROLE \"{reader}\""))
            .await
            .unwrap();
        let hints = hints_of(denied, SqlState::INSUFFICIENT_PRIVILEGE);
        assert_hint(&hints, "GRANT it");

        // A deadlock: `victim` detects it first (its deadlock_timeout is the short one).
        let other = connect(url).await;
        let victim = connect(url).await;
        other
            .batch_execute(
                "SET deadlock_timeout = '10s'; BEGIN; UPDATE dup SET id = 1 WHERE id = 1",
            )
            .await
            .unwrap();
        victim
            .batch_execute(
                "SET deadlock_timeout = '50ms'; BEGIN; UPDATE dup SET id = 2 WHERE id = 2",
            )
            .await
            .unwrap();
        let (waited, deadlocked) = tokio::join!(
            other.batch_execute("UPDATE dup SET id = 2 WHERE id = 2"),
            async {
                // Let the other session wait for row 2 first.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let result = victim
                    .batch_execute("UPDATE dup SET id = 1 WHERE id = 1")
                    .await;
                victim.batch_execute("ROLLBACK").await.unwrap();
                result
            }
        );
        waited.unwrap();
        other.batch_execute("ROLLBACK").await.unwrap();
        let hints = hints_of(deadlocked.unwrap_err(), SqlState::T_R_DEADLOCK_DETECTED);
        assert_hint(&hints, "deadlock with another session");

        // An error without a hint of its own gets none.
        let hints = hints_of(division_by_zero(&client).await, SqlState::DIVISION_BY_ZERO);
        assert!(hints.is_empty(), "{hints:?}");
    });
}

/// `migrate ARGS` against `url` in `dir`, in human and in JSON format: the human run's stderr
/// and the JSON run's `error` object. Both must exit 1.
fn human_and_json(url: &str, dir: &std::path::Path, args: &[&str]) -> (String, serde_json::Value) {
    let command = |format: &str| {
        let result = run(migrate_cmd()
            .current_dir(dir)
            .args(["--database-url", url, "--format", format])
            .args(args));
        result.assert_code(1);
        result
    };
    let human = command("human").stderr;
    let document = json(&command("json"));
    assert_eq!(document["error"]["exit_code"], 1, "{document}");
    (human, document["error"].clone())
}

/// The JSON error's hints as strings.
fn json_hints(error: &serde_json::Value) -> Vec<String> {
    error["hints"]
        .as_array()
        .unwrap_or_else(|| panic!("no hints array: {error}"))
        .iter()
        .map(|hint| hint.as_str().unwrap().to_string())
        .collect()
}

fn json_context(error: &serde_json::Value) -> Vec<String> {
    error["context"]
        .as_array()
        .unwrap_or_else(|| panic!("no context array: {error}"))
        .iter()
        .map(|line| line.as_str().unwrap().to_string())
        .collect()
}

/// The hint is shown once in human output (as a `hint:` line) and once in the JSON document.
fn assert_shown(human: &str, error: &serde_json::Value, words: &str) {
    assert_eq!(
        human
            .lines()
            .filter(|line| line.starts_with("hint: ") && line.contains(words))
            .count(),
        1,
        "one `hint:` line containing {words:?} expected:\n{human}"
    );
    assert_hint(&json_hints(error), words);
}

/// `url` naming another database.
fn with_database(url: &str, database: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_path(database);
    url.to_string()
}

/// `url` with another user and password.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_username(user).unwrap();
    url.set_password(Some(password)).unwrap();
    url.to_string()
}

#[test]
fn connection_failures_show_the_hint_of_their_sqlstate_in_human_and_json() {
    let db = pg();
    let dir = workdir();
    write_migration(dir.path(), "V1__t.sql", "CREATE TABLE t (id int);\n");

    // 3D000: the database does not exist.
    let missing = with_database(&db.url, &format!("{}_missing", db.name));
    let (human, error) = human_and_json(&missing, dir.path(), &["up"]);
    assert!(
        human.starts_with("error: could not connect to PostgreSQL at "),
        "{human}"
    );
    assert!(human.contains("does not exist"), "{human}");
    assert_shown(&human, &error, "`migrate database create`");
    let rt = runtime();
    let target =
        migrate::postgres::connect::PgTarget::parse(&missing, None, None, Duration::from_secs(10))
            .unwrap();
    let err = rt
        .block_on(target.connect("errors test"))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(errors::sqlstate(&err), Some(SqlState::INVALID_CATALOG_NAME));

    // 28P01: the wrong password (never shown).
    let wrong = db.url_with_password("not-the-password");
    let (human, error) = human_and_json(&wrong, dir.path(), &["up"]);
    assert!(human.contains("password authentication failed"), "{human}");
    assert!(!human.contains("not-the-password"), "{human}");
    assert!(!error.to_string().contains("not-the-password"), "{error}");
    assert_shown(&human, &error, "check the password in the database URL");
}

#[test]
fn role_failures_show_the_hint_of_their_sqlstate_in_human_and_json() {
    let db = pg();
    let dir = workdir();
    write_migration(dir.path(), "V1__t.sql", "CREATE TABLE t (id int);\n");
    // Roles are cluster-wide: named after this test's database, dropped at the end.
    let limited = format!("{}_limited", db.name);
    let plain = format!("{}_plain", db.name);
    db.execute(&format!(
        "CREATE ROLE \"{limited}\" LOGIN PASSWORD 'pw' CONNECTION LIMIT 0;
         CREATE ROLE \"{plain}\" LOGIN PASSWORD 'pw' NOCREATEDB"
    ));

    // 53300: no connection slot left (for this role).
    let (human, error) = human_and_json(&with_user(&db.url, &limited, "pw"), dir.path(), &["up"]);
    assert!(human.contains("too many connections"), "{human}");
    assert_shown(&human, &error, "no free connection slot");

    // 42501 while creating a database: the role needs CREATEDB, said once.
    let new_database = with_database(
        &with_user(&db.url, &plain, "pw"),
        &format!("{}_new", db.name),
    );
    let (human, error) = human_and_json(&new_database, dir.path(), &["database", "create"]);
    assert!(
        human.starts_with("error: cannot create database"),
        "{human}"
    );
    assert!(human.contains("permission denied"), "{human}");
    assert_shown(&human, &error, &format!("ALTER ROLE {plain} CREATEDB"));
    assert_eq!(json_hints(&error).len(), 1, "{error}");

    db.execute(&format!("DROP ROLE \"{limited}\"; DROP ROLE \"{plain}\""));
}

#[test]
fn migration_failures_show_the_hint_of_their_sqlstate_once() {
    let db = pg();

    // 25001: CREATE INDEX CONCURRENTLY in a transactional migration.
    let dir = workdir();
    write_migration(
        dir.path(),
        "V1__idx.sql",
        "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n",
    );
    let (human, error) = human_and_json(&db.url, dir.path(), &["up"]);
    assert!(
        human.contains("cannot run inside a transaction block"),
        "{human}"
    );
    assert_shown(&human, &error, "`-- migrate:no-transaction`");
    assert!(
        json_context(&error)
            .iter()
            .any(|line| line.contains("V1__idx.sql:2 (statement 2 of 2)")),
        "{error}"
    );

    // 42P07: the table already exists (a database made before migrate managed it).
    db.execute("CREATE TABLE made_by_hand (id int)");
    let dir = workdir();
    write_migration(
        dir.path(),
        "V1__t.sql",
        "CREATE TABLE made_by_hand (id int);\n",
    );
    let (human, error) = human_and_json(&db.url, dir.path(), &["up"]);
    assert!(human.contains("already exists"), "{human}");
    assert_shown(&human, &error, "`migrate baseline V`");

    // 55P03: another session holds the table; the file's own lock-timeout is named.
    db.execute("CREATE TABLE held (id int)");
    let rt = runtime();
    let holder = rt.block_on(async {
        let holder = connect(&db.url).await;
        holder
            .batch_execute("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        holder
    });
    let dir = workdir();
    write_migration(
        dir.path(),
        "V1__alter.sql",
        "-- migrate:lock-timeout 100ms\nALTER TABLE held ADD COLUMN x int;\n",
    );
    let (human, error) = human_and_json(&db.url, dir.path(), &["up"]);
    assert!(human.contains("lock timeout"), "{human}");
    assert_shown(
        &human,
        &error,
        "longer than lock_timeout (100 ms); retry later, or raise `-- migrate:lock-timeout` for this file",
    );
    rt.block_on(holder.batch_execute("ROLLBACK")).unwrap();
}

#[test]
fn a_migration_failing_mid_file_shows_file_line_and_the_server_message() {
    let db = pg();
    let dir = workdir();
    let text = "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n\n-- the mistake\nSELECT id,\n       no_such_column\nFROM t;\nCREATE TABLE after (id int);\n";

    // In a transaction: rolled back.
    write_migration(dir.path(), "V1__mid.sql", text);
    let (human, error) = human_and_json(&db.url, dir.path(), &["up"]);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("failed: column \"no_such_column\" does not exist"),
        "{error}"
    );
    assert!(human.starts_with(&format!("error: {message}\n")), "{human}");
    let context = json_context(&error);
    assert!(
        context[0].ends_with("V1__mid.sql:6 (statement 3 of 4)"),
        "{context:?}"
    );
    assert!(
        context.contains(&"    6 |        no_such_column".to_string()),
        "{context:?}"
    );
    assert!(
        context
            .iter()
            .any(|line| line.trim_start().starts_with("| ") && line.ends_with('^')),
        "a caret under the column: {context:?}"
    );
    assert!(
        context.iter().any(|line| line.contains("rolled back")),
        "{context:?}"
    );
    for line in &context {
        assert!(
            human.contains(&format!("  {line}\n")),
            "{line:?} in:\n{human}"
        );
    }
    // The driver's own rendering is not repeated below the server's message.
    assert!(!human.contains("db error"), "{human}");

    // Statement by statement: left dirty, and the history records the same message.
    let dir = workdir();
    write_migration(
        dir.path(),
        "V1__mid.sql",
        &format!("-- migrate:no-transaction\n{text}"),
    );
    let (human, error) = human_and_json(&db.url, dir.path(), &["up"]);
    let context = json_context(&error);
    assert!(
        context[0].ends_with("V1__mid.sql:7 (statement 3 of 4)"),
        "{context:?}"
    );
    assert!(
        human.contains("column \"no_such_column\" does not exist"),
        "{human}"
    );
    assert_shown(&human, &error, "`migrate repair`");
    let recorded = db
        .scalar("SELECT error FROM migrate_history WHERE version = 1")
        .unwrap_or_default();
    assert!(
        recorded.contains("column \"no_such_column\" does not exist"),
        "{recorded}"
    );
}

#[test]
fn a_seed_file_failing_at_a_line_shows_the_line_and_the_server_message() {
    let db = pg();
    let dir = workdir();
    std::fs::create_dir_all(dir.path().join("seeds/dev")).unwrap();
    std::fs::write(
        dir.path().join("seeds/dev/001_numbers.sql"),
        "CREATE TABLE numbers (n int);\nINSERT INTO numbers VALUES (1);\nINSERT INTO numbers VALUES ('one');\n",
    )
    .unwrap();
    let (human, error) = human_and_json(&db.url, dir.path(), &["seed", "--env", "dev"]);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("seed file ")
            && message.ends_with(
                "001_numbers.sql failed: line 3: invalid input syntax for type integer: \"one\""
            ),
        "{error}"
    );
    assert!(human.starts_with(&format!("error: {message}\n")), "{human}");
    assert_eq!(
        json_context(&error),
        ["its transaction was rolled back; files before it were applied"]
    );
    assert_eq!(
        db.scalar("SELECT to_regclass('numbers') IS NULL")
            .as_deref(),
        Some("t")
    );
}
