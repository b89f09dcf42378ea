//! The `migrate` binary: parse, run, map errors to exit codes (0 clean, 1 error, 2 problems
//! found, 64 usage error).

use clap::Parser;

fn main() {
    // `.env` first: clap reads DATABASE_URL & co. while parsing.
    let env_file = migrate::config::dotenv::load(std::env::args_os());
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match migrate::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => std::process::exit(migrate::usage::report(&error, &args)),
    };
    let printer =
        migrate::output::Printer::new(migrate::config::early_output(&cli.global.overrides()));
    if let Err(err) = env_file {
        printer.error(&err, 1);
        std::process::exit(1);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            printer.error(&anyhow::anyhow!("cannot start the async runtime: {err}"), 1);
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(migrate::commands::run(cli)) {
        Ok(outcome) => outcome.exit_code(),
        Err(failure) => {
            let code = migrate::errors::exit_code(&failure.error);
            failure.printer.error(&failure.error, code);
            code
        }
    };
    // Drop the runtime without waiting for connection tasks.
    runtime.shutdown_background();
    std::process::exit(code);
}
