//! `anonymize user ID...` and `anonymize verify ID...`: erasure of named subjects, and the
//! check that an erasure still holds.
//!
//! An erasure keeps the subjects' original values as fingerprints before it changes anything
//! (merged with what earlier runs kept), anonymizes and marks each subject's rows in a
//! transaction of its own, then its documents and keys, and ends with one search of every
//! store for all the subjects together, which also replaces their values in other people's
//! text (replace rules). Every run adds its outcome to `gdpr_requests`; the places where values
//! were still found are kept in `gdpr_erasures` and reported again until they are gone.

use std::collections::BTreeMap;

use serde::Serialize;

use super::needles::{Fingerprinter, Needles};
use super::{Prepared, TargetCount, Verification, ledger, mongo, postgres, redis};
use crate::errors::Detailed;
use crate::output::Printer;

#[derive(Debug, Clone, Serialize)]
pub struct UserReport {
    pub subject: String,
    /// HMAC of the subject's id: its name in `gdpr_requests` and `gdpr_erasures`.
    pub subject_hmac: String,
    pub database: String,
    pub dry_run: bool,
    /// What the subject has per target (with --dry-run: what would be anonymized).
    pub plan: Vec<TargetCount>,
    /// What this run changed (the subject's rows, documents and keys, and other people's rows
    /// whose text had its values replaced).
    pub changed: Vec<TargetCount>,
    /// A completed erasure was recorded before and this run changed and found nothing.
    pub already_erased: bool,
    /// The `gdpr_requests` row recording this run.
    pub request_id: Option<String>,
    pub verification: Option<Verification>,
    pub notes: Vec<String>,
}

/// The report of `anonymize verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub subject: String,
    pub subject_hmac: String,
    pub database: String,
    /// When hits were found: the `gdpr_requests` row recording the erasure as failed.
    pub request_id: Option<String>,
    pub verification: Verification,
    pub notes: Vec<String>,
}

/// Reports of several subjects: `{"reports": [...]}` in JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Reports<T> {
    pub reports: Vec<T>,
}

