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

mod kinds;
pub mod proof;
pub mod sql;

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

    // ----------------------------------------------------------------------------------
    // Schemas and extensions

    fn schemas(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Schema) {
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    self.push(
                        CREATE_SCHEMA,
                        statement(format!("CREATE SCHEMA {}", ident(&b.name))),
                    );
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_SCHEMA,
                        statement(format!("DROP SCHEMA {}", ident(&a.name))),
                    );
                }
                Change::Changed => {}
            }
        }
    }

    fn extensions(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Extension) {
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    let mut sql = format!("CREATE EXTENSION IF NOT EXISTS {}", ident(&b.name));
                    if let Some(schema) = text(b, "schema") {
                        sql.push_str(&format!(" WITH SCHEMA {}", ident(schema)));
                    }
                    if let Some(version) = text(b, "version") {
                        sql.push_str(&format!(" VERSION {}", literal(version)));
                    }
                    self.push(CREATE_EXTENSION, statement(sql));
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_EXTENSION,
                        statement(format!("DROP EXTENSION {}", ident(&a.name))),
                    );
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    if text(a, "schema") != text(b, "schema")
                        && let Some(schema) = text(b, "schema")
                    {
                        self.push(
                            CREATE_EXTENSION,
                            statement(format!(
                                "ALTER EXTENSION {} SET SCHEMA {}",
                                ident(&b.name),
                                ident(schema)
                            )),
                        );
                    }
                    if text(a, "version") != text(b, "version")
                        && let Some(version) = text(b, "version")
                    {
                        self.push(
                            CREATE_EXTENSION,
                            statement(format!(
                                "ALTER EXTENSION {} UPDATE TO {}",
                                ident(&b.name),
                                literal(version)
                            )),
                        );
                    }
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Types

    fn enums(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Enum) {
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    self.push(CREATE_ENUM, create_enum(&b.name, list(b, "labels")));
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_ENUM,
                        statement(format!("DROP TYPE {}", qualified(&a.name))),
                    );
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let (old, new) = (list(a, "labels"), list(b, "labels"));
                    if old == new {
                        continue;
                    }
                    if is_subsequence(old, new) {
                        for (index, label) in new.iter().enumerate() {
                            if old.contains(label) {
                                continue;
                            }
                            let position = if index > 0 {
                                format!(" AFTER {}", literal(&new[index - 1]))
                            } else if new.len() > 1 {
                                format!(" BEFORE {}", literal(&new[1]))
                            } else {
                                String::new()
                            };
                            self.added_labels.push(literal(label));
                            self.push(
                                ALTER_ENUM,
                                statement(format!(
                                    "ALTER TYPE {} ADD VALUE {}{position}",
                                    qualified(&b.name),
                                    literal(label)
                                )),
                            );
                        }
                    } else {
                        self.swap_enum(b);
                    }
                }
            }
        }
    }

    /// Values removed, renamed or reordered: a new type replaces the old one in every column.
    fn swap_enum(&mut self, enum_: &Object) {
        self.swapped.insert(enum_.name.clone());
        let name = qualified(&enum_.name);
        let old_local = format!("{}__migrate_old", sql::local_of(&enum_.name));
        let old = format!(
            "{}.{}",
            ident(sql::schema_of(&enum_.name)),
            ident(&old_local)
        );
        self.push(
            ALTER_ENUM,
            with_hazard(
                format!("ALTER TYPE {name} RENAME TO {}", ident(&old_local)),
                format!(
                    "type swap: values of {} were removed, renamed or reordered; every column of the type is rewritten (ACCESS EXCLUSIVE lock), and a row holding a removed value makes it fail",
                    enum_.name
                ),
            ),
        );
        self.push(ALTER_ENUM, create_enum(&enum_.name, list(enum_, "labels")));
        let array_type = format!("{}[]", enum_.name);
        let columns: Vec<&Object> = self
            .to
            .objects
            .values()
            .filter(|o| o.kind == ObjectKind::Column)
            .filter(|o| {
                let t = text(o, "type");
                t == Some(enum_.name.as_str()) || t == Some(array_type.as_str())
            })
            .filter(|o| {
                self.from
                    .objects
                    .get(&key(ObjectKind::Column, &o.name))
                    .is_some_and(|a| text(a, "type") == text(o, "type"))
            })
            .collect();
        for column in columns {
            let table = parent_name(column);
            let col = ident(child_of(&column.name, table));
            let is_array = text(column, "type") == Some(array_type.as_str());
            let target = if is_array {
                format!("{name}[]")
            } else {
                name.clone()
            };
            let via = if is_array { "text[]" } else { "text" };
            let had_default = self
                .from
                .objects
                .get(&key(ObjectKind::Column, &column.name))
                .is_some_and(|a| text(a, "default").is_some());
            if had_default {
                self.push(
                    ALTER_ENUM,
                    statement(format!(
                        "ALTER TABLE {} ALTER COLUMN {col} DROP DEFAULT",
                        qualified(table)
                    )),
                );
            }
            self.push(
                ALTER_ENUM,
                statement(format!(
                    "ALTER TABLE {} ALTER COLUMN {col} TYPE {target} USING {col}::{via}::{target}",
                    qualified(table)
                )),
            );
            if let Some(default) = text(column, "default") {
                self.push(
                    ALTER_ENUM,
                    statement(format!(
                        "ALTER TABLE {} ALTER COLUMN {col} SET DEFAULT {default}",
                        qualified(table)
                    )),
                );
            }
        }
        self.push(ALTER_ENUM, statement(format!("DROP TYPE {old}")));
    }

    fn other_types(&mut self) {
        for kind in [ObjectKind::Domain, ObjectKind::Type, ObjectKind::Range] {
            for (change, a, b) in self.changes(kind) {
                match change {
                    Change::Added => {
                        let b = b.expect("added");
                        if let Some(sql) = create_type(b) {
                            self.push(CREATE_OTHER_TYPE, statement(sql));
                        }
                    }
                    Change::Removed => {
                        let a = a.expect("removed");
                        let word = if kind == ObjectKind::Domain {
                            "DOMAIN"
                        } else {
                            "TYPE"
                        };
                        self.push(
                            DROP_OTHER_TYPE,
                            statement(format!("DROP {word} {}", qualified(&a.name))),
                        );
                    }
                    Change::Changed => {
                        let (a, b) = (a.expect("both"), b.expect("both"));
                        let fields = changed_fields(a, b);
                        let other: Vec<&String> =
                            fields.iter().filter(|f| *f != "comment").collect();
                        if !other.is_empty() {
                            self.refuse(
                                b,
                                format!(
                                    "changing {} of a {kind} is not supported yet",
                                    join(&other)
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Sequences

    /// Whether `sequence` is the sequence of an identity column (created and dropped with it).
    fn is_identity_sequence(snapshot: &Snapshot, sequence: &Object) -> bool {
        text(sequence, "owned_by").is_some_and(|column| {
            snapshot
                .objects
                .get(&key(ObjectKind::Column, column))
                .is_some_and(|c| text(c, "identity").is_some())
        })
    }

    fn sequences(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Sequence) {
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    if Self::is_identity_sequence(self.to, b) {
                        continue;
                    }
                    self.push(
                        CREATE_SEQUENCE,
                        statement(format!(
                            "CREATE SEQUENCE {}{}",
                            qualified(&b.name),
                            sequence_options(b, true)
                        )),
                    );
                    if let Some(owner) = text(b, "owned_by") {
                        self.push(
                            ALTER_SEQUENCE,
                            statement(format!(
                                "ALTER SEQUENCE {} OWNED BY {}",
                                qualified(&b.name),
                                column_ref(owner)
                            )),
                        );
                    }
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    if Self::is_identity_sequence(self.from, a) {
                        continue;
                    }
                    // An owned sequence goes with its column or table.
                    if let Some(owner) = text(a, "owned_by")
                        && (!self.in_to(&key(ObjectKind::Column, owner)) || self.parent_dropped(a))
                    {
                        continue;
                    }
                    if text(a, "owned_by").is_some() {
                        // Detach first: the column keeps existing.
                        self.push(
                            ALTER_SEQUENCE,
                            statement(format!(
                                "ALTER SEQUENCE {} OWNED BY NONE",
                                qualified(&a.name)
                            )),
                        );
                    }
                    self.push(
                        DROP_SEQUENCE,
                        statement(format!("DROP SEQUENCE {}", qualified(&a.name))),
                    );
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let fields = changed_fields(a, b);
                    let options: Vec<&String> = fields
                        .iter()
                        .filter(|f| *f != "comment" && *f != "owned_by")
                        .collect();
                    if !options.is_empty() {
                        let identity = Self::is_identity_sequence(self.to, b);
                        self.push(
                            ALTER_SEQUENCE,
                            statement(format!(
                                "ALTER SEQUENCE {}{}",
                                qualified(&b.name),
                                sequence_options(b, !identity)
                            )),
                        );
                    }
                    if fields.contains("owned_by") {
                        let owner = text(b, "owned_by").map_or("NONE".to_string(), column_ref);
                        self.push(
                            ALTER_SEQUENCE,
                            statement(format!(
                                "ALTER SEQUENCE {} OWNED BY {owner}",
                                qualified(&b.name)
                            )),
                        );
                    }
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Functions

    /// Whether `function` is a constructor the server made for a range type (`floatrange()`,
    /// `floatmultirange()`): it comes and goes with the type.
    fn range_constructor(&self, function: &Object) -> bool {
        let name = function.name.split('(').next().unwrap_or("");
        [self.from, self.to].iter().any(|snapshot| {
            snapshot.of_kind(ObjectKind::Range).any(|(_, o)| {
                let local = sql::local_of(&o.name);
                let multirange = if local.contains("range") {
                    local.replacen("range", "multirange", 1)
                } else {
                    format!("{local}_multirange")
                };
                let schema = sql::schema_of(&o.name);
                name == o.name || name == format!("{schema}.{multirange}")
            })
        })
    }

    fn functions(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Function) {
            if self.range_constructor(b.or(a).expect("one side")) {
                continue;
            }
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    self.create_function(b);
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_FUNCTION,
                        statement(format!("DROP ROUTINE {}", routine(&a.name))),
                    );
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let fields = changed_fields(a, b);
                    if fields.iter().all(|f| f == "comment") {
                        continue;
                    }
                    if text(a, "kind") != text(b, "kind") {
                        self.refuse(
                            b,
                            "changing a function into a procedure (or back) is not supported yet",
                        );
                        continue;
                    }
                    self.create_function(b);
                }
            }
        }
    }

    fn create_function(&mut self, function: &Object) {
        match (text(function, "kind"), text(function, "definition")) {
            (Some("function" | "procedure" | "window"), Some(definition)) => {
                self.check_bodies_off = true;
                self.push(
                    CREATE_FUNCTION,
                    statement(definition.trim_end().trim_end_matches(';').to_string()),
                );
            }
            _ => self.refuse(function, "aggregates are not supported yet"),
        }
    }

    // ----------------------------------------------------------------------------------
    // Tables and columns

    fn tables(&mut self) {
        let mut created: Vec<&Object> = Vec::new();
        let mut dropped: Vec<&Object> = Vec::new();
        for (change, a, b) in self.changes(ObjectKind::Table) {
            match change {
                Change::Added => created.push(b.expect("added")),
                Change::Removed => dropped.push(a.expect("removed")),
                Change::Changed => self.alter_table(a.expect("both"), b.expect("both")),
            }
        }
        // Parents (partitioned and inherited tables) first.
        created.sort_by_key(|t| {
            (
                text(t, "partition_of").is_some() || !list(t, "inherits").is_empty(),
                t.name.clone(),
            )
        });
        for table in created {
            if flag(table, "foreign") {
                self.refuse(table, "foreign tables are not supported yet");
                continue;
            }
            let sql = self.create_table(table);
            self.push(CREATE_TABLE, statement(sql));
            if flag(table, "rls_enabled") {
                self.push(
                    ROW_SECURITY,
                    statement(format!(
                        "ALTER TABLE {} ENABLE ROW LEVEL SECURITY",
                        qualified(&table.name)
                    )),
                );
            }
            if flag(table, "rls_forced") {
                self.push(
                    ROW_SECURITY,
                    statement(format!(
                        "ALTER TABLE {} FORCE ROW LEVEL SECURITY",
                        qualified(&table.name)
                    )),
                );
            }
            if let Some(identity) = text(table, "replica_identity")
                && identity != "default"
            {
                self.push(
                    REPLICA_IDENTITY,
                    statement(replica_identity(&table.name, identity)),
                );
            }
        }
        // Partitions whose parent is dropped too go with it.
        let names: Vec<String> = dropped
            .iter()
            .filter(|t| {
                text(t, "partition_of")
                    .is_none_or(|parent| self.in_to(&key(ObjectKind::Table, parent)))
            })
            .map(|t| qualified(&t.name))
            .collect();
        for table in &dropped {
            self.destructive.push(format!("table {}", table.name));
        }
        if !names.is_empty() {
            self.push(
                DROP_TABLE,
                with_hazard(
                    format!("DROP TABLE {}", names.join(", ")),
                    format!("dropped data: every row of {} is lost", names.join(", ")),
                ),
            );
        }
    }

    fn create_table(&self, table: &Object) -> String {
        let name = qualified(&table.name);
        let unlogged = if text(table, "persistence") == Some("unlogged") {
            "UNLOGGED "
        } else {
            ""
        };
        let mut sql = if let Some(parent) = text(table, "partition_of") {
            format!(
                "CREATE {unlogged}TABLE {name} PARTITION OF {} {}",
                qualified(parent),
                text(table, "partition_bound").unwrap_or("DEFAULT")
            )
        } else {
            let table_key = key(ObjectKind::Table, &table.name);
            let mut columns: Vec<&Object> = self
                .to
                .objects
                .values()
                .filter(|o| o.kind == ObjectKind::Column && o.parent.as_ref() == Some(&table_key))
                .collect();
            columns.sort_by_key(|c| int(c, "position").unwrap_or(0));
            let inherited: Vec<&String> = list(table, "inherits").iter().collect();
            let definitions: Vec<String> = columns
                .iter()
                .map(|c| format!("    {}", self.column_definition(c, &table.name)))
                .collect();
            let mut sql = format!(
                "CREATE {unlogged}TABLE {name} (\n{}\n)",
                definitions.join(",\n")
            );
            if !inherited.is_empty() {
                let parents: Vec<String> = inherited.iter().map(|p| qualified(p)).collect();
                sql.push_str(&format!(" INHERITS ({})", parents.join(", ")));
            }
            sql
        };
        if let Some(partition_key) = text(table, "partition_key") {
            sql.push_str(&format!(" PARTITION BY {partition_key}"));
        }
        let options = list(table, "options");
        if !options.is_empty() {
            sql.push_str(&format!(" WITH ({})", options.join(", ")));
        }
        sql
    }

    /// `name type [COLLATE c] [GENERATED ...] [DEFAULT ...] [NOT NULL]`.
    fn column_definition(&self, column: &Object, table: &str) -> String {
        let name = child_of(&column.name, table);
        let mut sql = format!("{} {}", ident(name), text(column, "type").unwrap_or("text"));
        if let Some(collation) = text(column, "collation") {
            sql.push_str(&format!(" COLLATE {}", sql::collation(collation)));
        }
        if let Some(expression) = text(column, "generated") {
            sql.push_str(&format!(" GENERATED ALWAYS AS ({expression}) STORED"));
        }
        if let Some(identity) = text(column, "identity") {
            sql.push_str(&format!(
                " GENERATED {} AS IDENTITY{}",
                identity.to_uppercase(),
                self.identity_options(column)
            ));
        }
        if let Some(default) = text(column, "default") {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if flag(column, "not_null") && text(column, "identity").is_none() {
            sql.push_str(" NOT NULL");
        }
        sql
    }

    /// ` (SEQUENCE NAME ... START WITH ...)` of an identity column, from its sequence.
    fn identity_options(&self, column: &Object) -> String {
        let sequence = self
            .to
            .of_kind(ObjectKind::Sequence)
            .map(|(_, o)| o)
            .find(|o| text(o, "owned_by") == Some(column.name.as_str()));
        match sequence {
            Some(sequence) => format!(
                " (SEQUENCE NAME {}{})",
                qualified(&sequence.name),
                sequence_options(sequence, false)
            ),
            None => String::new(),
        }
    }

    fn alter_table(&mut self, a: &Object, b: &Object) {
        let name = qualified(&b.name);
        for field in changed_fields(a, b) {
            match field.as_str() {
                "comment" => {}
                "rls_enabled" => self.push(
                    ROW_SECURITY,
                    statement(format!(
                        "ALTER TABLE {name} {} ROW LEVEL SECURITY",
                        if flag(b, "rls_enabled") {
                            "ENABLE"
                        } else {
                            "DISABLE"
                        }
                    )),
                ),
                "rls_forced" => self.push(
                    ROW_SECURITY,
                    statement(format!(
                        "ALTER TABLE {name} {} ROW LEVEL SECURITY",
                        if flag(b, "rls_forced") {
                            "FORCE"
                        } else {
                            "NO FORCE"
                        }
                    )),
                ),
                "persistence" => {
                    let word = if text(b, "persistence") == Some("unlogged") {
                        "UNLOGGED"
                    } else {
                        "LOGGED"
                    };
                    self.push(
                        ALTER_TABLE,
                        with_hazard(
                            format!("ALTER TABLE {name} SET {word}"),
                            format!("table rewrite: SET {word} rewrites {} under an ACCESS EXCLUSIVE lock", b.name),
                        ),
                    );
                }
                "replica_identity" => {
                    let identity = text(b, "replica_identity").unwrap_or("default");
                    self.push(
                        REPLICA_IDENTITY,
                        statement(replica_identity(&b.name, identity)),
                    );
                }
                "options" => {
                    let (old, new) = (list(a, "options"), list(b, "options"));
                    let reset: Vec<&str> = old
                        .iter()
                        .filter_map(|o| o.split_once('=').map(|(k, _)| k))
                        .filter(|k| !new.iter().any(|n| n.starts_with(&format!("{k}="))))
                        .collect();
                    if !reset.is_empty() {
                        self.push(
                            ALTER_TABLE,
                            statement(format!("ALTER TABLE {name} RESET ({})", reset.join(", "))),
                        );
                    }
                    if !new.is_empty() {
                        self.push(
                            ALTER_TABLE,
                            statement(format!("ALTER TABLE {name} SET ({})", new.join(", "))),
                        );
                    }
                }
                other => self.refuse(
                    b,
                    format!("changing {other} of a table is not supported yet"),
                ),
            }
        }
    }

    fn columns(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Column) {
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    if self.parent_created(b) {
                        continue;
                    }
                    let table = parent_name(b);
                    let table_object = self.to.objects.get(&key(ObjectKind::Table, table));
                    if table_object.is_some_and(|t| text(t, "partition_of").is_some()) {
                        // Partitions take their parent's columns.
                        continue;
                    }
                    let mut hazards = Vec::new();
                    if flag(b, "not_null")
                        && text(b, "default").is_none()
                        && text(b, "identity").is_none()
                        && text(b, "generated").is_none()
                    {
                        hazards.push(format!(
                            "fails if {table} has rows: a NOT NULL column without a default"
                        ));
                    }
                    if text(b, "generated").is_some() || text(b, "identity").is_some() {
                        hazards.push(format!(
                            "table rewrite: a generated or identity column rewrites {table} under an ACCESS EXCLUSIVE lock"
                        ));
                    }
                    let sql = format!(
                        "ALTER TABLE {} ADD COLUMN {}",
                        qualified(table),
                        self.column_definition(b, table)
                    );
                    self.push(ALTER_COLUMN, Statement { sql, hazards });
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    if self.parent_dropped(a) {
                        continue;
                    }
                    let table = parent_name(a);
                    let table_object = self.from.objects.get(&key(ObjectKind::Table, table));
                    if table_object.is_some_and(|t| text(t, "partition_of").is_some()) {
                        continue;
                    }
                    let column = child_of(&a.name, table);
                    if text(a, "generated").is_none() {
                        self.destructive.push(format!("column {}", a.name));
                    }
                    self.push(
                        DROP_COLUMN,
                        with_hazard(
                            format!(
                                "ALTER TABLE {} DROP COLUMN {}",
                                qualified(table),
                                ident(column)
                            ),
                            format!("dropped data: the values of {} are lost", a.name),
                        ),
                    );
                }
                Change::Changed => self.alter_column(a.expect("both"), b.expect("both")),
            }
        }
    }

    fn alter_column(&mut self, a: &Object, b: &Object) {
        let table = parent_name(b);
        let table_object = self.to.objects.get(&key(ObjectKind::Table, table));
        let is_partition = table_object.is_some_and(|t| text(t, "partition_of").is_some());
        let fields = changed_fields(a, b);
        let t = qualified(table);
        let col = ident(child_of(&b.name, table));
        let alter = |what: String| format!("ALTER TABLE {t} ALTER COLUMN {col} {what}");
        let swapped_type = text(b, "type")
            .is_some_and(|ty| self.swapped.contains(ty.strip_suffix("[]").unwrap_or(ty)))
            && !fields.contains("type");
        let mut statements: Vec<Statement> = Vec::new();
        if fields.contains("generated") {
            match (text(a, "generated"), text(b, "generated")) {
                (Some(_), None) => statements.push(statement(alter("DROP EXPRESSION".into()))),
                _ => {
                    // No way to change the expression in place before PostgreSQL 17: the
                    // column is dropped and added again (it holds no data of its own).
                    statements.push(statement(format!("ALTER TABLE {t} DROP COLUMN {col}")));
                    statements.push(with_hazard(
                        format!("ALTER TABLE {t} ADD COLUMN {}", self.column_definition(b, table)),
                        format!("table rewrite: a generated column rewrites {table} under an ACCESS EXCLUSIVE lock"),
                    ));
                    self.push(ALTER_COLUMN, statements.remove(0));
                    self.push(ALTER_COLUMN, statements.remove(0));
                    return;
                }
            }
        }
        if is_partition && !fields.iter().any(|f| f == "comment") {
            // Inherited from the parent; only comments are a partition's own.
        }
        let default_changed = fields.contains("default") && !swapped_type;
        let type_changed = fields.contains("type") || fields.contains("collation");
        if (default_changed || type_changed) && text(a, "default").is_some() {
            statements.push(statement(alter("DROP DEFAULT".into())));
        }
        if fields.contains("identity") && text(a, "identity").is_none() && !type_changed {
            // An identity column may not have a default.
        }
        if fields.contains("identity") && text(b, "identity").is_none() {
            statements.push(statement(alter("DROP IDENTITY".into())));
        }
        if type_changed && !is_partition {
            let ty = text(b, "type").unwrap_or("text");
            let collate = match text(b, "collation") {
                Some(collation) => format!(" COLLATE {}", sql::collation(collation)),
                None if text(a, "collation").is_some() => {
                    " COLLATE pg_catalog.\"default\"".to_string()
                }
                None => String::new(),
            };
            let using = if fields.contains("type") {
                format!(" USING {col}::{ty}")
            } else {
                String::new()
            };
            statements.push(with_hazard(
                alter(format!("TYPE {ty}{collate}{using}")),
                format!(
                    "table rewrite: changing the type of {} rewrites {table} and its indexes under an ACCESS EXCLUSIVE lock (unless the new type is binary-compatible)",
                    b.name
                ),
            ));
        }
        if fields.contains("not_null") && !(text(b, "identity").is_some() && flag(b, "not_null")) {
            if flag(b, "not_null") {
                statements.push(with_hazard(
                    alter("SET NOT NULL".into()),
                    format!(
                        "full scan under lock: SET NOT NULL reads all of {table} under an ACCESS EXCLUSIVE lock"
                    ),
                ));
            } else if text(a, "identity").is_none() || text(b, "identity").is_none() {
                statements.push(statement(alter("DROP NOT NULL".into())));
            }
        }
        if fields.contains("identity") {
            match (text(a, "identity"), text(b, "identity")) {
                (None, Some(identity)) => statements.push(statement(alter(format!(
                    "ADD GENERATED {} AS IDENTITY{}",
                    identity.to_uppercase(),
                    self.identity_options(b)
                )))),
                (Some(_), Some(identity)) => statements.push(statement(alter(format!(
                    "SET GENERATED {}",
                    identity.to_uppercase()
                )))),
                _ => {}
            }
        }
        if (default_changed || type_changed)
            && let Some(default) = text(b, "default")
        {
            statements.push(statement(alter(format!("SET DEFAULT {default}"))));
        }
        for statement in statements {
            self.push(ALTER_COLUMN, statement);
        }
    }

    // ----------------------------------------------------------------------------------
    // Views and materialized views

    fn views(&mut self) {
        let view_kinds = [ObjectKind::View, ObjectKind::MaterializedView];
        let views_of = |snapshot: &'a Snapshot| -> Vec<&'a Object> {
            // In key order, as the rest of the writer sees objects.
            let mut views: Vec<(&String, &Object)> = view_kinds
                .iter()
                .flat_map(|kind| snapshot.of_kind(*kind))
                .collect();
            views.sort_by_key(|(k, _)| *k);
            views.into_iter().map(|(_, o)| o).collect()
        };
        let (from_views, to_views) = (views_of(self.from), views_of(self.to));
        // What forces a view that did not change to be recreated: a dependency recreated, a
        // column type changed, an enum swapped.
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for (k, b) in self.to.of_kind(ObjectKind::Column) {
            if let Some(a) = self.from.objects.get(k)
                && (text(a, "type") != text(b, "type")
                    || text(a, "collation") != text(b, "collation")
                    || text(a, "generated") != text(b, "generated"))
            {
                touched.insert(parent_name(b).to_string());
            }
        }
        touched.extend(self.swapped.iter().cloned());
        let mut recreate: BTreeSet<String> = BTreeSet::new();
        for a in &from_views {
            let k = key(a.kind, &a.name);
            if let Some(b) = self.to.objects.get(&k)
                && changed_fields(a, b)
                    .iter()
                    .any(|f| f != "comment" && f != "column_comments")
            {
                recreate.insert(a.name.clone());
            }
        }
        loop {
            let before = recreate.len();
            for a in &from_views {
                let k = key(a.kind, &a.name);
                if recreate.contains(&a.name) || !self.in_to(&k) {
                    continue;
                }
                let definition = text(a, "definition").unwrap_or("");
                let removed_dependency = from_views.iter().any(|other| {
                    !self.in_to(&key(other.kind, &other.name))
                        && sql::mentions(definition, &other.name)
                });
                if recreate
                    .iter()
                    .chain(touched.iter())
                    .any(|name| sql::mentions(definition, name))
                    || removed_dependency
                {
                    recreate.insert(a.name.clone());
                }
            }
            if recreate.len() == before {
                break;
            }
        }
        for name in &recreate {
            for kind in view_kinds {
                let k = key(kind, name);
                if self.in_from(&k) && self.in_to(&k) {
                    self.recreated.insert(k);
                }
            }
        }
        // Drops, dependents first.
        let dropped: Vec<&Object> = from_views
            .iter()
            .copied()
            .filter(|a| {
                let k = key(a.kind, &a.name);
                !self.in_to(&k) || self.recreated.contains(&k)
            })
            .collect();
        for view in dependency_order(&dropped).into_iter().rev() {
            let word = view_word(view.kind);
            self.push(
                DROP_VIEW,
                statement(format!("DROP {word} {}", qualified(&view.name))),
            );
        }
        let created: Vec<&Object> = to_views
            .iter()
            .copied()
            .filter(|b| {
                let k = key(b.kind, &b.name);
                !self.in_from(&k) || self.recreated.contains(&k)
            })
            .collect();
        for view in dependency_order(&created) {
            let word = view_word(view.kind);
            let options = list(view, "options");
            let with = if options.is_empty() {
                String::new()
            } else {
                format!(" WITH ({})", options.join(", "))
            };
            let definition = text(view, "definition")
                .unwrap_or("")
                .trim()
                .trim_end_matches(';')
                .to_string();
            let sql = format!(
                "CREATE {word} {}{with} AS\n{definition}",
                qualified(&view.name)
            );
            let statement = if view.kind == ObjectKind::MaterializedView {
                with_hazard(sql, format!("runs the query of {} to fill it", view.name))
            } else {
                statement(sql)
            };
            self.push(CREATE_VIEW, statement);
        }
    }

    // ----------------------------------------------------------------------------------
    // Constraints and indexes

    /// `(table, constraint name)` of the primary, unique and exclusion constraints: their
    /// indexes are made by the constraint.
    fn constraint_indexes(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for snapshot in [self.from, self.to] {
            for (_, object) in snapshot.of_kind(ObjectKind::Constraint) {
                if matches!(
                    text(object, "type"),
                    Some("primary key" | "unique" | "exclusion")
                ) {
                    let table = parent_name(object);
                    out.insert((
                        sql::schema_of(table).to_string(),
                        child_of(&object.name, table).to_string(),
                    ));
                }
            }
        }
        out
    }

    fn constraints(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Constraint) {
            match change {
                Change::Added => self.add_constraint(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    if !self.parent_dropped(a) {
                        self.drop_constraint(a);
                    }
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let fields = changed_fields(a, b);
                    if fields.iter().all(|f| f == "comment") && !self.parent_recreated(b) {
                        continue;
                    }
                    if fields.iter().all(|f| f == "comment" || f == "validated")
                        && flag(b, "validated")
                        && !self.parent_recreated(b)
                    {
                        let table = parent_name(b);
                        self.push(
                            ADD_CONSTRAINT,
                            statement(format!(
                                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                                qualified(table),
                                ident(child_of(&b.name, table))
                            )),
                        );
                        continue;
                    }
                    if !self.parent_dropped(a) {
                        self.drop_constraint(a);
                    }
                    self.recreated.insert(key(b.kind, &b.name));
                    self.add_constraint(b);
                }
            }
        }
    }

    fn drop_constraint(&mut self, constraint: &Object) {
        let table = parent_name(constraint);
        let phase = if text(constraint, "type") == Some("foreign key") {
            DROP_FOREIGN_KEY
        } else {
            DROP_CONSTRAINT
        };
        self.push(
            phase,
            statement(format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                qualified(table),
                ident(child_of(&constraint.name, table))
            )),
        );
    }

    fn add_constraint(&mut self, constraint: &Object) {
        let table = parent_name(constraint);
        let name = ident(child_of(&constraint.name, table));
        let t = qualified(table);
        let definition = text(constraint, "definition").unwrap_or("");
        let kind = text(constraint, "type").unwrap_or("");
        let phase = match kind {
            "primary key" | "unique" | "exclusion" => ADD_KEY,
            "foreign key" => ADD_FOREIGN_KEY,
            _ => ADD_CONSTRAINT,
        };
        let new_table = self.parent_created(constraint);
        let validating =
            matches!(kind, "check" | "foreign key") && flag(constraint, "validated") && !new_table;
        if validating {
            self.push(
                phase,
                statement(format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {name} {definition} NOT VALID"
                )),
            );
            self.push(
                phase,
                statement(format!("ALTER TABLE {t} VALIDATE CONSTRAINT {name}")),
            );
        } else {
            let statement = if matches!(kind, "primary key" | "unique" | "exclusion") && !new_table
            {
                with_hazard(
                    format!("ALTER TABLE {t} ADD CONSTRAINT {name} {definition}"),
                    format!(
                        "builds an index on {table} while blocking writes (ACCESS EXCLUSIVE lock)"
                    ),
                )
            } else {
                statement(format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {name} {definition}"
                ))
            };
            self.push(phase, statement);
        }
    }

    /// Whether `index` (on a partition) is attached to an index of the partitioned parent:
    /// it is created and dropped with that one.
    fn attached_to_parent(snapshot: &Snapshot, index: &Object) -> bool {
        let Some(table) = text(index, "table") else {
            return false;
        };
        let Some(parent) = snapshot
            .objects
            .get(&key(ObjectKind::Table, table))
            .and_then(|t| text(t, "partition_of"))
        else {
            return false;
        };
        let tail = |o: &Object| {
            text(o, "definition")
                .and_then(|d| d.split_once(" USING ").map(|(_, rest)| rest.to_string()))
        };
        let mine = tail(index);
        snapshot
            .of_kind(ObjectKind::Index)
            .any(|(_, o)| text(o, "table") == Some(parent) && tail(o) == mine)
    }

    fn indexes(&mut self) {
        let owned = self.constraint_indexes();
        let owned_by_constraint = |index: &Object| {
            owned.contains(&(
                sql::schema_of(&index.name).to_string(),
                sql::local_of(&index.name).to_string(),
            ))
        };
        for (change, a, b) in self.changes(ObjectKind::Index) {
            let object = b.or(a).expect("one side");
            if owned_by_constraint(object) {
                continue;
            }
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    if Self::attached_to_parent(self.to, b) {
                        continue;
                    }
                    self.create_index(b);
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    if self.parent_dropped(a) || Self::attached_to_parent(self.from, a) {
                        continue;
                    }
                    self.drop_index(a);
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let fields = changed_fields(a, b);
                    if fields.iter().all(|f| f == "comment") && !self.parent_recreated(b) {
                        continue;
                    }
                    if Self::attached_to_parent(self.to, b) {
                        continue;
                    }
                    if !self.parent_dropped(a) {
                        self.drop_index(a);
                    }
                    self.recreated.insert(key(b.kind, &b.name));
                    self.create_index(b);
                }
            }
        }
    }

    /// Whether statements on `index`'s table may run concurrently: the table exists before
    /// the migration and is a plain table.
    fn concurrent(&self, index: &Object, snapshot: &Snapshot) -> bool {
        let Some(parent) = &index.parent else {
            return false;
        };
        if !parent.starts_with("table ") || self.parent_created(index) {
            return false;
        }
        snapshot
            .objects
            .get(parent)
            .is_some_and(|t| text(t, "partition_key").is_none())
    }

    fn create_index(&mut self, index: &Object) {
        // A partitioned table's index prints as `ON ONLY` (not recursing); created anew it
        // recurses, attaching an index to every partition as the original did.
        let definition = text(index, "definition")
            .unwrap_or("")
            .replacen(" ON ONLY ", " ON ", 1);
        let on_view = index
            .parent
            .as_deref()
            .is_some_and(|p| p.starts_with("materialized_view "));
        if on_view {
            self.push(CREATE_VIEW_INDEX, statement(definition));
        } else if self.concurrent(index, self.to) {
            self.no_transaction = true;
            let sql = definition.replacen(" INDEX ", " INDEX CONCURRENTLY ", 1);
            self.push(CREATE_INDEX, statement(sql));
        } else {
            let statement = if self.parent_created(index) {
                statement(definition)
            } else {
                with_hazard(
                    definition,
                    format!(
                        "blocks writes to {} while the index is built",
                        parent_name(index)
                    ),
                )
            };
            self.push(CREATE_INDEX, statement);
        }
    }

    fn drop_index(&mut self, index: &Object) {
        let concurrently = if self.concurrent(index, self.from) {
            self.no_transaction = true;
            "CONCURRENTLY "
        } else {
            ""
        };
        self.push(
            DROP_INDEX,
            statement(format!(
                "DROP INDEX {concurrently}{}",
                qualified(&index.name)
            )),
        );
    }

    // ----------------------------------------------------------------------------------
    // Triggers and policies

    fn triggers(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Trigger) {
            match change {
                Change::Added => self.create_trigger(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    if !self.parent_dropped(a) {
                        self.drop_trigger(a);
                    }
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let fields = changed_fields(a, b);
                    let recreate = fields.contains("definition") || self.parent_recreated(b);
                    if recreate {
                        if !self.parent_dropped(a) {
                            self.drop_trigger(a);
                        }
                        self.recreated.insert(key(b.kind, &b.name));
                        self.create_trigger(b);
                    } else if fields.contains("enabled") {
                        self.push(CREATE_TRIGGER, statement(trigger_state(b)));
                    }
                }
            }
        }
    }

    fn create_trigger(&mut self, trigger: &Object) {
        let definition = text(trigger, "definition").unwrap_or("").to_string();
        self.push(CREATE_TRIGGER, statement(definition));
        if text(trigger, "enabled") != Some("origin") {
            self.push(CREATE_TRIGGER, statement(trigger_state(trigger)));
        }
    }

    fn drop_trigger(&mut self, trigger: &Object) {
        let table = parent_name(trigger);
        self.push(
            DROP_TRIGGER,
            statement(format!(
                "DROP TRIGGER {} ON {}",
                ident(child_of(&trigger.name, table)),
                qualified(table)
            )),
        );
    }

    fn policies(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Policy) {
            match change {
                Change::Added => self.create_policy(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    if !self.parent_dropped(a) {
                        self.drop_policy(a);
                    }
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let fields = changed_fields(a, b);
                    if fields.iter().all(|f| f == "comment") {
                        continue;
                    }
                    self.drop_policy(a);
                    self.recreated.insert(key(b.kind, &b.name));
                    self.create_policy(b);
                }
            }
        }
    }

    fn create_policy(&mut self, policy: &Object) {
        let table = parent_name(policy);
        let mut sql = format!(
            "CREATE POLICY {} ON {} AS {} FOR {}",
            ident(child_of(&policy.name, table)),
            qualified(table),
            if flag(policy, "permissive") {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            text(policy, "command").unwrap_or("ALL")
        );
        let roles: Vec<String> = list(policy, "roles").iter().map(|r| role(r)).collect();
        if !roles.is_empty() {
            sql.push_str(&format!(" TO {}", roles.join(", ")));
        }
        if let Some(using) = text(policy, "using") {
            sql.push_str(&format!(" USING ({using})"));
        }
        if let Some(check) = text(policy, "with_check") {
            sql.push_str(&format!(" WITH CHECK ({check})"));
        }
        self.push(CREATE_POLICY, statement(sql));
    }

    fn drop_policy(&mut self, policy: &Object) {
        let table = parent_name(policy);
        self.push(
            DROP_POLICY,
            statement(format!(
                "DROP POLICY {} ON {}",
                ident(child_of(&policy.name, table)),
                qualified(table)
            )),
        );
    }

    // ----------------------------------------------------------------------------------
    // Grants, default privileges, comments

    /// The grantees that objects of each class (`tables`, `functions`...) get when created:
    /// `PUBLIC` for functions and types, and those of the default privileges.
    fn default_grantees(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
        let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        out.entry("functions").or_default().insert("PUBLIC".into());
        out.entry("types").or_default().insert("PUBLIC".into());
        for (_, object) in self.to.of_kind(ObjectKind::DefaultPrivileges) {
            if let Some(parsed) = DefaultPrivilege::parse(&object.name) {
                let class = match parsed.on.as_str() {
                    "TABLES" => "tables",
                    "SEQUENCES" => "sequences",
                    "FUNCTIONS" => "functions",
                    "TYPES" => "types",
                    _ => "schemas",
                };
                out.entry(class).or_default().insert(parsed.grantee);
            }
        }
        out
    }

    /// Objects created by the migration get the default privileges of their class: revoked
    /// first, so that exactly the grants of the target remain.
    fn revoke_defaults(&mut self) {
        let defaults = self.default_grantees();
        let public_defaults_changed = self
            .to
            .objects
            .values()
            .any(|o| o.kind == ObjectKind::DefaultPrivileges && o.name.ends_with(" to PUBLIC"));
        let mut statements = Vec::new();
        for (k, object) in &self.to.objects {
            let created = !self.in_from(k) || self.recreated.contains(k);
            if !created {
                continue;
            }
            let (class, on) = match object.kind {
                ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView => {
                    ("tables", format!("TABLE {}", qualified(&object.name)))
                }
                ObjectKind::Sequence => {
                    ("sequences", format!("SEQUENCE {}", qualified(&object.name)))
                }
                ObjectKind::Function => ("functions", format!("ROUTINE {}", routine(&object.name))),
                ObjectKind::Enum | ObjectKind::Type | ObjectKind::Range => {
                    ("types", format!("TYPE {}", qualified(&object.name)))
                }
                ObjectKind::Domain => ("types", format!("DOMAIN {}", qualified(&object.name))),
                ObjectKind::Schema => ("schemas", format!("SCHEMA {}", ident(&object.name))),
                _ => continue,
            };
            let Some(grantees) = defaults.get(class) else {
                continue;
            };
            let kind_word = object.kind.as_str();
            for grantee in grantees {
                let grant_key = key(
                    ObjectKind::Grant,
                    &format!("{kind_word} {} to {grantee}", object.name),
                );
                let target_grant = self.to.objects.get(&grant_key);
                // PUBLIC's built-in EXECUTE/USAGE: kept as is when the target has it.
                if grantee == "PUBLIC" && !public_defaults_changed {
                    let builtin = if class == "functions" {
                        "EXECUTE"
                    } else {
                        "USAGE"
                    };
                    if target_grant.is_some_and(|g| list(g, "privileges") == [builtin.to_string()])
                    {
                        self.skip_grants.insert(grant_key);
                        continue;
                    }
                    if target_grant.is_some() {
                        continue;
                    }
                }
                statements.push(statement(format!(
                    "REVOKE ALL ON {on} FROM {}",
                    role(grantee)
                )));
            }
        }
        for statement in statements {
            self.push(REVOKE_DEFAULTS, statement);
        }
    }

    fn grants(&mut self) {
        self.revoke_defaults();
        for (change, a, b) in self.changes(ObjectKind::Grant) {
            if self
                .skip_grants
                .contains(&key(ObjectKind::Grant, &b.or(a).expect("one side").name))
            {
                continue;
            }
            let object = b.or(a).expect("one side");
            let Some(target) = GrantTarget::parse(&object.name) else {
                self.refuse(object, "cannot read the grant's object");
                continue;
            };
            let Some(on) = target.on() else {
                self.refuse(
                    object,
                    "grants on this kind of object are not supported yet",
                );
                continue;
            };
            let revoke = |grantee: &str| match &target.column {
                Some(column) => format!(
                    "REVOKE ALL ({}) ON {on} FROM {}",
                    ident(column),
                    role(grantee)
                ),
                None => format!("REVOKE ALL ON {on} FROM {}", role(grantee)),
            };
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    for sql in grant_statements(&target, &on, list(b, "privileges")) {
                        self.push(GRANTS, statement(sql));
                    }
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    if self.parent_dropped(a) || !self.grant_object_exists(&target) {
                        continue;
                    }
                    self.push(GRANTS, statement(revoke(&target.grantee)));
                }
                Change::Changed => {
                    let b = b.expect("both");
                    if !self.parent_created(b) {
                        self.push(GRANTS, statement(revoke(&target.grantee)));
                    }
                    for sql in grant_statements(&target, &on, list(b, "privileges")) {
                        self.push(GRANTS, statement(sql));
                    }
                }
            }
        }
    }

    /// Whether the object a grant is on stays (a function or type that goes away takes its
    /// grants along; their keys are not children of a parent object).
    fn grant_object_exists(&self, target: &GrantTarget) -> bool {
        match target.kind.as_str() {
            "column" => true,
            kind => self
                .to
                .objects
                .keys()
                .any(|k| k == &format!("{kind} {}", target.name)),
        }
    }

    fn default_privileges(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::DefaultPrivileges) {
            let object = b.or(a).expect("one side");
            let Some(parsed) = DefaultPrivilege::parse(&object.name) else {
                self.refuse(object, "cannot read the default privileges' scope");
                continue;
            };
            let prefix = parsed.prefix();
            let revoke = format!(
                "{prefix} REVOKE ALL ON {} FROM {}",
                parsed.on,
                role(&parsed.grantee)
            );
            if change != Change::Added {
                self.push(GRANTS, statement(revoke));
            }
            if let Some(b) = b {
                for (privileges, grant_option) in split_grant_option(list(b, "privileges")) {
                    self.push(
                        GRANTS,
                        statement(format!(
                            "{prefix} GRANT {} ON {} TO {}{}",
                            privileges.join(", "),
                            parsed.on,
                            role(&parsed.grantee),
                            if grant_option {
                                " WITH GRANT OPTION"
                            } else {
                                ""
                            }
                        )),
                    );
                }
            }
        }
    }

    fn comments(&mut self) {
        // An object only "from" has goes with its comment.
        for (k, b) in &self.to.objects {
            let a = self.from.objects.get(k);
            let new_comment = text(b, "comment");
            if new_comment.is_none() && a.is_none_or(|a| text(a, "comment").is_none()) {
                continue;
            }
            // Created now (or recreated): the comment is set if there is one.
            let created = a.is_none() || self.recreated.contains(k) || self.parent_recreated(b);
            let old_comment = if created {
                None
            } else {
                a.and_then(|a| text(a, "comment"))
            };
            if old_comment == new_comment {
                continue;
            }
            let Some(target) = self.comment_target(b) else {
                continue;
            };
            let value = new_comment.map_or("NULL".to_string(), literal);
            self.push(
                COMMENTS,
                statement(format!("COMMENT ON {target} IS {value}")),
            );
        }
    }

    fn comment_target(&self, object: &Object) -> Option<String> {
        let name = &object.name;
        let on_parent = |word: &str| {
            let table = parent_name(object);
            format!(
                "{word} {} ON {}",
                ident(child_of(name, table)),
                qualified(table)
            )
        };
        Some(match object.kind {
            ObjectKind::Schema => format!("SCHEMA {}", ident(name)),
            ObjectKind::Extension => format!("EXTENSION {}", ident(name)),
            ObjectKind::Enum | ObjectKind::Type | ObjectKind::Range => {
                format!("TYPE {}", qualified(name))
            }
            ObjectKind::Domain => format!("DOMAIN {}", qualified(name)),
            ObjectKind::Table => {
                if flag(object, "foreign") {
                    format!("FOREIGN TABLE {}", qualified(name))
                } else {
                    format!("TABLE {}", qualified(name))
                }
            }
            ObjectKind::Column => {
                let table = parent_name(object);
                format!(
                    "COLUMN {}",
                    column_ref(&format!("{table}.{}", child_of(name, table)))
                )
            }
            ObjectKind::Constraint => on_parent("CONSTRAINT"),
            ObjectKind::Trigger => on_parent("TRIGGER"),
            ObjectKind::Policy => on_parent("POLICY"),
            ObjectKind::Index => format!("INDEX {}", qualified(name)),
            ObjectKind::Function => format!("ROUTINE {}", routine(name)),
            ObjectKind::View => format!("VIEW {}", qualified(name)),
            ObjectKind::MaterializedView => format!("MATERIALIZED VIEW {}", qualified(name)),
            ObjectKind::Sequence => format!("SEQUENCE {}", qualified(name)),
            // Comments on these kinds are not recorded.
            ObjectKind::Grant
            | ObjectKind::DefaultPrivileges
            | ObjectKind::Owner
            | ObjectKind::OwnerPrivileges
            | ObjectKind::Rule
            | ObjectKind::Statistics
            | ObjectKind::Publication
            | ObjectKind::Operator
            | ObjectKind::TextSearchConfig
            | ObjectKind::Collation
            | ObjectKind::Cast
            | ObjectKind::ForeignServer
            | ObjectKind::EventTrigger => return None,
        })
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn create_enum(name: &str, labels: &[String]) -> Statement {
    let labels: Vec<String> = labels.iter().map(|l| literal(l)).collect();
    statement(format!(
        "CREATE TYPE {} AS ENUM ({})",
        qualified(name),
        labels.join(", ")
    ))
}

/// Whether `old` appears in `new` in the same order (values were only added).
fn is_subsequence(old: &[String], new: &[String]) -> bool {
    let mut rest = new.iter();
    old.iter().all(|label| rest.any(|n| n == label))
}

fn create_type(object: &Object) -> Option<String> {
    let name = qualified(&object.name);
    match object.kind {
        ObjectKind::Domain => {
            let mut sql = format!(
                "CREATE DOMAIN {name} AS {}",
                text(object, "type").unwrap_or("text")
            );
            if let Some(collation) = text(object, "collation") {
                sql.push_str(&format!(" COLLATE {}", sql::collation(collation)));
            }
            if let Some(default) = text(object, "default") {
                sql.push_str(&format!(" DEFAULT {default}"));
            }
            if flag(object, "not_null") {
                sql.push_str(" NOT NULL");
            }
            for constraint in list(object, "constraints") {
                if let Some((constraint_name, definition)) = constraint.split_once(": ") {
                    sql.push_str(&format!(
                        " CONSTRAINT {} {definition}",
                        ident(constraint_name)
                    ));
                }
            }
            Some(sql)
        }
        ObjectKind::Type => {
            let attributes: Vec<String> = list(object, "attributes")
                .iter()
                .map(|attribute| match attribute.split_once(' ') {
                    Some((attribute_name, ty)) => format!("{} {ty}", ident(attribute_name)),
                    None => attribute.clone(),
                })
                .collect();
            Some(format!("CREATE TYPE {name} AS ({})", attributes.join(", ")))
        }
        ObjectKind::Range => Some(format!(
            "CREATE TYPE {name} AS RANGE (SUBTYPE = {})",
            text(object, "subtype").unwrap_or("integer")
        )),
        _ => None,
    }
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

fn replica_identity(table: &str, identity: &str) -> String {
    let what = match identity {
        "nothing" => "NOTHING".to_string(),
        "full" => "FULL".to_string(),
        other => match other.strip_prefix("index ") {
            Some(index) => format!("USING INDEX {}", ident(index)),
            None => "DEFAULT".to_string(),
        },
    };
    format!("ALTER TABLE {} REPLICA IDENTITY {what}", qualified(table))
}

fn trigger_state(trigger: &Object) -> String {
    let table = parent_name(trigger);
    let name = ident(child_of(&trigger.name, table));
    let what = match text(trigger, "enabled") {
        Some("disabled") => format!("DISABLE TRIGGER {name}"),
        Some("replica") => format!("ENABLE REPLICA TRIGGER {name}"),
        Some("always") => format!("ENABLE ALWAYS TRIGGER {name}"),
        _ => format!("ENABLE TRIGGER {name}"),
    };
    format!("ALTER TABLE {} {what}", qualified(table))
}

fn view_word(kind: ObjectKind) -> &'static str {
    if kind == ObjectKind::MaterializedView {
        "MATERIALIZED VIEW"
    } else {
        "VIEW"
    }
}

/// Views in creation order: a view after every view its definition mentions.
fn dependency_order<'o>(views: &[&'o Object]) -> Vec<&'o Object> {
    let mut done: Vec<&Object> = Vec::new();
    let mut pending: Vec<&Object> = views.to_vec();
    while !pending.is_empty() {
        let before = pending.len();
        let mut index = 0;
        while index < pending.len() {
            let view = pending[index];
            let definition = text(view, "definition").unwrap_or("");
            let blocked = pending
                .iter()
                .any(|other| other.name != view.name && sql::mentions(definition, &other.name));
            if blocked {
                index += 1;
            } else {
                done.push(pending.remove(index));
            }
        }
        if pending.len() == before {
            // A cycle cannot exist between views; keep the rest in name order.
            done.append(&mut pending);
        }
    }
    done
}

