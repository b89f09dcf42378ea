//! `.env` files: `./.env` when present, or the file `--env-file FILE` names, read into the
//! process environment before the command line is parsed (clap reads `DATABASE_URL` & co.
//! while parsing, and the config file's `${VAR}` later). A variable already set always wins,
//! so a `.env` file only supplies defaults.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;

/// The file read when `--env-file` is not given (relative to the current directory).
pub const DEFAULT_ENV_FILE: &str = ".env";

static LOADED: OnceLock<Loaded> = OnceLock::new();

/// What [`load`] did in this process, for `-v`.
pub fn loaded() -> Option<&'static Loaded> {
    LOADED.get()
}

/// What [`load`] did: the file it read (if any) and the variables it set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub file: Option<PathBuf>,
    pub set: Vec<String>,
}

/// Reads `--env-file FILE` (found among the raw arguments) or `./.env` into the environment.
/// A missing `./.env` is fine; a missing `--env-file` is an error.
///
/// Must run before any other thread exists: it changes the process environment.
pub fn load(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<Loaded> {
    let (path, required) = match env_file_argument(args)? {
        Some(path) => (path, true),
        None => (PathBuf::from(DEFAULT_ENV_FILE), false),
    };
    if !required && !path.is_file() {
        return Ok(Loaded::default());
    }
    let pairs = read(&path)?;
    let mut set = Vec::new();
    for (key, value) in pairs {
        if std::env::var_os(&key).is_some() {
            continue;
        }
        // SAFETY: called from `main` before the runtime or any other thread is started, so
        // nothing can read the environment concurrently.
        unsafe { std::env::set_var(&key, value) };
        set.push(key);
    }
    let loaded = Loaded {
        file: Some(path),
        set,
    };
    let _ = LOADED.set(loaded.clone());
    Ok(loaded)
}

/// The `KEY=value` pairs of a file, in order (`export KEY=value`, quotes, `#` comments and
/// `${VAR}` references as dotenv tools accept them).
fn read(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let iter = dotenvy::from_path_iter(path)
        .with_context(|| format!("cannot read env file {}", path.display()))?;
    let mut pairs = Vec::new();
    for item in iter {
        let pair = item.map_err(|err| match err {
            dotenvy::Error::LineParse(line, index) => anyhow::anyhow!(
                "invalid line in env file {}: `{line}` (at character {})",
                path.display(),
                index + 1
            ),
            other => anyhow::anyhow!("cannot read env file {}: {other}", path.display()),
        })?;
        pairs.push(pair);
    }
    Ok(pairs)
}

/// The value of `--env-file FILE` / `--env-file=FILE` among the raw arguments, before a `--`.
fn env_file_argument(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<Option<PathBuf>> {
    let mut args = args.into_iter().skip(1);
    let mut found = None;
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            continue;
        };
        if text == "--" {
            break;
        }
        if text == "--env-file" {
            let value = args
                .next()
                .context("--env-file needs a value: the path of a file of KEY=value lines")?;
            found = Some(PathBuf::from(value));
        } else if let Some(value) = text.strip_prefix("--env-file=") {
            found = Some(PathBuf::from(value));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_env_file_argument_is_found_in_either_form() {
        let found = |list: &[&str]| env_file_argument(args(list)).unwrap();
        assert_eq!(found(&["migrate", "status"]), None);
        assert_eq!(
            found(&["migrate", "--env-file", "ci.env", "up"]),
            Some(PathBuf::from("ci.env"))
        );
        assert_eq!(
            found(&["migrate", "up", "--env-file=a.env"]),
            Some(PathBuf::from("a.env"))
        );
        assert_eq!(found(&["migrate", "new", "--", "--env-file"]), None);
        assert!(env_file_argument(args(&["migrate", "up", "--env-file"])).is_err());
    }

    #[test]
    fn files_are_parsed_like_other_dotenv_tools() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# local\nexport A=1\nB='two words'\nC=\"x#y\" # trailing\n\nD=\n",
        )
        .unwrap();
        assert_eq!(
            read(&path).unwrap(),
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "two words".to_string()),
                ("C".to_string(), "x#y".to_string()),
                ("D".to_string(), String::new()),
            ]
        );
        std::fs::write(&path, "A=1\nnot a line\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("invalid line"), "{err}");
    }
}
