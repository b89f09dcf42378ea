//! `migrate down`: revert applied migrations, newest first, after confirmation.

use serde::Serialize;

use super::Context;
use crate::cli::DownArgs;
use crate::errors::{Detailed, Outcome};
use crate::output::{Report, table};
use crate::postgres::engine::{self, Session, StepResult};
use crate::postgres::plan::{self, DownTarget, Step};

#[derive(Debug, Serialize)]
pub struct DownReport {
    pub store: &'static str,
    pub database: String,
    pub dry_run: bool,
    pub plan: Vec<Step>,
    pub reverted: Vec<StepResult>,
}

impl Report for DownReport {
    fn human(&self) -> String {
        if self.plan.is_empty() {
            return format!("{}: nothing to revert ({})\n", self.store, self.database);
        }
        if self.dry_run {
            return format!(
                "{}: would revert, in this order (dry run, nothing changed):\n{}\n",
                self.store,
                plan_table(&self.plan)
            );
        }
        let total: u64 = self.reverted.iter().map(|s| s.execution_ms).sum();
        format!(
            "{}: reverted {} migration{} in {} ({})\n",
            self.store,
            self.reverted.len(),
            if self.reverted.len() == 1 { "" } else { "s" },
            crate::output::human_ms(total),
            self.database
        )
    }
}

fn plan_table(steps: &[Step]) -> comfy_table::Table {
    let mut t = table::new(&["#", "revert", "transaction", "file"]);
    for (i, step) in steps.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            step.label(),
            if step.transactional {
                "yes".into()
            } else {
                "no".into()
            },
            step.file.clone(),
        ]);
    }
    t
}

pub async fn run(context: &Context, args: &DownArgs) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    if settings.protected && !args.allow_protected && !args.dry_run {
        return Err(Detailed::new(format!(
            "environment `{}` is protected: `down` is refused",
            settings.env_name.as_deref().unwrap_or("?")
        ))
        .hint("pass --allow-protected if you really mean to revert migrations there")
        .into());
    }
    let pg = settings.require_postgres()?;
    let set = super::load_valid_migrations(context)?;
    let target = match (args.steps, args.to) {
        (_, Some(to)) => DownTarget::To(to),
        (Some(steps), None) => DownTarget::Steps(steps),
        (None, None) => DownTarget::Steps(1),
    };
    let session = Session::open(pg).await?;
    if args.dry_run {
        let history = session.read_history().await?;
        let steps = plan::plan_down(&set, &history, target)?;
        printer.report(&DownReport {
            store: "postgres",
            database: pg.target.to_string(),
            dry_run: true,
            plan: steps,
            reverted: Vec::new(),
        });
        return Ok(Outcome::Clean);
    }
    let held = session.lock(printer).await?;
    let outcome = async {
        let history = session.read_history().await?;
        let steps = plan::plan_down(&set, &history, target)?;
        if steps.is_empty() {
            return anyhow::Ok((steps, Vec::new()));
        }
        if !printer.is_json() || !settings.assume_yes {
            printer.step(format!(
                "about to revert on {}:\n{}",
                pg.target,
                plan_table(&steps)
            ));
        }
        printer.confirm(
            settings.assume_yes,
            &format!(
                "revert {} migration{}",
                steps.len(),
                if steps.len() == 1 { "" } else { "s" }
            ),
        )?;
        let reverted = engine::execute(&session, &held, &set, &steps, printer).await?;
        if session.read_history().await?.is_empty() {
            crate::postgres::seeds::drop_table(&session.client, &session.history).await?;
            printer.note(
                "every migration was reverted: the record of applied seed files was dropped too",
            );
        }
        Ok((steps, reverted))
    }
    .await;
    let unlocked = session.unlock(held).await;
    let (steps, reverted) = outcome?;
    unlocked?;
    printer.report(&DownReport {
        store: "postgres",
        database: pg.target.to_string(),
        dry_run: false,
        plan: steps,
        reverted,
    });
    Ok(Outcome::Clean)
}
