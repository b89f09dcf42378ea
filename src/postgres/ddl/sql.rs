//! SQL text helpers for the migration writer: identifier and literal quoting, and the names
//! of snapshot objects (`public.tasks`, `public.tasks.title`) turned back into SQL names.

/// Words that must be quoted as identifiers (PostgreSQL's reserved keywords, and the
/// non-reserved ones that cannot be column or type names).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// An identifier as SQL: bare when that reads back as the same name, else double-quoted.
pub fn ident(name: &str) -> String {
    let simple = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !RESERVED.contains(&name);
    if simple {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A snapshot's `schema.name` as a qualified SQL name (the schema is the part before the
/// first dot: the catalog prints names unquoted).
pub fn qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, rest)) => format!("{}.{}", ident(schema), ident(rest)),
        None => ident(name),
    }
}

/// The schema part of `schema.name`.
pub fn schema_of(name: &str) -> &str {
    name.split_once('.').map_or("", |(schema, _)| schema)
}

/// The unqualified part of `schema.name`.
pub fn local_of(name: &str) -> &str {
    name.split_once('.').map_or(name, |(_, rest)| rest)
}

/// The name of a child (`public.t.col`) relative to its parent's name (`public.t`).
pub fn child_of<'a>(name: &'a str, parent_name: &str) -> &'a str {
    name.strip_prefix(parent_name)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(name)
}

/// A function's key (`public.f(integer, text)`) as SQL: the name quoted, the argument types
/// as the catalog printed them (already qualified where needed).
pub fn routine(signature: &str) -> String {
    match signature.split_once('(') {
        Some((name, args)) => format!("{}({args}", qualified(name)),
        None => qualified(signature),
    }
}

/// A collation name as the catalog prints it (`pg_catalog.C`), quoted.
pub fn collation(name: &str) -> String {
    qualified(name)
}

/// A role name, `PUBLIC` kept as the keyword.
pub fn role(name: &str) -> String {
    if name == "PUBLIC" {
        "PUBLIC".to_string()
    } else {
        ident(name)
    }
}

/// Whether `text` mentions the qualified relation `name` (`public.tasks`) as a whole name,
/// the way deparsed definitions print it.
pub fn mentions(text: &str, name: &str) -> bool {
    let (schema, local) = (schema_of(name), local_of(name));
    let forms = [
        format!("{}.{}", ident(schema), ident(local)),
        format!("{schema}.{local}"),
    ];
    forms.iter().any(|form| {
        text.match_indices(form.as_str()).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + form.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !word(before) && !word(after) && before != Some('.')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(ident("tasks"), "tasks");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("Mixed"), "\"Mixed\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("1st"), "\"1st\"");
        assert_eq!(qualified("public.order"), "public.\"order\"");
        assert_eq!(collation("pg_catalog.C"), "pg_catalog.\"C\"");
        assert_eq!(
            routine("public.f(integer, public.task_status)"),
            "public.f(integer, public.task_status)"
        );
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn mentions_whole_names_only() {
        assert!(mentions("SELECT 1 FROM public.tasks t", "public.tasks"));
        assert!(!mentions("SELECT 1 FROM public.tasks_x t", "public.tasks"));
        assert!(!mentions("SELECT 1 FROM public.task", "public.tasks"));
        assert!(mentions("FROM public.\"user\"", "public.user"));
    }
}
