//! The planning rules, table-driven over plain files and rows (no store involved).

use chrono::Utc;

use super::rules::{Action, Direction, Dirty, File, Inputs, Planned, Row, RowKind};
use super::{DirtyReason, DownTarget, PlanError, State, Store, UpOptions};
use crate::core::checksum::Checksum;
use crate::core::files::Kind;

/// A file: `V3` versioned (reversible), `V3!` irreversible, `Rname` repeatable; `~` after it
/// means its content differs from what a row records for it.
struct Case<'a> {
    name: &'a str,
    files: &'a [&'a str],
    /// `V3` applied, `V3~` applied with another checksum, `V3?` dirty up, `V3v` dirty down,
    /// `B3` baseline, `Rname` repeatable applied, `Rname~` repeatable with another checksum.
    rows: &'a [&'a str],
}

/// Steps as `show` writes them, or the error as `kind` names it.
type Expected<'a> = Result<&'a [&'a str], &'a str>;
/// kind, version, name, checksum changed, dirty in which direction.
type OwnedRow = (RowKind, Option<u64>, String, bool, Option<Direction>);

struct Owned {
    files: Vec<(Kind, Option<u64>, String, bool)>,
    rows: Vec<OwnedRow>,
    same: Checksum,
    other: Checksum,
}

fn parse(case: &Case) -> Owned {
    let files = case
        .files
        .iter()
        .map(|f| {
            let irreversible = f.ends_with('!');
            let f = f.trim_end_matches('!');
            match f.strip_prefix('V') {
                Some(v) => (
                    Kind::Versioned,
                    Some(v.parse().unwrap()),
                    format!("m{v}"),
                    !irreversible,
                ),
                None => (Kind::Repeatable, None, f[1..].to_string(), !irreversible),
            }
        })
        .collect();
    let rows = case
        .rows
        .iter()
        .map(|r| {
            let changed = r.ends_with('~');
            let dirty = if r.ends_with('?') {
                Some(Direction::Up)
            } else if r.ends_with('v') && r.starts_with('V') {
                Some(Direction::Down)
            } else {
                None
            };
            let body = r.trim_end_matches(['~', '?']);
            let body = if dirty == Some(Direction::Down) {
                &body[..body.len() - 1]
            } else {
                body
            };
            let (kind, version, name) = match &body[..1] {
                "V" => (
                    RowKind::Versioned,
                    Some(body[1..].parse().unwrap()),
                    format!("m{}", &body[1..]),
                ),
                "B" => (
                    RowKind::Baseline,
                    Some(body[1..].parse().unwrap()),
                    "base".to_string(),
                ),
                _ => (RowKind::Repeatable, None, body[1..].to_string()),
            };
            (kind, version, name, changed, dirty)
        })
        .collect();
    Owned {
        files,
        rows,
        same: Checksum::of(b"same"),
        other: Checksum::of(b"other"),
    }
}

fn inputs(owned: &Owned) -> Inputs<'_> {
    Inputs {
        store: Store::Postgres,
        files: owned
            .files
            .iter()
            .map(|(kind, version, name, reversible)| File {
                kind: *kind,
                version: *version,
                name,
                path: format!("{name}.sql"),
                checksum: &owned.same,
                reversible: *reversible,
            })
            .collect(),
        rows: owned
            .rows
            .iter()
            .map(|(kind, version, name, changed, dirty)| Row {
                kind: *kind,
                version: *version,
                name,
                checksum: (*kind != RowKind::Baseline).then_some(if *changed {
                    &owned.other
                } else {
                    &owned.same
                }),
                applied_at: Utc::now(),
                execution_ms: 1,
                dirty: dirty.map(|direction| Dirty {
                    direction: Some(direction),
                    position: "failed at statement 2 of 3".into(),
                    cause: Some("boom".into()),
                    note: "failed at statement 2 of 3: boom".into(),
                }),
            })
            .collect(),
    }
}

