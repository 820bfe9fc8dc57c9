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
