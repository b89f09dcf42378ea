//! Comparing two snapshots object by object: what is missing from the actual schema, what is
//! there unexpectedly, and which properties of common objects changed.

use std::collections::BTreeSet;

use serde::Serialize;

use super::snapshot::{Object, ObjectKind, Snapshot, UNCOMPARED_FIELDS, Value};
pub use crate::core::drift::Status;

/// One object that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub kind: ObjectKind,
    pub object: String,
    pub status: Status,
    /// The properties that differ (for `changed`), in name order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDifference>,
}

/// One property of a changed object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDifference {
    pub field: String,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
    /// For long or multi-line text: a unified diff from expected to actual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// The result of a comparison.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub differences: Vec<Difference>,
    /// Objects compared (the union of both sides, ignored ones excluded).
    pub compared: usize,
    /// Objects left out by ignore patterns.
    pub ignored: usize,
}

/// Glob patterns (`*` any run of characters, `?` one character) over object keys
/// (`index public.tmp_*`) or names (`public.legacy_*`).
#[derive(Debug, Clone, Default)]
pub struct IgnoreSet {
    patterns: Vec<String>,
}

impl IgnoreSet {
    pub fn new(patterns: &[String]) -> IgnoreSet {
        IgnoreSet {
            patterns: patterns
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }

    /// Whether the object, or the object it belongs to (a table for its columns, indexes and
    /// grants), matches a pattern by key or by name.
    pub fn matches(&self, key: &str, object: &Object) -> bool {
        let parent_key = object.parent.as_deref();
        let parent_name = parent_key
            .and_then(|k| k.split_once(' '))
            .map(|(_, name)| name);
        self.patterns.iter().any(|pattern| {
            [
                Some(key),
                Some(object.name.as_str()),
                parent_key,
                parent_name,
            ]
            .into_iter()
            .flatten()
            .any(|text| glob(pattern, text))
        })
    }
}

/// Compares `actual` against `expected`.
pub fn compare(expected: &Snapshot, actual: &Snapshot, ignore: &IgnoreSet) -> Comparison {
    let mut comparison = Comparison::default();
    let mut found: Vec<(&String, Difference, Option<&String>)> = Vec::new();
    // Both maps are sorted by key: one merge pass pairs them up without a lookup per key.
    let mut left_iter = expected.objects.iter().peekable();
    let mut right_iter = actual.objects.iter().peekable();
    loop {
        let order = match (left_iter.peek(), right_iter.peek()) {
            (Some((l, _)), Some((r, _))) => l.cmp(r),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => break,
        };
        let (key, left, right) = match order {
            std::cmp::Ordering::Less => {
                let (key, object) = left_iter.next().expect("peeked");
                (key, Some(object), None)
            }
            std::cmp::Ordering::Greater => {
                let (key, object) = right_iter.next().expect("peeked");
                (key, None, Some(object))
            }
            std::cmp::Ordering::Equal => {
                let (key, object) = left_iter.next().expect("peeked");
                (
                    key,
                    Some(object),
                    right_iter.next().map(|(_, object)| object),
                )
            }
        };
        let Some(object) = left.or(right) else {
            continue;
        };
        if ignore.matches(key, object) {
            comparison.ignored += 1;
            continue;
        }
        comparison.compared += 1;
        let difference = match (left, right) {
            (Some(_), None) => Difference {
                kind: object.kind,
                object: object.name.clone(),
                status: Status::Missing,
                fields: Vec::new(),
            },
            (None, Some(_)) => Difference {
                kind: object.kind,
                object: object.name.clone(),
                status: Status::Unexpected,
                fields: Vec::new(),
            },
            (Some(left), Some(right)) => {
                let fields = field_differences(left, right);
                if fields.is_empty() {
                    continue;
                }
                Difference {
                    kind: object.kind,
                    object: object.name.clone(),
                    status: Status::Changed,
                    fields,
                }
            }
            (None, None) => continue,
        };
        found.push((key, difference, object.parent.as_ref()));
    }
    // A missing table implies its missing columns, indexes, grants…: report only the table.
    let absent: BTreeSet<(&String, Status)> = found
        .iter()
        .filter(|(_, d, _)| d.status != Status::Changed)
        .map(|(key, d, _)| (*key, d.status))
        .collect();
    comparison.differences = found
        .into_iter()
        .filter(|(_, d, parent)| {
            d.status == Status::Changed
                || !parent.is_some_and(|parent| absent.contains(&(parent, d.status)))
        })
        .map(|(_, d, _)| d)
        .collect();
    comparison
        .differences
        .sort_by(|a, b| (a.kind, &a.object).cmp(&(b.kind, &b.object)));
    comparison
}

fn field_differences(expected: &Object, actual: &Object) -> Vec<FieldDifference> {
    let names: BTreeSet<&String> = expected.fields.keys().chain(actual.fields.keys()).collect();
    names
        .into_iter()
        .filter(|name| !UNCOMPARED_FIELDS.contains(&name.as_str()))
        .filter_map(|name| {
            let (left, right) = (expected.fields.get(name), actual.fields.get(name));
            if left == right {
                return None;
            }
            Some(FieldDifference {
                field: name.clone(),
                expected: left.cloned(),
                actual: right.cloned(),
                diff: unified_diff(left, right),
            })
        })
        .collect()
}

/// Text longer than this, or with several lines, is shown as a unified diff.
const LONG_TEXT: usize = 80;

fn unified_diff(expected: Option<&Value>, actual: Option<&Value>) -> Option<String> {
    fn as_text(value: Option<&Value>) -> Option<&str> {
        match value {
            Some(Value::Text(text)) => Some(text.as_str()),
            None => Some(""),
            _ => None,
        }
    }
    let (left, right) = (as_text(expected)?, as_text(actual)?);
    let long = |text: &str| text.len() > LONG_TEXT || text.trim_end().contains('\n');
    if !long(left) && !long(right) {
        return None;
    }
    let with_newline = |text: &str| {
        if text.is_empty() || text.ends_with('\n') {
            text.to_string()
        } else {
            format!("{text}\n")
        }
    };
    let (left, right) = (with_newline(left), with_newline(right));
    // Single long lines (a policy expression) diff better word by word on separate lines.
    let (left, right) = if !left.trim_end().contains('\n') && !right.trim_end().contains('\n') {
        (wrap_words(&left), wrap_words(&right))
    } else {
        (left, right)
    };
    Some(
        similar::TextDiff::from_lines(&left, &right)
            .unified_diff()
            .context_radius(3)
            .header("expected", "actual")
            .to_string(),
    )
}

/// Breaks one long line into lines of at most about 60 characters at spaces.
fn wrap_words(text: &str) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + word.len() > 60 {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out.push('\n');
    out
}

/// Whether `text` matches the glob `pattern` (`*` and `?`; everything else literal).
pub fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, t));
            p += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            t = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn snapshot(objects: Vec<Object>) -> Snapshot {
        let mut snapshot: Snapshot =
            serde_json::from_str(r#"{"format_version": 1, "server_major": 15, "objects": {}}"#)
                .unwrap();
        for object in objects {
            snapshot
                .objects
                .insert(format!("{} {}", object.kind, object.name), object);
        }
        snapshot
    }

    fn object(
        kind: ObjectKind,
        name: &str,
        parent: Option<&str>,
        fields: &[(&str, Value)],
    ) -> Object {
        Object {
            kind,
            name: name.to_string(),
            parent: parent.map(str::to_string),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    #[test]
    fn identical_snapshots_have_no_differences() {
        let a = snapshot(vec![object(
            ObjectKind::Table,
            "public.t",
            None,
            &[("rls_forced", Value::Bool(true))],
        )]);
        let comparison = compare(&a, &a.clone(), &IgnoreSet::default());
        assert!(comparison.differences.is_empty());
        assert_eq!(comparison.compared, 1);
    }

    #[test]
    fn reports_missing_unexpected_and_changed_fields() {
        let expected = snapshot(vec![
            object(
                ObjectKind::Table,
                "public.t",
                None,
                &[("rls_forced", Value::Bool(true))],
            ),
            object(
                ObjectKind::Index,
                "public.gone_idx",
                Some("table public.t"),
                &[],
            ),
        ]);
        let actual = snapshot(vec![
            object(
                ObjectKind::Table,
                "public.t",
                None,
                &[("rls_forced", Value::Bool(false))],
            ),
            object(
                ObjectKind::Index,
                "public.extra_idx",
                Some("table public.t"),
                &[],
            ),
        ]);
        let comparison = compare(&expected, &actual, &IgnoreSet::default());
        let summary: Vec<(ObjectKind, &str, Status)> = comparison
            .differences
            .iter()
            .map(|d| (d.kind, d.object.as_str(), d.status))
            .collect();
        assert_eq!(
            summary,
            vec![
                (ObjectKind::Table, "public.t", Status::Changed),
                (ObjectKind::Index, "public.extra_idx", Status::Unexpected),
                (ObjectKind::Index, "public.gone_idx", Status::Missing),
            ]
        );
        let field = &comparison.differences[0].fields[0];
        assert_eq!(field.field, "rls_forced");
        assert_eq!(field.expected, Some(Value::Bool(true)));
        assert_eq!(field.actual, Some(Value::Bool(false)));
    }

    #[test]
    fn children_of_a_missing_parent_are_not_repeated() {
        let expected = snapshot(vec![
            object(ObjectKind::Table, "public.t", None, &[]),
            object(
                ObjectKind::Column,
                "public.t.id",
                Some("table public.t"),
                &[],
            ),
            object(
                ObjectKind::Grant,
                "table public.t to app",
                Some("table public.t"),
                &[],
            ),
        ]);
        let actual = snapshot(vec![]);
        let comparison = compare(&expected, &actual, &IgnoreSet::default());
        assert_eq!(comparison.differences.len(), 1);
        assert_eq!(comparison.differences[0].object, "public.t");
    }

    #[test]
    fn position_is_recorded_but_not_compared() {
        let expected = snapshot(vec![object(
            ObjectKind::Column,
            "public.t.a",
            None,
            &[("position", Value::Int(1))],
        )]);
        let actual = snapshot(vec![object(
            ObjectKind::Column,
            "public.t.a",
            None,
            &[("position", Value::Int(3))],
        )]);
        assert!(
            compare(&expected, &actual, &IgnoreSet::default())
                .differences
                .is_empty()
        );
    }

    #[test]
    fn ignore_patterns_match_keys_or_names() {
        let expected = snapshot(vec![object(
            ObjectKind::Table,
            "public.tmp_load",
            None,
            &[],
        )]);
        let actual = snapshot(vec![object(ObjectKind::Index, "public.tmp_idx", None, &[])]);
        let ignore = IgnoreSet::new(&["table public.tmp_*".to_string()]);
        let comparison = compare(&expected, &actual, &ignore);
        assert_eq!(comparison.ignored, 1);
        assert_eq!(comparison.differences.len(), 1);
        let ignore = IgnoreSet::new(&["public.tmp_*".to_string()]);
        assert!(compare(&expected, &actual, &ignore).differences.is_empty());
        // Ignoring a table ignores what belongs to it.
        let grant = object(
            ObjectKind::Grant,
            "table public.tmp_load to app",
            Some("table public.tmp_load"),
            &[],
        );
        let with_grant = snapshot(vec![grant]);
        let ignore = IgnoreSet::new(&["public.tmp_*".to_string()]);
        assert!(
            compare(&snapshot(vec![]), &with_grant, &ignore)
                .differences
                .is_empty()
        );
    }

    #[test]
    fn long_text_gets_a_unified_diff() {
        let body = |n: &str| {
            format!(
                "CREATE OR REPLACE FUNCTION public.f()\n RETURNS integer\nAS $function$ select {n} $function$\n"
            )
        };
        let expected = snapshot(vec![object(
            ObjectKind::Function,
            "public.f()",
            None,
            &[("definition", text(&body("1")))],
        )]);
        let actual = snapshot(vec![object(
            ObjectKind::Function,
            "public.f()",
            None,
            &[("definition", text(&body("2")))],
        )]);
        let comparison = compare(&expected, &actual, &IgnoreSet::default());
        let diff = comparison.differences[0].fields[0].diff.as_deref().unwrap();
        assert!(diff.contains("--- expected"), "{diff}");
        assert!(
            diff.contains("-AS $function$ select 1 $function$"),
            "{diff}"
        );
        assert!(
            diff.contains("+AS $function$ select 2 $function$"),
            "{diff}"
        );
        // Short values need no diff.
        assert_eq!(unified_diff(Some(&text("a")), Some(&text("b"))), None);
    }

    #[test]
    fn globs() {
        assert!(glob("public.*", "public.tasks"));
        assert!(glob("*_idx", "index public.a_idx"));
        assert!(glob("t?sks", "tasks"));
        assert!(glob("*", ""));
        assert!(!glob("public.*", "app.tasks"));
        assert!(!glob("a*b", "acbd"));
        assert!(glob("a*b*c", "aXbYbZc"));
    }
}
