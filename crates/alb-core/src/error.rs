//! Errors of the ALB workflow, each with a stable type name that the state machine's
//! `Retry`/`Catch` match on.

use std::fmt;

/// The kinds of failure the state machine tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The event is missing a field or has a wrong one. Permanent: fix the input.
    InvalidInput,
    /// A throttled, timed-out or 5xx AWS call after the SDK's own retries. Worth retrying.
    AwsTransient,
    /// Any other AWS error (permissions, a missing target group, …). Permanent.
    AwsError,
    /// The ALB could not be saved to S3, so it was not deleted.
    SnapshotFailed,
    /// The ALB has configuration a snapshot cannot hold faithfully (e.g. an authenticate action),
    /// so deleting it would lose it: it was left in place.
    UnsupportedConfiguration,
    /// The domain's record belongs to something else; it was left alone.
    RecordConflict,
}

impl ErrorKind {
    /// The `errorType` the function reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::AwsTransient => "AwsTransient",
            ErrorKind::AwsError => "AwsError",
            ErrorKind::SnapshotFailed => "SnapshotFailed",
            ErrorKind::UnsupportedConfiguration => "UnsupportedConfiguration",
            ErrorKind::RecordConflict => "RecordConflict",
        }
    }
}

/// A failure with its kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AlbError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> AlbError {
        AlbError {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> AlbError {
        AlbError::new(ErrorKind::InvalidInput, message)
    }

    /// An AWS error by its code: throttling and server-side failures are transient.
    pub fn aws(operation: &str, code: &str, message: &str) -> AlbError {
        let kind = if is_transient(code) {
            ErrorKind::AwsTransient
        } else {
            ErrorKind::AwsError
        };
        AlbError::new(kind, format!("{operation}: {code}: {message}"))
    }

    pub fn error_type(&self) -> &'static str {
        self.kind.name()
    }
}

/// AWS error codes that mean "try again later", not "this request is wrong".
pub fn is_transient(code: &str) -> bool {
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

impl fmt::Display for AlbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AlbError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_errors_classified_by_code() {
        assert_eq!(
            AlbError::aws("DescribeLoadBalancers", "Throttling", "slow").kind,
            ErrorKind::AwsTransient
        );
        assert_eq!(
            AlbError::aws("CreateListener", "CertificateNotFound", "x").kind,
            ErrorKind::AwsError
        );
        let e = AlbError::aws("CreateListener", "CertificateNotFound", "no such cert");
        assert_eq!(
            e.to_string(),
            "CreateListener: CertificateNotFound: no such cert"
        );
        assert_eq!(e.error_type(), "AwsError");
    }
}
