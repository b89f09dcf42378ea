//! What the column-type rules share: every column type the file writes, on new tables and
//! existing ones alike (a type is a schema decision, whatever the table's age).

use super::{FileView, Hit};
use crate::lint::sql::{self, ColumnType};

/// A hit for every column type of the file that `flagged` picks, with its message and the
/// rule's fix.
pub fn type_hits(
    view: &FileView<'_>,
    flagged: impl Fn(&ColumnType) -> bool,
    message: impl Fn(&ColumnType) -> String,
    fix: &str,
) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        for column in sql::column_types(&statement.tokens) {
            if flagged(&column) {
                hits.push(Hit::new(s, column.token, message(&column), fix));
            }
        }
    }
    hits
}