/// What a grant's key names: `table public.t to app`, `column public.t.c to app`.
struct GrantTarget {
    kind: String,
    name: String,
    /// For a column grant: the column (the name is then the table's).
    column: Option<String>,
    grantee: String,
}

impl GrantTarget {
    fn parse(key_name: &str) -> Option<GrantTarget> {
        let (kind, rest) = key_name.split_once(' ')?;
        let (name, grantee) = rest.rsplit_once(" to ")?;
        let (name, column) = if kind == "column" {
            let (table, column) = name.rsplit_once('.')?;
            (table.to_string(), Some(column.to_string()))
        } else {
            (name.to_string(), None)
        };
        Some(GrantTarget {
            kind: kind.to_string(),
            name,
            column,
            grantee: grantee.to_string(),
        })
    }

    /// `TABLE public.t`, `ROUTINE public.f(integer)`...
    fn on(&self) -> Option<String> {
        Some(match self.kind.as_str() {
            "table" | "view" | "materialized_view" | "column" => {
                format!("TABLE {}", qualified(&self.name))
            }
            "sequence" => format!("SEQUENCE {}", qualified(&self.name)),
            "function" => format!("ROUTINE {}", routine(&self.name)),
            "schema" => format!("SCHEMA {}", ident(&self.name)),
            "enum" | "type" | "range" => format!("TYPE {}", qualified(&self.name)),
            "domain" => format!("DOMAIN {}", qualified(&self.name)),
            _ => return None,
        })
    }
}

