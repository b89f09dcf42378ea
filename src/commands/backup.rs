//! `migrate backup create|list|verify|restore|prune`: arguments -> plan -> execute -> report.
//! The work itself is in `crate::jobs::backup`.

use serde::Serialize;

use super::Context;
use super::backup_physical as physical;
use crate::cli::{
    BackupAction, BackupArgs, BackupCreateArgs, BackupPhysicalAction, BackupPruneArgs,
    BackupRestoreArgs, BackupVerifyArgs, Store,
};
use crate::config::Settings;
use crate::errors::Outcome;
use crate::jobs::backup::{
    self, CreateOptions, CreatePlan, Created, Listing, PrunePlan, Pruned, RestorePlan, Restored,
    StoreKind, Verified,
    prune::Policy,
    repository::{Entry, LATEST, Repository},
};
use crate::output::{Printer, Report, count, human_ms, table};

pub async fn run(context: &Context, args: &BackupArgs) -> anyhow::Result<Outcome> {
    let mut settings = context.settings.clone();
    if let Some(jobs) = args.jobs {
        settings.backup.jobs = jobs;
    }
    let repository = Repository::new(
        args.dir
            .clone()
            .unwrap_or_else(|| settings.backup.dir.clone()),
    );
    let printer = &context.printer;
    match &args.action {
        BackupAction::Create(create) if create.physical => {
            physical::run_create(&settings, create, printer).await
        }
        BackupAction::Create(create) => run_create(&settings, &repository, create, printer).await,
        BackupAction::List => run_list(&settings, &repository, printer).await,
        BackupAction::Verify(verify) if verify.physical => {
            physical::run_verify(&settings, verify, printer).await
        }
        BackupAction::Verify(verify) => run_verify(&settings, &repository, verify, printer).await,
        BackupAction::Restore(restore) => {
            super::guard_protected(context, "backup restore", restore.dry_run)?;
            if restore.physical {
                return physical::run_restore(&settings, restore, printer).await;
            }
            run_restore(&settings, &repository, restore, printer).await
        }
        BackupAction::Prune(prune) if prune.physical => {
            physical::run_prune(&settings, prune.dry_run, printer).await
        }
        BackupAction::Prune(prune) => run_prune(&settings, &repository, prune, printer).await,
        BackupAction::Physical(args) => match &args.action {
            BackupPhysicalAction::Setup(setup) => {
                physical::run_setup(&settings, setup, printer).await
            }
        },
    }
}

/// `1.5 MiB`, `12 KiB`, `800 B`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn time(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

// ---------------------------------------------------------------------------------------------
// create

#[derive(Debug, Serialize)]
struct CreateReport {
    dry_run: bool,
    plan: CreatePlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<Created>,
}

impl Report for CreateReport {
    fn human(&self) -> String {
        let Some(backup) = &self.backup else {
            let mut t = table::new(&["store", "source"]);
            for store in &self.plan.stores {
                t.add_row(vec![store.store.name().to_string(), store.source.clone()]);
            }
            return format!(
                "backup {} would be written to {} (dry run, nothing written)\n{t}\n",
                self.plan.id, self.plan.directory
            );
        };
        format!(
            "backup {}: {} ({}, {}) in {}{}\n{}\n",
            backup.id,
            backup.manifest.stores.names().join(", "),
            count(backup.manifest.files.len(), "file"),
            human_bytes(backup.manifest.total_bytes),
            human_ms(backup.duration_ms),
            if backup.recorded {
                ", recorded in backup_snapshots"
            } else {
                ""
            },
            backup.directory
        )
    }
}

