//! Mongo migration files on disk: `V{version}__{name}.json` in MongoDB Extended JSON,
//! `{"up": [op, ...], "down": [op, ...]}`, with the same naming and checksum rules as the
//! PostgreSQL files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mongodb::bson::Bson;

use super::op::Op;
use crate::core::Checksum;
use crate::core::files::{FileProblem, keep_unique};

/// One parsed and checked migration file.
#[derive(Debug, Clone)]
pub struct MongoMigration {
    pub version: u64,
    pub name: String,
    pub path: PathBuf,
    pub checksum: Checksum,
    pub up: Vec<Op>,
    /// `None` when the file has no (or an empty) `down` list: the migration is irreversible.
    pub down: Option<Vec<Op>>,
}

impl MongoMigration {
    pub fn label(&self) -> String {
        format!("V{} {}", self.version, self.name)
    }

    pub fn is_reversible(&self) -> bool {
        self.down.is_some()
    }
}

/// Every migration of a directory, in version order, plus the problems of the files that
/// could not be used.
#[derive(Debug, Clone, Default)]
pub struct MongoSet {
    pub migrations: Vec<MongoMigration>,
    pub problems: Vec<FileProblem>,
}

impl MongoSet {
    pub fn by_version(&self, version: u64) -> Option<&MongoMigration> {
        self.migrations
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|index| &self.migrations[index])
    }

    /// Turns file problems into one error that lists them all.
    pub fn ensure_valid(&self) -> anyhow::Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let mut error = crate::errors::Detailed::new(format!(
            "{} invalid mongo migration file{}; nothing was changed",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        ));
        for problem in &self.problems {
            error = error.context(problem.to_string());
        }
        Err(error.into())
    }
}

/// Reads every `*.json` file of `dir`. Problems are collected so `validate` can list them all;
/// an unreadable directory is an error.
pub fn load_dir(dir: &Path) -> anyhow::Result<MongoSet> {
    let entries = std::fs::read_dir(dir).map_err(|err| {
        anyhow::anyhow!(
            "cannot read mongo migrations directory {}: {err}",
            dir.display()
        )
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| anyhow::anyhow!("cannot read {}: {err}", dir.display()))?;
        let path = entry.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut set = MongoSet::default();
    let mut by_version: BTreeMap<u64, Vec<MongoMigration>> = BTreeMap::new();
    for path in paths {
        let problem = |line: Option<usize>, message: String| FileProblem {
            file: path.display().to_string(),
            line,
            message,
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (version, name) = match parse_file_name(&file_name) {
            Ok(parsed) => parsed,
            Err(message) => {
                set.problems.push(problem(None, message));
                continue;
            }
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) => {
                set.problems
                    .push(problem(None, format!("cannot read: {err}")));
                continue;
            }
        };
        match parse_migration(&bytes) {
            Ok((up, down)) => by_version.entry(version).or_default().push(MongoMigration {
                version,
                name,
                path: path.clone(),
                checksum: Checksum::of(&bytes),
                up,
                down,
            }),
            Err((line, message)) => set.problems.push(problem(line, message)),
        }
    }
    set.migrations = keep_unique(
        by_version,
        |m| &m.path,
        &mut set.problems,
        |version, others| format!("duplicate version {version}: also used by {others}"),
    );
    Ok(set)
}

/// `V{version}__{name}.json`, name `[a-z0-9_]+`, version a positive integer.
pub fn parse_file_name(file_name: &str) -> Result<(u64, String), String> {
    const EXPECTED: &str = "expected V{version}__{name}.json with name [a-z0-9_]+";
    let stem = file_name
        .strip_suffix(".json")
        .ok_or_else(|| format!("not a .json file; {EXPECTED}"))?;
    if stem.starts_with("R__") {
        return Err(format!(
            "repeatable migrations do not exist for MongoDB; {EXPECTED}"
        ));
    }
    let rest = stem
        .strip_prefix('V')
        .ok_or_else(|| format!("invalid migration file name; {EXPECTED}"))?;
    let (version_text, name) = rest.split_once("__").ok_or_else(|| {
        format!("invalid migration file name: missing `__` between version and name; {EXPECTED}")
    })?;
    if version_text.is_empty() || !version_text.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "invalid migration file name: version `{version_text}` is not a positive integer; {EXPECTED}"
        ));
    }
    let version: u64 = version_text.parse().map_err(|_| {
        format!("invalid migration file name: version `{version_text}` is too large")
    })?;
    // Versions are stored as BSON int64.
    if version == 0 || version > i64::MAX as u64 {
        return Err(format!(
            "invalid migration file name: version must be a positive 63-bit integer; {EXPECTED}"
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!("invalid migration name `{name}`; {EXPECTED}"));
    }
    Ok((version, name.to_string()))
}

