//! TLS against a real PostgreSQL with its own certificate authority: `sslmode` disable,
//! require, verify-ca and verify-full behave as with libpq.

use std::path::Path;
use std::process::Command;

use crate::support::{migrate_cmd, run};

/// A dedicated server (TLS is switched on for it alone, not for the shared test server).
fn tls_server(certs: &Path) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-sandbox-tls");
    let state = migrate::sandbox::start(&dir, &[migrate::sandbox::Service::Postgres]).expect(
        "cannot start the TLS test PostgreSQL (initdb/pg_ctl from the PostgreSQL packages)",
    );
    let url = state
        .url(migrate::sandbox::Service::Postgres)
        .expect("postgres url")
        .to_string();
    let pem = |name: &str| std::fs::read_to_string(certs.join(name)).unwrap();
    let data_dir = psql(&url, "SHOW data_directory").trim().to_string();
    // The server writes the files itself, so they belong to its OS user.
    let write = |pem_text: String, file: &str| {
        format!(
            "COPY (SELECT unnest(string_to_array(rtrim($pem${pem_text}$pem$, E'\\n'), E'\\n'))) TO '{data_dir}/{file}'"
        )
    };
    for sql in [
        write(pem("server.crt"), "server.crt"),
        write(pem("server.key"), "server.key"),
        "ALTER SYSTEM SET ssl_cert_file = 'server.crt'".to_string(),
        "ALTER SYSTEM SET ssl_key_file = 'server.key'".to_string(),
        "ALTER SYSTEM SET ssl = on".to_string(),
        "SELECT pg_reload_conf()".to_string(),
    ] {
        psql(&url, &sql);
        if sql.contains("server.key") && sql.starts_with("COPY") {
            // COPY writes 0644; the server wants its key private. The test runs as root or as
            // the server's own user, so it may change the mode.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                Path::new(&data_dir).join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("chmod server.key");
        }
    }
    // Reloading is asynchronous: wait until new connections see ssl = on.
    for _ in 0..50 {
        if psql(&url, "SHOW ssl").trim() == "on" {
            return url;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the TLS test server did not switch ssl on");
}

fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .env("PGSSLMODE", "disable")
        .output()
        .expect("psql must be installed");
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (Debian package openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA and a server certificate for `localhost` only (not for 127.0.0.1).
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=migrate test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName = DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[test]
fn sslmodes_behave_like_libpq() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let base = tls_server(certs.path());
    let port = base
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let db = format!("tls_{}", std::process::id());
    psql(&base, &format!("DROP DATABASE IF EXISTS {db}"));
    psql(&base, &format!("CREATE DATABASE {db}"));
    let ca = certs.path().join("ca.crt").display().to_string();

    let work = crate::support::workdir();
    std::fs::create_dir_all(work.path().join("migrations")).unwrap();
    std::fs::write(
        work.path().join("migrations/V1__tls.sql"),
        "CREATE TABLE tls_check AS SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n-- migrate:down\nDROP TABLE tls_check;\n",
    )
    .unwrap();
    let url = |host: &str, query: &str| {
        format!("postgres://postgres:postgres@{host}:{port}/{db}?{query}")
    };
    let migrate = |url: String, args: &[&str]| {
        run(migrate_cmd()
            .current_dir(work.path())
            .arg("--database-url")
            .arg(url)
            .args(args))
    };
    let db_url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    let encrypted = || {
        psql(&db_url, "SELECT ssl FROM tls_check")
            .trim()
            .to_string()
    };

    // require: encrypted, certificate not verified.
    migrate(url("127.0.0.1", "sslmode=require"), &["up"]).assert_ok();
    assert_eq!(encrypted(), "t");
    migrate(url("127.0.0.1", "sslmode=require"), &["down", "--yes"]).assert_ok();

    // prefer (the default), by host name: encrypted when the server offers TLS, unverified
    // (the server's certificate is not trusted by the system), SCRAM over TLS included.
    migrate(url("localhost", "sslmode=prefer"), &["up"]).assert_ok();
    assert_eq!(encrypted(), "t");
    migrate(url("localhost", ""), &["down", "--yes"]).assert_ok();

    // disable: plain text.
    migrate(url("127.0.0.1", "sslmode=disable"), &["up"]).assert_ok();
    assert_eq!(encrypted(), "f");
    migrate(url("127.0.0.1", "sslmode=disable"), &["down", "--yes"]).assert_ok();

    // verify-ca without our CA: the chain is not trusted.
    let untrusted = migrate(url("127.0.0.1", "sslmode=verify-ca"), &["status"]);
    untrusted.assert_code(1);
    assert!(
        untrusted.stderr.contains("certificate verify failed"),
        "{}",
        untrusted.stderr
    );

    // verify-ca with the CA (given in the config file): chain checked, host name not.
    std::fs::write(
        work.path().join("migrate.toml"),
        format!("[postgres]\nsslrootcert = \"{ca}\"\n"),
    )
    .unwrap();
    migrate(url("127.0.0.1", "sslmode=verify-ca"), &["up"]).assert_ok();
    assert_eq!(encrypted(), "t");

    // verify-full: the certificate names localhost, not 127.0.0.1.
    let wrong_host = migrate(url("127.0.0.1", "sslmode=verify-full"), &["status"]);
    wrong_host.assert_code(1);
    assert!(
        wrong_host.stderr.contains("certificate verify failed"),
        "{}",
        wrong_host.stderr
    );
    migrate(url("localhost", "sslmode=verify-full"), &["status"]).assert_ok();

    // A missing root certificate file is a clear error.
    let missing = migrate(
        url(
            "localhost",
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        ),
        &["status"],
    );
    missing.assert_code(1);
    assert!(
        missing
            .stderr
            .contains("sslrootcert /nonexistent/ca.pem does not exist"),
        "{}",
        missing.stderr
    );
    psql(&base, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}
