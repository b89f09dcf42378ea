//! `migrate anonymize user ID | policy [NAME]`: GDPR erasure by the `[anonymize]` rules.
//! Arguments -> plan (dry run) -> confirmation -> execute -> report; the work is in
//! `crate::jobs::anonymize`.

use super::Context;
use crate::cli::{AnonymizeAction, AnonymizeArgs, AnonymizePolicyArgs, AnonymizeUserArgs};
use crate::errors::Outcome;
use crate::jobs::anonymize::{self, KeyUse, PolicyReport, TargetCount, UserReport};
use crate::output::{Report, count, table};

impl Report for UserReport {
    fn human(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            out.push_str(&format!(
                "anonymize user {}: plan for {} (dry run, nothing changed)\n{}\n",
                self.subject,
                self.database,
                targets_table(&self.plan, "count")
            ));
            return out;
        }
        let total: u64 = self.changed.iter().map(|c| c.count).sum();
        if self.already_erased {
            out.push_str(&format!(
                "anonymize user {}: already erased, nothing changed ({})\n",
                self.subject, self.database
            ));
        } else {
            out.push_str(&format!(
                "anonymized user {}: {total} row{}, document{} and key{} changed ({})\n",
                self.subject,
                if total == 1 { "" } else { "s" },
                if total == 1 { "" } else { "s" },
                if total == 1 { "" } else { "s" },
                self.database
            ));
            if !self.changed.is_empty() {
                out.push_str(&format!("{}\n", targets_table(&self.changed, "changed")));
            }
        }
        if let Some(verification) = &self.verification {
            let values: u64 = verification.values.values().sum();
            let searched = &verification.searched;
            out.push_str(&format!(
                "verification: {} searched in {} ({}), {} ({}), {}: ",
                count(values, "original value"),
                count(searched.tables, "table"),
                count(searched.rows, "row"),
                count(searched.collections, "collection"),
                count(searched.documents, "document"),
                count(searched.keys, "key")
            ));
            if verification.hits.is_empty() {
                out.push_str("none found\n");
            } else {
                out.push_str("FOUND\n");
                let mut t = table::new(&["store", "where", "kind of value", "count"]);
                for hit in &verification.hits {
                    t.add_row(vec![
                        hit.store.clone(),
                        hit.location.clone(),
                        hit.kind.as_str().to_string(),
                        hit.count.to_string(),
                    ]);
                }
                out.push_str(&format!("{t}\n"));
            }
            if verification.shared > 0 {
                out.push_str(&format!(
                    "note: {} value{} also belong{} to other subjects and {} not held against this one\n",
                    verification.shared,
                    if verification.shared == 1 { "" } else { "s" },
                    if verification.shared == 1 { "s" } else { "" },
                    if verification.shared == 1 { "was" } else { "were" },
                ));
            }
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

impl Report for PolicyReport {
    fn human(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            out.push_str(&format!(
                "anonymize policy {}: {} subject{} in {} batch{} of up to {} (dry run, nothing changed; {})\n",
                self.policy,
                self.subjects,
                if self.subjects == 1 { "" } else { "s" },
                self.batches,
                if self.batches == 1 { "" } else { "es" },
                self.batch_size,
                self.database
            ));
            if !self.targets.is_empty() {
                out.push_str(&format!("{}\n", targets_table(&self.targets, "count")));
            }
        } else {
            out.push_str(&format!(
                "anonymize policy {}: {} subject{} in {} batch{}{}, {} row{} changed in {:.1} s ({:.0} rows/s); longest batch {} (lock_timeout {}) ({})\n",
                self.policy,
                self.subjects_done,
                if self.subjects_done == 1 { "" } else { "s" },
                self.batches,
                if self.batches == 1 { "" } else { "es" },
                self.resumed_after
                    .map_or_else(String::new, |n| format!(", resumed after {n}")),
                self.rows_changed,
                if self.rows_changed == 1 { "" } else { "s" },
                self.seconds,
                self.rows_per_second,
                crate::output::human_ms(self.max_batch_ms),
                crate::output::human_ms(self.lock_timeout_ms),
                self.database
            ));
            if !self.targets.is_empty() {
                out.push_str(&format!("{}\n", targets_table(&self.targets, "changed")));
            }
            if !self.leftovers.is_empty() {
                let mut t = table::new(&["where", "rows still holding an original value"]);
                for (place, n) in &self.leftovers {
                    t.add_row(vec![place.clone(), n.to_string()]);
                }
                out.push_str(&format!("verification FAILED\n{t}\n"));
            }
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

fn targets_table(targets: &[TargetCount], count: &str) -> table::Table {
    let mut t = table::new(&["store", "target", "action", count]);
    for target in targets {
        t.add_row(vec![
            target.store.clone(),
            target.target.clone(),
            target.action.clone(),
            target.count.to_string(),
        ]);
    }
    t
}

pub async fn run(context: &Context, args: &AnonymizeArgs) -> anyhow::Result<Outcome> {
    match &args.action {
        AnonymizeAction::User(args) => user(context, args).await,
        AnonymizeAction::Policy(args) => policy(context, args).await,
    }
}

async fn user(context: &Context, args: &AnonymizeUserArgs) -> anyhow::Result<Outcome> {
    super::guard_protected(context, "anonymize user", args.dry_run)?;
    let printer = &context.printer;
    let mut prepared = anonymize::prepare(&context.settings, KeyUse::Required).await?;
    let subject = args.id.trim().to_lowercase();
    anonymize::ensure_subject(&prepared, &subject).await?;
    if args.dry_run {
        let plan = anonymize::plan_user(&prepared, &subject).await?;
        printer.report(&UserReport {
            subject_hmac: String::new(),
            subject,
            database: prepared.database.clone(),
            dry_run: true,
            plan,
            changed: Vec::new(),
            already_erased: false,
            request_id: None,
            verification: None,
            notes: Vec::new(),
        });
        return Ok(Outcome::Clean);
    }
    printer.confirm(
        context.settings.assume_yes,
        &format!("erase user {subject} in every store"),
    )?;
    let report = anonymize::erase_user(&mut prepared, &subject, printer).await?;
    printer.report(&report);
    let failed = report
        .verification
        .as_ref()
        .is_some_and(|v| !v.hits.is_empty());
    Ok(if failed {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

async fn policy(context: &Context, args: &AnonymizePolicyArgs) -> anyhow::Result<Outcome> {
    super::guard_protected(context, "anonymize policy", args.dry_run)?;
    let printer = &context.printer;
    // A dry run only counts subjects: it hashes nothing.
    let key_use = if args.dry_run {
        KeyUse::IfSet
    } else {
        KeyUse::Required
    };
    let mut prepared = anonymize::prepare(&context.settings, key_use).await?;
    let policies = match &args.name {
        Some(name) => vec![anonymize::find_policy(&prepared.rules, name)?.clone()],
        None if prepared.rules.policies.is_empty() => {
            return Err(crate::errors::Detailed::new(
                "[anonymize] defines no [[anonymize.policies]]: nothing to run",
            )
            .into());
        }
        None => prepared.rules.policies.clone(),
    };
    let mut outcome = Outcome::Clean;
    if args.dry_run {
        for policy in &policies {
            let report = anonymize::plan_policy(&prepared, policy).await?;
            printer.report(&report);
        }
        return Ok(outcome);
    }
    let names: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
    printer.confirm(
        context.settings.assume_yes,
        &format!("anonymize every subject of {}", names.join(", ")),
    )?;
    for policy in &policies {
        let report = anonymize::run_policy(&mut prepared, policy, printer).await?;
        if !report.leftovers.is_empty() {
            outcome = Outcome::Problems;
        }
        printer.report(&report);
    }
    Ok(outcome)
}
