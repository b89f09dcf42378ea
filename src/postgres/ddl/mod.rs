//! The migration writer: the DDL that turns one catalog snapshot into another.
//!
//! [`plan`] compares two snapshots (`super::snapshot`) kind by kind and writes the statements
//! that make the first one equal the second, in dependency order: drops of dependents first
//! (policies, triggers, views, constraints, indexes, columns, tables), then creations from the
//! bottom up (schemas, extensions, types, sequences, functions, tables, columns, constraints,
//! indexes, views, triggers, row-level security, grants, comments), then the drops of what
//! columns and routines referenced (functions, sequences, types, extensions, schemas). The same
//! function called with the snapshots swapped writes the down part.
//!
//! Definitions come from the catalog's own deparsing functions (`pg_get_indexdef`,
//! `pg_get_constraintdef`, `pg_get_triggerdef`, `pg_get_functiondef`, `pg_get_viewdef`),
//! printed with `search_path = pg_catalog`, so every name in them is qualified and the
//! statements do not depend on the session's search path. A difference the writer cannot
//! express is never left out silently: it is returned in [`Plan::refused`], naming the object.
//!
//! This file holds the phases, the [`Writer`] and what every kind shares; each family of kinds
//! has its file (`types.rs`, `tables.rs`, `views.rs`, `grants.rs`, `kinds.rs`), and `render.rs`
//! writes the migration file's text.

mod grants;
mod kinds;
pub mod proof;
mod render;
pub mod sql;
mod tables;
mod types;
mod views;

pub use render::{render, render_script};

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::snapshot::{Object, ObjectKind, Snapshot, UNCOMPARED_FIELDS, Value};
use sql::{child_of, ident, literal, qualified, role, routine};

/// One statement of a migration, with the hazards written as comments above it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub sql: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<String>,
}

/// A change the writer refused to write, naming the object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    pub object: String,
    pub reason: String,
}

/// The statements that turn one snapshot into another.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub statements: Vec<Statement>,
    /// Differences the writer cannot express (yet).
    pub refused: Vec<Refusal>,
    /// Objects whose data the statements drop (tables, columns).
    pub destructive: Vec<String>,
    /// The statements must run outside a transaction block (`CREATE INDEX CONCURRENTLY`, an
    /// enum value added and used in the same file).
    pub no_transaction: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

// Phases, in execution order.
const DROP_POLICY: u32 = 100;
const DROP_TRIGGER: u32 = 110;
const DROP_VIEW: u32 = 120;
const DROP_FOREIGN_KEY: u32 = 130;
const DROP_CONSTRAINT: u32 = 140;
const DROP_INDEX: u32 = 150;
const DROP_COLUMN: u32 = 160;
const DROP_TABLE: u32 = 170;
const CREATE_SCHEMA: u32 = 200;
const CREATE_EXTENSION: u32 = 210;
const CREATE_ENUM: u32 = 220;
const ALTER_ENUM: u32 = 230;
const CREATE_OTHER_TYPE: u32 = 240;
const CREATE_SEQUENCE: u32 = 250;
const CREATE_FUNCTION: u32 = 260;
const CREATE_TABLE: u32 = 270;
const ALTER_TABLE: u32 = 280;
const ALTER_COLUMN: u32 = 290;
const ALTER_SEQUENCE: u32 = 300;
const ADD_KEY: u32 = 310;
const ADD_CONSTRAINT: u32 = 320;
const ADD_FOREIGN_KEY: u32 = 330;
const CREATE_INDEX: u32 = 340;
const REPLICA_IDENTITY: u32 = 350;
const CREATE_VIEW: u32 = 360;
const CREATE_VIEW_INDEX: u32 = 370;
const CREATE_TRIGGER: u32 = 380;
const ROW_SECURITY: u32 = 390;
const CREATE_POLICY: u32 = 400;
const REVOKE_DEFAULTS: u32 = 410;
const GRANTS: u32 = 420;
const COMMENTS: u32 = 430;
const DROP_FUNCTION: u32 = 500;
const DROP_SEQUENCE: u32 = 510;
const DROP_OTHER_TYPE: u32 = 520;
const DROP_ENUM: u32 = 530;
const DROP_EXTENSION: u32 = 540;
const DROP_SCHEMA: u32 = 550;
// Phases of the kinds written by `kinds.rs`, between the ones above.
const DROP_PUBLICATION: u32 = 95;
const DROP_RULE: u32 = 112;
const DROP_EVENT_TRIGGER: u32 = 113;
const DROP_STATISTICS: u32 = 145;
const CREATE_COLLATION: u32 = 215;
const CREATE_TEXT_SEARCH: u32 = 245;
const CREATE_FOREIGN_SERVER: u32 = 246;
const CREATE_OPERATOR: u32 = 265;
const CREATE_CAST: u32 = 266;
const CREATE_STATISTICS: u32 = 345;
const CREATE_RULE: u32 = 385;
const CREATE_EVENT_TRIGGER: u32 = 386;
const CREATE_PUBLICATION: u32 = 387;
const OWNERS: u32 = 440;
const OWNER_PRIVILEGES: u32 = 450;
const DROP_CAST: u32 = 495;
const DROP_OPERATOR: u32 = 496;
const DROP_FOREIGN_SERVER: u32 = 515;
const DROP_TEXT_SEARCH: u32 = 516;
const DROP_TEXT_SEARCH_DICTIONARY: u32 = 517;
const DROP_COLLATION: u32 = 535;

