//! Loads `../shared/vectors/sdk-requests.json` (or `$SWR_SDK_VECTORS`): requests exactly as
//! the official SDKs send them. Missing file is a test failure, never a skip.

use std::path::PathBuf;

use serde_json::Value;

/// The vectors file, parsed.
pub fn load() -> Value {
    let path = std::env::var_os("SWR_SDK_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join("../shared/vectors/sdk-requests.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "SDK request vectors not found at {} ({e}); check out ../shared beside the repository \
             or set SWR_SDK_VECTORS",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("vectors file is JSON")
}

/// One captured request.
#[derive(Debug, Clone)]
pub struct Captured {
    pub name: String,
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The Python SDK captures.
pub fn captured() -> Vec<Captured> {
    load()["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| {
            let r = &case["request"];
            let target = r["target"].as_str().unwrap();
            let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
            Captured {
                name: case["name"].as_str().unwrap().to_string(),
                method: r["method"].as_str().unwrap().to_string(),
                path: path.to_string(),
                raw_query: raw_query.to_string(),
                headers: r["headers"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect(),
                body: r["body"].as_str().unwrap().as_bytes().to_vec(),
            }
        })
        .collect()
}
