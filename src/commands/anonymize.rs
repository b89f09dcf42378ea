//! `migrate anonymize user ID | policy [NAME]`: GDPR erasure by the `[anonymize]` rules.
//! Arguments -> plan (dry run) -> confirmation -> execute -> report; the work is in
//! `crate::jobs::anonymize`.

use super::Context;
use crate::cli::{
    AnonymizeAction, AnonymizeArgs, AnonymizePolicyArgs, AnonymizeUserArgs, AnonymizeVerifyArgs,
};
use crate::errors::Outcome;
use crate::jobs::anonymize::erase::Reports;
use crate::jobs::anonymize::{
    self, KeyUse, PolicyReport, TargetCount, UserReport, Verification, VerifyReport,
};
use crate::output::{Report, table};

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
            for note in &self.notes {
                out.push_str(&format!("note: {note}\n"));
            }
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
            out.push_str(&verification_text(verification));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

impl Report for VerifyReport {
    fn human(&self) -> String {
        let mut out = format!(
            "anonymize verify {}: {} ({})\n",
            self.subject,
            if self.verification.hits_total == 0 {
                "the erasure holds"
            } else {
                "original values are back (recorded as a failed erasure)"
            },
            self.database
        );
        out.push_str(&verification_text(&self.verification));
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

impl<T: Report> Report for Reports<T> {
    fn human(&self) -> String {
        self.reports.iter().map(Report::human).collect()
    }
}

/// What was searched for and where it was found: kinds, places and keys, never values.
fn verification_text(verification: &Verification) -> String {
    let mut out = String::new();
    let values: u64 = verification.values.values().sum();
    let searched = &verification.searched;
    out.push_str(&format!(
        "verification: {values} original value{} ({}) searched in {} tables ({} rows), {} collections ({} documents), {} keys: ",
        if values == 1 { "" } else { "s" },
        anonymize::describe_values(&verification.values),
        searched.tables,
        searched.rows,
        searched.collections,
        searched.documents,
        searched.keys
    ));
    if verification.hits_total == 0 {
        out.push_str("none found\n");
    } else {
        out.push_str(&format!(
            "FOUND in {} place{}\n",
            verification.hits_total,
            if verification.hits_total == 1 {
                ""
            } else {
                "s"
            }
        ));
        let mut t = table::new(&["store", "where", "key", "kind of value"]);
        for hit in &verification.hits {
            t.add_row(vec![
                hit.store.clone(),
                hit.location.clone(),
                hit.key.clone(),
                hit.kind.as_str().to_string(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
        if verification.hits_total > verification.hits.len() as u64 {
            out.push_str(&format!(
                "({} more not listed)\n",
                verification.hits_total - verification.hits.len() as u64
            ));
        }
    }
    if verification.kept_from_earlier_runs > 0 {
        out.push_str(&format!(
            "note: {} of the values searched for are fingerprints kept from earlier runs (gdpr_erasures)\n",
            verification.kept_from_earlier_runs
        ));
    }
    if verification.earlier_hits > 0 {
        out.push_str(&format!(
            "note: the previous run found values in {} place{}; {} still hold{} one\n",
            verification.earlier_hits,
            if verification.earlier_hits == 1 {
                ""
            } else {
                "s"
            },
            verification.earlier_hits_remaining,
            if verification.earlier_hits_remaining == 1 {
                "s"
            } else {
                ""
            }
        ));
    }
    if verification.enum_labels > 0 {
        out.push_str(&format!(
            "note: {} one-word name{} also an enum label (a role, a status): searched only as part of the full name\n",
            verification.enum_labels,
            if verification.enum_labels == 1 { " is" } else { "s are" }
        ));
    }
    if verification.attributable_only > 0 {
        out.push_str(&format!(
            "note: {} value{} (one-word names, names other people have too) counted only where a row is about the subject\n",
            verification.attributable_only,
            if verification.attributable_only == 1 { "" } else { "s" }
        ));
    }
    let ambiguous: u64 = verification.ambiguous.iter().map(|a| a.count).sum();
    if ambiguous > 0 {
        let mut places: Vec<String> = verification
            .ambiguous
            .iter()
            .map(|a| format!("{} {} ({})", a.store, a.location, a.kind.as_str()))
            .collect();
        places.dedup();
        out.push_str(&format!(
            "note: {ambiguous} occurrence{} of such values in rows about nobody in particular (not held against the subject): {}\n",
            if ambiguous == 1 { "" } else { "s" },
            places.join(", ")
        ));
    }
    out
}

/// `anonymize policy` without a NAME: every policy's report, in the order of the config.
#[derive(Debug, serde::Serialize)]
struct PolicyReports {
    reports: Vec<PolicyReport>,
}

impl Report for PolicyReports {
    fn human(&self) -> String {
        self.reports.iter().map(Report::human).collect()
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
        AnonymizeAction::Verify(args) => verify(context, args).await,
        AnonymizeAction::Policy(args) => policy(context, args).await,
    }
}

/// One report as itself, several as `{"reports": [...]}`.
fn print_reports<T: Report + Clone>(context: &Context, reports: &[T]) {
    match reports {
        [one] => context.printer.report(one),
        _ => context.printer.report(&Reports {
            reports: reports.to_vec(),
        }),
    }
}

async fn user(context: &Context, args: &AnonymizeUserArgs) -> anyhow::Result<Outcome> {
    super::guard_protected(context, "anonymize user", args.dry_run)?;
    let printer = &context.printer;
    let mut prepared = anonymize::prepare(&context.settings, KeyUse::Required).await?;
    let subjects = anonymize::erase::normalize_ids(&args.ids);
    for subject in &subjects {
        anonymize::ensure_subject(&prepared, subject).await?;
    }
    if args.dry_run {
        let mut reports = Vec::new();
        for subject in &subjects {
            let plan = anonymize::plan_user(&prepared, subject).await?;
            reports.push(UserReport {
                subject_hmac: String::new(),
                subject: subject.clone(),
                database: prepared.database.clone(),
                dry_run: true,
                plan,
                changed: Vec::new(),
                already_erased: false,
                request_id: None,
                verification: None,
                notes: anonymize::plan_notes(&prepared),
            });
        }
        print_reports(context, &reports);
        return Ok(Outcome::Clean);
    }
    printer.confirm(
        context.settings.assume_yes,
        &format!(
            "erase {} {} in every store",
            if subjects.len() == 1 { "user" } else { "users" },
            subjects.join(", ")
        ),
    )?;
    let reports = anonymize::erase_users(&mut prepared, &subjects, printer).await?;
    print_reports(context, &reports);
    let failed = reports
        .iter()
        .any(|r| r.verification.as_ref().is_some_and(|v| v.hits_total > 0));
    Ok(if failed {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

async fn verify(context: &Context, args: &AnonymizeVerifyArgs) -> anyhow::Result<Outcome> {
    let mut prepared = anonymize::prepare(&context.settings, KeyUse::Required).await?;
    let reports = anonymize::verify_users(&mut prepared, &args.ids, &context.printer).await?;
    print_reports(context, &reports);
    Ok(if reports.iter().any(|r| r.verification.hits_total > 0) {
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
    let mut reports = Vec::new();
    if args.dry_run {
        for policy in &policies {
            reports.push(anonymize::plan_policy(&prepared, policy).await?);
        }
    } else {
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
            reports.push(report);
        }
    }
    // One document either way: the report of the named policy, or all of them.
    if args.name.is_some() && reports.len() == 1 {
        printer.report(&reports[0]);
    } else {
        printer.report(&PolicyReports { reports });
    }
    Ok(outcome)
}
