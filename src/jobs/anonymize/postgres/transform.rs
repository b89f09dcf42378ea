//! Anonymization on PostgreSQL: transforming one row's values (columns and JSON paths) by
//! the rules, and the SQL that writes them back.

use super::*;

/// `table.path:pk`: the stable input of fake and unique outputs.
pub(in crate::jobs::anonymize) fn row_key(table: &str, path: &str, pk: &str) -> String {
    format!("{table}.{path}:{pk}")
}

pub(in crate::jobs::anonymize) fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Applies a strategy at `keys` inside `node`; arrays apply it to each element.
pub(super) fn apply_path(
    key: &Key,
    node: &mut Value,
    keys: &[String],
    strategy: Strategy,
    target: Target<'_>,
    originals: &mut Vec<(ValueKind, String)>,
) -> bool {
    let Some((first, rest)) = keys.split_first() else {
        return false;
    };
    match node {
        Value::Array(items) => {
            let mut changed = false;
            for item in items {
                changed |= apply_path(key, item, keys, strategy, target, originals);
            }
            changed
        }
        Value::Object(map) => {
            if !rest.is_empty() {
                return match map.get_mut(first) {
                    Some(child) => apply_path(key, child, rest, strategy, target, originals),
                    None => false,
                };
            }
            let Some(current) = map.get(first) else {
                return false;
            };
            let text = json_text(current);
            let output = transform(key, strategy, target, text.as_deref());
            if let (Some(text), false) = (&text, output == Output::Unchanged) {
                originals.push((target.kind, text.clone()));
            }
            match output {
                Output::Unchanged => false,
                Output::Set(new) => {
                    map.insert(first.clone(), Value::String(new));
                    true
                }
                Output::Null => {
                    map.insert(first.clone(), Value::Null);
                    true
                }
                Output::Remove => {
                    map.remove(first);
                    true
                }
            }
        }
        _ => false,
    }
}

/// The new value of one column, or `None` when it does not change. Originals of identifying
/// values are pushed to `originals`.
pub(super) fn transform_column(
    key: &Key,
    table: &str,
    plan: &ColumnPlan,
    pk: &str,
    value: Option<&str>,
    originals: &mut Vec<(ValueKind, String)>,
) -> Option<Option<String>> {
    if let Some((strategy, kind)) = plan.whole {
        let row_key = row_key(table, &plan.column.name, pk);
        let target = Target {
            kind,
            unique: plan.column.unique,
            row_key: &row_key,
        };
        let output = transform(key, strategy, target, value);
        if let (Some(v), false) = (value, output == Output::Unchanged) {
            originals.push((kind, v.to_string()));
        }
        return match output {
            Output::Unchanged => None,
            Output::Null | Output::Remove => Some(None),
            Output::Set(new) if plan.column.is_json() => {
                let encoded = Value::String(new).to_string();
                (value != Some(encoded.as_str())).then_some(Some(encoded))
            }
            Output::Set(new) => Some(Some(new)),
        };
    }
    let mut json: Value = serde_json::from_str(value?).ok()?;
    let mut changed = false;
    for path in &plan.paths {
        let row_key = row_key(table, &path.path, pk);
        let target = Target {
            kind: path.kind,
            unique: false,
            row_key: &row_key,
        };
        changed |= apply_path(key, &mut json, &path.keys, path.strategy, target, originals);
    }
    changed.then(|| Some(json.to_string()))
}
