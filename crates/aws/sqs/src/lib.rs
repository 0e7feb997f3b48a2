//! SQS: send one message, and say whether a send that failed may nevertheless have reached the
//! queue (its answer lost or late, or a server error), which is what lets the HTTP API tell a
//! client to retry with the same idempotency key rather than assume nothing was queued.

#![warn(missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_sdk_sqs::types::MessageAttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use lightsout_sdk::AwsError;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The body.
    pub body: String,
    /// String attributes, (name, value).
    pub attributes: Vec<(&'a str, &'a str)>,
    /// For a FIFO queue: the message group and the deduplication id.
    pub fifo: Option<(&'a str, &'a str)>,
}

/// A send that failed: the error, and whether the message may be in the queue all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailed {
    /// What the last attempt ended with.
    pub error: AwsError,
    /// Some attempt may have reached the queue without SQS confirming it.
    pub may_be_queued: bool,
}

/// SQS over one SDK client, built once per cold start.
pub struct Sqs {
    client: aws_sdk_sqs::Client,
}

impl Sqs {
    /// SQS with `config`.
    pub fn new(config: &aws_types::SdkConfig) -> Sqs {
        Sqs {
            client: aws_sdk_sqs::Client::new(config),
        }
    }

    /// Sends `message` to `queue_url`; its message id, or why not.
    pub async fn send(&self, queue_url: &str, message: Message<'_>) -> Result<String, SendFailed> {
        let mut send = self
            .client
            .send_message()
            .queue_url(queue_url)
            .message_body(message.body);
        for (name, value) in message.attributes {
            send = send.message_attributes(
                name,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map_err(|e| SendFailed {
                        error: AwsError::new("SendMessage", "BuildError", e.to_string()),
                        may_be_queued: false,
                    })?,
            );
        }
        if let Some((group, deduplication)) = message.fifo {
            send = send
                .message_group_id(group)
                .message_deduplication_id(deduplication);
        }
        let unconfirmed = Unconfirmed::default();
        match send
            .customize()
            .interceptor(unconfirmed.clone())
            .send()
            .await
        {
            Ok(sent) => Ok(sent.message_id().unwrap_or_default().to_string()),
            Err(e) => Err(SendFailed {
                error: AwsError::from_sdk("SendMessage", &e),
                may_be_queued: unconfirmed.0.load(Ordering::Relaxed),
            }),
        }
    }
}

/// Whether a failed attempt may nevertheless have reached the queue. Not when SQS answered with
/// a client error (throttling, no such queue, …) or no connection was made; yes when the answer
/// was lost, late or unreadable, or SQS answered with a server error (AWS: "may or may not have
/// been processed").
fn may_have_arrived<E>(error: &OrchestratorError<E>, status: Option<u16>) -> bool {
    if let Some(connector) = error.as_connector_error() {
        return !(connector.is_user() || never_connected(connector));
    }
    if error.is_operation_error() {
        return status.is_some_and(|s| s >= 500);
    }
    error.is_timeout_error() || error.is_response_error()
}

/// A connection that was refused: the request cannot have been sent.
fn never_connected(error: &ConnectorError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = e.source();
    }
    false
}

/// Notes whether any attempt of a call may have reached the queue without SQS confirming it.
#[derive(Debug, Clone, Default)]
struct Unconfirmed(Arc<AtomicBool>);

impl Intercept for Unconfirmed {
    fn name(&self) -> &'static str {
        "Unconfirmed"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Err(error)) = context.output_or_error() {
            let status = context.response().map(|r| r.status().as_u16());
            if may_have_arrived(error, status) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn connector(kind: io::ErrorKind) -> OrchestratorError<io::Error> {
        OrchestratorError::connector(ConnectorError::io(Box::new(io::Error::from(kind))))
    }

    #[test]
    fn which_failures_may_have_queued_the_request() {
        // No connection: nothing was sent.
        assert!(!may_have_arrived(
            &connector(io::ErrorKind::ConnectionRefused),
            None
        ));
        let user =
            OrchestratorError::<io::Error>::connector(ConnectorError::user("bad endpoint".into()));
        assert!(!may_have_arrived(&user, None));
        // SQS answered with a client error (throttling, no such queue): not queued.
        let answered = OrchestratorError::operation(io::Error::other("ThrottlingException"));
        assert!(!may_have_arrived(&answered, Some(400)));
        assert!(!may_have_arrived(&answered, None));
        // A connection dropped after the request went out, an answer late or unreadable, a
        // server error: it may be in the queue.
        assert!(may_have_arrived(
            &connector(io::ErrorKind::ConnectionReset),
            None
        ));
        assert!(may_have_arrived(
            &connector(io::ErrorKind::UnexpectedEof),
            None
        ));
        let late = OrchestratorError::<io::Error>::connector(ConnectorError::timeout(
            "read timed out".into(),
        ));
        assert!(may_have_arrived(&late, None));
        assert!(may_have_arrived(
            &OrchestratorError::<io::Error>::timeout("attempt timeout".into()),
            None
        ));
        assert!(may_have_arrived(
            &OrchestratorError::<io::Error>::response("unreadable".into()),
            None
        ));
        assert!(may_have_arrived(&answered, Some(500)));
    }
}
