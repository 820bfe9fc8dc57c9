//! The integration tests that need no API server: the emulator over HTTP and driven by the
//! official SDKs, the cloud client against it, the signer's vectors, the parsers' fuzz
//! corpus, and the shipped manifests, chart and monitoring checked by the real tools
//! (kubectl kustomize, the Helm engine, promtool). One binary: one link, one run.

mod client_emulator;
mod crd;
mod deploy;
mod emulator_admin;
mod emulator_auth;
mod emulator_faults;
mod emulator_replication;
mod emulator_startup;
mod emulator_swr;
mod emulator_vectors;
mod fuzz_parsers;
mod gitops;
mod helm_chart;
mod hostile_responses;
mod monitoring;
mod sdk_interop;
mod signer_vectors;
