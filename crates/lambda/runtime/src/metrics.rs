//! Metrics: one CloudWatch Embedded Metric Format (EMF) line per invocation, written to stdout
//! next to the JSON logs. CloudWatch Logs turns it into metrics; no API call, no permission.
//!
//! Every function counts what it did in a [`Metrics`] it declares at start-up (its name and the
//! names of its counts), and [`Metrics::flush`] writes them, zeros included, once per invocation,
//! whether it succeeded or failed:
//!
//! ```json
//! {"AlbCreated":0,"AlbRestored":0,"ErrorType":"AwsTransient","Failures":1,"Function":"create-alb",
//!  "_aws":{"CloudWatchMetrics":[
//!    {"Dimensions":[["Function"]],"Metrics":[{"Name":"AlbCreated","Unit":"Count"},
//!      {"Name":"AlbRestored","Unit":"Count"},{"Name":"Failures","Unit":"Count"}],
//!     "Namespace":"lightsout"},
//!    {"Dimensions":[["Function","ErrorType"]],"Metrics":[{"Name":"Failures","Unit":"Count"}],
//!     "Namespace":"lightsout"}],
//!   "Timestamp":1795633943595},
//!  "requestId":"3d7d98f7-72cc-4d16-961e-3c26ded15ceb"}
//! ```
//!
//! (on one line, members in name order). The first directive gives every count with the one
//! dimension `Function` (the function's own name, e.g. `create-alb`, the same in every stack); the
//! second, present only in a failed invocation, gives `Failures` again per `ErrorType` (the stable
//! error type a Step Functions `Catch` matches on). The namespace is `METRICS_NAMESPACE`, default
//! `lightsout`. Members that no directive names (`requestId`, `dryRun`, …) are only log fields.
//!
//! Why not a crate: `metrics_cloudwatch_embedded` (the `metrics`-facade backend) was measured
//! against this workspace. Without its `lambda` feature it adds `metrics` and `rapidhash` and
//! ~145 KiB (+2%) to a 7.0 MiB release bootstrap; with that feature it also pulls `lambda_http`
//! with every default feature (all of `aws_lambda_events`) into every function. Its output is
//! valid EMF, but one document per label set (a failure with an `ErrorType` label becomes a second
//! line, and `Failures` without that label does not exist to alarm on), a process-global recorder
//! (tests of the shape need a process each), and `expect`/`unwrap` on its flush and lock.
//! `metrique` (awslabs) with its `emf` feature adds ~45 crates (proc macros, rand, crossbeam,
//! metrics-util). What is needed here, a few counters per invocation written as one line, is this
//! module: serde_json only, already in every function; with its wiring it adds ~33 KiB (+0.5%) to
//! the same bootstrap (`delete-route53-record`, release profile: 7,348,432 → 7,382,576 bytes;
//! with the crate instead 7,496,608).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

/// The namespace when `METRICS_NAMESPACE` is not set (the template sets it per stack).
pub const DEFAULT_NAMESPACE: &str = "lightsout";

/// The count every function that can fail an invocation declares: 1 in a failed invocation.
pub const FAILURES: &str = "Failures";

/// The counts of one invocation of one function.
#[derive(Debug)]
pub struct Metrics {
    namespace: String,
    function: &'static str,
    names: &'static [&'static str],
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    counts: BTreeMap<&'static str, u64>,
    error_type: Option<String>,
    properties: Map<String, Value>,
}