/// Steps as `A3` (apply V3), `Rviews` (reapply), `S3@1` (resume from 1), `D3` (revert).
fn show(owned: &Owned, steps: &[Planned]) -> Vec<String> {
    steps
        .iter()
        .map(|s| {
            let (_, version, name, _) = &owned.files[s.file];
            let what = version.map_or_else(|| name.clone(), |v| v.to_string());
            match s.action {
                Action::Apply => format!("A{what}"),
                Action::Reapply => format!("R{what}"),
                Action::Resume => format!("S{what}@{}", s.from),
                Action::Revert if s.from > 0 => format!("D{what}@{}", s.from),
                Action::Revert => format!("D{what}"),
            }
        })
        .collect()
}

/// A store that resumes every dirty migration from statement 1.
fn resume_all(_: usize, _: usize) -> Result<usize, DirtyReason> {
    Ok(1)
}

#[test]
fn up_plans() {
    let allow = UpOptions {
        allow_out_of_order: true,
        ..Default::default()
    };
    let to2 = UpOptions {
        target: Some(2),
        ..Default::default()
    };
    let table: &[(Case, UpOptions, Expected)] = &[
        (
            Case {
                name: "pending in order, then repeatables",
                files: &["V1", "V2", "V3", "Rviews"],
                rows: &["V1"],
            },
            UpOptions::default(),
            Ok(&["A2", "A3", "Aviews"]),
        ),
        (
            Case {
                name: "target defers repeatables",
                files: &["V1", "V2", "V3", "Rviews"],
                rows: &[],
            },
            to2,
            Ok(&["A1", "A2"]),
        ),
        (
            Case {
                name: "changed repeatable is reapplied",
                files: &["V1", "Rviews", "Rfns"],
                rows: &["V1", "Rviews~", "Rfns"],
            },
            UpOptions::default(),
            Ok(&["Rviews"]),
        ),
        (
            Case {
                name: "out of order refused",
                files: &["V1", "V2", "V3"],
                rows: &["V1", "V3"],
            },
            UpOptions::default(),
            Err("out-of-order"),
        ),
        (
            Case {
                name: "out of order allowed",
                files: &["V1", "V2", "V3"],
                rows: &["V1", "V3"],
            },
            allow,
            Ok(&["A2"]),
        ),
        (
            Case {
                name: "modified refused",
                files: &["V1", "V2"],
                rows: &["V1~"],
            },
            UpOptions::default(),
            Err("modified"),
        ),
        (
            Case {
                name: "baseline covers older files",
                files: &["V1", "V2", "V3"],
                rows: &["B2"],
            },
            UpOptions::default(),
            Ok(&["A3"]),
        ),
        (
            Case {
                name: "dirty resumed first",
                files: &["V1", "V2", "V3"],
                rows: &["V1", "V2?"],
            },
            UpOptions::default(),
            Ok(&["S2@1", "A3"]),
        ),
        // A resumed migration counts as recorded: an older pending file is out of order.
        (
            Case {
                name: "resumed still counts for out-of-order",
                files: &["V1", "V2", "V3"],
                rows: &["V1", "V3?"],
            },
            UpOptions::default(),
            Err("out-of-order"),
        ),
        (
            Case {
                name: "dirty with its file gone",
                files: &["V1"],
                rows: &["V1", "V2?"],
            },
            UpOptions::default(),
            Err("dirty: file gone"),
        ),
        (
            Case {
                name: "half-reverted stops up",
                files: &["V1", "V2"],
                rows: &["V1", "V2v"],
            },
            UpOptions::default(),
            Err("dirty: half-done down"),
        ),
        (
            Case {
                name: "dirty repeatable resumed, not reapplied",
                files: &["V1", "Rviews"],
                rows: &["V1", "Rviews?"],
            },
            UpOptions::default(),
            Ok(&["Sviews@1"]),
        ),
    ];
    for (case, options, expected) in table {
        let owned = parse(case);
        let got = inputs(&owned).plan_up(*options, resume_all);
        check(case.name, &owned, got, expected);
    }
}