/// Privileges split into those without and those with the grant option.
fn split_grant_option(privileges: &[String]) -> Vec<(Vec<String>, bool)> {
    let (mut plain, mut grantable) = (Vec::new(), Vec::new());
    for privilege in privileges {
        match privilege.strip_suffix(" WITH GRANT OPTION") {
            Some(p) => grantable.push(p.to_string()),
            None => plain.push(privilege.clone()),
        }
    }
    [(plain, false), (grantable, true)]
        .into_iter()
        .filter(|(p, _)| !p.is_empty())
        .collect()
}

fn grant_statements(target: &GrantTarget, on: &str, privileges: &[String]) -> Vec<String> {
    split_grant_option(privileges)
        .into_iter()
        .map(|(privileges, grant_option)| {
            let privileges: Vec<String> = match &target.column {
                Some(column) => privileges
                    .iter()
                    .map(|p| format!("{p} ({})", ident(column)))
                    .collect(),
                None => privileges,
            };
            format!(
                "GRANT {} ON {on} TO {}{}",
                privileges.join(", "),
                role(&target.grantee),
                if grant_option {
                    " WITH GRANT OPTION"
                } else {
                    ""
                }
            )
        })
        .collect()
}

/// A default-privileges key: `for role R[ in schema S] on tables to G`.
struct DefaultPrivilege {
    owner: String,
    schema: Option<String>,
    on: String,
    grantee: String,
}

