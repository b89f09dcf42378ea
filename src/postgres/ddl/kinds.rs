//! The writer's less common kinds: collations, text search configurations, foreign servers,
//! operators, casts, extended statistics, rules, event triggers, publications, owners and
//! privileges revoked from owners, column storage and compression, comments on view columns.
//!
//! Each is created in its own phase (see the constants in `mod.rs`): what columns, indexes
//! and views may use (collations, text search configurations, servers, operators, casts)
//! before the tables; what depends on tables (statistics, rules, publications) after them;
//! owners and the owner's privileges last, once every object exists.

use std::collections::BTreeSet;

use super::grants::GrantTarget;
use super::sql::{child_of, ident, literal, qualified, routine};
use super::*;

impl<'a> Writer<'a> {
    // ----------------------------------------------------------------------------------
    // Columns: storage and compression

    pub(super) fn column_storage(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Column) {
            let Some(b) = b else {
                continue;
            };
            let table = parent_name(b);
            let is_partition = self
                .to
                .objects
                .get(&key(ObjectKind::Table, table))
                .is_some_and(|t| text(t, "partition_of").is_some());
            if is_partition {
                // A partition takes its parent's storage and compression.
                continue;
            }
            let fresh = change == Change::Added;
            let alter = |what: String| {
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} {what}",
                    qualified(table),
                    ident(child_of(&b.name, table))
                )
            };
            let (old_storage, old_compression) = match (fresh, a) {
                (false, Some(a)) => (text(a, "storage"), text(a, "compression")),
                _ => (None, None),
            };
            if text(b, "storage") != old_storage {
                let word = match text(b, "storage") {
                    Some(storage) => Some(storage.to_uppercase()),
                    None if self.to.server_major >= 16 => Some("DEFAULT".to_string()),
                    None => default_storage(text(b, "type").unwrap_or("")).map(str::to_uppercase),
                };
                match word {
                    Some(word) => self.push(ALTER_COLUMN, statement(alter(format!("SET STORAGE {word}")))),
                    None => self.refuse(
                        b,
                        "restoring the type's default storage needs PostgreSQL 16 (SET STORAGE DEFAULT) for this type",
                    ),
                }
            }
            if text(b, "compression") != old_compression {
                let word = text(b, "compression").unwrap_or("default");
                self.push(
                    ALTER_COLUMN,
                    statement(alter(format!("SET COMPRESSION {word}"))),
                );
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Comments on view columns

    pub(super) fn view_column_comments(&mut self) {
        for kind in [ObjectKind::View, ObjectKind::MaterializedView] {
            for (_, a, b) in self.changes(kind) {
                let Some(b) = b else {
                    continue;
                };
                let k = key(kind, &b.name);
                let created = a.is_none() || self.recreated.contains(&k);
                let old: &[String] = match a {
                    Some(a) if !created => list(a, "column_comments"),
                    _ => &[],
                };
                let new = list(b, "column_comments");
                let new_columns: BTreeSet<&str> =
                    new.iter().filter_map(|item| comment_column(item)).collect();
                for item in old {
                    if let Some(column) = comment_column(item)
                        && !new_columns.contains(column)
                    {
                        self.push(
                            COMMENTS,
                            statement(format!(
                                "COMMENT ON COLUMN {}.{column} IS NULL",
                                qualified(&b.name)
                            )),
                        );
                    }
                }
                for item in new.iter().filter(|item| !old.contains(item)) {
                    self.push(
                        COMMENTS,
                        statement(format!("COMMENT ON COLUMN {}.{item}", qualified(&b.name))),
                    );
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Collations, text search configurations, foreign servers

    pub(super) fn collations(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Collation) {
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    let mut options = vec![format!(
                        "provider = {}",
                        text(b, "provider").unwrap_or("libc")
                    )];
                    if let Some(locale) = text(b, "locale") {
                        options.push(format!("locale = {}", literal(locale)));
                    }
                    if let Some(collate) = text(b, "lc_collate") {
                        options.push(format!("lc_collate = {}", literal(collate)));
                    }
                    if let Some(ctype) = text(b, "lc_ctype") {
                        options.push(format!("lc_ctype = {}", literal(ctype)));
                    }
                    if !flag(b, "deterministic") {
                        options.push("deterministic = false".to_string());
                    }
                    self.push(
                        CREATE_COLLATION,
                        statement(format!(
                            "CREATE COLLATION {} ({})",
                            qualified(&b.name),
                            options.join(", ")
                        )),
                    );
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_COLLATION,
                        statement(format!("DROP COLLATION {}", qualified(&a.name))),
                    );
                }
                Change::Changed => self.refuse(
                    b.expect("both"),
                    "a collation cannot be altered: columns and indexes use it; write the replacement by hand",
                ),
            }
        }
    }

    pub(super) fn text_search_configs(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::TextSearchConfig) {
            match change {
                Change::Added => self.create_text_search_config(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_TEXT_SEARCH,
                        statement(format!(
                            "DROP TEXT SEARCH CONFIGURATION {}",
                            qualified(&a.name)
                        )),
                    );
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    if text(a, "parser") != text(b, "parser") {
                        self.push(
                            CREATE_TEXT_SEARCH,
                            with_hazard(
                                format!("DROP TEXT SEARCH CONFIGURATION {}", qualified(&b.name)),
                                format!("fails if a column, index or function uses {}", b.name),
                            ),
                        );
                        self.create_text_search_config(b);
                        continue;
                    }
                    let name = qualified(&b.name);
                    let (old, new) = (list(a, "mappings"), list(b, "mappings"));
                    let new_tokens: BTreeSet<&str> = new.iter().map(|m| mapping_token(m)).collect();
                    let old_tokens: BTreeSet<&str> = old.iter().map(|m| mapping_token(m)).collect();
                    for token in old_tokens.difference(&new_tokens) {
                        self.push(
                            CREATE_TEXT_SEARCH,
                            statement(format!(
                                "ALTER TEXT SEARCH CONFIGURATION {name} DROP MAPPING FOR {token}"
                            )),
                        );
                    }
                    for mapping in new.iter().filter(|m| !old.contains(m)) {
                        let verb = if old_tokens.contains(mapping_token(mapping)) {
                            "ALTER"
                        } else {
                            "ADD"
                        };
                        self.push(
                            CREATE_TEXT_SEARCH,
                            statement(format!(
                                "ALTER TEXT SEARCH CONFIGURATION {name} {verb} MAPPING FOR {mapping}"
                            )),
                        );
                    }
                }
            }
        }
    }

    /// Dictionaries are created before the configurations that map tokens to them (the same
    /// phase, written first) and dropped after them.
    pub(super) fn text_search_dictionaries(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::TextSearchDictionary) {
            match change {
                Change::Added => self.create_text_search_dictionary(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_TEXT_SEARCH_DICTIONARY,
                        statement(format!(
                            "DROP TEXT SEARCH DICTIONARY {}",
                            qualified(&a.name)
                        )),
                    );
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    if text(a, "template") != text(b, "template") {
                        self.push(
                            CREATE_TEXT_SEARCH,
                            with_hazard(
                                format!("DROP TEXT SEARCH DICTIONARY {}", qualified(&b.name)),
                                format!(
                                    "fails if a text search configuration maps tokens to {}",
                                    b.name
                                ),
                            ),
                        );
                        self.create_text_search_dictionary(b);
                        continue;
                    }
                    // Options given are set; an option named without a value is removed.
                    let old = dictionary_options(text(a, "options").unwrap_or(""));
                    let new = dictionary_options(text(b, "options").unwrap_or(""));
                    let mut set: Vec<String> = old
                        .iter()
                        .filter(|(name, _)| !new.iter().any(|(n, _)| n == name))
                        .map(|(name, _)| name.to_string())
                        .collect();
                    set.extend(new.iter().map(|(name, value)| format!("{name} = {value}")));
                    self.push(
                        CREATE_TEXT_SEARCH,
                        statement(format!(
                            "ALTER TEXT SEARCH DICTIONARY {} ({})",
                            qualified(&b.name),
                            set.join(", ")
                        )),
                    );
                }
            }
        }
    }

    fn create_text_search_dictionary(&mut self, dictionary: &Object) {
        let mut definition = format!(
            "TEMPLATE = {}",
            text(dictionary, "template").unwrap_or("pg_catalog.simple")
        );
        if let Some(options) = text(dictionary, "options").filter(|o| !o.is_empty()) {
            definition.push_str(", ");
            definition.push_str(options);
        }
        self.push(
            CREATE_TEXT_SEARCH,
            statement(format!(
                "CREATE TEXT SEARCH DICTIONARY {} ({definition})",
                qualified(&dictionary.name)
            )),
        );
    }

    fn create_text_search_config(&mut self, config: &Object) {
        let name = qualified(&config.name);
        self.push(
            CREATE_TEXT_SEARCH,
            statement(format!(
                "CREATE TEXT SEARCH CONFIGURATION {name} (PARSER = {})",
                text(config, "parser").unwrap_or("pg_catalog.\"default\"")
            )),
        );
        for mapping in list(config, "mappings") {
            self.push(
                CREATE_TEXT_SEARCH,
                statement(format!(
                    "ALTER TEXT SEARCH CONFIGURATION {name} ADD MAPPING FOR {mapping}"
                )),
            );
        }
    }

    pub(super) fn foreign_servers(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::ForeignServer) {
            match change {
                Change::Added => {
                    let b = b.expect("added");
                    let mut sql = format!("CREATE SERVER {}", ident(&b.name));
                    if let Some(kind) = text(b, "type") {
                        sql.push_str(&format!(" TYPE {}", literal(kind)));
                    }
                    if let Some(version) = text(b, "version") {
                        sql.push_str(&format!(" VERSION {}", literal(version)));
                    }
                    sql.push_str(&format!(
                        " FOREIGN DATA WRAPPER {}",
                        ident(text(b, "wrapper").unwrap_or(""))
                    ));
                    let options: Vec<String> = list(b, "options")
                        .iter()
                        .map(|o| {
                            let (k, v) = split_option(o);
                            format!("{} {}", ident(k), literal(v))
                        })
                        .collect();
                    if !options.is_empty() {
                        sql.push_str(&format!(" OPTIONS ({})", options.join(", ")));
                    }
                    self.push(CREATE_FOREIGN_SERVER, statement(sql));
                }
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_FOREIGN_SERVER,
                        statement(format!("DROP SERVER {}", ident(&a.name))),
                    );
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let name = ident(&b.name);
                    let fields = changed_fields(a, b);
                    if fields.contains("wrapper") || fields.contains("type") {
                        self.refuse(
                            b,
                            "changing the wrapper or type of a foreign server means recreating it with its user mappings and foreign tables; write it by hand",
                        );
                        continue;
                    }
                    if fields.contains("version") {
                        match text(b, "version") {
                            Some(version) => self.push(
                                CREATE_FOREIGN_SERVER,
                                statement(format!(
                                    "ALTER SERVER {name} VERSION {}",
                                    literal(version)
                                )),
                            ),
                            None => self.refuse(b, "a server's version cannot be unset"),
                        }
                    }
                    if fields.contains("options") {
                        let old: Vec<(&str, &str)> =
                            list(a, "options").iter().map(|o| split_option(o)).collect();
                        let new: Vec<(&str, &str)> =
                            list(b, "options").iter().map(|o| split_option(o)).collect();
                        let mut changes = Vec::new();
                        for (k, _) in &old {
                            if !new.iter().any(|(n, _)| n == k) {
                                changes.push(format!("DROP {}", ident(k)));
                            }
                        }
                        for (k, v) in &new {
                            match old.iter().find(|(o, _)| o == k) {
                                Some((_, old_value)) if old_value == v => {}
                                Some(_) => changes.push(format!("SET {} {}", ident(k), literal(v))),
                                None => changes.push(format!("ADD {} {}", ident(k), literal(v))),
                            }
                        }
                        self.push(
                            CREATE_FOREIGN_SERVER,
                            statement(format!(
                                "ALTER SERVER {name} OPTIONS ({})",
                                changes.join(", ")
                            )),
                        );
                    }
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Operators and casts

    pub(super) fn operators(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Operator) {
            match change {
                Change::Added => self.create_operator(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_OPERATOR,
                        statement(format!("DROP OPERATOR {}", operator_signature(&a.name))),
                    );
                }
                Change::Changed => {
                    let b = b.expect("both");
                    self.push(
                        CREATE_OPERATOR,
                        with_hazard(
                            format!("DROP OPERATOR {}", operator_signature(&b.name)),
                            format!("fails if an index, view or constraint uses {}", b.name),
                        ),
                    );
                    self.create_operator(b);
                }
            }
        }
    }

    fn create_operator(&mut self, operator: &Object) {
        let mut options = Vec::new();
        for (field, option) in [("left", "LEFTARG"), ("right", "RIGHTARG")] {
            if let Some(ty) = text(operator, field) {
                options.push(format!("{option} = {ty}"));
            }
        }
        for (field, option) in [
            ("function", "FUNCTION"),
            ("commutator", "COMMUTATOR"),
            ("negator", "NEGATOR"),
            ("restrict", "RESTRICT"),
            ("join", "JOIN"),
        ] {
            if let Some(value) = text(operator, field) {
                options.push(format!("{option} = {value}"));
            }
        }
        if flag(operator, "hashes") {
            options.push("HASHES".to_string());
        }
        if flag(operator, "merges") {
            options.push("MERGES".to_string());
        }
        let (schema, symbol) = operator_parts(&operator.name);
        self.push(
            CREATE_OPERATOR,
            statement(format!(
                "CREATE OPERATOR {}.{symbol} ({})",
                ident(schema),
                options.join(", ")
            )),
        );
    }

    pub(super) fn casts(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Cast) {
            match change {
                Change::Added => self.create_cast(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(DROP_CAST, statement(format!("DROP CAST {}", a.name)));
                }
                Change::Changed => {
                    let b = b.expect("both");
                    self.push(CREATE_CAST, statement(format!("DROP CAST {}", b.name)));
                    self.create_cast(b);
                }
            }
        }
    }

    fn create_cast(&mut self, cast: &Object) {
        let method = match text(cast, "method") {
            Some("inout") => "WITH INOUT".to_string(),
            Some(method) => match method.strip_prefix("function ") {
                Some(function) => format!("WITH FUNCTION {function}"),
                None => "WITHOUT FUNCTION".to_string(),
            },
            None => "WITHOUT FUNCTION".to_string(),
        };
        let context = match text(cast, "context") {
            Some("implicit") => " AS IMPLICIT",
            Some("assignment") => " AS ASSIGNMENT",
            _ => "",
        };
        self.push(
            CREATE_CAST,
            statement(format!("CREATE CAST {} {method}{context}", cast.name)),
        );
    }

    // ----------------------------------------------------------------------------------
    // Statistics, rules, event triggers, publications

    pub(super) fn statistics(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Statistics) {
            match change {
                Change::Added => self.create_statistics(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    if !self.parent_dropped(a) {
                        // Gone already when a column it covers was dropped.
                        self.push(
                            DROP_STATISTICS,
                            statement(format!("DROP STATISTICS IF EXISTS {}", qualified(&a.name))),
                        );
                    }
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let fields = changed_fields(a, b);
                    if fields.iter().all(|f| f == "target") {
                        self.push(CREATE_STATISTICS, statistics_target(b));
                    } else {
                        self.push(
                            DROP_STATISTICS,
                            statement(format!("DROP STATISTICS IF EXISTS {}", qualified(&a.name))),
                        );
                        self.create_statistics(b);
                    }
                }
            }
        }
    }

    fn create_statistics(&mut self, statistics: &Object) {
        let definition = text(statistics, "definition").unwrap_or("").to_string();
        self.push(CREATE_STATISTICS, statement(definition));
        if int(statistics, "target").is_some() {
            self.push(CREATE_STATISTICS, statistics_target(statistics));
        }
    }

    pub(super) fn rules(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Rule) {
            match change {
                Change::Added => self.create_rule(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    if !self.parent_dropped(a) {
                        self.drop_rule(a);
                    }
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    let fields = changed_fields(a, b);
                    if fields.contains("definition") || self.parent_recreated(b) {
                        if !self.parent_dropped(a) {
                            self.drop_rule(a);
                        }
                        self.create_rule(b);
                    } else if fields.contains("enabled") {
                        self.push(CREATE_RULE, statement(rule_state(b)));
                    }
                }
            }
        }
    }

    fn create_rule(&mut self, rule: &Object) {
        let definition = text(rule, "definition")
            .unwrap_or("")
            .trim()
            .trim_end_matches(';')
            .to_string();
        self.push(CREATE_RULE, statement(definition));
        if text(rule, "enabled") != Some("origin") {
            self.push(CREATE_RULE, statement(rule_state(rule)));
        }
    }

    fn drop_rule(&mut self, rule: &Object) {
        let table = parent_name(rule);
        self.push(
            DROP_RULE,
            statement(format!(
                "DROP RULE {} ON {}",
                ident(child_of(&rule.name, table)),
                qualified(table)
            )),
        );
    }

    pub(super) fn event_triggers(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::EventTrigger) {
            match change {
                Change::Added => self.create_event_trigger(b.expect("added")),
                Change::Removed => {
                    let a = a.expect("removed");
                    self.push(
                        DROP_EVENT_TRIGGER,
                        statement(format!("DROP EVENT TRIGGER {}", ident(&a.name))),
                    );
                }
                Change::Changed => {
                    let (a, b) = (a.expect("both"), b.expect("both"));
                    if changed_fields(a, b).iter().all(|f| f == "enabled") {
                        self.push(CREATE_EVENT_TRIGGER, statement(event_trigger_state(b)));
                    } else {
                        self.push(
                            DROP_EVENT_TRIGGER,
                            statement(format!("DROP EVENT TRIGGER {}", ident(&a.name))),
                        );
                        self.create_event_trigger(b);
                    }
                }
            }
        }
    }

    fn create_event_trigger(&mut self, trigger: &Object) {
        let mut sql = format!(
            "CREATE EVENT TRIGGER {} ON {}",
            ident(&trigger.name),
            ident(text(trigger, "event").unwrap_or("ddl_command_end"))
        );
        let tags = list(trigger, "tags");
        if !tags.is_empty() {
            let tags: Vec<String> = tags.iter().map(|t| literal(t)).collect();
            sql.push_str(&format!(" WHEN TAG IN ({})", tags.join(", ")));
        }
        sql.push_str(&format!(
            " EXECUTE FUNCTION {}",
            routine(text(trigger, "function").unwrap_or(""))
        ));
        self.push(CREATE_EVENT_TRIGGER, statement(sql));
        if text(trigger, "enabled") != Some("origin") {
            self.push(
                CREATE_EVENT_TRIGGER,
                statement(event_trigger_state(trigger)),
            );
        }
    }

    pub(super) fn publications(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Publication) {
            if let Some(a) = a {
                let hazard = if change == Change::Changed {
                    Some(format!(
                        "subscribers of {} stop receiving changes until it is created again",
                        a.name
                    ))
                } else {
                    None
                };
                let sql = format!("DROP PUBLICATION {}", ident(&a.name));
                self.push(
                    DROP_PUBLICATION,
                    match hazard {
                        Some(hazard) => with_hazard(sql, hazard),
                        None => statement(sql),
                    },
                );
            }
            let Some(b) = b else {
                continue;
            };
            let what = if flag(b, "all_tables") {
                " FOR ALL TABLES".to_string()
            } else if list(b, "objects").is_empty() {
                String::new()
            } else {
                format!(" FOR {}", list(b, "objects").join(", "))
            };
            self.push(
                CREATE_PUBLICATION,
                statement(format!(
                    "CREATE PUBLICATION {}{what} WITH (publish = {}, publish_via_partition_root = {})",
                    ident(&b.name),
                    literal(&list(b, "operations").join(", ")),
                    flag(b, "via_root")
                )),
            );
        }
    }

    // ----------------------------------------------------------------------------------
    // Owners and the owner's privileges

    pub(super) fn owners(&mut self) {
        for (change, a, b) in self.changes(ObjectKind::Owner) {
            let object = b.or(a).expect("one side");
            if b.is_none() && !self.in_to(&object.name) {
                // The object goes away.
                continue;
            }
            let Some(target) = self.owned_target(&object.name) else {
                self.refuse(object, "cannot name this kind of object in ALTER ... OWNER");
                continue;
            };
            let role = match (change, b) {
                (Change::Removed, _) | (_, None) => "CURRENT_USER".to_string(),
                (_, Some(b)) => ident(text(b, "role").unwrap_or("")),
            };
            self.push(OWNERS, statement(format!("ALTER {target} OWNER TO {role}")));
        }
    }

    /// `TABLE public.t`, `ROUTINE public.f(integer)`... for an owner's key name.
    fn owned_target(&self, key_name: &str) -> Option<String> {
        let (kind, name) = key_name.split_once(' ')?;
        let object = self
            .to
            .objects
            .get(key_name)
            .or_else(|| self.from.objects.get(key_name));
        Some(match kind {
            "table" if object.is_some_and(|t| flag(t, "foreign")) => {
                format!("FOREIGN TABLE {}", qualified(name))
            }
            "table" => format!("TABLE {}", qualified(name)),
            "view" => format!("VIEW {}", qualified(name)),
            "materialized_view" => format!("MATERIALIZED VIEW {}", qualified(name)),
            "sequence" => format!("SEQUENCE {}", qualified(name)),
            "function" if object.is_some_and(|f| text(f, "kind") == Some("aggregate")) => {
                format!("AGGREGATE {}", routine(name))
            }
            "function" => format!("ROUTINE {}", routine(name)),
            "schema" => format!("SCHEMA {}", ident(name)),
            "enum" | "type" | "range" => format!("TYPE {}", qualified(name)),
            "domain" => format!("DOMAIN {}", qualified(name)),
            "collation" => format!("COLLATION {}", qualified(name)),
            "operator" => format!("OPERATOR {}", operator_signature(name)),
            "text_search_config" => format!("TEXT SEARCH CONFIGURATION {}", qualified(name)),
            "text_search_dictionary" => format!("TEXT SEARCH DICTIONARY {}", qualified(name)),
            "statistics" => format!("STATISTICS {}", qualified(name)),
            "publication" => format!("PUBLICATION {}", ident(name)),
            "foreign_server" => format!("SERVER {}", ident(name)),
            "event_trigger" => format!("EVENT TRIGGER {}", ident(name)),
            _ => return None,
        })
    }

    pub(super) fn owner_privileges(&mut self) {
        for (_, a, b) in self.changes(ObjectKind::OwnerPrivileges) {
            let object = b.or(a).expect("one side");
            if b.is_none() && !self.in_to(&object.name) {
                continue;
            }
            let Some(on) =
                GrantTarget::parse(&format!("{} to owner", object.name)).and_then(|t| t.on())
            else {
                self.refuse(
                    object,
                    "privileges on this kind of object are not supported yet",
                );
                continue;
            };
            let role = match self.to.objects.get(&key(ObjectKind::Owner, &object.name)) {
                Some(owner) => ident(text(owner, "role").unwrap_or("")),
                None => "CURRENT_USER".to_string(),
            };
            // A new or recreated object starts with every privilege.
            let created = !self.in_from(&object.name) || self.recreated.contains(&object.name);
            let old: &[String] = match a {
                Some(a) if !created => list(a, "revoked"),
                _ => &[],
            };
            let new: &[String] = b.map_or(&[], |b| list(b, "revoked"));
            let grant: Vec<&str> = old
                .iter()
                .filter(|p| !new.contains(p))
                .map(String::as_str)
                .collect();
            let revoke: Vec<&str> = new
                .iter()
                .filter(|p| !old.contains(p))
                .map(String::as_str)
                .collect();
            if !grant.is_empty() {
                self.push(
                    OWNER_PRIVILEGES,
                    statement(format!("GRANT {} ON {on} TO {role}", grant.join(", "))),
                );
            }
            if !revoke.is_empty() {
                self.push(
                    OWNER_PRIVILEGES,
                    statement(format!("REVOKE {} ON {on} FROM {role}", revoke.join(", "))),
                );
            }
        }
    }
}

