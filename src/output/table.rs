//! Tables for human output, one look everywhere (comfy-table's `UTF8_FULL_CONDENSED`).
//!
//! On a terminal the table is drawn by comfy-table, which also wraps columns to the terminal's
//! width (or `COLUMNS` when the terminal reports a width of 0; without either, nothing is
//! wrapped). Anywhere else (a pipe, a file, CI logs) nothing is wrapped, and the same output is
//! drawn here directly: comfy-table spends about 30,000 instructions per cell on layout it does
//! not need then, which made `status` with 500 migrations spend 40% of its run time drawing.
//! A unit test keeps both renderings identical.

use std::fmt;
use std::io::IsTerminal;

use unicode_width::UnicodeWidthStr;

/// A table with a header and rows of text cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// A table with the project's style and the given header.
pub fn new(header: &[&str]) -> Table {
    Table {
        header: header.iter().map(|h| h.to_string()).collect(),
        rows: Vec::new(),
    }
}

impl Table {
    pub fn add_row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// The same table drawn by comfy-table (dynamic arrangement on a terminal).
    fn comfy(&self) -> comfy_table::Table {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_header(self.header.clone());
        for row in &self.rows {
            table.add_row(row.clone());
        }
        table
    }

    /// Draws the table without wrapping, exactly as comfy-table does when it does not know the
    /// terminal's width.
    fn render_plain(&self, out: &mut String) {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain(std::iter::once(self.header.len()))
            .max()
            .unwrap_or(0);
        // Content width per column: the widest line of any cell, at least 1.
        let mut widths = vec![1usize; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (index, cell) in row.iter().enumerate() {
                for line in cell.split('\n') {
                    widths[index] = widths[index].max(line.width());
                }
            }
        }
        let border = |out: &mut String, left: char, fill: char, middle: char, right: char| {
            out.push(left);
            for (index, width) in widths.iter().enumerate() {
                if index > 0 {
                    out.push(middle);
                }
                for _ in 0..width + 2 {
                    out.push(fill);
                }
            }
            out.push(right);
        };
        border(out, '┌', '─', '┬', '┐');
        let mut lines: Vec<std::str::Split<'_, char>> = Vec::with_capacity(columns);
        for (row_index, row) in std::iter::once(&self.header).chain(&self.rows).enumerate() {
            lines.clear();
            lines.extend(row.iter().map(|cell| cell.split('\n')));
            let height = row
                .iter()
                .map(|cell| cell.split('\n').count())
                .max()
                .unwrap_or(0)
                .max(1);
            for _ in 0..height {
                out.push('\n');
                out.push('│');
                for (index, width) in widths.iter().enumerate() {
                    if index > 0 {
                        out.push('┆');
                    }
                    match lines.get_mut(index).and_then(Iterator::next) {
                        Some(line) => {
                            out.push(' ');
                            out.push_str(line);
                            pad(out, width - line.width().min(*width) + 1);
                        }
                        None => pad(out, width + 2),
                    }
                }
                out.push('│');
            }
            if row_index == 0 {
                out.push('\n');
                border(out, '╞', '═', '╪', '╡');
            }
        }
        out.push('\n');
        border(out, '└', '─', '┴', '┘');
    }
}

/// The width to wrap tables to when stdout is a terminal: the width the terminal reports,
/// else `COLUMNS`, else none (no wrapping). Some terminals report a width of 0 (a pty under
/// `script`, `docker exec -t`, some CI runners); wrapping to that would leave one character
/// per column.
fn wrap_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_columns()
        .filter(|columns| *columns > 0)
        .or_else(|| columns_from_env(std::env::var("COLUMNS").ok().as_deref()))
}

fn columns_from_env(value: Option<&str>) -> Option<u16> {
    value?
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|columns| *columns > 0)
}

/// The column count the terminal on stdout reports.
fn terminal_columns() -> Option<u16> {
    // SAFETY: an all-zero `winsize` is a valid value of this plain C struct.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we own; stdout stays open.
    let answered = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    answered.then_some(size.ws_col)
}

fn pad(out: &mut String, spaces: usize) {
    out.extend(std::iter::repeat_n(' ', spaces));
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(width) = wrap_width() {
            let mut comfy = self.comfy();
            comfy.set_width(width);
            return fmt::Display::fmt(&comfy, f);
        }
        let cells: usize = self.rows.iter().map(Vec::len).sum();
        let mut out = String::with_capacity(64 + cells * 24);
        self.render_plain(&mut out);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_comfy(table: &Table) {
        let mut ours = String::new();
        table.render_plain(&mut ours);
        let mut comfy = table.comfy();
        // Without a width, comfy-table does not wrap: what it prints into a pipe.
        comfy.force_no_tty();
        assert_eq!(ours, comfy.to_string(), "\n{ours}\n{comfy}");
    }

    #[test]
    fn plain_rendering_matches_comfy_table() {
        let mut t = new(&["store", "version", "name", "note"]);
        same_as_comfy(&t);
        t.add_row(vec!["postgres", "1", "create_users", ""]);
        t.add_row(vec!["postgres".to_string(), "R".into(), "views".into()]);
        t.add_row(vec![
            "mongo",
            "12",
            "naïve_ünïcode 日本語",
            "two\nlines here",
        ]);
        t.add_row(Vec::<String>::new());
        t.add_row(vec!["", "", "", "", "a fifth column"]);
        same_as_comfy(&t);
        assert_eq!(t.row_count(), 5);
    }

    #[test]
    fn columns_from_the_environment() {
        assert_eq!(columns_from_env(Some("120")), Some(120));
        assert_eq!(columns_from_env(Some(" 80\n")), Some(80));
        assert_eq!(columns_from_env(Some("0")), None);
        assert_eq!(columns_from_env(Some("wide")), None);
        assert_eq!(columns_from_env(None), None);
    }

    #[test]
    fn header_only_and_wide_header() {
        let mut t = new(&["a much longer header than the content", "b"]);
        same_as_comfy(&t);
        t.add_row(vec!["x", "y\n\nz"]);
        same_as_comfy(&t);
    }
}
