//! The migration file's text: directives, header, the up part, `-- migrate:down`, the down
//! part, each statement with its hazards written as comments above it.

use super::*;

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