impl DefaultPrivilege {
    fn parse(name: &str) -> Option<DefaultPrivilege> {
        let rest = name.strip_prefix("for role ")?;
        let (head, grantee) = rest.rsplit_once(" to ")?;
        let (head, on) = head.rsplit_once(" on ")?;
        let (owner, schema) = match head.split_once(" in schema ") {
            Some((owner, schema)) => (owner, Some(schema.to_string())),
            None => (head, None),
        };
        let on = match on {
            "tables" | "sequences" | "functions" | "types" | "schemas" => on.to_uppercase(),
            _ => return None,
        };
        Some(DefaultPrivilege {
            owner: owner.to_string(),
            schema,
            on,
            grantee: grantee.to_string(),
        })
    }

    fn prefix(&self) -> String {
        let mut prefix = format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}", role(&self.owner));
        if let Some(schema) = &self.schema {
            prefix.push_str(&format!(" IN SCHEMA {}", ident(schema)));
        }
        prefix
    }
}

/// The migration file text: header directives, the up part, `-- migrate:down`, the down part.
pub fn render(
    up: &Plan,
    down: &Plan,
    header: &[String],
    lock_timeout: Option<std::time::Duration>,
) -> String {
    let mut out = String::new();
    if up.no_transaction || down.no_transaction {
        out.push_str("-- migrate:no-transaction\n");
    }
    if let Some(timeout) = lock_timeout {
        let millis = timeout.as_millis();
        let value = if millis % 1000 == 0 {
            format!("{}s", millis / 1000)
        } else {
            format!("{millis}ms")
        };
        out.push_str(&format!("-- migrate:lock-timeout {value}\n"));
    }
    for line in header {
        out.push_str(&format!("-- {line}\n"));
    }
    out.push('\n');
    render_statements(&mut out, &up.statements);
    out.push_str("-- migrate:down\n\n");
    render_statements(&mut out, &down.statements);
    out
}