async fn run_create(
    settings: &Settings,
    repository: &Repository,
    args: &BackupCreateArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let stores = (!args.store.is_empty()).then(|| {
        args.store
            .iter()
            .map(|store| match store {
                Store::Pg => StoreKind::Postgres,
                Store::Mongo => StoreKind::Mongo,
                Store::Redis => StoreKind::Redis,
            })
            .collect()
    });
    let options = CreateOptions {
        stores,
        jobs: settings.backup.jobs,
    };
    let plan = backup::plan_create(settings, repository, &options)?;
    let configured = [
        ("postgres", settings.postgres.is_some()),
        ("mongo", settings.mongo.is_some()),
        ("redis", settings.redis.is_some()),
    ];
    for (store, _) in configured.iter().filter(|(_, configured)| !configured) {
        printer.verbose(format!("{store}: no URL configured, skipped"));
    }
    for skipped in &plan.skipped {
        printer.note(skipped);
    }
    if args.dry_run {
        printer.report(&CreateReport {
            dry_run: true,
            plan,
            backup: None,
        });
        return Ok(Outcome::Clean);
    }
    printer.step(format!(
        "backup {}: {} into {}",
        plan.id,
        plan.stores
            .iter()
            .map(|s| s.store.name())
            .collect::<Vec<_>>()
            .join(", "),
        plan.directory
    ));
    let created = backup::create(settings, repository, &plan, printer).await?;
    printer.report(&CreateReport {
        dry_run: false,
        plan,
        backup: Some(created),
    });
    Ok(Outcome::Clean)
}

// ---------------------------------------------------------------------------------------------
// list

impl Report for Listing {
    fn human(&self) -> String {
        if self.backups.is_empty() {
            return format!("no backups in {}\n", self.directory);
        }
        let mut t = table::new(&["id", "time", "size", "stores", "verified"]);
        for backup in &self.backups {
            let verified = match (&backup.verified_at, &backup.last_verification) {
                (_, Some(last)) if !last.ok => format!("FAILED {}", time(&last.at)),
                (Some(at), _) => format!("restore {}", time(at)),
                (None, Some(last)) => format!("hashes {}", time(&last.at)),
                (None, None) => "never".to_string(),
            };
            t.add_row(vec![
                backup.id.clone(),
                time(&backup.created_at),
                human_bytes(backup.size_bytes),
                backup.stores.join(", "),
                verified,
            ]);
        }
        format!("{t}\n")
    }
}

/// `backup list`: the logical backups, and the physical ones when `[backup.physical]` is set.
#[derive(Debug, Serialize)]
struct ListReport {
    #[serde(flatten)]
    listing: Listing,
    #[serde(skip_serializing_if = "Option::is_none")]
    physical: Option<backup::physical::PhysicalListing>,
}

impl Report for ListReport {
    fn human(&self) -> String {
        let mut out = self.listing.human();
        if let Some(physical) = &self.physical {
            out.push_str(&physical::listing_text(physical));
        }
        out
    }
}

async fn run_list(
    settings: &Settings,
    repository: &Repository,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let listing = backup::list(repository)?;
    let physical = physical::list(settings).await?;
    for partial in &listing.partials {
        match &partial.stale {
            Some(why) => printer.note(format!(
                "ignored {}: incomplete, {why} (`migrate backup prune` removes it)",
                partial.name
            )),
            None => printer.note(format!("ignored {}: a backup in progress", partial.name)),
        }
    }
    for unreadable in &listing.unreadable {
        printer.warn(format!("ignored {unreadable}"));
    }
    printer.report(&ListReport { listing, physical });
    Ok(Outcome::Clean)
}

// ---------------------------------------------------------------------------------------------
// verify

impl Report for Verified {
    fn human(&self) -> String {
        let what = match self.kind {
            backup::manifest::VerificationKind::Hashes => "sha256 of every file",
            backup::manifest::VerificationKind::Restore => {
                "sha256 of every file and a test restore"
            }
        };
        if self.ok {
            let mut out = format!(
                "backup {}: ok ({what}: {}, {}) in {}\n",
                self.id,
                count(self.files, "file"),
                human_bytes(self.bytes),
                human_ms(self.duration_ms)
            );
            for store in &self.stores {
                out.push_str(&format!(
                    "  {}: restored into {} and counts match ({})\n",
                    store.store.name(),
                    store.scratch,
                    human_ms(store.duration_ms)
                ));
            }
            return out;
        }
        let mut out = format!(
            "backup {}: {} problem{} ({what})\n",
            self.id,
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        );
        for problem in &self.problems {
            out.push_str(&format!("  {problem}\n"));
        }
        out
    }
}

