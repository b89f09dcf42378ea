//! Assertions shared by the drift tests: a hand-made change is reported, by kind, object and
//! status, in the JSON report and in the human one.

use std::path::Path;

use serde_json::Value;

use super::{PgDb, json, migrate_in};

/// The differences of the first (postgres) section of a drift report.
pub fn differences(report: &Value) -> Vec<Value> {
    report["stores"][0]["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Applies `change` by hand to the migrated `db` and asserts drift exits 2 naming `kind object`
/// as `status` (with `field` among the changed fields for `changed`), in JSON and in the human
/// report.
pub fn assert_reported(
    db: &PgDb,
    dir: &Path,
    change: &str,
    (kind, object, status): (&str, &str, &str),
    field: Option<&str>,
) {
    db.execute(change);
    let result = migrate_in(db, dir, &["--format", "json", "drift"]);
    result.assert_code(2);
    let report = json(&result);
    assert_eq!(report["clean"], false, "{}", result.stdout);
    let found = differences(&report)
        .into_iter()
        .find(|d| d["kind"] == kind && d["object"] == object && d["status"] == status);
    let Some(found) = found else {
        panic!(
            "no `{status}` difference for {kind} {object} after `{change}`:\n{}",
            result.stdout
        );
    };
    if let Some(field) = field {
        let fields: Vec<&str> = found["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{fields:?} in {found}");
    }
    let human = migrate_in(db, dir, &["drift"]);
    human.assert_code(2);
    assert!(human.stdout.contains(object), "{}", human.stdout);
}
