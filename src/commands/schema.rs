//! `migrate schema dump [-o FILE] [--sql]`: the normalized snapshot of the live database, on
//! stdout or into a file (a committed `schema.snapshot.json` for `drift --snapshot`); with
//! `--sql`, the schema as a proven SQL script written by `diff`'s writer.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::Context;
use crate::cli::{SchemaAction, SchemaArgs, SchemaDumpArgs};
use crate::errors::Outcome;
use crate::output::Report;
use crate::postgres::snapshot::{self, Snapshot, SnapshotOptions};

/// The snapshot itself is the report when it goes to stdout.
#[derive(Serialize)]
#[serde(transparent)]
struct SnapshotOnStdout<'a>(&'a Snapshot);

impl Report for SnapshotOnStdout<'_> {
    fn human(&self) -> String {
        self.0.to_json()
    }
}

/// What was written, when the snapshot went to a file.
#[derive(Debug, Serialize)]
pub struct DumpReport {
    pub file: String,
    pub database: String,
    pub server_major: u32,
    pub objects: usize,
}

impl Report for DumpReport {
    fn human(&self) -> String {
        String::new()
    }
}

pub async fn run(context: &Context, args: &SchemaArgs) -> anyhow::Result<Outcome> {
    match &args.action {
        SchemaAction::Dump(dump_args) => dump(context, dump_args).await,
    }
}

async fn dump(context: &Context, args: &SchemaDumpArgs) -> anyhow::Result<Outcome> {
    let pg = context.settings.require_postgres()?;
    let options = SnapshotOptions::for_history_table(&pg.history_table);
    let snapshot = snapshot::take_database(&pg.target, &options).await?;
    if args.sql {
        return dump_sql(context, args, &snapshot).await;
    }
    match &args.output {
        None => context.printer.report(&SnapshotOnStdout(&snapshot)),
        Some(path) => {
            write_atomically(path, &snapshot.to_json())?;
            context.printer.step(format!(
                "wrote the schema of {} ({}, PostgreSQL {}) to {}",
                pg.target,
                crate::output::count(snapshot.objects.len(), "object"),
                snapshot.server_major,
                path.display()
            ));
            context.printer.report(&DumpReport {
                file: path.display().to_string(),
                database: pg.target.to_string(),
                server_major: snapshot.server_major,
                objects: snapshot.objects.len(),
            });
        }
    }
    Ok(Outcome::Clean)
}

/// The SQL script of a schema, when it goes to stdout.
struct ScriptOnStdout(String);

impl Report for ScriptOnStdout {
    fn human(&self) -> String {
        self.0.clone()
    }
}

impl Serialize for ScriptOnStdout {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("ScriptOnStdout", 1)?;
        state.serialize_field("sql", &self.0)?;
        state.end()
    }
}

/// `schema dump --sql`: the script `diff` writes from an empty database, proven by rebuilding
/// the schema with it on a shadow database (see `docs/diff.md`).
async fn dump_sql(
    context: &Context,
    args: &SchemaDumpArgs,
    snapshot: &Snapshot,
) -> anyhow::Result<Outcome> {
    let pg = context.settings.require_postgres()?;
    let label = pg.target.to_string();
    let (shadow, script) = tokio::select! {
        built = crate::postgres::ddl::proof::rebuild_with_script(pg, snapshot, &label, &context.printer) => built?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted: nothing was written"),
    };
    shadow.drop_now().await?;
    let header = vec![
        format!(
            "The schema of {label} (PostgreSQL {}), written by `migrate schema dump --sql`.",
            snapshot.server_major
        ),
        "Proven: applied to an empty database, it rebuilds this schema exactly.".to_string(),
    ];
    let text = crate::postgres::ddl::render_script(&script, &header);
    match &args.output {
        None => context.printer.report(&ScriptOnStdout(text)),
        Some(path) => {
            write_atomically(path, &text)?;
            context.printer.step(format!(
                "wrote the schema of {label} as SQL ({}) to {}",
                crate::output::count(script.statements.len(), "statement"),
                path.display()
            ));
            context.printer.report(&DumpReport {
                file: path.display().to_string(),
                database: label,
                server_major: snapshot.server_major,
                objects: snapshot.objects.len(),
            });
        }
    }
    Ok(Outcome::Clean)
}

/// Writes through a temporary file in the same directory, so a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let temporary = path.with_file_name(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&temporary, text)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| {
        let _ = std::fs::remove_file(&temporary);
        format!("cannot write {}", path.display())
    })
}
