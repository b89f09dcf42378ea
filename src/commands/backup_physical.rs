//! The `--physical` side of `migrate backup` (pgBackRest): `physical setup`, `create`, `list`
//! beside the logical backups, `verify`, point-in-time `restore` and `prune`; arguments -> plan
//! -> execute -> report. The work itself is in `crate::jobs::backup::physical`.

use serde::Serialize;

use crate::cli::{
    BackupCreateArgs, BackupPhysicalSetupArgs, BackupRestoreArgs, BackupVerifyArgs, PhysicalType,
};
use crate::config::Settings;
use crate::errors::{Detailed, Outcome, Usage};
use crate::jobs::backup::physical::{
    self, BackupType, PhysicalCreatePlan, PhysicalCreated, PhysicalListing, PhysicalPrunePlan,
    PhysicalPruned, PhysicalRestorePlan, PhysicalRestored, PhysicalVerified, SetupDone, SetupPlan,
    info::Window,
};
use crate::output::{Printer, Report, count, human_ms, table};

fn time(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn window_text(window: &Window) -> String {
    format!(
        "recoverable from {} to {}{}",
        time(&window.earliest),
        time(&window.latest),
        if window.latest_source == "latest_backup" {
            " (the newest backup; WAL archived since may reach further)"
        } else {
            " (the last archived WAL)"
        }
    )
}

// ---------------------------------------------------------------------------------------------
// setup

#[derive(Debug, Serialize)]
struct SetupReport {
    dry_run: bool,
    plan: SetupPlan,
    /// `ALTER SYSTEM` statements for what the server lacks (a restart follows).
    fixes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    done: Option<SetupDone>,
}

impl Report for SetupReport {
    fn human(&self) -> String {
        let plan = &self.plan;
        let mut out = format!(
            "pgBackRest stanza `{}`, repository {}\nconfig {}: {}\n",
            plan.stanza,
            plan.repo_path,
            plan.config_file,
            match (plan.config_action, self.dry_run) {
                ("unchanged", _) => "unchanged",
                ("create", true) => "would be written",
                ("create", false) => "written",
                (_, true) => "would be rewritten (differs from [backup.physical])",
                (_, false) => "rewritten (differed from [backup.physical])",
            }
        );
        let mut t = table::new(&["server setting", "needed", "server has it", ""]);
        for setting in &plan.server_settings {
            t.add_row(vec![
                setting.name.to_string(),
                setting.required.clone(),
                if setting.ok {
                    "yes".to_string()
                } else {
                    setting
                        .current
                        .clone()
                        .unwrap_or_else(|| "(unknown)".into())
                },
                if setting.ok { "ok" } else { "MISSING" }.to_string(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
        if !self.fixes.is_empty() {
            out.push_str("the server does not archive into this stanza yet; as a superuser run:\n");
            for fix in &self.fixes {
                out.push_str(&format!("  {fix}\n"));
            }
            out.push_str(
                "then restart the server (archive_mode and wal_level need a restart) and run setup again\n",
            );
        }
        if let Some(done) = &self.done {
            out.push_str(&format!(
                "stanza-create: ok; check: {}\n",
                if done.checked {
                    "ok (WAL reaches the repository)"
                } else {
                    "not run (the server lacks the settings above)"
                }
            ));
        }
        out
    }
}

pub async fn run_setup(
    settings: &Settings,
    args: &BackupPhysicalSetupArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let pgb = physical::configured(settings)?;
    let plan = physical::plan_setup(settings, &pgb).await?;
    let fixes = plan.fixes();
    let ready = plan.server_ready();
    if args.dry_run {
        printer.report(&SetupReport {
            dry_run: true,
            plan,
            fixes,
            done: None,
        });
        return Ok(Outcome::Clean);
    }
    let done = physical::setup(&pgb, &plan, printer).await?;
    printer.report(&SetupReport {
        dry_run: false,
        plan,
        fixes,
        done: Some(done),
    });
    Ok(Outcome::clean_if(ready))
}

// ---------------------------------------------------------------------------------------------
// create

#[derive(Debug, Serialize)]
struct CreateReport {
    dry_run: bool,
    physical: bool,
    plan: PhysicalCreatePlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<PhysicalCreated>,
}

impl Report for CreateReport {
    fn human(&self) -> String {
        match &self.backup {
            None => format!(
                "{} physical backup of stanza `{}` into {} (dry run, nothing written)\n  {}\n",
                self.plan.kind.name(),
                self.plan.stanza,
                self.plan.repo_path,
                self.plan.command
            ),
            Some(created) => format!(
                "physical backup {} ({}): {} of database files, {} in the repository, in {}\n",
                created.backup.label,
                created.backup.kind,
                bytes(created.backup.size_bytes),
                bytes(created.backup.repo_bytes),
                human_ms(created.duration_ms)
            ),
        }
    }
}

pub async fn run_create(
    settings: &Settings,
    args: &BackupCreateArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let pgb = physical::configured(settings)?;
    let kind = match args.kind {
        PhysicalType::Full => BackupType::Full,
        PhysicalType::Diff => BackupType::Diff,
        PhysicalType::Incr => BackupType::Incr,
    };
    let plan = physical::plan_create(&pgb, kind)?;
    if args.dry_run {
        printer.report(&CreateReport {
            dry_run: true,
            physical: true,
            plan,
            backup: None,
        });
        return Ok(Outcome::Clean);
    }
    printer.step(format!(
        "{} physical backup of stanza `{}` into {}",
        plan.kind.name(),
        plan.stanza,
        plan.repo_path
    ));
    let created = physical::create(&pgb, &plan).await?;
    if created.backup.kind != plan.kind.name() {
        printer.note(format!(
            "pgBackRest took a {} backup: a {} needs an earlier full backup",
            created.backup.kind,
            plan.kind.name()
        ));
    }
    printer.report(&CreateReport {
        dry_run: false,
        physical: true,
        plan,
        backup: Some(created),
    });
    Ok(Outcome::Clean)
}

// ---------------------------------------------------------------------------------------------
// list

/// The physical part of `backup list` (human text), printed after the logical table.
pub fn listing_text(listing: &PhysicalListing) -> String {
    if listing.backups.is_empty() {
        return format!(
            "no physical backups in stanza `{}` ({})\n",
            listing.stanza, listing.repo_path
        );
    }
    let mut t = table::new(&["label", "type", "started", "stopped", "size", "in repo"]);
    for backup in &listing.backups {
        t.add_row(vec![
            backup.label.clone(),
            backup.kind.clone(),
            time(&backup.started_at),
            time(&backup.stopped_at),
            bytes(backup.size_bytes),
            bytes(backup.repo_bytes),
        ]);
    }
    let mut out = format!(
        "physical backups (pgBackRest stanza `{}`, {})\n{t}\n",
        listing.stanza, listing.repo_path
    );
    if let Some(window) = &listing.window {
        out.push_str(&window_text(window));
        out.push('\n');
    }
    out
}

/// `backup list`'s physical part, when `[backup.physical]` is configured.
pub async fn list(settings: &Settings) -> anyhow::Result<Option<PhysicalListing>> {
    if settings.backup.physical.is_none() {
        return Ok(None);
    }
    let pgb = physical::configured(settings)?;
    Ok(Some(physical::list(settings, &pgb).await?))
}

// ---------------------------------------------------------------------------------------------
// verify

impl Report for PhysicalVerified {
    fn human(&self) -> String {
        let mut out = String::new();
        if self.problems.is_empty() {
            out.push_str(&format!(
                "stanza `{}`: pgBackRest verify ok ({})\n",
                self.stanza,
                count(self.backups, "backup")
            ));
        } else {
            out.push_str(&format!(
                "stanza `{}`: {}\n",
                self.stanza,
                count(self.problems.len(), "problem")
            ));
            for problem in &self.problems {
                out.push_str(&format!("  {problem}\n"));
            }
        }
        if let Some(restore) = &self.restore {
            if restore.problems.is_empty() {
                out.push_str(&format!(
                    "  test restore: a scratch server on port {} recovered and holds all {} of {} ({})\n",
                    restore.port,
                    count(restore.tables_expected, "table"),
                    restore.database,
                    human_ms(restore.duration_ms)
                ));
            } else {
                out.push_str("  test restore:\n");
                for problem in &restore.problems {
                    out.push_str(&format!("    {problem}\n"));
                }
            }
        }
        out
    }
}

pub async fn run_verify(
    settings: &Settings,
    args: &BackupVerifyArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let pgb = physical::configured(settings)?;
    let verified = physical::verify(settings, &pgb, args.restore, printer).await?;
    if args.restore && verified.restore.is_none() {
        printer.note("test restore skipped: pgBackRest verify found problems");
    }
    printer.report(&verified);
    Ok(Outcome::clean_if(verified.ok))
}

// ---------------------------------------------------------------------------------------------
// restore

#[derive(Debug, Serialize)]
struct RestoreReport {
    dry_run: bool,
    physical: bool,
    plan: PhysicalRestorePlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    restored: Option<PhysicalRestored>,
}

impl Report for RestoreReport {
    fn human(&self) -> String {
        let plan = &self.plan;
        let what = format!(
            "point-in-time restore of stanza `{}` to {} (from backup {}) into {}",
            plan.stanza,
            plan.to_time.to_rfc3339(),
            plan.backup,
            plan.data_dir
        );
        match &self.restored {
            None => format!("{what} (dry run, nothing written)\n  {}\n", plan.command),
            Some(restored) => format!(
                "{what}: done in {}\n\
                 start it (it replays WAL up to {}, then promotes and opens read-write):\n  {}\n",
                human_ms(restored.duration_ms),
                plan.to_time.to_rfc3339(),
                restored.start_command
            ),
        }
    }
}

pub async fn run_restore(
    settings: &Settings,
    args: &BackupRestoreArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let (Some(to_time), Some(data_dir)) = (&args.to_time, &args.data_dir) else {
        // clap requires both with --physical.
        return Err(Usage(Detailed::new("--physical needs --to-time and --data-dir")).into());
    };
    let to_time = physical::parse_target_time(to_time)
        .map_err(|message| Usage(Detailed::new(format!("--to-time: {message}"))))?;
    let pgb = physical::configured(settings)?;
    // The WAL being written when `to_time` passed is archived only once its segment is full:
    // without a switch the restored server stops short of the target and refuses to start.
    if !args.dry_run && to_time <= chrono::Utc::now() {
        physical::archive_through(settings, to_time, std::time::Duration::from_secs(60)).await;
    }
    let plan = physical::plan_restore(settings, &pgb, to_time, data_dir).await?;
    if plan.window.latest_source == "latest_backup" && plan.to_time > plan.window.latest {
        printer.warn(format!(
            "{} is after the newest backup and no WAL archived since reaches it (the server could not be asked, or has not archived it yet): recovery stops short of the target and the restored server refuses to start",
            plan.to_time.to_rfc3339()
        ));
    }
    if args.dry_run {
        printer.report(&RestoreReport {
            dry_run: true,
            physical: true,
            plan,
            restored: None,
        });
        return Ok(Outcome::Clean);
    }
    printer.confirm(
        settings.assume_yes,
        &format!(
            "restore stanza `{}` to {} into {}",
            plan.stanza,
            plan.to_time.to_rfc3339(),
            plan.data_dir
        ),
    )?;
    let restored = physical::restore(settings, &pgb, &plan).await?;
    printer.report(&RestoreReport {
        dry_run: false,
        physical: true,
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
    physical: bool,
    plan: PhysicalPrunePlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    pruned: Option<PhysicalPruned>,
}

impl Report for PruneReport {
    fn human(&self) -> String {
        let plan = &self.plan;
        let mut out = format!(
            "stanza `{}`: keeping {} (keep_full {}, wal_days {})\n",
            plan.stanza,
            count(plan.fulls_kept, "full backup"),
            plan.keep_full.map_or("-".into(), |n| n.to_string()),
            plan.wal_days.map_or("-".into(), |n| n.to_string()),
        );
        for label in &plan.expire {
            out.push_str(&format!(
                "  {} {label}\n",
                if self.dry_run {
                    "would expire"
                } else {
                    "expired"
                }
            ));
        }
        if plan.expire.is_empty() {
            out.push_str("  nothing to expire\n");
        }
        out
    }
}

pub async fn run_prune(
    settings: &Settings,
    dry_run: bool,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let pgb = physical::configured(settings)?;
    let plan = physical::plan_prune(&pgb).await?;
    if dry_run || plan.expire.is_empty() {
        printer.report(&PruneReport {
            dry_run,
            physical: true,
            plan,
            pruned: None,
        });
        return Ok(Outcome::Clean);
    }
    printer.confirm(
        settings.assume_yes,
        &format!(
            "expire {} (and the WAL only they need) from stanza `{}`",
            plan.expire.join(", "),
            plan.stanza
        ),
    )?;
    let pruned = physical::prune(&pgb, &plan).await?;
    printer.report(&PruneReport {
        dry_run: false,
        physical: true,
        plan,
        pruned: Some(pruned),
    });
    Ok(Outcome::Clean)
}
