//! `migrate baseline V` and `migrate baseline --from-refinery`: adopt an existing database.

use serde::Serialize;

use super::Context;
use crate::cli::BaselineArgs;
use crate::errors::under_lock;
use crate::errors::{Detailed, Outcome};
use crate::output::Report;
use crate::postgres::history::{HistoryEdit, RecordedRow, RowKind};
use crate::postgres::session::Session;

#[derive(Debug, Serialize)]
pub struct BaselineReport {
    pub database: String,
    pub source: &'static str,
    /// Versions recorded as applied.
    pub recorded: Vec<u64>,
}

impl Report for BaselineReport {
    fn human(&self) -> String {
        match self.source {
            "refinery" => format!(
                "imported {} migration{} from refinery_schema_history into the history ({})\n",
                self.recorded.len(),
                if self.recorded.len() == 1 { "" } else { "s" },
                self.database
            ),
            _ => format!(
                "baselined at V{}: migrations up to it count as applied ({})\n",
                self.recorded.first().copied().unwrap_or(0),
                self.database
            ),
        }
    }
}

pub async fn run(context: &Context, args: &BaselineArgs) -> anyhow::Result<Outcome> {
    let pg = context.settings.require_postgres()?;
    let set = super::load_valid_migrations(&context.settings.migrations_dir)?;
    let session = Session::open(pg).await?;
    let held = session.lock(&context.printer).await?;
    let report = under_lock(
        held,
        async |_held| {
            let history = session.read_history().await?;
            if !history.is_empty() {
                return Err(Detailed::new(format!(
                    "the history table already has {} row{}: baseline only adopts a database migrate has never run on",
                    history.len(),
                    if history.len() == 1 { "" } else { "s" }
                ))
                .hint("see `migrate status`")
                .into());
            }
            if args.from_refinery {
                import_refinery(&session, &set).await
            } else {
                let version = args.version.unwrap_or(0);
                if version == 0 {
                    anyhow::bail!("baseline version must be positive");
                }
                session.record_baseline(version).await?;
                Ok(BaselineReport { database: pg.target.to_string(), source: "baseline", recorded: vec![version] })
            }
        },
        |held| session.unlock(held),
    )
    .await?;
    context.printer.report(&report);
    Ok(Outcome::Clean)
}

async fn import_refinery(
    session: &Session,
    set: &crate::postgres::migration::MigrationSet,
) -> anyhow::Result<BaselineReport> {
    let rows = session.read_refinery().await?;
    let mut problems = Vec::new();
    for row in &rows {
        match set.by_version(row.version) {
            None => problems.push(format!(
                "V{} {}: no file V{}__*.sql in the migrations directory",
                row.version, row.name, row.version
            )),
            Some(file) if file.name != row.name => problems.push(format!(
                "V{}: refinery recorded the name `{}`, the file is named `{}`",
                row.version, row.name, file.name
            )),
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        let mut error = Detailed::new(
            "refinery's history does not match the migration files; nothing was imported",
        );
        for problem in problems {
            error = error.context(problem);
        }
        return Err(error.into());
    }
    // Checked above: every row has its file.
    let edits: Vec<HistoryEdit> = rows
        .iter()
        .filter_map(|row| {
            let file = set.by_version(row.version)?;
            Some(HistoryEdit::Record(RecordedRow {
                version: row.version,
                name: row.name.clone(),
                kind: RowKind::Versioned,
                checksum: Some(file.checksum.clone()),
                applied_at: row.applied_on,
                applied_by: "refinery import".to_string(),
            }))
        })
        .collect();
    session.edit_history(&edits).await?;
    Ok(BaselineReport {
        database: session.settings().target.to_string(),
        source: "refinery",
        recorded: rows.iter().map(|r| r.version).collect(),
    })
}