/// The column of a view's `column_comments` item (`email IS 'text'`, `"Odd ""name" IS ...`),
/// as SQL.
fn comment_column(item: &str) -> Option<&str> {
    if item.starts_with('"') {
        let bytes = item.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            if bytes[i] == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                return Some(&item[..=i]);
            }
            i += 1;
        }
        None
    } else {
        item.split_once(' ').map(|(column, _)| column)
    }
}

/// The `name = value` pairs of a dictionary's `dictinitoption` (the server writes each value as
/// a literal or a bare word), split at the commas the SQL tokenizer finds outside literals.
fn dictionary_options(options: &str) -> Vec<(&str, &str)> {
    let tokens = super::super::tokens::Tokens::new(options);
    tokens
        .split_commas(0..tokens.len())
        .into_iter()
        .filter_map(|range| {
            let equals = tokens.get(range.start + 1).filter(|t| t.is_punct('='))?;
            let name_start = tokens.get(range.start)?.offset;
            // The value runs to the comma after it, or to the end.
            let value_end = tokens
                .get(range.end)
                .map_or(options.len(), |comma| comma.offset);
            Some((
                options[name_start..equals.offset].trim(),
                options[equals.offset + 1..value_end].trim(),
            ))
        })
        .collect()
}

/// The token type of a text search mapping (`asciiword WITH english_stem`).
fn mapping_token(mapping: &str) -> &str {
    mapping
        .split_once(" WITH ")
        .map_or(mapping, |(token, _)| token)
}

