//! Migration files whatever the store: versioned or repeatable, the largest version, the
//! problems a file can have, and the rule that a key claimed by two files keeps neither.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Versioned,
    Repeatable,
}

/// A problem with one file (or a pair of files), always naming the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileProblem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The largest version: the history table stores versions as `bigint`.
pub const MAX_VERSION: u64 = i64::MAX as u64;

/// The one file of each key (a version, a repeatable name), in key order. A key claimed by
/// several files is a problem on the first of them, naming the others (`describe` gets the
/// key and the others' paths), and none of them is kept.
pub fn keep_unique<K, T>(
    groups: BTreeMap<K, Vec<T>>,
    path: impl Fn(&T) -> &Path,
    problems: &mut Vec<FileProblem>,
    describe: impl Fn(&K, &str) -> String,
) -> Vec<T> {
    let mut kept = Vec::with_capacity(groups.len());
    for (key, mut group) in groups {
        if group.len() == 1 {
            kept.push(group.remove(0));
            continue;
        }
        let files: Vec<String> = group
            .iter()
            .map(|m| path(m).display().to_string())
            .collect();
        problems.push(FileProblem {
            file: files[0].clone(),
            line: None,
            message: describe(&key, &files[1..].join(", ")),
        });
    }
    kept
}
