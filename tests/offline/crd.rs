//! The checked-in CRD is exactly what `crdgen` prints.

#[test]
fn checked_in_crd_matches_the_rust_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/imagesyncrule.yaml");
    let checked_in = std::fs::read_to_string(path).expect("crds/imagesyncrule.yaml exists");
    assert!(
        checked_in == swr_sync_operator::api::crd::crd_yaml(),
        "crds/imagesyncrule.yaml is stale: run `cargo run -- crdgen > crds/imagesyncrule.yaml`"
    );
}
