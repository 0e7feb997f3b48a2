//! `sqs-producer`: the HTTP API in front of the request queue.
//!
//! - `POST /requests` validates a wake/sleep request and queues it (200 with its `requestId`);
//!   bad input gets 400 (413 over 64 KiB) naming the problem; a queue that refuses gets 500 and
//!   nothing is sent.
//! - `GET /requests/{id}` answers the outcome the consumer recorded (404 until there is one).
//!
//! Settings: `QUEUE_URL` (a `.fifo` URL gets message groups and deduplication ids) and
//! `OUTCOMES_BUCKET`.

use aws_sdk_sqs::types::MessageAttributeValue;
use chrono::Utc;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use serde_json::{json, Value};
use tracing::{info, warn};

use lightsout_requests::{idempotency_key, parse_body, Outcome, Refusal};
use lightsout_s3::JsonStore;

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
        match send.send().await {
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
            Err(e) => {
                let (code, detail) = lightsout_lambda::aws_error(&e);
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
    lightsout_lambda::init_logging();
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::API).await;
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
    lambda_http::run(lambda_http::service_fn(
        move |request: Request| async move { Ok::<_, Error>(api.handle(request).await) },
    ))
    .await
}
