//! `sqs-consumer`: carries out queued wake/sleep requests.
//!
//! - Processes a batch concurrently and answers with the messages that failed
//!   (`batchItemFailures`), so one bad message never makes the others run again. A message that
//!   keeps failing (malformed, or AWS refusing) goes to the dead-letter queue after 3 receives.
//! - Acts only on managed instances (`AUTOSTOP_ENABLE=true`); others are refused and recorded.
//! - Records each request's outcome in S3 under its id; a redelivered request that already has an
//!   outcome is acknowledged without acting again.
//! - Carries out each request id once however it is delivered: copies in one batch share one
//!   carrying-out, and deliveries in concurrent invocations are kept apart by a claim in S3
//!   (see `claim`).
//!
//! Settings: `OUTCOMES_BUCKET` (required), `SCHEDULE_TIMEZONE` (zone for default holds).

mod claim;
mod ec2;

use std::collections::HashMap;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use lambda_runtime::{Diagnostic, Error};
use tracing::{info, warn};

use lightsout_requests::{Outcome, Request, Status};
use lightsout_runtime::metrics::{Metrics, FAILURES};
use lightsout_runtime::{Counted, Payload};
use lightsout_s3::JsonStore;
use lightsout_schedule::Settings;

use crate::claim::Claimed;
use crate::ec2::Ec2;

/// Its metrics (docs/metrics.md). Requests carried out in the invocation, by their recorded
/// status (`done`, `partial`, `refused`); requests already carried out, acknowledged again
/// (`RequestsRepeated`); messages answered as failed, which SQS delivers again
/// (`RequestsFailed`), and of those the ones on their last receive, which SQS moves to the
/// dead-letter queue instead (`FinalAttemptsFailed`); a batch that is not one (`Failures`).
const METRICS: &[&str] = &[
    "RequestsDone",
    "RequestsPartial",
    "RequestsRefused",
    "RequestsRepeated",
    "RequestsFailed",
    "FinalAttemptsFailed",
    FAILURES,
];

/// The queue's `maxReceiveCount` (template.yaml, `RequestsQueue`): a message that fails on this
/// receive is not delivered again but moved to the dead-letter queue.
const DEAD_LETTER_AFTER_RECEIVES: u64 = 3;

/// What became of one request that did not fail.
#[derive(Debug, Clone, PartialEq)]
enum Handled {
    /// Carried out now, with the status recorded in its outcome.
    CarriedOut(Status),
    /// It already had an outcome: acknowledged without acting again.
    AlreadyDone,
}

/// A batch carried out: the answer to SQS (the messages to deliver again), and what its metrics
/// are counted from: the results of its distinct requests, and the receive count of each message
/// answered as failed.
#[derive(Debug)]
struct Batch {
    response: SqsBatchResponse,
    results: Vec<Result<Handled, String>>,
    failed_receives: Vec<Option<u64>>,
}

impl serde::Serialize for Batch {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.response.serialize(serializer)
    }
}

impl Counted for Batch {
    fn count(&self, metrics: &Metrics) {
        count(&self.results, &self.failed_receives, metrics);
    }
}

/// The receive count SQS gives a message (`None` in a hand-made event).
fn receives(message: &SqsMessage) -> Option<u64> {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse::<u64>().ok())
}

/// Counts a batch: `results` of its distinct requests, `failed_receives` the receive counts of
/// the messages answered as failed.
fn count(results: &[Result<Handled, String>], failed_receives: &[Option<u64>], metrics: &Metrics) {
    for result in results {
        match result {
            Ok(Handled::CarriedOut(status)) => match status {
                Status::Refused => metrics.add("RequestsRefused", 1),
                Status::Partial => metrics.add("RequestsPartial", 1),
                Status::Done => metrics.add("RequestsDone", 1),
            },
            Ok(Handled::AlreadyDone) => metrics.add("RequestsRepeated", 1),
            Err(_) => {}
        }
    }
    for receives in failed_receives {
        metrics.add("RequestsFailed", 1);
        if receives.is_some_and(|n| n >= DEAD_LETTER_AFTER_RECEIVES) {
            metrics.add("FinalAttemptsFailed", 1);
        }
    }
}

/// The invocation handling a batch: its id names its claims, which last until `until`.
struct Invocation {
    id: String,
    until: DateTime<Utc>,
}