type Parsed = (Vec<Op>, Option<Vec<Op>>);

/// Parses the file body. Errors carry a line for JSON syntax errors and the op's position
/// (`up[2] (create_index)`) for op errors.
pub fn parse_migration(bytes: &[u8]) -> Result<Parsed, (Option<usize>, String)> {
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let line = bytes[..err.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        (Some(line), "file is not valid UTF-8".to_string())
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let json = serde_json::from_str::<StrictJson>(text)
        .map(|strict| strict.0)
        .map_err(|err| {
            let text = err.to_string();
            let suffix = format!(" at line {} column {}", err.line(), err.column());
            let what = text.strip_suffix(&suffix).unwrap_or(&text);
            (
                Some(err.line()),
                format!("malformed JSON: {what} (column {})", err.column()),
            )
        })?;
    let bson = Bson::try_from(json)
        .map_err(|err| (None, format!("invalid MongoDB Extended JSON: {err}")))?;
    let Bson::Document(document) = bson else {
        return Err((
            Some(1),
            "expected an object {\"up\": [...], \"down\": [...]}".to_string(),
        ));
    };
    for key in document.keys() {
        if !matches!(key.as_str(), "up" | "down" | "description") {
            return Err((
                None,
                format!("unknown top-level key `{key}` (known: up, down, description)"),
            ));
        }
    }
    let up = match document.get("up") {
        Some(value) => parse_ops(value, "up")?,
        None => return Err((None, "missing `up`: the list of ops to apply".to_string())),
    };
    if up.is_empty() {
        return Err((None, "the `up` list has no op".to_string()));
    }
    let down = match document.get("down") {
        None | Some(Bson::Null) => None,
        Some(value) => Some(parse_ops(value, "down")?).filter(|ops| !ops.is_empty()),
    };
    Ok((up, down))
}

/// JSON read like `serde_json::Value`, except that an object with the same key twice is an
/// error (serde_json keeps the last one silently, so an op could lose an option its author
/// wrote). The error carries the line and column of the second key.
struct StrictJson(serde_json::Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(value.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key `{key}` in one object (the last one would silently win)"
                )));
            }
            let StrictJson(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

fn parse_ops(value: &Bson, list: &str) -> Result<Vec<Op>, (Option<usize>, String)> {
    let Bson::Array(items) = value else {
        return Err((None, format!("`{list}` must be an array of ops")));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            Op::parse(item).map_err(|message| {
                let op = match item {
                    Bson::Document(d) => d.get_str("op").ok().map(str::to_string),
                    _ => None,
                };
                let position = match op {
                    Some(op) => format!("{list}[{index}] ({op})"),
                    None => format!("{list}[{index}]"),
                };
                (None, format!("{position}: {message}"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("V3__activity_logs.json").unwrap(),
            (3, "activity_logs".to_string())
        );
        for bad in [
            "V0__a.json",
            "V1_a.json",
            "R__a.json",
            "V1__A.json",
            "V1__a.sql",
            "a.json",
        ] {
            assert!(parse_file_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_extended_json_and_reports_positions() {
        let (up, down) = parse_migration(
            br#"{"up": [{"op": "create_index", "collection": "c", "name": "t", "keys": {"at": 1},
                        "expireAfterSeconds": {"$numberLong": "3600"}}],
                 "down": [{"op": "drop_index", "collection": "c", "name": "t"}]}"#,
        )
        .unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(down.unwrap().len(), 1);

        let (up, down) = parse_migration(
            br#"{"up": [{"op": "drop_collection", "collection": "c"}], "down": []}"#,
        )
        .unwrap();
        assert_eq!(up.len(), 1);
        assert!(down.is_none(), "an empty down list is irreversible");

        let (line, message) = parse_migration(b"{\"up\": [\n  {\"op\": \"x\",}\n]}").unwrap_err();
        assert_eq!(line, Some(2));
        assert!(message.starts_with("malformed JSON"), "{message}");

        let (_, message) = parse_migration(
            br#"{"up": [{"op": "drop_collection", "collection": "c"},
                        {"op": "create_index", "collection": "c", "keys": {"a": 1}}]}"#,
        )
        .unwrap_err();
        assert!(
            message.starts_with("up[1] (create_index): index `name` is required"),
            "{message}"
        );
        let (_, message) = parse_migration(br#"{"up": []}"#).unwrap_err();
        assert!(message.contains("no op"), "{message}");
        let (_, message) = parse_migration(br#"{"up": [], "donw": []}"#).unwrap_err();
        assert!(message.contains("`donw`"), "{message}");
    }

    #[test]
    fn refuses_duplicate_keys_with_their_line() {
        let (line, message) = parse_migration(
            b"{\"up\": [\n  {\"op\": \"create_index\", \"collection\": \"c\", \"name\": \"i\",\n   \"keys\": {\"a\": 1}, \"unique\": true, \"unique\": false}\n]}",
        )
        .unwrap_err();
        assert_eq!(line, Some(3), "{message}");
        assert!(message.contains("duplicate key `unique`"), "{message}");
        let (_, message) =
            parse_migration(br#"{"up": [{"op": "drop_collection", "collection": "c"}], "up": []}"#)
                .unwrap_err();
        assert!(message.contains("duplicate key `up`"), "{message}");
        // The same key in different objects is fine; numbers and nesting survive the strict read.
        let (up, _) = parse_migration(
            br#"{"up": [{"op": "create_index", "collection": "c", "name": "i", "keys": {"a": 1, "b": -1},
                        "partialFilterExpression": {"n": {"$gt": 1.5}}}]}"#,
        )
        .unwrap();
        assert_eq!(up.len(), 1);
    }

    #[test]
    fn load_dir_collects_problems() {
        let dir = tempfile::tempdir().unwrap();
        let ok = r#"{"up": [{"op": "drop_collection", "collection": "c"}]}"#;
        std::fs::write(dir.path().join("V1__a.json"), ok).unwrap();
        std::fs::write(dir.path().join("V01__b.json"), ok).unwrap();
        std::fs::write(dir.path().join("V2__c.json"), ok).unwrap();
        std::fs::write(dir.path().join("V3__d.json"), "{").unwrap();
        std::fs::write(dir.path().join("README.md"), "docs").unwrap();
        let set = load_dir(dir.path()).unwrap();
        assert_eq!(
            set.migrations.iter().map(|m| m.version).collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(set.problems.len(), 2, "{:?}", set.problems);
        let duplicate = set
            .problems
            .iter()
            .find(|p| p.message.starts_with("duplicate version 1: also used by "))
            .expect("a duplicate version problem");
        assert!(duplicate.file.ends_with("V01__b.json"), "{duplicate:?}");
        assert!(duplicate.message.ends_with("V1__a.json"), "{duplicate:?}");
        assert!(set.ensure_valid().is_err());
    }
}
