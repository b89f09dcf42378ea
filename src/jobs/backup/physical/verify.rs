//! Reading `pgbackrest verify` (pure, unit-tested): pgBackRest 2.45 exits 0 even when it finds
//! invalid files, and says so only in its output, so the output is what counts.

use serde::Serialize;

/// One problem `verify` reported.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// What pgBackRest said, e.g. `invalid checksum`.
    pub problem: String,
    /// The file, as an absolute path when pgBackRest named one.
    pub file: Option<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: {file}", self.problem),
            None => f.write_str(&self.problem),
        }
    }
}

/// The problems in the console output of `verify --log-level-console=info --output=text`.
///
/// Files are named relative to the stanza's `backup/` directory (`LABEL/pg_data/…`) or its
/// `archive/` directory (`15-1/…/SEGMENT-SHA1.gz`); both are made absolute under `repo`.
pub fn findings(output: &str, repo: &str, stanza: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut status_error = false;
    for line in output.lines() {
        let text = line.trim();
        if text == "status: error" {
            status_error = true;
        }
        // `… P01   INFO: invalid checksum '20261204-052653F/pg_data/global/1260.gz'`
        let Some((_, message)) = text
            .split_once(" INFO: ")
            .or_else(|| text.split_once(" WARN: "))
            .or_else(|| text.split_once("WARN: "))
        else {
            continue;
        };
        // `invalid result 15-1/…/SEGMENT-SHA1.gz: [29] raised from local-2 protocol: zlib …`
        let (problem, relative) = if let Some(rest) = message.strip_prefix("invalid result ") {
            let Some((path, why)) = rest.split_once(": ") else {
                continue;
            };
            (format!("unreadable ({})", why.trim()), path)
        } else {
            let Some((problem, quoted)) = message.split_once(" '") else {
                continue;
            };
            let Some(relative) = quoted.strip_suffix('\'') else {
                continue;
            };
            (problem.to_string(), relative)
        };
        if !is_problem(&problem) {
            continue;
        }
        let kind = if is_archive_path(relative) {
            "archive"
        } else {
            "backup"
        };
        found.push(Finding {
            problem: problem.trim().to_string(),
            file: Some(format!(
                "{}/{kind}/{stanza}/{relative}",
                repo.trim_end_matches('/')
            )),
        });
    }
    if status_error && found.is_empty() {
        // pgBackRest said the stanza is in error without naming a file (a missing WAL range,
        // an unreadable manifest): report its summary lines.
        for line in output.lines().map(str::trim) {
            if line.contains("status: invalid")
                || line.contains("missing:")
                || line.contains("other:")
            {
                found.push(Finding {
                    problem: line.to_string(),
                    file: None,
                });
            }
        }
        if found.is_empty() {
            found.push(Finding {
                problem: "pgBackRest verify reports `status: error`".to_string(),
                file: None,
            });
        }
    }
    found
}

fn is_problem(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "invalid", "missing", "unable", "error", "mismatch", "corrupt",
    ]
    .iter()
    .any(|word| message.contains(word))
}

/// `15-1/0000000100000000/000000010000000000000003-df52….gz`: an archive id (`VERSION-N`) first.
fn is_archive_path(relative: &str) -> bool {
    let first = relative.split('/').next().unwrap_or("");
    match first.split_once('-') {
        Some((version, id)) => {
            !version.is_empty()
                && version.chars().all(|c| c.is_ascii_digit())
                && id.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_invalid_backup_file() {
        let output = "\
2026-12-04 05:27:04.894 P00   INFO: verify command begin 2.45: --config=/tmp/pbx/pgbackrest.conf
2026-12-04 05:27:05.145 P01   INFO: invalid checksum '20261204-052653F/pg_data/global/1260.gz'
2026-12-04 05:27:05.253 P00   INFO: stanza: demo
                                    status: error
                                      backup: 20261204-052653F, status: invalid, total files checked: 964, total valid files: 963
                                        checksum invalid: 1
2026-12-04 05:27:05.253 P00   INFO: verify command end: completed successfully (361ms)";
        assert_eq!(
            findings(output, "/repo/", "demo"),
            vec![Finding {
                problem: "invalid checksum".into(),
                file: Some("/repo/backup/demo/20261204-052653F/pg_data/global/1260.gz".into()),
            }]
        );
    }

    #[test]
    fn archive_files_are_placed_under_archive() {
        let output = "2026-12-04 05:27:05.145 P01   INFO: invalid checksum '15-1/0000000100000000/000000010000000000000003-df52.gz'";
        let found = findings(output, "/r", "main");
        assert_eq!(
            found[0].file.as_deref(),
            Some("/r/archive/main/15-1/0000000100000000/000000010000000000000003-df52.gz")
        );
    }

    #[test]
    fn a_file_that_cannot_be_decompressed_is_named() {
        let output = "2026-12-04 06:01:28.853 P02   INFO: invalid result 15-1/0000000100000000/00000001000000000000000C-aefe.gz: [29] raised from local-2 protocol: zlib threw error: [-3] data error
                                    [FormatError] on retry after 0ms
2026-12-04 06:01:28.859 P00   INFO: stanza: sandbox
                                    status: error";
        let found = findings(output, "/r", "sandbox");
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].file.as_deref(),
            Some("/r/archive/sandbox/15-1/0000000100000000/00000001000000000000000C-aefe.gz")
        );
        assert!(found[0].problem.contains("zlib"), "{}", found[0].problem);
    }

    #[test]
    fn a_clean_run_has_no_findings_and_an_error_status_always_has_one() {
        let clean = "\
2026-12-04 05:27:04.894 P00   INFO: verify command begin 2.45: --config=/x '--stanza=demo'
2026-12-04 05:27:05.253 P00   INFO: stanza: demo
                                    status: ok
2026-12-04 05:27:05.253 P00   INFO: verify command end: completed successfully (361ms)";
        assert!(findings(clean, "/r", "demo").is_empty());
        let vague = "stanza: demo\nstatus: error\n  archiveId: 15-1, total WAL checked: 3, total valid WAL: 2\n    missing: 1";
        let found = findings(vague, "/r", "demo");
        assert_eq!(found.len(), 1);
        assert!(found[0].problem.contains("missing"));
    }
}
