//! `migrate export user ID [-o FILE]`: the subject's data as one JSON bundle, recorded as an
//! export request in `gdpr_requests`. The work is in `crate::jobs::export`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Context;
use crate::cli::{ExportAction, ExportArgs, ExportUserArgs};
use crate::errors::Outcome;
use crate::jobs::anonymize::{self, KeyUse};
use crate::jobs::export;
use crate::output::{Report, count};

/// What is printed when the bundle went to a file.
#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub subject: String,
    pub file: String,
    pub counts: BTreeMap<&'static str, u64>,
    pub request_id: Option<String>,
}

impl ExportReport {
    fn count(&self, what: &str) -> u64 {
        self.counts.get(what).copied().unwrap_or(0)
    }
}

impl Report for ExportReport {
    fn human(&self) -> String {
        format!(
            "exported user {} to {}: {}, {}, {}\n",
            self.subject,
            self.file,
            count(self.count("postgres_rows"), "row"),
            count(self.count("mongo_documents"), "document"),
            count(self.count("redis_keys"), "key")
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
    // Exporting hashes nothing but the ledger's name for the subject: without the key the
    // bundle is still written, and the request is not recorded.
    let prepared = anonymize::prepare(&context.settings, KeyUse::IfSet).await?;
    let subject = args.id.trim().to_lowercase();
    anonymize::ensure_subject(&prepared, &subject).await?;
    let bundle = export::collect(&prepared, &subject).await?;
    let counts = bundle.counts();
    let request_id = if prepared.plan.ledger_table && !prepared.has_key() {
        let key_env = &prepared.rules.key_env;
        printer.warn(format!(
            "the export was not recorded in gdpr_requests: the ledger names subjects by an HMAC, and ${key_env} (the anonymization key) is not set"
        ));
        printer.hint(format!(
            "set {key_env} and export again to record the request"
        ));
        None
    } else if prepared.plan.ledger_table {
        Some(export::record_request(&prepared, &subject, &counts).await?)
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
