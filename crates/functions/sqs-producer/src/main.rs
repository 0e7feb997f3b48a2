//! `sqs-producer`: the HTTP API in front of the request queue.
//!
//! - `POST /requests` validates a wake/sleep request and queues it (200 with its `requestId`);
//!   bad input gets 400 (413 over 64 KiB) naming the problem; a queue that refuses gets 500 and
//!   nothing is sent. When a send may have reached the queue unconfirmed (an answer lost or late,
//!   a server error), it is 502 with the request id: a retry with that `Idempotency-Key` is the
//!   same request, carried out once.
//! - `GET /requests/{id}` answers the outcome the consumer recorded (404 until there is one).
//!
//! Settings: `QUEUE_URL` (a `.fifo` URL gets message groups and deduplication ids) and
//! `OUTCOMES_BUCKET`.

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
use chrono::Utc;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use serde_json::{json, Value};
use tracing::{info, warn};

use std::convert::Infallible;

use lightsout_requests::{idempotency_key, parse_body, Outcome, Refusal};
use lightsout_runtime::{Counted, Metrics};
use lightsout_s3::JsonStore;
use lightsout_sdk::AwsError;

/// Its metrics (docs/metrics.md), one of them 1 per POST: queued (200), refused as bad input
/// (4xx), or failed (5xx: not queued, 500, or maybe queued, 502). Other calls count nothing.
const METRICS: &[&str] = &["RequestsAccepted", "RequestsRefused", "RequestsFailed"];

/// The answer to one call, with the method it answers: what its metrics are counted from.
struct Answered {
    method: Method,
    response: Response<Body>,
}

impl Counted for Answered {
    fn count(&self, metrics: &Metrics) {
        count(&self.method, self.response.status(), metrics);
    }
}

/// Counts the answer to one call.
fn count(method: &Method, status: StatusCode, metrics: &Metrics) {
    if method != Method::POST {
        return;
    }
    if status.is_success() {
        metrics.add("RequestsAccepted", 1);
    } else if status.is_client_error() {
        metrics.add("RequestsRefused", 1);
    } else {
        metrics.add("RequestsFailed", 1);
    }
}

struct Api {
    sqs: aws_sdk_sqs::Client,
    store: JsonStore,
    queue_url: Option<String>,
    bucket: Option<String>,
}

fn respond(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::Text(body.to_string()))
        .expect("a status, one header and a body make a valid response")
}

fn message(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    respond(status, json!({ "message": text.into() }))
}

/// 502: a send that may have reached the queue. The request id lets the client retry the same
/// request; the consumer carries out a request id once, however often it is queued.
fn unconfirmed_answer(code: &str, request_id: &str) -> Response<Body> {
    respond(
        StatusCode::BAD_GATEWAY,
        json!({
            "message": format!(
                "The queue did not confirm the request ({code}); it may have been queued. \
                 Retry with the header Idempotency-Key: {request_id} and it is carried out once"
            ),
            "requestId": request_id,
        }),
    )
}

