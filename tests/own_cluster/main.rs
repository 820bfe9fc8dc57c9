//! The integration tests that each need an API server of their own
//! (`testkit::cluster::own`): they install cluster-wide objects (the CRD by Helm, cluster
//! RBAC), run an operator over every namespace as installed, or assert that no cluster-wide
//! object exists, so they run one at a time, each on a fresh server.

mod helm_install;
mod helm_install_single_namespace;
mod helm_migrate;
mod rbac;
mod rbac_single_namespace;