impl Metrics {
    /// `function`'s counts, each of `names` starting at 0, in the namespace `METRICS_NAMESPACE`
    /// names (default [`DEFAULT_NAMESPACE`]).
    pub fn new(function: &'static str, names: &'static [&'static str]) -> Metrics {
        let namespace = std::env::var("METRICS_NAMESPACE")
            .ok()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        Metrics::in_namespace(namespace, function, names)
    }

    /// [`Metrics::new`] in a given namespace (tests, and what `new` reads from the environment).
    pub fn in_namespace(
        namespace: impl Into<String>,
        function: &'static str,
        names: &'static [&'static str],
    ) -> Metrics {
        let metrics = Metrics {
            namespace: namespace.into(),
            function,
            names,
            state: Mutex::new(State::default()),
        };
        metrics.begin(None);
        metrics
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counts inconsistent: use them anyway.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts an invocation: every count back to 0, `requestId` set to the Lambda request id.
    pub fn begin(&self, request_id: Option<&str>) {
        let mut state = self.state();
        state.counts = self.names.iter().map(|name| (*name, 0)).collect();
        state.error_type = None;
        state.properties.clear();
        if let Some(id) = request_id {
            state.properties.insert("requestId".into(), id.into());
        }
    }

    /// Adds `n` to the count `name` (a name not declared is counted too, and reported).
    pub fn add(&self, name: &'static str, n: u64) {
        let mut state = self.state();
        let count = state.counts.entry(name).or_insert(0);
        *count = count.saturating_add(n);
    }

    /// The invocation failed with `error_type`: `Failures` is 1, per that type too.
    pub fn failed(&self, error_type: &str) {
        let mut state = self.state();
        state.counts.insert(FAILURES, 1);
        state.error_type = Some(error_type.to_string());
    }

    /// A log field that is not a metric (e.g. `dryRun`).
    pub fn property(&self, name: &str, value: impl Into<Value>) {
        self.state().properties.insert(name.into(), value.into());
    }

    /// The count `name` so far.
    pub fn get(&self, name: &str) -> u64 {
        self.state().counts.get(name).copied().unwrap_or(0)
    }

    /// The EMF document of the invocation so far, stamped `timestamp_ms` (ms since the epoch).
    pub fn document(&self, timestamp_ms: u64) -> Value {
        let state = self.state();
        let definitions = |names: &mut dyn Iterator<Item = &&str>| -> Vec<Value> {
            names
                .map(|name| json!({"Name": name, "Unit": "Count"}))
                .collect()
        };
        let mut directives = vec![json!({
            "Namespace": self.namespace,
            "Dimensions": [["Function"]],
            "Metrics": definitions(&mut state.counts.keys()),
        })];
        let mut document = Map::new();
        document.insert("Function".into(), self.function.into());
        if let Some(error_type) = &state.error_type {
            directives.push(json!({
                "Namespace": self.namespace,
                "Dimensions": [["Function", "ErrorType"]],
                "Metrics": definitions(&mut [FAILURES].iter()),
            }));
            document.insert("ErrorType".into(), error_type.as_str().into());
        }
        for (name, value) in &state.properties {
            document.insert(name.clone(), value.clone());
        }
        for (name, count) in &state.counts {
            document.insert((*name).into(), (*count).into());
        }
        document.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
        );
        Value::Object(document)
    }

    /// Writes the invocation's document to stdout as one line, then starts afresh. A failed write
    /// is not the invocation's failure: the metrics are lost, the answer is not.
    pub fn flush(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut line = self.document(now).to_string();
        line.push('\n');
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(line.as_bytes())
            .and_then(|_| stdout.flush());
        drop(stdout);
        self.begin(None);
    }
}

/// The counts CloudWatch would extract per `Function` alone from the invocation so far, as
/// (metric, value) in name order, or why its document is not valid EMF: what a function's tests
/// compare with what it should have counted.
pub fn function_counts(metrics: &Metrics) -> Result<Vec<(String, u64)>, String> {
    Ok(extract(&metrics.document(1))?
        .into_iter()
        .filter(|d| d.dimensions.len() == 1)
        .map(|d| (d.name, d.value))
        .collect())
}

/// One value CloudWatch extracts from a document: its dimensions (name, value), metric and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Datum {
    /// (name, value) of each dimension.
    pub dimensions: Vec<(String, String)>,
    /// The metric.
    pub name: String,
    /// Its value.
    pub value: u64,
}

