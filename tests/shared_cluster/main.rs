//! The integration tests that share one real kube-apiserver (started once for this binary
//! by `testkit::cluster`, or `SWR_TEST_KUBECONFIG`): the operator in-process and as its real
//! binary, each test in namespaces of its own, with its own emulator and its Leases there. Its
//! operators reconcile only rules of its namespace or its label; a sharded operator's watch
//! of Secrets spans namespaces, but it releases only Secrets no rule in theirs uses.

mod endpoints;
mod existing_images;
mod gateway;
mod ha;
mod hostile_specs;
mod leader;
mod metrics;
mod monitoring;
mod operator;
mod ownership;
mod plan;
mod regions_and_requests;
mod replication;
mod security_scans;
mod selectors;