#[test]
fn down_plans() {
    let table: &[(Case, DownTarget, Expected)] = &[
        (
            Case {
                name: "one step",
                files: &["V1", "V2", "V3"],
                rows: &["V1", "V2", "V3"],
            },
            DownTarget::Steps(1),
            Ok(&["D3"]),
        ),
        (
            Case {
                name: "to a version",
                files: &["V1", "V2", "V3"],
                rows: &["V1", "V2", "V3"],
            },
            DownTarget::To(1),
            Ok(&["D3", "D2"]),
        ),
        (
            Case {
                name: "to zero reverts repeatables first",
                files: &["V1", "V2", "Rviews"],
                rows: &["V1", "V2", "Rviews"],
            },
            DownTarget::To(0),
            Ok(&["Dviews", "D2", "D1"]),
        ),
        (
            Case {
                name: "irreversible refused",
                files: &["V1", "V2!", "V3"],
                rows: &["V1", "V2", "V3"],
            },
            DownTarget::To(0),
            Err("irreversible"),
        ),
        (
            Case {
                name: "irreversible outside the plan is fine",
                files: &["V1!", "V2"],
                rows: &["V1", "V2"],
            },
            DownTarget::Steps(1),
            Ok(&["D2"]),
        ),
        (
            Case {
                name: "missing file refused",
                files: &["V1"],
                rows: &["V1", "V2"],
            },
            DownTarget::Steps(1),
            Err("missing"),
        ),
        (
            Case {
                name: "modified in the plan refused",
                files: &["V1", "V2"],
                rows: &["V1", "V2~"],
            },
            DownTarget::Steps(1),
            Err("modified to revert"),
        ),
        (
            Case {
                name: "modified outside the plan is fine",
                files: &["V1", "V2"],
                rows: &["V1~", "V2"],
            },
            DownTarget::Steps(1),
            Ok(&["D2"]),
        ),
        (
            Case {
                name: "below the baseline refused",
                files: &["V1", "V2", "V3"],
                rows: &["B2", "V3"],
            },
            DownTarget::To(0),
            Err("below baseline"),
        ),
        (
            Case {
                name: "half-revert finished from where it stopped",
                files: &["V1", "V2", "V3"],
                rows: &["V1", "V2", "V3v"],
            },
            DownTarget::Steps(2),
            Ok(&["D3@1", "D2"]),
        ),
        (
            Case {
                name: "half-applied stops down",
                files: &["V1", "V2"],
                rows: &["V1", "V2?"],
            },
            DownTarget::Steps(1),
            Err("dirty: half-done up"),
        ),
    ];
    for (case, target, expected) in table {
        let owned = parse(case);
        let got = inputs(&owned).plan_down(*target, resume_all);
        check(case.name, &owned, got, expected);
    }
}

fn check(name: &str, owned: &Owned, got: Result<Vec<Planned>, PlanError>, expected: &Expected) {
    match (got, expected) {
        (Ok(steps), Ok(want)) => assert_eq!(show(owned, &steps), *want, "{name}"),
        (Err(error), Err(want)) => assert_eq!(kind(&error), *want, "{name}: {error:?}"),
        (got, want) => panic!("{name}: got {got:?}, expected {want:?}"),
    }
}

fn kind(error: &PlanError) -> &'static str {
    match error {
        PlanError::Dirty { rows, .. } => match &rows[0].reason {
            DirtyReason::FileGone => "dirty: file gone",
            DirtyReason::HalfDone(Direction::Up) => "dirty: half-done up",
            DirtyReason::HalfDone(Direction::Down) => "dirty: half-done down",
            DirtyReason::Failed => "dirty: failed",
            DirtyReason::FileChanged { .. } => "dirty: file changed",
            DirtyReason::NotResumable(_) => "dirty: not resumable",
        },
        PlanError::Modified { .. } => "modified",
        PlanError::OutOfOrder { .. } => "out-of-order",
        PlanError::BelowBaseline { .. } => "below baseline",
        PlanError::Irreversible { .. } => "irreversible",
        PlanError::MissingFiles { .. } => "missing",
        PlanError::ModifiedToRevert { .. } => "modified to revert",
    }
}