/// A foreign server option `key=value` as its two parts.
fn split_option(option: &str) -> (&str, &str) {
    option.split_once('=').unwrap_or((option, ""))
}

/// An operator's key (`public.===(text, text)`) as schema and symbol.
fn operator_parts(name: &str) -> (&str, &str) {
    let head = name.split_once('(').map_or(name, |(head, _)| head);
    head.split_once('.').unwrap_or(("public", head))
}

/// An operator's key as `DROP OPERATOR`/`ALTER OPERATOR` name it: `public.=== (text, text)`.
fn operator_signature(name: &str) -> String {
    let (schema, symbol) = operator_parts(name);
    let args = name.split_once('(').map_or("", |(_, args)| args);
    format!("{}.{symbol} ({args}", ident(schema))
}

fn statistics_target(statistics: &Object) -> Statement {
    statement(format!(
        "ALTER STATISTICS {} SET STATISTICS {}",
        qualified(&statistics.name),
        int(statistics, "target").unwrap_or(-1)
    ))
}

fn rule_state(rule: &Object) -> String {
    let table = parent_name(rule);
    let word = match text(rule, "enabled") {
        Some("disabled") => "DISABLE",
        Some("replica") => "ENABLE REPLICA",
        Some("always") => "ENABLE ALWAYS",
        _ => "ENABLE",
    };
    format!(
        "ALTER TABLE {} {word} RULE {}",
        qualified(table),
        ident(child_of(&rule.name, table))
    )
}