/// A whole schema as one SQL script (`schema dump --sql`): `plan` from an empty database.
pub fn render_script(plan: &Plan, header: &[String]) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str(&format!("-- {line}\n"));
    }
    out.push('\n');
    render_statements(&mut out, &plan.statements);
    out
}

fn render_statements(out: &mut String, statements: &[Statement]) {
    for statement in statements {
        for hazard in &statement.hazards {
            out.push_str(&format!("-- hazard: {hazard}\n"));
        }
        out.push_str(&statement.sql);
        out.push_str(";\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_additions_keep_their_place() {
        let old = vec!["a".to_string(), "c".to_string()];
        let new = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert!(is_subsequence(&old, &new));
        assert!(!is_subsequence(&new, &old));
        let swapped = vec!["c".to_string(), "a".to_string()];
        assert!(!is_subsequence(&old, &swapped));
    }

    #[test]
    fn grant_and_default_privilege_keys_are_read_back() {
        let grant = GrantTarget::parse("column public.t.c to app").unwrap();
        assert_eq!(grant.name, "public.t");
        assert_eq!(grant.column.as_deref(), Some("c"));
        assert_eq!(grant.on().unwrap(), "TABLE public.t");
        let function = GrantTarget::parse("function public.f(integer) to PUBLIC").unwrap();
        assert_eq!(function.on().unwrap(), "ROUTINE public.f(integer)");
        let default =
            DefaultPrivilege::parse("for role owner in schema public on tables to app").unwrap();
        assert_eq!(
            default.prefix(),
            "ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA public"
        );
        assert_eq!(default.on, "TABLES");
    }
}