/// The subjects' ids, trimmed, lower-cased and without repeats (in the order given).
pub fn normalize_ids(ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        let id = id.trim().to_lowercase();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The gathered needles of the subjects: kept fingerprints (made with this key: anything else
/// is refused) and the values their rows hold now. Returns, per subject, how many
/// fingerprints were kept and where the last run found values.
async fn gather(
    prepared: &Prepared,
    subjects: &[String],
    hmacs: &[String],
) -> anyhow::Result<(Needles, Vec<u64>, Vec<Vec<ledger::Place>>, Vec<bool>)> {
    // Cloned: the work below borrows `prepared` mutably.
    let key = prepared.key()?.clone();
    let mut needles = Needles::new(Fingerprinter::new(&key));
    for subject in subjects {
        needles.subject(subject);
    }
    let kept = ledger::load_erasures(&prepared.client, hmacs).await?;
    let key_fingerprint = key.fingerprint();
    let mut counts = Vec::new();
    let mut earlier = Vec::new();
    let mut known = Vec::new();
    for (i, hmac) in hmacs.iter().enumerate() {
        match kept.get(hmac) {
            Some(erasure) if erasure.key_fingerprint != key_fingerprint => {
                return Err(Detailed::new(format!(
                    "the fingerprints kept for subject {} were made with another anonymization key: this run could not search for the values erased before; nothing was changed",
                    subjects[i]
                ))
                .context(format!(
                    "kept with the key of fingerprint {}; ${} holds the key of fingerprint {key_fingerprint}",
                    erasure.key_fingerprint, prepared.rules.key_env
                ))
                .hint(format!(
                    "set {} to the key of the earlier erasure",
                    prepared.rules.key_env
                ))
                .into());
            }
            Some(erasure) => {
                for needle in &erasure.needles {
                    needles.add_stored(i as u32, needle);
                }
                counts.push(erasure.needles.len() as u64);
                earlier.push(erasure.hits.clone());
                known.push(true);
            }
            None => {
                counts.push(0);
                earlier.push(Vec::new());
                known.push(false);
            }
        }
    }
    super::capture(prepared, subjects, &mut needles).await?;
    Ok((needles, counts, earlier, known))
}

/// Erases the subjects everywhere, then searches every store once for all of them. The ledger
/// rows say how far each got.
pub async fn erase_users(
    prepared: &mut Prepared,
    ids: &[String],
    printer: &Printer,
) -> anyhow::Result<Vec<UserReport>> {
    // Cloned: the work below borrows `prepared` mutably.
    let key = prepared.key()?.clone();
    super::require_erasure_tables(prepared)?;
    let subjects = normalize_ids(ids);
    let hmacs: Vec<String> = subjects.iter().map(|s| key.subject_hmac(s)).collect();
    let mut plans = Vec::new();
    for subject in &subjects {
        plans.push(super::plan_user(prepared, subject).await?);
    }
    let mut notes = Vec::new();
    if !prepared.plan.trigger_flag {
        notes.push(
            "audit_trigger() predates migration V19: the anonymizing UPDATE's audit rows are scrubbed after it instead of never holding values".to_string(),
        );
    }

    // 1. The original values, kept as fingerprints before anything changes.
    printer.step("capturing the original values");
    let (mut needles, kept, earlier, _) = gather(prepared, &subjects, &hmacs).await?;
    super::finish_needles(prepared, None, &mut needles).await?;
    let stored: Vec<(String, Vec<super::needles::StoredNeedle>)> = hmacs
        .iter()
        .enumerate()
        .map(|(i, hmac)| (hmac.clone(), needles.stored(i as u32)))
        .collect();
    ledger::save_needles(&prepared.client, &key.fingerprint(), &stored, None).await?;

    // 2. The ledger rows: an unfinished one is reused, else this run opens one.
    let mut latest = Vec::new();
    let mut requests = Vec::new();
    for hmac in &hmacs {
        let last = ledger::latest_request(&prepared.client, "erasure", hmac).await?;
        let id = match &last {
            Some((id, status)) if status != "completed" && status != "failed" => id.clone(),
            _ => {
                ledger::insert_request(
                    &prepared.client,
                    "erasure",
                    hmac,
                    "in_progress",
                    &serde_json::json!({}),
                )
                .await?
            }
        };
        latest.push(last);
        requests.push(id);
    }

    // 3. Each subject's rows (one transaction each, marked), documents and keys.
    let mut changed: Vec<Vec<TargetCount>> = vec![Vec::new(); subjects.len()];
    for (i, subject) in subjects.iter().enumerate() {
        printer.step(format!("anonymizing {subject}"));
        if let Err(error) = apply_one(prepared, subject, &needles, &mut changed[i]).await {
            fail_requests(prepared, &requests[i..], &changed[i..]).await;
            return Err(error);
        }
    }

    // 4. One search of every store: other people's text gets the values replaced, anything
    //    else that counts is a hit.
    printer.step(
        "searching every store for the original values (and replacing them in the replace columns)",
    );
    let (findings, search_notes) = match super::sweep_all(prepared, &needles, true, false).await {
        Ok(done) => done,
        Err(error) => {
            fail_requests(prepared, &requests, &changed).await;
            return Err(error.context("the subjects are anonymized, the search of every store did not finish: run it again"));
        }
    };
    notes.extend(search_notes);

    // 5. Per subject: the verification, the ledger, the places kept for the next run.
    let mut reports = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        let index = i as u32;
        let verification = Verification::of(&needles, &findings, index, kept[i], &earlier[i]);
        let mut changed = std::mem::take(&mut changed[i]);
        for (target, n) in &verification.replaced {
            let (store, target) = target.split_once(':').unwrap_or(("postgres", target));
            changed.push(TargetCount {
                store: store.to_string(),
                target: format!("{target} (replaced)"),
                action: "replace the subject's values".to_string(),
                count: *n,
            });
        }
        let status = if verification.hits_total == 0 {
            "completed"
        } else {
            "failed"
        };
        let counts = counts_json(&changed, Some(&verification));
        let error = failure_text(&verification);
        ledger::finish_request(
            &prepared.client,
            &requests[i],
            status,
            &counts,
            error.as_deref(),
        )
        .await?;
        let places: Vec<ledger::Place> =
            verification.hits.iter().map(ledger::Place::from).collect();
        ledger::save_hits(&prepared.client, &hmacs[i], &places).await?;
        let total: u64 = changed.iter().map(|c| c.count).sum();
        let already_erased = matches!(&latest[i], Some((_, status)) if status == "completed")
            && total == 0
            && verification.hits_total == 0;
        reports.push(UserReport {
            subject: subject.clone(),
            subject_hmac: hmacs[i].clone(),
            database: prepared.database.clone(),
            dry_run: false,
            plan: std::mem::take(&mut plans[i]),
            changed,
            already_erased,
            request_id: Some(requests[i].clone()),
            verification: Some(verification),
            notes: notes.clone(),
        });
    }
    Ok(reports)
}

/// One subject's rows (and their audit copies, and the mark) in one transaction, then its
/// documents and keys.
async fn apply_one(
    prepared: &mut Prepared,
    subject: &str,
    needles: &Needles,
    changed: &mut Vec<TargetCount>,
) -> anyhow::Result<()> {
    // Cloned: the work below borrows `prepared` mutably.
    let key = prepared.key()?.clone();
    let subjects = vec![subject.to_string()];
    let tx =
        postgres::begin_batch(&mut prepared.client, prepared.rules.lock_timeout, false).await?;
    let outcome = postgres::apply_batch(&tx, &key, &prepared.plan, &subjects, true).await?;
    tx.commit()
        .await
        .map_err(|e| anyhow::anyhow!("cannot commit: {e}"))?;
    changed.extend(super::target_counts(prepared, "postgres", outcome.counts));
    if let Some((database, _)) = &prepared.mongo {
        let counts = mongo::apply(database, &key, &prepared.rules.collections, &subjects)
            .await
            .map_err(|e| {
                anyhow::Error::from(e).context("postgres is anonymized, mongo is not: run again")
            })?;
        changed.extend(super::target_counts(prepared, "mongo", counts));
    }
    if let Some((topology, _, plans)) = &prepared.redis {
        let counts = redis::apply(topology, plans, &subjects, Some(needles), false, false)
            .await
            .map_err(|e| {
                anyhow::Error::from(e)
                    .context("postgres and mongo are anonymized, redis is not: run again")
            })?;
        changed.extend(super::target_counts(prepared, "redis", counts));
    }
    Ok(())
}

/// Closes the ledger rows of subjects whose erasure stopped.
async fn fail_requests(prepared: &Prepared, requests: &[String], changed: &[Vec<TargetCount>]) {
    for (id, changed) in requests.iter().zip(changed) {
        let _ = ledger::finish_request(
            &prepared.client,
            id,
            "failed",
            &counts_json(changed, None),
            Some("the erasure stopped before it completed; run it again"),
        )
        .await;
    }
}

/// The ledger's error text for a verification with hits: places and kinds, never values.
fn failure_text(verification: &Verification) -> Option<String> {
    if verification.hits_total == 0 {
        return None;
    }
    let mut places: Vec<String> = verification
        .hits
        .iter()
        .map(|h| format!("{} {} ({})", h.store, h.location, h.kind.as_str()))
        .collect();
    places.sort();
    places.dedup();
    Some(format!(
        "verification found original values in {} place{}: {}",
        verification.hits_total,
        if verification.hits_total == 1 {
            ""
        } else {
            "s"
        },
        places.join(", ")
    ))
}

/// Checks that erasures still hold: every store is searched for the kept fingerprints (and for
/// any original value the subjects' rows hold again); nothing is changed. A hit records the
/// erasure as failed in the ledger.
pub async fn verify_users(
    prepared: &mut Prepared,
    ids: &[String],
    printer: &Printer,
) -> anyhow::Result<Vec<VerifyReport>> {
    // Cloned: the work below borrows `prepared` mutably.
    let key = prepared.key()?.clone();
    super::require_erasure_tables(prepared)?;
    let subjects = normalize_ids(ids);
    let hmacs: Vec<String> = subjects.iter().map(|s| key.subject_hmac(s)).collect();
    let (mut needles, kept, earlier, known) = gather(prepared, &subjects, &hmacs).await?;
    let unknown: Vec<&str> = subjects
        .iter()
        .zip(&known)
        .filter(|(_, k)| !**k)
        .map(|(s, _)| s.as_str())
        .collect();
    if !unknown.is_empty() {
        return Err(Detailed::new(format!(
            "no erasure of {} is recorded in gdpr_erasures: there is nothing to verify against",
            unknown.join(", ")
        ))
        .hint(format!(
            "erase first: migrate anonymize user {}",
            unknown.join(" ")
        ))
        .into());
    }
    super::finish_needles(prepared, None, &mut needles).await?;
    printer.step("searching every store for the original values");
    let (findings, notes) = super::sweep_all(prepared, &needles, false, false).await?;
    let mut reports = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        let verification = Verification::of(&needles, &findings, i as u32, kept[i], &earlier[i]);
        let places: Vec<ledger::Place> =
            verification.hits.iter().map(ledger::Place::from).collect();
        ledger::save_hits(&prepared.client, &hmacs[i], &places).await?;
        let request_id = match failure_text(&verification) {
            Some(error) => {
                let counts = counts_json(&[], Some(&verification));
                let id = ledger::insert_request(
                    &prepared.client,
                    "erasure",
                    &hmacs[i],
                    "failed",
                    &counts,
                )
                .await?;
                ledger::finish_request(&prepared.client, &id, "failed", &counts, Some(&error))
                    .await?;
                Some(id)
            }
            None => None,
        };
        reports.push(VerifyReport {
            subject: subject.clone(),
            subject_hmac: hmacs[i].clone(),
            database: prepared.database.clone(),
            request_id,
            verification,
            notes: notes.clone(),
        });
    }
    Ok(reports)
}

/// The ledger's `counts`: changes per store and target, and a summary of the verification
/// (numbers and kinds only).
fn counts_json(changed: &[TargetCount], verification: Option<&Verification>) -> serde_json::Value {
    let mut stores: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for c in changed {
        *stores
            .entry(c.store.clone())
            .or_default()
            .entry(c.target.clone())
            .or_default() += c.count;
    }
    let mut value = serde_json::json!(stores);
    if let Some(v) = verification {
        value["verification"] = serde_json::json!({
            "values": v.values,
            "hits": v.hits_total,
            "ambiguous": v.ambiguous.iter().map(|a| a.count).sum::<u64>(),
            "earlier_hits_remaining": v.earlier_hits_remaining,
            "tables": v.searched.tables,
            "documents": v.searched.documents,
            "keys": v.searched.keys,
        });
    }
    value
}
