//! Quoting names and values into SQL text, the one place that does it: identifiers as
//! `"a""b"`, dotted names part by part, string literals as `'it''s'`.

/// `name` as a quoted identifier: `"a""b"` for `a"b`.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `public.tasks` -> `"public"."tasks"`: every dot-separated part quoted (for names checked
/// to be plain identifiers, which hold no dots of their own).
pub fn qualified(name: &str) -> String {
    name.split('.').map(ident).collect::<Vec<_>>().join(".")
}

/// `text` as a string literal: `'it''s'` (standard_conforming_strings, on since 9.1).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_names_and_values() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified("public.tasks"), "\"public\".\"tasks\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
