//! The first hour on a fresh clone, end to end: `scripts/dev`, then the lines it prints, then
//! `migrate status` in the same shell, with no config file; a `sandbox stop`/`start` keeps the
//! exported URLs valid. And `scripts/test` finds the binary wherever cargo put it.
//!
//! The clone is a copy of the repository's scripts, migrations, seeds and example config in a
//! temporary directory, with its own sandbox. `cargo` is replaced by a stand-in that "builds"
//! into `$CARGO_TARGET_DIR` (the binary under test) and reports it as cargo does, so the
//! scripts run as they would after a real build into a non-default target directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{repo, run, workdir};
use migrate::sandbox::{self, Service};

/// A copy of what a clone holds that the scripts use.
struct Clone {
    dir: tempfile::TempDir,
    stub_bin: PathBuf,
    target_dir: PathBuf,
}

impl Clone {
    fn new() -> Clone {
        let dir = workdir();
        for item in [
            "scripts",
            "migrations",
            "mongo_migrations",
            "seeds",
            "redis",
            "config.example.toml",
        ] {
            copy(Path::new(&repo(item)), &dir.path().join(item));
        }
        // The Mongo-wire server scripts/setup installed for the repository (or a mongod on
        // PATH): found from the repository, as the sandbox would find it there.
        if let Ok(sandbox::MongoProgram::Secantus(server)) = sandbox::find_mongo_server() {
            let venv = server.parent().and_then(Path::parent).unwrap();
            std::os::unix::fs::symlink(venv, dir.path().join(".venv")).unwrap();
        }
        let stub_bin = dir.path().join("stub-bin");
        std::fs::create_dir(&stub_bin).unwrap();
        let cargo = stub_bin.join("cargo");
        std::fs::write(
            &cargo,
            format!(
                r#"#!/bin/sh
# Stands in for cargo: `build` puts migrate under $CARGO_TARGET_DIR and reports it as cargo
# does with --message-format=json; anything else (cargo test) does nothing.
[ "$1" = build ] || exit 0
profile=debug
for arg in "$@"; do [ "$arg" = --release ] && profile=release; done
mkdir -p "$CARGO_TARGET_DIR/$profile"
ln -sf '{}' "$CARGO_TARGET_DIR/$profile/migrate"
printf '{{"reason":"compiler-artifact","package_id":"path+file:///clone#migrate@0.1.0","target":{{"kind":["bin"],"name":"migrate"}},"executable":"%s","fresh":true}}\n' "$CARGO_TARGET_DIR/$profile/migrate"
printf '{{"reason":"build-finished","success":true}}\n'
"#,
                env!("CARGO_BIN_EXE_migrate")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        let target_dir = dir.path().join("elsewhere").join("target");
        Clone {
            dir,
            stub_bin,
            target_dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command in the clone with the stand-in cargo first on PATH, CARGO_TARGET_DIR set and
    /// no store URLs inherited.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.current_dir(self.path())
            .env("PATH", format!("{}:{path}", self.stub_bin.display()))
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .env_remove("MONGODB_URL")
            .env_remove("REDIS_URL")
            .env_remove("MIGRATE_ENV");
        cmd
    }
}

impl Drop for Clone {
    fn drop(&mut self) {
        for dir in [
            self.path().join(".sandbox"),
            self.path().join("target/test-sandbox"),
        ] {
            if dir.exists() {
                let _ = sandbox::stop(&dir);
            }
        }
    }
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// The indented lines `scripts/dev` prints for the user to paste, after its "to use them"
/// line.
fn printed_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|line| !line.starts_with("sandbox servers are running"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .map(|line| line.trim().to_string())
        .collect()
}

#[test]
fn scripts_dev_then_the_printed_lines_then_status_with_no_config() {
    let clone = Clone::new();
    let dev = run(clone.command("bash").arg("scripts/dev"));
    dev.assert_ok();
    assert!(
        !clone.path().join("target/release/migrate").exists(),
        "the binary belongs under CARGO_TARGET_DIR"
    );
    let lines = printed_lines(&dev.stdout);
    assert_eq!(
        lines.last().map(String::as_str),
        Some("migrate status"),
        "{}",
        dev.stdout
    );
    assert!(!clone.path().join("migrate.toml").exists());

    // The printed lines and `migrate status` in one shell; then the servers are stopped and
    // started again, and the URLs exported before still work; what a new user runs next,
    // `drift` (all three stores) and `check`, finds the sandbox clean (exit 0).
    let script = format!(
        "set -e\n{}\n\
         echo \"urls before: $DATABASE_URL $MONGODB_URL $REDIS_URL\"\n\
         migrate sandbox stop >/dev/null\n\
         migrate sandbox start >/dev/null\n\
         echo \"urls after: $(migrate sandbox env | tr '\\n' ' ')\"\n\
         migrate status\n\
         migrate -c config.example.toml drift\n\
         migrate check\n",
        lines.join("\n")
    );
    let shell = run(clone.command("bash").args(["-c", &script]));
    shell.assert_ok();
    let statuses = shell.stdout.matches("│ postgres ").count();
    assert!(statuses > 0, "{}", shell.stdout);
    assert!(
        !shell.stderr.contains("error"),
        "stdout:\n{}\nstderr:\n{}",
        shell.stdout,
        shell.stderr
    );
    // Both `migrate status` runs showed every PostgreSQL migration applied.
    let files = std::fs::read_dir(clone.path().join("migrations"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".sql")
        })
        .count();
    let applied = shell
        .stdout
        .lines()
        .filter(|line| line.contains("│ postgres ") && line.contains(" applied "))
        .count();
    assert_eq!(applied, 2 * files, "{}", shell.stdout);

    // The URLs name their databases, and they did not change across stop/start.
    let before = shell
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("urls before: "))
        .unwrap();
    let after = shell
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("urls after: "))
        .unwrap();
    for url in before.split_whitespace() {
        assert!(after.contains(url), "{url} changed: {after}");
    }
    assert!(
        before.contains("/app ") || before.contains("/app\n"),
        "{before}"
    );
    assert!(
        before.contains("mongodb://127.0.0.1:") && before.contains("/app"),
        "{before}"
    );
    assert!(before.trim_end().ends_with("/0"), "{before}");
}

#[test]
fn scripts_test_stops_the_test_sandbox_with_the_binary_cargo_built() {
    let clone = Clone::new();
    let test_sandbox = clone.path().join("target/test-sandbox");
    let state = sandbox::start(&test_sandbox, &[Service::Redis]).unwrap();
    assert!(state.url(Service::Redis).is_some());
    let result = run(clone.command("bash").arg("scripts/test"));
    result.assert_ok();
    let state = sandbox::status(&test_sandbox).unwrap();
    assert!(
        state.url(Service::Redis).is_none(),
        "scripts/test left the test sandbox running:\n{}",
        result.stderr
    );
}

#[test]
fn a_restarted_sandbox_keeps_its_ports_unless_one_was_taken() {
    let dir = workdir();
    let sandbox_dir = dir.path().join("sandbox");
    let stop_on_drop = StopOnDrop(sandbox_dir.clone());
    let first = sandbox::start(&sandbox_dir, &[Service::Redis]).unwrap();
    let port = first.services[1].port.unwrap();
    sandbox::stop(&sandbox_dir).unwrap();
    let second = sandbox::start(&sandbox_dir, &[Service::Redis]).unwrap();
    assert_eq!(second.url(Service::Redis), first.url(Service::Redis));
    assert_eq!(second.services[1].moved_from, None);
    sandbox::stop(&sandbox_dir).unwrap();

    // Something else took the port meanwhile: another one, and the state says so.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let third = sandbox::start(&sandbox_dir, &[Service::Redis]).unwrap();
    assert_ne!(third.services[1].port, Some(port));
    assert_eq!(third.services[1].moved_from, Some(port));
    drop(squatter);
    drop(stop_on_drop);
}

struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = sandbox::stop(&self.0);
    }
}
