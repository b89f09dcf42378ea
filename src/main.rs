//! The `migrate` binary: parse, run, map errors to exit codes.

use clap::Parser;

fn main() {
    // `.env` first: clap reads DATABASE_URL & co. while parsing.
    let env_file = migrate::config::dotenv::load(std::env::args_os());
    let cli = migrate::cli::Cli::parse();
    let printer = migrate::output::Printer::new(migrate::config::early_output(&cli.global));
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
            failure.printer.error(&failure.error, 1);
            1
        }
    };
    // Drop the runtime without waiting for connection tasks.
    runtime.shutdown_background();
    std::process::exit(code);
}
