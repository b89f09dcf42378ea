//! `migrate maintain`: plan the maintenance statements, run them outside any transaction,
//! report each with its duration. The SQL is in `crate::jobs::maintain`.

use serde::Serialize;

use super::Context;
use crate::cli::MaintainArgs;
use crate::errors::Outcome;
use crate::jobs::maintain::{self, PlannedStep, StepResult};
use crate::output::{Report, human_ms, table};

#[derive(Debug, Serialize)]
struct MaintainReport {
    database: String,
    dry_run: bool,
    /// With --dry-run: the statements that would run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    plan: Vec<PlannedStep>,
    /// What ran, in order, with durations.
    steps: Vec<StepResult>,
    skipped: Vec<String>,
    total_ms: u64,
}

impl Report for MaintainReport {
    fn human(&self) -> String {
        if self.dry_run {
            if self.plan.is_empty() {
                return format!("maintain: nothing to do ({})\n", self.database);
            }
            let mut t = table::new(&["#", "step", "statement", "note"]);
            for (i, step) in self.plan.iter().enumerate() {
                t.add_row(vec![
                    (i + 1).to_string(),
                    format!("{:?}", step.kind).to_lowercase(),
                    step.sql.clone(),
                    step.note.clone().unwrap_or_default(),
                ]);
            }
            return format!(
                "maintain: plan for {} (dry run, nothing changed)\n{t}\n",
                self.database
            );
        }
        if self.steps.is_empty() {
            return format!("maintain: nothing to do ({})\n", self.database);
        }
        let mut t = table::new(&["step", "target", "result", "took"]);
        for step in &self.steps {
            t.add_row(vec![
                format!("{:?}", step.step.kind).to_lowercase(),
                step.step.target.clone(),
                step.result.clone(),
                human_ms(step.duration_ms),
            ]);
        }
        format!(
            "maintain: {} step{} in {} ({})\n{t}\n",
            self.steps.len(),
            if self.steps.len() == 1 { "" } else { "s" },
            human_ms(self.total_ms),
            self.database
        )
    }
}

pub async fn run(context: &Context, args: &MaintainArgs) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    let pg = settings.require_postgres()?;
    let client = maintain::connect(pg).await?;
    let plan = maintain::plan(&client, pg.target.to_string(), &settings.maintain).await?;
    for skipped in &plan.skipped {
        printer.note(skipped);
    }
    let mut report = MaintainReport {
        database: plan.database.clone(),
        dry_run: args.dry_run,
        plan: Vec::new(),
        steps: Vec::new(),
        skipped: plan.skipped.clone(),
        total_ms: 0,
    };
    if args.dry_run {
        report.plan = plan.steps;
    } else {
        let started = std::time::Instant::now();
        report.steps = maintain::execute(&client, &plan, printer).await?;
        report.total_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    }
    printer.report(&report);
    Ok(Outcome::Clean)
}
