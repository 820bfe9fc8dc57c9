//! A local stand-in for SWR, HSS and IAM (placeholder until the emulator lands).

/// Flags of `swr-sync-operator emulator`.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {}

/// Runs the emulator until interrupted.
pub async fn run_cli(_args: EmulatorArgs) -> anyhow::Result<()> {
    anyhow::bail!("the emulator is not built yet")
}