/// How an object differs between the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Added,
    Removed,
    Changed,
}

struct Writer<'a> {
    from: &'a Snapshot,
    to: &'a Snapshot,
    phases: BTreeMap<u32, Vec<Statement>>,
    refused: Vec<Refusal>,
    destructive: Vec<String>,
    no_transaction: bool,
    /// Keys of objects that are dropped and created again (their children with them).
    recreated: BTreeSet<String>,
    /// Enums replaced through a type swap.
    swapped: BTreeSet<String>,
    /// Enum labels added in place (`'label'` text), to find a use later in the file.
    added_labels: Vec<String>,
    check_bodies_off: bool,
    /// Grants that creating their object gives anyway (PUBLIC's EXECUTE on a function).
    skip_grants: BTreeSet<String>,
}

/// The statements that turn `from` into `to`.
pub fn plan(from: &Snapshot, to: &Snapshot) -> Plan {
    let mut writer = Writer {
        from,
        to,
        phases: BTreeMap::new(),
        refused: Vec::new(),
        destructive: Vec::new(),
        no_transaction: false,
        recreated: BTreeSet::new(),
        swapped: BTreeSet::new(),
        added_labels: Vec::new(),
        check_bodies_off: false,
        skip_grants: BTreeSet::new(),
    };
    writer.write();
    let mut statements: Vec<Statement> = writer.phases.into_values().flatten().collect();
    if writer.check_bodies_off && !statements.is_empty() {
        statements.insert(
            0,
            Statement {
                sql: "SET check_function_bodies = off".to_string(),
                hazards: Vec::new(),
            },
        );
    }
    let mut no_transaction = writer.no_transaction;
    if !writer.added_labels.is_empty() {
        let uses_label = statements.iter().any(|statement| {
            !statement.sql.starts_with("ALTER TYPE")
                && writer
                    .added_labels
                    .iter()
                    .any(|label| statement.sql.contains(label.as_str()))
        });
        no_transaction |= uses_label;
    }
    Plan {
        statements,
        refused: writer.refused,
        destructive: writer.destructive,
        no_transaction,
    }
}

fn key(kind: ObjectKind, name: &str) -> String {
    format!("{kind} {name}")
}

fn text<'o>(object: &'o Object, field: &str) -> Option<&'o str> {
    match object.fields.get(field) {
        Some(Value::Text(text)) => Some(text.as_str()),
        _ => None,
    }
}

fn flag(object: &Object, field: &str) -> bool {
    matches!(object.fields.get(field), Some(Value::Bool(true)))
}

fn int(object: &Object, field: &str) -> Option<i64> {
    match object.fields.get(field) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

fn list<'o>(object: &'o Object, field: &str) -> &'o [String] {
    match object.fields.get(field) {
        Some(Value::List(items)) => items,
        _ => &[],
    }
}

/// The compared fields that differ, `comment` included.
fn changed_fields(a: &Object, b: &Object) -> BTreeSet<String> {
    a.fields
        .keys()
        .chain(b.fields.keys())
        .filter(|name| !UNCOMPARED_FIELDS.contains(&name.as_str()))
        .filter(|name| a.fields.get(*name) != b.fields.get(*name))
        .cloned()
        .collect()
}

/// Whether any compared field differs (`changed_fields` is not empty), without allocating.
fn fields_differ(a: &Object, b: &Object) -> bool {
    a.fields != b.fields
        && a.fields
            .keys()
            .chain(b.fields.keys())
            .filter(|name| !UNCOMPARED_FIELDS.contains(&name.as_str()))
            .any(|name| a.fields.get(name) != b.fields.get(name))
}

/// The parent object's name (`public.tasks` for `table public.tasks`).
fn parent_name(object: &Object) -> &str {
    object
        .parent
        .as_deref()
        .and_then(|parent| parent.split_once(' '))
        .map_or("", |(_, name)| name)
}

