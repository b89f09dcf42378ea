//! Migration files on disk: discovery, naming rules, up/down sections, directives, checksums.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::splitter;
pub use crate::core::checksum::Checksum;
pub use crate::core::files::{FileProblem, Kind, MAX_VERSION, keep_unique};

/// A per-file timeout directive: absent (use the config), or a value where zero means "none".
pub type TimeoutOverride = Option<Duration>;

/// One parsed migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub kind: Kind,
    /// Present for versioned files.
    pub version: Option<u64>,
    pub name: String,
    pub path: PathBuf,
    pub checksum: Checksum,
    /// Text above `-- migrate:down` (the whole file when there is no down part).
    pub up: String,
    /// Text below `-- migrate:down`, when it holds at least one statement.
    pub down: Option<String>,
    /// 1-based line in the file where the down text starts.
    pub down_first_line: usize,
    pub no_transaction: bool,
    pub lock_timeout: Option<TimeoutOverride>,
    pub statement_timeout: Option<TimeoutOverride>,
    /// Number of statements in the up part.
    pub up_statements: usize,
}

impl Migration {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `V12 add_users` / `R views`.
    pub fn label(&self) -> String {
        match self.version {
            Some(version) => format!("V{version} {}", self.name),
            None => format!("R {}", self.name),
        }
    }

    pub fn is_reversible(&self) -> bool {
        self.down.is_some()
    }
}

/// Every migration in a directory, versioned ones in version order.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    pub versioned: Vec<Migration>,
    pub repeatable: Vec<Migration>,
    pub problems: Vec<FileProblem>,
}

impl MigrationSet {
    pub fn by_version(&self, version: u64) -> Option<&Migration> {
        self.versioned
            .binary_search_by_key(&version, |m| m.version.unwrap_or(0))
            .ok()
            .map(|index| &self.versioned[index])
    }

    pub fn repeatable_by_name(&self, name: &str) -> Option<&Migration> {
        self.repeatable.iter().find(|m| m.name == name)
    }

    /// Turns file problems into one error that lists them all.
    pub fn ensure_valid(&self) -> anyhow::Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let mut error = crate::errors::Detailed::new(format!(
            "{} invalid migration file{}; nothing was changed",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        ));
        for problem in &self.problems {
            error = error.context(problem.to_string());
        }
        Err(error.into())
    }
}

const DOWN_MARKER: &str = "-- migrate:down";
const DIRECTIVE_PREFIX: &str = "-- migrate:";

/// Reads every `V*.sql` / `R__*.sql` file of a directory. Problems are collected, not thrown,
/// so `validate` can list them all; a missing directory is an error.
pub fn load_dir(dir: &Path) -> anyhow::Result<MigrationSet> {
    let entries = std::fs::read_dir(dir).map_err(|err| {
        anyhow::anyhow!("cannot read migrations directory {}: {err}", dir.display())
    })?;
    let mut set = MigrationSet::default();
    let mut versions: BTreeMap<u64, Vec<Migration>> = BTreeMap::new();
    let mut repeatables: BTreeMap<String, Vec<Migration>> = BTreeMap::new();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| anyhow::anyhow!("cannot read {}: {err}", dir.display()))?;
        let path = entry.path();
        // The directory entry knows its type: no stat per file (follow symlinks only).
        let is_file = match entry.file_type() {
            Ok(kind) if kind.is_symlink() => path.is_file(),
            Ok(kind) => kind.is_file(),
            Err(_) => path.is_file(),
        };
        if is_file && path.extension().is_some_and(|e| e == "sql") {
            files.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    // One directory: ordering by file name is ordering by path, and much cheaper.
    files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for parsed in read_all(&files) {
        match parsed {
            Ok(migration) => match migration.version {
                Some(version) => versions.entry(version).or_default().push(migration),
                None => repeatables
                    .entry(migration.name.clone())
                    .or_default()
                    .push(migration),
            },
            Err(problem) => set.problems.push(problem),
        }
    }
    set.versioned = keep_unique(
        versions,
        |m| &m.path,
        &mut set.problems,
        |version, others| format!("duplicate version {version}: also used by {others}"),
    );
    set.repeatable = keep_unique(
        repeatables,
        |m| &m.path,
        &mut set.problems,
        |name, others| format!("duplicate repeatable migration `{name}`: also {others}"),
    );
    Ok(set)
}

