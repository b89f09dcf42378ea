//! Database errors keep the driver's error (#14): the SQLSTATE is found through any number of
//! context layers, the lock-timeout retry of bulk anonymization recognizes a real 55P03, and
//! the rendered error is one line plus the hints of `errors::hints_for`.

use std::time::Duration;

use migrate::errors::{self, DbError, Detailed};
use migrate::jobs::anonymize::postgres::is_lock_timeout;
use tokio_postgres::error::SqlState;

use crate::support::pg;

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
