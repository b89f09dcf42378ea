//! The everyday development loop through the binary: quiet output for stores that were never
//! configured, tables on odd terminals, `.env` files, waiting for servers, `database
//! create|drop`, `reset`, shell completions and man pages.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

use crate::support::newest_app_version;
use crate::support::write_migration as write;
use crate::support::{
    migrate_cmd, migrate_cmd_reading_dotenv, migrate_in as migrate, pg, repo, run, workdir,
};

fn one_good_migration(dir: &Path) {
    write(
        dir,
        "V1__a.sql",
        "CREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n",
    );
}

#[test]
fn stores_that_were_never_configured_are_named_only_under_verbose() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    for args in [&["up"][..], &["status"], &["drift"]] {
        let result = migrate(&db, dir.path(), args);
        result.assert_ok();
        assert!(
            !result.stderr.contains("mongo") && !result.stderr.contains("redis"),
            "{args:?}:\n{}",
            result.stderr
        );
    }
    let backups = dir.path().join("backups");
    let backup = migrate(
        &db,
        dir.path(),
        &["backup", "create", "--dir", backups.to_str().unwrap()],
    );
    backup.assert_ok();
    assert!(
        !backup.stderr.contains("no URL configured"),
        "{}",
        backup.stderr
    );

    let verbose = migrate(&db, dir.path(), &["-v", "status"]);
    verbose.assert_ok();
    for store in ["mongo", "redis"] {
        assert!(
            verbose
                .stderr
                .contains(&format!("{store}: no URL configured, skipped")),
            "{}",
            verbose.stderr
        );
    }
}

/// A pseudo-terminal whose reported size is 0x0, as under `script` or `docker exec -t`.
struct Pty {
    master: std::fs::File,
    slave: OwnedFd,
}

fn pty() -> Pty {
    // SAFETY: plain libc calls on descriptors this function owns; each result is checked.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt failed");
        assert_eq!(libc::grantpt(master), 0, "grantpt failed");
        assert_eq!(libc::unlockpt(master), 0, "unlockpt failed");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "cannot open the pty's slave side");
        let mut size: libc::winsize = std::mem::zeroed();
        assert_eq!(libc::ioctl(slave, libc::TIOCGWINSZ, &mut size), 0);
        assert_eq!(size.ws_col, 0, "a new pty reports 0 columns");
        Pty {
            master: std::fs::File::from_raw_fd(master),
            slave: OwnedFd::from_raw_fd(slave),
        }
    }
}

/// Runs the binary with stdout on a pty of width 0 and returns what it printed there.
fn on_zero_width_terminal(args: &[&str], columns: Option<&str>) -> String {
    let Pty { mut master, slave } = pty();
    let mut cmd = migrate_cmd();
    cmd.args(args)
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped());
    if let Some(columns) = columns {
        cmd.env("COLUMNS", columns);
    }
    let mut child = cmd.spawn().unwrap();
    // The parent's copy of the slave side went into `cmd`; drop it so the read below ends
    // (with EIO) once the child has exited.
    drop(cmd);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{args:?} failed");
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

#[test]
fn tables_on_a_terminal_of_width_zero_are_not_collapsed() {
    let dir = workdir();
    let sandbox = dir.path().join("no-sandbox-here");
    let args = ["sandbox", "status", "--dir", sandbox.to_str().unwrap()];
    let printed = on_zero_width_terminal(&args, None);
    assert!(
        printed.contains("│ service  ┆ state   ┆ port ┆ pid ┆ program ┆ url │"),
        "{printed}"
    );
    // With COLUMNS, the table is wrapped to it.
    let printed = on_zero_width_terminal(&args, Some("40"));
    let widest = printed
        .lines()
        .filter(|line| line.starts_with(['┌', '│', '└']))
        .map(|line| line.chars().count())
        .max()
        .unwrap();
    assert!(widest <= 40 && widest > 20, "{widest}:\n{printed}");
}

#[test]
fn backups_and_the_sandbox_are_ignored_by_git() {
    for path in [
        "backups/20260101T000000Z/manifest.json",
        ".sandbox/postgres/port",
    ] {
        let result = run(std::process::Command::new("git")
            .current_dir(repo("."))
            .args(["check-ignore", "--no-index", "-q", path]));
        assert_eq!(result.code, 0, "{path} is not ignored by .gitignore");
    }
}

