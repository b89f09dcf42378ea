//! Tables for human output (comfy-table), one look everywhere.

use comfy_table::{ContentArrangement, Table, presets};

/// A table with the project's style and the given header.
pub fn new(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    table
}
