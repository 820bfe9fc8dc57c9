//! The integration tests that share one real kube-apiserver (started once for this binary
//! by `testkit::cluster`, or `SWR_TEST_KUBECONFIG`): the operator in-process and as its real
//! binary, each test in namespaces of its own, with its own emulator, its operators watching
//! only its namespace or its label, and its Leases there.

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
