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

use chrono::Utc;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use serde_json::{json, Value};
use tracing::{info, warn};

use std::convert::Infallible;

use lightsout_requests::{idempotency_key, parse_body, Outcome, Refusal};
use lightsout_runtime::{Counted, Metrics};
use lightsout_s3::JsonStore;
use lightsout_sqs::{Message, SendFailed, Sqs};

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
    sqs: Sqs,
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
        let group = queued.target.group();
        let fifo = queue_url
            .ends_with(".fifo")
            .then_some((group.as_str(), queued.request_id.as_str()));
        let sent = self
            .sqs
            .send(
                queue_url,
                Message {
                    body: serde_json::to_string(&queued).unwrap_or_default(),
                    attributes: vec![
                        ("action", queued.action.as_str()),
                        ("requestId", &queued.request_id),
                        ("requester", &queued.requested_by),
                    ],
                    fifo,
                },
            )
            .await;
        match sent {
            Ok(message_id) => {
                info!(
                    request_id = queued.request_id,
                    action = queued.action.as_str(),
                    message_id,
                    "request queued"
                );
                respond(
                    StatusCode::OK,
                    json!({"message": "Message accepted!", "requestId": queued.request_id}),
                )
            }
            Err(SendFailed {
                error,
                may_be_queued: true,
            }) => {
                warn!(
                    request_id = queued.request_id,
                    error_code = error.code,
                    error = error.message,
                    "the queue did not confirm the request; it may have been queued"
                );
                unconfirmed_answer(&error.code, &queued.request_id)
            }
            Err(SendFailed { error, .. }) => {
                warn!(
                    request_id = queued.request_id,
                    error_code = error.code,
                    error = error.message,
                    "queue refused the request"
                );
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "The request could not be queued ({}); nothing was sent, please try again",
                        error.code
                    ),
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
        sqs: Sqs::new(&config),
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