#[test]
fn sandbox_env_without_a_running_sandbox_is_an_error_not_an_empty_export() {
    let dir = workdir();
    let env = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["sandbox", "env"]));
    env.assert_code(1);
    assert_eq!(env.stdout, "", "nothing for eval to run");
    assert!(
        env.stderr
            .contains("no sandbox server is running in .sandbox"),
        "{}",
        env.stderr
    );
    assert!(env.stderr.contains("sandbox start"), "{}", env.stderr);
    assert!(
        !dir.path().join(".sandbox").exists(),
        "asking for the environment creates nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// .env and --env-file

#[test]
fn a_dotenv_file_supplies_urls_and_a_variable_already_set_wins() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    let unreachable = "postgres://nobody:secret@127.0.0.1:1/nowhere";
    std::fs::write(
        dir.path().join(".env"),
        format!("# local settings\nexport DATABASE_URL='{}'\n", db.url),
    )
    .unwrap();
    let status = run(migrate_cmd_reading_dotenv()
        .current_dir(dir.path())
        .args(["--format", "json", "status"]));
    status.assert_ok();
    assert!(status.stdout.contains(&db.name), "{}", status.stdout);

    // A variable set in the environment wins over the file.
    std::fs::write(
        dir.path().join(".env"),
        format!("DATABASE_URL={unreachable}\n"),
    )
    .unwrap();
    let status = run(migrate_cmd_reading_dotenv()
        .current_dir(dir.path())
        .env("DATABASE_URL", &db.url)
        .args(["--format", "json", "status"]));
    status.assert_ok();
    assert!(status.stdout.contains(&db.name), "{}", status.stdout);

    // --env-file replaces ./.env; -v says what it set.
    std::fs::write(
        dir.path().join("ci.env"),
        format!("DATABASE_URL=\"{}\"\n", db.url),
    )
    .unwrap();
    let status = run(migrate_cmd_reading_dotenv().current_dir(dir.path()).args([
        "-v",
        "--env-file",
        "ci.env",
        "up",
    ]));
    status.assert_ok();
    assert!(
        status.stderr.contains("read ci.env: set DATABASE_URL"),
        "{}",
        status.stderr
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").as_deref(),
        Some("1")
    );

    let missing = run(migrate_cmd_reading_dotenv().current_dir(dir.path()).args([
        "--env-file",
        "nope.env",
        "status",
    ]));
    missing.assert_code(1);
    assert!(
        missing
            .stderr
            .starts_with("error: cannot read env file nope.env"),
        "{}",
        missing.stderr
    );
    std::fs::write(dir.path().join(".env"), "DATABASE_URL\n").unwrap();
    let bad = run(migrate_cmd_reading_dotenv()
        .current_dir(dir.path())
        .arg("status"));
    bad.assert_code(1);
    assert!(
        bad.stderr.contains("invalid line in env file .env"),
        "{}",
        bad.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// --wait-timeout

/// A port nothing listens on yet.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `host:port` of a URL.
fn address_of(url: &str) -> String {
    let after_scheme = &url[url.find("://").unwrap() + 3..];
    let authority = after_scheme.split(['/', '?']).next().unwrap();
    authority.rsplit('@').next().unwrap().to_string()
}

/// The URL with its address replaced.
fn via(url: &str, port: u16) -> String {
    url.replacen(&address_of(url), &format!("127.0.0.1:{port}"), 1)
}

/// After `delay`, forwards connections on 127.0.0.1:`port` to `upstream`: a server that starts
/// while the command is already running.
fn server_starting_later(port: u16, upstream: String, delay: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
}

#[test]
fn wait_timeout_waits_for_servers_that_start_later() {
    let (db, mongo, redis) = (pg(), crate::support::mongo(), crate::support::redis());
    let dir = workdir();
    one_good_migration(dir.path());
    let ports = [free_port(), free_port(), free_port()];
    let urls = [
        via(&db.url, ports[0]),
        via(&mongo.url, ports[1]),
        via(&redis.url, ports[2]),
    ];
    let args = |extra: &[&str]| {
        let mut args = vec![
            "--database-url",
            urls[0].as_str(),
            "--mongodb-url",
            urls[1].as_str(),
            "--redis-url",
            urls[2].as_str(),
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };

    // Without waiting, a refused connection fails at once and says how to wait.
    let refused = run(migrate_cmd().current_dir(dir.path()).args(args(&["up"])));
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("pass --wait-timeout"),
        "{}",
        refused.stderr
    );
    // A timeout that runs out is a clear error.
    let started = std::time::Instant::now();
    let gave_up =
        run(migrate_cmd()
            .current_dir(dir.path())
            .args(args(&["--wait-timeout", "1s", "up"])));
    gave_up.assert_code(1);
    assert!(
        gave_up
            .stderr
            .contains("did not accept connections within 1.0 s"),
        "{}",
        gave_up.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let delay = std::time::Duration::from_secs(2);
    for (port, url) in ports.iter().zip([&db.url, &mongo.url, &redis.url]) {
        server_starting_later(*port, address_of(url), delay);
    }
    let started = std::time::Instant::now();
    let up =
        run(migrate_cmd()
            .current_dir(dir.path())
            .args(args(&["--wait-timeout", "30s", "up"])));
    up.assert_ok();
    assert!(started.elapsed() >= delay);
    for store in ["postgres", "mongo", "redis"] {
        assert_eq!(
            up.stderr
                .matches(&format!("waiting up to 30.0 s for {store} at"))
                .count(),
            1,
            "{}",
            up.stderr
        );
    }
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").as_deref(),
        Some("1")
    );
    // A server that answers needs no waiting.
    let status =
        run(migrate_cmd()
            .current_dir(dir.path())
            .args(args(&["--wait-timeout", "30s", "status"])));
    status.assert_ok();
    assert!(!status.stderr.contains("waiting"), "{}", status.stderr);

    // The config key does the same as the flag.
    std::fs::write(dir.path().join("migrate.toml"), "wait_timeout = \"20s\"\n").unwrap();
    let port = free_port();
    server_starting_later(port, address_of(&db.url), std::time::Duration::from_secs(1));
    let status = run(migrate_cmd().current_dir(dir.path()).args([
        "--database-url",
        &via(&db.url, port),
        "status",
    ]));
    status.assert_ok();
    assert!(
        status
            .stderr
            .contains("waiting up to 20.0 s for postgres at"),
        "{}",
        status.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// database create|drop

/// A database name on the test server that no test created yet, dropped when this goes away.
struct NewDatabase<'a> {
    server: &'a crate::support::PgDb,
    name: String,
    url: String,
}

impl<'a> NewDatabase<'a> {
    fn on(server: &'a crate::support::PgDb) -> NewDatabase<'a> {
        let name = format!("{}_new", server.name);
        let url = server
            .url
            .replace(&format!("/{}", server.name), &format!("/{name}"));
        NewDatabase { server, name, url }
    }

    fn exists(&self) -> bool {
        self.server
            .scalar(&format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{}'",
                self.name
            ))
            .as_deref()
            == Some("1")
    }
}

impl Drop for NewDatabase<'_> {
    fn drop(&mut self) {
        self.server.execute(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ));
    }
}

#[test]
fn database_create_and_drop_the_database_the_url_names() {
    let server = pg();
    let new = NewDatabase::on(&server);
    let dir = workdir();
    one_good_migration(dir.path());
    let migrate = |args: &[&str]| {
        run(migrate_cmd()
            .current_dir(dir.path())
            .args(["--database-url", &new.url])
            .args(args))
    };

    // A database that does not exist: the error says how to create it.
    let up = migrate(&["up"]);
    up.assert_code(1);
    assert!(up.stderr.contains("does not exist"), "{}", up.stderr);
    assert!(
        up.stderr
            .contains("hint: create it with `migrate database create`"),
        "{}",
        up.stderr
    );

    let dry = migrate(&["database", "create", "--dry-run"]);
    dry.assert_ok();
    assert!(
        dry.stdout.contains("would create database"),
        "{}",
        dry.stdout
    );
    assert!(!new.exists());
    let created = migrate(&["database", "create"]);
    created.assert_ok();
    assert!(
        created
            .stdout
            .starts_with(&format!("created database {}", new.name)),
        "{}",
        created.stdout
    );
    assert!(new.exists());
    let again = migrate(&["--format", "json", "database", "create"]);
    again.assert_ok();
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(report["existed"], true);
    assert_eq!(report["changed"], false);
    migrate(&["up"]).assert_ok();

    // Dropping asks for confirmation; off a terminal that takes --yes.
    let refused = migrate(&["database", "drop"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("pass --yes"), "{}", refused.stderr);
    assert!(new.exists());
    // A protected environment refuses, and its plan says so.
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[env.prod]\nprotected = true\n",
    )
    .unwrap();
    let protected = migrate(&["-e", "prod", "database", "drop", "--yes"]);
    protected.assert_code(1);
    assert!(
        protected
            .stderr
            .contains("environment `prod` is protected: `database drop` is refused"),
        "{}",
        protected.stderr
    );
    let plan = migrate(&["-e", "prod", "database", "drop", "--dry-run"]);
    plan.assert_ok();
    assert!(
        plan.stdout
            .contains("environment `prod` is protected: refused without --allow-protected"),
        "{}",
        plan.stdout
    );
    assert!(new.exists());
    let dropped = migrate(&[
        "-e",
        "prod",
        "database",
        "drop",
        "--allow-protected",
        "--yes",
    ]);
    dropped.assert_ok();
    assert!(
        dropped
            .stdout
            .contains(&format!("dropped database {}", new.name)),
        "{}",
        dropped.stdout
    );
    assert!(!new.exists());
    let nothing = migrate(&["database", "drop", "--yes"]);
    nothing.assert_ok();
    assert!(
        nothing.stdout.contains("does not exist, nothing to do"),
        "{}",
        nothing.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// reset

#[test]
fn reset_rebuilds_every_store_and_loads_the_seeds() {
    let (db, mongo, redis) = (pg(), crate::support::mongo(), crate::support::redis());
    let dir = workdir();
    let root = dir.path();
    write(
        root,
        "V1__projects.sql",
        "CREATE TABLE projects (id bigint PRIMARY KEY, name text NOT NULL);\n-- migrate:down\nDROP TABLE projects;\n",
    );
    std::fs::create_dir_all(root.join("seeds/dev")).unwrap();
    std::fs::write(
        root.join("seeds/dev/001_projects.sql"),
        "INSERT INTO projects VALUES (1, 'alpha'), (2, 'beta') ON CONFLICT (id) DO NOTHING;\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("mongo_migrations")).unwrap();
    std::fs::write(
        root.join("mongo_migrations/V1__events.json"),
        r#"{"up": [{"op": "create_collection", "collection": "events"}],
            "down": [{"op": "drop_collection", "collection": "events"}]}"#,
    )
    .unwrap();
    std::fs::write(root.join("migrate.toml"), "[env.prod]\nprotected = true\n").unwrap();
    let migrate = |args: &[&str]| {
        run(migrate_cmd()
            .current_dir(root)
            .args([
                "--database-url",
                &db.url,
                "--mongodb-url",
                &mongo.url,
                "--redis-url",
                &redis.url,
            ])
            .args(args))
    };
    migrate(&["up"]).assert_ok();
    // State that a reset must remove.
    db.execute("INSERT INTO projects VALUES (99, 'stale'); CREATE TABLE scratch (x int);");
    let probe = crate::support::MongoProbe::new(&mongo);
    probe.command(mongodb::bson::doc! {"insert": "stray", "documents": [{"x": 1}]});
    let mut conn = crate::support::redis_connection(&redis);
    redis::cmd("SET")
        .arg("stray")
        .arg("1")
        .exec(&mut conn)
        .unwrap();

    let dry = migrate(&["reset", "--env", "dev", "--dry-run"]);
    dry.assert_ok();
    for expected in [
        "reset plan (dry run, nothing changed)",
        &format!("drop and create database {}", db.name),
        &format!("drop database {}", mongo.name),
        "FLUSHDB",
        "then apply every migration and load the seeds of `dev`",
    ] {
        assert!(dry.stdout.contains(expected), "{expected}:\n{}", dry.stdout);
    }
    let refused = migrate(&["reset", "--env", "dev"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("pass --yes"), "{}", refused.stderr);
    let protected = migrate(&["-e", "prod", "reset", "--yes"]);
    protected.assert_code(1);
    assert!(
        protected
            .stderr
            .contains("environment `prod` is protected: `reset` is refused"),
        "{}",
        protected.stderr
    );
    // Nothing was touched by the refused runs.
    assert_eq!(
        db.scalar("SELECT count(*) FROM projects").as_deref(),
        Some("1")
    );

    let reset = migrate(&["reset", "--env", "dev", "--yes"]);
    reset.assert_ok();
    db.reconnect();
    assert!(
        reset.stdout.contains("postgres: applied 1 migration"),
        "{}",
        reset.stdout
    );
    assert!(
        reset.stdout.contains("seed dev: applied 1 file"),
        "{}",
        reset.stdout
    );
    assert_eq!(
        db.scalar("SELECT string_agg(name, ',' ORDER BY id) FROM projects")
            .as_deref(),
        Some("alpha,beta")
    );
    assert_eq!(
        db.scalar("SELECT to_regclass('scratch') IS NULL")
            .as_deref(),
        Some("t")
    );
    let collections = probe.collections();
    assert!(
        collections.contains(&"events".to_string()),
        "{collections:?}"
    );
    assert!(
        !collections.contains(&"stray".to_string()),
        "{collections:?}"
    );
    let exists: bool = redis::cmd("EXISTS").arg("stray").query(&mut conn).unwrap();
    assert!(!exists);

    // --store limits the reset; without a seed environment, no seeds are loaded.
    db.execute("INSERT INTO projects VALUES (3, 'gamma')");
    redis::cmd("SET")
        .arg("kept")
        .arg("1")
        .exec(&mut conn)
        .unwrap();
    let pg_only = migrate(&["reset", "--store", "pg", "--yes", "--format", "json"]);
    pg_only.assert_ok();
    db.reconnect();
    let report: serde_json::Value = serde_json::from_str(&pg_only.stdout).unwrap();
    assert_eq!(report["plan"]["stores"].as_array().unwrap().len(), 1);
    assert!(report["seed"].is_null(), "{report:#}");
    assert_eq!(
        db.scalar("SELECT count(*) FROM projects").as_deref(),
        Some("0")
    );
    let kept: bool = redis::cmd("EXISTS").arg("kept").query(&mut conn).unwrap();
    assert!(kept);
}

// ---------------------------------------------------------------------------------------------
// Help, aliases, completions, man pages

#[test]
fn help_has_global_options_examples_and_aliases() {
    for command in [
        "up", "down", "status", "new", "seed", "reset", "database", "backup",
    ] {
        let help = run(migrate_cmd().args([command, "--help"]));
        help.assert_ok();
        assert!(
            help.stdout.contains("\nGlobal options:\n"),
            "{command}:\n{}",
            help.stdout
        );
        assert!(
            help.stdout.contains("\nExamples:\n  migrate "),
            "{command}:\n{}",
            help.stdout
        );
    }
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    let info = migrate(&db, dir.path(), &["info"]);
    info.assert_ok();
    assert!(info.stdout.contains("pending"), "{}", info.stdout);
    migrate(&db, dir.path(), &["up"]).assert_ok();
    let rollback = migrate(&db, dir.path(), &["rollback", "--yes"]);
    rollback.assert_ok();
    assert!(
        rollback.stdout.contains("reverted 1 migration"),
        "{}",
        rollback.stdout
    );
    let create = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["create", "add_b"]));
    create.assert_ok();
    assert!(dir.path().join("migrations/V2__add_b.sql").exists());
}

#[test]
fn completions_are_valid_shell_and_man_pages_are_roff() {
    let dir = workdir();
    let bash = run(migrate_cmd().args(["completions", "bash"]));
    bash.assert_ok();
    let script = dir.path().join("migrate.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let checked = run(std::process::Command::new("bash").arg("-n").arg(&script));
    assert_eq!(checked.code, 0, "bash -n: {}", checked.stderr);
    assert!(bash.stdout.contains("_migrate()"), "{}", bash.stdout);
    // Sourcing it registers the completion function.
    let sourced = run(std::process::Command::new("bash").arg("-c").arg(format!(
        "source {} && complete -p migrate",
        script.display()
    )));
    assert_eq!(sourced.code, 0, "{}", sourced.stderr);
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = run(migrate_cmd().args(["completions", shell]));
        out.assert_ok();
        assert!(out.stdout.contains("reset"), "{shell}");
    }

    let page = run(migrate_cmd().arg("man"));
    page.assert_ok();
    assert!(page.stdout.contains(".TH migrate 1"), "{}", page.stdout);
    assert!(page.stdout.contains("wait\\-timeout"), "{}", page.stdout);
    let out = dir.path().join("man1");
    let written = run(migrate_cmd().args(["man", "--out", out.to_str().unwrap()]));
    written.assert_ok();
    for name in [
        "migrate.1",
        "migrate-up.1",
        "migrate-database-create.1",
        "migrate-reset.1",
    ] {
        assert!(out.join(name).is_file(), "{name}:\n{}", written.stdout);
        assert!(written.stdout.contains(name), "{}", written.stdout);
    }
}

#[test]
fn the_readme_tour_matches_the_migrations_of_today() {
    let newest = newest_app_version();
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    for expected in [
        format!("applied {newest} migrations in "),
        format!("now at V{newest} "),
    ] {
        assert!(readme.contains(&expected), "README.md lacks `{expected}`");
    }
}