fn statement(sql: impl Into<String>) -> Statement {
    Statement {
        sql: sql.into(),
        hazards: Vec::new(),
    }
}

fn with_hazard(sql: impl Into<String>, hazard: impl Into<String>) -> Statement {
    Statement {
        sql: sql.into(),
        hazards: vec![hazard.into()],
    }
}

impl<'a> Writer<'a> {
    fn push(&mut self, phase: u32, statement: Statement) {
        self.phases.entry(phase).or_default().push(statement);
    }

    fn refuse(&mut self, object: &Object, reason: impl Into<String>) {
        self.refused.push(Refusal {
            object: format!("{} {}", object.kind, object.name),
            reason: reason.into(),
        });
    }

    /// Every key of `kind` on either side with how it differs (unchanged ones left out).
    fn changes(&self, kind: ObjectKind) -> Vec<(Change, Option<&'a Object>, Option<&'a Object>)> {
        let keys: BTreeSet<&String> = self
            .from
            .of_kind(kind)
            .chain(self.to.of_kind(kind))
            .map(|(k, _)| k)
            .collect();
        let mut out = Vec::new();
        for k in keys {
            let (a, b) = (self.from.objects.get(k), self.to.objects.get(k));
            let (a, b) = match (a, b) {
                (Some(a), Some(b)) if a.kind == kind => (Some(a), Some(b)),
                (Some(a), None) if a.kind == kind => (Some(a), None),
                (None, Some(b)) if b.kind == kind => (None, Some(b)),
                _ => continue,
            };
            let change = match (a, b) {
                (Some(_), None) => Change::Removed,
                (None, Some(_)) => Change::Added,
                (Some(a), Some(b)) => {
                    if !fields_differ(a, b) && !self.parent_recreated(b) {
                        continue;
                    }
                    Change::Changed
                }
                (None, None) => continue,
            };
            out.push((change, a, b));
        }
        out
    }

    fn in_from(&self, k: &str) -> bool {
        self.from.objects.contains_key(k)
    }

    fn in_to(&self, k: &str) -> bool {
        self.to.objects.contains_key(k)
    }

    /// The parent goes away (or is dropped and recreated): the child goes with it.
    fn parent_dropped(&self, object: &Object) -> bool {
        match &object.parent {
            Some(parent) => !self.in_to(parent) || self.recreated.contains(parent),
            None => false,
        }
    }

    /// The parent is new (or recreated): the child is created after it.
    fn parent_created(&self, object: &Object) -> bool {
        match &object.parent {
            Some(parent) => !self.in_from(parent) || self.recreated.contains(parent),
            None => false,
        }
    }

    fn parent_recreated(&self, object: &Object) -> bool {
        object
            .parent
            .as_ref()
            .is_some_and(|parent| self.recreated.contains(parent))
    }

    fn write(&mut self) {
        self.schemas();
        self.extensions();
        self.enums();
        self.other_types();
        self.sequences();
        self.functions();
        self.tables();
        self.columns();
        // Views go before the children of tables: they decide what is recreated.
        self.views();
        self.constraints();
        self.indexes();
        self.triggers();
        self.policies();
        self.grants();
        self.default_privileges();
        self.comments();
        self.view_column_comments();
        // The kinds of `kinds.rs`.
        self.column_storage();
        self.collations();
        self.text_search_dictionaries();
        self.text_search_configs();
        self.foreign_servers();
        self.operators();
        self.casts();
        self.statistics();
        self.rules();
        self.event_triggers();
        self.publications();
        self.owners();
        self.owner_privileges();
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` AS type START WITH ... ` (the type only where allowed).
fn sequence_options(sequence: &Object, with_type: bool) -> String {
    let mut out = String::new();
    if with_type && let Some(ty) = text(sequence, "type") {
        out.push_str(&format!(" AS {ty}"));
    }
    if let Some(n) = int(sequence, "increment") {
        out.push_str(&format!(" INCREMENT BY {n}"));
    }
    if let Some(n) = int(sequence, "min") {
        out.push_str(&format!(" MINVALUE {n}"));
    }
    if let Some(n) = int(sequence, "max") {
        out.push_str(&format!(" MAXVALUE {n}"));
    }
    if let Some(n) = int(sequence, "start") {
        out.push_str(&format!(" START WITH {n}"));
    }
    if let Some(n) = int(sequence, "cache") {
        out.push_str(&format!(" CACHE {n}"));
    }
    out.push_str(if flag(sequence, "cycle") {
        " CYCLE"
    } else {
        " NO CYCLE"
    });
    out
}

/// `schema.table.column` as a column reference (the column is after the last dot).
fn column_ref(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((table, column)) => format!("{}.{}", qualified(table), ident(column)),
        None => ident(name),
    }
}
