//! `migrate validate`: files against history, no writes. Exit 2 when anything is wrong.

use serde::Serialize;

use super::Context;
use crate::errors::Outcome;
use crate::jobs::validate::{Problem, history_problems};
use crate::mongo::engine::MongoSession;
use crate::output::Report;
use crate::postgres::plan;
use crate::postgres::session::Session;

#[derive(Debug, Serialize)]
pub struct ValidateReport {
    pub ok: bool,
    pub checked_files: usize,
    pub checked_history: bool,
    pub problems: Vec<Problem>,
}

impl Report for ValidateReport {
    fn human(&self) -> String {
        if self.ok {
            return format!(
                "ok: {} migration file{} valid{}\n",
                self.checked_files,
                if self.checked_files == 1 { "" } else { "s" },
                if self.checked_history {
                    " and consistent with the history"
                } else {
                    " (no database: history not checked)"
                }
            );
        }
        let mut out = format!(
            "{} problem{} found:\n",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        );
        for problem in &self.problems {
            out.push_str(&format!("  {problem}\n"));
        }
        out
    }
}

pub async fn run(context: &Context) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    let mut problems: Vec<Problem> = Vec::new();
    let mut checked_files = 0;
    let mut checked_history = false;

    // PostgreSQL: always when configured; without a URL, the files alone if they exist.
    if settings.postgres.is_some() || settings.migrations_dir.is_dir() {
        let set = crate::postgres::migration::load_dir(&settings.migrations_dir)?;
        problems.extend(set.problems.iter().map(Problem::from));
        checked_files += set.versioned.len() + set.repeatable.len() + set.problems.len();
        match &settings.postgres {
            None => printer.note("postgres: no URL configured; checking files only"),
            Some(pg) => {
                let session = Session::open(pg).await?;
                let history = session.read_history().await?;
                problems.extend(history_problems("postgres", plan::status(&set, &history)));
                checked_history = true;
            }
        }
    }

    // Mongo: the same, for the JSON files.
    let mongo_dir = &settings.mongo_migrations_dir;
    if mongo_dir.is_dir() {
        let set = crate::mongo::migration::load_dir(mongo_dir)?;
        problems.extend(set.problems.iter().map(|p| Problem {
            store: "mongo",
            ..Problem::from(p)
        }));
        checked_files += set.migrations.len() + set.problems.len();
        match &settings.mongo {
            None => printer.note("mongo: no URL configured; checking files only"),
            Some(mongo) => {
                let session = MongoSession::open(mongo).await?;
                let history = session.read_history().await?;
                problems.extend(history_problems(
                    "mongo",
                    crate::mongo::plan::status(&set, &history),
                ));
                checked_history = true;
            }
        }
    } else if settings.mongo.is_some() {
        printer.note(format!(
            "mongo: no migrations directory {}",
            mongo_dir.display()
        ));
    }

    // Redis: the keyspace declaration (files, rules; passwords only if set here).
    if let Some(declaration) = settings.redis.as_ref().and_then(|r| r.keyspace.as_ref()) {
        match crate::redis::keyspace::load(declaration, crate::redis::keyspace::Passwords::IfSet) {
            Ok(_) => {}
            Err(error) => {
                for line in error.context {
                    problems.push(Problem {
                        store: "redis",
                        kind: "config".to_string(),
                        migration: None,
                        file: settings
                            .config_path
                            .as_ref()
                            .map(|p| p.display().to_string()),
                        line: None,
                        message: line,
                    });
                }
            }
        }
    }

    let checked_redis = settings
        .redis
        .as_ref()
        .is_some_and(|r| r.keyspace.is_some());
    if checked_files == 0 && !checked_history && !checked_redis && !mongo_dir.is_dir() {
        return Err(crate::errors::Detailed::new(format!(
            "nothing to validate: there is no migrations directory {} and no store is configured",
            settings.migrations_dir.display()
        ))
        .hint("run from the project's root, or give --migrations DIR (and --database-url URL to check the history too)")
        .into());
    }
    let report = ValidateReport {
        ok: problems.is_empty(),
        checked_files,
        checked_history,
        problems,
    };
    context.printer.report(&report);
    Ok(Outcome::clean_if(report.ok))
}
