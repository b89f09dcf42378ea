//! The output format every command takes (`--format`, `[output] format`).

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Human,
    Json,
    /// SARIF 2.1.0, for code-scanning annotations: `lint` and `check` only (not settable in
    /// the config file, where it would apply to every command)
    #[serde(skip)]
    Sarif,
}
