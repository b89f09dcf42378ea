//! `migrate retention run [--dry-run] [--policy NAME]`: apply the `[retention]` policies and
//! print what each removed. The work is in `crate::jobs::retention`.

use super::Context;
use crate::cli::{RetentionArgs, RetentionCommand};
use crate::errors::Outcome;
use crate::jobs::retention::{self, RetentionReport};
use crate::output::{Report, table};

impl Report for RetentionReport {
    fn human(&self) -> String {
        if self.policies.is_empty() {
            return "retention: no policy configured ([[retention.policies]])\n".to_string();
        }
        let mut t = table::new(&[
            "policy",
            "store",
            "target",
            "action",
            "older than",
            if self.dry_run {
                "would remove"
            } else {
                "removed"
            },
            "detail",
        ]);
        for p in &self.policies {
            t.add_row(vec![
                p.policy.clone(),
                p.store.to_string(),
                match &p.filter {
                    Some(filter) => format!("{} where {filter}", p.target),
                    None => p.target.clone(),
                },
                p.action.clone(),
                p.older_than
                    .clone()
                    .unwrap_or_else(|| "declared ttl".into()),
                p.removed.to_string(),
                p.detail.clone(),
            ]);
        }
        format!(
            "retention{}\n{t}\n",
            if self.dry_run {
                " (dry run, nothing changed)"
            } else {
                ""
            }
        )
    }
}

pub async fn run(context: &Context, args: &RetentionArgs) -> anyhow::Result<Outcome> {
    let RetentionCommand::Run(args) = &args.action;
    let printer = &context.printer;
    super::guard_protected(context, "retention run", args.dry_run)?;
    let policies = retention::load(&context.settings.retention)?;
    if !args.dry_run && !policies.policies.is_empty() && !context.settings.assume_yes {
        // What the confirmation is about: the counts of a dry run, first.
        let plan = retention::run(
            &context.settings,
            &policies,
            args.policy.as_deref(),
            true,
            printer,
        )
        .await?;
        let total: u64 = plan.policies.iter().map(|p| p.removed).sum();
        printer.step(format!(
            "about to apply the retention policies:\n{}",
            plan.human()
        ));
        printer.confirm(
            false,
            &format!(
                "delete or expire what the retention policies say is too old ({total} rows, documents and keys in all, as counted above)"
            ),
        )?;
    }
    let report = retention::run(
        &context.settings,
        &policies,
        args.policy.as_deref(),
        args.dry_run,
        printer,
    )
    .await?;
    printer.report(&report);
    Ok(Outcome::Clean)
}
