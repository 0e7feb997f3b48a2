//! What every lightsout function shares at start-up: JSON logs through `tracing`, one line per
//! event, with the Lambda request id of the invocation; the SDK configuration with bounded,
//! retried AWS calls; AWS error codes; per-invocation metrics ([`metrics`]).

#[cfg(feature = "fake-aws")]
pub mod fake_aws;
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

/// Bounds on every AWS call a function makes, so that a slow or silent endpoint costs a few
/// retried attempts instead of hanging the function until its Lambda timeout.
///
/// The SDK's standard retry (3 attempts, exponential backoff with jitter) retries throttling,
/// 5xx answers, timed-out attempts and dropped connections; what is left after that is the
/// function's error (e.g. `AwsTransient`, which the state machine retries in turn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Opening a connection.
    pub connect: std::time::Duration,
    /// One attempt, from sending the request to reading the whole answer.
    pub attempt: std::time::Duration,
    /// The whole call, every attempt and backoff included.
    pub operation: std::time::Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
}

impl CallLimits {
    /// For a function behind an HTTP API (Lambda timeout 10 s): one call per request.
    pub const API: CallLimits = CallLimits {
        connect: std::time::Duration::from_secs(2),
        attempt: std::time::Duration::from_secs(3),
        operation: std::time::Duration::from_secs(8),
        max_attempts: 3,
    };
    /// For the workflow functions and the queue consumer (Lambda timeouts of 30 s and more): a
    /// call may take 25 s at most, so one stuck call never uses up a 30 s function.
    pub const STANDARD: CallLimits = CallLimits {
        connect: std::time::Duration::from_secs(3),
        attempt: std::time::Duration::from_secs(10),
        operation: std::time::Duration::from_secs(25),
        max_attempts: 3,
    };
    /// For `ec2-autostop` (Lambda timeout 300 s): a DescribeInstances page of 1,000 instances
    /// can take several seconds to answer.
    pub const BULK: CallLimits = CallLimits {
        connect: std::time::Duration::from_secs(3),
        attempt: std::time::Duration::from_secs(20),
        operation: std::time::Duration::from_secs(60),
        max_attempts: 3,
    };

    pub fn timeout_config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    pub fn retry_config(&self) -> aws_config::retry::RetryConfig {
        aws_config::retry::RetryConfig::standard().with_max_attempts(self.max_attempts)
    }
}

/// The SDK configuration every function loads at start-up: the standard chain (region,
/// credentials, `AWS_ENDPOINT_URL`) with `limits` on every call.
///
/// Every call's User-Agent names the function (`app/<AWS_LAMBDA_FUNCTION_NAME>`), so CloudTrail
/// shows which function made it, and the test suite attributes each recorded call to the role
/// that would make it (tests/iam_calls.py).
pub async fn aws_config(limits: CallLimits) -> aws_types::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(limits.timeout_config())
        .retry_config(limits.retry_config());
    let loader = match app_name(std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().as_deref()) {
        Some(name) => loader.app_name(name),
        None => loader,
    };
    loader.load().await
}

/// The User-Agent app name for a function name. Lambda names (letters, digits, `-`, `_`) are
/// valid app names; anything else (none set, or characters a User-Agent token cannot carry)
/// gives none rather than a failed start.
fn app_name(function_name: Option<&str>) -> Option<aws_types::app_name::AppName> {
    let name = function_name?.trim();
    // A Lambda function name is at most 64 characters; the SDK warns above 50, so cut there.
    let name: String = name.chars().take(50).collect();
    aws_types::app_name::AppName::new(name).ok()
}

/// The AWS error code and message of a failed SDK call, as reports and error types use them.
/// Failures without a service answer get a code of our own: `Timeout`, `DispatchFailure`
/// (connection refused or dropped) or `ResponseError` (an answer that could not be read).
pub fn aws_error<E, R>(
    error: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> (String, String)
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            (
                e.code().unwrap_or("Unknown").to_string(),
                e.message().unwrap_or("").to_string(),
            )
        }
        SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into()),
        SdkError::DispatchFailure(f) => ("DispatchFailure".into(), format!("{f:?}")),
        other => (
            "ResponseError".into(),
            aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
        ),
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
    Read(T),
    /// Why not, starting with `event: ` and naming the field where it can.
    Unreadable(String),
}

impl<T> Payload<T> {
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

/// Serves a JSON-in, JSON-out handler: the Lambda runtime loop every lightsout function runs.
/// A payload that cannot be read as JSON fails with `unreadable_type` (the function's error type
/// for bad input), never with the runtime's own.
///
/// Each invocation starts `metrics` afresh; the handler adds its counts; a failed invocation
/// counts in `Failures` with its error type; then one EMF line is written, before the answer.
pub async fn serve<F, Fut>(
    unreadable_type: &'static str,
    metrics: &Metrics,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(serde_json::Value) -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, lambda_runtime::Diagnostic>>,
{
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Payload<serde_json::Value>>| async move {
            metrics.begin(Some(&event.context.request_id));
            let result = match event.payload.into_result() {
                Ok(payload) => handler(payload).await,
                Err(why) => Err(diagnostic(unreadable_type, why)),
            };
            if let Err(error) = &result {
                tracing::error!(
                    error_type = error.error_type,
                    error = error.error_message,
                    "invocation failed"
                );
                metrics.failed(&error.error_type);
            }
            metrics.flush();
            result
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_bounded_within_its_lambda_timeout() {
        // (limits, the Lambda timeout in template.yaml of the functions that use them)
        for (limits, lambda_timeout) in [
            (CallLimits::API, 10),
            (CallLimits::STANDARD, 30),
            (CallLimits::BULK, 300),
        ] {
            let timeouts = limits.timeout_config();
            assert_eq!(timeouts.connect_timeout(), Some(limits.connect));
            assert_eq!(timeouts.operation_attempt_timeout(), Some(limits.attempt));
            assert_eq!(timeouts.operation_timeout(), Some(limits.operation));
            assert!(limits.connect < limits.attempt && limits.attempt < limits.operation);
            assert!(limits.operation.as_secs() < lambda_timeout);
            assert_eq!(limits.retry_config().max_attempts(), 3);
        }
    }

    #[test]
    fn calls_name_the_function_when_its_name_can_be_a_user_agent_token() {
        fn name(function: Option<&str>) -> Option<String> {
            app_name(function).map(|a| a.to_string())
        }
        assert_eq!(name(Some("sqs-consumer")).as_deref(), Some("sqs-consumer"));
        assert_eq!(
            name(Some("lightsout-dev-SqsConsumerFunction-AbC_12")).as_deref(),
            Some("lightsout-dev-SqsConsumerFunction-AbC_12")
        );
        assert_eq!(name(Some(&"f".repeat(64))).map(|n| n.len()), Some(50));
        assert_eq!(name(None), None);
        assert_eq!(name(Some("")), None);
        assert_eq!(name(Some("two words")), None);
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