/// The backup an ID names; `latest` is resolved and said.
fn open(repository: &Repository, id: &str, printer: &Printer) -> anyhow::Result<Entry> {
    let entry = repository.open(id)?;
    if id == LATEST {
        printer.note(format!(
            "latest backup: {} (taken {})",
            entry.id,
            time(&entry.manifest.created_at)
        ));
    }
    Ok(entry)
}

async fn run_verify(
    settings: &Settings,
    repository: &Repository,
    args: &BackupVerifyArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let entry = open(repository, args.id.as_deref().unwrap_or(LATEST), printer)?;
    let verified = backup::verify(settings, &entry, args.restore, printer).await?;
    printer.report(&verified);
    Ok(Outcome::clean_if(verified.ok))
}

// ---------------------------------------------------------------------------------------------
// restore

#[derive(Debug, Serialize)]
struct RestoreReport {
    dry_run: bool,
    plan: RestorePlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    restored: Option<Restored>,
}

fn plan_table(plan: &RestorePlan) -> String {
    let mut t = table::new(&["store", "target", "now", "action"]);
    for step in &plan.steps {
        t.add_row(vec![
            step.store.name().to_string(),
            step.target.clone(),
            step.found.clone(),
            step.action.clone(),
        ]);
    }
    t.to_string()
}

impl Report for RestoreReport {
    fn human(&self) -> String {
        match &self.restored {
            None => format!(
                "restore of backup {} (taken {}), dry run, nothing changed\n{}\n",
                self.plan.id,
                time(&self.plan.created_at),
                plan_table(&self.plan)
            ),
            Some(restored) => {
                let mut t = table::new(&["store", "target", "restored", "took"]);
                for store in &restored.stores {
                    t.add_row(vec![
                        store.store.name().to_string(),
                        store.target.clone(),
                        store.detail.clone(),
                        human_ms(store.duration_ms),
                    ]);
                }
                format!(
                    "restored backup {} (taken {}) in {}\n{t}\n",
                    restored.id,
                    time(&self.plan.created_at),
                    human_ms(restored.duration_ms)
                )
            }
        }
    }
}

async fn run_restore(
    settings: &Settings,
    repository: &Repository,
    args: &BackupRestoreArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let entry = open(repository, args.id.as_deref().unwrap_or(LATEST), printer)?;
    let plan = backup::plan_restore(&entry, &args.target, args.clean).await?;
    if args.dry_run {
        printer.report(&RestoreReport {
            dry_run: true,
            plan,
            restored: None,
        });
        return Ok(Outcome::Clean);
    }
    if !printer.is_json() {
        printer.step(format!(
            "restore of backup {} (taken {}):\n{}",
            plan.id,
            time(&plan.created_at),
            plan_table(&plan)
        ));
    }
    let targets: Vec<&str> = plan.steps.iter().map(|s| s.target.as_str()).collect();
    printer.confirm(
        settings.assume_yes,
        &format!("restore backup {} into {}", plan.id, targets.join(", ")),
    )?;
    let restored = backup::restore(settings, &entry, &plan, printer).await?;
    let since = time(&entry.manifest.created_at);
    match restored.erasures_since_backup {
        Some(n) if n > 0 => printer.warn(format!(
            "{n} subject{} erased after this backup was taken ({since}, GDPR ledger gdpr_requests): the restored data holds {} again; erase {} again before use (migrate anonymize user ID...)",
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" },
            if n == 1 { "it" } else { "them" }
        )),
        _ => printer.warn(format!(
            "subjects anonymized after this backup was taken ({since}) are in the restored data again: re-apply the erasures of the GDPR ledger (gdpr_requests) before use (migrate anonymize user ID...)"
        )),
    }
    printer.report(&RestoreReport {
        dry_run: false,
        plan,
        restored: Some(restored),
    });
    Ok(Outcome::Clean)
}