/// The distinct requests of a batch, and for each message the index of its request among them
/// (or why it cannot be read). A request queued twice appears once.
fn distinct_requests(records: &[SqsMessage]) -> (Vec<Request>, Vec<Result<usize, String>>) {
    let mut requests: Vec<Request> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let slots = records
        .iter()
        .map(|message| {
            let body = message.body.as_deref().ok_or("message has no body")?;
            // Checked as the API checks requests: the error names the field.
            let request = Request::from_message(body)?;
            Ok(*index.entry(request.request_id.clone()).or_insert_with(|| {
                requests.push(request);
                requests.len() - 1
            }))
        })
        .collect();
    (requests, slots)
}

struct Consumer {
    ec2: Ec2,
    store: JsonStore,
    bucket: Option<String>,
    default_zone: Result<Tz, String>,
}

impl Consumer {
    async fn handle(&self, event: SqsEvent, invocation: &Invocation) -> Batch {
        // One carrying-out per request id, however many copies of it the batch holds: the copies
        // share its result.
        let (requests, slots) = distinct_requests(&event.records);
        let results =
            futures::future::join_all(requests.iter().map(|r| self.process(r, invocation))).await;
        let mut response = SqsBatchResponse::default();
        let mut failed_receives = Vec::new();
        for (message, slot) in event.records.iter().zip(slots) {
            if let Err(reason) = slot.and_then(|i| results[i].clone()) {
                failed_receives.push(receives(message));
                let id = message.message_id.clone().unwrap_or_default();
                warn!(
                    message_id = id,
                    reason, "message failed; it will be received again (dead-lettered after 3)"
                );
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        Batch {
            response,
            results,
            failed_receives,
        }
    }

    /// One request: `Err` makes SQS deliver its messages again.
    async fn process(&self, request: &Request, invocation: &Invocation) -> Result<Handled, String> {
        let bucket = self
            .bucket
            .as_deref()
            .ok_or("setting OUTCOMES_BUCKET is not set")?;
        let zone = self.default_zone.clone()?;
        let key = Outcome::key(&request.request_id);
        let recorded = || async {
            self.store
                .get(bucket, &key)
                .await
                .map(|o| o.is_some())
                .map_err(|e| e.to_string())
        };
        let already = || {
            info!(
                request_id = request.request_id,
                "already carried out; acknowledged without acting again"
            );
            Ok(Handled::AlreadyDone)
        };
        if recorded().await? {
            return already();
        }
        let id = &request.request_id;
        let claim = match claim::acquire(
            &self.store,
            bucket,
            id,
            &invocation.id,
            invocation.until,
            Utc::now(),
        )
        .await
        .map_err(|e| e.to_string())?
        {
            Claimed::Fresh(claim) => claim,
            Claimed::TakenOver(claim) => {
                if recorded().await? {
                    return already();
                }
                claim
            }
            Claimed::Held(until) => {
                return Err(format!(
                    "another delivery is carrying it out (claimed until {}); received again later",
                    until.to_rfc3339_opts(SecondsFormat::Secs, true)
                ))
            }
        };
        let result = self
            .carry_out(request, bucket, zone, &key)
            .await
            .map(Handled::CarriedOut);
        if result.is_err() {
            if let Err(e) = claim::release(&self.store, bucket, id, &invocation.id, &claim).await {
                warn!(request_id = id, error = %e, "could not give the claim up; it ends at the invocation's deadline");
            }
        }
        result
    }

    /// Acts on EC2 and records the outcome; answers its status.
    async fn carry_out(
        &self,
        request: &Request,
        bucket: &str,
        zone: Tz,
        key: &str,
    ) -> Result<Status, String> {
        let now = Utc::now();
        let (instances, hold_until) = self
            .ec2
            .carry_out(request, zone, now)
            .await
            .map_err(|e| e.to_string())?;
        let outcome = Outcome {
            request_id: request.request_id.clone(),
            action: request.action,
            status: Outcome::status_of(&instances),
            hold_until,
            requested_by: request.requested_by.clone(),
            received_at: request.received_at.clone(),
            completed_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            instances,
        };
        let bytes = serde_json::to_vec_pretty(&outcome).map_err(|e| e.to_string())?;
        if let Err(e) = self.store.put(bucket, key, bytes).await {
            // A write whose answer was lost may have landed: then the request is carried out, and
            // failing the message would only dead-letter a request that is done.
            if !matches!(self.store.get(bucket, key).await, Ok(Some(_))) {
                return Err(e.to_string());
            }
        }
        info!(
            request_id = outcome.request_id,
            action = outcome.action.as_str(),
            status = outcome.status.as_str(),
            "request carried out"
        );
        Ok(outcome.status)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let settings = Settings::from_lookup(|name| std::env::var(name).ok());
    let consumer = Consumer {
        ec2: Ec2::new(&config),
        store: JsonStore::new(&config),
        bucket: std::env::var("OUTCOMES_BUCKET")
            .ok()
            .filter(|b| !b.trim().is_empty()),
        default_zone: settings.map(|s| s.default_zone).map_err(|e| e.to_string()),
    };
    let consumer = &consumer;
    let metrics = Metrics::new("sqs-consumer", METRICS);
    lightsout_runtime::serve(&metrics, |payload: Payload<SqsEvent>, context| async move {
        // Not an SQS batch at all (SQS never sends one; a hand-made invoke might): the whole
        // invocation fails with a stable type instead of the runtime's own.
        let batch = payload
            .into_result()
            .map_err(|why| lightsout_runtime::diagnostic("InvalidEvent", why))?;
        let invocation = Invocation {
            until: claim::lease_until(context.deadline, Utc::now()),
            id: context.request_id,
        };
        Ok::<_, Diagnostic>(consumer.handle(batch, &invocation).await)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, body: Option<&str>) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = body.map(String::from);
        m
    }

    fn request(id: &str) -> String {
        serde_json::json!({
            "requestId": id, "action": "wake", "target": {"instanceIds": ["i-0123456789abcdef0"]},
            "requestedBy": "mina", "receivedAt": "2026-11-25T10:00:00Z"
        })
        .to_string()
    }

    #[test]
    fn metrics_count_requests_by_status_and_failed_messages_by_receive() {
        let metrics = Metrics::in_namespace("lightsout", "sqs-consumer", METRICS);
        let results = [
            Ok(Handled::CarriedOut(Status::Done)),
            Ok(Handled::CarriedOut(Status::Done)),
            Ok(Handled::CarriedOut(Status::Partial)),
            Ok(Handled::CarriedOut(Status::Refused)),
            Ok(Handled::AlreadyDone),
            Err("AccessDenied".into()),
        ];
        let received = |id: &str, count: Option<&str>| {
            let mut m = message(id, Some("{}"));
            if let Some(n) = count {
                m.attributes
                    .insert("ApproximateReceiveCount".into(), n.into());
            }
            m
        };
        // Failed messages on their first, last and (after a redrive) fourth receive, and one
        // without a count (a hand-made event).
        let failed = [
            received("m6", Some("1")),
            received("m7", Some("3")),
            received("m8", Some("4")),
            received("m9", None),
        ];
        let failed: Vec<Option<u64>> = failed.iter().map(receives).collect();
        count(&results, &failed, &metrics);
        let got = lightsout_runtime::metrics::function_counts(&metrics).unwrap();
        assert_eq!(
            got,
            [
                ("Failures".to_string(), 0),
                ("FinalAttemptsFailed".into(), 2),
                ("RequestsDone".into(), 2),
                ("RequestsFailed".into(), 4),
                ("RequestsPartial".into(), 1),
                ("RequestsRefused".into(), 1),
                ("RequestsRepeated".into(), 1),
            ]
        );
    }

    #[test]
    fn copies_of_a_request_in_one_batch_are_carried_out_once() {
        // A producer retry queued r-1 twice; both copies arrive in one batch with r-2 and junk.
        let batch = [
            message("m1", Some(&request("r-1"))),
            message("m2", Some(&request("r-2"))),
            message("m3", Some(&request("r-1"))),
            message("m4", Some("not a request")),
            message("m5", None),
        ];
        let (requests, slots) = distinct_requests(&batch);
        let ids: Vec<&str> = requests.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(ids, ["r-1", "r-2"]);
        assert_eq!(slots[0], Ok(0));
        assert_eq!(slots[1], Ok(1));
        assert_eq!(slots[2], Ok(0), "the copy shares the first one's result");
        assert!(slots[3]
            .as_ref()
            .is_err_and(|e| e.starts_with("malformed request: ")));
        assert_eq!(slots[4], Err("message has no body".to_string()));
    }
}
