//! `backup prune`: the plan (which backups and abandoned partial directories go, by the
//! policy of `prune`) and its execution.

use super::*;

#[derive(Debug, Serialize)]
pub struct PrunePlan {
    pub policy: prune::Policy,
    /// Newest first.
    pub keep: Vec<prune::Decision>,
    pub delete: Vec<prune::Decision>,
    /// Abandoned `.partial` directories to remove.
    pub stale_partials: Vec<PartialDir>,
    /// `.partial` directories whose writer may still be at work: left alone.
    pub active_partials: Vec<PartialDir>,
    /// Directories without a readable manifest: never touched.
    pub unreadable: Vec<String>,
    #[serde(skip)]
    pub(super) paths: Vec<(String, PathBuf)>,
}

impl PrunePlan {
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.stale_partials.is_empty()
    }
}

pub fn plan_prune(repository: &Repository, policy: prune::Policy) -> anyhow::Result<PrunePlan> {
    if policy.is_empty() {
        return Err(Detailed::new("no retention policy: prune would delete every backup")
            .hint("set keep_last, keep_daily, keep_weekly or keep_monthly in [backup] (or pass --keep-last N ...)")
            .into());
    }
    let scan = repository.scan()?;
    let candidates: Vec<prune::Candidate> = scan
        .backups
        .iter()
        .map(|entry| prune::Candidate {
            id: entry.id.to_string(),
            created_at: entry.manifest.created_at,
            verified: entry.manifest.restore_verified_at().is_some(),
        })
        .collect();
    let (keep, delete): (Vec<_>, Vec<_>) = prune::select(&policy, &candidates)
        .into_iter()
        .partition(prune::Decision::keep);
    let (stale_partials, active_partials): (Vec<_>, Vec<_>) =
        scan.partials.into_iter().partition(|p| p.stale.is_some());
    Ok(PrunePlan {
        policy,
        keep,
        delete,
        stale_partials,
        active_partials,
        unreadable: scan.unreadable.into_iter().map(|(name, _)| name).collect(),
        paths: scan
            .backups
            .into_iter()
            .map(|entry| (entry.id.to_string(), entry.path))
            .collect(),
    })
}

#[derive(Debug, Serialize)]
pub struct Pruned {
    pub deleted: Vec<String>,
    pub removed_partials: Vec<String>,
    pub freed_bytes: u64,
}

/// Deletes what the plan says. A backup is renamed to `ID.pruning` first, so an interrupted
/// deletion never leaves something that looks like a backup.
pub async fn prune(
    settings: &Settings,
    repository: &Repository,
    plan: &PrunePlan,
    printer: &Printer,
) -> anyhow::Result<Pruned> {
    let mut recorder = Recorder::new(printer);
    if !plan.delete.is_empty() {
        recorder.open(settings).await;
    }
    let mut pruned = Pruned {
        deleted: Vec::new(),
        removed_partials: Vec::new(),
        freed_bytes: 0,
    };
    for decision in &plan.delete {
        let Some((_, path)) = plan.paths.iter().find(|(id, _)| *id == decision.id) else {
            continue;
        };
        let bytes = manifest::read(path).map(|m| m.total_bytes).unwrap_or(0);
        let doomed = repository.dir.join(format!("{}.pruning", decision.id));
        std::fs::rename(path, &doomed)
            .with_context(|| format!("cannot rename {} for deletion", path.display()))?;
        std::fs::remove_dir_all(&doomed)
            .with_context(|| format!("cannot delete {}", doomed.display()))?;
        printer.step(format!("deleted backup {}", decision.id));
        if let Some(catalog) = &recorder.catalog {
            let result = catalog.pruned(&decision.id).await;
            recorder.note(result);
        }
        pruned.freed_bytes += bytes;
        pruned.deleted.push(decision.id.clone());
    }
    for partial in &plan.stale_partials {
        std::fs::remove_dir_all(&partial.path)
            .with_context(|| format!("cannot delete {}", partial.path.display()))?;
        printer.step(format!(
            "removed {} ({})",
            partial.name,
            partial.stale.as_deref().unwrap_or("stale")
        ));
        pruned.removed_partials.push(partial.name.clone());
    }
    // Leftovers of interrupted deletions.
    if let Ok(entries) = std::fs::read_dir(&repository.dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name
                .strip_suffix(".pruning")
                .is_some_and(|id| BackupId::parse(id).is_some())
            {
                std::fs::remove_dir_all(entry.path())
                    .with_context(|| format!("cannot delete {}", entry.path().display()))?;
            }
        }
    }
    Ok(pruned)
}