// ---------------------------------------------------------------------------------------------
// prune

#[derive(Debug, Serialize)]
struct PruneReport {
    dry_run: bool,
    plan: PrunePlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    pruned: Option<Pruned>,
}

impl Report for PruneReport {
    fn human(&self) -> String {
        let plan = &self.plan;
        let mut out = String::new();
        if plan.keep.is_empty() && plan.delete.is_empty() {
            out.push_str("no backups\n");
        } else {
            let mut t = table::new(&["id", "time", "verdict"]);
            let mut rows: Vec<&backup::prune::Decision> =
                plan.keep.iter().chain(plan.delete.iter()).collect();
            rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            for decision in rows {
                let verdict = if decision.keep() {
                    format!(
                        "keep ({})",
                        decision
                            .reasons
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else if self.dry_run {
                    "would delete".to_string()
                } else {
                    "deleted".to_string()
                };
                t.add_row(vec![
                    decision.id.clone(),
                    time(&decision.created_at),
                    verdict,
                ]);
            }
            out.push_str(&format!("{t}\n"));
        }
        for partial in &plan.stale_partials {
            out.push_str(&format!(
                "{} {} ({})\n",
                if self.dry_run {
                    "would remove"
                } else {
                    "removed"
                },
                partial.name,
                partial.stale.as_deref().unwrap_or("stale")
            ));
        }
        for partial in &plan.active_partials {
            out.push_str(&format!(
                "left {} alone: a backup in progress\n",
                partial.name
            ));
        }
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        out.push_str(&format!(
            "{verb} {} backup{}, kept {}{}\n",
            plan.delete.len(),
            if plan.delete.len() == 1 { "" } else { "s" },
            plan.keep.len(),
            match &self.pruned {
                Some(pruned) if pruned.freed_bytes > 0 =>
                    format!(", freed {}", human_bytes(pruned.freed_bytes)),
                _ => String::new(),
            }
        ));
        out
    }
}

async fn run_prune(
    settings: &Settings,
    repository: &Repository,
    args: &BackupPruneArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let configured = &settings.backup;
    let policy = Policy {
        keep_last: args.keep_last.or(configured.keep_last).unwrap_or(0),
        keep_daily: args.keep_daily.or(configured.keep_daily).unwrap_or(0),
        keep_weekly: args.keep_weekly.or(configured.keep_weekly).unwrap_or(0),
        keep_monthly: args.keep_monthly.or(configured.keep_monthly).unwrap_or(0),
    };
    let plan = backup::plan_prune(repository, policy)?;
    for unreadable in &plan.unreadable {
        printer.warn(format!(
            "left {unreadable} alone: its manifest cannot be read"
        ));
    }
    if args.dry_run || plan.is_empty() {
        printer.report(&PruneReport {
            dry_run: args.dry_run,
            plan,
            pruned: None,
        });
        return Ok(Outcome::Clean);
    }
    let mut doomed: Vec<String> = plan.delete.iter().map(|d| d.id.clone()).collect();
    doomed.extend(plan.stale_partials.iter().map(|p| p.name.clone()));
    printer.confirm(
        settings.assume_yes,
        &format!(
            "delete {} from {}",
            doomed.join(", "),
            repository.dir.display()
        ),
    )?;
    let pruned = backup::prune(settings, repository, &plan, printer).await?;
    printer.report(&PruneReport {
        dry_run: false,
        plan,
        pruned: Some(pruned),
    });
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(800), "800 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
