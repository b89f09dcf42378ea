//! `backup list`: the repository's backups, partial directories and unreadable entries.

use super::*;

#[derive(Debug, Serialize)]
pub struct Listing {
    pub directory: String,
    /// Newest first.
    pub backups: Vec<Listed>,
    /// `.partial` directories: never listed as backups.
    pub partials: Vec<PartialDir>,
    pub unreadable: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Listed {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub size_bytes: u64,
    pub stores: Vec<&'static str>,
    /// The newest restore verification that passed.
    pub verified_at: Option<DateTime<Utc>>,
    pub last_verification: Option<Verification>,
}

pub fn list(repository: &Repository) -> anyhow::Result<Listing> {
    let scan = repository.scan()?;
    Ok(Listing {
        directory: repository.dir.display().to_string(),
        backups: scan
            .backups
            .iter()
            .rev()
            .map(|entry| Listed {
                id: entry.id.to_string(),
                created_at: entry.manifest.created_at,
                size_bytes: entry.manifest.total_bytes,
                stores: entry.manifest.stores.names(),
                verified_at: entry.manifest.restore_verified_at(),
                last_verification: entry.manifest.last_verification().cloned(),
            })
            .collect(),
        partials: scan.partials,
        unreadable: scan
            .unreadable
            .into_iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect(),
    })
}
