//! `--wait-timeout DURATION`: before a command starts, wait until the servers it works with
//! accept connections. Docker Compose and CI start the database next to the migration job; a
//! server that refuses connections or is starting up is retried until the timeout, with one
//! line on stderr per server while waiting. A server that answers with an error (a wrong
//! password, a missing database) is up: the command reports that error itself.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::cli::{BackupAction, Command, Store};
use crate::config::Settings;
use crate::errors::Detailed;
use crate::output::{Printer, human_ms};

/// The stores a command talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Uses {
    pub postgres: bool,
    pub mongo: bool,
    pub redis: bool,
}

impl Uses {
    const NONE: Uses = Uses {
        postgres: false,
        mongo: false,
        redis: false,
    };
    const ALL: Uses = Uses {
        postgres: true,
        mongo: true,
        redis: true,
    };
    const POSTGRES: Uses = Uses {
        postgres: true,
        mongo: false,
        redis: false,
    };

    /// Every store, or those `--store` names.
    fn only(stores: &[Store]) -> Uses {
        if stores.is_empty() {
            return Uses::ALL;
        }
        Uses {
            postgres: stores.contains(&Store::Pg),
            mongo: stores.contains(&Store::Mongo),
            redis: stores.contains(&Store::Redis),
        }
    }

    /// The stores `command` may connect to (configured or not).
    pub(crate) fn of(command: &Command) -> Uses {
        match command {
            Command::New(_) | Command::Sandbox(_) | Command::Completions(_) | Command::Man(_) => {
                Uses::NONE
            }
            Command::Baseline(_)
            | Command::Repair(_)
            | Command::Seed(_)
            | Command::Database(_)
            | Command::Schema(_)
            | Command::Lint(_)
            | Command::Maintain(_) => Uses::POSTGRES,
            Command::Up(args) => Uses::only(args.store.as_slice()),
            Command::Down(args) => match args.store {
                Some(store) => Uses::only(&[store]),
                None => Uses {
                    redis: false,
                    ..Uses::ALL
                },
            },
            Command::Reset(args) => Uses::only(&args.store),
            Command::Health(args) => Uses::only(&args.store),
            Command::Backup(args) => match &args.action {
                BackupAction::Create(create) if create.physical => Uses::POSTGRES,
                BackupAction::Create(create) => Uses::only(&create.store),
                BackupAction::Physical(_) => Uses::POSTGRES,
                BackupAction::Verify(verify) if verify.physical => Uses::POSTGRES,
                BackupAction::Restore(restore) if restore.physical => Uses::NONE,
                BackupAction::Verify(_) | BackupAction::Restore(_) => Uses::ALL,
                BackupAction::List | BackupAction::Prune(_) => Uses::NONE,
            },
            Command::Status(_)
            | Command::Validate(_)
            | Command::Drift(_)
            | Command::Diff(_)
            | Command::Check(_)
            | Command::Anonymize(_)
            | Command::Export(_)
            | Command::Retention(_) => Uses::ALL,
        }
    }
}

/// Waits (up to `settings.wait_timeout`, all stores at once) until every configured store in
/// `uses` answers. Returns at once when the timeout is zero.
pub(crate) async fn for_servers(
    settings: &Settings,
    printer: &Printer,
    uses: Uses,
) -> anyhow::Result<()> {
    let timeout = settings.wait_timeout;
    if timeout.is_zero() {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let postgres = async {
        match settings.postgres.as_ref().filter(|_| uses.postgres) {
            Some(pg) => {
                let server = pg.target.to_string();
                until_up("postgres", &server, timeout, deadline, printer, |attempt| {
                    pg.target.probe(attempt)
                })
                .await
            }
            None => Ok(()),
        }
    };
    let mongo = async {
        match settings.mongo.as_ref().filter(|_| uses.mongo) {
            Some(mongo) => {
                let server = mongo.url.redacted();
                until_up("mongo", &server, timeout, deadline, printer, |attempt| {
                    crate::mongo::connect::probe(mongo, attempt)
                })
                .await
            }
            None => Ok(()),
        }
    };
    let redis = async {
        match settings.redis.as_ref().filter(|_| uses.redis) {
            Some(redis) => {
                let server = redis.url.redacted();
                until_up("redis", &server, timeout, deadline, printer, |attempt| {
                    crate::redis::cluster::probe(redis, attempt)
                })
                .await
            }
            None => Ok(()),
        }
    };
    let (postgres, mongo, redis) = tokio::join!(postgres, mongo, redis);
    postgres.and(mongo).and(redis)
}

/// The longest single connection attempt while waiting (a silent host must not eat the whole
/// timeout in one attempt).
const MAX_ATTEMPT: Duration = Duration::from_secs(2);
/// The pause between attempts grows from the first to the last value.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Probes one server until it answers or the deadline passes.
async fn until_up<F, Fut>(
    store: &str,
    server: &str,
    timeout: Duration,
    deadline: Instant,
    printer: &Printer,
    probe: F,
) -> anyhow::Result<()>
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = anyhow::Result<Result<(), String>>>,
{
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut waiting = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt = remaining.clamp(Duration::from_millis(200), MAX_ATTEMPT);
        let reason = match probe(attempt).await? {
            Ok(()) => {
                if waiting {
                    printer.verbose(format!(
                        "{store}: {server} answers after {}",
                        human_ms(started.elapsed().as_millis() as u64)
                    ));
                }
                return Ok(());
            }
            Err(reason) => reason,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Detailed::new(format!(
                "{store} at {server} did not accept connections within {}: {reason}",
                human_ms(timeout.as_millis() as u64)
            ))
            .hint("is the server running and reachable? give it longer with --wait-timeout")
            .into());
        }
        if !waiting {
            printer.step(format!(
                "waiting up to {} for {store} at {server} ({reason})",
                human_ms(timeout.as_millis() as u64)
            ));
            waiting = true;
        }
        tokio::time::sleep(pause.min(remaining)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
