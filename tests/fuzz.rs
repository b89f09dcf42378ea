//! Property-based fuzzing of the input parsers: the migration splitter, the migration file
//! loaders (PostgreSQL and MongoDB) and the config loader. Inputs are the committed corpus
//! (`tests/fuzz_corpus/`), the repository's own migrations and config, and the hostile-case
//! corpus, each mutated by random edits. Whatever the input, the parsers must not panic and
//! what they return must be consistent (statements inside the text, in order, at the lines
//! they say; errors at a line that exists).
//!
//! CI runs a bounded number of cases (`MIGRATE_FUZZ_CASES`, default 400 per target); raise it
//! locally for a longer run. A failing input is shrunk by proptest and printed.

use crate::support::repo;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use migrate::postgres::splitter;

/// Every file of the given directories with one of the extensions.
fn files(dirs: &[&str], extensions: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(repo(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            if path
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
            {
                out.push(std::fs::read(&path).unwrap());
            }
        }
    }
    assert!(!out.is_empty(), "no seed files in {dirs:?}");
    out
}

fn sql_seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        files(
            &["tests/fuzz_corpus", "migrations", "tests/hostile"],
            &["sql", "case"],
        )
    })
}

fn config_seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds = files(&["tests/fuzz_corpus"], &["toml"]);
        seeds.push(std::fs::read(repo("config.example.toml")).unwrap());
        seeds
    })
}

fn mongo_seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| files(&["tests/fuzz_corpus", "mongo_migrations"], &["json"]))
}

/// Bytes that matter to the parsers: quotes, comment and statement delimiters, dollar signs,
/// brackets, newlines, a NUL, a multi-byte character's bytes, and plain letters.
const INTERESTING: &[u8] = b"'\"$;-/*\\()[]{}:=,.#\n\r\t\0 aeEbBxXuU&0123456789\xc3\xa9\xff";

#[derive(Debug, Clone)]
enum Edit {
    Insert {
        at: usize,
        byte: u8,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Duplicate {
        at: usize,
        len: usize,
    },
    Splice {
        at: usize,
        from: usize,
        start: usize,
        len: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), prop::sample::select(INTERESTING))
            .prop_map(|(at, byte)| Edit::Insert { at, byte }),
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Duplicate { at, len }),
        (any::<usize>(), any::<usize>(), any::<usize>(), 1usize..64).prop_map(
            |(at, from, start, len)| Edit::Splice {
                at,
                from,
                start,
                len
            }
        ),
    ]
}

fn mutate(seeds: &[Vec<u8>], seed: usize, edits: &[Edit]) -> Vec<u8> {
    let mut bytes = seeds[seed % seeds.len()].clone();
    for edit in edits {
        let n = bytes.len();
        match *edit {
            Edit::Insert { at, byte } => bytes.insert(at % (n + 1), byte),
            Edit::Delete { at, len } if n > 0 => {
                let at = at % n;
                bytes.drain(at..(at + len).min(n));
            }
            Edit::Duplicate { at, len } if n > 0 => {
                let at = at % n;
                let part = bytes[at..(at + len).min(n)].to_vec();
                bytes.splice(at..at, part);
            }
            Edit::Splice {
                at,
                from,
                start,
                len,
            } => {
                let other = &seeds[from % seeds.len()];
                if !other.is_empty() {
                    let start = start % other.len();
                    let part = other[start..(start + len).min(other.len())].to_vec();
                    bytes.splice(at % (n + 1)..at % (n + 1), part);
                }
            }
            _ => {}
        }
    }
    bytes
}

fn cases() -> u32 {
    std::env::var("MIGRATE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400)
}

fn lines_in(text: &[u8]) -> usize {
    text.iter().filter(|&&b| b == b'\n').count() + 1
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn splitter_statements_are_consistent(seed in any::<usize>(), edits in prop::collection::vec(edit(), 0..12)) {
        let bytes = mutate(sql_seeds(), seed, &edits);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(statements) = splitter::split(&text) {
            let mut end = 0;
            for statement in &statements {
                prop_assert!(!statement.sql.is_empty());
                prop_assert_eq!(statement.sql.trim(), statement.sql);
                prop_assert!(statement.offset >= end, "statements overlap or go backwards");
                prop_assert!(text[statement.offset..].starts_with(statement.sql));
                prop_assert_eq!(statement.line, splitter::line_of(&text, statement.offset));
                end = statement.offset + statement.sql.len();
                // A statement split again is that one statement. (A backslash that started
                // mid-line in the script starts the line when the statement stands alone, and is
                // then a psql meta-command.)
                match splitter::split(statement.sql) {
                    Ok(again) => prop_assert_eq!(again.len(), 1, "{:?}", statement.sql),
                    Err(splitter::SplitError::MetaCommand { .. }) if statement.sql.starts_with('\\') => {}
                    Err(err) => prop_assert!(false, "{:?}: {err}", statement.sql),
                }
            }
        }
    }

    #[test]
    fn migration_loader_never_panics_and_names_real_lines(seed in any::<usize>(), edits in prop::collection::vec(edit(), 0..12)) {
        let bytes = mutate(sql_seeds(), seed, &edits);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("V1__fuzz.sql"), &bytes).unwrap();
        let set = migrate::postgres::migration::load_dir(dir.path()).unwrap();
        for problem in &set.problems {
            if let Some(line) = problem.line {
                prop_assert!(line >= 1 && line <= lines_in(&bytes), "{problem} in {} lines", lines_in(&bytes));
            }
        }
        for migration in &set.versioned {
            let statements = splitter::split(&migration.up).unwrap();
            prop_assert_eq!(statements.len(), migration.up_statements);
            prop_assert!(!migration.up.contains('\0'));
        }
    }

    #[test]
    fn mongo_loader_never_panics(seed in any::<usize>(), edits in prop::collection::vec(edit(), 0..12)) {
        let bytes = mutate(mongo_seeds(), seed, &edits);
        if let Err((Some(line), message)) = migrate::mongo::migration::parse_migration(&bytes) {
            prop_assert!(line >= 1 && line <= lines_in(&bytes), "{message} at {line}");
        }
    }

    #[test]
    fn config_loader_never_panics_and_locates_errors(seed in any::<usize>(), edits in prop::collection::vec(edit(), 0..12)) {
        let bytes = mutate(config_seeds(), seed, &edits);
        let text = String::from_utf8_lossy(&bytes);
        if let Err(error) = migrate::config::file::parse(&text, Path::new("migrate.toml")) {
            prop_assert!(error.line >= 1 && error.line <= lines_in(text.as_bytes()), "{error}");
        }
    }

    #[test]
    fn durations_and_ages_never_panic(text in "[0-9]{0,30}(ms|s|min|m|h|d|x)?") {
        let _ = migrate::config::file::parse_duration(&text);
        let _ = migrate::config::file::parse_pg_timeout(&text);
        if let Ok(age) = migrate::jobs::retention::Age::parse(&text) {
            prop_assert!(age.0.as_secs() >= 1);
        }
    }
}