#[test]
fn errors_name_the_migrations() {
    let owned = parse(&Case {
        name: "",
        files: &["V1", "V2", "V3"],
        rows: &["V1", "V3"],
    });
    let error = inputs(&owned)
        .plan_up(UpOptions::default(), resume_all)
        .unwrap_err();
    let PlanError::OutOfOrder { newest, items, .. } = error else {
        panic!("{error:?}")
    };
    assert_eq!(newest, 3);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].label, "V2 m2");
    assert_eq!(items[0].file.as_deref(), Some("m2.sql"));
    // Every dirty migration the run cannot go past is listed, with the store's reason.
    let owned = parse(&Case {
        name: "",
        files: &["V1", "V2"],
        rows: &["V1?", "V2?"],
    });
    let error = inputs(&owned)
        .plan_up(UpOptions::default(), |row, _| {
            if row == 0 {
                Ok(1)
            } else {
                Err(DirtyReason::NotResumable("no".into()))
            }
        })
        .unwrap_err();
    let PlanError::Dirty { rows, command, .. } = error else {
        panic!("{error:?}")
    };
    assert_eq!(command, Direction::Up);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].label, "V2 m2");
    assert_eq!(rows[0].cause.as_deref(), Some("boom"));
}

#[test]
fn status_ladder() {
    let table: &[(Case, &[(&str, State)])] = &[
        (
            Case {
                name: "every state",
                files: &["V1", "V2", "V3", "V5", "Rviews", "Rfns", "Rnew"],
                rows: &["V2", "V3~", "V4", "V5?", "Rviews~", "Rfns"],
            },
            &[
                ("1", State::OutOfOrder),
                ("2", State::Applied),
                ("3", State::Modified),
                ("4", State::Missing),
                ("5", State::Dirty),
                ("fns", State::Applied),
                ("new", State::Pending),
                ("views", State::Outdated),
            ],
        ),
        (
            Case {
                name: "baseline on its file",
                files: &["V1", "V2", "V3"],
                rows: &["B2"],
            },
            &[
                ("1", State::Baseline),
                ("2", State::Baseline),
                ("3", State::Pending),
            ],
        ),
        (
            Case {
                name: "baseline without its file",
                files: &["V1", "V7"],
                rows: &["B5"],
            },
            &[
                ("1", State::Baseline),
                ("5", State::Baseline),
                ("7", State::Pending),
            ],
        ),
    ];
    for (case, expected) in table {
        let owned = parse(case);
        let entries = inputs(&owned).status(std::iter::empty());
        let got: Vec<(String, State)> = entries
            .iter()
            .map(|e| {
                (
                    e.version.map_or_else(|| e.name.clone(), |v| v.to_string()),
                    e.state,
                )
            })
            .collect();
        let want: Vec<(String, State)> =
            expected.iter().map(|(k, s)| (k.to_string(), *s)).collect();
        assert_eq!(got, want, "{}", case.name);
    }
}

#[test]
fn status_notes_and_times() {
    let owned = parse(&Case {
        name: "",
        files: &["V1", "V2", "V3"],
        rows: &["V2~", "V3?"],
    });
    let entries = inputs(&owned).status(std::iter::empty());
    assert_eq!(entries[0].note.as_deref(), Some("older than applied V3"));
    assert!(entries[1].note.as_deref().unwrap().starts_with("checksum "));
    assert!(entries[1].applied_at.is_some());
    assert_eq!(
        entries[2].note.as_deref(),
        Some("failed at statement 2 of 3: boom")
    );
    // A dirty migration's run did not finish: no time, no duration (both stores alike).
    assert_eq!(entries[2].applied_at, None);
    assert_eq!(entries[2].execution_ms, None);
    let owned = parse(&Case {
        name: "",
        files: &[],
        rows: &["V1", "V2?", "Rviews", "B3"],
    });
    assert_eq!(super::rules::current_version(&inputs(&owned).rows), Some(3));
}
