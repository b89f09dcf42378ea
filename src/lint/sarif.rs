//! Lint findings as a SARIF 2.1.0 log (one run, tool `migrate`), the format GitHub code
//! scanning (`github/codeql-action/upload-sarif`) and other review tools read to annotate the
//! lines of a pull request. File locations are relative to the repository (the nearest
//! directory above the working directory with a `.git`), else to the working directory.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::Finding;
use super::rules::{ALL, Rule};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const VERSION: &str = "2.1.0";

/// The SARIF document for `findings`, with every rule in the driver's rule list.
pub fn document(findings: &[Finding]) -> Value {
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = repository_root(&cwd).unwrap_or_else(|| cwd.clone());
    let rules: Vec<Value> = ALL.iter().map(|rule| rule_descriptor(rule)).collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| {
            let index = ALL.iter().position(|rule| rule.name == finding.rule);
            json!({
                "ruleId": finding.rule,
                "ruleIndex": index,
                "level": level(index.map(|i| ALL[i])),
                "message": {"text": format!("{} Fix: {}.", sentence(&finding.message), finding.fix)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&finding.file, &cwd, &root)},
                        "region": {"startLine": finding.line, "startColumn": finding.column},
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "migrate",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn rule_descriptor(rule: &Rule) -> Value {
    let squawk = if rule.squawk.is_empty() {
        String::new()
    } else {
        format!(" Squawk calls it {}.", rule.squawk.join(", "))
    };
    let opt_in = if rule.opt_in {
        " Opt-in: runs when `[lint] enable` names it."
    } else {
        ""
    };
    json!({
        "id": rule.name,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "help": {
            "text": format!(
                "{}. Each finding's message names the fix; docs/lint.md explains the rule. Disable it for one file with `-- lint:ignore {}` and a reason.{squawk}{opt_in}",
                capitalized(rule.summary),
                rule.name
            )
        },
        "defaultConfiguration": {"level": level(Some(rule))},
    })
}

/// `error` for the rules that guard against locks, rewrites and breakage (they fail `check`),
/// `warning` for the opt-in style rules.
fn level(rule: Option<&Rule>) -> &'static str {
    match rule {
        Some(rule) if rule.opt_in => "warning",
        _ => "error",
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn sentence(text: &str) -> String {
    let text = capitalized(text);
    if text.ends_with('.') {
        text
    } else {
        format!("{text}.")
    }
}

/// The nearest directory from `dir` upwards that holds a `.git` (directory or worktree file).
fn repository_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|candidate| candidate.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `file` as a URI reference relative to `root` (forward slashes, percent-encoded where
/// needed); a file outside `root` keeps its absolute path as a `file://` URI.
fn uri(file: &str, cwd: &Path, root: &Path) -> String {
    let path = Path::new(file);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let absolute = normalized(&absolute);
    match absolute.strip_prefix(normalized(root)) {
        Ok(relative) => encode(&relative.to_string_lossy().replace('\\', "/")),
        Err(_) => format!(
            "file://{}",
            encode(&absolute.to_string_lossy().replace('\\', "/"))
        ),
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system (the file may be a symlink).
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn encode(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &'static str, file: &str) -> Finding {
        Finding {
            rule,
            file: file.to_string(),
            line: 4,
            column: 3,
            code: "ALTER TABLE t DROP COLUMN c;".into(),
            message: "dropping `t.c` breaks clients".into(),
            fix: "stop using it first".into(),
        }
    }

    #[test]
    fn uris_are_relative_to_the_repository() {
        let root = Path::new("/repo");
        let cwd = Path::new("/repo/app");
        assert_eq!(
            uri("migrations/V1__a b.sql", cwd, root),
            "app/migrations/V1__a%20b.sql"
        );
        assert_eq!(uri("../db/V2__x.sql", cwd, root), "db/V2__x.sql");
        assert_eq!(uri("/repo/V3.sql", cwd, root), "V3.sql");
        assert_eq!(
            uri("/elsewhere/V4.sql", cwd, root),
            "file:///elsewhere/V4.sql"
        );
    }

    #[test]
    fn a_document_has_one_run_with_every_rule_and_located_results() {
        let doc = document(&[
            finding("dropping-column", "migrations/V2__drop.sql"),
            finding("prefer-identity", "migrations/V3__t.sql"),
        ]);
        assert_eq!(doc["version"], "2.1.0");
        assert_eq!(doc["$schema"], SCHEMA);
        let runs = doc["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        let driver = &runs[0]["tool"]["driver"];
        assert_eq!(driver["name"], "migrate");
        let rules = driver["rules"].as_array().unwrap();
        assert_eq!(rules.len(), ALL.len());
        for rule in rules {
            assert!(rule["id"].as_str().is_some_and(|id| !id.is_empty()));
            assert!(rule["shortDescription"]["text"].as_str().is_some());
            assert!(rule["help"]["text"].as_str().is_some());
        }
        let results = runs[0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        let first = &results[0];
        assert_eq!(first["ruleId"], "dropping-column");
        assert_eq!(
            rules[first["ruleIndex"].as_u64().unwrap() as usize]["id"],
            "dropping-column"
        );
        assert_eq!(first["level"], "error");
        assert_eq!(results[1]["level"], "warning", "opt-in rules warn");
        assert_eq!(
            first["message"]["text"],
            "Dropping `t.c` breaks clients. Fix: stop using it first."
        );
        let location = &first["locations"][0]["physicalLocation"];
        assert!(
            location["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("migrations/V2__drop.sql")
        );
        assert_eq!(location["region"]["startLine"], 4);
        assert_eq!(location["region"]["startColumn"], 3);
    }
}
