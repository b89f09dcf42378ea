//! `migrate export user ID [-o FILE]`: the subject's data as one JSON bundle, recorded as an
//! export request in `gdpr_requests`. The work is in `crate::jobs::export`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Context;
use crate::cli::{ExportAction, ExportArgs, ExportUserArgs};
use crate::errors::Outcome;
use crate::jobs::{anonymize, export};
use crate::output::Report;

/// What is printed when the bundle went to a file.
#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub subject: String,
    pub file: String,
    pub counts: BTreeMap<&'static str, u64>,
    pub request_id: Option<String>,
}

impl Report for ExportReport {
    fn human(&self) -> String {
        format!(
            "exported user {} to {}: {} rows, {} documents, {} keys\n",
            self.subject,
            self.file,
            self.counts.get("postgres_rows").unwrap_or(&0),
            self.counts.get("mongo_documents").unwrap_or(&0),
            self.counts.get("redis_keys").unwrap_or(&0)
        )
    }
}

/// The bundle itself is the data printed on stdout (JSON in both formats).
impl Report for export::Bundle {
    fn human(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

pub async fn run(context: &Context, args: &ExportArgs) -> anyhow::Result<Outcome> {
    match &args.action {
        ExportAction::User(args) => user(context, args).await,
    }
}

async fn user(context: &Context, args: &ExportUserArgs) -> anyhow::Result<Outcome> {
    let printer = &context.printer;
    let prepared = anonymize::prepare(&context.settings).await?;
    let subject = args.id.trim().to_lowercase();
    anonymize::ensure_subject(&prepared, &subject).await?;
    let bundle = export::collect(&prepared, &subject).await?;
    let counts = bundle.counts();
    let request_id = if prepared.plan.ledger_table {
        let hmac = prepared.key().subject_hmac(&subject);
        Some(
            anonymize::ledger::insert_request(
                &prepared.client,
                "export",
                &hmac,
                "completed",
                &serde_json::json!(counts),
            )
            .await?,
        )
    } else {
        None
    };
    match &args.output {
        Some(path) => {
            export::write(path, &bundle)?;
            printer.report(&ExportReport {
                subject,
                file: path.display().to_string(),
                counts,
                request_id,
            });
        }
        None => printer.report(&bundle),
    }
    Ok(Outcome::Clean)
}
