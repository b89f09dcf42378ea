//! Which migrations `check` treats as new: those not at a git ref (`--base REF`, read with
//! `git ls-tree` and `git show` as Atlas does), those after a version (`--since V`), or, by
//! default, those the target database has not applied. Everything before the new ones is
//! applied to the shadow database first; only the new ones are linted and observed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::postgres::migration::{self, Checksum, Migration, MigrationSet};

/// What counts as already applied.
#[derive(Debug, Clone)]
pub enum Base {
    /// The target database's history (the default).
    Database,
    /// The migration files present at a git ref.
    Git {
        reference: String,
        versions: BTreeSet<u64>,
        repeatables: BTreeMap<String, Checksum>,
    },
    /// Every version up to and including this one.
    Since(u64),
}

/// The scope of a check run, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    /// `database`, `git` or `since`.
    pub base: &'static str,
    /// The git ref or the version, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The new migrations: linted and observed, in order.
    pub new: Vec<String>,
    /// Pending on the target database but part of the base: applied to the shadow database
    /// before the new ones, not linted.
    pub applied_first: Vec<String>,
    /// New by the base but already applied on the target database: not observed.
    pub already_applied: Vec<String>,
}

impl Scope {
    pub fn describe(&self) -> String {
        let base = match (self.base, &self.reference) {
            ("git", Some(reference)) => format!("not in git ref {reference}"),
            ("since", Some(version)) => format!("after V{version}"),
            _ => "not applied on the target database".to_string(),
        };
        let mut text = format!("{} ({base})", self.new.len());
        if !self.applied_first.is_empty() {
            text.push_str(&format!(
                "; {} applied first",
                crate::output::count(self.applied_first.len(), "older pending migration")
            ));
        }
        if !self.already_applied.is_empty() {
            text.push_str(&format!(
                "; already applied on the target, not observed: {}",
                self.already_applied.join(", ")
            ));
        }
        text
    }
}

/// The migration files of `dir` at git ref `reference`: their versions, and the checksums of
/// the repeatable ones. `dir` must be inside a git work tree.
pub fn at_git_ref(dir: &Path, reference: &str) -> anyhow::Result<Base> {
    if reference.starts_with('-') {
        bail!("--base {reference}: not a git ref");
    }
    let listed = git(
        dir,
        &["ls-tree", "--name-only", "-z", reference, "--", "./"],
    )
    .with_context(|| format!("cannot list {} at git ref {reference}", dir.display()))?;
    let mut versions = BTreeSet::new();
    let mut repeatables = BTreeMap::new();
    for path in listed.split('\0').filter(|p| !p.is_empty()) {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let Ok(parsed) = migration::parse_file_name(file_name) else {
            continue;
        };
        match parsed.version {
            Some(version) => {
                versions.insert(version);
            }
            None => {
                let text = git(dir, &["show", &format!("{reference}:./{file_name}")])
                    .with_context(|| format!("cannot read {file_name} at git ref {reference}"))?;
                repeatables.insert(parsed.name, Checksum::of(text.as_bytes()));
            }
        }
    }
    Ok(Base::Git {
        reference: reference.to_string(),
        versions,
        repeatables,
    })
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run git")?;
    if !output.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Splits the migrations pending on the target (in the order `up` runs them) into those
/// applied first and the new ones, and names the new ones the target applied already.
pub fn split<'a>(
    base: &Base,
    set: &'a MigrationSet,
    pending: &[&'a Migration],
) -> (Vec<&'a Migration>, Vec<&'a Migration>, Scope) {
    let is_new = |migration: &Migration| match (base, migration.version) {
        (Base::Database, _) => true,
        (Base::Git { versions, .. }, Some(version)) => !versions.contains(&version),
        (Base::Git { repeatables, .. }, None) => {
            repeatables.get(&migration.name) != Some(&migration.checksum)
        }
        (Base::Since(since), Some(version)) => version > *since,
        (Base::Since(_), None) => true,
    };
    let (new, applied_first): (Vec<&Migration>, Vec<&Migration>) =
        pending.iter().copied().partition(|m| is_new(m));
    let pending_labels: BTreeSet<String> = pending.iter().map(|m| m.label()).collect();
    let already_applied = set
        .versioned
        .iter()
        .filter(|m| is_new(m) && !pending_labels.contains(&m.label()))
        .filter(|_| !matches!(base, Base::Database))
        .map(Migration::label)
        .collect();
    let (name, reference) = match base {
        Base::Database => ("database", None),
        Base::Git { reference, .. } => ("git", Some(reference.clone())),
        Base::Since(version) => ("since", Some(version.to_string())),
    };
    let scope = Scope {
        base: name,
        reference,
        new: new.iter().map(|m| m.label()).collect(),
        applied_first: applied_first.iter().map(|m| m.label()).collect(),
        already_applied,
    };
    (applied_first, new, scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> (tempfile::TempDir, MigrationSet) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("V1__big.sql", "CREATE TABLE big (a int);\n"),
            ("V2__index.sql", "CREATE INDEX big_a ON big (a);\n"),
            ("R__view.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;\n"),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let set = migration::load_dir(dir.path()).unwrap();
        (dir, set)
    }

    fn labels(migrations: &[&Migration]) -> Vec<String> {
        migrations.iter().map(|m| m.label()).collect()
    }

    #[test]
    fn the_base_decides_what_is_new() {
        let (_dir, set) = set();
        let pending: Vec<&Migration> = set.versioned.iter().chain(&set.repeatable).collect();

        let (first, new, scope) = split(&Base::Database, &set, &pending);
        assert!(first.is_empty());
        assert_eq!(labels(&new), ["V1 big", "V2 index", "R view"]);
        assert_eq!(scope.base, "database");

        let (first, new, _) = split(&Base::Since(1), &set, &pending);
        assert_eq!(labels(&first), ["V1 big"]);
        assert_eq!(labels(&new), ["V2 index", "R view"]);

        // At the git ref: V1 and the view as it is now (same checksum).
        let view = set.repeatable_by_name("view").unwrap().checksum.clone();
        let git = Base::Git {
            reference: "main".to_string(),
            versions: [1].into_iter().collect(),
            repeatables: [("view".to_string(), view)].into_iter().collect(),
        };
        let (first, new, scope) = split(&git, &set, &pending);
        assert_eq!(labels(&first), ["V1 big", "R view"]);
        assert_eq!(labels(&new), ["V2 index"]);
        assert_eq!(scope.reference.as_deref(), Some("main"));

        // The target applied V2 already: new by the base, but not observed.
        let (_, new, scope) = split(&git, &set, &pending[..1]);
        assert!(new.is_empty());
        assert_eq!(scope.already_applied, ["V2 index"]);
    }
}
