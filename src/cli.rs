//! Command-line interface: the subcommands and their flags (every flag has an env fallback).

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// Keeps Huawei Cloud SWR cross-region image sync tasks in line with ImageSyncRule resources.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "SWR_SYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax, e.g. `info,swr_sync_operator=debug`).
    #[arg(long, env = "SWR_SYNC_LOG", default_value = "info", global = true)]
    pub log_level: String,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the ImageSyncRule CustomResourceDefinition (YAML).
    Crdgen,
    /// Run a local SWR + HSS + IAM emulator (for development, demos and tests).
    Emulator(crate::emulator::EmulatorArgs),
}

impl Cli {
    /// Runs the chosen subcommand to completion.
    pub async fn run(self) -> anyhow::Result<()> {
        crate::telemetry::init(self.log_format, &self.log_level)?;
        match self.command {
            Command::Crdgen => {
                print!("{}", crate::api::crd::crd_yaml());
                Ok(())
            }
            Command::Emulator(args) => crate::emulator::run_cli(args).await,
        }
    }
}
