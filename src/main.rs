//! The `swr-sync-operator` binary: parses the command line and hands over to the library.

use clap::Parser;

/// The image's static musl build allocates with mimalloc: musl's own allocator doubled the
/// operator's CPU and drift time at 10k rules (README, Evidence).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    swr_sync_operator::commands::run(swr_sync_operator::cli::Cli::parse()).await
}