/// What CloudWatch would extract from an EMF `document`, checked against the parts of the
/// specification these documents use (for tests, here and in every function), or why it is not
/// valid EMF.
pub fn extract(document: &Value) -> Result<Vec<Datum>, String> {
    let aws = document.get("_aws").ok_or("no _aws member")?;
    if !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return Err("_aws.Timestamp: expected ms since the epoch".into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics: expected an array")?;
    let mut out = Vec::new();
    for directive in directives {
        let object = directive
            .as_object()
            .ok_or("a directive is not an object")?;
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if keys != ["Dimensions", "Metrics", "Namespace"] {
            return Err(format!("directive members: {keys:?}"));
        }
        if object["Namespace"].as_str().is_none_or(str::is_empty) {
            return Err("Namespace: expected a name".into());
        }
        let metrics = object["Metrics"]
            .as_array()
            .ok_or("Metrics: expected an array")?;
        if metrics.is_empty() || metrics.len() > 100 {
            return Err(format!(
                "Metrics: {} definitions, expected 1-100",
                metrics.len()
            ));
        }
        let sets = object["Dimensions"]
            .as_array()
            .ok_or("Dimensions: expected an array")?;
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.is_empty() || set.len() > 30 {
                return Err(format!(
                    "a dimension set of {} keys, expected 1-30",
                    set.len()
                ));
            }
            let mut dimensions = Vec::new();
            for key in set {
                let key = key.as_str().ok_or("a dimension key is not a string")?;
                let value = document
                    .get(key)
                    .and_then(Value::as_str)
                    .ok_or(format!("dimension {key}: no string member"))?;
                dimensions.push((key.to_string(), value.to_string()));
            }
            for metric in metrics {
                let name = metric
                    .get("Name")
                    .and_then(Value::as_str)
                    .ok_or("a metric definition has no Name")?;
                if metric.get("Unit").and_then(Value::as_str) != Some("Count") {
                    return Err(format!("{name}: Unit is not Count"));
                }
                let value = document
                    .get(name)
                    .and_then(Value::as_u64)
                    .ok_or(format!("{name}: no number member"))?;
                out.push(Datum {
                    dimensions: dimensions.clone(),
                    name: name.to_string(),
                    value,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["AlbCreated", "AlbRestored", FAILURES];

    fn datum(dimensions: &[(&str, &str)], name: &str, value: u64) -> Datum {
        Datum {
            dimensions: dimensions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            name: name.into(),
            value,
        }
    }

    #[test]
    fn a_successful_invocation_reports_every_declared_count_zeros_included() {
        let m = Metrics::in_namespace("lightsout/test", "create-alb", NAMES);
        m.begin(Some("req-1"));
        m.add("AlbCreated", 1);
        let doc = m.document(1_764_064_800_000);
        assert_eq!(
            doc,
            json!({
                "_aws": {"Timestamp": 1_764_064_800_000u64, "CloudWatchMetrics": [{
                    "Namespace": "lightsout/test", "Dimensions": [["Function"]],
                    "Metrics": [
                        {"Name": "AlbCreated", "Unit": "Count"},
                        {"Name": "AlbRestored", "Unit": "Count"},
                        {"Name": "Failures", "Unit": "Count"},
                    ],
                }]},
                "Function": "create-alb", "requestId": "req-1",
                "AlbCreated": 1, "AlbRestored": 0, "Failures": 0,
            })
        );
        let f = [("Function", "create-alb")];
        assert_eq!(
            extract(&doc).unwrap(),
            [
                datum(&f, "AlbCreated", 1),
                datum(&f, "AlbRestored", 0),
                datum(&f, "Failures", 0)
            ]
        );
    }

    #[test]
    fn a_failed_invocation_reports_failures_also_per_error_type() {
        let m = Metrics::in_namespace("lightsout", "create-alb", NAMES);
        m.begin(Some("req-2"));
        m.failed("AwsTransient");
        let doc = m.document(1);
        let got = extract(&doc).unwrap();
        assert!(got.contains(&datum(&[("Function", "create-alb")], "Failures", 1)));
        assert!(got.contains(&datum(
            &[("Function", "create-alb"), ("ErrorType", "AwsTransient")],
            "Failures",
            1
        )));
        assert_eq!(got.len(), 4, "{got:?}");
    }

    #[test]
    fn each_invocation_starts_from_zero() {
        let m = Metrics::in_namespace("lightsout", "create-alb", NAMES);
        m.begin(Some("a"));
        m.add("AlbRestored", 2);
        m.failed("AwsTransient");
        m.property("dryRun", true);
        m.begin(Some("b"));
        let doc = m.document(1);
        assert_eq!(doc["AlbRestored"], 0);
        assert_eq!(doc["Failures"], 0);
        assert_eq!(doc["requestId"], "b");
        assert!(doc.get("ErrorType").is_none() && doc.get("dryRun").is_none());
        assert_eq!(extract(&doc).unwrap().len(), 3);
    }

    #[test]
    fn undeclared_names_are_counted_and_counts_saturate() {
        let m = Metrics::in_namespace("lightsout", "f", &[]);
        m.add("Surprise", u64::MAX);
        m.add("Surprise", 5);
        assert_eq!(m.get("Surprise"), u64::MAX);
        assert_eq!(
            extract(&m.document(1)).unwrap(),
            [datum(&[("Function", "f")], "Surprise", u64::MAX)]
        );
    }

    #[test]
    fn the_document_is_one_line() {
        let m = Metrics::in_namespace("lightsout", "f", NAMES);
        m.property("note", "two\nlines");
        assert!(!m.document(1).to_string().contains('\n'));
    }

    #[test]
    fn extract_refuses_what_is_not_emf() {
        let ok = Metrics::in_namespace("lightsout", "f", NAMES).document(1);
        assert!(extract(&ok).is_ok());
        for (path, bad) in [
            ("/_aws/Timestamp", json!("2026-11-25T10:00:00Z")),
            ("/_aws/CloudWatchMetrics/0/Namespace", json!("")),
            ("/_aws/CloudWatchMetrics/0/Dimensions/0", json!([])),
            ("/_aws/CloudWatchMetrics/0/Metrics", json!([])),
            ("/_aws/CloudWatchMetrics/0/Metrics/0/Unit", json!("Seconds")),
            ("/Function", json!(5)),
            ("/AlbCreated", json!("1")),
        ] {
            let mut doc = ok.clone();
            *doc.pointer_mut(path).unwrap() = bad;
            assert!(extract(&doc).is_err(), "{path}");
        }
    }
}
