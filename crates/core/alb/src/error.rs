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
    /// What the state machine matches on.
    pub kind: ErrorKind,
    /// What went wrong, for people.
    pub message: String,
}

impl AlbError {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> AlbError {
        AlbError {
            kind,
            message: message.into(),
        }
    }

    /// An [`ErrorKind::InvalidInput`] failure: the event must be fixed.
    pub fn invalid(message: impl Into<String>) -> AlbError {
        AlbError::new(ErrorKind::InvalidInput, message)
    }

    /// A failed AWS call (the adapter's description of it): `AwsTransient` when trying again
    /// later may succeed (throttling, server-side failures, no answer), which the state machine
    /// retries; `AwsError` otherwise. Which codes are transient is lightsout-sdk's to say.
    pub fn aws(transient: bool, failure: impl fmt::Display) -> AlbError {
        let kind = if transient {
            ErrorKind::AwsTransient
        } else {
            ErrorKind::AwsError
        };
        AlbError::new(kind, failure.to_string())
    }

    /// The `errorType` the function reports: the kind's name.
    pub fn error_type(&self) -> &'static str {
        self.kind.name()
    }
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
    fn aws_failures_are_transient_or_not_as_the_adapter_says() {
        let e = AlbError::aws(true, "DescribeLoadBalancers: Throttling: slow");
        assert_eq!(e.kind, ErrorKind::AwsTransient);
        assert_eq!(e.error_type(), "AwsTransient");
        let e = AlbError::aws(false, "CreateListener: CertificateNotFound: no such cert");
        assert_eq!(e.kind, ErrorKind::AwsError);
        assert_eq!(
            e.to_string(),
            "CreateListener: CertificateNotFound: no such cert"
        );
        assert_eq!(e.error_type(), "AwsError");
    }
}
