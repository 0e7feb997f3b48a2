//! The AWS SDK glue every adapter shares, apart from the Lambda glue (lightsout-runtime), so an
//! adapter pulls in neither the Lambda runtime nor the log subscriber:
//!
//! - [`aws_config`]: the SDK configuration with every call bounded ([`CallLimits`]) and named
//!   after the function (User-Agent), loaded once per cold start;
//! - [`AwsError`]: a failed call as every adapter reports it, and the one mapping from the SDK's
//!   errors to it ([`AwsError::of`]);
//! - `fake_aws` (feature `fake-aws`, tests only): an HTTP-level AWS stand-in for answers moto
//!   cannot give.

#![warn(missing_docs)]

#[cfg(feature = "fake-aws")]
pub mod fake_aws;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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

    /// The SDK timeouts for these limits.
    pub fn timeout_config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// The SDK retry configuration for these limits.
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

/// A failed AWS call: the operation, AWS's error code and message. Failures without a service
/// answer get a code of our own: `Timeout`, `DispatchFailure` (connection refused or dropped) or
/// `ResponseError` (an answer that could not be read). Displayed as `operation: code: message`,
/// as reports and error messages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The API operation, e.g. `DescribeInstances`.
    pub operation: &'static str,
    /// AWS's error code, or one of ours for a call that got no readable answer.
    pub code: String,
    /// AWS's message (may be empty).
    pub message: String,
    /// The service answered with this error. False for timeouts, lost connections and unreadable
    /// answers: those concern the call, never what was in it.
    pub answered: bool,
}

impl AwsError {
    /// An error the service answered with, or a wrong answer (`EmptyAnswer`) seen as one.
    pub fn new(
        operation: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError {
            operation,
            code: code.into(),
            message: message.into(),
            answered: true,
        }
    }

    /// The mapping from the SDK's error of `operation`, for `map_err`:
    /// `client.describe_instances().send().await.map_err(AwsError::of("DescribeInstances"))`.
    pub fn of<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        move |error| AwsError::from_sdk(operation, &error)
    }

    /// [`AwsError::of`], then `then`: the adapter's own error, e.g.
    /// `.map_err(AwsError::map("CreateListener", alb))`.
    pub fn map<E, R, T>(
        operation: &'static str,
        then: impl FnOnce(AwsError) -> T,
    ) -> impl FnOnce(SdkError<E, R>) -> T
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        move |error| then(AwsError::from_sdk(operation, &error))
    }

    /// [`AwsError::of`], for an error at hand.
    pub fn from_sdk<E, R>(operation: &'static str, error: &SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (code, message, answered) = match error {
            SdkError::ServiceError(service) => {
                let e = service.err();
                (
                    e.code().unwrap_or("Unknown").to_string(),
                    e.message().unwrap_or("").to_string(),
                    true,
                )
            }
            SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into(), false),
            SdkError::DispatchFailure(f) => ("DispatchFailure".into(), format!("{f:?}"), false),
            other => (
                "ResponseError".into(),
                aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
                false,
            ),
        };
        AwsError {
            operation,
            code,
            message,
            answered,
        }
    }

    /// "Try again later", not "this request is wrong": throttling, server-side failures and calls
    /// that got no answer (after the SDK's own retries).
    pub fn is_transient(&self) -> bool {
        !self.answered || is_transient_code(&self.code)
    }
}

/// AWS error codes that mean "try again later", across the services lightsout calls.
pub fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "PriorRequestNotComplete"
            | "SlowDown"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
            | "Timeout"
            | "DispatchFailure"
            | "ResponseError"
    )
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.operation, self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_as_operation_code_message_and_says_if_it_is_transient() {
        let error = |code: &str, answered| AwsError {
            operation: "CreateListener",
            code: code.into(),
            message: "no such cert".into(),
            answered,
        };
        assert_eq!(
            error("CertificateNotFound", true).to_string(),
            "CreateListener: CertificateNotFound: no such cert"
        );
        assert!(!error("CertificateNotFound", true).is_transient());
        assert!(error("Throttling", true).is_transient());
        assert!(error("ServiceUnavailable", true).is_transient());
        assert!(error("Timeout", false).is_transient());
        assert!(error("Whatever", false).is_transient());
    }

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
