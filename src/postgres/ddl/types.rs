//! The writer's foundations: schemas, extensions, enums and other types, sequences, functions
//! and procedures, what tables and views are built on. Created before the tables, dropped
//! after them.

use super::*;

impl<'a> Writer<'a> {
    // ----------------------------------------------------------------------------------
    // Schemas and extensions

    pub(super) fn schemas(&mut self) {
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

    pub(super) fn extensions(&mut self) {
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

    pub(super) fn enums(&mut self) {
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
    pub(super) fn swap_enum(&mut self, enum_: &Object) {
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

    pub(super) fn other_types(&mut self) {
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
    pub(super) fn is_identity_sequence(snapshot: &Snapshot, sequence: &Object) -> bool {
        text(sequence, "owned_by").is_some_and(|column| {
            snapshot
                .objects
                .get(&key(ObjectKind::Column, column))
                .is_some_and(|c| text(c, "identity").is_some())
        })
    }

    pub(super) fn sequences(&mut self) {
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
    pub(super) fn range_constructor(&self, function: &Object) -> bool {
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

    pub(super) fn functions(&mut self) {
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

    pub(super) fn create_function(&mut self, function: &Object) {
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
}

pub(super) fn create_enum(name: &str, labels: &[String]) -> Statement {
    let labels: Vec<String> = labels.iter().map(|l| literal(l)).collect();
    statement(format!(
        "CREATE TYPE {} AS ENUM ({})",
        qualified(name),
        labels.join(", ")
    ))
}

/// Whether `old` appears in `new` in the same order (values were only added).
pub(super) fn is_subsequence(old: &[String], new: &[String]) -> bool {
    let mut rest = new.iter();
    old.iter().all(|label| rest.any(|n| n == label))
}

pub(super) fn create_type(object: &Object) -> Option<String> {
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
}