/// Reads and parses files, in their order. Large directories are read by a few threads: on a
/// no-op `up` or `status` with hundreds of files, reading and checksumming them is most of the
/// work the client does.
fn read_all(files: &[(String, PathBuf)]) -> Vec<Result<Migration, FileProblem>> {
    const PER_THREAD: usize = 64;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
        .min(files.len().div_ceil(PER_THREAD));
    if threads <= 1 {
        return files
            .iter()
            .map(|(name, path)| read_one(name, path))
            .collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(name, path)| read_one(name, path))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("a migration reader thread panicked"))
            .collect()
    })
}

fn read_one(file_name: &str, path: &Path) -> Result<Migration, FileProblem> {
    let problem = |message: String| FileProblem {
        file: path.display().to_string(),
        line: None,
        message,
    };
    let parsed_name = parse_file_name(file_name).map_err(problem)?;
    let bytes = std::fs::read(path).map_err(|err| problem(format!("cannot read: {err}")))?;
    parse_migration(path, parsed_name, &bytes)
}

/// What a file name says: kind, version, name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub kind: Kind,
    pub version: Option<u64>,
    pub name: String,
}

/// `V{version}__{name}.sql` or `R__{name}.sql`, name `[a-z0-9_]+`, version a positive integer.
pub fn parse_file_name(file_name: &str) -> Result<ParsedName, String> {
    const EXPECTED: &str = "expected V{version}__{name}.sql or R__{name}.sql with name [a-z0-9_]+";
    let stem = file_name
        .strip_suffix(".sql")
        .ok_or_else(|| format!("not a .sql file; {EXPECTED}"))?;
    let (kind, version, name) = if let Some(name) = stem.strip_prefix("R__") {
        (Kind::Repeatable, None, name)
    } else if let Some(rest) = stem.strip_prefix('V') {
        let (version_text, name) = rest.split_once("__").ok_or_else(|| {
            format!(
                "invalid migration file name: missing `__` between version and name; {EXPECTED}"
            )
        })?;
        if version_text.is_empty() || !version_text.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "invalid migration file name: version `{version_text}` is not a positive integer; {EXPECTED}"
            ));
        }
        let version: u64 = version_text.parse().map_err(|_| {
            format!(
                "invalid migration file name: version `{version_text}` is too large (at most {MAX_VERSION}, the largest bigint)"
            )
        })?;
        if version == 0 {
            return Err(format!(
                "invalid migration file name: version must be positive; {EXPECTED}"
            ));
        }
        // The history table stores versions as bigint.
        if version > MAX_VERSION {
            return Err(format!(
                "invalid migration file name: version `{version_text}` is too large (at most {MAX_VERSION}, the largest bigint)"
            ));
        }
        (Kind::Versioned, Some(version), name)
    } else {
        return Err(format!("invalid migration file name; {EXPECTED}"));
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!("invalid migration name `{name}`; {EXPECTED}"));
    }
    Ok(ParsedName {
        kind,
        version,
        name: name.to_string(),
    })
}