fn refused(r: Refusal) -> Response<Body> {
    message(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        r.message,
    )
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

impl Api {
    async fn handle(&self, request: Request) -> Response<Body> {
        // `/requests`, `/requests/{id}`, under any stage or function-URL prefix.
        let path = request.uri().path().trim_end_matches('/').to_string();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let position = segments.iter().rposition(|s| *s == "requests");
        match (request.method(), position.map(|p| &segments[p + 1..])) {
            (&Method::POST, Some([])) => self.accept(&request).await,
            (&Method::GET, Some([id])) => self.outcome(id).await,
            (_, Some([])) | (_, Some([_])) => message(
                StatusCode::METHOD_NOT_ALLOWED,
                "Use POST /requests or GET /requests/{id}",
            ),
            _ => message(
                StatusCode::NOT_FOUND,
                format!("No route for {} {path}", request.method()),
            ),
        }
    }

    async fn accept(&self, request: &Request) -> Response<Body> {
        let Some(queue_url) = &self.queue_url else {
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The API is misconfigured: QUEUE_URL is not set",
            );
        };
        let request_id = match request.headers().get("idempotency-key").map(|v| v.to_str()) {
            None => uuid::Uuid::new_v4().to_string(),
            Some(Ok(key)) => match idempotency_key(key) {
                Ok(key) => key,
                Err(r) => return refused(r),
            },
            Some(Err(_)) => return refused(idempotency_key("").unwrap_err()),
        };
        let body: Option<&[u8]> = match request.body() {
            Body::Empty => None,
            Body::Text(t) => Some(t.as_bytes()),
            Body::Binary(b) => Some(b.as_slice()),
            _ => None,
        };
        let queued = match parse_body(body, request_id, Utc::now()) {
            Ok(queued) => queued,
            Err(r) => {
                info!(status = r.status, reason = r.message, "request refused");
                return refused(r);
            }
        };
        let attribute = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .expect("data type and value are set")
        };
        let mut send = self
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(serde_json::to_string(&queued).expect("a request serializes"))
            .message_attributes("action", attribute(queued.action.as_str()))
            .message_attributes("requestId", attribute(&queued.request_id))
            .message_attributes("requester", attribute(&queued.requested_by));
        if queue_url.ends_with(".fifo") {
            send = send
                .message_group_id(queued.target.group())
                .message_deduplication_id(&queued.request_id);
        }
        let unconfirmed = Unconfirmed::default();
        match send
            .customize()
            .interceptor(unconfirmed.clone())
            .send()
            .await
        {
            Ok(sent) => {
                info!(
                    request_id = queued.request_id,
                    action = queued.action.as_str(),
                    message_id = sent.message_id(),
                    "request queued"
                );
                respond(
                    StatusCode::OK,
                    json!({"message": "Message accepted!", "requestId": queued.request_id}),
                )
            }
            Err(e) if unconfirmed.0.load(Ordering::Relaxed) => {
                let AwsError {
                    code,
                    message: detail,
                    ..
                } = AwsError::from_sdk("SendMessage", &e);
                warn!(
                    request_id = queued.request_id,
                    error_code = code,
                    error = detail,
                    "the queue did not confirm the request; it may have been queued"
                );
                unconfirmed_answer(&code, &queued.request_id)
            }
            Err(e) => {
                let AwsError {
                    code,
                    message: detail,
                    ..
                } = AwsError::from_sdk("SendMessage", &e);
                warn!(
                    request_id = queued.request_id,
                    error_code = code,
                    error = detail,
                    "queue refused the request"
                );
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("The request could not be queued ({code}); nothing was sent, please try again"),
                )
            }
        }
    }

    async fn outcome(&self, id: &str) -> Response<Body> {
        let Some(bucket) = &self.bucket else {
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The API is misconfigured: OUTCOMES_BUCKET is not set",
            );
        };
        let id = match idempotency_key(id) {
            Ok(id) => id,
            Err(_) => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "request id: expected 1-128 letters, digits, '-', '_', '.' or ':'",
                )
            }
        };
        match self.store.get(bucket, &Outcome::key(&id)).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(outcome) => respond(StatusCode::OK, outcome),
                Err(e) => message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("The recorded outcome is unreadable: {e}"),
                ),
            },
            Ok(None) => message(
                StatusCode::NOT_FOUND,
                format!("No outcome has been recorded for request {id} yet"),
            ),
            Err(e) => {
                warn!(request_id = id, error = %e, "could not read the outcome");
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("The outcome could not be read ({})", e.code),
                )
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::API).await;
    let setting = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let api = Api {
        sqs: aws_sdk_sqs::Client::new(&config),
        store: JsonStore::new(&config),
        queue_url: setting("QUEUE_URL"),
        bucket: setting("OUTCOMES_BUCKET"),
    };
    let api = &api;
    let metrics = &Metrics::new("sqs-producer", METRICS);
    // lambda_http's loop (it turns API Gateway's event into a request), each call through the
    // same invocation as every other function's.
    lambda_http::run(lambda_http::service_fn(
        move |request: Request| async move {
            let request_id = request.lambda_context_ref().map(|c| c.request_id.clone());
            let answered = lightsout_runtime::invocation(metrics, request_id.as_deref(), async {
                let method = request.method().clone();
                let response = api.handle(request).await;
                Ok::<_, Infallible>(Answered { method, response })
            })
            .await;
            Ok::<_, Error>(match answered {
                Ok(answered) => answered.response,
                Err(never) => match never {},
            })
        },
    ))
    .await
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

    #[test]
    fn metrics_count_each_post_by_its_answer() {
        let metrics = Metrics::in_namespace("lightsout", "sqs-producer", METRICS);
        for (method, status) in [
            (Method::POST, StatusCode::OK),
            (Method::POST, StatusCode::BAD_REQUEST),
            (Method::POST, StatusCode::PAYLOAD_TOO_LARGE),
            (Method::POST, StatusCode::INTERNAL_SERVER_ERROR),
            (Method::POST, StatusCode::BAD_GATEWAY),
            (Method::POST, StatusCode::BAD_GATEWAY),
            (Method::GET, StatusCode::OK),
            (Method::GET, StatusCode::NOT_FOUND),
        ] {
            count(&method, status, &metrics);
        }
        let got = lightsout_runtime::metrics::function_counts(&metrics).unwrap();
        assert_eq!(
            got,
            [
                ("RequestsAccepted".to_string(), 1),
                ("RequestsFailed".into(), 3),
                ("RequestsRefused".into(), 2),
            ]
        );
    }

    #[test]
    fn an_unconfirmed_send_answers_502_with_the_id_to_retry_with() {
        let answer = unconfirmed_answer("DispatchFailure", "req-7");
        assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
        let Body::Text(text) = answer.body() else {
            panic!("a text body")
        };
        let body: Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["requestId"], "req-7");
        assert_eq!(
            body["message"],
            "The queue did not confirm the request (DispatchFailure); it may have been queued. \
             Retry with the header Idempotency-Key: req-7 and it is carried out once"
        );
    }
}
