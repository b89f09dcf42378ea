//! `seed generate`: one table's rows as binary COPY statements of at most `batch_rows` rows,
//! and the columns each table is loaded with.

use super::*;
/// One table's COPY, split into statements of at most `batch_rows` rows.
pub(super) struct CopyStream<'a> {
    pub(super) client: &'a Client,
    pub(super) statement: String,
    pub(super) types: Vec<Type>,
    pub(super) batch_rows: u64,
    pub(super) writer: Option<Pin<Box<BinaryCopyInWriter>>>,
    pub(super) in_batch: u64,
    /// Rows the server confirmed, over finished statements.
    pub(super) confirmed: u64,
    pub(super) unreported: u64,
    pub(super) bar: &'a ProgressBar,
}

impl<'a> CopyStream<'a> {
    pub(super) async fn open(
        client: &'a Client,
        table: &'static str,
        batch_rows: u64,
        bar: &'a ProgressBar,
    ) -> anyhow::Result<CopyStream<'a>> {
        let columns = columns(table);
        // The column types (enums, citext) are the server's: read them from a query that
        // returns no rows.
        let probe = client
            .prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))
            .await
            .map_err(|err| query_error(&format!("cannot read the columns of {table}"), err))?;
        Ok(CopyStream {
            client,
            statement: format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)"),
            types: probe.columns().iter().map(|c| c.type_().clone()).collect(),
            batch_rows: batch_rows.max(1),
            writer: None,
            in_batch: 0,
            confirmed: 0,
            unreported: 0,
            bar,
        })
    }

    pub(super) async fn row(
        &mut self,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<(), tokio_postgres::Error> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let sink = self.client.copy_in(self.statement.as_str()).await?;
                self.writer
                    .insert(Box::pin(BinaryCopyInWriter::new(sink, &self.types)))
            }
        };
        writer.as_mut().write(values).await?;
        self.in_batch += 1;
        self.unreported += 1;
        if self.unreported == 4096 {
            self.bar.inc(self.unreported);
            self.unreported = 0;
        }
        if self.in_batch == self.batch_rows {
            self.end_statement().await?;
        }
        Ok(())
    }

    pub(super) async fn end_statement(&mut self) -> Result<(), tokio_postgres::Error> {
        if let Some(mut writer) = self.writer.take() {
            self.confirmed += writer.as_mut().finish().await?;
        }
        self.in_batch = 0;
        Ok(())
    }

    /// Ends the last statement; returns the rows the server counted.
    pub(super) async fn finish(mut self) -> Result<u64, tokio_postgres::Error> {
        self.end_statement().await?;
        self.bar.inc(self.unreported);
        Ok(self.confirmed)
    }
}

/// The columns each table is loaded with; the others get their defaults (NULL, `'{}'`, ...).
pub(super) fn columns(table: &str) -> &'static str {
    match table {
        "users" => {
            "id, email, password_hash, name, first_name, last_name, role, status, email_verified, \
             email_verified_at, two_factor_enabled, last_login_at, created_at, updated_at"
        }
        "organizations" => {
            "id, name, slug, description, organization_type, industry, size, status, website_url, \
             contact_email, subscription_tier, owner_id, created_at, updated_at"
        }
        "organization_members" => {
            "id, organization_id, user_id, role, invited_by, joined_at, created_at, updated_at"
        }
        "projects" => {
            "id, organization_id, parent_id, name, slug, description, status, priority, \
             project_type, manager_id, start_date, end_date, completion_date, budget, \
             estimated_hours, actual_hours, tags, created_by, created_at, updated_at"
        }
        "project_members" => {
            "id, organization_id, project_id, user_id, is_active, joined_at, created_at, updated_at"
        }
        "tasks" => {
            "id, organization_id, project_id, parent_id, assignee_id, title, description, status, \
             priority, start_date, due_date, completed_at, estimated_hours, actual_hours, tags, \
             custom_fields, created_by, created_at, updated_at"
        }
        "comments" => {
            "id, organization_id, project_id, entity_type, entity_id, parent_id, author_id, \
             content, mentions, edited_at, created_at, updated_at"
        }
        "activity_logs" => {
            "id, organization_id, user_id, project_id, action, entity_type, entity_id, metadata, \
             ip_address, user_agent, session_id, created_at"
        }
        _ => "",
    }
}
