//! `migrate diff`: write the migration between two PostgreSQL schemas, with its down part, and
//! prove it on a shadow database before handing it over (see `docs/diff.md`).

use std::path::PathBuf;

use serde::Serialize;

use super::Context;
use crate::cli::DiffArgs;
use crate::errors::{Detailed, Outcome, Usage};
use crate::output::Report;
use crate::postgres::ddl::proof::Source;
use crate::postgres::ddl::{self, Refusal, proof};
use crate::postgres::diff::{self as compare, IgnoreSet};

#[derive(Debug, Serialize)]
pub struct DiffReport {
    pub from: String,
    pub to: String,
    /// False when both schemas are equal: nothing was written.
    pub changed: bool,
    /// The file written with `--name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `proven` (up reaches "to", down returns to "from") or `skipped` (`--no-verify`).
    pub verification: &'static str,
    pub up_statements: usize,
    pub down_statements: usize,
    pub no_transaction: bool,
    /// Tables and columns whose data the up part drops.
    pub destructive: Vec<String>,
    /// The migration text.
    pub migration: String,
    #[serde(skip)]
    printed: bool,
}

impl Report for DiffReport {
    fn human(&self) -> String {
        match (&self.file, self.printed) {
            (Some(file), _) => format!("{file}\n"),
            (None, true) => self.migration.clone(),
            (None, false) => String::new(),
        }
    }
}

/// Reads `--from`/`--to`: a URL, `migrations`, a `.sql` file or a snapshot file.
fn parse_source(text: &str, context: &Context) -> anyhow::Result<Source> {
    let pg = context.settings.require_postgres()?;
    if text == "migrations" {
        return Ok(Source::Migrations);
    }
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return Ok(Source::Url(Box::new(super::drift::parse_url(text, pg)?)));
    }
    let path = PathBuf::from(text);
    if text.ends_with(".sql") {
        if !path.is_file() {
            return Err(Detailed::new(format!("{text}: no such file"))
                .context("nothing was written")
                .into());
        }
        return Ok(Source::SqlFile(path));
    }
    if path.is_file() {
        return Ok(Source::Snapshot(path));
    }
    Err(Usage(
        Detailed::new(format!("cannot read `{text}` as a schema source"))
            .hint("give a postgres:// URL, the word `migrations`, a .sql file or a snapshot file written by `schema dump -o FILE`"),
    )
    .into())
}

pub async fn run(context: &Context, args: &DiffArgs) -> anyhow::Result<Outcome> {
    // On Ctrl-C the work is dropped, and with it the shadow databases' guards.
    tokio::select! {
        outcome = diff(context, args) => outcome,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted: nothing was written"),
    }
}

