//! Reading a Prometheus/OpenMetrics text scrape in tests.

use std::collections::BTreeMap;

/// Series → value. The key is the series as exported, `name{label="value",...}` (or just
/// `name`), so tests look up exactly what a dashboard query would select.
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            // Label values never contain "} " in this exporter; the value follows the series.
            let (series, rest) = match line.rfind('}') {
                Some(end) => line.split_at(end + 1),
                None => line.split_once(' ')?,
            };
            let value = rest.split_whitespace().next()?.parse().ok()?;
            Some((series.trim().to_string(), value))
        })
        .collect()
}

/// Sum of every series of `name` whose labels include all of `labels` (`key="value"`).
pub fn sum(series: &BTreeMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    series
        .iter()
        .filter(|(key, _)| {
            key.split('{').next() == Some(name) && labels.iter().all(|l| key.contains(l))
        })
        .map(|(_, v)| v)
        .sum()
}

/// Value of label `name` in a series key, if present.
pub fn label<'a>(series: &'a str, name: &str) -> Option<&'a str> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    let len = series[start..].find('"')?;
    Some(&series[start..start + len])
}

/// Writes the API server has answered so far, by kind (`resource` or
/// `resource/subresource`), from its own `apiserver_request_total`: an account of every
/// client's writes that does not depend on the operator counting its own.
pub async fn apiserver_writes(client: &kube::Client) -> BTreeMap<String, f64> {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client
        .request_text(request)
        .await
        .expect("reading the API server's /metrics");
    let mut writes = BTreeMap::new();
    for (series, value) in parse(&text) {
        if !series.starts_with("apiserver_request_total{") {
            continue;
        }
        let verb = label(&series, "verb").unwrap_or_default();
        if !matches!(verb, "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY") {
            continue;
        }
        let resource = label(&series, "resource").unwrap_or_default();
        let kind = match label(&series, "subresource").unwrap_or_default() {
            "" => resource.to_string(),
            sub => format!("{resource}/{sub}"),
        };
        *writes.entry(kind).or_default() += value;
    }
    writes
}

/// `after − before` per key, leaving out keys that did not change.
pub fn delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or_default()))
        .filter(|(_, v)| *v != 0.0)
        .collect()
}
