//! The `backup_snapshots` table (migration V15), when the database has it: one row per backup,
//! so operators can query backup history with SQL. The backup directory and its manifest stay
//! the source of truth; failing to record here is a warning, never a failed backup.

use tokio_postgres::Client;

use crate::config::PgSettings;
use crate::errors::DbError;

pub struct Catalog {
    client: Client,
}

/// The catalog of `settings`' database, or `None` when it has no `backup_snapshots` table.
pub async fn open(settings: &PgSettings) -> anyhow::Result<Option<Catalog>> {
    let client = settings
        .target
        .connect(&format!("migrate {} backup catalog", crate::TOOL_VERSION))
        .await?;
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('public.backup_snapshots') IS NOT NULL",
            &[],
        )
        .await
        .map_err(|err| DbError::new("cannot look for backup_snapshots", err))?
        .get(0);
    Ok(exists.then_some(Catalog { client }))
}

impl Catalog {
    pub async fn started(&self, id: &str, stores: &[&str], location: &str) -> anyhow::Result<()> {
        let stores: Vec<String> = stores.iter().map(ToString::to_string).collect();
        self.client
            .execute(
                "INSERT INTO public.backup_snapshots (backup_id, status, stores, location, tool_version)
                 VALUES ($1, 'running', $2, $3, $4)
                 ON CONFLICT (backup_id) DO NOTHING",
                &[&id, &stores, &location, &crate::TOOL_VERSION],
            )
            .await
            .map_err(catalog_error)?;
        Ok(())
    }

    pub async fn completed(
        &self,
        id: &str,
        location: &str,
        size_bytes: u64,
        manifest: &serde_json::Value,
    ) -> anyhow::Result<()> {
        let size = i64::try_from(size_bytes).unwrap_or(i64::MAX);
        self.client
            .execute(
                "UPDATE public.backup_snapshots
                 SET status = 'completed', size_bytes = $2, manifest = $3, location = $4,
                     completed_at = greatest(now(), created_at), error = NULL
                 WHERE backup_id = $1",
                &[&id, &size, manifest, &location],
            )
            .await
            .map_err(catalog_error)?;
        Ok(())
    }

    pub async fn failed(&self, id: &str, error: &str) -> anyhow::Result<()> {
        self.client
            .execute(
                "UPDATE public.backup_snapshots
                 SET status = 'failed', error = $2, completed_at = greatest(now(), created_at)
                 WHERE backup_id = $1",
                &[&id, &error],
            )
            .await
            .map_err(catalog_error)?;
        Ok(())
    }

    /// Records a verification; `verified_at` moves only when it passed.
    pub async fn verified(
        &self,
        id: &str,
        passed: bool,
        manifest: &serde_json::Value,
    ) -> anyhow::Result<()> {
        self.client
            .execute(
                "UPDATE public.backup_snapshots
                 SET manifest = $3, verified_at = CASE WHEN $2 THEN now() ELSE verified_at END
                 WHERE backup_id = $1",
                &[&id, &passed, manifest],
            )
            .await
            .map_err(catalog_error)?;
        Ok(())
    }

    pub async fn pruned(&self, id: &str) -> anyhow::Result<()> {
        self.client
            .execute(
                "UPDATE public.backup_snapshots SET status = 'pruned' WHERE backup_id = $1",
                &[&id],
            )
            .await
            .map_err(catalog_error)?;
        Ok(())
    }
}

fn catalog_error(err: tokio_postgres::Error) -> DbError {
    DbError::new("cannot record the backup in backup_snapshots", err)
}