async fn diff(context: &Context, args: &DiffArgs) -> anyhow::Result<Outcome> {
    let pg = context.settings.require_postgres()?.clone();
    let printer = &context.printer;
    let from = parse_source(args.from.as_deref().unwrap_or("migrations"), context)?;
    let to = match &args.to {
        Some(text) => parse_source(text, context)?,
        None => Source::Url(Box::new(pg.target.clone())),
    };
    if let Some(name) = &args.name {
        super::new::check_name(name)?;
    }
    let set = if matches!(from, Source::Migrations) || matches!(to, Source::Migrations) {
        Some(super::load_valid_migrations(
            &context.settings.migrations_dir,
        )?)
    } else {
        None
    };
    let verify = !args.no_verify;
    let (from_loaded, to_loaded) = tokio::try_join!(
        proof::load(&pg, &from, set.as_ref(), verify, printer),
        proof::load(&pg, &to, set.as_ref(), false, printer),
    )?;
    let (from_snapshot, to_snapshot) = (&from_loaded.snapshot, &to_loaded.snapshot);
    if from_snapshot.server_major != to_snapshot.server_major {
        return Err(Detailed::new(format!(
            "{} was taken on PostgreSQL {}, {} on PostgreSQL {}: deparsed definitions only compare within one major version",
            from.label(),
            from_snapshot.server_major,
            to.label(),
            to_snapshot.server_major
        ))
        .context("nothing was written")
        .into());
    }
    let timed = printer.timed("comparing the two schemas");
    let differences = compare::compare(to_snapshot, from_snapshot, &IgnoreSet::default());
    timed.done(None);
    let mut report = DiffReport {
        from: from.label(),
        to: to.label(),
        changed: !differences.differences.is_empty(),
        file: None,
        version: None,
        verification: if verify { "proven" } else { "skipped" },
        up_statements: 0,
        down_statements: 0,
        no_transaction: false,
        destructive: Vec::new(),
        migration: String::new(),
        printed: false,
    };
    if !report.changed {
        if let Some(shadow) = from_loaded.shadow {
            shadow.drop_now().await?;
        }
        printer.step(format!(
            "no difference between {} and {}: nothing written",
            report.from, report.to
        ));
        printer.report(&report);
        return Ok(Outcome::Clean);
    }
    let timed = printer.timed("writing the up and down parts");
    let up = ddl::plan(from_snapshot, to_snapshot);
    let down = ddl::plan(to_snapshot, from_snapshot);
    timed.done(None);
    let refused: Vec<Refusal> = up.refused.iter().chain(&down.refused).cloned().collect();
    if !refused.is_empty() {
        return Err(proof::refused_error(
            "diff cannot write this migration: some differences are not supported",
            &refused,
        ));
    }
    if !up.destructive.is_empty() && !args.allow_destructive {
        let mut error = Detailed::new("the migration would drop data; refused".to_string());
        for object in &up.destructive {
            error = error.context(format!("drops {object}"));
        }
        return Err(error
            .context("nothing was written")
            .hint("pass --allow-destructive if the data may go (a renamed column or table is a drop and an add to diff: write a rename by hand)")
            .into());
    }
    let header = vec![
        format!(
            "Written by `migrate diff` from {} to {}.",
            report.from, report.to
        ),
        if verify {
            "Proven on a shadow database: the up part reaches the target schema, the down part returns to the source.".to_string()
        } else {
            "NOT verified (--no-verify).".to_string()
        },
    ];
    let text = ddl::render(&up, &down, &header, pg.lock_timeout);
    let no_transaction = up.no_transaction || down.no_transaction;
    if verify {
        let shadow = match from_loaded.shadow {
            Some(shadow) => shadow,
            None => proof::copy_or_rebuild(&pg, &from, from_snapshot, printer).await?,
        };
        let (up_text, down_text) = text
            .split_once("\n-- migrate:down\n")
            .expect("render writes the down marker");
        let proven = async {
            let up_check = shadow
                .apply_and_compare(up_text, no_transaction, to_snapshot, "up", printer)
                .await?;
            if !up_check.differences.is_empty() {
                return Err(proof::differences_error(
                    &format!(
                        "the written migration is wrong: after its up part the shadow database still differs from {}",
                        report.to
                    ),
                    &up_check.differences,
                ));
            }
            let down_check = shadow
                .apply_and_compare(down_text, no_transaction, from_snapshot, "down", printer)
                .await?;
            if !down_check.differences.is_empty() {
                return Err(proof::differences_error(
                    &format!(
                        "the written migration is wrong: after its down part the shadow database differs from {}",
                        report.from
                    ),
                    &down_check.differences,
                ));
            }
            anyhow::Ok(())
        }
        .await;
        let timed = printer.timed("dropping the shadow database");
        let dropped = shadow.drop_now().await;
        timed.done(None);
        proven.map_err(|err| {
            let rendered = crate::errors::render(&err);
            let mut error = Detailed::new(rendered.message);
            error.context = rendered.context;
            error.hints = rendered.hints;
            anyhow::Error::from(
                error
                    .context("nothing was written")
                    .hint("this is a bug of `migrate diff`: please report it with both schemas; meanwhile write the migration by hand"),
            )
        })?;
        dropped?;
        printer.step(format!(
            "proven on a shadow database: up reaches {}, down returns to {}",
            report.to, report.from
        ));
    } else {
        if let Some(shadow) = from_loaded.shadow {
            shadow.drop_now().await?;
        }
        printer
            .warn("not verified (--no-verify): the migration was not tried on a shadow database");
    }
    report.up_statements = up.statements.len();
    report.down_statements = down.statements.len();
    report.no_transaction = no_transaction;
    report.destructive = up.destructive.clone();
    report.migration = text;
    match &args.name {
        Some(name) => {
            let (path, version) = super::new::write_next(context, name, &report.migration)?;
            report.file = Some(path.display().to_string());
            report.version = Some(version);
        }
        None => report.printed = true,
    }
    printer.report(&report);
    Ok(Outcome::Clean)
}
