//! The writer's tables: tables, partitions and columns, constraints and indexes, triggers and
//! row-level security policies.

use super::*;

impl<'a> Writer<'a> {
    // ----------------------------------------------------------------------------------
    // Tables and columns

    pub(super) fn tables(&mut self) {
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

    pub(super) fn create_table(&self, table: &Object) -> String {
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
    pub(super) fn column_definition(&self, column: &Object, table: &str) -> String {
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
    pub(super) fn identity_options(&self, column: &Object) -> String {
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

    pub(super) fn alter_table(&mut self, a: &Object, b: &Object) {
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

    pub(super) fn columns(&mut self) {
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

    pub(super) fn alter_column(&mut self, a: &Object, b: &Object) {
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
    // Constraints and indexes

    /// `(table, constraint name)` of the primary, unique and exclusion constraints: their
    /// indexes are made by the constraint.
    pub(super) fn constraint_indexes(&self) -> BTreeSet<(String, String)> {
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

    pub(super) fn constraints(&mut self) {
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

    pub(super) fn drop_constraint(&mut self, constraint: &Object) {
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

    pub(super) fn add_constraint(&mut self, constraint: &Object) {
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
    pub(super) fn attached_to_parent(snapshot: &Snapshot, index: &Object) -> bool {
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

    pub(super) fn indexes(&mut self) {
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
    pub(super) fn concurrent(&self, index: &Object, snapshot: &Snapshot) -> bool {
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

    pub(super) fn create_index(&mut self, index: &Object) {
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

    pub(super) fn drop_index(&mut self, index: &Object) {
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

    pub(super) fn triggers(&mut self) {
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

    pub(super) fn create_trigger(&mut self, trigger: &Object) {
        let definition = text(trigger, "definition").unwrap_or("").to_string();
        self.push(CREATE_TRIGGER, statement(definition));
        if text(trigger, "enabled") != Some("origin") {
            self.push(CREATE_TRIGGER, statement(trigger_state(trigger)));
        }
    }

    pub(super) fn drop_trigger(&mut self, trigger: &Object) {
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

    pub(super) fn policies(&mut self) {
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

    pub(super) fn create_policy(&mut self, policy: &Object) {
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

    pub(super) fn drop_policy(&mut self, policy: &Object) {
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
}

pub(super) fn replica_identity(table: &str, identity: &str) -> String {
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

pub(super) fn trigger_state(trigger: &Object) -> String {
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
