//! The writer's privileges and comments: grants (with grant options), default privileges and
//! what objects created by the migration get from them, and comments on every kind.

use super::*;

impl<'a> Writer<'a> {
    // ----------------------------------------------------------------------------------
    // Grants, default privileges, comments

    /// The grantees that objects of each class (`tables`, `functions`...) get when created:
    /// `PUBLIC` for functions and types, and those of the default privileges.
    pub(super) fn default_grantees(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
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
    pub(super) fn revoke_defaults(&mut self) {
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

    pub(super) fn grants(&mut self) {
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
    pub(super) fn grant_object_exists(&self, target: &GrantTarget) -> bool {
        match target.kind.as_str() {
            "column" => true,
            kind => self
                .to
                .objects
                .keys()
                .any(|k| k == &format!("{kind} {}", target.name)),
        }
    }

    pub(super) fn default_privileges(&mut self) {
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

    pub(super) fn comments(&mut self) {
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

    pub(super) fn comment_target(&self, object: &Object) -> Option<String> {
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
            | ObjectKind::TextSearchDictionary
            | ObjectKind::Collation
            | ObjectKind::Cast
            | ObjectKind::ForeignServer
            | ObjectKind::EventTrigger => return None,
        })
    }
}

/// What a grant's key names: `table public.t to app`, `column public.t.c to app`.
pub(super) struct GrantTarget {
    kind: String,
    name: String,
    /// For a column grant: the column (the name is then the table's).
    column: Option<String>,
    grantee: String,
}

impl GrantTarget {
    pub(super) fn parse(key_name: &str) -> Option<GrantTarget> {
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
    pub(super) fn on(&self) -> Option<String> {
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
pub(super) fn split_grant_option(privileges: &[String]) -> Vec<(Vec<String>, bool)> {
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

pub(super) fn grant_statements(
    target: &GrantTarget,
    on: &str,
    privileges: &[String],
) -> Vec<String> {
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
pub(super) struct DefaultPrivilege {
    owner: String,
    schema: Option<String>,
    on: String,
    grantee: String,
}

impl DefaultPrivilege {
    pub(super) fn parse(name: &str) -> Option<DefaultPrivilege> {
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

    pub(super) fn prefix(&self) -> String {
        let mut prefix = format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}", role(&self.owner));
        if let Some(schema) = &self.schema {
            prefix.push_str(&format!(" IN SCHEMA {}", ident(schema)));
        }
        prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
