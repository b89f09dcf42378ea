//! `migrate database create|drop`: the PostgreSQL database the URL names, as a whole (what
//! sqlx-cli's and dbmate's `database create`/`drop` do). `drop` asks for confirmation and is
//! refused in a protected environment.

use serde::Serialize;

use super::Context;
use crate::cli::{DatabaseAction, DatabaseArgs, DatabaseCreateArgs, DatabaseDropArgs};
use crate::errors::Outcome;
use crate::output::Report;
use crate::postgres::database::{Admin, DatabaseState};

#[derive(Debug, Serialize)]
pub struct DatabaseReport {
    /// `user@host:port/name`.
    pub database: String,
    pub name: String,
    /// `create` or `drop`.
    pub action: &'static str,
    pub dry_run: bool,
    /// Whether the database existed before.
    pub existed: bool,
    /// Whether this run created or dropped it (false on --dry-run and when there was nothing
    /// to do).
    pub changed: bool,
    /// Other sessions connected to it when the plan was made.
    pub sessions: i64,
    /// `environment `prod` is protected: …`, when it is.
    pub protected: Option<String>,
}

impl Report for DatabaseReport {
    fn human(&self) -> String {
        let (name, server) = (&self.name, &self.database);
        let mut out = String::new();
        if let Some(line) = &self.protected {
            out.push_str(&format!("{line}\n"));
        }
        let line = match (self.action, self.dry_run, self.existed) {
            ("create", _, true) => {
                format!("database {name} already exists, nothing to do ({server})")
            }
            ("create", true, false) => format!("would create database {name} ({server}; dry run)"),
            ("create", false, false) => format!("created database {name} ({server})"),
            (_, _, false) => format!("database {name} does not exist, nothing to do ({server})"),
            (_, true, true) => format!(
                "would drop database {name}{} ({server}; dry run)",
                sessions_note(self.sessions)
            ),
            (_, false, true) => format!("dropped database {name} ({server})"),
        };
        out.push_str(&line);
        out.push('\n');
        out
    }
}

fn sessions_note(sessions: i64) -> String {
    match sessions {
        0 => String::new(),
        1 => ", which 1 session uses".to_string(),
        n => format!(", which {n} sessions use"),
    }
}

pub async fn run(context: &Context, args: &DatabaseArgs) -> anyhow::Result<Outcome> {
    let report = match &args.action {
        DatabaseAction::Create(create) => run_create(context, create).await?,
        DatabaseAction::Drop(drop) => run_drop(context, drop).await?,
    };
    context.printer.report(&report);
    Ok(Outcome::Clean)
}

async fn run_create(
    context: &Context,
    args: &DatabaseCreateArgs,
) -> anyhow::Result<DatabaseReport> {
    let pg = context.settings.require_postgres()?;
    let admin = Admin::connect(&pg.target).await?;
    let state = admin.state().await?;
    let mut report = report("create", &state, args.dry_run, None);
    if !args.dry_run && !state.exists {
        report.changed = admin.create().await?;
        // Created by someone else between the look-up and CREATE DATABASE: it exists either way.
        report.existed = !report.changed;
    }
    Ok(report)
}

async fn run_drop(context: &Context, args: &DatabaseDropArgs) -> anyhow::Result<DatabaseReport> {
    let settings = &context.settings;
    super::guard_protected(context, "database drop", args.dry_run)?;
    let pg = settings.require_postgres()?;
    let admin = Admin::connect(&pg.target).await?;
    let state = admin.state().await?;
    let protected = super::protected_line(settings);
    let mut report = report("drop", &state, args.dry_run, protected);
    if args.dry_run || !state.exists {
        return Ok(report);
    }
    if state.sessions > 0 && !args.force {
        context.printer.warn(format!(
            "{} other session{} connected to {}: DROP DATABASE will fail unless they end (or pass --force)",
            state.sessions,
            if state.sessions == 1 { " is" } else { "s are" },
            state.name
        ));
    }
    context.printer.confirm(
        settings.assume_yes,
        &format!("drop database {} on {}", state.name, state.database),
    )?;
    report.changed = admin.drop(args.force).await?;
    Ok(report)
}

fn report(
    action: &'static str,
    state: &DatabaseState,
    dry_run: bool,
    protected: Option<String>,
) -> DatabaseReport {
    DatabaseReport {
        database: state.database.clone(),
        name: state.name.clone(),
        action,
        dry_run,
        existed: state.exists,
        changed: false,
        sessions: state.sessions,
        protected,
    }
}
