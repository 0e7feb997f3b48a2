//! The Lambda glue every lightsout function shares: JSON logs through `tracing`, one line per
//! event, with the Lambda request id of the invocation; the invocation loop ([`serve`]), which
//! reads any payload ([`Payload`]), answers failures with stable error types and writes
//! per-invocation metrics ([`metrics`]). Nothing here knows AWS services: that is lightsout-sdk.

#![warn(missing_docs)]

pub mod metrics;

pub use metrics::Metrics;

/// Installs the JSON log subscriber. `RUST_LOG` sets the level (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// A Lambda error with a stable `errorType`, from any error that names its own type.
pub fn diagnostic(error_type: &str, message: impl std::fmt::Display) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error_type.to_string(),
        error_message: message.to_string(),
    }
}

/// At most this many characters of a reading error are reported (serde echoes bad values whole).
const UNREADABLE_CHARS: usize = 300;

/// An invocation's payload as the runtime read it: the event, or why it could not be read.
///
/// With a plain `LambdaEvent<T>` the runtime itself answers a payload it cannot read (JSON nested
/// deeper than serde_json's limit of 128, a number out of range, a wrong shape) with the error type
/// `&lambda_runtime::deserializer::DeserializeError`: a Rust type name, not a contract that a Step
/// Functions `Catch` or an alarm can rely on. Reading into `Payload<T>` never fails, so the function
/// answers with its own stable error type ([`Payload::into_result`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<T> {
    /// The event, read.
    Read(T),
    /// Why not, starting with `event: ` and naming the field where it can.
    Unreadable(String),
}

impl<T> Payload<T> {
    /// The event, or why it could not be read.
    pub fn into_result(self) -> Result<T, String> {
        match self {
            Payload::Read(event) => Ok(event),
            Payload::Unreadable(why) => Err(why),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> serde::Deserialize<'de> for Payload<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // JSON first (serde_json's recursion limit keeps the stack safe at any depth), then the
        // shape, with the path of a wrong field (`Records[0].body: invalid type: …`).
        let value = match <serde_json::Value as serde::Deserialize>::deserialize(deserializer) {
            Ok(value) => value,
            Err(e) => {
                return Ok(Payload::Unreadable(cut(format!(
                    "event: not readable as JSON: {e}"
                ))))
            }
        };
        Ok(match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(event) => Payload::Read(event),
            Err(e) if e.path().to_string() == "." => {
                Payload::Unreadable(cut(format!("event: {}", e.inner())))
            }
            Err(e) => Payload::Unreadable(cut(format!("event: {}: {}", e.path(), e.inner()))),
        })
    }
}

fn cut(message: String) -> String {
    match message.char_indices().nth(UNREADABLE_CHARS) {
        None => message,
        Some((at, _)) => format!("{}…", &message[..at]),
    }
}

/// What an invocation's answer adds to its function's metrics (docs/metrics.md): counted
/// from the typed value, never from its JSON.
pub trait Counted {
    /// Adds this answer's counts.
    fn count(&self, metrics: &Metrics);
}

/// An invocation's failure: the stable error type that a Step Functions `Catch`/`Retry`, an
/// alarm and the `Failures` metric's `ErrorType` dimension see, and what else it counts (a
/// failed run's report still counts what was done).
pub trait Failure {
    /// The stable error type, e.g. `InvalidEvent`.
    fn error_type(&self) -> &str;
    /// What went wrong, for the answer and the log.
    fn message(&self) -> String;
    /// Adds the counts the failure carries; by default none.
    fn count(&self, _metrics: &Metrics) {}
}

impl Failure for lambda_runtime::Diagnostic {
    fn error_type(&self) -> &str {
        &self.error_type
    }
    fn message(&self) -> String {
        self.error_message.clone()
    }
}

/// Never fails (the HTTP function answers every request, errors included, with a response).
impl Failure for std::convert::Infallible {
    fn error_type(&self) -> &str {
        match *self {}
    }
    fn message(&self) -> String {
        match *self {}
    }
}

/// The part of an invocation that is the same in every function: `metrics` started afresh for
/// the invocation `request_id`, the result [`tally`]'d, then one EMF line written, before the
/// answer.
pub async fn invocation<O, E>(
    metrics: &Metrics,
    request_id: Option<&str>,
    work: impl std::future::Future<Output = Result<O, E>>,
) -> Result<O, E>
where
    O: Counted,
    E: Failure,
{
    metrics.begin(request_id);
    let result = work.await;
    tally(metrics, &result);
    metrics.flush();
    result
}

/// Adds an invocation's result to `metrics`: the answer's counts from its type, or the failure's,
/// logged and counted in `Failures` with its error type.
pub fn tally<O: Counted, E: Failure>(metrics: &Metrics, result: &Result<O, E>) {
    match result {
        Ok(answer) => answer.count(metrics),
        Err(error) => {
            error.count(metrics);
            tracing::error!(
                error_type = error.error_type(),
                error = error.message(),
                "invocation failed"
            );
            metrics.failed(error.error_type());
        }
    }
}