fn parse_migration(
    path: &Path,
    parsed: ParsedName,
    bytes: &[u8],
) -> Result<Migration, FileProblem> {
    // Built only when there is a problem to report.
    let file = || path.display().to_string();
    let problem = |line: Option<usize>, message: String| FileProblem {
        file: file(),
        line,
        message,
    };
    let checksum = Checksum::of(bytes);
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let line = bytes[..err.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        problem(Some(line), "file is not valid UTF-8".to_string())
    })?;
    if let Some(index) = text.find('\0') {
        return Err(problem(
            Some(splitter::line_of(text, index)),
            "file contains a NUL byte, which PostgreSQL cannot receive in a statement".to_string(),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = if text.contains("\r\n") {
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    };

    // Split at the down marker (a line of its own).
    let mut up_end = text.len();
    let mut down_start = None;
    let mut down_first_line = 0;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim() == DOWN_MARKER {
            if down_start.is_some() {
                return Err(problem(
                    Some(index + 1),
                    format!("second `{DOWN_MARKER}` line"),
                ));
            }
            up_end = offset;
            down_start = Some(offset + line.len());
            down_first_line = index + 2;
        }
        offset += line.len();
    }
    let up = text[..up_end].to_string();
    let down_text = down_start.map(|start| text[start..].to_string());

    // Directives live in the leading comment block of the up part.
    let mut no_transaction = false;
    let mut lock_timeout = None;
    let mut statement_timeout = None;
    let mut in_header = true;
    for (index, line) in up.lines().enumerate() {
        let trimmed = line.trim();
        let line_number = index + 1;
        if trimmed.is_empty() {
            continue;
        }
        if let Some(directive) = trimmed.strip_prefix(DIRECTIVE_PREFIX) {
            if !in_header {
                return Err(problem(
                    Some(line_number),
                    format!(
                        "directive `{trimmed}` must be in the comment block at the top of the file"
                    ),
                ));
            }
            let (word, argument) = directive
                .split_once(char::is_whitespace)
                .unwrap_or((directive, ""));
            match word {
                "no-transaction" => no_transaction = true,
                "lock-timeout" | "statement-timeout" => {
                    let value = crate::config::file::parse_pg_timeout(argument.trim()).map_err(
                        |message| problem(Some(line_number), format!("`{word}`: {message}")),
                    )?;
                    let value = Some(value).filter(|d| !d.is_zero());
                    if word == "lock-timeout" {
                        lock_timeout = Some(value);
                    } else {
                        statement_timeout = Some(value);
                    }
                }
                other => {
                    return Err(problem(
                        Some(line_number),
                        format!(
                            "unknown directive `-- migrate:{other}` (known: no-transaction, lock-timeout DURATION, statement-timeout DURATION, down)"
                        ),
                    ));
                }
            }
            continue;
        }
        if !trimmed.starts_with("--") {
            in_header = false;
        }
    }

    let up_statements = splitter::split(&up).map_err(|err| split_problem(&file(), 0, &err))?;
    if up_statements.is_empty() {
        return Err(problem(
            None,
            "the up part has no SQL statement".to_string(),
        ));
    }
    if let Some(problem) = transaction_control_problem(&file(), 0, &up_statements) {
        return Err(problem);
    }
    let up_statement_count = up_statements.len();
    drop(up_statements);
    let down = match down_text {
        Some(down_text) => {
            let statements = splitter::split(&down_text)
                .map_err(|err| split_problem(&file(), down_first_line - 1, &err))?;
            if let Some(problem) =
                transaction_control_problem(&file(), down_first_line - 1, &statements)
            {
                return Err(problem);
            }
            if statements.is_empty() {
                None
            } else {
                Some(down_text)
            }
        }
        None => None,
    };
    Ok(Migration {
        kind: parsed.kind,
        version: parsed.version,
        name: parsed.name,
        path: path.to_path_buf(),
        checksum,
        up,
        down,
        down_first_line,
        no_transaction,
        lock_timeout,
        statement_timeout,
        up_statements: up_statement_count,
    })
}

fn split_problem(file: &str, line_offset: usize, err: &splitter::SplitError) -> FileProblem {
    let (line, message) = match err {
        splitter::SplitError::MetaCommand { line, .. }
        | splitter::SplitError::Unterminated { line, .. }
        | splitter::SplitError::Unbalanced { line, .. } => {
            let text = err.to_string();
            let message = text
                .split_once(": ")
                .map_or(text.clone(), |(_, m)| m.to_string());
            (*line + line_offset, message)
        }
    };
    FileProblem {
        file: file.to_string(),
        line: Some(line),
        message,
    }
}

/// A statement that starts or ends a transaction, named with its line (`line_offset` lines
/// above the text's first line). Such a statement would end the transaction migrate runs the
/// file in, so the statements after it would run (and commit) on their own.
fn transaction_control_problem(
    file: &str,
    line_offset: usize,
    statements: &[splitter::Statement<'_>],
) -> Option<FileProblem> {
    statements.iter().find_map(|statement| {
        let tokens = super::tokens::Tokens::new(statement.sql);
        let command = super::tokens::transaction_control(&tokens)?;
        // The statement's text starts with any comments above it: name the keyword's line.
        let first = tokens.get(0).map_or(0, |token| token.offset);
        let line = statement.line + splitter::line_of(statement.sql, first) - 1;
        Some(FileProblem {
            file: file.to_string(),
            line: Some(line + line_offset),
            message: format!(
                "transaction control (`{command}`) is not allowed in a migration: migrate runs a file in one transaction together with its history row, and a `-- migrate:no-transaction` file runs each statement in a transaction of its own; remove it (split the work into several files to commit in steps)"
            ),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<Migration, FileProblem> {
        let parsed = parse_file_name(name).map_err(|message| FileProblem {
            file: name.into(),
            line: None,
            message,
        })?;
        parse_migration(Path::new(name), parsed, text.as_bytes())
    }

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("V12__add_users.sql").unwrap(),
            ParsedName {
                kind: Kind::Versioned,
                version: Some(12),
                name: "add_users".into()
            }
        );
        assert_eq!(
            parse_file_name("V20260101120000__x.sql").unwrap().version,
            Some(20260101120000)
        );
        assert_eq!(
            parse_file_name("V9223372036854775807__max.sql")
                .unwrap()
                .version,
            Some(9223372036854775807)
        );
        assert_eq!(
            parse_file_name("R__views.sql").unwrap().kind,
            Kind::Repeatable
        );
        for bad in [
            "V1_add.sql",
            "V0__zero.sql",
            "Vx__a.sql",
            "V1__Add.sql",
            "V1__a-b.sql",
            "add.sql",
            "V1__.sql",
            "V9223372036854775808__too_big.sql",
            "V99999999999999999999__too_big.sql",
        ] {
            assert!(parse_file_name(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn checksum_ignores_line_endings_only() {
        let lf = Checksum::of(b"create table a (id int);\nselect 1;\n");
        let crlf = Checksum::of(b"create table a (id int);\r\nselect 1;\r\n");
        assert_eq!(lf, crlf);
        assert_ne!(
            lf,
            Checksum::of(b"create table a (id bigint);\nselect 1;\n")
        );
        assert_eq!(
            Checksum::of(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn sections_and_directives() {
        let m = parse(
            "V3__idx.sql",
            "-- migrate:no-transaction\n-- migrate:lock-timeout 2s\ncreate index concurrently i on t (a);\n-- migrate:down\ndrop index concurrently i;\n",
        )
        .unwrap();
        assert!(m.no_transaction);
        assert_eq!(m.lock_timeout, Some(Some(Duration::from_secs(2))));
        assert_eq!(m.down.as_deref(), Some("drop index concurrently i;\n"));
        assert_eq!(m.down_first_line, 5);
        assert_eq!(m.up_statements, 1);

        let m = parse(
            "V1__a.sql",
            "create table a ();\n-- migrate:down\n-- nothing\n",
        )
        .unwrap();
        assert!(!m.is_reversible());
        let m = parse("V1__a.sql", "create table a ();\n").unwrap();
        assert!(!m.is_reversible());
    }

    #[test]
    fn rejects_bad_files_with_lines() {
        let err = parse(
            "V1__a.sql",
            "-- only a comment\n-- migrate:down\ndrop table a;\n",
        )
        .unwrap_err();
        assert!(err.message.contains("no SQL statement"), "{err}");
        let err = parse("V1__a.sql", "select 1;\n-- migrate:nope\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        let err = parse("V1__a.sql", "-- migrate:frobnicate\nselect 1;").unwrap_err();
        assert!(err.message.contains("unknown directive"), "{err}");
        let err = parse("V1__a.sql", "select 1;\n\\copy t from 'x.csv'\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("\\copy"), "{err}");
        let err = parse("V1__a.sql", "select 1;\n-- migrate:down\nselect 'open;\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        let err = parse("V1__a.sql", "begin;\ncreate table a ();\ncommit;\n").unwrap_err();
        assert!(err.message.contains("transaction control"), "{err}");
        let parsed = parse_file_name("V1__a.sql").unwrap();
        let err = parse_migration(Path::new("V1__a.sql"), parsed, b"select '\xff';").unwrap_err();
        assert!(err.message.contains("UTF-8"), "{err}");
    }

    #[test]
    fn begin_atomic_bodies_are_not_transaction_control() {
        let m = parse(
            "V1__f.sql",
            "create function f() returns int language sql begin atomic select 1; end;\n",
        )
        .unwrap();
        assert_eq!(m.up_statements, 1);
    }

    #[test]
    fn load_dir_reports_duplicates_and_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("V1__a.sql"), "select 1;").unwrap();
        std::fs::write(dir.path().join("V01__b.sql"), "select 2;").unwrap();
        std::fs::write(dir.path().join("V2__c.sql"), "select 3;").unwrap();
        std::fs::write(dir.path().join("oops.sql"), "select 4;").unwrap();
        std::fs::write(dir.path().join("README.md"), "docs").unwrap();
        std::fs::write(dir.path().join("R__views.sql"), "select 5;").unwrap();
        let set = load_dir(dir.path()).unwrap();
        assert_eq!(
            set.versioned
                .iter()
                .map(|m| m.version.unwrap())
                .collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(set.repeatable.len(), 1);
        assert_eq!(set.problems.len(), 2, "{:?}", set.problems);
        assert!(
            set.problems
                .iter()
                .any(|p| p.message.contains("duplicate version 1"))
        );
        assert!(set.problems.iter().any(|p| p.file.ends_with("oops.sql")));
        assert!(set.ensure_valid().is_err());
    }

    #[test]
    fn refuses_transaction_control_however_it_is_written() {
        for (text, line) in [
            (
                "CREATE TABLE a1 (id int);\nABORT;\nCREATE TABLE a2 (id int);\n",
                2,
            ),
            (
                "create table a (id int);\n/* c */ COMMIT;\nselect 1/0;\n",
                2,
            ),
            ("create table a (id int);\n\ncommit/*x*/;\n", 3),
            ("create table a (id int);\nCOMMIT AND CHAIN;\n", 2),
            ("START TRANSACTION;\ncreate table a (id int);\n", 1),
            ("create table a (id int);\nend;\n", 2),
            (
                "create table a (id int);\n-- migrate:down\ndrop table a;\nrollback;\n",
                4,
            ),
        ] {
            let err = parse("V1__a.sql", text).unwrap_err();
            assert!(err.message.contains("transaction control"), "{text}: {err}");
            assert_eq!(err.line, Some(line), "{text}: {err}");
        }
        let err = parse(
            "V1__a.sql",
            "-- migrate:no-transaction\ncreate index concurrently i on t (a);\nbegin;\n",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        let m = parse(
            "V1__a.sql",
            "savepoint s;\ncreate table a ();\nrollback to savepoint s;\nrelease s;\n",
        )
        .unwrap();
        assert_eq!(m.up_statements, 4);
    }

    #[test]
    fn refuses_nul_bytes_with_their_line() {
        let err = parse("V1__a.sql", "select 1;\nselect 'a\0b';\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("NUL"), "{err}");
    }
}
