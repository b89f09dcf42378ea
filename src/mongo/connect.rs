//! Connecting to MongoDB: options from the URL and the config, the database name, a ping, and
//! errors that say what went wrong in one line without the password.

use std::time::Duration;

use mongodb::bson::{Document, doc};
use mongodb::error::{Error as MongoError, ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

use crate::config::MongoSettings;
use crate::errors::Detailed;

/// A connected client and the migration database.
pub struct Connection {
    pub client: Client,
    pub database: Database,
    /// `user@host:port/db`, for messages (never with the password).
    pub display: String,
}

/// The URL's client options; an unparsable URL is a clear error.
async fn parse_options(settings: &MongoSettings) -> anyhow::Result<ClientOptions> {
    let redacted = settings.url.redacted();
    ClientOptions::parse(settings.url.expose())
        .await
        .map_err(|err| {
            Detailed::new(format!(
                "invalid MongoDB URL {redacted}: {}",
                short_cause(&err)
            ))
            .hint("expected mongodb://[user:password@]host[:port]/database")
            .into()
        })
}

/// Whether the server answers: `Ok(Err(reason))` while no server can be selected (refused,
/// unreachable, starting up), `Ok(Ok(()))` once one answers, even with an error such as a
/// failed authentication. One attempt, of at most `attempt_timeout`.
pub async fn probe(
    settings: &MongoSettings,
    attempt_timeout: Duration,
) -> anyhow::Result<Result<(), String>> {
    let mut options = parse_options(settings).await?;
    options.server_selection_timeout = Some(attempt_timeout);
    options.connect_timeout = Some(attempt_timeout);
    options.app_name = Some(format!("migrate {} wait", crate::TOOL_VERSION));
    let client = Client::with_options(options)?;
    let answer = client.database("admin").run_command(doc! {"ping": 1}).await;
    Ok(match answer {
        Err(err)
            if matches!(
                *err.kind,
                ErrorKind::ServerSelection { .. } | ErrorKind::Io(_)
            ) =>
        {
            Err(short_cause(&err))
        }
        _ => Ok(()),
    })
}

/// Connects and pings, so that an unreachable server fails here and not halfway through.
pub async fn connect(settings: &MongoSettings) -> anyhow::Result<Connection> {
    let redacted = settings.url.redacted();
    let mut options = parse_options(settings).await?;
    if options.server_selection_timeout.is_none() {
        options.server_selection_timeout = Some(settings.connect_timeout);
    }
    if options.connect_timeout.is_none() {
        options.connect_timeout = Some(settings.connect_timeout);
    }
    if options.app_name.is_none() {
        options.app_name = Some(format!("migrate {}", crate::TOOL_VERSION));
    }
    let database_name = settings
        .database
        .clone()
        .or_else(|| options.default_database.clone())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            Detailed::new(format!("no MongoDB database named in {redacted}"))
                .hint("put it in the URL path (mongodb://host:27017/app) or set [mongo] database in migrate.toml")
        })?;
    let hosts: Vec<String> = options.hosts.iter().map(ToString::to_string).collect();
    let user = options
        .credential
        .as_ref()
        .and_then(|c| c.username.clone())
        .map_or_else(String::new, |u| format!("{u}@"));
    let display = format!("{user}{}/{database_name}", hosts.join(","));
    let timeout = options
        .server_selection_timeout
        .unwrap_or(Duration::from_secs(30));
    let client = Client::with_options(options).map_err(|err| {
        Detailed::new(format!(
            "could not connect to MongoDB at {display}: {}",
            short_cause(&err)
        ))
    })?;
    let database = client.database(&database_name);
    if let Err(err) = database.run_command(doc! {"ping": 1}).await {
        return Err(Detailed::new(format!(
            "could not connect to MongoDB at {display}: {}",
            short_cause(&err)
        ))
        .context(format!(
            "gave up after {}",
            crate::output::human_ms(timeout.as_millis() as u64)
        ))
        .hint(
            "is the server running and reachable? check --mongodb-url, MONGODB_URL or [mongo] url; to wait for one that is starting, pass --wait-timeout 30s",
        )
        .into());
    }
    Ok(Connection {
        client,
        database,
        display,
    })
}

impl Connection {
    /// Drops the whole database (every collection, the migration history included): `reset`.
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        self.database.drop().await.map_err(|err| {
            Detailed::new(format!(
                "cannot drop MongoDB database {}: {}",
                self.display,
                short_cause(&err)
            ))
            .into()
        })
    }
}

/// The server error code of a command or write error, if the error carries one.
pub fn error_code(err: &MongoError) -> Option<i32> {
    match err.kind.as_ref() {
        ErrorKind::Command(command) => Some(command.code),
        ErrorKind::Write(WriteFailure::WriteError(write)) => Some(write.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => Some(concern.code),
        _ => None,
    }
}

/// The server's own message for command and write errors; a short cause otherwise.
pub fn short_cause(err: &MongoError) -> String {
    let text = match err.kind.as_ref() {
        ErrorKind::Command(command) => format!("{} (code {})", command.message, command.code),
        ErrorKind::Write(WriteFailure::WriteError(write)) => {
            format!("{} (code {})", write.message, write.code)
        }
        ErrorKind::ServerSelection { message, .. } => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("connection refused") {
                "connection refused".to_string()
            } else if lower.contains("timed out") || lower.contains("timeout") {
                "no server answered in time".to_string()
            } else if lower.contains("authentication") {
                "authentication failed".to_string()
            } else {
                first_sentence(message)
            }
        }
        ErrorKind::Authentication { message, .. } => format!("authentication failed: {message}"),
        ErrorKind::Io(io) => io.to_string(),
        ErrorKind::InvalidArgument { message, .. } => message.clone(),
        ErrorKind::DnsResolve { message, .. } => format!("DNS resolution failed: {message}"),
        _ => first_sentence(&err.to_string()),
    };
    crate::redact::redact_url(&text)
}

fn first_sentence(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    match line.find(". ") {
        Some(end) => line[..end].to_string(),
        None => line.to_string(),
    }
}

/// The server's clock (`hello.localTime`): every runner compares lock expiries against the
/// same clock, whatever the clocks of the machines they run on say.
pub async fn server_time(database: &Database) -> anyhow::Result<mongodb::bson::DateTime> {
    let reply: Document = database.run_command(doc! {"hello": 1}).await?;
    match reply.get_datetime("localTime") {
        Ok(time) => Ok(*time),
        // A server that does not report its time: fall back to ours.
        Err(_) => Ok(mongodb::bson::DateTime::now()),
    }
}
