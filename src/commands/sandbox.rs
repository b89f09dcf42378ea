//! `migrate sandbox start|stop|status|env` and the `--sandbox` flag.

use std::path::Path;

use serde::Serialize;

use crate::cli::SandboxAction;
use crate::config::SandboxUrls;
use crate::errors::Outcome;
use crate::output::{Printer, Report, table};
use crate::sandbox::{self, SandboxState, Service};

#[derive(Debug, Serialize)]
struct StateReport<'a> {
    #[serde(flatten)]
    state: &'a SandboxState,
    #[serde(skip)]
    env_only: bool,
}

impl Report for StateReport<'_> {
    fn human(&self) -> String {
        if self.env_only {
            return self.state.env_lines().join("\n") + "\n";
        }
        let mut t = table::new(&["service", "state", "port", "pid", "program", "url"]);
        for service in &self.state.services {
            t.add_row(vec![
                service.service.to_string(),
                if service.running {
                    if service.started_now {
                        "started".into()
                    } else {
                        "running".into()
                    }
                } else {
                    "stopped".to_string()
                },
                service.port.map_or_else(String::new, |p| p.to_string()),
                service.pid.map_or_else(String::new, |p| p.to_string()),
                service.program.clone().unwrap_or_default(),
                service
                    .url
                    .clone()
                    .map(|u| crate::redact::redact_url(&u))
                    .unwrap_or_default(),
            ]);
        }
        format!("sandbox in {}\n{t}\n", self.state.dir.display())
    }
}

pub fn run(printer: &Printer, action: SandboxAction, dir: &Path) -> anyhow::Result<Outcome> {
    let state = match action {
        SandboxAction::Start { archive } => {
            let services = available_services(printer);
            let state = sandbox::start_with(dir, &services, sandbox::StartOptions { archive })?;
            warn_moved(printer, &state);
            state
        }
        SandboxAction::Stop => sandbox::stop(dir)?,
        SandboxAction::Status | SandboxAction::Env => sandbox::status(dir)?,
    };
    // `eval "$(migrate sandbox env)"` must not silently export nothing.
    if matches!(action, SandboxAction::Env) && state.env_lines().is_empty() {
        return Err(crate::errors::Detailed::new(format!(
            "no sandbox server is running in {}: nothing to export",
            dir.display()
        ))
        .hint(format!(
            "start them with `{} sandbox start{}` (or run scripts/dev from the repository root)",
            super::invoked_as(),
            dir_flag(dir)
        ))
        .into());
    }
    printer.report(&StateReport {
        state: &state,
        env_only: matches!(action, SandboxAction::Env),
    });
    if let (SandboxAction::Start { archive: true }, Some(archive)) = (action, &state.archive) {
        printer.hint(format!(
            "postgresql archives into pgBackRest stanza `{}`; put this in migrate.toml, then run `{} backup physical setup`:\n{}",
            archive.stanza,
            super::invoked_as(),
            archive.config_section().trim_end()
        ));
    }
    if matches!(action, SandboxAction::Start { .. }) {
        printer.hint(format!(
            "use them from your shell with `eval \"$({} sandbox env{})\"`, or pass --sandbox to any command",
            super::invoked_as(),
            dir_flag(dir)
        ));
    }
    Ok(Outcome::Clean)
}

/// ` --dir DIR` when the sandbox is not the default one.
fn dir_flag(dir: &Path) -> String {
    if dir == Path::new(super::SANDBOX_DIR) {
        String::new()
    } else {
        format!(" --dir {}", dir.display())
    }
}

/// A server whose kept port was taken runs on another one now: URLs exported earlier are stale.
fn warn_moved(printer: &Printer, state: &SandboxState) {
    for service in &state.services {
        if let (Some(old), Some(new)) = (service.moved_from, service.port) {
            printer.warn(format!(
                "sandbox: {} could not get its port {old} back (something else listens there): it runs on port {new} now, so URLs exported earlier are stale",
                service.service
            ));
        }
    }
}

/// PostgreSQL and Redis always; the Mongo-wire server only when one is installed (a note says
/// how to get one otherwise).
fn available_services(printer: &Printer) -> Vec<Service> {
    let mut services = vec![Service::Postgres, Service::Redis];
    match sandbox::find_mongo_server() {
        Ok(_) => services.push(Service::Mongo),
        Err(err) => printer.note(format!("mongo: skipped: {err}")),
    }
    services
}

/// Starts the sandbox if needed and returns its URLs, for `--sandbox`.
pub fn ensure_running(printer: &Printer, dir: &Path) -> anyhow::Result<SandboxUrls> {
    let services = available_services(printer);
    let state = sandbox::start(dir, &services)?;
    warn_moved(printer, &state);
    for service in state.services.iter().filter(|s| s.started_now) {
        printer.step(format!(
            "sandbox: started {} on port {}",
            service.service,
            service.port.unwrap_or(0)
        ));
    }
    Ok(super::sandbox_urls(&state))
}
