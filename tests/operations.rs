//! The scheduled operations of `docs/operations.md`: the systemd units and the Kubernetes
//! CronJobs under `deploy/` run `migrate` with exactly the arguments this test runs, against
//! real servers with the application's configuration in its production environment.

use std::path::Path;

use crate::support::{
    example_config, migrate_all_stores, migrate_cmd, mongo, pg, redis, repo, run, workdir,
};

/// The `migrate` arguments of every `ExecStart=` of the systemd services, in routine order.
fn systemd_commands() -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for unit in [
        "migrate-backup",
        "migrate-retention",
        "migrate-maintain",
        "migrate-verify",
        "migrate-health",
    ] {
        let text =
            std::fs::read_to_string(repo(&format!("deploy/systemd/{unit}.service"))).unwrap();
        let timer = repo(&format!("deploy/systemd/{unit}.timer"));
        assert!(Path::new(&timer).exists(), "{unit}.service has no timer");
        for line in text.lines() {
            if let Some(command) = line.strip_prefix("ExecStart=") {
                let mut words = command.split_whitespace();
                assert_eq!(words.next(), Some("/usr/local/bin/migrate"), "{line}");
                commands.push(words.map(str::to_string).collect());
            }
        }
    }
    commands
}

/// The `args` of every container of the CronJobs, in file order.
fn kubernetes_commands() -> Vec<Vec<String>> {
    std::fs::read_to_string(repo("deploy/kubernetes/cronjobs.yaml"))
        .unwrap()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("args: "))
        .map(|args| serde_json::from_str(args).unwrap())
        .collect()
}

#[test]
fn systemd_and_kubernetes_run_the_same_routine() {
    let systemd = systemd_commands();
    assert_eq!(systemd, kubernetes_commands());
    assert!(systemd.len() >= 7, "{systemd:?}");
    // The documentation shows the same commands.
    let doc = std::fs::read_to_string(repo("docs/operations.md")).unwrap();
    for command in &systemd {
        let line = format!("migrate {}", command.join(" "));
        assert!(
            doc.contains(&line),
            "docs/operations.md does not mention `{line}`"
        );
    }
}

#[test]
fn systemd_units_pass_systemd_analyze() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        panic!("systemd-analyze is not installed: apt-get install systemd");
    };
    // With the binary at the path the units name replaced by this build's.
    let dir = workdir();
    let mut units = Vec::new();
    for entry in std::fs::read_dir(repo("deploy/systemd")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("/usr/local/bin/migrate", env!("CARGO_BIN_EXE_migrate"));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        std::fs::write(dir.path().join(&name), text).unwrap();
        if !name.contains('@') {
            units.push(format!("./{name}"));
        }
    }
    let result = run(std::process::Command::new(analyze)
        .current_dir(dir.path())
        .arg("verify")
        .args(&units));
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    assert!(result.stderr.trim().is_empty(), "{}", result.stderr);
}

#[test]
fn every_scheduled_command_runs_against_production_settings() {
    let (pg, mongo, redis) = (pg(), mongo(), redis());
    let setup = workdir();
    std::fs::write(setup.path().join("migrate.toml"), example_config()).unwrap();
    run(migrate_all_stores(setup.path(), &pg, &mongo, &redis).arg("up")).assert_ok();
    run(migrate_all_stores(setup.path(), &pg, &mongo, &redis).args([
        "--seeds",
        &repo("seeds"),
        "seed",
        "--env",
        "dev",
    ]))
    .assert_ok();

    // The service's working directory: migrate.toml, and the backups beside it.
    let home = workdir();
    std::fs::write(home.path().join("migrate.toml"), example_config()).unwrap();
    for command in systemd_commands() {
        let result = run(migrate_cmd()
            .current_dir(home.path())
            // /etc/migrate/environment
            .env("MIGRATE_ENV", "production")
            .env("PRODUCTION_DATABASE_URL", &pg.url)
            .env("MONGODB_URL", &mongo.url)
            .env("REDIS_URL", &redis.url)
            .env("MIGRATE_ANON_KEY", "operations-test-key-0123456789abcdef")
            .args(&command));
        let health = command.last().map(String::as_str) == Some("health");
        if health {
            // Exit 2 is a finding (the unit fails and alerts); the report is there either way.
            assert!(
                result.code == 0 || result.code == 2,
                "migrate {}: {}\n{}",
                command.join(" "),
                result.stdout,
                result.stderr
            );
            let report: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
            assert_eq!(report["stores"].as_array().unwrap().len(), 3);
        } else {
            assert_eq!(
                result.code,
                0,
                "migrate {}:\n{}\n{}",
                command.join(" "),
                result.stdout,
                result.stderr
            );
        }
    }
    assert!(
        home.path().join("backups").is_dir(),
        "backups are written in the working directory"
    );
}
