//! `sqs-consumer`: carries out queued wake/sleep requests.
//!
//! - Processes a batch concurrently and answers with the messages that failed
//!   (`batchItemFailures`), so one bad message never makes the others run again. A message that
//!   keeps failing (malformed, or AWS refusing) goes to the dead-letter queue after 3 receives.
//! - Acts only on managed instances (`AUTOSTOP_ENABLE=true`); others are refused and recorded.
//! - Records each request's outcome in S3 under its id; a redelivered request that already has an
//!   outcome is acknowledged without acting again.
//!
//! Settings: `OUTCOMES_BUCKET` (required), `SCHEDULE_TIMEZONE` (zone for default holds).

mod ec2;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{SecondsFormat, Utc};
use chrono_tz::Tz;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing::{info, warn};

use lightsout_requests::{Outcome, Request};
use lightsout_s3::JsonStore;
use lightsout_schedule::Settings;

use crate::ec2::Ec2;

struct Consumer {
    ec2: Ec2,
    store: JsonStore,
    bucket: Option<String>,
    default_zone: Result<Tz, String>,
}

impl Consumer {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let results =
            futures::future::join_all(event.records.iter().map(|m| self.process(m))).await;
        let mut response = SqsBatchResponse::default();
        for (message, result) in event.records.iter().zip(results) {
            if let Err(reason) = result {
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
        response
    }

    /// One message: `Err` makes SQS deliver it again.
    async fn process(&self, message: &SqsMessage) -> Result<(), String> {
        let bucket = self
            .bucket
            .as_deref()
            .ok_or("setting OUTCOMES_BUCKET is not set")?;
        let zone = self.default_zone.clone()?;
        let body = message.body.as_deref().ok_or("message has no body")?;
        let request: Request =
            serde_json::from_str(body).map_err(|e| format!("malformed request: {e}"))?;
        let key = Outcome::key(&request.request_id);
        if self
            .store
            .get(bucket, &key)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            info!(
                request_id = request.request_id,
                "already carried out; acknowledged without acting again"
            );
            return Ok(());
        }
        let now = Utc::now();
        let (instances, hold_until) = self
            .ec2
            .carry_out(&request, zone, now)
            .await
            .map_err(|e| e.to_string())?;
        let outcome = Outcome {
            request_id: request.request_id.clone(),
            action: request.action,
            status: Outcome::status_of(&instances).to_string(),
            hold_until,
            requested_by: request.requested_by.clone(),
            received_at: request.received_at.clone(),
            completed_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            instances,
        };
        let bytes = serde_json::to_vec_pretty(&outcome).map_err(|e| e.to_string())?;
        self.store
            .put(bucket, &key, bytes)
            .await
            .map_err(|e| e.to_string())?;
        info!(
            request_id = outcome.request_id,
            action = outcome.action.as_str(),
            status = outcome.status,
            "request carried out"
        );
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_lambda::init_logging();
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::STANDARD).await;
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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(consumer.handle(event.payload).await)
    }))
    .await
}
