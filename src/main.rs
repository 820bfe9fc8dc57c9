//! The `swr-sync-operator` binary: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    swr_sync_operator::cli::Cli::parse().run().await
}