fn event_trigger_state(trigger: &Object) -> String {
    let word = match text(trigger, "enabled") {
        Some("disabled") => "DISABLE",
        Some("replica") => "ENABLE REPLICA",
        Some("always") => "ENABLE ALWAYS",
        _ => "ENABLE",
    };
    format!("ALTER EVENT TRIGGER {} {word}", ident(&trigger.name))
}

/// The storage a type's columns get by default, for the common types (before PostgreSQL 16,
/// `SET STORAGE DEFAULT` does not exist).
fn default_storage(ty: &str) -> Option<&'static str> {
    let base = ty.split('(').next().unwrap_or(ty).trim();
    if base.ends_with("[]") {
        return Some("extended");
    }
    Some(match base {
        "smallint"
        | "integer"
        | "bigint"
        | "real"
        | "double precision"
        | "boolean"
        | "date"
        | "timestamp without time zone"
        | "timestamp with time zone"
        | "time without time zone"
        | "uuid"
        | "oid"
        | "\"char\"" => "plain",
        "text" | "character varying" | "character" | "bytea" | "jsonb" | "json" | "xml"
        | "tsvector" | "tsquery" => "extended",
        "numeric" | "inet" | "cidr" => "main",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_options_split_outside_literals() {
        assert_eq!(
            dictionary_options("stopwords = 'a, b', accept = 'false'"),
            vec![("stopwords", "'a, b'"), ("accept", "'false'")]
        );
        assert_eq!(dictionary_options("x = 'it''s'"), vec![("x", "'it''s'")]);
        assert!(dictionary_options("").is_empty());
    }
}