/// Serves `handler` until the runtime stops: the Lambda runtime loop of every lightsout function
/// with a JSON event (the HTTP one runs `lambda_http`'s loop over the same [`invocation`]).
///
/// The handler gets the payload as [`Payload`] (a payload that cannot be read is its own bad
/// input, answered with the function's error type, never the runtime's) and the invocation's
/// context; each invocation goes through [`invocation`]; a failure is answered with its
/// [`Failure::error_type`].
pub async fn serve<T, O, E, F, Fut>(
    metrics: &Metrics,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    T: serde::de::DeserializeOwned,
    O: Counted + serde::Serialize,
    E: Failure,
    F: Fn(Payload<T>, lambda_runtime::Context) -> Fut,
    Fut: std::future::Future<Output = Result<O, E>>,
{
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Payload<T>>| async move {
            let request_id = event.context.request_id.clone();
            // Boxed: the SDK's futures inside a handler nest deeper than rustc's default query
            // depth allows when it lays out the whole runtime loop's future.
            let work = Box::pin(handler(event.payload, event.context));
            invocation(metrics, Some(&request_id), work)
                .await
                .map_err(|error| diagnostic(error.error_type(), error.message()))
        },
    ))
    .await
}

#[cfg(test)]
mod invocation_tests {
    use super::*;
    use crate::metrics::function_counts;

    struct Answer(u64);

    impl Counted for Answer {
        fn count(&self, metrics: &Metrics) {
            metrics.add("Done", self.0);
        }
    }

    struct Refused(u64);

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "refused after {}", self.0)
        }
    }

    impl Failure for Refused {
        fn error_type(&self) -> &str {
            "Refused"
        }
        fn message(&self) -> String {
            self.to_string()
        }
        fn count(&self, metrics: &Metrics) {
            metrics.add("Done", self.0);
        }
    }

    fn run(result: Result<Answer, Refused>) -> (Vec<(String, u64)>, serde_json::Value) {
        let metrics = Metrics::in_namespace("lightsout", "f", &["Done", metrics::FAILURES]);
        metrics.begin(Some("req-1"));
        tally(&metrics, &result);
        (function_counts(&metrics).unwrap(), metrics.document(1))
    }

    #[test]
    fn an_answer_counts_what_its_type_says() {
        let (counts, document) = run(Ok(Answer(3)));
        assert_eq!(
            counts,
            [("Done".to_string(), 3), ("Failures".to_string(), 0)]
        );
        assert_eq!(document["requestId"], "req-1");
        assert!(document.get("ErrorType").is_none());
    }

    #[test]
    fn a_failure_counts_what_it_carries_and_one_failure_of_its_type() {
        let (counts, document) = run(Err(Refused(2)));
        assert_eq!(
            counts,
            [("Done".to_string(), 2), ("Failures".to_string(), 1)]
        );
        assert_eq!(document["ErrorType"], "Refused");
    }

    #[test]
    fn an_invocation_answers_its_result_and_leaves_nothing_for_the_next() {
        let metrics = Metrics::in_namespace("lightsout", "f", &["Done", metrics::FAILURES]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let failed = runtime.block_on(invocation(&metrics, Some("a"), async {
            Err::<Answer, _>(Refused(5))
        }));
        assert_eq!(failed.err().map(|e| e.0), Some(5));
        assert_eq!(metrics.get("Done"), 0, "flushed, then started afresh");
        assert_eq!(metrics.get(metrics::FAILURES), 0);
        assert!(metrics.document(1).get("requestId").is_none());
    }
}

#[cfg(test)]
mod payload_tests {
    use super::*;
    use serde_json::Value;

    /// What the runtime does with a payload (lambda_runtime's deserializer: serde_path_to_error
    /// over a serde_json slice deserializer).
    fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Payload<T> {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut de).expect("Payload never fails")
    }

    #[test]
    fn readable_json_is_read() {
        assert_eq!(
            read::<Value>(br#"{"a": [1, {"b": null}]}"#),
            Payload::Read(serde_json::json!({"a": [1, {"b": null}]}))
        );
        assert_eq!(read::<Value>(b"null"), Payload::Read(Value::Null));
    }

    #[test]
    fn nesting_past_the_limit_is_unreadable_not_a_stack_overflow() {
        for depth in [129, 1_000, 100_000, 1_000_000] {
            let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let why = read::<Value>(body.as_bytes()).into_result().unwrap_err();
            assert!(
                why.starts_with("event: not readable as JSON: recursion limit exceeded"),
                "{depth}: {why}"
            );
            let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
            assert!(read::<Value>(objects.as_bytes()).into_result().is_err());
        }
        let within = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(read::<Value>(within.as_bytes()).into_result().is_ok());
    }

    #[test]
    fn other_unreadable_payloads_are_named_and_short() {
        let why = read::<Value>(br#"{"dryRun": 1e999}"#)
            .into_result()
            .unwrap_err();
        assert!(
            why.starts_with("event: not readable as JSON: number out of range"),
            "{why}"
        );
        #[derive(Debug, serde::Deserialize, PartialEq)]
        struct Batch {
            #[serde(rename = "Records")]
            records: Vec<Record>,
        }
        #[derive(Debug, serde::Deserialize, PartialEq)]
        struct Record {
            body: String,
        }
        assert_eq!(
            read::<Batch>(br#"{"Records": 5}"#)
                .into_result()
                .unwrap_err(),
            "event: Records: invalid type: integer `5`, expected a sequence"
        );
        assert_eq!(
            read::<Batch>(b"{}").into_result().unwrap_err(),
            "event: missing field `Records`"
        );
        let huge = format!(
            r#"{{"Records": [{{"body": 5}}], "x": "{}"}}"#,
            "y".repeat(100_000)
        );
        assert!(read::<Batch>(huge.as_bytes())
            .into_result()
            .unwrap_err()
            .starts_with("event: Records[0].body: invalid type"));
        let echoed = format!(r#"{{"Records": "{}"}}"#, "y".repeat(5_000_000));
        let why = read::<Batch>(echoed.as_bytes()).into_result().unwrap_err();
        assert!(
            why.chars().count() <= UNREADABLE_CHARS + 1,
            "{} characters",
            why.len()
        );
    }
}
